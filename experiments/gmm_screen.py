"""Screen LFCC-GMM front-end transforms cheaply, on the LOSO fold stores that `spoofscan loo` already wrote.

Each transform is applied to the stored windows (no feature extraction, no new store), then a smaller GMM than the
recipe's (default 64 components, 100,000 frames a class, 30 EM iterations: about 1 min a fold on 2 CPU cores) is fitted
on each fold's train split and scored on its held-out sources; or, with --dev, fitted on one store's train split and
scored on windows saved by --save-dev. Use it to choose what deserves a full `experiments/variant.sh` run; its EERs
are for comparing transforms with each other (the "none" row is the baseline), not for reporting a recipe.

  python experiments/gmm_screen.py WORK/loso_lfcc-gmm_60 none,cmn,cmn0,nb7400
  python experiments/gmm_screen.py WORK/store_lfcc-gmm_60 --save-dev DEV_MANIFEST dev.npz
  python experiments/gmm_screen.py WORK/store_lfcc-gmm_60 none,cmn --dev dev.npz

Transforms (joined with +, applied left to right): none; cmn: each static coefficient minus its mean over the window
(what FeatureConfig.window_cmn does); cmn0: only c0's mean (the level); nbHZ: the band below HZ only (the smoothed
log filter energies below HZ, re-transformed by a DCT), e.g. nb7400 for a common 16 kHz-source band.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.fft
import torch

from spoofscan.features import clip_windows
from spoofscan.io import read_csv
from spoofscan.metrics import eer
from spoofscan.models.gmm import GMMDetector
from spoofscan.scores import pool_windows
from spoofscan.store import Store


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
    if how.startswith("nb"):
        spacing = sample_rate / 2 / (n_filters + 1)
        kept = int(float(how[2:]) // spacing) - 1  # filters whose upper edge is below the cutoff
        to_energies = scipy.fft.idct(np.pad(np.eye(n), ((0, 0), (0, n_filters - n))), axis=1, norm="ortho")
        to_cepstrum = scipy.fft.dct(np.eye(kept), axis=1, norm="ortho")
        matrix = (to_energies[:, :kept] @ to_cepstrum)[:, :min(n, kept)]
        blocks = [np.einsum("wif,ik->wkf", x[:, b * n:(b + 1) * n], matrix) for b in range(3)]
        return np.concatenate(blocks, axis=1).astype(np.float32)
    raise SystemExit(f"unknown transform {how!r}: use none, cmn, cmn0, nbHZ, or several joined with +")


def fit_and_score(store: Store, test: dict, how: str, *, components: int, frames: int, iterations: int) -> float:
    """EER on test of a GMM pair fitted on store's train split, both transformed by how."""
    config = store.feature_config
    args = (config.n_lfcc, config.sample_rate, config.n_filters)
    train = store.split("train")
    x_train = transform(np.asarray(train.images, dtype=np.float32), how, *args)
    x_test = transform(np.asarray(test["images"], dtype=np.float32), how, *args)
    flat = x_train.transpose(0, 2, 1).reshape(-1, x_train.shape[1])
    mean, std = flat.mean(0), flat.std(0) + 1e-6
    rng = np.random.default_rng(0)
    sample = {}
    for label in (0, 1):
        windows = np.flatnonzero(train.labels == label)
        width = x_train.shape[2]
        picks = np.sort(rng.choice(len(windows) * width, min(frames, len(windows) * width), replace=False))
        sample[label] = (x_train[windows[picks // width], :, picks % width] - mean) / std
    model = GMMDetector(components=components)
    rows = x_train.shape[1]
    model.means, model.precisions = torch.zeros(2, components, rows), torch.ones(2, components, rows)
    model.fit(sample, iterations=iterations)
    model.set_input_norm(mean.tolist(), std.tolist())
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(x_test[i:i + 256])[:, None]) for i in range(0, len(x_test), 256)])
    clip = pool_windows((logits[:, 1] - logits[:, 0]).numpy(), test["clip_of_window"], len(test["labels"]))
    return eer(test["labels"], clip)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("where", type=Path, help="a loo folder (its source=fold*/store), or a store with --dev")
    parser.add_argument("transforms", nargs="?", default="none,cmn")
    parser.add_argument("--dev", type=Path, help="windows saved by --save-dev: fit on WHERE's train split, score them")
    parser.add_argument("--save-dev", nargs=2, metavar=("MANIFEST", "NPZ"),
                        help="save MANIFEST's windows with WHERE's feature config, then stop")
    parser.add_argument("--components", type=int, default=64)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(2)
    sizes = dict(components=args.components, frames=args.frames, iterations=args.iterations)
    if args.save_dev:
        manifest, out = Path(args.save_dev[0]), args.save_dev[1]
        config, windows, clip_of_window, labels = Store(args.where).feature_config, [], [], []
        for row in read_csv(manifest):
            path = Path(row["path"]) if Path(row["path"]).is_absolute() else manifest.parent / row["path"]
            found, _ = clip_windows(path, config)
            windows.append(found)
            clip_of_window += [len(labels)] * len(found)
            labels.append(int(row["label"] == "fake"))
        np.savez(out, images=np.concatenate(windows), clip_of_window=np.array(clip_of_window), labels=np.array(labels))
        print(f"wrote {out}: {len(labels)} clips")
        return
    for how in args.transforms.split(","):
        if args.dev:
            test = dict(np.load(args.dev))
            print(f"{how}: dev EER {100 * fit_and_score(Store(args.where), test, how, **sizes):.1f} %", flush=True)
            continue
        eers = []
        for fold_store in sorted(args.where.glob("source=fold*/store")):
            store = Store(fold_store)
            held_out = store.split("test")
            test = {"images": held_out.images, "clip_of_window": held_out.clip_of_window,
                    "labels": np.array([c["label"] == "fake" for c in held_out.clips], dtype=int)}
            eers.append(fit_and_score(store, test, how, **sizes))
            print(f"{how} {fold_store.parent.name}: EER {100 * eers[-1]:.1f} %", flush=True)
        print(f"{how}: LOSO {' / '.join(f'{100 * e:.1f}' for e in eers)} %, mean {100 * np.mean(eers):.1f} %", flush=True)


if __name__ == "__main__":
    main()
