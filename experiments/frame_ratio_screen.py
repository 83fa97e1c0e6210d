"""Screen how an LFCC-GMM's frame log-likelihoods become a window score, on the fold models `spoofscan loo` wrote.

Nothing is refitted: each fold's model (run_seed{SEED}/best.pt) scores its held-out windows once, keeping every
frame's log-likelihood under each of its GMMs, and every rule below turns those into clip scores; the narrowband
offset is set again for each rule as train sets it (val's wideband real windows against every narrowband real
window). The "unbounded mean" row is the model as fitted with gmm_llr_clip = 0 and reproduces loo's EERs.

  python experiments/frame_ratio_screen.py WORK/loso_fits4 --seed 0

Rules: the frame log-likelihood ratio (fake minus real, each the mean over a class's gmm_fits GMMs) clamped to
+-BOUND (gmm_llr_clip), softly bounded (BOUND x tanh(ratio / BOUND)), or trimmed (a window's frames outside its
PCT-th and (100 - PCT)-th percentiles left out); and the GMMs of a class taken as one mixture (log of their mean
likelihood) or by the best of them, instead of their mean log-likelihood.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy.special import logsumexp

from spoofscan.checkpoint import load_checkpoint, model_from_checkpoint
from spoofscan.features.lfcc import remove_window_mean
from spoofscan.metrics import eer
from spoofscan.models.gmm import component_log_probs
from spoofscan.store import Store


def frame_log_likelihoods(model, images: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(windows, 1, rows, frames) stored windows -> their (windows, frames, fits, 2) log-likelihoods under each GMM
    of each class (float16) and whether each window is narrowband."""
    out, narrow = [], []
    with torch.no_grad():
        for start in range(0, len(images), chunk):
            windows = torch.from_numpy(np.asarray(images[start:start + chunk], dtype=np.float32)).squeeze(1)
            narrow.append(model.narrow_windows(windows).numpy())
            if model.config.window_cmn:
                windows = remove_window_mean(windows, model.config.n_lfcc)
            frames = windows.transpose(1, 2)
            batch, n_frames, rows = frames.shape
            x = ((frames - model.row_mean) / model.row_std).reshape(-1, rows)
            per_class = []
            for label in (0, 1):
                joint = component_log_probs(x, model.log_weights[label], model.means[label], model.precisions[label])
                per_class.append(torch.logsumexp(joint.reshape(len(x), model.fits, -1), dim=2))
            out.append(torch.stack(per_class, dim=2).reshape(batch, n_frames, model.fits, 2).half().numpy())
    if not out:
        return np.zeros((0, 1, model.fits, 2), np.float16), np.zeros(0, bool)
    return np.concatenate(out), np.concatenate(narrow)


def window_scores(ll: np.ndarray, rule: tuple[str, float]) -> np.ndarray:
    """(windows, frames, fits, 2) log-likelihoods -> (windows,) log-odds under one rule."""
    kind, value = rule
    ll = ll.astype(np.float32)
    if kind == "mixture":
        per_class = logsumexp(ll, axis=2) - np.log(ll.shape[2])
    elif kind == "best":
        per_class = ll.max(axis=2)
    else:
        per_class = ll.mean(axis=2)
    ratio = per_class[..., 1] - per_class[..., 0]
    if kind == "clamp":
        ratio = np.clip(ratio, -value, value)
    elif kind == "tanh":
        ratio = value * np.tanh(ratio / value)
    elif kind == "trim":
        low, high = np.percentile(ratio, [value, 100 - value], axis=1, keepdims=True)
        kept = (ratio >= low) & (ratio <= high)
        return (ratio * kept).sum(axis=1) / kept.sum(axis=1)
    return ratio.mean(axis=1)


def fold_scores(fold: Path, seed: int) -> dict:
    """One fold's held-out and offset-setting windows, scored frame by frame by its model of that seed."""
    model = model_from_checkpoint(load_checkpoint(fold / f"run_seed{seed}" / "best.pt")).eval()
    store = Store(fold / "store")
    test, val, train = store.split("test"), store.split("val"), store.split("train")
    held_out, narrow = frame_log_likelihoods(model, test.images)
    val_real, val_narrow = frame_log_likelihoods(model, val.images[np.flatnonzero(val.labels == 0)])
    train_real = np.flatnonzero(train.labels == 0)
    train_narrow = np.concatenate([model.narrow_windows(torch.from_numpy(np.asarray(
        train.images[train_real[s:s + 2048]], dtype=np.float32)).squeeze(1)).numpy()
        for s in range(0, len(train_real), 2048)])
    labels = np.array([int(c["label"] == "fake") for c in test.clips])
    return {"held_out": held_out, "narrow": narrow, "clip": test.clip_of_window, "labels": labels,
            "val_real": val_real, "val_narrow": val_narrow,
            "train_narrow_real": frame_log_likelihoods(model, train.images[train_real[train_narrow]])[0]}


def fold_eer(data: dict, rule: tuple[str, float]) -> float:
    scores = window_scores(data["held_out"], rule)
    if data["narrow"].any():  # gmm_narrowband_hz: the offset that train would set for this rule
        val = window_scores(data["val_real"], rule)
        narrow_real = np.concatenate([val[data["val_narrow"]], window_scores(data["train_narrow_real"], rule)])
        scores = scores + data["narrow"] * (np.median(val[~data["val_narrow"]]) - np.median(narrow_real))
    n = len(data["labels"])
    clip_scores = np.bincount(data["clip"], scores, n) / np.bincount(data["clip"], minlength=n)
    return 100 * eer(data["labels"], clip_scores)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("loo", type=Path, help="a `spoofscan loo` folder of an lfcc-gmm recipe")
    parser.add_argument("--seed", type=int, default=0, help="which seed's fold models (run_seedN)")
    parser.add_argument("--bounds", default="2,3,4,5,6,8", help="clamp bounds in nats, comma-separated")
    args = parser.parse_args()
    folds = sorted(p for p in args.loo.iterdir() if (p / f"run_seed{args.seed}" / "best.pt").is_file())
    if not folds:
        raise SystemExit(f"{args.loo}: no fold has run_seed{args.seed}/best.pt; give a loo folder of an lfcc-gmm")
    data = [fold_scores(fold, args.seed) for fold in folds]
    rules = [("unbounded mean", ("mean", 0.0))]
    rules += [(f"clamp +-{b}", ("clamp", float(b))) for b in args.bounds.split(",")]
    rules += [("tanh 4", ("tanh", 4.0))] + [(f"trim {p}%", ("trim", float(p))) for p in (5, 10, 25)]
    rules += [("mixture", ("mixture", 0.0)), ("best GMM", ("best", 0.0))]
    print(f"{args.loo} seed {args.seed}: held-out EER per fold ({', '.join(f.name for f in folds)}) and mean")
    for name, rule in rules:
        eers = [fold_eer(d, rule) for d in data]
        print(f"  {name:16s} " + " / ".join(f"{e:4.1f}" for e in eers) + f" = {np.mean(eers):.2f} %")


if __name__ == "__main__":
    main()
