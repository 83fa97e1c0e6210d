"""lcnn: the light CNN of the ASVspoof 2019/2021 LFCC-LCNN baselines (Wang & Yamagishi 2021), on LFCC windows.

Nine convolutions with max-feature-map activations (each keeps the larger half of its channels) and four
max-pools, then two bidirectional LSTM layers over time with a skip connection, the mean over time, and a
linear 2-way head. Input: (B, 1, 3 * n_lfcc, frames), each row standardized with the training set's statistics.
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import FeatureConfig
from ..features.lfcc import remove_window_mean


class MaxFeatureMap(nn.Module):
    """Split the channels in two halves and keep the element-wise maximum."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.half = channels // 2  # a fixed size keeps the channel count known to ONNX export

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.maximum(x[:, :self.half], x[:, self.half:])


def _conv(c_in: int, c_out: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), MaxFeatureMap(c_out)]


class LCNN(nn.Module):
    """LFCC-LCNN; returns (B, 2) logits for (real, fake)."""

    input_kind = "lfcc"
    head_prefix = "head."

    def __init__(self, config: FeatureConfig | None = None) -> None:
        super().__init__()
        config = config or FeatureConfig(input_kind="lfcc")
        rows = config.stored_shape[0]
        self.cmn_rows = config.n_lfcc if config.window_cmn else 0  # window_cmn: the static rows lose their mean
        bn = lambda c: nn.BatchNorm2d(c, affine=False)  # noqa: E731 - as in the baseline
        self.features = nn.Sequential(
            *_conv(1, 64, 5), nn.MaxPool2d(2),
            *_conv(32, 64, 1), bn(32), *_conv(32, 96, 3), nn.MaxPool2d(2), bn(48),
            *_conv(48, 96, 1), bn(48), *_conv(48, 128, 3), nn.MaxPool2d(2),
            *_conv(64, 128, 1), bn(64), *_conv(64, 64, 3), bn(32),
            *_conv(32, 64, 1), bn(32), *_conv(32, 64, 3), nn.MaxPool2d(2),
            nn.Dropout(0.7))
        width = 32 * (rows // 16)
        self.lstm = nn.LSTM(width, width // 2, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(width, 2)
        self.register_buffer("row_mean", torch.zeros(1, 1, rows, 1), persistent=False)
        self.register_buffer("row_std", torch.ones(1, 1, rows, 1), persistent=False)
        self.channels_last = False

    def set_input_norm(self, mean: list[float], std: list[float]) -> None:
        """Standardize each LFCC row with the training windows' mean and std."""
        self.row_mean = torch.tensor(mean, dtype=torch.float32, device=self.row_mean.device).view(1, 1, -1, 1)
        self.row_std = torch.tensor(std, dtype=torch.float32, device=self.row_std.device).view(1, 1, -1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cmn_rows:
            x = remove_window_mean(x, self.cmn_rows)
        x = (x - self.row_mean) / self.row_std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.features(x)  # (B, 32, rows / 16, frames / 16)
        x = x.flatten(1, 2).transpose(1, 2)  # (B, frames / 16, 32 * rows / 16)
        x = x + self.lstm(x)[0]
        return self.head(x.mean(dim=1))
