"""Detection metrics. Polarity everywhere: label 1 = fake, score = P(fake) (or any score that grows with it).

EER follows WaveFake (ROC interpolated at FPR = FNR); eer_sorted follows the official ASVspoof code.
minDCF uses ASVspoof 5 costs. Bootstrapped EER resamples utterance groups (cluster bootstrap), because a
real clip and its vocoded copies are not independent.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score, roc_curve

from .config import CLASS_NAMES
from .errors import SpoofscanError


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape or labels.ndim != 1:
        raise SpoofscanError(f"labels {labels.shape} and scores {scores.shape} must be 1-D and of one length")
    if not np.isfinite(scores).all():
        raise SpoofscanError("scores contain NaN or infinite values")
    if set(np.unique(labels)) != {0, 1}:
        raise SpoofscanError("EER needs both real (0) and fake (1) clips")
    return labels, scores


def eer(labels, scores) -> tuple[float, float]:
    """Equal error rate and its threshold: the ROC point where FPR (real flagged) = FNR (fake missed), interpolated."""
    labels, scores = _check(labels, scores)
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    fnr = 1 - tpr
    diff = fnr - fpr  # starts at 1 (threshold +inf), decreases to -1
    i = int(np.flatnonzero(diff <= 0)[0])
    if diff[i] == 0 or i == 0:
        return float(fpr[i]), float(thresholds[i] if np.isfinite(thresholds[i]) else scores.max())
    w = diff[i - 1] / (diff[i - 1] - diff[i])  # linear interpolation between points i-1 and i
    rate = fpr[i - 1] + w * (fpr[i] - fpr[i - 1])
    high = thresholds[i - 1] if np.isfinite(thresholds[i - 1]) else thresholds[i]
    return float(rate), float(high + w * (thresholds[i] - high))


def eer_sorted(labels, scores) -> tuple[float, float]:
    """EER as the official ASVspoof code computes it (sorted scores, closest point, mean of the two rates)."""
    labels, scores = _check(labels, scores)
    order = np.argsort(scores, kind="mergesort")
    sorted_labels, sorted_scores = labels[order], scores[order]
    n_fake, n_real = sorted_labels.sum(), len(labels) - sorted_labels.sum()
    # calling the k lowest scores real: fakes among them are missed, reals above them are flagged
    fnr = np.concatenate([[0], np.cumsum(sorted_labels)]) / n_fake
    fpr = 1 - np.concatenate([[0], np.cumsum(1 - sorted_labels)]) / n_real
    thresholds = np.concatenate([sorted_scores, [sorted_scores[-1] + 1e-9]])
    # only cut between different scores: tied clips cannot be put on both sides of a threshold
    valid = np.concatenate([[True], sorted_scores[1:] != sorted_scores[:-1], [True]])
    k = np.flatnonzero(valid)[int(np.argmin(np.abs(fnr - fpr)[valid]))]
    return float((fnr[k] + fpr[k]) / 2), float(thresholds[k])


def error_rates(labels, scores, threshold: float) -> tuple[float, float]:
    """(FPR, FNR) when clips with score >= threshold are called fake."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    flagged = scores >= threshold
    return float(flagged[labels == 0].mean()), float((~flagged[labels == 1]).mean())


def min_dcf(labels, scores, *, p_spoof: float = 0.05, c_miss: float = 1.0, c_fa: float = 10.0) -> float:
    """Normalized minimum detection cost (ASVspoof 5): miss = a real clip called fake, false alarm = a fake accepted."""
    labels, scores = _check(labels, scores)
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    p_miss_real, p_fa_fake = fpr, 1 - tpr
    cost = c_miss * (1 - p_spoof) * p_miss_real + c_fa * p_spoof * p_fa_fake
    return float(cost.min() / min(c_miss * (1 - p_spoof), c_fa * p_spoof))


