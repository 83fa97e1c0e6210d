"""Screen other ways of setting the lfcc-gmm's narrowband offset, on the models a `spoofscan loo` run already fitted.

A GMM with gmm_narrowband_hz fits wideband windows only and scores a narrowband window (a 16 kHz recording) with the
same GMMs plus one offset, set in training so that the held-in narrowband real windows get the median log-odds of the
held-in wideband real (val) windows (train.narrowband_offset). The median aligns the middle of the two bands' real
scores; an EER threshold sits in their upper tail, where a band whose real scores spread wider sends more real clips
over it. This screen sets the offset from other statistics of the same held-in windows (no held-out clip is used to
set it), rescores each fold's held-out clips with it, and prints each fold's EER and the mean:

- q50 (train's rule, which must reproduce the run's own EERs), q75, q85, q90, q95: the window quantile aligned;
- clip50, clip85: the same on clip scores (each clip's mean window log-odds) instead of windows.

    python experiments/offset_screen.py WORK/loso_seeds --seeds 0,1

Each fold is source=fold*/ with its store/ and run_seed{S}/best.pt, as `spoofscan loo` writes them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from spoofscan.checkpoint import load_checkpoint, model_from_checkpoint
from spoofscan.errors import SpoofscanError
from spoofscan.metrics import eer
from spoofscan.scores import pool_windows
from spoofscan.store import SplitData, Store
from spoofscan.train import chosen_window_log_odds, window_summaries

RULES = ("q50", "q75", "q85", "q90", "q95", "clip50", "clip85")


def window_log_odds(model: torch.nn.Module, split: SplitData, features, chosen: np.ndarray) -> np.ndarray:
    """Each chosen window's log-odds (bool mask over the split's windows); NaN for the others."""
    index = np.flatnonzero(chosen)
    out = np.full(len(split.labels), np.nan, dtype=np.float32)
    out[index] = chosen_window_log_odds(model, split, index, features=features, batch_size=256)
    return out


def offset(rule: str, reference: tuple[np.ndarray, np.ndarray], narrow: tuple[np.ndarray, np.ndarray]) -> float:
    """The offset that aligns the narrowband real scores with the reference ones by rule; each argument is
    (window log-odds, clip of each window)."""
    if rule.startswith("clip"):
        level = float(rule[4:]) / 100
        clips = [pool_windows(scores, np.unique(clip, return_inverse=True)[1], len(np.unique(clip)))
                 for scores, clip in (reference, narrow)]
        return float(np.quantile(clips[0], level) - np.quantile(clips[1], level))
    level = float(rule[1:]) / 100
    return float(np.quantile(reference[0], level) - np.quantile(narrow[0], level))


def fold_eers(fold: Path, seed: int) -> dict[str, tuple[float, float]]:
    """Per rule: the fold's held-out EER with the rule's offset, and that offset."""
    state = load_checkpoint(fold / f"run_seed{seed}" / "best.pt")
    if "narrowband_offset" not in state["model"]:
        raise SpoofscanError(f"{fold}: run_seed{seed} has no narrowband offset (gmm_narrowband_hz = 0)")
    model = model_from_checkpoint(state).eval()
    model.narrowband_offset.zero_()
    features = state["feature_config"]
    store = Store(fold / "store", feature_config=features)
    splits = {name: store.split(name) for name in ("train", "val", "test")}
    narrow = {name: window_summaries(model, split, features)[1] for name, split in splits.items()}
    real = {name: split.labels == 0 for name, split in splits.items()}
    # only the windows any rule reads are scored (NaN elsewhere): train's fakes are most of the store
    needed = {"train": real["train"] & narrow["train"], "val": real["val"], "test": np.ones_like(narrow["test"])}
    scored = {name: window_log_odds(model, splits[name], features, needed[name]) for name in splits}
    reference_windows = real["val"] & ~narrow["val"]
    reference = (scored["val"][reference_windows], splits["val"].clip_of_window[reference_windows])
    # train's and val's clip indices are kept apart by an offset as large as train's clip count
    narrow_scores, narrow_clips = [], []
    for shift, name in ((0, "train"), (len(splits["train"].clips), "val")):
        chosen = real[name] & narrow[name]
        narrow_scores.append(scored[name][chosen])
        narrow_clips.append(splits[name].clip_of_window[chosen] + shift)
    narrow_real = (np.concatenate(narrow_scores), np.concatenate(narrow_clips))
    test = splits["test"]
    labels = np.array([int(row["label"] == "fake") for row in test.clips])
    out = {}
    for rule in RULES:
        shift = offset(rule, reference, narrow_real)
        moved = scored["test"] + shift * narrow["test"]
        out[rule] = (eer(labels, pool_windows(moved, test.clip_of_window, len(test.clips)))[0], shift)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loo", type=Path, help="a `spoofscan loo` output folder")
    parser.add_argument("--seeds", default="0", help="comma-separated EM seeds whose run_seed{S} models to rescore")
    args = parser.parse_args()
    torch.set_num_threads(2)
    folds = sorted(args.loo.glob("source=fold*"))
    try:
        try:
            seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            raise SpoofscanError(f"--seeds {args.seeds!r}: use comma-separated integers, e.g. 0,1") from None
        if not folds:
            raise SpoofscanError(f"{args.loo}: no source=fold* folders; give a `spoofscan loo --by source` folder")
        table = {seed: [fold_eers(fold, seed) for fold in folds] for seed in seeds}
    except SpoofscanError as exc:
        print(f"offset_screen.py: {exc}", file=sys.stderr)
        return 2
    print("| offset rule | " + " | ".join(f"seed {s}: folds / mean" for s in seeds) + " | mean of seeds |")
    print("|---|" + "---|" * (len(seeds) + 1))
    for rule in RULES:
        cells, means = [], []
        for seed in seeds:
            per_fold = [100 * row[rule][0] for row in table[seed]]
            means.append(float(np.mean(per_fold)))
            cells.append(" / ".join(f"{v:.1f}" for v in per_fold) + f" % ({means[-1]:.1f} %)")
        print(f"| {rule} | " + " | ".join(cells) + f" | {np.mean(means):.1f} % |")
    print("\noffsets (log-odds) by fold, " + "; ".join(
        f"seed {seed}: " + ", ".join(f"{rule} " + " / ".join(f"{row[rule][1]:+.2f}" for row in table[seed])
                                     for rule in RULES) for seed in seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
