"""Evaluation: score every clip, compute every metric, draw the plots, write one report.

Outputs (all written atomically): metrics.json, scores.csv (one row per clip: id, system, label, score =
P(fake), log_odds, llr), confusion_matrix.npy, roc_curve.png, det_curve.png, score_histogram.png,
confusion_matrix.png, reliability.png and report.md, which puts the numbers and pictures on one page.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, model_from_checkpoint, require_single
from .errors import SpoofscanError
from .io import save_figure, save_npy, write_csv, write_json, write_text
from .layouts import SPLITS
from .metrics import (act_dcf, bootstrap_eer, classification_report, cllr, eer, eer_sorted, error_rates, grouped_eer,
                      min_cllr, min_dcf, per_system_eer, roc_auc, seed_aeer)
from .models import check_input
from .predict import Detector
from .scores import calibrated_llr, pool_windows, posterior, sigmoid
from .store import Store
from .train import pick_device, window_logits

SCORE_FIELDS = ["id", "system", "label", "group", "speaker", "score", "log_odds", "llr"]


def score_store(checkpoint: str | Path, store_path: str | Path, *, split: str = "test", device: str = "auto",
                batch_size: int = 64, pool: str = "mean") -> list[dict]:
    """Clip rows with log_odds for one split of a store made with the checkpoint's FeatureConfig."""
    state = load_checkpoint(checkpoint)
    require_single(state, checkpoint, "its members read different features, so score a dataset or manifest "
                   "(audio), not a store")
    check_input(state["train_config"].model, Store(store_path).feature_config, where=f"store {store_path}")
    store = Store(store_path, feature_config=state["feature_config"])
    data = store.split(split)
    if not data.clips:
        raise SpoofscanError(f"{store.path}: the {split} split is empty; choose another --split")
    torch_device = pick_device(device)
    model = model_from_checkpoint(state)
    logits = window_logits(model.to(torch_device), data, features=state["feature_config"], batch_size=batch_size,
                           device=torch_device)
    clip_log_odds = pool_windows(logits[:, 1] - logits[:, 0], data.clip_of_window, len(data.clips), pool)
    return [{**clip, "log_odds": float(lo)} for clip, lo in zip(data.clips, clip_log_odds)]


def score_items(checkpoint: str | Path, items, *, device: str = "auto", batch_size: int = 64,
                pool: str = "mean") -> tuple[list[dict], list[dict]]:
    """Clip rows with log_odds for dataset items scored from audio; also the rows that failed."""
    detector = Detector.from_checkpoint(checkpoint, device=device, batch_size=batch_size, pool=pool)
    by_path = {it.path: it for it in items}
    rows, failed = [], []
    for prediction in detector.predict_files([it.path for it in items]):
        item = by_path[prediction.path]
        if prediction.error:
            failed.append({"path": item.path, "reason": prediction.error})
        else:
            rows.append({**item.__dict__, "log_odds": prediction.log_odds})
    return rows, failed


def log_odds_matrix(checkpoints: list, data: str | Path, *, layout: str | None = None, split: str = "all",
                    device: str = "cpu", batch_size: int = 64) -> tuple[list, np.ndarray, np.ndarray]:
    """The clips of a dataset or manifest (one split or all) scored from audio by every checkpoint: the items that
    every checkpoint could score, their labels (1 = fake) and a (clips, checkpoints) matrix of model log-odds."""
    from .layouts import load_items

    items = load_items(data, layout=layout)
    if split != "all":
        items = [it for it in items if it.split == split]
    if not items:
        raise SpoofscanError(f"{data}: no clip in the {split} split; use --split all or another split")
    scores, failed = [], set()
    for checkpoint in checkpoints:
        rows, bad = score_items(checkpoint, items, device=device, batch_size=batch_size)
        scores.append({r["path"]: r["log_odds"] for r in rows})
        failed |= {b["path"] for b in bad}
    kept = [it for it in items if it.path not in failed]
    labels = np.array([int(it.label == "fake") for it in kept])
    if len(set(labels.tolist())) < 2:
        raise SpoofscanError(f"{data}: the clips that could be scored ({len(kept)} of {len(items)}) hold one class "
                             "only; this needs real and fake clips")
    return kept, labels, np.array([[s[it.path] for s in scores] for it in kept])


