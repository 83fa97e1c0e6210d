"""Detector families: one module per network, one line each in MODELS (as torchvision.models.get_model).

Every family maps a batch of features.model_input windows to (B, 2) logits for (real, fake) and says which
input kind it needs (input_kind) and which parameters are its head (head_prefix, what phase 1 of the seed's recipe
trains). The trained weights of the shipped detector live apart from this code, in spoofscan/weights/.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..config import FeatureConfig
from ..errors import SpoofscanError
from .gmm import GMMDetector
from .lcnn import LCNN
from .rawnet2 import RawNet2
from .resnet import ResNet18Detector, imagenet_weights_path, resnet18_detector

MODELS: dict[str, type[nn.Module]] = {
    "resnet18": ResNet18Detector,  # the seed's: spectrogram images, ImageNet weights available
    "lcnn": LCNN,  # ASVspoof LFCC-LCNN baseline
    "rawnet2": RawNet2,  # ASVspoof RawNet2 baseline, raw waveform
    "lfcc-gmm": GMMDetector,  # WaveFake's LFCC-GMM baseline, fitted by EM
}

__all__ = ["MODELS", "build_model", "check_input", "count_trainable", "get_model", "imagenet_weights_path",
           "set_backbone_frozen", "use_channels_last"]


def check_input(name: str, config: FeatureConfig, *, where: str) -> None:
    """A one-line error when a store or checkpoint holds another input kind than the family needs."""
    needed = MODELS[name].input_kind
    if config.input_kind != needed:
        fits = ", ".join(n for n, cls in MODELS.items() if cls.input_kind == config.input_kind)
        raise SpoofscanError(f"{where} holds {config.input_kind} windows but --model {name} needs {needed} input; "
                             f"prepare a store with --input-kind {needed} (or train {fits} on this one)")


def get_model(name: str, config: FeatureConfig, *, train_config=None) -> nn.Module:
    """A fresh model of the family name for inputs made with config (random weights)."""
    if name not in MODELS:
        raise SpoofscanError(f"--model {name!r}: use one of {', '.join(MODELS)}")
    if name == "lfcc-gmm" and train_config is not None:
        return GMMDetector(config, components=train_config.gmm_components, fits=train_config.gmm_fits,
                           llr_clip=train_config.gmm_llr_clip, speech_db=train_config.gmm_speech_db,
                           narrowband_hz=train_config.gmm_narrowband_hz,
                           narrowband_view_hz=train_config.gmm_narrowband_view_hz)
    return MODELS[name](config)


def build_model(name: str, config: FeatureConfig, weights: str = "auto", *, train_config=None) -> nn.Module:
    """A model to train: ImageNet weights ("imagenet"; "auto" means imagenet for resnet18 and none for the others),
    random ("none"), or the weights of a state dict or spoofscan checkpoint file (PATH)."""
    if name == "resnet18":
        return resnet18_detector(config, "imagenet" if weights == "auto" else weights)
    model = get_model(name, config, train_config=train_config)
    if weights in ("auto", "none"):
        return model
    if weights == "imagenet":
        raise SpoofscanError(f"--weights imagenet: only resnet18 has ImageNet weights; train {name} with "
                             "--weights none (or auto)")
    path = Path(weights)
    if not path.is_file():
        raise SpoofscanError(f"--weights {weights}: no such file; use none or a state dict path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state.get("model", state))
    except Exception as exc:  # noqa: BLE001 - unreadable or foreign files get one clear message
        raise SpoofscanError(f"{path}: not a {name} state dict ({type(exc).__name__}: {exc})"[:300]) from None
    return model


def set_backbone_frozen(model: nn.Module, frozen: bool) -> None:
    """Phase 1 of the seed's recipe trains only the head (ResNet-18: the fc layer, 1,026 parameters)."""
    for name, param in model.named_parameters():
        param.requires_grad = not frozen or name.startswith(model.head_prefix)


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def use_channels_last(model: nn.Module) -> nn.Module:
    """Store 4-D weights and feed 2-D convolutions in NHWC: faster on GPUs and most CPUs (no-op for the others)."""
    if hasattr(model, "channels_last"):
        model.to(memory_format=torch.channels_last)
        model.channels_last = True
    return model
