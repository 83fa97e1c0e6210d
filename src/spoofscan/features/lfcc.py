"""input_kind="lfcc": linear-frequency cepstral coefficients with deltas, the front end of WaveFake's GMM baseline
and of the ASVspoof LFCC-LCNN baseline.

Power spectrum (no centring, Hann window; with remove_dc each frame's mean removed first) -> n_filters triangular
filters spaced linearly from fmin (default 0 Hz) to fmax (Nyquist when fmax is None; a lower fmax gives every clip
the same band, whatever its recording chain kept above it; a higher fmin makes a sub-band model) ->
ln(energy + 1e-10) -> orthonormal DCT-II, first n_lfcc coefficients -> with deltas and double deltas (librosa,
width 3): a (3 * n_lfcc, frames) matrix, stored as float16 windows (each window's cepstral mean removed with
window_cmn).
"""
from __future__ import annotations

import functools

import librosa
import numpy as np
import scipy.fft
import torch

from ..config import FeatureConfig
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
        spectrum = spectrum - torch.fft.rfft(padded)[:, None] * frames.mean(dim=1)[None, :]
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


def stored_windows(windows: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """(n, 3 * n_lfcc, window_frames) float32 windows -> float16 as stored, each window's cepstral mean removed
    when config.window_cmn (the mean of the first n_lfcc rows over the window's frames)."""
    if config.window_cmn:
        windows = windows.copy()
        windows[:, :config.n_lfcc] -= windows[:, :config.n_lfcc].mean(axis=2, keepdims=True)
    return windows.astype(np.float16)


def lfcc_windows(wave: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, list[int]]:
    """float16 (n, 3 * n_lfcc, window_frames) windows of a cleaned waveform and their start frames."""
    windows, starts = cut_windows(torch.from_numpy(lfcc(wave, config)), config.window_frames,
                                  config.window_hop_frames)
    return stored_windows(windows.numpy(), config), starts
