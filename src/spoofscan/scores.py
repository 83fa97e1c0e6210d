"""Window scores -> clip scores, shared by train (validation), evaluate, predict and fuse.

Every model returns (N, 2) logits for (real, fake) per window; a window's score is its log-odds of fake
(logit_fake - logit_real), a clip's score pools its windows' log-odds, and P(fake) = sigmoid(log-odds).
"""
from __future__ import annotations

import numpy as np
import torch

from .errors import SpoofscanError


def log_odds(logits: torch.Tensor) -> torch.Tensor:
    """(N, 2) logits -> (N,) log-odds of fake; P(fake) = sigmoid(log_odds)."""
    return logits[:, 1] - logits[:, 0]


def pool_windows(window_log_odds: np.ndarray, clip_of_window: np.ndarray, n_clips: int, how: str = "mean") -> np.ndarray:
    """One score per clip from its windows: the mean (default) or the max of the windows' log-odds."""
    if how == "mean":
        sums = np.bincount(clip_of_window, weights=window_log_odds, minlength=n_clips)
        return sums / np.maximum(np.bincount(clip_of_window, minlength=n_clips), 1)
    if how == "max":
        out = np.full(n_clips, -np.inf)
        np.maximum.at(out, clip_of_window, window_log_odds)
        return out
    raise SpoofscanError(f"--pool {how!r}: use mean or max")


def sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    """1 / (1 + exp(-x)) without overflow for large |x| (a GMM's log-odds reach the hundreds)."""
    from scipy.special import expit

    return expit(np.asarray(x, dtype=np.float64))


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def check_prior(prior: float) -> float:
    if not 0 < prior < 1:
        raise SpoofscanError(f"--prior {prior}: the prior probability of a fake lies strictly between 0 and 1")
    return prior


def calibrated_llr(log_odds: np.ndarray | float, calibration: dict) -> np.ndarray | float:
    """A model's log-odds -> log-likelihood ratio of fake vs real, with the affine map `spoofscan calibrate` fitted."""
    return calibration["scale"] * np.asarray(log_odds, dtype=np.float64) + calibration["offset"]


def posterior(llr: np.ndarray | float, prior: float) -> np.ndarray | float:
    """P(fake) given a log-likelihood ratio and the prior probability of a fake (Bayes' rule)."""
    return sigmoid(np.asarray(llr, dtype=np.float64) + logit(prior))
