"""Self-describing checkpoints: weights plus everything needed to use them correctly.

A checkpoint holds the FeatureConfig and TrainConfig, class names, the score polarity, the validation-EER
threshold, metrics at save time and versions; last.pt also holds optimizer, scheduler, scaler and RNG
states for an exact --resume. Everything is plain tensors and Python values, so torch.load(weights_only=True)
reads it.
"""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .config import CLASS_NAMES, FeatureConfig, TrainConfig, check_same, from_dict, to_dict
from .errors import SpoofscanError
from .io import write_with
from .model import PREPROCESSING, SpoofNet

CHECKPOINT_FORMAT = "spoofscan-checkpoint-1"
BASE_MODEL = Path(__file__).parent / "models" / "spoofscan-base.pt"  # the detector shipped with the package
REQUIRED_KEYS = ("format", "model", "feature_config", "train_config", "class_names", "preprocessing", "threshold")


def versions() -> dict[str, str]:
    import torchvision

    return {"spoofscan": __version__, "torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
            "numpy": np.__version__, "python": platform.python_version()}


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint atomically and read it back with weights_only=True."""
    payload = {"format": CHECKPOINT_FORMAT, "class_names": list(CLASS_NAMES), "preprocessing": PREPROCESSING,
               "score": "P(fake): softmax probability of class 1; higher = more likely fake",
               "versions": versions(), **state}

    def check(p: Path) -> None:
        loaded = torch.load(p, map_location="cpu", weights_only=True)
        if set(loaded["model"]) != set(payload["model"]):
            raise ValueError("model weights differ from what was saved")

    return write_with(path, lambda buffer: torch.save(payload, buffer), check=check)


def load_checkpoint(path: str | Path | None = None, *,
                    feature_config: FeatureConfig | None = None) -> dict[str, Any]:
    """Load and validate a checkpoint (weights_only=True; None = the shipped spoofscan-base); optionally insist
    on a FeatureConfig."""
    if path is None and not BASE_MODEL.is_file():
        raise SpoofscanError(f"no checkpoint given and the built-in model {BASE_MODEL} is missing from this install; "
                             "reinstall spoofscan or pass a checkpoint from `spoofscan train`")
    path = Path(path or BASE_MODEL)
    if not path.is_file():
        raise SpoofscanError(f"{path}: checkpoint not found; pass a best.pt or last.pt from `spoofscan train`")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, corrupt or foreign files all get one clear message
        raise SpoofscanError(f"{path}: not a readable spoofscan checkpoint ({type(exc).__name__}: {exc})"[:400]) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise SpoofscanError(f"{path}: not a spoofscan checkpoint (format {state.get('format') if isinstance(state, dict) else None!r}, "
                             f"expected {CHECKPOINT_FORMAT}); train one with `spoofscan train`")
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise SpoofscanError(f"{path}: checkpoint lacks {missing}; it is damaged or from another tool")
    if state["preprocessing"] != PREPROCESSING:
        raise SpoofscanError(f"{path}: made with other input preprocessing ({state['preprocessing']}) than this "
                             f"version of spoofscan uses ({PREPROCESSING}); use the spoofscan version that trained it")
    if list(state["class_names"]) != list(CLASS_NAMES):
        raise SpoofscanError(f"{path}: class names {state['class_names']} are not {list(CLASS_NAMES)}")
    state["feature_config"] = from_dict(FeatureConfig, state["feature_config"], source=str(path))
    state["train_config"] = from_dict(TrainConfig, state["train_config"], source=str(path))
    features, norm = state["feature_config"], state.get("input_norm", {})
    rows = features.stored_shape[0]
    if features.normalize == "dataset" and (len(norm.get("mean", [])), len(norm.get("std", []))) != (rows, rows):
        raise SpoofscanError(f"{path}: trained with normalize=dataset but lacks the {rows} per-row "
                             "input statistics (input_norm); the file is damaged: use another checkpoint or retrain")
    if feature_config is not None:
        check_same(feature_config, state["feature_config"].__dict__, what=f"checkpoint {path}",
                   fix="use data prepared with the checkpoint's feature settings (see `spoofscan info`)")
    return state


def model_from_checkpoint(state: dict[str, Any]) -> SpoofNet:
    """The SpoofNet of a loaded checkpoint: its weights, and its input statistics where it has them."""
    model = SpoofNet()
    model.load_state_dict(state["model"])
    if "input_norm" in state:
        model.set_input_norm(**state["input_norm"], image_size=state["feature_config"].image_size)
    return model


def save_compact(checkpoint: str | Path | None, out: str | Path) -> Path:
    """An inference-only copy of a checkpoint: float weights in fp16 (half the size), no optimizer or RNG state."""
    state = load_checkpoint(checkpoint)
    model = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    kept = {k: state[k] for k in ("threshold", "metrics", "epoch", "trainable_parameters", "input_norm") if k in state}
    return save_checkpoint(out, {**kept, "model": model, "weights_dtype": "float16",
                                 "feature_config": to_dict(state["feature_config"]),
                                 "train_config": to_dict(state["train_config"])})
