"""Leakage-proof splits and the audit that proves them.

grouped_split assigns whole utterance groups to train/val/test, so a real clip and its vocoded copies
always land together. audit looks for overlaps between splits by file name, by content hash (a renamed
copy is still caught) and by utterance group; fix_leakage resolves them with the seed's priority
train > val > test. Nothing here moves, changes or deletes the user's files: the result is a new manifest.
"""
from __future__ import annotations

import hashlib
import os
import random
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import SpoofscanError
from .io import write_csv
from .layouts import ITEM_FIELDS, LABELS, SPLITS, Item, item_rows, utterance_of


def grouped_split(items: list[Item], *, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0,
                  holdout_systems: tuple[str, ...] = (), holdout_key: str = "system") -> tuple[list[Item], list[Item]]:
    """Assign every utterance group to one split (seeded, deterministic).

    Clips whose holdout_key ("system", "source" or "speaker") is in holdout_systems appear only in test
    (leave-one-out). Groups made only of held-out clips (a held-out source's or speaker's utterances) go to test
    whole; in mixed groups (a real clip with its vocoded copies) the held-out clips of train and val groups are
    dropped, so no utterance crosses splits. Returns (split items, dropped items).
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise SpoofscanError(f"split fractions {fractions}: need three non-negative numbers that sum to 1")
    if holdout_key not in ("system", "source", "speaker"):
        raise SpoofscanError(f"holdout key {holdout_key!r}: use system, source or speaker")
    values = {getattr(it, holdout_key) for it in items}
    unknown = set(holdout_systems) - values
    if unknown:
        raise SpoofscanError(f"--holdout-{holdout_key} {sorted(unknown)}: no such {holdout_key}; "
                             f"there are {sorted(values)}")

    def held_out(it: Item) -> bool:
        return getattr(it, holdout_key) in holdout_systems

    mixed = {it.group for it in items if not held_out(it)}
    groups = sorted(mixed)
    random.Random(seed).shuffle(groups)
    n_val = round(len(groups) * fractions[1])
    n_test = round(len(groups) * fractions[2])
    if len(groups) >= 3:  # a split asked for gets at least one group
        n_val, n_test = max(n_val, fractions[1] > 0), max(n_test, fractions[2] > 0)
    split_of = {g: "test" for g in groups[:n_test]}
    split_of.update({g: "val" for g in groups[n_test:n_test + n_val]})
    split_of.update({g: "train" for g in groups[n_test + n_val:]})
    kept, dropped = [], []
    for it in items:
        split = split_of.get(it.group, "test")  # a group with only held-out clips
        if held_out(it) and split != "test":
            dropped.append(it)
        else:
            kept.append(replace(it, split=split))
    return kept, dropped


def content_hash(path: str | Path) -> str:
    """SHA-1 of the decoded samples (audio) or of the array (.npy): equal for renamed or re-encoded copies."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
            data = f"{array.dtype}{array.shape}".encode() + np.ascontiguousarray(array).tobytes()
        else:
            data = sf.read(path, dtype="float32", always_2d=True)[0].tobytes()
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not fatal to the audit
        return f"unreadable: {type(exc).__name__}: {exc}".replace("\n", " ")
    return hashlib.sha1(data).hexdigest()


def hash_items(items: list[Item], *, workers: int = 0) -> list[str]:
    if workers < 0:
        raise SpoofscanError(f"--workers {workers}: use 0 (all cores) or a positive number")
    paths = [it.path for it in items]
    workers = workers or min(8, os.cpu_count() or 1)
    if workers == 1 or len(paths) < 64:
        return [content_hash(p) for p in paths]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(content_hash, paths, chunksize=16))


