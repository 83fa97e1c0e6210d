"""Audio -> fixed-length model input windows, one module per input kind (FeatureConfig.input_kind):

- image (spectrogram.py): uint8 log-mel or log-linear spectrogram images, for the ResNet-18;
- lfcc (lfcc.py): float16 LFCC frames with deltas, for the LCNN and the GMM;
- waveform (waveform.py): int16 raw samples, for RawNet2.

Every kind is cut into windows of window_frames STFT frames (windows.py), so window times, pooling and the
packed store are the same for all. A new kind is one module and one line in WINDOWS and PREPROCESSING.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..config import FeatureConfig
from ..errors import SpoofscanError
from .lfcc import lfcc, lfcc_windows, remove_window_mean
from .spectrogram import (image_windows, load_spectrogram, log_spectrogram, remove_level, row_statistics,
                          spectrogram_images, standardize_rows, to_uint8)
from .waveform import INT16_SCALE, waveform_windows
from .windows import cut_windows, window_starts

__all__ = ["PREPROCESSING", "WINDOWS", "clip_windows", "cut_windows", "input_statistics", "lfcc", "load_spectrogram",
           "log_spectrogram", "model_input", "remove_level", "row_statistics", "spectrogram_images",
           "standardize_rows", "to_uint8", "wave_windows", "window_starts"]

# cleaned waveform -> (windows of config.stored_shape and config.stored_dtype, start frame of each)
WINDOWS: dict[str, Callable[[np.ndarray, FeatureConfig], tuple[np.ndarray, list[int]]]] = {
    "image": lambda wave, config: image_windows("", config, wave),
    "lfcc": lfcc_windows,
    "waveform": waveform_windows,
}

# What model_input does to stored windows; saved in every checkpoint and checked when one is loaded.
PREPROCESSING = {
    "image": {"input": "uint8 image / 255, resized bilinearly to image_size", "channels": "gray replicated to 3",
              "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    "lfcc": {"input": "float16 LFCC + deltas (3 * n_lfcc, window_frames) as float32, one channel",
             "norm": "each row standardized with the training windows' mean and std (input_norm)"},
    "waveform": {"input": "int16 samples / 32768 at a fixed RMS of -26 dBFS, one channel"},
}


def wave_windows(wave: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, list[int]]:
    """Windows of a waveform already cleaned (clean_waveform) at config.sample_rate."""
    return WINDOWS[config.input_kind](wave, config)


def model_input(windows: torch.Tensor, config: FeatureConfig) -> torch.Tensor:
    """Stored windows (B, H, W) -> the float tensor the network takes: (B, 1, S, S) images in [0, 1] for image
    input, (B, 1, rows, frames) for lfcc, (B, 1, samples) in [-1, 1] for waveform."""
    if config.input_kind == "image":
        x = windows.unsqueeze(1).float().div_(255)
        if x.shape[-2:] != (config.image_size, config.image_size):
            x = torch.nn.functional.interpolate(x, size=(config.image_size,) * 2, mode="bilinear",
                                                align_corners=False)
        return x
    if config.input_kind == "lfcc":
        return windows.unsqueeze(1).float()
    return windows.float().div_(INT16_SCALE)  # (B, 1, samples)


def input_statistics(windows: np.ndarray, config: FeatureConfig, *,
                     select: np.ndarray | None = None) -> dict[str, list[float]] | None:
    """Per-row mean and std of the training windows (or the select-ed ones) as the model standardizes them (lfcc
    with window_cmn: after the window's mean is removed), for the kinds whose model uses them (lfcc always; images
    with normalize="dataset"); None for the others."""
    if config.input_kind == "lfcc":
        cmn = (lambda block: remove_window_mean(torch.from_numpy(block), config.n_lfcc).numpy()) \
            if config.window_cmn else None
        return row_statistics(windows, scale=1.0, select=select, transform=cmn)
    if config.input_kind == "image" and config.normalize == "dataset":
        return row_statistics(windows, select=select)
    return None


def clip_windows(path: str | Path, config: FeatureConfig, *,
                 degradations: tuple[tuple[str, int], ...] = ()) -> tuple[np.ndarray, list[int]]:
    """Everything deterministic from a file to its stored windows (and their start frames).

    degradations lists (condition, seed) pairs of spoofscan.degrade: each adds the windows of a degraded copy
    of the clip (train-time augmentation that has to happen on the waveform: codecs, noise, reverb, ...).
    """
    try:
        is_array = Path(path).suffix.lower() == ".npy"
        if is_array and config.input_kind != "image":
            raise SpoofscanError(f"input_kind={config.input_kind} needs audio, not a precomputed .npy spectrogram")
        if is_array and degradations:
            raise SpoofscanError("degraded copies need audio, not precomputed .npy spectrograms")
        if is_array:
            return image_windows(path, config)  # a seed-style spectrogram array
        from ..degrade import cleaned_copies

        parts = [wave_windows(wave, config) for wave in cleaned_copies(path, config, degradations)]
        if len(parts) == 1:  # no copies: no concatenation (a copy of every clip's windows)
            return parts[0]
        return np.concatenate([windows for windows, _ in parts]), [s for _, starts in parts for s in starts]
    except SpoofscanError as exc:
        message = str(exc)
        raise SpoofscanError(message if message.startswith(str(path)) else f"{path}: {message}") from None
