"""Self-describing checkpoints: weights plus everything needed to use them correctly.

A checkpoint holds the FeatureConfig and TrainConfig (whose model field names the family), class names, the
score polarity, the validation-EER threshold, metrics at save time and versions; last.pt also holds optimizer,
scheduler, scaler and RNG states for an exact --resume. A fused checkpoint (`spoofscan fuse`) holds instead its
member checkpoints and the fusion's weights and bias. Everything is plain tensors and Python values, so
torch.load(weights_only=True) reads it.
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
from .features import PREPROCESSING
from .io import write_with
from .models import check_input, get_model

CHECKPOINT_FORMAT = "spoofscan-checkpoint-1"
BASE_MODEL = Path(__file__).parent / "weights" / "spoofscan-base.pt"  # the detector shipped with the package
BASE_MODEL_CARD = BASE_MODEL.with_suffix(".md")  # what it was trained on, how well it does, what it gets wrong
REQUIRED_KEYS = ("format", "model", "feature_config", "train_config", "class_names", "preprocessing", "threshold")
FUSED_KEYS = ("format", "fusion", "class_names", "threshold")


def versions() -> dict[str, str]:
    """The versions a store or checkpoint was made with, down to the decoder, resampler and GMM fitter: a rebuild
    with others can fit a different model."""
    from importlib.metadata import version

    import soundfile
    import torchvision

    return {"spoofscan": __version__, "torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
            "numpy": np.__version__, "python": platform.python_version(),
            **{package: version(package) for package in ("scipy", "scikit-learn", "soxr", "soundfile", "librosa")},
            "libsndfile": soundfile.__libsndfile_version__}


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint atomically and read it back with weights_only=True."""
    payload = {"format": CHECKPOINT_FORMAT, "class_names": list(CLASS_NAMES),
               "score": "P(fake) = sigmoid(log-odds of fake); higher = more likely fake",
               "versions": versions(), **state}
    if "fusion" not in state:
        payload["preprocessing"] = PREPROCESSING[state["feature_config"]["input_kind"]]

    def check(p: Path) -> None:
        loaded = torch.load(p, map_location="cpu", weights_only=True)
        if set(loaded.get("model", {})) != set(payload.get("model", {})):
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
    state = validate_state(state, str(path))
    if feature_config is not None:
        require_single(state, path, "it is scored from audio (a dataset or manifest), not from a store")
        check_same(feature_config, state["feature_config"].__dict__, what=f"checkpoint {path}",
                   fix="use data prepared with the checkpoint's feature settings (see `spoofscan info`)")
    return state


def validate_state(state: dict[str, Any], source: str) -> dict[str, Any]:
    """Check a checkpoint's contents (and a fused one's members); configs become dataclasses."""
    fused = "fusion" in state
    missing = [k for k in (FUSED_KEYS if fused else REQUIRED_KEYS) if k not in state]
    if missing:
        raise SpoofscanError(f"{source}: checkpoint lacks {missing}; it is damaged or from another tool")
    if list(state["class_names"]) != list(CLASS_NAMES):
        raise SpoofscanError(f"{source}: class names {state['class_names']} are not {list(CLASS_NAMES)}")
    if fused:
        fusion = state["fusion"]
        if len(fusion["members"]) != len(fusion["weights"]) or not fusion["members"]:
            raise SpoofscanError(f"{source}: the fusion's weights do not match its members; fuse again")
        fusion["members"] = [validate_state(m, f"{source} member {i + 1}") for i, m in enumerate(fusion["members"])]
        return state
    state["feature_config"] = from_dict(FeatureConfig, state["feature_config"], source=source)
    state["train_config"] = from_dict(TrainConfig, state["train_config"], source=source)
    features, norm = state["feature_config"], state.get("input_norm", {})
    expected = PREPROCESSING[features.input_kind]
    if state["preprocessing"] != expected:
        raise SpoofscanError(f"{source}: made with other input preprocessing ({state['preprocessing']}) than this "
                             f"version of spoofscan uses ({expected}); use the spoofscan version that trained it")
    check_input(state["train_config"].model, features, where=f"checkpoint {source}")
    rows = features.stored_shape[0]
    needs_norm = features.input_kind == "lfcc" or features.normalize == "dataset"
    if needs_norm and (len(norm.get("mean", [])), len(norm.get("std", []))) != (rows, rows):
        raise SpoofscanError(f"{source}: its model standardizes inputs but the file lacks the {rows} per-row "
                             "input statistics (input_norm); the file is damaged: use another checkpoint or retrain")
    return state


