"""input_kind="lfcc": linear-frequency cepstral coefficients with deltas, the front end of WaveFake's GMM baseline
and of the ASVspoof LFCC-LCNN baseline.

Power spectrum (no centring, Hann window; with remove_dc each frame's mean removed first) -> n_filters triangular
filters spaced linearly from fmin (default 0 Hz) to fmax (Nyquist when fmax is None; a lower fmax gives every clip
the same band, whatever its recording chain kept above it; a higher fmin makes a sub-band model) ->
ln(energy + 1e-10) -> orthonormal DCT-II, first n_lfcc coefficients -> with deltas and double deltas (librosa,
width 3): a (3 * n_lfcc, frames) matrix, stored as float16 windows. With window_cmn the model removes each window's
cepstral mean (remove_window_mean) as its first step, so a stored window keeps its mean spectrum: the band it holds
(window_band_edges) stays measurable.
"""
from __future__ import annotations

import functools

import librosa
import numpy as np
import scipy.fft
import scipy.linalg
import torch

from ..config import FeatureConfig
from ..errors import SpoofscanError
from .windows import cut_windows


@functools.lru_cache(maxsize=16)
def linear_filters(n_fft: int, n_filters: int, top_bin: float | None = None, bottom_bin: float = 0.0) -> np.ndarray:
    """(n_filters, n_fft // 2 + 1) triangular filters spaced linearly from bottom_bin to top_bin (default: the last
    bin, Nyquist); bins outside get no weight."""
    edges = np.linspace(bottom_bin, n_fft // 2 if top_bin is None else top_bin, n_filters + 2)
    bins = np.arange(n_fft // 2 + 1)[:, None]
    rising = (bins - edges[:-2]) / (edges[1:-1] - edges[:-2])
    falling = (edges[2:] - bins) / (edges[2:] - edges[1:-1])
    return np.clip(np.minimum(rising, falling), 0, None).T.astype(np.float32)


def lfcc_coefficients(wave: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """(samples,) float waveform -> (n_lfcc, frames) cepstral coefficients, one frame per hop without centring."""
    if wave.size < config.n_fft:  # one frame at least (clean_waveform's min_duration normally ensures it)
        wave = np.pad(wave, (0, config.n_fft - wave.size))
    window = torch.hann_window(config.win_length)
    spectrum = torch.stft(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), n_fft=config.n_fft,
                          hop_length=config.hop_length, win_length=config.win_length, window=window, center=False,
                          return_complex=True)
    if config.remove_dc:  # the spectrum of (frame - its mean) x window = X - mean x (the window's spectrum)
        frames = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)).unfold(0, config.n_fft,
                                                                                         config.hop_length)
        left = (config.n_fft - config.win_length) // 2  # where torch.stft puts a shorter window in the frame
        padded = torch.nn.functional.pad(window, (left, config.n_fft - config.win_length - left))
        window_spectrum = torch.fft.rfft(padded)
        # only the bins where the window's spectrum is not zero change: 0 and 1 for a Hann window as long as the frame
        used = window_spectrum.abs() > 1e-6 * window_spectrum.abs().max()
        spectrum[used] -= window_spectrum[used, None] * frames.mean(dim=1)[None, :]
    power = spectrum.abs().square().numpy()
    top_bin = None if config.fmax is None else config.fmax * config.n_fft / config.sample_rate
    bottom_bin = config.fmin * config.n_fft / config.sample_rate
    energies = linear_filters(config.n_fft, config.n_filters, top_bin, bottom_bin) @ power
    return scipy.fft.dct(np.log(energies + 1e-10), axis=0, norm="ortho")[:config.n_lfcc]


def with_deltas(coefficients: np.ndarray) -> np.ndarray:
    """(n, frames) -> (3n, frames): the coefficients, their deltas and double deltas (librosa, width 3)."""
    width = 3 if coefficients.shape[1] >= 3 else 1
    deltas = [librosa.feature.delta(coefficients, width=width, order=order) if width == 3 else
              np.zeros_like(coefficients) for order in (1, 2)]
    return np.concatenate([coefficients, *deltas]).astype(np.float32)


