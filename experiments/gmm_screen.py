"""Screen LFCC-GMM front-end transforms cheaply, on the LOSO fold stores that `spoofscan loo` already wrote.

Each transform is applied to the stored windows (no feature extraction, no new store), then a smaller GMM than the
recipe's (default 64 components, 100,000 frames a class, 30 EM iterations: about 1 min a fold on 2 CPU cores) is fitted
on each fold's train split and scored on its held-out sources; or, with --dev, fitted on one store's train split and
scored on windows saved by --save-dev. Use it to choose what deserves a full `experiments/variant.sh` run; its EERs
are for comparing transforms with each other (the "none" row is the baseline), not for reporting a recipe.

  python experiments/gmm_screen.py WORK/loso_lfcc-gmm_60 none,cmn,cmn0,nb7400
  python experiments/gmm_screen.py WORK/store_lfcc-gmm_60 --save-dev DEV_MANIFEST dev.npz
  python experiments/gmm_screen.py WORK/store_lfcc-gmm_60 none,cmn --dev dev.npz
  python experiments/gmm_screen.py WORK/loso_lfcc-gmm_60 cmn,hb4000+cmn --save-scores SCREEN
  python experiments/gmm_screen.py WORK/loso_lfcc-gmm_60 cmn,hb4000+cmn --fuse SCREEN
  python experiments/gmm_screen.py WORK/loso_lfcc-gmm_60 cmn --speech-only 40   (silent frames left out)

Transforms (joined with +, applied left to right): none; cmn: each static coefficient minus its mean over the window
(what FeatureConfig.window_cmn does); cmn0: only c0's mean (the level); cvn: each static coefficient divided by its
standard deviation over the window; dyn: the static coefficients dropped (deltas and double deltas only); nodd: the
double deltas dropped; nbHZ: the band below HZ only (the smoothed
log filter energies below HZ, re-transformed by a DCT), e.g. nb7400 for a common 16 kHz-source band; hbHZ: the
band above HZ only (a sub-band model).
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import scipy.fft
import torch

from spoofscan.errors import SpoofscanError
from spoofscan.features import clip_windows, input_statistics
from spoofscan.fuse import cross_fold_eers
from spoofscan.io import read_csv
from spoofscan.metrics import eer
from spoofscan.models.gmm import GMMDetector
from spoofscan.scores import pool_windows
from spoofscan.store import SplitData, Store
from spoofscan.train import sample_frames, window_logits


def transform(x: np.ndarray, how: str, n: int, sample_rate: int, n_filters: int) -> np.ndarray:
    """(windows, 3n, frames) float32 LFCC windows -> transformed windows (3m, frames)."""
    if "+" in how:
        for step in how.split("+"):
            x = transform(x, step, n, sample_rate, n_filters)
            n = x.shape[1] // 3
        return x
    if how == "none":
        return x
    if how in ("cmn", "cmn0"):
        x = x.copy()
        rows = slice(0, n) if how == "cmn" else slice(0, 1)
        x[:, rows] -= x[:, rows].mean(axis=2, keepdims=True)
        return x
    if how == "cvn":
        x = x.copy()
        x[:, :n] /= x[:, :n].std(axis=2, keepdims=True) + 1e-3
        return x
    if how in ("dyn", "nodd"):
        # a block set to zero is constant for both classes, so it adds nothing to the log-likelihood ratio
        x = x.copy()
        x[:, slice(0, n) if how == "dyn" else slice(2 * n, 3 * n)] = 0.0
        return x
    if how.startswith(("nb", "hb")):
        spacing = sample_rate / 2 / (n_filters + 1)  # filter i spans (i, i + 2) * spacing
        cut = float(how[2:]) / spacing
        kept = (np.arange(n_filters) + 2 <= cut) if how.startswith("nb") else (np.arange(n_filters) >= cut)
        to_energies = scipy.fft.idct(np.pad(np.eye(n), ((0, 0), (0, n_filters - n))), axis=1, norm="ortho")
        to_cepstrum = scipy.fft.dct(np.eye(int(kept.sum())), axis=1, norm="ortho")
        matrix = (to_energies[:, kept] @ to_cepstrum)[:, :min(n, int(kept.sum()))]
        blocks = [np.einsum("wif,ik->wkf", x[:, b * n:(b + 1) * n], matrix) for b in range(3)]
        return np.concatenate(blocks, axis=1).astype(np.float32)
    raise ValueError(how)  # main() checks every name first (check_transforms)


def check_transforms(names: str) -> None:
    """Every transform of a comma-separated list is known, or a one-line error."""
    for step in names.replace("+", ",").split(","):
        known = step in ("none", "cmn", "cmn0", "cvn", "dyn", "nodd") or (step.startswith(("nb", "hb")) and step[2:].replace(".", "", 1).isdigit()
                                                    and float(step[2:]) > 0)
        if not known:
            raise SpoofscanError(f"transform {step!r}: use none, cmn, cmn0, cvn, dyn, nodd, nbHZ or hbHZ (e.g. nb7400), joined with + "
                                 "and separated by commas")


def speech_frames(images: np.ndarray, clip_of_window: np.ndarray, n_filters: int, within_db: float,
                  reference: str) -> np.ndarray:
    """(windows, frames) bool: frames whose mean log filter energy (c0 of the untransformed windows) lies within
    within_db of the loudest frame of their clip (reference "clip") or of their own window ("window")."""
    level_db = np.asarray(images[:, 0, :], dtype=np.float32) * (10 / np.log(10) / np.sqrt(n_filters))
    loudest = level_db.max(axis=1)
    if reference == "clip":
        per_clip = np.full(clip_of_window.max() + 1, -np.inf, dtype=np.float32)
        np.maximum.at(per_clip, clip_of_window, loudest)
        loudest = per_clip[clip_of_window]
    return level_db >= loudest[:, None] - within_db


def fit_and_score(store: Store, test: SplitData, how: str, *, components: int, frames: int, iterations: int,
                  speech_only_db: float | None = None, speech_reference: str = "clip") -> np.ndarray:
    """Clip scores on test of a GMM pair fitted on store's train split, both transformed by how: the recipe's own
    input statistics, frame sampling and window scoring (train.fit_gmm's steps), on the transformed windows. With
    speech_only_db, only frames within that many dB of the loudest frame of their clip (or window: speech_reference)
    are fitted and scored."""
    config = store.feature_config
    args = (config.n_lfcc, config.sample_rate, config.n_filters)
    train = store.split("train")
    x_train = transform(np.asarray(train.images, dtype=np.float32), how, *args)
    x_test = transform(np.asarray(test.images, dtype=np.float32), how, *args)
    screened = dataclasses.replace(config, n_lfcc=x_train.shape[1] // 3, window_cmn=False)  # the transformed rows
    model = GMMDetector(screened, components=components)
    statistics = input_statistics(x_train, screened)
    model.set_input_norm(**statistics)
    mean, std = (np.asarray(statistics[k], dtype=np.float32) for k in ("mean", "std"))
    rng = np.random.default_rng(0)
    if speech_only_db is None:
        train = SplitData(x_train, train.labels, train.clip_of_window, train.clips)
        model.fit({label: (sample_frames(train, label, frames, rng) - mean) / std for label in (0, 1)},
                  iterations=iterations)
        logits = window_logits(model, SplitData(x_test, test.labels, test.clip_of_window, test.clips),
                               features=screened, batch_size=256, device=torch.device("cpu"))
        return pool_windows(logits[:, 1] - logits[:, 0], test.clip_of_window, len(test.clips))
    kept = speech_frames(train.images, train.clip_of_window, config.n_filters, speech_only_db, speech_reference)
    fitted = {}
    for label in (0, 1):
        windows, columns = np.nonzero(kept & (train.labels == label)[:, None])
        picks = np.sort(rng.choice(len(windows), min(frames, len(windows)), replace=False))
        fitted[label] = (x_train[windows[picks], :, columns[picks]] - mean) / std
    model.fit(fitted, iterations=iterations)
    kept = speech_frames(test.images, test.clip_of_window, config.n_filters, speech_only_db, speech_reference)
    sums, counts = np.zeros(len(test.clips)), np.zeros(len(test.clips))
    with torch.no_grad():
        for start in range(0, len(x_test), 256):
            block = torch.from_numpy((x_test[start:start + 256].transpose(0, 2, 1) - mean) / std)
            llr = model.frame_log_likelihoods(block.reshape(-1, block.shape[2])).view(*block.shape[:2], 2)
            llr = (llr[..., 1] - llr[..., 0]).numpy() * kept[start:start + 256]
            clips = test.clip_of_window[start:start + 256]
            np.add.at(sums, clips, llr.sum(axis=1))
            np.add.at(counts, clips, kept[start:start + 256].sum(axis=1))
    return sums / np.maximum(counts, 1)


def labels_of(test: SplitData) -> np.ndarray:
    return np.array([c["label"] == "fake" for c in test.clips], dtype=int)


def save_dev(store: Store, manifest: Path, out: Path) -> None:
    """The windows of manifest's clips with store's feature config, for --dev."""
    windows, clip_of_window, labels = [], [], []
    for row in read_csv(manifest):
        path = Path(row["path"]) if Path(row["path"]).is_absolute() else manifest.parent / row["path"]
        found, _ = clip_windows(path, store.feature_config)
        windows.append(found)
        clip_of_window += [len(labels)] * len(found)
        labels.append(int(row["label"] == "fake"))
    np.savez(out, images=np.concatenate(windows), clip_of_window=np.array(clip_of_window), labels=np.array(labels))
    print(f"wrote {out}: {len(labels)} clips")


def load_dev(path: Path) -> SplitData:
    saved = np.load(path)
    labels = saved["labels"]
    return SplitData(saved["images"], labels[saved["clip_of_window"]], saved["clip_of_window"],
                     [{"label": "fake" if label else "real"} for label in labels])


def print_fusion(folder: Path, transforms: list[str]) -> None:
    """Cross-fold EERs of the logistic-regression fusion of saved screen scores (fuse.cross_fold_eers)."""
    saved = []
    for how in transforms:
        if not (folder / f"{how}.npz").is_file():
            raise SpoofscanError(f"{folder / how}.npz: not found; run the screen with --save-scores {folder} first")
        saved.append(np.load(folder / f"{how}.npz"))
    if any(not np.array_equal(s["labels"], saved[0]["labels"]) for s in saved):
        raise SpoofscanError(f"{folder}: the saved scores are of different clips; save them from one loo folder")
    rows = cross_fold_eers(np.stack([s["scores"] for s in saved], axis=1), saved[0]["labels"], saved[0]["fold"])
    eers = [row["fused_eer"] for row in rows]
    print(f"fusion {'+'.join(transforms)}: LOSO {' / '.join(f'{100 * e:.1f}' for e in eers)} %, "
          f"mean {100 * np.mean(eers):.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("where", type=Path, help="a loo folder (its source=fold*/store), or a store with --dev")
    parser.add_argument("transforms", nargs="?", default="none,cmn")
    parser.add_argument("--dev", type=Path, help="windows saved by --save-dev: fit on WHERE's train split, score them")
    parser.add_argument("--save-dev", nargs=2, metavar=("MANIFEST", "NPZ"),
                        help="save MANIFEST's windows with WHERE's feature config, then stop")
    parser.add_argument("--save-scores", type=Path, metavar="DIR",
                        help="also write each transform's clip scores and labels, DIR/TRANSFORM.npz (to try fusions)")
    parser.add_argument("--fuse", type=Path, metavar="DIR",
                        help="fit no GMM: the fusion of the transforms' scores saved in DIR by --save-scores, each "
                             "fold scored by a fusion fitted on the others")
    parser.add_argument("--speech-only", type=float, metavar="DB",
                        help="fit and score only the frames within DB dB of their clip's loudest frame (no silence)")
    parser.add_argument("--speech-reference", choices=("clip", "window"), default="clip",
                        help="--speech-only's loudest frame: the clip's, or each window's own (what a streaming "
                             "scorer can use)")
    parser.add_argument("--components", type=int, default=64)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    for name in ("components", "frames", "iterations"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} {getattr(args, name)}: use 1 or more")
    if args.speech_only is not None and not args.speech_only > 0:
        parser.error(f"--speech-only {args.speech_only}: give the dB range kept below the loudest frame, e.g. 40")
    torch.set_num_threads(2)
    try:
        if args.fuse:  # the names of saved scores, e.g. cmn,cmn@speech40
            print_fusion(args.fuse, args.transforms.split(","))
            return
        check_transforms(args.transforms)
        if args.save_dev:
            save_dev(Store(args.where), Path(args.save_dev[0]), Path(args.save_dev[1]))
            return
        stores = [args.where] if args.dev else sorted(args.where.glob("source=fold*/store"))
        if not stores:
            parser.error(f"{args.where}: no source=fold*/store inside; give a `spoofscan loo` folder (or a store "
                         "with --dev)")
        sizes = dict(components=args.components, frames=args.frames, iterations=args.iterations,
                     speech_only_db=args.speech_only, speech_reference=args.speech_reference)
        for how in args.transforms.split(","):
            name = how if args.speech_only is None else f"{how}@speech{args.speech_only:g}{args.speech_reference}"
            if args.dev:
                tests = [load_dev(args.dev)]
                scores = [fit_and_score(Store(args.where), tests[0], how, **sizes)]
                print(f"{name}: dev EER {100 * eer(labels_of(tests[0]), scores[0])[0]:.1f} %", flush=True)
            else:
                tests, scores, eers = [], [], []
                for fold_store in stores:
                    store = Store(fold_store)
                    tests.append(store.split("test"))
                    scores.append(fit_and_score(store, tests[-1], how, **sizes))
                    eers.append(eer(labels_of(tests[-1]), scores[-1])[0])
                    print(f"{name} {fold_store.parent.name}: EER {100 * eers[-1]:.1f} %", flush=True)
                print(f"{name}: LOSO {' / '.join(f'{100 * e:.1f}' for e in eers)} %, mean {100 * np.mean(eers):.1f} %",
                      flush=True)
            if args.save_scores:
                args.save_scores.mkdir(parents=True, exist_ok=True)
                np.savez(args.save_scores / f"{name}.npz", scores=np.concatenate(scores),
                         labels=np.concatenate([labels_of(t) for t in tests]),
                         fold=np.concatenate([np.full(len(t.clips), i) for i, t in enumerate(tests)]))
    except SpoofscanError as exc:
        parser.exit(2, f"gmm_screen: error: {exc}\n")


if __name__ == "__main__":
    main()
