"""input_kind="waveform": the raw samples, for end-to-end networks (RawNet2).

The clip is scaled to a fixed RMS level first (the recording's gain is no cue) and stored as int16 windows of
window_frames * hop_length samples, window_hop_frames * hop_length apart.
"""
from __future__ import annotations

import numpy as np
import torch

from ..config import FeatureConfig
from .windows import cut_windows

TARGET_RMS = 0.05  # -26 dBFS: leaves 26 dB for speech peaks before int16 clips
INT16_SCALE = 32768.0


def to_pcm(wave: np.ndarray, rms: float) -> np.ndarray:
    """A waveform whose RMS is rms -> int16 samples at TARGET_RMS."""
    scaled = np.clip(wave * (TARGET_RMS / max(rms, 1e-8)), -1, 32767 / INT16_SCALE)
    return np.round(scaled * INT16_SCALE).astype(np.int16)


def waveform_windows(wave: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, list[int]]:
    """int16 (n, 1, window_frames * hop_length) windows of a cleaned waveform and their start frames."""
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    pcm = torch.from_numpy(to_pcm(wave, rms))[None]
    hop = config.hop_length
    windows, starts = cut_windows(pcm, config.window_frames * hop, config.window_hop_frames * hop)
    return windows.numpy(), [s // hop for s in starts]
