"""WaveFake's baseline, an LFCC-GMM, on the same protocol as spoofscan-base (until the detector-families issue
brings it into the CLI): two diagonal GMMs (real, fake) fitted by EM on LFCC frames (20 coefficients + deltas +
double deltas), a clip scored by its mean frame log-likelihood ratio (higher = more fake).

Usage: python experiments/lfcc_gmm.py TRAIN_MANIFEST DEV_MANIFEST --out DIR [--folds 3 --untested-system NAME ...]
Writes DIR/lfcc_gmm.json: EER on the external dev set (bootstrap over utterance groups, per system) and, with
--folds, on each fold of leave-sources-out (the folds of `spoofscan loo --by source --folds K`).
"""
from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import librosa
import numpy as np
import scipy.fft
from sklearn.mixture import GaussianMixture

from spoofscan.audio import load_audio, trim_silence
from spoofscan.io import write_json
from spoofscan.layouts import load_items
from spoofscan.metrics import bootstrap_eer, eer, per_system_eer, roc_auc
from spoofscan.protocol import fold_values

RATE, N_FFT, HOP, N_FILTERS, N_LFCC = 22050, 512, 160, 70, 20


def lfcc(path: str) -> np.ndarray | None:
    """(frames, 60) LFCC + delta + double delta of a clip (silence trimmed), or None if unreadable."""
    try:
        wave = trim_silence(load_audio(path, sample_rate=RATE))
    except Exception:  # noqa: BLE001 - unreadable clips are left out and counted
        return None
    if wave.size < N_FFT * 2:
        return None
    power = np.abs(librosa.stft(wave, n_fft=N_FFT, hop_length=HOP, center=False)) ** 2
    edges = np.linspace(0, N_FFT // 2, N_FILTERS + 2)  # triangular filters, linearly spaced to Nyquist
    bins = np.arange(N_FFT // 2 + 1)[:, None]
    filters = np.clip(np.minimum((bins - edges[:-2]) / (edges[1:-1] - edges[:-2]),
                                 (edges[2:] - bins) / (edges[2:] - edges[1:-1])), 0, None)
    coefficients = scipy.fft.dct(np.log(filters.T @ power + 1e-10), axis=0, norm="ortho")[:N_LFCC]
    features = np.concatenate([coefficients, librosa.feature.delta(coefficients, width=3),
                               librosa.feature.delta(coefficients, width=3, order=2)])
    return features.T.astype(np.float32)


def frames_of(items, workers: int) -> list[np.ndarray | None]:
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(lfcc, [it.path for it in items], chunksize=8))


def fit(features: list[np.ndarray], labels: list[str], *, components: int, max_frames: int, seed: int):
    """Two GMMs on standardized frames (the training frames' mean and std, kept in models["scale"])."""
    rng = np.random.default_rng(seed)
    everything = np.concatenate(features).astype(np.float64)
    models = {"scale": (everything.mean(axis=0), everything.std(axis=0) + 1e-8)}
    for label in ("real", "fake"):
        frames = np.concatenate([f for f, lab in zip(features, labels) if lab == label]).astype(np.float64)
        frames = frames[rng.choice(len(frames), min(max_frames, len(frames)), replace=False)]
        models[label] = GaussianMixture(components, covariance_type="diag", max_iter=50, random_state=seed,
                                        reg_covar=1e-3).fit((frames - models["scale"][0]) / models["scale"][1])
    return models


def score(models, features: list[np.ndarray]) -> np.ndarray:
    mean, std = models["scale"]
    scaled = [(f.astype(np.float64) - mean) / std for f in features]
    return np.array([models["fake"].score(f) - models["real"].score(f) for f in scaled])


def report(items, scores) -> dict:
    labels = np.array([it.label == "fake" for it in items], dtype=int)
    return {"eer": eer(labels, scores)[0], "roc_auc": roc_auc(labels, scores), "clips": len(items),
            "bootstrap_eer": bootstrap_eer(labels, scores, [it.group for it in items], n=1000),
            "per_system": {k: v["eer"] for k, v in per_system_eer(labels, scores, [it.system for it in items]).items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train")
    parser.add_argument("dev")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=0)
    parser.add_argument("--untested-system", action="append", default=[])
    parser.add_argument("--components", type=int, default=128)
    parser.add_argument("--max-frames", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    train_items, dev_items = load_items(args.train), load_items(args.dev)
    train_features, dev_features = frames_of(train_items, args.workers), frames_of(dev_items, args.workers)
    train_ok = [(it, f) for it, f in zip(train_items, train_features) if f is not None]
    dev_ok = [(it, f) for it, f in zip(dev_items, dev_features) if f is not None]
    results = {"features": f"LFCC {N_LFCC} + deltas, {N_FILTERS} linear filters to {RATE // 2} Hz",
               "components": args.components, "left_out_unreadable": {"train": len(train_items) - len(train_ok),
                                                                      "dev": len(dev_items) - len(dev_ok)}}
    models = fit([f for _, f in train_ok], [it.label for it, _ in train_ok], components=args.components,
                 max_frames=args.max_frames, seed=0)
    results["dev"] = report([it for it, _ in dev_ok], score(models, [f for _, f in dev_ok]))
    print(f"dev EER {results['dev']['eer']:.2%} (AUC {results['dev']['roc_auc']:.3f})")
    if args.folds:
        items = [it for it, _ in train_ok]
        sources = sorted({it.source for it in items})
        folds = []
        for held_out in fold_values(items, sources, "source", args.folds):
            # as in `spoofscan loo`: a group with any clip of a training source trains; only the held-out
            # sources' own groups are tested
            train_groups = {it.group for it, _ in train_ok if it.source not in held_out}
            train = [(it, f) for it, f in train_ok if it.source not in held_out]
            test = [(it, f) for it, f in train_ok if it.group not in train_groups
                    and it.system not in args.untested_system]
            fold_models = fit([f for _, f in train], [it.label for it, _ in train], components=args.components,
                              max_frames=args.max_frames, seed=0)
            result = report([it for it, _ in test], score(fold_models, [f for _, f in test]))
            folds.append({"values": " ".join(held_out), **result})
            print(f"fold {' '.join(held_out)[:60]}...: EER {result['eer']:.2%}")
        results["folds"] = folds
        results["loso_mean_eer"] = float(np.mean([f["eer"] for f in folds]))
        results["loso_worst_eer"] = float(np.max([f["eer"] for f in folds]))
        print(f"leave-sources-out mean EER {results['loso_mean_eer']:.2%}, worst {results['loso_worst_eer']:.2%}")
    write_json(args.out / "lfcc_gmm.json", results)


if __name__ == "__main__":
    main()
