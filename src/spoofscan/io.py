"""Atomic, checked writes: a file is either complete and readable, or not there at all.

Each writer writes to a temporary file beside the target, flushes it to disk, renames it over the
target and reads it back. Any failure raises SpoofscanError naming the path and the reason.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import SpoofscanError


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes to path atomically and check that what is on disk is what was meant."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if path.stat().st_size != len(data):
            raise OSError(f"size on disk {path.stat().st_size} != {len(data)} bytes written")
    except OSError as exc:
        raise SpoofscanError(f"could not write {path}: {exc}") from exc
    return path


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def write_json(path: str | Path, obj: Any) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode())
    json.loads(Path(path).read_text())  # read-back check
    return Path(path)


def write_csv(path: str | Path, rows: Iterable[dict[str, Any]], fieldnames: list[str]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_with(path: str | Path, save: Callable[[io.BytesIO], None], *, check: Callable[[Path], None]) -> Path:
    """Serialize with save(buffer) in memory, write atomically, then run check(path) on the file."""
    buffer = io.BytesIO()
    save(buffer)
    atomic_write_bytes(path, buffer.getvalue())
    try:
        check(Path(path))
    except Exception as exc:  # noqa: BLE001 - any failure to read back is a failed write
        reason = " ".join(str(exc).split())[:300]  # one line, even for multi-line library messages
        raise SpoofscanError(f"could not read back {path} after writing it: {reason}") from exc
    return Path(path)


def save_npy(path: str | Path, array: Any) -> Path:
    """Save a NumPy array atomically and check that it reads back equal."""
    import numpy as np

    def check(p: Path) -> None:
        if not np.array_equal(np.load(p), array):
            raise ValueError("the array read back differs")

    return write_with(path, lambda buffer: np.save(buffer, array), check=check)


def save_figure(path: str | Path, fig: Any) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    def check(p: Path) -> None:
        if p.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError("not a PNG file")

    try:
        return write_with(path, lambda b: fig.savefig(b, format="png", dpi=120, bbox_inches="tight"), check=check)
    finally:
        plt.close(fig)
