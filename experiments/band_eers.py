"""Leave-sources-out EERs split by band: each fold's held-out clips pooled, then only the narrowband clips (band edge
below --cut as the model sees the audio, `audit --as-model`'s bandwidth_hz: 16 kHz recordings), then only the
wideband ones. A detector whose pooled EER is far above both parts scores the two bands on different scales. The last
column is a what-if for such a detector: each fold's narrowband clips moved by the gap between the median log-odds
of the wideband and the narrowband real clips of the other folds (a band offset fitted on held-out sources only),
then pooled.

    python experiments/band_eers.py configs/base.toml WORK/loso_lfcc-gmm_60_cmn WORK/loso_lfcc-gmm_60_cmn_wide

Each LOO folder is what `spoofscan loo` wrote (source=fold*/report_seed0/scores.csv); clip paths are read relative to
the folder's parent (the WORK the loo ran in). What FAMILIES.md says about the band split was measured with it.
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from spoofscan.cli import feature_config_from
from spoofscan.errors import SpoofscanError
from spoofscan.io import read_csv
from spoofscan.metrics import eer
from spoofscan.shortcuts import model_view_properties


def fold_scores(loo: Path) -> list[tuple[str, list[dict]]]:
    folds = sorted(loo.glob("source=fold*/report_seed0/scores.csv"))
    if not folds:
        raise SpoofscanError(f"{loo}: no source=fold*/report_seed0/scores.csv; give a `spoofscan loo` folder")
    return [(path.parent.parent.name, read_csv(path)) for path in folds]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="the model's TOML: its [features] decide what the model sees")
    parser.add_argument("loo", nargs="+", type=Path)
    parser.add_argument("--cut", type=float, default=8500.0, help="band edge (Hz) below which a clip is narrowband")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.workers < 1 or not args.cut > 0:
        print(f"band_eers.py: --workers {args.workers} --cut {args.cut:g}: use 1 or more workers and a cut above "
              "0 Hz", file=sys.stderr)
        return 2
    try:
        config = feature_config_from(args.config, {})
        runs = {loo: fold_scores(loo) for loo in args.loo}
    except SpoofscanError as exc:
        print(f"band_eers.py: {exc}", file=sys.stderr)
        return 2
    paths = sorted({str(loo.parent / row["id"]) for loo, folds in runs.items() for _, rows in folds for row in rows})
    with ProcessPoolExecutor(args.workers) as pool:
        measured = pool.map(model_view_properties, [(p, config, (), 0.0) for p in paths], chunksize=16)
        band = {p: rows[0].get("bandwidth_hz", np.nan) for p, rows in zip(paths, measured)}
    print(f"| loo | fold | pooled | narrowband (< {args.cut:g} Hz): EER, real / fake | wideband: EER, real / fake | "
          "pooled, narrowband moved by the other folds' gap |")
    print("|---|---|---|---|---|---|")
    for loo, folds in runs.items():
        parts = []
        for _, rows in folds:
            y = np.array([row["label"] == "fake" for row in rows], dtype=int)
            score = np.array([float(row["log_odds"]) for row in rows])
            parts.append((y, score, np.array([band[str(loo.parent / row["id"])] < args.cut for row in rows])))
        for k, ((fold, _), (y, score, narrow)) in enumerate(zip(folds, parts)):
            def part(chosen: np.ndarray) -> str:
                counts = f"{int((y[chosen] == 0).sum())} / {int(y[chosen].sum())}"
                if len(set(y[chosen])) < 2:
                    return f"- ({counts})"
                return f"{100 * eer(y[chosen], score[chosen])[0]:.1f} % ({counts})"

            others = [other for j, other in enumerate(parts) if j != k]
            real_scores = np.concatenate([s[labels == 0] for labels, s, _ in others] or [score[:0]])
            real_narrow = np.concatenate([n[labels == 0] for labels, _, n in others] or [narrow[:0]])
            if real_narrow.all() or not real_narrow.any():
                moved = "- (the other folds' real clips lie in one band)"
            else:
                gap = float(np.median(real_scores[~real_narrow]) - np.median(real_scores[real_narrow]))
                moved = f"{100 * eer(y, score + gap * narrow)[0]:.1f} % (gap {gap:+.2f})"
            print(f"| {loo.name} | {fold} | {part(np.ones_like(narrow))} | {part(narrow)} | {part(~narrow)} | {moved} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