def compute_metrics(rows: list[dict], *, val_threshold: float, bootstrap: int = 1000, aeer: bool = False,
                    seed: int = 0, calibration: dict | None = None) -> dict:
    """All metrics of the scored clips. Metrics use the log-odds (no ties from rounding P(fake) near 0 or 1); the
    calibration metrics use the log-likelihood ratios of the checkpoint's calibration, or the log-odds without one."""
    labels = np.array([int(r["label"] == "fake") for r in rows])
    log_odds = np.array([r["log_odds"] for r in rows], dtype=np.float64)
    if len(set(labels)) < 2:
        raise SpoofscanError(f"the evaluated clips hold only {'fake' if labels.all() else 'real'} clips; "
                             "EER needs both real and fake clips")
    rate, threshold = eer(labels, log_odds)
    val_log_odds = float(np.log(val_threshold / (1 - val_threshold))) if 0 < val_threshold < 1 else (
        np.inf if val_threshold >= 1 else -np.inf)
    at_val = classification_report(labels, (log_odds >= val_log_odds).astype(int))
    fpr, fnr = error_rates(labels, log_odds, val_log_odds)
    metrics = {
        "score": "P(fake) = sigmoid(log_odds); label 1 = fake",
        "clips": {"total": len(rows), "real": int((labels == 0).sum()), "fake": int(labels.sum())},
        "eer": rate, "eer_threshold": float(sigmoid(threshold)), "eer_threshold_log_odds": threshold,
        "eer_asvspoof_sorted": eer_sorted(labels, log_odds)[0],
        "roc_auc": roc_auc(labels, log_odds),
        "min_dcf": {"value": min_dcf(labels, log_odds), "p_spoof": 0.05, "c_miss": 1.0, "c_fa": 10.0},
        "at_0.5": classification_report(labels, (log_odds >= 0).astype(int)),
        "at_val_eer_threshold": {"threshold": val_threshold, "fpr_real_flagged": fpr, "fnr_fake_missed": fnr,
                                 **at_val},
        "per_system": per_system_eer(labels, log_odds, [r["system"] for r in rows]),
        "by_speaker": grouped_eer(labels, log_odds, [r["speaker"] for r in rows]),
        "by_source": grouped_eer(labels, log_odds, [r.get("source", "unknown") for r in rows]),
    }
    llr = clip_llr(rows, calibration)
    metrics["calibration"] = {
        "llr": "calibrated (spoofscan calibrate)" if calibration else "the model's log-odds, not calibrated",
        "cllr": cllr(labels, llr), "min_cllr": min_cllr(labels, log_odds),
        "act_dcf": {"value": act_dcf(labels, llr), "p_spoof": 0.05, "c_miss": 1.0, "c_fa": 10.0}}
    if bootstrap:
        metrics["bootstrap_eer"] = bootstrap_eer(labels, log_odds, [r["group"] for r in rows], n=bootstrap, seed=seed)
    if aeer:
        metrics["seed_aeer"] = seed_aeer(labels, log_odds, seed=seed)
    return metrics


def clip_llr(rows: list[dict], calibration: dict | None) -> np.ndarray:
    """Each clip's log-likelihood ratio: the calibrated map of its log-odds, or the log-odds themselves."""
    log_odds = np.array([r["log_odds"] for r in rows], dtype=np.float64)
    return calibrated_llr(log_odds, calibration) if calibration else log_odds


