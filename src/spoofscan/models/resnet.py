"""resnet18: the seed's network, torchvision ResNet-18 with a new 512 -> 2 head, fed 1-channel [0, 1] spectrogram
images (input_kind="image").

ResNet18Detector replicates the gray image to 3 channels and applies the ImageNet mean/std inside forward, so the
same module (and its ONNX export) takes exactly what features.model_input gives. With FeatureConfig.normalize=
"dataset", per-row (frequency) mean/std of the training images replace the ImageNet mean/std (set_input_norm; the
checkpoint carries them as "input_norm").
"""
from __future__ import annotations

import urllib.error
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet18_Weights, resnet18

from ..config import FeatureConfig
from ..errors import SpoofscanError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_weights_path() -> Path:
    """Where torchvision looks for the ResNet-18 ImageNet weights before downloading them."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(ResNet18_Weights.IMAGENET1K_V1.url).name


def imagenet_state_dict() -> dict[str, torch.Tensor]:
    """torchvision's IMAGENET1K_V1 weights: from the hub cache when present, else downloaded."""
    try:
        return ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=True, check_hash=True)
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        raise SpoofscanError(
            f"ImageNet weights are not at {imagenet_weights_path()} and could not be downloaded ({exc}); "
            "place resnet18-f37072fd.pth there (set TORCH_HOME to move it), or train with --weights none") from None


class ResNet18Detector(nn.Module):
    """ResNet-18 over (B, 1, S, S) images in [0, 1]; returns (B, 2) logits for (real, fake)."""

    input_kind = "image"
    head_prefix = "resnet.fc."  # the parameters phase 1 of the seed's recipe trains (the backbone is frozen)

    def __init__(self, config: FeatureConfig | None = None) -> None:
        super().__init__()
        self.image_size = (config or FeatureConfig()).image_size
        self.resnet = resnet18(weights=None)
        self.resnet.fc = nn.Linear(512, 2)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.channels_last = False

    def set_input_norm(self, mean: list[float], std: list[float]) -> None:
        """Standardize each input row with these per-row statistics of the stored images (resized like the images)."""
        rows = torch.tensor([mean, std], dtype=torch.float32, device=self.mean.device).view(1, 2, -1, 1)
        rows = F.interpolate(rows, size=(self.image_size, 1), mode="bilinear", align_corners=False)
        self.mean, self.std = rows[:, :1].contiguous(), rows[:, 1:].contiguous()  # (1, 1, S, 1): broadcast over W

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.expand(-1, 3, -1, -1) - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.resnet(x)


def resnet18_detector(config: FeatureConfig, weights: str = "imagenet") -> ResNet18Detector:
    """A ResNet18Detector whose backbone starts from ImageNet ("imagenet"), random ("none") or a state dict file."""
    model = ResNet18Detector(config)
    if weights == "none":
        return model
    if weights == "imagenet":
        state = imagenet_state_dict()
    else:
        path = Path(weights)
        if not path.is_file():
            raise SpoofscanError(f"--weights {weights}: no such file; use imagenet, none or a state dict path")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
            raise SpoofscanError(f"{path}: cannot load a state dict ({exc})") from None
        state = state.get("model", state)  # a spoofscan checkpoint or a bare state dict
        state = {k.removeprefix("resnet."): v for k, v in state.items()}
    backbone = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = model.resnet.load_state_dict(backbone, strict=False)
    if unexpected or set(missing) - {"fc.weight", "fc.bias"}:
        raise SpoofscanError(f"--weights {weights}: not a ResNet-18 state dict "
                             f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    if state.get("fc.weight") is not None and state["fc.weight"].shape == (2, 512):
        model.resnet.fc.load_state_dict({"weight": state["fc.weight"], "bias": state["fc.bias"]})
    return model
