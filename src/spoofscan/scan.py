"""Archive scans: `spoofscan predict FILES --csv out.csv [--resume] [--workers N]`, the same under torchrun.

Rows (one per window; one per clip for a fused detector; one per failed file) are appended and flushed after each
file, each with the file's size and mtime and a digest of the checkpoint. --resume skips the files already in the
CSV with the same size and mtime (a file changed since is scored again and its old rows are dropped) and refuses a
CSV that another checkpoint wrote. Under torchrun each rank scores every world_size-th file into CSV.rankN, and
rank 0 merges the rank files into CSV when all are done.
"""
from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from .checkpoint import BASE_MODEL
from .errors import SpoofscanError
from .io import write_csv
from .predict import Detector, Prediction

CSV_FIELDS = ["path", "size", "mtime", "checkpoint", "window", "start_s", "end_s", "window_score", "clip_score",
              "clip_llr", "verdict", "error"]


def checkpoint_digest(checkpoint: str | Path | None) -> str:
    """The first 16 hex digits of the checkpoint file's SHA-256 (None = the built-in spoofscan-base)."""
    return hashlib.sha256(Path(checkpoint or BASE_MODEL).read_bytes()).hexdigest()[:16]


def file_key(path: str | Path) -> tuple[str, str]:
    """(size, mtime) of a file as written in the CSV; ("", "") for a path that does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return "", ""
    return str(stat.st_size), repr(stat.st_mtime)


def read_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a scan CSV (a row cut short by an interruption is dropped)."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != CSV_FIELDS:
            raise SpoofscanError(f"{path}: not a spoofscan predict CSV (columns {reader.fieldnames}); choose another "
                                 "--csv or remove the file")
        return [row for row in reader if None not in row.values() and None not in row]


def resume_rows(path: Path, digest: str) -> list[dict[str, str]]:
    """Rows of an earlier scan to keep: written by the same checkpoint, of files unchanged since."""
    rows = read_rows(path)
    other = {row["checkpoint"] for row in rows} - {digest}
    if other:
        raise SpoofscanError(f"{path} was written by another checkpoint (digest {sorted(other)[0]}, this one is "
                             f"{digest}); resume with that checkpoint or write to another --csv")
    return [row for row in rows if (row["size"], row["mtime"]) == file_key(row["path"])]


def prediction_rows(p: Prediction, digest: str) -> list[dict]:
    size, mtime = file_key(p.path)
    common = {"path": p.path, "size": size, "mtime": mtime, "checkpoint": digest}
    if p.error:
        return [{**common, "verdict": "error", "error": p.error}]
    clip = {"clip_score": p.score, "clip_llr": p.llr, "verdict": p.verdict}
    if not p.window_times:  # a fused detector scores whole clips
        return [{**common, **clip}]
    return [{**common, "window": i, "start_s": t[0], "end_s": t[1], "window_score": s, **clip}
            for i, (t, s) in enumerate(zip(p.window_times, p.window_scores))]


def scan(detector: Detector, files: list[Path], csv_path: str | Path, *, checkpoint: str | Path | None,
         resume: bool = False, stream: int = 0, workers: int = 1, rank: int = 0,
         world_size: int = 1) -> tuple[Iterator[Prediction], int]:
    """Score this rank's share of files into the CSV (rank files under torchrun) as they finish.

    Returns the predictions (a generator: iterate it to do the work) and how many files it will score."""
    final = Path(csv_path)
    out = final if world_size == 1 else final.with_name(f"{final.name}.rank{rank}")
    if final.exists() and not resume:
        raise SpoofscanError(f"{final} already exists; pass --resume to continue that scan, or choose another --csv")
    digest = checkpoint_digest(checkpoint)
    kept = resume_rows(final, digest) + (resume_rows(out, digest) if out != final else []) if resume else []
    mine = [str(f) for f in files[rank::world_size]]
    others = {str(f) for f in files} - set(mine)  # other ranks' files: their rows go to their rank files
    kept = [row for row in kept if row["path"] not in others and (rank == 0 or row["path"] in set(mine))]
    done = {row["path"] for row in kept}
    todo = [path for path in mine if path not in done]
    write_csv(out, kept, CSV_FIELDS)  # atomically: what is kept, before anything is appended

    def run() -> Iterator[Prediction]:
        with open(out, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, lineterminator="\n")
            for prediction in detector.predict_files(todo, stream=stream, workers=workers):
                writer.writerows(prediction_rows(prediction, digest))
                f.flush()
                yield prediction

    return run(), len(todo)


def merge_ranks(csv_path: str | Path, world_size: int) -> Path:
    """Rank 0, after every rank finished: the rank files become one CSV (written atomically), then go."""
    final = Path(csv_path)
    parts = [final.with_name(f"{final.name}.rank{r}") for r in range(world_size)]
    rows = [row for part in parts for row in read_rows(part)]
    write_csv(final, rows, CSV_FIELDS)
    for part in parts:
        part.unlink(missing_ok=True)
    return final