def bootstrap_eer(labels, scores, groups, *, n: int = 1000, seed: int = 0) -> dict[str, float]:
    """Cluster bootstrap of the EER over utterance groups: mean, std and 95 % interval."""
    labels, scores = _check(labels, scores)
    groups = np.asarray(groups)
    unique, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(unique))]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        chosen = rng.integers(0, len(unique), len(unique))
        index = np.concatenate([members[g] for g in chosen])
        if 0 < labels[index].sum() < len(index):
            values.append(eer(labels[index], scores[index])[0])
    if not values:
        raise SpoofscanError("bootstrap: no resample held both classes; need more utterance groups")
    values = np.array(values)
    return {"mean": float(values.mean()), "std": float(values.std()), "ci95_low": float(np.percentile(values, 2.5)),
            "ci95_high": float(np.percentile(values, 97.5)), "resamples": len(values), "unit": "utterance group"}


def seed_aeer(labels, scores, *, n: int = 5, seed: int = 0) -> dict[str, float]:
    """The seed report's aEER: mean and std of the EER over n clip-level bootstrap resamples."""
    return bootstrap_eer(labels, scores, np.arange(len(labels)), n=n, seed=seed) | {"unit": "clip"}


def classification_report(labels, predictions) -> dict:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix (rows: true real, fake)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    precision, recall, f1, support = precision_recall_fscore_support(labels, predictions, labels=[0, 1],
                                                                      zero_division=0)
    return {
        "accuracy": float((labels == predictions).mean()),
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                             "support": int(support[i])} for i, name in enumerate(CLASS_NAMES)},
        "confusion_matrix": confusion_matrix(labels, predictions, labels=[0, 1]).tolist(),
    }


def roc_auc(labels, scores) -> float:
    labels, scores = _check(labels, scores)
    return float(roc_auc_score(labels, scores))


def per_system_eer(labels, scores, systems) -> dict[str, dict[str, float]]:
    """EER of each fake system's clips against all real clips."""
    labels, scores, systems = np.asarray(labels), np.asarray(scores), np.asarray(systems)
    real = labels == 0
    out = {}
    for system in sorted(set(systems[labels == 1])):
        mask = real | ((labels == 1) & (systems == system))
        rate, threshold = eer(labels[mask], scores[mask])
        out[str(system)] = {"eer": rate, "threshold": threshold, "n_fake": int(((labels == 1) & mask).sum())}
    return out


def grouped_eer(labels, scores, keys) -> dict[str, dict[str, float]]:
    """EER within each group (speaker, source, ...) that holds both classes."""
    labels, scores, keys = np.asarray(labels), np.asarray(scores), np.asarray(keys)
    out = {}
    for key in sorted(set(keys)):
        mask = keys == key
        if 0 < labels[mask].sum() < mask.sum():
            out[str(key)] = {"eer": eer(labels[mask], scores[mask])[0], "n": int(mask.sum())}
    return out


def cllr(labels, llr) -> float:
    """Log-likelihood-ratio cost in bits (0 = perfect, 1 = an uninformative LLR of 0; above 1 = miscalibrated)."""
    labels, llr = _check(labels, llr)
    fake, real = llr[labels == 1], llr[labels == 0]
    return float(0.5 * (np.mean(np.logaddexp(0, -fake)) + np.mean(np.logaddexp(0, real))) / np.log(2))


def min_cllr(labels, scores) -> float:
    """Cllr after the best monotone calibration of the scores (pool-adjacent-violators): the discrimination part."""
    from sklearn.isotonic import IsotonicRegression

    labels, scores = _check(labels, scores)
    eps = 1e-6
    posterior = IsotonicRegression(y_min=eps, y_max=1 - eps, out_of_bounds="clip").fit_transform(scores, labels)
    prior = labels.mean()
    llr = np.log(posterior / (1 - posterior)) - np.log(prior / (1 - prior))
    return cllr(labels, llr)


def act_dcf(labels, llr, *, p_spoof: float = 0.05, c_miss: float = 1.0, c_fa: float = 10.0) -> float:
    """Normalized actual detection cost (ASVspoof 5) of calling fake where llr exceeds the Bayes threshold."""
    labels, llr = _check(labels, llr)
    called_fake = llr > np.log((1 - p_spoof) * c_miss / (p_spoof * c_fa))
    p_miss_real = called_fake[labels == 0].mean()
    p_fa_fake = (~called_fake[labels == 1]).mean()
    cost = c_miss * (1 - p_spoof) * p_miss_real + c_fa * p_spoof * p_fa_fake
    return float(cost / min(c_miss * (1 - p_spoof), c_fa * p_spoof))
