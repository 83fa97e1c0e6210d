"""Leave-one-out protocol: for each system (or source), train without it and test on it.

Each fold is a normal spoofscan run (grouped split with the held-out value only in test, prepare, train,
evaluate) in its own folder, so any fold can be inspected or rerun. The table gives, per held-out value and
seed, the EER on the held-out clips (against the test split's real clips) and on the whole test split; the
summary gives mean, standard deviation over seeds, and the worst case.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import FeatureConfig, TrainConfig, to_dict
from .degrade import table_markdown
from .errors import SpoofscanError
from .io import write_csv, write_json, write_text
from .layouts import REAL_SYSTEM, Item


def leave_one_out(items: list[Item], out: str | Path, features: FeatureConfig, config: TrainConfig, *,
                  key: str = "system", seeds: tuple[int, ...] = (0,), fractions=(0.7, 0.15, 0.15),
                  workers: int = 0) -> dict:
    """Run the protocol and write loo.csv, loo.md and loo.json to out. Returns the summary."""
    from .evaluate import evaluate
    from .splits import grouped_split, write_manifest
    from .store import prepare
    from .train import train

    out = Path(out)
    if key not in ("system", "source", "speaker"):
        raise SpoofscanError(f"--by {key!r}: hold out each system, source or speaker")
    values = sorted({getattr(it, key) for it in items if not (key == "system" and it.system == REAL_SYSTEM)})
    if len(values) < 2:
        raise SpoofscanError(f"leave-one-out by {key} needs at least two values, found {values}")
    rows = []
    for value in values:
        fold = out / f"{key}={value}"
        fold_items, _ = grouped_split(items, fractions=fractions, seed=0, holdout_systems=(value,), holdout_key=key)
        write_manifest(fold / "split.csv", fold_items)
        store = fold / "store"
        if not (store / "header.json").exists():
            prepare(fold_items, store, features, workers=workers, progress=False)
        for seed in seeds:
            run = fold / f"run_seed{seed}"
            best = run / "best.pt"
            if not best.exists():
                train(store, run, TrainConfig(**{**to_dict(config), "seed": seed}))
            metrics = evaluate(best, store, fold / f"report_seed{seed}", bootstrap=0, device=config.device)
            unseen = (metrics["per_system"][value]["eer"] if key == "system"
                      else metrics[f"by_{key}"][value]["eer"])
            rows.append({"held_out": value, "seed": seed, "eer_held_out": unseen, "eer_test": metrics["eer"],
                         "auc_test": metrics["roc_auc"]})
    summary_rows = []
    for value in values:
        eers = np.array([r["eer_held_out"] for r in rows if r["held_out"] == value])
        summary_rows.append({"held_out": value, "eer_mean": float(eers.mean()), "eer_std": float(eers.std()),
                             "seeds": len(eers)})
    means = np.array([r["eer_mean"] for r in summary_rows])
    summary = {"key": key, "seeds": list(seeds), "folds": summary_rows, "mean_eer": float(means.mean()),
               "worst_eer": float(means.max()), "worst": summary_rows[int(means.argmax())]["held_out"],
               "feature_config": to_dict(features), "train_config": to_dict(config)}
    write_csv(out / "loo.csv", rows, list(rows[0]))
    write_json(out / "loo.json", summary)
    write_text(out / "loo.md", f"# Leave one {key} out\n\n" + table_markdown(
        summary_rows, ["held_out", "eer_mean", "eer_std", "seeds"]) +
        f"\nmean EER on the held-out {key}: {summary['mean_eer']:.2%}; worst: {summary['worst_eer']:.2%} "
        f"({summary['worst']})\n")
    return summary