@dataclass
class AuditReport:
    """What audit found. Overlaps map a key (name, hash or group) to the splits it appears in."""

    counts: dict[str, dict[str, int]]
    name_overlaps: dict[str, list[str]] = field(default_factory=dict)
    same_names: dict[str, list[str]] = field(default_factory=dict)  # equal names of different files: a note only
    content_overlaps: dict[str, list[str]] = field(default_factory=dict)
    group_overlaps: dict[str, list[str]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    unsplit: int = 0

    @property
    def leaky(self) -> bool:
        return bool(self.name_overlaps or self.content_overlaps or self.group_overlaps)

    def summary(self) -> dict:
        return {"leakage": self.leaky, "counts": self.counts,
                "name_overlaps": len(self.name_overlaps), "same_names_not_leakage": len(self.same_names),
                "content_overlaps": len(self.content_overlaps),
                "group_overlaps": len(self.group_overlaps), "unreadable": len(self.unreadable),
                "unsplit": self.unsplit}


def count_classes(items: list[Item]) -> dict[str, dict[str, int]]:
    """Clips per split and class."""
    counts = {s: {label: 0 for label in LABELS} for s in SPLITS}
    for it in items:
        if it.split:
            counts[it.split][it.label] += 1
    return counts


def _overlaps(keys_splits: list[tuple[str, str]]) -> dict[str, list[str]]:
    seen: dict[str, set[str]] = defaultdict(set)
    for key, split in keys_splits:
        seen[key].add(split)
    return {k: sorted(v, key=SPLITS.index) for k, v in seen.items() if len(v) > 1}


def _bare_name(item: Item) -> str:
    """A clip's file name, within its source: sources reuse names (an Asterisk prompt has one name per language)."""
    name = Path(item.path).name
    return name if item.source in ("", "unknown") else f"{item.source}/{name}"


def _name(item: Item) -> str:
    """What identifies a clip by name: its file name (within its source) where the layout makes names utterance
    ids (the seed's tree, WaveFake, ASVspoof, In-the-Wild, generic folders: the group is the name), else the file
    itself (demo pages and toolkits reuse generic names such as source.wav or 1.wav for different recordings)."""
    if utterance_of(Path(item.path).stem) == item.group:
        return _bare_name(item)
    return os.path.normpath(os.path.abspath(item.path))


def audit(items: list[Item], *, hashes: list[str] | None = None, workers: int = 0) -> AuditReport:
    """Find train/val/test overlaps by file name (within a source, where names are utterance ids), content and
    utterance group; count classes per split."""
    split_items = [it for it in items if it.split]
    if hashes is None:
        hashes = hash_items(split_items, workers=workers)
    readable = [(h, it.split) for h, it in zip(hashes, split_items) if not h.startswith("unreadable")]
    return AuditReport(
        counts=count_classes(split_items),
        name_overlaps=_overlaps([(_name(it), it.split) for it in split_items]),
        same_names=_overlaps([(_bare_name(it), it.split) for it in split_items if _name(it) != _bare_name(it)]),
        content_overlaps=_overlaps(readable),
        group_overlaps=_overlaps([(it.group, it.split) for it in split_items]),
        unreadable=[f"{it.path}: {h}" for h, it in zip(hashes, split_items) if h.startswith("unreadable")],
        unsplit=len(items) - len(split_items),
    )


def fix_leakage(items: list[Item], hashes: list[str]) -> tuple[list[Item], list[tuple[Item, str]]]:
    """Drop clips that overlap an earlier split (priority train > val > test). Returns (kept, [(dropped, why)])."""
    by_split = {s: [(it, h) for it, h in zip(items, hashes) if it.split == s] for s in SPLITS}
    names: set[str] = set()
    contents: set[str] = set()
    groups: set[str] = set()
    kept, dropped = [], []
    for split in SPLITS:
        this_split = []
        for it, h in by_split[split]:
            name = _name(it)
            why = ("same file name as a clip in an earlier split" if name in names else
                   "same content as a clip in an earlier split" if h in contents else
                   "same utterance group as a clip in an earlier split" if it.group in groups else "")
            if why:
                dropped.append((it, why))
            else:
                this_split.append((it, h))
        kept += [it for it, _ in this_split]
        names |= {_name(it) for it, _ in this_split}
        contents |= {h for _, h in this_split if not h.startswith("unreadable")}
        groups |= {it.group for it, _ in this_split}
    return kept, dropped


def write_manifest(path: str | Path, items: list[Item]) -> Path:
    """Write items as a CSV manifest; paths are stored relative to the manifest's folder."""
    path = Path(path)
    base = path.resolve().parent
    rows = item_rows(items)
    for row in rows:
        row["path"] = os.path.relpath(Path(row["path"]).resolve(), base)
    return write_csv(path, rows, ITEM_FIELDS)
