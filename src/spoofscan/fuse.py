"""Score fusion: a logistic regression on the clip log-odds of several checkpoints, saved as one checkpoint.

The fusion is fitted on the clips of DATA (a dataset or manifest scored from audio; never the test set), with
balanced classes, so the fused log-odds assume equal priors like the members'. The fused checkpoint embeds
inference-only copies of its members; `predict`, `evaluate`, `degrade` and the Detector API load it like any other.
"""
from __future__ import annotations

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


def fuse(checkpoints: list[str | Path], data: str | Path, out: str | Path, *, layout: str | None = None,
         split: str = "all", device: str = "cpu", batch_size: int = 64) -> dict:
    """Fit the fusion of checkpoints on data (split: val, train, test or all) and save it to out."""
    from sklearn.linear_model import LogisticRegression

    if len(checkpoints) < 2:
        raise SpoofscanError("fuse needs two or more checkpoints")
    states = [load_checkpoint(c) for c in checkpoints]
    for path, state in zip(checkpoints, states):
        require_single(state, path, "fuse its members' own checkpoints instead")
    kept, labels, member_log_odds = log_odds_matrix(checkpoints, data, layout=layout, split=split, device=device,
                                                    batch_size=batch_size)
    regression = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000).fit(member_log_odds, labels)
    weights, bias = regression.coef_[0].tolist(), float(regression.intercept_[0])
    fused = bias + member_log_odds @ np.array(weights)
    fused_eer, threshold = eer(labels, fused)
    member_eers = [eer(labels, member_log_odds[:, i])[0] for i in range(len(checkpoints))]
    members = [{**{k: s[k] for k in MEMBER_KEYS if k in s}, "feature_config": to_dict(s["feature_config"]),
                "train_config": to_dict(s["train_config"])} for s in states]
    fitted = {"data": str(data), "split": split, "clips": len(kept), "eer": fused_eer,
              "member_eers": member_eers}
    save_checkpoint(out, {"fusion": {"members": members, "weights": weights, "bias": bias,
                                     "member_paths": [str(c) for c in checkpoints], "fitted_on": fitted},
                          "threshold": float(sigmoid(threshold)), "threshold_log_odds": float(threshold),
                          "metrics": {"fit_eer": fused_eer}})
    return {"weights": weights, "bias": bias, **fitted}
