"""Calibration: a checkpoint's clip log-odds -> log-likelihood ratios, fitted on a user's calibration set.

`spoofscan calibrate CKPT DATA --out calibrated.pt` scores DATA, fits llr = scale * log_odds + offset by logistic
regression with balanced classes (so the fit assumes no prior: the intercept is the LLR's), and saves the
checkpoint with a "calibration" entry. Detector, predict and evaluate then report the LLR, P(fake) at a stated
prior, and the Bayes decision; evaluate adds Cllr, min Cllr and actual DCF.

`--scores LOO_DIR` fits the same map on the out-of-fold scores of `spoofscan loo` run with the checkpoint's recipe
instead: every score there comes from a model that never saw the clip's source, so the LLRs are calibrated for
audio from sources the model has not seen, where a fit on in-distribution clips is over-confident.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checkpoint import BASE_MODEL, load_checkpoint, save_checkpoint
from .errors import SpoofscanError
from .evaluate import log_odds_matrix
from .metrics import cllr, eer
from .scores import calibrated_llr, check_prior


def calibrate(checkpoint: str | Path | None, data: str | Path | None, out: str | Path, *,
              scores: str | Path | None = None, layout: str | None = None, split: str = "all", prior: float = 0.5,
              device: str = "cpu", batch_size: int = 64) -> dict:
    """Fit the calibration of checkpoint (None = spoofscan-base) on data, or on the out-of-fold scores of a
    `spoofscan loo` folder (or an evaluate scores.csv) given as scores, and save the calibrated copy to out."""
    from sklearn.linear_model import LogisticRegression

    from .fuse import score_matrix

    check_prior(prior)
    if (data is None) == (scores is None):
        raise SpoofscanError("give exactly one of DATA (clips to score) and --scores (a `spoofscan loo` folder)")
    if scores is not None and (split != "all" or layout is not None):
        raise SpoofscanError("--split and --layout choose clips of DATA; --scores takes every clip of its folder")
    load_checkpoint(checkpoint)  # a clear error for a bad file before any scoring
    source = Path(checkpoint or BASE_MODEL)
    if scores is None:
        items, labels, log_odds = log_odds_matrix([source], data, layout=layout, split=split, device=device,
                                                  batch_size=batch_size)
        fitted_on, folds = {"data": str(data), "split": split, "clips": len(items)}, None
    else:
        labels, log_odds, folds = score_matrix([scores])
        fitted_on = {"scores": str(scores), "clips": len(labels)}

    def fit(rows: np.ndarray) -> dict:
        regression = LogisticRegression(class_weight="balanced", C=1e4, max_iter=1000).fit(log_odds[rows],
                                                                                            labels[rows])
        return {"scale": float(regression.coef_[0, 0]), "offset": float(regression.intercept_[0])}

    calibration = {**fit(np.ones(len(labels), dtype=bool)), "prior": prior,
                   "fitted_on": {**fitted_on, "real": int((labels == 0).sum()), "fake": int(labels.sum())}}
    raw = log_odds[:, 0]
    llr = calibrated_llr(raw, calibration)
    calibration["fitted_on"].update({"cllr_before": cllr(labels, raw), "cllr_after": cllr(labels, llr),
                                     "eer": eer(labels, raw)[0]})
    if folds is not None and len(set(folds)) > 1 and all(len(set(labels[folds != f])) == 2 for f in set(folds)):
        # each fold's LLRs from a map fitted on the other folds
        cross = np.empty_like(raw)
        for fold in set(folds):
            cross[folds == fold] = calibrated_llr(raw[folds == fold], fit(folds != fold))
        calibration["fitted_on"]["cllr_cross_fold"] = cllr(labels, cross)
    state = torch.load(source, map_location="cpu", weights_only=True)
    save_checkpoint(out, {**state, "calibration": calibration})
    return calibration
