"""The packed store: every clip's windows in one contiguous memory-mapped file per split.

STORE/
  header.json   FeatureConfig, counts, window shape and dtype, SHA-256 of each data file, versions
  index.csv     one row per clip: item fields + first_window, n_windows
  skipped.csv   clips that could not be used, with the reason
  train.u8 val.u8 test.u8   raw arrays of shape (windows, height, width) of the FeatureConfig's stored_dtype
                (uint8 images, float16 LFCC or int16 waveform windows, by input_kind)

prepare() builds it in STORE.partial/ and renames it at the end, so a store that exists is complete.
An interrupted prepare resumes from STORE.partial/ when run again with the same data and config.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .config import FeatureConfig, check_same, from_dict, to_dict
from .errors import SpoofscanError
from .features import clip_windows
from .io import read_csv, write_csv, write_json
from .layouts import ITEM_FIELDS, SPLITS, Item

STORE_FORMAT = "spoofscan-store-2"  # 2: LFCC windows keep their cepstral mean (window_cmn is the model's step)
READABLE_FORMATS = (STORE_FORMAT, "spoofscan-store-1")
INDEX_FIELDS = ITEM_FIELDS + ["first_window", "n_windows"]


def _extract(args: tuple[int, str, FeatureConfig, tuple]) -> tuple[int, np.ndarray | None, str]:
    index, path, config, degradations = args
    try:
        return index, clip_windows(path, config, degradations=degradations)[0], ""
    except SpoofscanError as exc:
        return index, None, str(exc)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes with one torch thread each, forked where the OS can (fast start, as DataLoader workers)."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=_init_worker)


def parallel_map(fn, jobs, workers: int, *, chunksize: int = 1):
    """fn over jobs, results in job order, in `workers` processes or in this one when workers is 1. One torch thread
    either way: torch splits its sums over threads and each split rounds differently, so without this a paired
    fake or a feature would change in its last bits with the worker count."""
    if workers > 1:
        with process_pool(workers) as pool:
            yield from pool.map(fn, jobs, chunksize=chunksize)
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield from map(fn, jobs)
    finally:
        torch.set_num_threads(threads)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def check_augmentation(augment: tuple[str, ...], augment_copies: int) -> None:
    """A one-line error for unknown --augment conditions or conditions without copies (and copies without them)."""
    from .degrade import AUGMENTATIONS

    unknown = sorted(set(augment) - set(AUGMENTATIONS))
    if unknown or (augment_copies > 0) != bool(augment) or augment_copies < 0:
        raise SpoofscanError(f"--augment {list(augment)} with --augment-copies {augment_copies}: give conditions from "
                             f"{', '.join(AUGMENTATIONS)} and a number of copies >= 1")


def train_copies(items: list[Item], augment: tuple[str, ...], copies: int, *,
                 seed: int = 0) -> list[tuple[tuple[str, int], ...]]:
    """The degraded copies that `prepare --augment` adds: for each train clip, `copies` (condition, seed) pairs, each
    condition drawn from augment (seeded by seed and the clip's place in prepare's order: train, val, test, the
    layout's order within each), so the audit of a manifest draws what `prepare` of it draws, in whatever order its
    splits come; none for val and test clips."""
    def draw(i: int) -> tuple[tuple[str, int], ...]:
        rng = np.random.default_rng([seed, i])
        return tuple((str(rng.choice(augment)), int(rng.integers(2**31))) for _ in range(copies))

    order = sorted(range(len(items)), key=lambda k: SPLITS.index(items[k].split) if items[k].split in SPLITS
                   else len(SPLITS))
    place = {k: i for i, k in enumerate(order)}
    return [draw(place[k]) if it.split == "train" and copies else () for k, it in enumerate(items)]


def _job_signature(items: list[Item], config: FeatureConfig, augmentation: dict) -> str:
    payload = json.dumps([STORE_FORMAT, to_dict(config), augmentation, [asdict(it) for it in items]],
                         sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()


def _resume_state(partial: Path, signature: str) -> dict[int, tuple[int, str]]:
    """Items already done by an interrupted prepare of the same job: item -> (n_windows, error)."""
    job = partial / "job.json"
    if not (job.is_file() and json.loads(job.read_text()).get("signature") == signature):
        shutil.rmtree(partial, ignore_errors=True)  # another job's leftovers: start clean
        return {}
    done = {}
    progress = partial / "progress.jsonl"
    for line in progress.read_text().splitlines() if progress.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # the line being written when the run stopped
            break
        done[record["item"]] = (record["n_windows"], record["error"])
    return done


def prepare(items: list[Item], out: str | Path, config: FeatureConfig, *, workers: int = 0, force: bool = False,
            strict: bool = False, progress: bool = True, augment: tuple[str, ...] = (), augment_copies: int = 0,
            seed: int = 0, reuse: tuple[str | Path, ...] = ()) -> Path:
    """Extract features of all items into a packed store at out. Returns the store path.

    augment_copies > 0 adds that many degraded copies of every train clip (each with a condition drawn from
    augment, seeded), stored as extra windows of the same clip; val and test stay clean. reuse: stores made from
    the same files, whose windows of a clip (stored_windows) are copied instead of extracted again.
    """
    out = Path(out)
    if not items:
        raise SpoofscanError("prepare: no clips to pack")
    if workers < 0:
        raise SpoofscanError(f"--workers {workers}: use 0 (all cores) or a positive number")
    check_augmentation(augment, augment_copies)
    augmentation = {"conditions": list(augment), "copies": augment_copies, "seed": seed}
    unsplit = [it.path for it in items if it.split not in SPLITS]
    if unsplit:
        raise SpoofscanError(f"{unsplit[0]} (and {len(unsplit) - 1} more) has no split; run "
                             "`spoofscan split DATA --out split.csv`, then `spoofscan prepare split.csv`")
    if out.exists() and not force:
        raise SpoofscanError(f"{out} already exists; pass --force to replace it, or choose another --out")
    items = sorted(items, key=lambda it: SPLITS.index(it.split))  # stable: keeps the layout's order within a split
    shape = config.stored_shape
    window_bytes = shape[0] * shape[1] * np.dtype(config.stored_dtype).itemsize
    partial = out.with_name(out.name + ".partial")
    signature = _job_signature(items, config, augmentation)
    done = _resume_state(partial, signature)
    partial.mkdir(parents=True, exist_ok=True)
    write_json(partial / "job.json", {"signature": signature})

    windows_done = {s: 0 for s in SPLITS}
    for i, (n_windows, _) in done.items():
        windows_done[items[i].split] += n_windows
    data_files = {}
    for split in SPLITS:
        path = partial / f"{split}.u8"
        with open(path, "ab") as f:  # truncate what an interrupted run wrote past its last recorded item
            f.truncate(windows_done[split] * window_bytes)
        data_files[split] = open(path, "ab")
    progress_file = open(partial / "progress.jsonl", "a" if done else "w")

    copies = train_copies(items, augment, augment_copies, seed=seed)
    todo = [(i, it.path, config, copies[i]) for i, it in enumerate(items) if i not in done]
    stored = stored_windows(reuse, config) if reuse else {}
    copied = {i for i, path, _, degradations in todo if not degradations and os.path.abspath(path) in stored}
    workers = workers or max(1, (os.cpu_count() or 1))
    try:
        extracted = _run([job for job in todo if job[0] not in copied], workers=workers, progress=progress,
                         total=len(items), already=len(done) + len(copied))
        results = ((i, stored[os.path.abspath(path)], "") if i in copied else next(extracted) for i, path, *_ in todo)
        for index, images, error in results:
            if error and strict:
                raise SpoofscanError(f"{error} (--strict stops at the first unusable file)")
            if images is not None:
                if images.shape[1:] != shape or images.dtype != config.stored_dtype:
                    raise SpoofscanError(f"{items[index].path}: windows of shape {images.shape[1:]} "
                                         f"{images.dtype} != {shape} {config.stored_dtype}")
                data_files[items[index].split].write(np.ascontiguousarray(images).tobytes())
                data_files[items[index].split].flush()
            n_windows = 0 if images is None else len(images)
            progress_file.write(json.dumps({"item": index, "n_windows": n_windows, "error": error}) + "\n")
            progress_file.flush()
            done[index] = (n_windows, error)
    finally:
        for f in data_files.values():
            f.close()
        progress_file.close()
    return _finish(items, done, partial, out, config, augmentation, force=force)


def stored_windows(stores: tuple[str | Path, ...], config: FeatureConfig) -> dict[str, np.ndarray]:
    """Absolute path -> windows (memory-mapped) of every clip that stores hold as config extracts it, without
    degraded copies: what prepare copies instead of extracting again. A store of other settings or an older format
    is passed over. Relative paths are taken from the working folder, as prepare reads them."""
    found: dict[str, np.ndarray] = {}
    for path in stores:
        store = Store(path)
        if store.header["format"] != STORE_FORMAT or store.feature_config != config:
            continue
        for split in SPLITS:
            if split == "train" and store.header.get("train_augmentation", {}).get("copies"):
                continue  # its train clips' windows include their degraded copies
            data = store.split(split)
            for row in data.clips:
                first = int(row["first_window"])
                found.setdefault(os.path.abspath(row["path"]), data.images[first:first + int(row["n_windows"])])
    return found


def _run(todo, *, workers: int, progress: bool, total: int, already: int):
    """Yield _extract results in item order, in worker processes when workers > 1."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("prepare"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task("prepare", total=total, completed=already)
        for result in parallel_map(_extract, todo, workers if len(todo) > 1 else 1, chunksize=4):
            bar.advance(task)
            yield result


def _finish(items: list[Item], done: dict[int, tuple[int, str]], partial: Path, out: Path,
            config: FeatureConfig, augmentation: dict, *, force: bool) -> Path:
    index_rows, skipped_rows = [], []
    next_window = {s: 0 for s in SPLITS}
    for i, it in enumerate(items):
        n_windows, error = done[i]
        if error:
            skipped_rows.append({"path": it.path, "reason": error})
            continue
        index_rows.append({**asdict(it), "first_window": next_window[it.split], "n_windows": n_windows})
        next_window[it.split] += n_windows
    if not index_rows:
        raise SpoofscanError(f"no usable clip among {len(items)}; see the reasons in {partial / 'progress.jsonl'}")
    shape = config.stored_shape
    counts, files = {}, {}
    for split in SPLITS:
        path = partial / f"{split}.u8"
        expected = next_window[split] * shape[0] * shape[1] * np.dtype(config.stored_dtype).itemsize
        if path.stat().st_size != expected:
            raise SpoofscanError(f"{path}: {path.stat().st_size} bytes, expected {expected}; rerun with --force")
        rows = [r for r in index_rows if r["split"] == split]
        counts[split] = {"clips": len(rows), "windows": next_window[split],
                         "real": sum(r["label"] == "real" for r in rows), "fake": sum(r["label"] == "fake" for r in rows)}
        files[split] = {"file": path.name, "sha256": _sha256(path)}
    write_csv(partial / "index.csv", index_rows, INDEX_FIELDS)
    write_csv(partial / "skipped.csv", skipped_rows, ["path", "reason"])
    write_json(partial / "header.json", {
        "format": STORE_FORMAT, "feature_config": to_dict(config), "image_shape": list(shape),
        "dtype": config.stored_dtype, "counts": counts,
        "skipped": len(skipped_rows), "files": files, "train_augmentation": augmentation,
        "versions": _versions()})
    (partial / "job.json").unlink()
    (partial / "progress.jsonl").unlink()
    if out.exists():
        if not force:
            raise SpoofscanError(f"{out} appeared while preparing; pass --force to replace it")
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(partial, out)
        shutil.rmtree(old)
    else:
        os.replace(partial, out)
    return out


def _versions() -> dict[str, str]:
    from .checkpoint import versions

    return versions()


@dataclass
class SplitData:
    """One split of a store: windows (windows, H, W) as stored, per-window labels and clip indices, clip rows."""

    images: np.ndarray
    labels: np.ndarray  # per window: 0 real, 1 fake
    clip_of_window: np.ndarray  # per window: row in clips
    clips: list[dict[str, str]]


class Store:
    """A packed store opened for reading; pass feature_config to insist that it matches."""

    def __init__(self, path: str | Path, *, feature_config: FeatureConfig | None = None) -> None:
        self.path = Path(path)
        header_path = self.path / "header.json"
        if not header_path.is_file():
            partial = self.path.with_name(self.path.name + ".partial")
            hint = f"; {partial} holds an unfinished prepare: rerun prepare to finish it" if partial.exists() else ""
            raise SpoofscanError(f"{self.path}: not a spoofscan store (no header.json){hint}")
        try:
            self.header = json.loads(header_path.read_text())
        except json.JSONDecodeError as exc:
            raise SpoofscanError(f"{header_path}: corrupt header ({exc}); prepare the store again") from None
        if self.header.get("format") not in READABLE_FORMATS:
            raise SpoofscanError(f"{self.path}: store format {self.header.get('format')!r} is not {STORE_FORMAT}; "
                                 "prepare the store again with this version")
        self.feature_config = from_dict(FeatureConfig, self.header["feature_config"], source=str(header_path))
        # format 1 stored window_cmn windows with their mean removed: the same to a model, but their band is lost
        self.windows_keep_mean = self.header["format"] != "spoofscan-store-1" or not self.feature_config.window_cmn
        if feature_config is not None:
            check_same(feature_config, self.header["feature_config"], what=f"store {self.path}",
                       fix="prepare a new store with the settings you want, or use the store's settings")
        self.index = read_csv(self.path / "index.csv")

    def split(self, name: str) -> SplitData:
        if name not in SPLITS:
            raise SpoofscanError(f"split {name!r}: use one of {SPLITS}")
        clips = [r for r in self.index if r["split"] == name]
        n_windows = self.header["counts"][name]["windows"]
        shape = (n_windows, *self.header["image_shape"])
        path = self.path / self.header["files"][name]["file"]
        dtype = np.dtype(self.feature_config.stored_dtype)
        if path.stat().st_size != int(np.prod(shape)) * dtype.itemsize:
            raise SpoofscanError(f"{path}: size does not match header.json; the store is damaged, prepare it again")
        images = np.memmap(path, dtype=dtype, mode="r", shape=shape) if n_windows else np.zeros(shape, dtype)
        counts = [int(r["n_windows"]) for r in clips]
        labels = np.repeat([int(r["label"] == "fake") for r in clips], counts).astype(np.int64)
        clip_of_window = np.repeat(np.arange(len(clips)), counts)
        return SplitData(images, labels, clip_of_window, clips)

    def verify(self) -> None:
        """Check every data file against the SHA-256 in the header."""
        for split, entry in self.header["files"].items():
            if _sha256(self.path / entry["file"]) != entry["sha256"]:
                raise SpoofscanError(f"{self.path / entry['file']}: checksum mismatch; the store is damaged, prepare it again")
