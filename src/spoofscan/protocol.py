"""Leave-one-out protocol: for each system (or source), train without it and test on it.

Each fold is a normal spoofscan run (grouped split with the held-out value only in test, prepare, train,
evaluate) in its own folder, so any fold can be inspected or rerun. The table gives, per held-out value and
seed, the EER on the held-out clips (against the test split's real clips) and on the whole test split; the
summary gives mean, standard deviation over seeds, and the worst case.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .config import FeatureConfig, TrainConfig, to_dict
from .degrade import table_markdown
from .errors import SpoofscanError
from .io import write_csv, write_json, write_text
from .layouts import REAL_SYSTEM, Item


def fold_values(items: list[Item], values: list[str], key: str, folds: int) -> list[tuple[str, ...]]:
    """Partition values into `folds` sets of about equal clip count (largest first into the smallest fold;
    deterministic), so that many small sources still give a few folds with both classes."""
    sizes = {v: 0 for v in values}
    for it in items:
        if getattr(it, key) in sizes:
            sizes[getattr(it, key)] += 1
    parts: list[list[str]] = [[] for _ in range(folds)]
    totals = [0] * folds
    for value in sorted(values, key=lambda v: (-sizes[v], v)):
        smallest = totals.index(min(totals))
        parts[smallest].append(value)
        totals[smallest] += sizes[value]
    return [tuple(sorted(p)) for p in parts]


def read_fold_sets(loo_dir: str | Path, key: str) -> list[tuple[str, ...]]:
    """The held-out sets of an earlier `loo --folds` run (its folder or its loo.json; a file with only the keys key,
    folds_asked and folds[].values will do), to hold out the same ones again."""
    path = Path(loo_dir) if Path(loo_dir).is_file() else Path(loo_dir) / "loo.json"
    try:
        summary = json.loads(path.read_text())
        held_out_by, asked = summary.get("key"), summary.get("folds_asked")
        fold_sets = [tuple(row["values"].split(" ")) for row in summary["folds"]]
    except (OSError, ValueError, AttributeError, KeyError, TypeError) as exc:
        raise SpoofscanError(f"{path}: cannot read its folds ({type(exc).__name__}: {exc}); give the folder of a "
                             "`spoofscan loo --folds` run or its loo.json") from None
    if held_out_by != key or not asked:
        raise SpoofscanError(f"{path}: not a `loo --by {key} --folds K` run (it held out by {held_out_by}, "
                             f"folds {asked})")
    return fold_sets


def leave_one_out(items: list[Item], out: str | Path, features: FeatureConfig, config: TrainConfig, *,
                  key: str = "system", seeds: tuple[int, ...] = (0,), fractions=(0.7, 0.15, 0.15),
                  folds: int = 0, fold_sets: list[tuple[str, ...]] | None = None,
                  untested_systems: tuple[str, ...] = (), always_train: tuple[str, ...] = (), workers: int = 0,
                  augment: tuple[str, ...] = (), augment_copies: int = 0,
                  reuse: tuple[str | Path, ...] = ()) -> dict:
    """Run the protocol and write loo.csv, loo.md and loo.json to out. Returns the summary.

    folds > 0 holds out sets of values instead of one value at a time (leave-sources-out cross-validation with
    that many folds); the test split is then the held-out clips alone and the fold's EER is over them. fold_sets
    (read_fold_sets) holds out exactly those sets instead, e.g. another recipe's folds, for a comparison on the same
    folds when clip counts differ (fold_values balances the folds by clip count).
    untested_systems are trained on but never scored in a held-out test (e.g. paired fakes made for every source,
    so that a fold measures the published fakes of unseen sources only). always_train are values of key that are
    never held out: every fold trains on them (e.g. extra real speech from other recording chains, with its paired
    fakes), and no fold scores them. augment and augment_copies add degraded copies of each fold's training clips, as
    `prepare --augment` does. A fold's store copies the clean windows of the clips that the reuse stores (e.g. the
    store `prepare` made of the same corpus) and earlier folds' stores hold (prepare's reuse): every clip's features
    are extracted once.
    """
    from .evaluate import evaluate
    from .splits import grouped_split, write_manifest
    from .store import Store, check_augmentation, prepare
    from .train import train

    out = Path(out)
    if key not in ("system", "source", "speaker"):
        raise SpoofscanError(f"--by {key!r}: hold out each system, source or speaker")
    values = sorted({getattr(it, key) for it in items if not (key == "system" and it.system == REAL_SYSTEM)})
    unknown = sorted(set(always_train) - set(values))
    if unknown:
        raise SpoofscanError(f"--always-train {', '.join(unknown)}: no such {key} in the data")
    values = [v for v in values if v not in always_train]
    if len(values) < 2:
        raise SpoofscanError(f"leave-one-out by {key} needs at least two values, found {values}")
    if fold_sets is not None:
        if folds:
            raise SpoofscanError("give --folds K or --folds-from, not both")
        listed = [v for fold in fold_sets for v in fold]
        if sorted(listed) != values:
            missing, extra = sorted(set(values) - set(listed)), sorted(set(listed) - set(values))
            raise SpoofscanError(f"--folds-from: its folds do not partition this data's {key}s (not in a fold: "
                                 f"{missing[:3]}; not in the data or twice: {extra[:3] or 'a value twice'}); use "
                                 "the folds of a run on the same sources")
        folds = len(fold_sets)
    if folds < 0 or folds == 1 or folds > len(values):
        raise SpoofscanError(f"--folds {folds}: use 0 (one {key} at a time) or 2-{len(values)}")
    unknown = set(untested_systems) - {it.system for it in items}
    if unknown:
        raise SpoofscanError(f"--untested-system {sorted(unknown)}: no such system in the data")
    check_augmentation(augment, augment_copies)  # before any fold folder is written
    if not folds and key != "system":
        tested = [it for it in items if it.system not in untested_systems]
        one_class = sorted(v for v in values if len({it.label for it in tested if getattr(it, key) == v}) < 2)
        if one_class:
            raise SpoofscanError(f"{key} {', '.join(one_class[:3])}{' ...' if len(one_class) > 3 else ''} holds "
                                 f"only one class, so no EER can be measured on it alone; use --folds K to hold "
                                 f"out sets of {key}s")
    for path in reuse:  # not a store: one line before any fold folder is written
        Store(path)
    held_out_sets = (fold_sets or fold_values(items, values, key, folds)) if folds else [(v,) for v in values]
    rows, stores = [], list(reuse)
    for number, held_out in enumerate(held_out_sets):
        name = f"fold{number}" if folds else held_out[0]
        fold = out / f"{key}={name}"
        fold_items, _ = grouped_split(items, fractions=(0.85, 0.15, 0.0) if folds else fractions, seed=0,
                                      holdout_systems=held_out, holdout_key=key)
        fold_items = [it for it in fold_items if not (it.split == "test" and it.system in untested_systems)]
        write_manifest(fold / "split.csv", fold_items)
        store = fold / "store"
        if not (store / "header.json").exists():  # the clips of earlier folds' stores copied, not extracted again
            prepare(fold_items, store, features, workers=workers, progress=False, augment=augment,
                    augment_copies=augment_copies, reuse=tuple(stores))
        stores.append(store)
        for seed in seeds:
            run = fold / f"run_seed{seed}"
            best = run / "best.pt"
            if not best.exists():
                train(store, run, TrainConfig(**{**to_dict(config), "seed": seed}))
            metrics = evaluate(best, store, fold / f"report_seed{seed}", bootstrap=0, device=config.device)
            unseen = (metrics["eer"] if folds else metrics["per_system"][name]["eer"] if key == "system"
                      else metrics[f"by_{key}"][name]["eer"])
            rows.append({"held_out": name, "values": " ".join(held_out), "seed": seed, "eer_held_out": unseen,
                         "eer_test": metrics["eer"], "auc_test": metrics["roc_auc"]})
    summary_rows = []
    for name in dict.fromkeys(r["held_out"] for r in rows):
        fold_rows = [r for r in rows if r["held_out"] == name]
        eers = np.array([r["eer_held_out"] for r in fold_rows])
        summary_rows.append({"held_out": name, "values": fold_rows[0]["values"], "eer_mean": float(eers.mean()),
                             "eer_std": float(eers.std()), "seeds": len(eers)})
    means = np.array([r["eer_mean"] for r in summary_rows])
    summary = {"key": key, "folds_asked": folds, "untested_systems": list(untested_systems),
               "always_train": list(always_train), "seeds": list(seeds),
               "folds": summary_rows, "mean_eer": float(means.mean()),
               "worst_eer": float(means.max()), "worst": summary_rows[int(means.argmax())]["held_out"],
               "feature_config": to_dict(features), "train_config": to_dict(config)}
    write_csv(out / "loo.csv", rows, list(rows[0]))
    write_json(out / "loo.json", summary)
    title = f"sets of {key}s ({folds} folds)" if folds else f"one {key}"
    write_text(out / "loo.md", f"# Leave {title} out\n\n" +
        table_markdown(summary_rows, ["held_out", "values", "eer_mean", "eer_std", "seeds"]) +
        f"\nmean EER on the held-out {key}: {summary['mean_eer']:.2%}; worst: {summary['worst_eer']:.2%} "
        f"({summary['worst']})\n")
    return summary
