"""Train-only augmentation on whole batches on the training device, each sample with its own random draw.

The seed's pipeline, per sample: RandomResizedCrop(scale 0.8-1) p 0.5, HorizontalFlip p 0.5,
ColorJitter(0.1, 0.1, 0.1, 0.05) p 0.4, GaussianBlur(3) p 0.3. Here each op is applied to a
(B, 1, S, S) batch at once with per-sample parameters; tests check each against torchvision.transforms.v2
on single images. Saturation and hue jitter are omitted because they are exact no-ops on the gray
(3 identical channels) images the network sees; a test proves that too. SpecAugment-style time and
frequency masking is an opt-in. Random parameters (a few numbers per image) are drawn on the CPU and copied to
the device without waiting, so augmentation never stalls the GPU and a seed gives the same draws on any device.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import TrainConfig


def _chosen(batch: int, p: float) -> torch.Tensor:
    """Which samples of the batch get an op (a CPU bool tensor)."""
    return torch.rand(batch) < p


def _to(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Copy CPU-drawn parameters to like's device without a host-device sync (pinned, non-blocking)."""
    if like.device.type == "cuda":
        return values.pin_memory().to(like.device, dtype=like.dtype if values.is_floating_point() else None,
                                      non_blocking=True)
    return values.to(dtype=like.dtype) if values.is_floating_point() else values


def random_resized_crop(x: torch.Tensor, chosen: torch.Tensor, scale=(0.8, 1.0), ratio=(3 / 4, 4 / 3)) -> torch.Tensor:
    """Crop a random box of area scale and aspect ratio from each chosen image and resize it back (bilinear)."""
    index = chosen.nonzero().squeeze(1)
    if index.numel() == 0:
        return x
    batch, (_, _, height, width) = index.numel(), x.shape
    area = torch.empty(batch).uniform_(*scale)  # as a fraction of the image
    aspect = torch.exp(torch.empty(batch).uniform_(math.log(ratio[0]), math.log(ratio[1])))
    w = torch.sqrt(area * aspect).clamp(max=1.0)  # box size as a fraction of the width / height
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    left = torch.rand(batch) * (1 - w)
    top = torch.rand(batch) * (1 - h)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = w, 2 * left + w - 1  # output [-1, 1] -> the box, in grid_sample coordinates
    theta[:, 1, 1], theta[:, 1, 2] = h, 2 * top + h - 1
    grid = F.affine_grid(_to(theta, x), [batch, 1, height, width], align_corners=False)
    index = _to(index, x)
    out = x.clone()
    out[index] = F.grid_sample(x[index], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out


def horizontal_flip(x: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    return torch.where(_to(chosen, x).view(-1, 1, 1, 1), x.flip(-1), x)


def brightness_contrast(x: torch.Tensor, chosen: torch.Tensor, brightness: float = 0.1, contrast: float = 0.1):
    """ColorJitter's brightness then contrast, factors drawn per sample from [1 - b, 1 + b]."""
    batch = x.shape[0]
    b = _to(torch.empty(batch, 1, 1, 1).uniform_(1 - brightness, 1 + brightness), x)
    c = _to(torch.empty(batch, 1, 1, 1).uniform_(1 - contrast, 1 + contrast), x)
    jittered = (x * b).clamp(0, 1)
    mean = jittered.mean(dim=(-3, -2, -1), keepdim=True)
    jittered = (c * jittered + (1 - c) * mean).clamp(0, 1)
    return torch.where(_to(chosen, x).view(-1, 1, 1, 1), jittered, x)


def gaussian_blur3(x: torch.Tensor, chosen: torch.Tensor, sigma=(0.1, 2.0)) -> torch.Tensor:
    """GaussianBlur(kernel_size=3) with sigma drawn per sample, reflect padding as in torchvision."""
    index = chosen.nonzero().squeeze(1)
    if index.numel() == 0:
        return x
    batch = index.numel()
    s = torch.empty(batch, 1).uniform_(*sigma)
    taps = torch.exp(-torch.tensor([-1.0, 0.0, 1.0]) ** 2 / (2 * s**2))
    taps = taps / taps.sum(dim=1, keepdim=True)
    kernels = _to((taps[:, :, None] * taps[:, None, :]).unsqueeze(1), x)  # (b, 1, 3, 3)
    index = _to(index, x)
    padded = F.pad(x[index].transpose(0, 1), (1, 1, 1, 1), mode="reflect")  # (1, b, H+2, W+2)
    out = x.clone()
    out[index] = F.conv2d(padded, kernels, groups=batch).transpose(0, 1)
    return out


def time_frequency_mask(x: torch.Tensor, max_fraction: float = 0.125) -> torch.Tensor:
    """SpecAugment: one random time band and one random frequency band per sample set to the sample mean."""
    batch, _, height, width = x.shape
    out = x.clone()
    mean = x.mean(dim=(-2, -1), keepdim=True)
    for axis, size in ((-1, width), (-2, height)):
        length = (torch.rand(batch) * max_fraction * size).long()
        start = (torch.rand(batch) * (size - length)).long()
        position = torch.arange(size)
        band = (position >= start[:, None]) & (position < (start + length)[:, None])  # (B, size)
        band = _to(band[:, None, None, :] if axis == -1 else band[:, None, :, None], x)
        out = torch.where(band, mean, out)
    return out


def augment_batch(x: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """Apply the configured train-time augmentations to a (B, 1, S, S) batch in [0, 1]."""
    batch = x.shape[0]
    if config.aug_crop_p > 0:
        x = random_resized_crop(x, _chosen(batch, config.aug_crop_p))
    if config.aug_flip_p > 0:
        x = horizontal_flip(x, _chosen(batch, config.aug_flip_p))
    if config.aug_jitter_p > 0:
        x = brightness_contrast(x, _chosen(batch, config.aug_jitter_p))
    if config.aug_blur_p > 0:
        x = gaussian_blur3(x, _chosen(batch, config.aug_blur_p))
    if config.aug_specaugment:
        x = time_frequency_mask(x)
    return x