def lfcc(wave: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """(samples,) float waveform -> (3 * n_lfcc, frames) float32 LFCC, delta and double delta."""
    return with_deltas(lfcc_coefficients(wave, config))


def remove_window_mean(windows: torch.Tensor, n_lfcc: int) -> torch.Tensor:
    """(..., 3 * n_lfcc, frames) windows with each static coefficient's mean over the window's frames subtracted
    (FeatureConfig.window_cmn; the deltas are unchanged). Doing it twice changes nothing."""
    static = windows[..., :n_lfcc, :]
    return torch.cat([static - static.mean(dim=-1, keepdim=True), windows[..., n_lfcc:, :]], dim=-2)


@functools.lru_cache(maxsize=16)
def _to_filter_db(n_lfcc: int, n_filters: int) -> torch.Tensor:
    """(n_lfcc, n_filters): cepstral coefficients -> log filter energies in dB, smoothed by the truncation."""
    inverse = scipy.fft.idct(np.eye(n_lfcc, n_filters), axis=1, norm="ortho") * (10 / np.log(10))
    return torch.from_numpy(inverse.astype(np.float32))


def low_band_view(config: FeatureConfig, top_hz: float) -> torch.Tensor:
    """(3 * n_lfcc, 3 * k) matrix: stored LFCC rows (statics, deltas, double deltas) -> the cepstra of only the filters
    that end at or below top_hz, k = n_lfcc x (those filters / n_filters), as if the clip had been analysed with
    that band alone: the cepstra are turned back into smoothed log filter energies, the filters above top_hz are
    dropped and the rest are transformed by their own DCT. Being linear, it commutes with deltas and window CMN. A
    clip band-limited above top_hz has the same view as the full-band clip (GMMDetector's narrowband pair)."""
    spacing = (config.top_hz - config.fmin) / (config.n_filters + 1)  # filter i spans (i, i + 2) spacings
    filters = int((top_hz - config.fmin) // spacing) - 1
    if filters < 2:
        raise SpoofscanError(f"a low band of {top_hz:g} Hz holds {max(filters, 0)} of the {config.n_filters} LFCC "
                             f"filters (each {2 * spacing:.0f} Hz wide); raise it to "
                             f"{config.fmin + 3 * spacing:.0f} Hz at least")
    k = max(1, round(config.n_lfcc * filters / config.n_filters))
    to_log_energies = scipy.fft.idct(np.eye(config.n_lfcc, config.n_filters), axis=1, norm="ortho")[:, :filters]
    block = scipy.fft.dct(to_log_energies, axis=1, norm="ortho")[:, :k]  # (n_lfcc, k)
    return torch.from_numpy(scipy.linalg.block_diag(block, block, block).astype(np.float32))


def window_band_edges(windows: torch.Tensor, config: FeatureConfig, *, floor_db: float = 60.0) -> torch.Tensor:
    """(B, 3 * n_lfcc, frames) stored windows (mean kept) -> (B,) each window's band edge in Hz: the top of the
    highest filter whose mean log energy over the window lies within floor_db of the window's strongest filter (the
    rule of shortcuts.band_edge, on the window's cepstrally smoothed spectrum). A clip recorded at 16 kHz ends near
    8 kHz at any sample rate it is resampled to."""
    mean = windows[:, :config.n_lfcc, :].float().mean(dim=-1)
    level = mean @ _to_filter_db(config.n_lfcc, config.n_filters).to(mean.device)
    strong = level >= level.amax(dim=1, keepdim=True) - floor_db
    highest = config.n_filters - 1 - strong.flip(1).to(torch.int64).argmax(dim=1)
    spacing = (config.top_hz - config.fmin) / (config.n_filters + 1)  # filter i spans (i, i + 2) spacings
    return config.fmin + (highest + 2).to(torch.float32) * spacing


def lfcc_windows(wave: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, list[int]]:
    """float16 (n, 3 * n_lfcc, window_frames) windows of a cleaned waveform and their start frames."""
    windows, starts = cut_windows(torch.from_numpy(lfcc(wave, config)), config.window_frames,
                                  config.window_hop_frames)
    return windows.numpy().astype(np.float16), starts
