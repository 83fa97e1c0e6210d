"""rawnet2: RawNet2 (Tak et al. 2021, the ASVspoof 2021 end-to-end baseline) on raw waveform windows.

A fixed bank of mel-spaced sinc band-pass filters, |.|, max-pool, then six residual blocks with filter-wise
feature map scaling (a sigmoid gate per channel), a GRU over the remaining frames and a linear 2-way head.
Sized for CPUs: 129-tap sinc filters (the baseline has 1024) and a 256-unit GRU (the baseline has 1024).
Input: (B, 1, samples) in [-1, 1].
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..config import FeatureConfig


def sinc_filters(n_filters: int, length: int, sample_rate: int) -> torch.Tensor:
    """(n_filters, 1, length) Hamming-windowed band-pass filters with band edges equally spaced in mel."""
    mel = np.linspace(0, 2595 * np.log10(1 + sample_rate / 2 / 700), n_filters + 1)
    edges = 700 * (10 ** (mel / 2595) - 1) / sample_rate  # cycles per sample
    t = np.arange(length) - (length - 1) / 2
    low, high = edges[:-1, None], edges[1:, None]
    filters = (2 * high * np.sinc(2 * high * t) - 2 * low * np.sinc(2 * low * t)) * np.hamming(length)
    return torch.tensor(filters, dtype=torch.float32).unsqueeze(1)


class ResidualBlock(nn.Module):
    """Two 3-tap convolutions with a shortcut, max-pool by 3, then filter-wise feature map scaling."""

    def __init__(self, c_in: int, c_out: int, *, first: bool = False) -> None:
        super().__init__()
        self.pre = nn.Identity() if first else nn.Sequential(nn.BatchNorm1d(c_in), nn.LeakyReLU(0.3))
        self.body = nn.Sequential(nn.Conv1d(c_in, c_out, 3, padding=1), nn.BatchNorm1d(c_out), nn.LeakyReLU(0.3),
                                  nn.Conv1d(c_out, c_out, 3, padding=1))
        self.shortcut = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.pool = nn.MaxPool1d(3)
        self.gate = nn.Linear(c_out, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.body(self.pre(x)) + self.shortcut(x))
        scale = torch.sigmoid(self.gate(x.mean(dim=-1))).unsqueeze(-1)
        return x * scale + scale


class RawNet2(nn.Module):
    """RawNet2; returns (B, 2) logits for (real, fake)."""

    input_kind = "waveform"
    head_prefix = "head."

    def __init__(self, config: FeatureConfig | None = None, *, n_filters: int = 20, sinc_length: int = 129,
                 channels: tuple[int, int] = (20, 128), gru_hidden: int = 256) -> None:
        super().__init__()
        config = config or FeatureConfig(input_kind="waveform")
        self.register_buffer("sinc", sinc_filters(n_filters, sinc_length, config.sample_rate), persistent=False)
        self.front = nn.Sequential(nn.MaxPool1d(3), nn.BatchNorm1d(n_filters), nn.SELU())
        small, large = channels
        self.blocks = nn.Sequential(ResidualBlock(n_filters, small, first=True), ResidualBlock(small, small),
                                    ResidualBlock(small, large), *[ResidualBlock(large, large) for _ in range(3)])
        self.pre_gru = nn.Sequential(nn.BatchNorm1d(large), nn.LeakyReLU(0.3))
        self.gru = nn.GRU(large, gru_hidden, batch_first=True)
        self.head = nn.Linear(gru_hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.conv1d(x, self.sinc, padding=self.sinc.shape[-1] // 2).abs()
        x = self.pre_gru(self.blocks(self.front(x)))  # (B, channels, frames)
        output, _ = self.gru(x.transpose(1, 2))
        return self.head(output[:, -1])
