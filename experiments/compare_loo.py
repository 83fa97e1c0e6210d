"""Is recipe B better than recipe A on leave-sources-out, or within the noise? A paired bootstrap of two `spoofscan loo`
folders run on the same folds (`loo --folds-from`).

Each resample draws the utterance groups of every fold with replacement (the unit of `evaluate`'s bootstrap), once
for both recipes, and recomputes each fold's EER and the mean over folds. It prints the mean-EER difference B - A
with its 95 % interval and how often B came out better. Clips of one source share a recording chain, so resampling
groups understates the spread between sources: an interval that excludes zero here is necessary, not sufficient.

  python experiments/compare_loo.py WORK/loso_lfcc-gmm_60_cmn WORK/loso_lfcc-gmm_60_cmn_speech25
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from spoofscan.errors import SpoofscanError
from spoofscan.fuse import clip_key
from spoofscan.metrics import eer


def held_out_scores(folder: Path) -> dict[str, tuple[str, str, int, float]]:
    """Clip key -> (fold, group, label, log-odds averaged over seeds) of every fold's held-out clips."""
    files = sorted(folder.glob("*/report_seed*/scores.csv"))
    if not (folder / "loo.json").is_file() or not files:
        raise SpoofscanError(f"{folder}: not a finished `spoofscan loo` folder (no loo.json or fold scores.csv)")
    found: dict[str, list] = {}
    for file in files:
        with open(file, newline="") as f:
            for row in csv.DictReader(f):
                entry = found.setdefault(clip_key(row["id"]), [file.parent.parent.name, row["group"],
                                                                int(row["label"] == "fake"), []])
                entry[3].append(float(row["log_odds"]))
    return {clip: (fold, group, label, float(np.mean(values))) for clip, (fold, group, label, values) in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="the reference loo folder")
    parser.add_argument("b", type=Path, help="the candidate loo folder, same folds")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.resamples < 1:
        parser.error(f"--resamples {args.resamples}: use 1 or more")
    try:
        a, b = held_out_scores(args.a), held_out_scores(args.b)
        common = sorted(set(a) & set(b))
        if not common or any((a[c][0], a[c][2]) != (b[c][0], b[c][2]) for c in common):  # fold and label
            raise SpoofscanError("the two folders must score the same clips on the same folds (loo --folds-from)")
    except SpoofscanError as exc:
        parser.exit(2, f"compare_loo: error: {exc}\n")
    folds = sorted({a[c][0] for c in common})
    rng = np.random.default_rng(args.seed)
    per_fold = []  # (labels, scores a, scores b, clip indices of each group)
    for fold in folds:
        clips = [c for c in common if a[c][0] == fold]
        groups = np.unique([a[c][1] for c in clips], return_inverse=True)[1]
        members = [np.flatnonzero(groups == g) for g in range(groups.max() + 1)]
        per_fold.append((np.array([a[c][2] for c in clips]), np.array([a[c][3] for c in clips]),
                         np.array([b[c][3] for c in clips]), members))
    observed = [(eer(y, sa)[0], eer(y, sb)[0]) for y, sa, sb, _ in per_fold]
    differences = []
    for _ in range(args.resamples):
        means = np.zeros(2)
        for y, sa, sb, members in per_fold:
            index = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
            while not 0 < y[index].sum() < len(index):  # a resample needs both classes
                index = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
            means += [eer(y[index], sa[index])[0], eer(y[index], sb[index])[0]]
        differences.append((means[1] - means[0]) / len(per_fold))
    differences = np.array(differences)
    for fold, (ea, eb) in zip(folds, observed):
        print(f"{fold}: A {100 * ea:.1f} %, B {100 * eb:.1f} % ({100 * (eb - ea):+.1f})")
    mean_a, mean_b = (np.mean([o[i] for o in observed]) for i in (0, 1))
    low, high = np.percentile(differences, [2.5, 97.5])
    print(f"mean over {len(folds)} folds: A {100 * mean_a:.1f} %, B {100 * mean_b:.1f} %; "
          f"B - A {100 * (mean_b - mean_a):+.1f} points, 95 % interval {100 * low:+.1f} to {100 * high:+.1f} "
          f"({args.resamples} paired resamples of utterance groups); B better in {100 * np.mean(differences < 0):.0f} "
          "% of them")


if __name__ == "__main__":
    main()
