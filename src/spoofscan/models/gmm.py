"""lfcc-gmm: WaveFake's baseline, two Gaussian mixture models (real, fake) on LFCC frames.

Each GMM has diagonal covariances and is fitted by EM (fit_diagonal_gmm) on frames standardized with the training
frames' mean and std. A window's logits are the mean per-frame log-likelihood under each GMM, so its log-odds of
fake is the mean frame log-likelihood ratio, the score WaveFake uses. With fits > 1, each class has several GMMs,
fitted from different frames and starts, and a frame's log-likelihood is their mean: one EM's local optimum is
noise, which the average cuts. With llr_clip > 0, each frame's log-likelihood ratio is bounded to +-llr_clip before
the window's mean: a frame that neither GMM explains (an unseen recording chain, a click) gets a ratio of tens of
nats, and a few such frames would otherwise decide the window. With speech_db > 0, only the frames within speech_db
of their window's loudest frame are fitted and averaged: pauses and silence, whose noise floor tells more about a
recording than about how the speech was made, are left out. With window_cmn, each window's cepstral mean is removed
first. With narrowband_hz > 0 the GMMs are fitted on wideband windows only (band edge at or above it,
features.lfcc.window_band_edges) and a narrowband window is scored by the same GMMs plus narrowband_offset, which
train sets so that held-in narrowband real windows get the score of held-in wideband ones at one quantile of each
(gmm_narrowband_quantile: the median, or the upper tail where a threshold sits): a band limit then neither counts as
evidence nor takes model capacity from how speech was made. With narrowband_view_hz > 0 as well, a
narrowband window is scored by a second GMM pair instead, fitted on every window's cepstra of the band below
narrowband_view_hz (features.lfcc.low_band_view), where wideband and narrowband clips look alike, so every fake
teaches it; the offset then aligns its real scores with the wideband pair's. With map_relevance > 0 (fit), the two
GMMs are MAP-adapted from one background model instead of fitted apart. The fitted parameters are buffers of this
module: the checkpoint, ONNX export and every command treat it like the networks.
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

    def __init__(self, config: FeatureConfig | None = None, *, components: int = 128, fits: int = 1,
                 llr_clip: float = 0.0, speech_db: float = 0.0, narrowband_hz: float = 0.0,
                 narrowband_view_hz: float = 0.0) -> None:
        super().__init__()
        config = config or FeatureConfig(input_kind="lfcc")
        rows = config.stored_shape[0]
        self.config = config
        self.fits = fits  # GMMs a class, their components side by side in each buffer
        components *= fits
        self.llr_clip = llr_clip
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
            map_relevance: float = 0.0, pair: str = "", part: int = 0) -> None:
        """Fit each class's GMM on its (n, rows) standardized frames (frames[0] real, frames[1] fake): by EM on its
        own frames (WaveFake's way, fit_diagonal_gmm), or with map_relevance > 0 from one universal background model
        (UBM), fitted by EM on every second frame of each class (one EM instead of two), with each class's means
        MAP-adapted to all of its frames (Reynolds et al. 2000, relevance factor map_relevance; weights and variances
        stay the UBM's), so that the two models differ only where the classes' frames do. pair="narrow_" fits the
        narrowband pair (frames in its low-band view); part, which of its `fits` GMMs a class (0 to fits - 1)."""
        components = self.means.shape[1] // self.fits
        fitted = slice(part * components, (part + 1) * components)
        data = {label: torch.from_numpy(np.ascontiguousarray(frames[label], dtype=np.float32)) for label in (0, 1)}
        ubm = None
        if map_relevance > 0:
            ubm = fit_diagonal_gmm(torch.cat([data[0][::2], data[1][::2]]), components, iterations=iterations,
                                   seed=seed)
        for label in (0, 1):
            log_weights, means, precisions = ubm or fit_diagonal_gmm(data[label], components, iterations=iterations,
                                                                     seed=seed)
            if ubm is not None:
                counts, sums, _ = sufficient_statistics(expanded_frames(data[label]), *ubm)
                adaptation = (counts / (counts + map_relevance)).unsqueeze(1)
                means = adaptation * sums / counts.clamp(min=1e-10).unsqueeze(1) + (1 - adaptation) * means
            getattr(self, pair + "log_weights")[label, fitted] = log_weights
            getattr(self, pair + "means")[label, fitted] = means
            getattr(self, pair + "precisions")[label, fitted] = precisions

    def fit_log_likelihoods(self, frames: torch.Tensor, pair: str = "") -> torch.Tensor:
        """(N, rows) standardized frames -> (N, fits, 2) log-likelihood under each of the real and the fake class's
        GMMs (of the narrowband pair with pair="narrow_")."""
        out = []
        for label in (0, 1):
            joint = component_log_probs(frames, *(getattr(self, pair + name)[label]
                                                  for name in ("log_weights", "means", "precisions")))
            # -1 for the frame count: a traced (ONNX) graph must not fix it
            out.append(torch.logsumexp(joint.reshape(-1, self.fits, joint.shape[1] // self.fits), dim=2))
        return torch.stack(out, dim=2)

    def frame_log_likelihoods(self, frames: torch.Tensor, pair: str = "") -> torch.Tensor:
        """(N, rows) standardized frames -> (N, 2) log-likelihood under the real and the fake class: with fits > 1,
        the mean of the log-likelihoods under each class's GMMs."""
        return self.fit_log_likelihoods(frames, pair).mean(dim=1)

    def window_log_likelihoods(self, frames: torch.Tensor, kept: torch.Tensor | None, pair: str = "") -> torch.Tensor:
        """(B, frames, rows) frames (window mean removed, not standardized) -> (B, 2) mean log-likelihoods over the
        frames kept ((B, frames) 0/1, None = all) under one pair; with llr_clip, the fake column is the real one plus
        the mean bounded ratio."""
        batch, n_frames, rows = frames.shape
        standardized = (frames - getattr(self, pair + "row_mean")) / getattr(self, pair + "row_std")
        likelihoods = self.frame_log_likelihoods(standardized.reshape(-1, rows), pair).view(batch, n_frames, 2)
        if self.llr_clip > 0:
            real = likelihoods[:, :, 0]
            ratio = (likelihoods[:, :, 1] - real).clamp(-self.llr_clip, self.llr_clip)
            likelihoods = torch.stack([real, real + ratio], dim=2)
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


def gaussian_terms(log_weights: torch.Tensor, means: torch.Tensor, precisions: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """A diagonal GMM's log of weight times density, log p_k(x) = constant_k - 0.5 [x**2, x] . weights_k, as the
    (components,) constant and the (2 rows, components) weights: the squared distance expanded, so that every
    frame's log-probabilities are one matrix product, which is what makes EM and scoring fast on a CPU."""
    log_norm = 0.5 * (precisions.log().sum(1) - means.shape[1] * math.log(2 * math.pi))
    constant = log_weights + log_norm - 0.5 * (means**2 * precisions).sum(1)
    return constant, torch.cat([precisions, -2 * means * precisions], dim=1).T


def component_log_probs(frames: torch.Tensor, log_weights: torch.Tensor, means: torch.Tensor,
                        precisions: torch.Tensor) -> torch.Tensor:
    """(N, rows) frames -> (N, components) log of weight times Gaussian density of each diagonal component."""
    constant, weights = gaussian_terms(log_weights, means, precisions)
    rows = frames.shape[1]
    return constant - 0.5 * ((frames**2) @ weights[:rows] + frames @ weights[rows:])


def expanded_frames(frames: torch.Tensor) -> torch.Tensor:
    """(n, rows) frames -> (n, 2 rows) [frames**2, frames]: the E-step's operand, made once for all of EM."""
    return torch.cat([frames**2, frames], dim=1)


def sufficient_statistics(expanded: torch.Tensor, log_weights: torch.Tensor, means: torch.Tensor,
                          precisions: torch.Tensor, *, chunk: int = 32768
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The E-step over (n, 2 rows) expanded frames (expanded_frames) in chunks: per component the summed
    responsibilities (components,), the responsibility-weighted sums of the frames and of their squares
    (components, rows), all float64: one matrix product a chunk for the responsibilities and one for both sums."""
    components, rows = means.shape
    constant, weights = gaussian_terms(log_weights, means, precisions)
    counts = torch.zeros(components, dtype=torch.float64)
    moments = torch.zeros(2 * rows, components, dtype=torch.float64)  # [squares; sums], transposed
    for start in range(0, len(expanded), chunk):
        block = expanded[start:start + chunk]
        responsibility = torch.softmax(torch.addmm(constant, block, weights, alpha=-0.5), dim=1)
        counts += responsibility.sum(0).double()
        moments += (block.T @ responsibility).double()
    return counts, moments[rows:].T, moments[:rows].T


def maximization(counts: torch.Tensor, sums: torch.Tensor, squares: torch.Tensor, *, reg_covar: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The M-step: a GMM's (log_weights, means, precisions), float32, from its sufficient statistics (float64)."""
    counts = counts + 1e-10  # an empty component keeps a finite, negligible weight, as in scikit-learn
    means = sums / counts.unsqueeze(1)
    variances = (squares / counts.unsqueeze(1) - means**2).clamp(min=0) + reg_covar
    return (counts / counts.sum()).log().float(), means.float(), (1 / variances).float()


def squared_distances(points: torch.Tensor, center: torch.Tensor, *, rows: int = 1024) -> torch.Tensor:
    """(n,) squared distances of the (n, d) points from one (d,) center, a block of rows at a time: the same sums as
    ((points - center) ** 2).sum(1), faster as no temporary outgrows the cache (benchmarks/gmm_em.py)."""
    return torch.cat([((points[start:start + rows] - center) ** 2).sum(1) for start in range(0, len(points), rows)])


def kmeans_plus_plus(points: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """count of the (n, rows) points as k-means seeds: each next one drawn with probability proportional to its
    squared distance from the nearest seed so far (Arthur and Vassilvitskii 2007), so that no cluster is missed."""
    seeds = points[torch.randint(len(points), (1,), generator=generator)]
    nearest = squared_distances(points, seeds[0])
    for _ in range(count - 1):
        chosen = points[torch.multinomial(nearest.clamp(min=0) + 1e-12, 1, generator=generator)]
        seeds = torch.cat([seeds, chosen])
        nearest = torch.minimum(nearest, squared_distances(points, chosen[0]))
    return seeds


def fit_diagonal_gmm(frames: torch.Tensor, components: int, *, iterations: int = 50, seed: int = 0,
                     reg_covar: float = 1e-3, kmeans_frames: int = 100_000, kmeans_iterations: int = 10
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EM for a diagonal-covariance GMM on (n, rows) float32 frames: (log_weights, means, precisions), float32.
    Started, as scikit-learn's GaussianMixture is, from a k-means partition (k-means++ seeds, then Lloyd's algorithm,
    on at most kmeans_frames random frames); reg_covar is added to every variance. It does in float32 matrix products
    what GaussianMixture does in float64, 2-6x faster (benchmarks/gmm_em.py); its start, k-means on a sample, is
    cruder than GaussianMixture's: on LFCC frames it ends 0.1-0.7 nats a frame lower in held-out log-likelihood
    after 50 iterations (benchmarks/gmm_em.py --store)."""
    generator = torch.Generator().manual_seed(seed)
    sample = frames[torch.randperm(len(frames), generator=generator)[:kmeans_frames]].double()
    centers = kmeans_plus_plus(sample, components, generator)
    sample_norms = (sample**2).sum(1, keepdim=True)
    for _ in range(kmeans_iterations + 1):  # the last pass's partition (and its statistics) starts EM
        nearest = (sample_norms - 2 * sample @ centers.T + (centers**2).sum(1)).argmin(1)
        counts = torch.bincount(nearest, minlength=components).double()
        sums = torch.zeros_like(centers).index_add_(0, nearest, sample)
        centers = torch.where(counts.unsqueeze(1) > 0, sums / counts.clamp(min=1).unsqueeze(1), centers)
    parameters = maximization(counts, sums, torch.zeros_like(sums).index_add_(0, nearest, sample**2),
                              reg_covar=reg_covar)
    expanded = expanded_frames(frames)
    for _ in range(iterations):
        parameters = maximization(*sufficient_statistics(expanded, *parameters), reg_covar=reg_covar)
    return parameters
