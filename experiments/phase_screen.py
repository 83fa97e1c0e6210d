"""Screen a phase front end for the GMM: modified group delay cepstra (MGDCC) on the band below 7.5 kHz.

LFCC (every spoofscan-base since v3) sees only the magnitude spectrum. A neural vocoder also has to make the phase,
and group-delay features were among the strongest vocoder detectors of ASVspoof 2015. This screen extracts MGDCC
(Hegde et al. 2007; Wu et al. 2013: gamma 0.9, alpha 0.4, cepstral smoothing with 30 coefficients) of every clip of
a finished `spoofscan loo --by source` run, fits small GMMs (64 components, 100,000 frames a class, 30 EM
iterations) on each fold's train split and scores its held-out sources; then fuses those scores with the run's own
(logistic regression fitted on the other folds, spoofscan.fuse.cross_fold_eers). Only bins below 7.5 kHz are used,
a band every 16 kHz or wider recording has, and each clip's mean is removed, so neither band nor channel is a cue.
Its EERs are a screen (smaller GMMs than the recipe's), to choose whether a phase family deserves a full run.

    python experiments/phase_screen.py WORK/loso_base [--workers 2] [--cache FEATURES.npz]

Clip paths in each fold's split.csv are read relative to that file's folder, as `loo` wrote them.
"""
from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import scipy.fft

from spoofscan.audio import read_clip
from spoofscan.config import FeatureConfig
from spoofscan.errors import SpoofscanError
from spoofscan.fuse import clip_key, cross_fold_eers
from spoofscan.io import read_csv
from spoofscan.metrics import eer

CONFIG = FeatureConfig(input_kind="lfcc", n_fft=512, win_length=512, hop_length=160)
TOP_HZ = 7500.0
N_CEPSTRA = 30
FRAME_STEP = 2  # every second frame: half the memory, the same mean


def mgdcc(wave: np.ndarray, *, gamma: float = 0.9, alpha: float = 0.4, lifter: int = 30) -> np.ndarray:
    """(samples,) -> (frames, 2 * N_CEPSTRA) modified group delay cepstra and their deltas, the clip's mean removed."""
    n_fft, hop = CONFIG.n_fft, CONFIG.hop_length
    if wave.size < n_fft:
        wave = np.pad(wave, (0, n_fft - wave.size))
    frames = np.lib.stride_tricks.sliding_window_view(wave, n_fft)[::hop].astype(np.float64)
    frames = frames - frames.mean(axis=1, keepdims=True)
    window = np.hanning(n_fft)
    x = np.fft.rfft(frames * window, axis=1)
    y = np.fft.rfft(frames * window * np.arange(n_fft), axis=1)  # FFT of n x[n]: the group delay's numerator
    log_magnitude = np.log(np.abs(x) + 1e-8)
    cepstrum = np.fft.irfft(log_magnitude, n=n_fft, axis=1)
    cepstrum[:, lifter:n_fft - lifter + 1] = 0
    smoothed = np.exp(np.fft.rfft(cepstrum, axis=1).real)  # the spectral envelope, never zero
    tau = (x.real * y.real + x.imag * y.imag) / smoothed ** (2 * gamma)
    tau = np.sign(tau) * np.abs(tau) ** alpha
    bins = int(TOP_HZ / (CONFIG.sample_rate / n_fft))
    cepstra = scipy.fft.dct(tau[:, :bins], type=2, norm="ortho", axis=1)[:, 1:N_CEPSTRA + 1]
    cepstra -= cepstra.mean(axis=0)
    deltas = np.gradient(cepstra, axis=0) if len(cepstra) > 1 else np.zeros_like(cepstra)
    return np.hstack([cepstra, deltas])[::FRAME_STEP].astype(np.float32)


def clip_features(path: str) -> np.ndarray | None:
    try:
        return mgdcc(read_clip(path, CONFIG))
    except SpoofscanError:
        return None


def fit_gmm(frames: np.ndarray, seed: int = 0):
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(64, covariance_type="diag", max_iter=30, random_state=seed, reg_covar=1e-3).fit(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("loo", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None, help="features saved here, and read from it if it exists")
    args = parser.parse_args()
    folds = sorted(args.loo.glob("*/split.csv"))
    if not folds:
        raise SystemExit(f"{args.loo}: no */split.csv; give a finished `spoofscan loo` folder")
    splits = {f.parent.name: [{**r, "path": os.path.normpath(f.parent / r["path"])} for r in read_csv(f)] for f in folds}
    paths = sorted({r["path"] for rows in splits.values() for r in rows})
    if args.cache and args.cache.is_file():
        saved = np.load(args.cache, allow_pickle=True)
        features = dict(zip(saved["paths"], saved["features"]))
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            features = dict(zip(paths, pool.map(clip_features, paths, chunksize=16)))
        if args.cache:
            stored = np.empty(len(paths), dtype=object)  # one array a clip, whatever their shapes
            stored[:] = [features[p] for p in paths]
            np.savez(args.cache, paths=np.array(paths), features=stored)
    print(f"{len(paths)} clips, {sum(f is None for f in features.values())} unreadable or too short")
    rng = np.random.default_rng(0)
    members, labels, fold_ids, own = [], [], [], []
    for fold, rows in splits.items():
        train = [r for r in rows if r["split"] == "train" and features[r["path"]] is not None]
        frames = {}
        for label in ("real", "fake"):
            stacked = np.concatenate([features[r["path"]] for r in train if r["label"] == label])
            frames[label] = stacked[rng.choice(len(stacked), min(len(stacked), 100_000), replace=False)]
        mean, std = np.concatenate(list(frames.values())).mean(0), np.concatenate(list(frames.values())).std(0) + 1e-6
        gmms = {label: fit_gmm((x - mean) / std) for label, x in frames.items()}
        stored = {clip_key(r["id"]): float(r["log_odds"])
                  for r in read_csv(args.loo / fold / "report_seed0" / "scores.csv")}
        test = [r for r in rows if r["split"] == "test" and features[r["path"]] is not None]
        phase = np.array([np.mean(gmms["fake"].score_samples((features[r["path"]] - mean) / std)
                                  - gmms["real"].score_samples((features[r["path"]] - mean) / std)) for r in test])
        magnitude = np.array([stored[clip_key(r["path"])] for r in test])
        fold_labels = np.array([r["label"] == "fake" for r in test])
        own.append(100 * eer(fold_labels, phase)[0])
        members.append(np.stack([magnitude, phase], axis=1))
        labels.append(fold_labels)
        fold_ids += [fold] * len(test)
        print(f"{fold}: MGDCC GMM EER {own[-1]:.1f} %, the run's {100 * eer(fold_labels, magnitude)[0]:.1f} % "
              f"({len(test)} held-out clips)", flush=True)
    rows = cross_fold_eers(np.concatenate(members), np.concatenate(labels).astype(int), np.array(fold_ids))
    fused = [100 * r["fused_eer"] for r in rows]
    print("MGDCC alone: " + " / ".join(f"{e:.1f}" for e in own) + f" %, mean {np.mean(own):.1f} %")
    print("fused with the run (fitted on the other folds): " + " / ".join(f"{e:.1f}" for e in fused)
          + f" %, mean {np.mean(fused):.1f} %")


if __name__ == "__main__":
    main()