def _plots(out: Path, labels: np.ndarray, log_odds: np.ndarray, llr: np.ndarray, metrics: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, log_odds)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"AUC {metrics['roc_auc']:.4f}")
    ax.plot([0, 1], [0, 1], "k--", alpha=0.4)
    ax.plot([metrics["eer"]], [1 - metrics["eer"]], "ro", label=f"EER {metrics['eer']:.2%}")
    ax.set(xlabel="false positive rate (real flagged fake)", ylabel="true positive rate (fake caught)", title="ROC")
    ax.legend(loc="lower right")
    save_figure(out / "roc_curve.png", fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    clip = lambda p: norm.ppf(np.clip(p, 1e-4, 1 - 1e-4))  # noqa: E731
    ax.plot(clip(fpr), clip(1 - tpr))
    ticks = [0.001, 0.01, 0.05, 0.2, 0.5, 0.8]
    ax.set_xticks(clip(np.array(ticks)), [f"{t:.1%}" for t in ticks])
    ax.set_yticks(clip(np.array(ticks)), [f"{t:.1%}" for t in ticks])
    ax.plot(clip(metrics["eer"]), clip(metrics["eer"]), "ro", label=f"EER {metrics['eer']:.2%}")
    ax.set(xlabel="false positive rate (real flagged fake)", ylabel="false negative rate (fake missed)", title="DET")
    ax.legend()
    save_figure(out / "det_curve.png", fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(log_odds.min(), log_odds.max(), 40)
    for value, name in ((0, "real"), (1, "fake")):
        ax.hist(log_odds[labels == value], bins=bins, alpha=0.6, label=name)
    ax.axvline(metrics["eer_threshold_log_odds"], color="k", linestyle="--", label="EER threshold")
    ax.set(xlabel="log-odds of fake (P(fake) = sigmoid)", ylabel="clips", title="scores per class")
    ax.legend()
    save_figure(out / "score_histogram.png", fig)

    matrix = np.array(metrics["at_val_eer_threshold"]["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", color="k" if value < matrix.max() / 2 else "w")
    ax.set_xticks([0, 1], ["real", "fake"])
    ax.set_yticks([0, 1], ["real", "fake"])
    ax.set(xlabel="predicted", ylabel="true",
           title=f"threshold P(fake) >= {metrics['at_val_eer_threshold']['threshold']:.3f}")
    save_figure(out / "confusion_matrix.png", fig)

    # reliability: P(fake) at this set's own share of fakes against the share of fakes observed, in 10 bins
    share = labels.mean()
    predicted = posterior(llr, share)
    edges = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(predicted, edges) - 1, 0, 9)
    used = [b for b in range(10) if (which == b).any()]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--", alpha=0.4, label="perfectly calibrated")
    ax.plot([predicted[which == b].mean() for b in used], [labels[which == b].mean() for b in used], "o-",
            label=f"Cllr {metrics['calibration']['cllr']:.3f} bits")
    ax.set(xlabel=f"predicted P(fake) at this set's prior ({share:.2f})", ylabel="observed share of fakes",
           title="reliability", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    save_figure(out / "reliability.png", fig)


def _report(metrics: dict, checkpoint: str, source: str) -> str:
    at_val, at_half = metrics["at_val_eer_threshold"], metrics["at_0.5"]
    lines = [
        "# spoofscan evaluation report", "",
        f"- checkpoint: `{checkpoint}`", f"- data: `{source}`",
        f"- clips: {metrics['clips']['total']} ({metrics['clips']['real']} real, {metrics['clips']['fake']} fake)",
        "- score polarity: **P(fake)**, higher = more likely fake", "",
        "| metric | value |", "| --- | --- |",
        f"| EER | {metrics['eer']:.2%} (threshold P(fake) = {metrics['eer_threshold']:.4f}) |",
        f"| EER, ASVspoof sorted computation | {metrics['eer_asvspoof_sorted']:.2%} |",
    ]
    if "bootstrap_eer" in metrics:
        b = metrics["bootstrap_eer"]
        lines.append(f"| bootstrapped EER ({b['resamples']} resamples of {b['unit']}s) | {b['mean']:.2%} +- "
                     f"{b['std']:.2%}, 95 % interval [{b['ci95_low']:.2%}, {b['ci95_high']:.2%}] |")
    if "seed_aeer" in metrics:
        a = metrics["seed_aeer"]
        lines.append(f"| aEER (the seed's {a['resamples']} clip resamples) | {a['mean']:.2%} +- {a['std']:.2%} |")
    lines += [
        f"| ROC AUC | {metrics['roc_auc']:.4f} |",
        f"| minDCF (ASVspoof 5 costs) | {metrics['min_dcf']['value']:.4f} |",
        f"| actual DCF at the Bayes threshold of the LLR | {metrics['calibration']['act_dcf']['value']:.4f} |",
        f"| Cllr / min Cllr (bits; LLR = {metrics['calibration']['llr']}) | {metrics['calibration']['cllr']:.4f} / "
        f"{metrics['calibration']['min_cllr']:.4f} |",
        f"| accuracy at P(fake) >= 0.5 | {at_half['accuracy']:.2%} |",
        f"| accuracy at the validation EER threshold ({at_val['threshold']:.4f}) | {at_val['accuracy']:.2%} "
        f"(real flagged {at_val['fpr_real_flagged']:.2%}, fake missed {at_val['fnr_fake_missed']:.2%}) |", "",
        "## Per class (at the validation EER threshold)", "",
        "| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |",
    ]
    for name, c in at_val["per_class"].items():
        lines.append(f"| {name} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |")
    lines += ["", "## EER per fake system (each against all real clips)", "",
              "| system | EER | fake clips |", "| --- | --- | --- |"]
    for system, s in metrics["per_system"].items():
        lines.append(f"| {system} | {s['eer']:.2%} | {s['n_fake']} |")
    for key in ("speaker", "source"):
        if len(metrics[f"by_{key}"]) > 1:
            lines += ["", f"## EER per {key}", "", f"| {key} | EER | clips |", "| --- | --- | --- |"]
            lines += [f"| {k} | {v['eer']:.2%} | {v['n']} |" for k, v in metrics[f"by_{key}"].items()]
    lines += ["", "## Plots", "", "![ROC](roc_curve.png) ![DET](det_curve.png)", "",
              "![scores](score_histogram.png) ![confusion matrix](confusion_matrix.png)", "",
              "![reliability](reliability.png)", ""]
    return "\n".join(lines)


def group_table(metrics: dict, key: str) -> list[dict]:
    """Rows of EER per system (each fake system against all real clips), source or speaker."""
    if key == "system":
        return [{"system": k, "eer": v["eer"], "fake_clips": v["n_fake"]} for k, v in metrics["per_system"].items()]
    if key in ("source", "speaker"):
        return [{key: k, "eer": v["eer"], "clips": v["n"]} for k, v in metrics[f"by_{key}"].items()]
    raise SpoofscanError(f"--by {key!r}: use system, source or speaker")


def evaluate(checkpoint: str | Path, source: str | Path, out_dir: str | Path, *, split: str = "test",
             layout: str | None = None, bootstrap: int = 1000, aeer: bool = False, device: str = "auto",
             batch_size: int = 64, pool: str = "mean", seed: int = 0, by: tuple[str, ...] = ("system",)) -> dict:
    """Score a store split or a dataset/manifest with a checkpoint and write the full report to out_dir.

    For each key in by (system, source, speaker) a by_<key>.csv table of EERs is written too.
    """
    out = Path(out_dir)
    source = Path(source)
    state = load_checkpoint(checkpoint)
    for key in by:
        group_table({"per_system": {}, "by_source": {}, "by_speaker": {}}, key)  # bad keys fail before any work
    if bootstrap < 0 or batch_size < 1:
        raise SpoofscanError(f"--bootstrap {bootstrap} / --batch-size {batch_size}: use bootstrap >= 0 (0 = off) "
                             "and batch size >= 1")
    if split not in SPLITS + ("all",):
        raise SpoofscanError(f"--split {split!r}: use train, val, test or all")
    failed: list[dict] = []
    if (source / "header.json").is_file():
        if split == "all":
            raise SpoofscanError("--split all is for datasets; a store is evaluated one split at a time")
        rows = score_store(checkpoint, source, split=split, device=device, batch_size=batch_size, pool=pool)
    else:
        from .layouts import load_items

        items = load_items(source, layout=layout)
        if split != "all" and any(it.split for it in items):
            items = [it for it in items if it.split == split]
            if not items:
                raise SpoofscanError(f"{source}: no clip in the {split} split; use --split all to score every clip")
        rows, failed = score_items(checkpoint, items, device=device, batch_size=batch_size, pool=pool)
        if not rows:
            raise SpoofscanError(f"{source}: no clip could be scored; first reason: {failed[0]['reason']}")
    calibration = state.get("calibration")
    metrics = compute_metrics(rows, val_threshold=state["threshold"], bootstrap=bootstrap, aeer=aeer, seed=seed,
                              calibration=calibration)
    metrics.update({"checkpoint": str(checkpoint), "source": str(source), "split": split, "failed": failed})
    labels = np.array([int(r["label"] == "fake") for r in rows])
    log_odds = np.array([r["log_odds"] for r in rows])
    llr = clip_llr(rows, calibration)
    write_json(out / "metrics.json", metrics)
    write_csv(out / "scores.csv", [{"id": r["path"], "system": r["system"], "label": r["label"], "group": r["group"],
                                    "speaker": r["speaker"], "score": float(sigmoid(r["log_odds"])),
                                    "log_odds": r["log_odds"], "llr": float(value)} for r, value in zip(rows, llr)],
              SCORE_FIELDS)
    matrix = np.array(metrics["at_val_eer_threshold"]["confusion_matrix"])
    save_npy(out / "confusion_matrix.npy", matrix)
    for key in by:
        table = group_table(metrics, key)
        write_csv(out / f"by_{key}.csv", table, list(table[0]) if table else [key, "eer"])
    _plots(out, labels, log_odds, llr, metrics)
    write_text(out / "report.md", _report(metrics, str(checkpoint), str(source)))
    return metrics

