"""Score fusion: a logistic regression on the clip log-odds of several checkpoints, saved as one checkpoint.

The fusion is fitted, with balanced classes (so the fused log-odds assume equal priors like the members'), either on
the clips of DATA scored now by the members (never the test set), or on scores already written: with each member's
`spoofscan loo` folder, on out-of-fold scores of sources that member never trained on, which weighs the members by
how they transfer rather than by how they fit in-distribution clips. The fused checkpoint embeds
inference-only copies of its members; `predict`, `evaluate`, `degrade` and the Detector API load it like any other.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .checkpoint import load_checkpoint, require_single, save_checkpoint
from .config import to_dict
from .errors import SpoofscanError
from .evaluate import log_odds_matrix
from .metrics import eer
from .scores import sigmoid

MEMBER_KEYS = ("format", "class_names", "preprocessing", "threshold", "model", "input_norm", "metrics", "epoch",
               "weights_dtype")


def fuse(checkpoints: list[str | Path], out: str | Path, *, data: str | Path | None = None,
         scores: list[str | Path] | None = None, layout: str | None = None, split: str = "all", device: str = "cpu",
         batch_size: int = 64) -> dict:
    """Fit the fusion of checkpoints and save it to out: on data scored now by the checkpoints (split: val, train,
    test or all), or on scores already written, one per checkpoint in the same order (read_scores), such as each
    member's out-of-fold scores from `spoofscan loo`. With fold-wise scores the result also holds, per fold, the
    EER of a fusion fitted on the other folds only (an estimate on sources the fusion never saw)."""
    if len(checkpoints) < 2:
        raise SpoofscanError("fuse needs two or more checkpoints")
    if (data is None) == (scores is None):
        raise SpoofscanError("fuse: give --on DATA (the members score it now) or --scores, one per checkpoint "
                             "(e.g. each member's `spoofscan loo` folder), not both")
    states = [load_checkpoint(c) for c in checkpoints]
    for path, state in zip(checkpoints, states):
        require_single(state, path, "fuse its members' own checkpoints instead")
    if scores is not None:
        if len(scores) != len(checkpoints):
            raise SpoofscanError(f"--scores: {len(scores)} given for {len(checkpoints)} checkpoints; give one per "
                                 "checkpoint, in the same order")
        labels, member_log_odds, folds = score_matrix(scores)
        fitted = {"scores": [str(p) for p in scores]}
    else:
        kept, labels, member_log_odds = log_odds_matrix(checkpoints, data, layout=layout, split=split, device=device,
                                                        batch_size=batch_size)
        folds = np.zeros(len(labels), dtype=object)
        fitted = {"data": str(data), "split": split}
    weights, bias = fit_fusion(member_log_odds, labels)
    fused = bias + member_log_odds @ np.array(weights)
    fused_eer, threshold = eer(labels, fused)
    fitted |= {"clips": len(labels), "eer": fused_eer,
               "member_eers": [eer(labels, member_log_odds[:, i])[0] for i in range(len(checkpoints))]}
    if len(set(folds)) > 1:
        fitted["folds"] = cross_fold_eers(member_log_odds, labels, folds)
    members = [{**{k: s[k] for k in MEMBER_KEYS if k in s}, "feature_config": to_dict(s["feature_config"]),
                "train_config": to_dict(s["train_config"])} for s in states]
    save_checkpoint(out, {"fusion": {"members": members, "weights": weights, "bias": bias,
                                     "member_paths": [str(c) for c in checkpoints], "fitted_on": fitted},
                          "threshold": float(sigmoid(threshold)), "threshold_log_odds": float(threshold),
                          "metrics": {"fit_eer": fused_eer}})
    return {"weights": weights, "bias": bias, **fitted}


def fit_fusion(member_log_odds: np.ndarray, labels: np.ndarray) -> tuple[list[float], float]:
    """Weights and bias of a logistic regression (balanced classes) on (clips, members) log-odds."""
    from sklearn.linear_model import LogisticRegression

    regression = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000).fit(member_log_odds, labels)
    return regression.coef_[0].tolist(), float(regression.intercept_[0])


def cross_fold_eers(member_log_odds: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> list[dict]:
    """For each fold: the EER of the fusion fitted on the other folds, and each member's EER, on that fold's clips."""
    rows = []
    for fold in sorted(set(folds)):
        test = folds == fold
        if len(set(labels[test])) < 2 or len(set(labels[~test])) < 2:
            continue  # a fold with one class has no EER
        weights, bias = fit_fusion(member_log_odds[~test], labels[~test])
        fused = bias + member_log_odds[test] @ np.array(weights)
        rows.append({"fold": str(fold), "clips": int(test.sum()), "fused_eer": eer(labels[test], fused)[0],
                     "member_eers": [eer(labels[test], member_log_odds[test, i])[0]
                                     for i in range(member_log_odds.shape[1])]})
    return rows


def clip_key(clip_id: str) -> str:
    """A clip id without its `..` steps: the same file read from manifests at different folder depths
    (`paired/../../data/a.wav`, `../../../data/a.wav`) gets one key (`data/a.wav`)."""
    parts = Path(os.path.normpath(clip_id)).parts
    while parts and parts[0] == "..":
        parts = parts[1:]
    return Path(*parts).as_posix() if parts else clip_id


def read_scores(path: str | Path) -> dict[str, tuple[int, float, str]]:
    """Clip key (`clip_key`) -> (label, log-odds, fold) from a scores.csv of `spoofscan evaluate`, or from a
    `spoofscan loo` folder (every fold's held-out scores, fold = its folder name, log-odds averaged over seeds)."""
    path = Path(path)
    if path.is_dir():
        if not (path / "loo.json").is_file():
            raise SpoofscanError(f"{path}: not a `spoofscan loo` folder (no loo.json); give one, or a scores.csv")
        files = sorted(path.glob("*/report_seed*/scores.csv"))
    else:
        files = [path]
    if not files or not all(f.is_file() for f in files):
        raise SpoofscanError(f"{path}: no scores.csv found; run `spoofscan loo` or `spoofscan evaluate` first")
    found: dict[str, list] = {}
    for file in files:
        fold = file.parent.parent.name if path.is_dir() else ""
        with open(file, newline="") as f:
            for row in csv.DictReader(f):
                if not {"id", "label", "log_odds"} <= set(row):
                    raise SpoofscanError(f"{file}: expected the columns id, label and log_odds of a scores.csv")
                entry = found.setdefault(clip_key(row["id"]), [int(row["label"] == "fake"), [], fold])
                entry[1].append(float(row["log_odds"]))
    return {clip: (label, float(np.mean(values)), fold) for clip, (label, values, fold) in found.items()}


def score_matrix(paths: list[str | Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a (clips, members) log-odds matrix and each clip's fold, over the clips that every scores file holds."""
    tables = [read_scores(p) for p in paths]
    common = sorted(set.intersection(*(set(t) for t in tables)))
    if not common:
        raise SpoofscanError(f"--scores {' '.join(map(str, paths))}: no clip is in all of them; they must score the "
                             "same clips (e.g. `spoofscan loo` of each member on one manifest)")
    for clip in common:
        if len({t[clip][0] for t in tables}) > 1 or len({t[clip][2] for t in tables}) > 1:
            raise SpoofscanError(f"{clip}: its label or fold differs between the --scores files; they must come "
                                 "from the same manifest and folds")
    labels = np.array([tables[0][c][0] for c in common])
    if len(set(labels.tolist())) < 2:
        raise SpoofscanError("--scores: the common clips hold one class only; this needs real and fake clips")
    matrix = np.array([[t[c][1] for t in tables] for c in common])
    return labels, matrix, np.array([tables[0][c][2] for c in common], dtype=object)