def require_single(state: dict[str, Any], path: str | Path | None, why: str) -> None:
    """A one-line error for a fused checkpoint where one model's checkpoint is needed."""
    if "fusion" in state:
        raise SpoofscanError(f"{path}: a fused checkpoint ({len(state['fusion']['members'])} members): {why}")


def describe(state: dict[str, Any]) -> dict[str, Any]:
    """What `spoofscan info` (and `serve`'s GET /v1/model) shows of a loaded checkpoint, as JSON-ready values."""
    calibration = state.get("calibration", "none (run `spoofscan calibrate`)")
    if "fusion" in state:
        fusion = state["fusion"]
        return {"format": state["format"], "fusion": "log-odds = bias + sum(weight * member log-odds)",
                "calibration": calibration, "bias": fusion["bias"],
                "threshold (P(fake), EER on the fusion's data)": state["threshold"],
                "fitted_on": fusion["fitted_on"], "versions": state.get("versions"),
                "members": [{"path": p, "weight": w, "model": m["train_config"].model,
                             "input_kind": m["feature_config"].input_kind}
                            for p, w, m in zip(fusion["member_paths"], fusion["weights"], fusion["members"])]}
    route = {}
    if "narrowband_offset" in state["model"]:  # lfcc-gmm with gmm_narrowband_hz
        train_config = state["train_config"]
        scorer = ("were not fitted and are scored" if not train_config.gmm_narrowband_view_hz else
                  f"are scored by a GMM pair on the band below {train_config.gmm_narrowband_view_hz:g} Hz")
        route = {"narrowband route": f"windows whose band ends below {train_config.gmm_narrowband_hz:g} Hz {scorer} "
                                     f"with {float(state['model']['narrowband_offset']):+.3f} log-odds added"}
    return {
        "format": state["format"], "model": state["train_config"].model, "class_names": state["class_names"],
        "score": state.get("score"), "preprocessing": state["preprocessing"],
        "input standardization": (f"training-set mean/std of each of the {len(state['input_norm']['mean'])} rows"
                                  if "input_norm" in state else "none beyond the preprocessing"),
        "threshold (P(fake), validation EER)": state["threshold"], "epoch": state.get("epoch"),
        "metrics at save time": state.get("metrics"), "trainable parameters": state.get("trainable_parameters"),
        "feature_config": to_dict(state["feature_config"]), "train_config": to_dict(state["train_config"]),
        "versions": state.get("versions"), "resumable": "optimizer" in state,
        "weights_dtype": state.get("weights_dtype", "float32"), "calibration": calibration, **route,
    }


def model_from_checkpoint(state: dict[str, Any]) -> torch.nn.Module:
    """The model of a loaded (single) checkpoint: its family, weights, and input statistics where it has them."""
    model = get_model(state["train_config"].model, state["feature_config"], train_config=state["train_config"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    if "input_norm" in state:
        model.set_input_norm(**state["input_norm"])
    return model


def save_compact(checkpoint: str | Path | None, out: str | Path) -> Path:
    """An inference-only copy of a checkpoint: float weights in fp16 (half the size), no optimizer or RNG state."""
    state = load_checkpoint(checkpoint)
    require_single(state, checkpoint, "its members are already inference-only; copy the file instead")
    # fp16 halves a network; a GMM is tiny and its likelihoods are sums over many precisions, so it stays fp32
    dtype = torch.float32 if state["train_config"].model == "lfcc-gmm" else torch.float16
    model = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state["model"].items()}
    kept = {k: state[k] for k in ("threshold", "threshold_log_odds", "metrics", "epoch", "trainable_parameters",
                                  "input_norm", "calibration") if k in state}
    return save_checkpoint(out, {**kept, "model": model, "weights_dtype": str(dtype).removeprefix("torch."),
                                 "feature_config": to_dict(state["feature_config"]),
                                 "train_config": to_dict(state["train_config"])})
