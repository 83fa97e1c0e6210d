"""lfcc-gmm: WaveFake's baseline, two Gaussian mixture models (real, fake) on LFCC frames.

Each GMM has diagonal covariances and is fitted by EM (scikit-learn) on frames standardized with the training
frames' mean and std. A window's logits are the mean per-frame log-likelihood under each GMM, so its log-odds of
fake is the mean frame log-likelihood ratio, the score WaveFake uses. With speech_db > 0, only the frames within
speech_db of their window's loudest frame are fitted and averaged: pauses and silence, whose noise floor tells more
about a recording than about how the speech was made, are left out. With window_cmn, each window's cepstral mean
is removed first. With narrowband_hz > 0 the GMMs are fitted on wideband windows only (band edge at or above it,
features.lfcc.window_band_edges) and a narrowband window is scored by the same GMMs plus narrowband_offset, which
train sets so that held-in narrowband real windows get the median score of held-in wideband ones: a band limit then
neither counts as evidence nor takes model capacity from how speech was made. With narrowband_view_hz > 0 as well,
a narrowband window is scored by a second GMM pair instead, fitted on every window's cepstra of the band below
narrowband_view_hz (features.lfcc.low_band_view), where wideband and narrowband clips look alike, so every fake
teaches it; the offset then aligns its real scores with the wideband pair's. With map_relevance > 0 (fit), the
two GMMs are MAP-adapted from one background model instead of fitted apart. The fitted parameters are buffers of
this module: the checkpoint, ONNX export and every command treat it like the networks.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..config import FeatureConfig
from ..features.lfcc import low_band_view, remove_window_mean, window_band_edges


class GMMDetector(nn.Module):
    """Two diagonal GMMs over (B, 1, rows, frames) LFCC windows; returns (B, 2) mean frame log-likelihoods."""

    input_kind = "lfcc"
    head_prefix = ""  # nothing trains by gradient
    # its work per window is too small to split: predict runs 2.6x faster on 1 torch thread than on 2 (2-core CPU)
    inference_threads = 1

    def __init__(self, config: FeatureConfig | None = None, *, components: int = 128, speech_db: float = 0.0,
                 narrowband_hz: float = 0.0, narrowband_view_hz: float = 0.0) -> None:
        super().__init__()
        config = config or FeatureConfig(input_kind="lfcc")
        rows = config.stored_shape[0]
        self.config = config
        self.narrowband_hz = narrowband_hz
        self.narrowband_view_hz = narrowband_view_hz
        if narrowband_hz > 0:  # only then: checkpoints of GMMs without it load unchanged
            self.register_buffer("narrowband_offset", torch.zeros(()))
        if narrowband_view_hz > 0:  # the narrowband pair: parameters prefixed narrow_
            self.register_buffer("view", low_band_view(config, narrowband_view_hz), persistent=False)
            low_rows = self.view.shape[1]
            self.register_buffer("narrow_log_weights", torch.full((2, components), -math.log(components)))
            self.register_buffer("narrow_means", torch.zeros(2, components, low_rows))
            self.register_buffer("narrow_precisions", torch.ones(2, components, low_rows))
            self.register_buffer("narrow_row_mean", torch.zeros(low_rows))  # fitted with the pair, so saved with it
            self.register_buffer("narrow_row_std", torch.ones(low_rows))
        # c0 is the sum of the natural-log filter powers over sqrt(n_filters) (orthonormal DCT): in dB, c0 times this
        self.speech_c0 = speech_db / (10 / math.log(10) / math.sqrt(config.n_filters))
        self.register_buffer("log_weights", torch.full((2, components), -math.log(components)))
        self.register_buffer("means", torch.zeros(2, components, rows))
        self.register_buffer("precisions", torch.ones(2, components, rows))  # 1 / variance
        self.register_buffer("row_mean", torch.zeros(rows), persistent=False)
        self.register_buffer("row_std", torch.ones(rows), persistent=False)

    def set_input_norm(self, mean: list[float], std: list[float]) -> None:
        self.row_mean = torch.tensor(mean, dtype=torch.float32, device=self.means.device)
        self.row_std = torch.tensor(std, dtype=torch.float32, device=self.means.device)

    def fit(self, frames: dict[int, np.ndarray], *, iterations: int = 50, seed: int = 0,
            map_relevance: float = 0.0, pair: str = "") -> None:
        """Fit each class's GMM on its (n, rows) standardized frames (frames[0] real, frames[1] fake): by EM on its
        own frames (WaveFake's way), or with map_relevance > 0 from one universal background model (UBM), fitted by
        EM on every second frame of each class (one EM instead of two), with each class's means MAP-adapted to all
        of its frames (Reynolds et al. 2000, relevance factor map_relevance; weights and variances stay the UBM's),
        so that the two models differ only where the classes' frames do. pair="narrow_" fits the narrowband pair
        (frames in its low-band view)."""
        from sklearn.mixture import GaussianMixture

        components = self.means.shape[1]

        def em(x: np.ndarray) -> GaussianMixture:
            return GaussianMixture(components, covariance_type="diag", max_iter=iterations, random_state=seed,
                                   reg_covar=1e-3).fit(x.astype(np.float64))

        ubm = em(np.concatenate([frames[0][::2], frames[1][::2]])) if map_relevance > 0 else None
        for label in (0, 1):
            gmm = em(frames[label]) if ubm is None else ubm
            means = gmm.means_
            if ubm is not None:
                x = frames[label].astype(np.float64)
                responsibility = ubm.predict_proba(x)  # (n, components)
                counts = responsibility.sum(axis=0)[:, None]
                class_means = responsibility.T @ x / np.maximum(counts, 1e-10)
                adaptation = counts / (counts + map_relevance)
                means = adaptation * class_means + (1 - adaptation) * ubm.means_
            getattr(self, pair + "log_weights")[label] = torch.from_numpy(np.log(gmm.weights_))
            getattr(self, pair + "means")[label] = torch.from_numpy(means)
            getattr(self, pair + "precisions")[label] = torch.from_numpy(1 / gmm.covariances_)

    def frame_log_likelihoods(self, frames: torch.Tensor, pair: str = "") -> torch.Tensor:
        """(N, rows) standardized frames -> (N, 2) log-likelihood under the real and the fake GMM (of the narrowband
        pair with pair="narrow_")."""
        out = []
        for label in (0, 1):
            mean, precision = getattr(self, pair + "means")[label], getattr(self, pair + "precisions")[label]
            squared = (frames**2) @ precision.T - 2 * frames @ (mean * precision).T + (mean**2 * precision).sum(1)
            log_norm = 0.5 * (precision.log().sum(1) - mean.shape[1] * math.log(2 * math.pi))
            out.append(torch.logsumexp(getattr(self, pair + "log_weights")[label] + log_norm - 0.5 * squared, dim=1))
        return torch.stack(out, dim=1)

    def window_log_likelihoods(self, frames: torch.Tensor, kept: torch.Tensor | None, pair: str = "") -> torch.Tensor:
        """(B, frames, rows) frames (window mean removed, not standardized) -> (B, 2) mean log-likelihoods over the
        frames kept ((B, frames) 0/1, None = all) under one pair."""
        batch, n_frames, rows = frames.shape
        standardized = (frames - getattr(self, pair + "row_mean")) / getattr(self, pair + "row_std")
        likelihoods = self.frame_log_likelihoods(standardized.reshape(-1, rows), pair).view(batch, n_frames, 2)
        if kept is None:
            return likelihoods.mean(dim=1)
        return (likelihoods * kept.unsqueeze(2)).sum(dim=1) / kept.sum(dim=1, keepdim=True)

    def speech_frames(self, c0: torch.Tensor) -> torch.Tensor:
        """(B, frames) bool from windows' c0 rows: the frames that count (all of them when speech_db is 0)."""
        if self.speech_c0 <= 0:
            return torch.ones_like(c0, dtype=torch.bool)
        return c0 >= c0.amax(dim=1, keepdim=True) - self.speech_c0

    def narrow_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, rows, frames) windows as stored -> (B,) bool: those scored with the narrowband offset."""
        if self.narrowband_hz <= 0:
            return torch.zeros(len(windows), dtype=torch.bool, device=windows.device)
        return window_band_edges(windows, self.config) < self.narrowband_hz

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        windows = x.squeeze(1)  # (B, rows, frames)
        narrow = self.narrow_windows(windows)
        if self.config.window_cmn:
            windows = remove_window_mean(windows, self.config.n_lfcc)
        frames = windows.transpose(1, 2)  # (B, frames, rows)
        # the loudest frame always counts
        kept = None if self.speech_c0 <= 0 else self.speech_frames(frames[:, :, 0]).to(frames.dtype)
        logits = self.window_log_likelihoods(frames, kept)
        if self.narrowband_view_hz > 0:
            narrow_logits = self.window_log_likelihoods(frames @ self.view, kept, "narrow_")
            logits = torch.where(narrow.unsqueeze(1), narrow_logits, logits)
        if self.narrowband_hz > 0:
            shift = narrow.to(logits.dtype) * self.narrowband_offset  # on the fake logit: the log-odds move by it
            logits = logits + torch.stack([torch.zeros_like(shift), shift], dim=1)
        return logits
