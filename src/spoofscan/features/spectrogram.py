"""input_kind="image": spectrograms in torch (batched, CPU or GPU) and the fixed-size uint8 images ResNet-18 is fed.

log_spectrogram matches librosa.feature.melspectrogram(power=1, center=True, pad_mode="constant")
followed by ln(clamp(x, 1e-5)). Two ways to turn a clip's spectrogram into images:
- window: fixed-length windows (no time stretching, so clip length is no cue); short clips are tiled;
- resize: the seed's whole-spectrogram image, resized to image_size x image_size.
Images are uint8: min-max normalized on their own (the seed's); with normalize="frequency", each frequency
row standardized over the whole clip first (the clip's own mean and spread per frequency are removed); with
normalize="dataset", the clip's level removed and a fixed log scale kept, so that the model can standardize each
frequency row with the statistics of its training set (row_statistics, applied by SpoofNet.set_input_norm).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import librosa
import numpy as np
import torch
import torch.nn.functional as F

from ..audio import read_clip
from ..config import FeatureConfig
from ..errors import SpoofscanError
from .windows import cut_windows


@functools.lru_cache(maxsize=16)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> torch.Tensor:
    return torch.from_numpy(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax))


def log_spectrogram(wave: torch.Tensor, config: FeatureConfig, *, center: bool = True) -> torch.Tensor:
    """(..., samples) float waveform -> (..., n_bins, frames) natural-log magnitude spectrogram (center=False: the
    caller has padded the wave, as for a part of a long clip)."""
    window = torch.hann_window(config.win_length, device=wave.device, dtype=wave.dtype)
    magnitude = torch.stft(wave, n_fft=config.n_fft, hop_length=config.hop_length, win_length=config.win_length,
                           window=window, center=center, pad_mode="constant", return_complex=True).abs()
    if config.spectrogram == "mel":
        basis = _mel_basis(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
        magnitude = basis.to(device=wave.device, dtype=magnitude.dtype) @ magnitude
    return torch.log(torch.clamp(magnitude, min=config.log_floor))


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Per-image min-max to 0..255 over the last two dims (the seed's normalization)."""
    low = images.amin(dim=(-2, -1), keepdim=True)
    high = images.amax(dim=(-2, -1), keepdim=True)
    return ((images - low) / (high - low + 1e-9) * 255).round().clamp(0, 255).to(torch.uint8)


def standardize_rows(spec: torch.Tensor, clip: float, mean: torch.Tensor | None = None,
                     std: torch.Tensor | None = None) -> torch.Tensor:
    """Each row (frequency) to zero mean, unit std over the clip's frames (or the given (rows, 1) mean and std of
    the whole clip, when spec is a part of it), then +-clip std -> 0..255 uint8."""
    mean = spec.mean(dim=-1, keepdim=True) if mean is None else mean
    std = spec.std(dim=-1, keepdim=True, unbiased=False) if std is None else std
    std = std.clamp(min=1e-3)  # empty (band-limited) rows stay flat
    unit = ((spec - mean) / std).clamp(-clip, clip)
    return ((unit + clip) / (2 * clip) * 255).round().to(torch.uint8)


LEVEL_RANGE = (-14.0, 2.0)  # natural-log units around the clip's level: 0.063 per uint8 step, the log floor included


def remove_level(spec: torch.Tensor, level: torch.Tensor | float | None = None) -> torch.Tensor:
    """Subtract the clip's level (95th percentile of its frames' peaks, or the level given for the whole clip when
    spec is a part of it), then LEVEL_RANGE -> 0..255 uint8.

    The gain goes; the spectral tilt, band limit and noise floor relative to the speech stay.
    """
    level = torch.quantile(spec.amax(dim=0).float(), 0.95) if level is None else level
    low, high = LEVEL_RANGE
    return ((spec - level - low) / (high - low) * 255).round().clamp(0, 255).to(torch.uint8)


def row_statistics(images: np.ndarray, *, scale: float = 1 / 255, chunk: int = 4096, min_std: float = 0.01,
                   select: np.ndarray | None = None,
                   transform: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, list[float]]:
    """Mean and std of each row (frequency) of stored windows times scale (uint8 images: [0, 1] units), over all
    windows (or the select-ed indices) and columns, each block passed through transform first when given.

    min_std keeps rows that barely vary in training (above a band limit) from being blown up at test time.
    """
    select = np.arange(len(images)) if select is None else np.asarray(select)
    total = np.zeros(images.shape[1])
    squares = np.zeros(images.shape[1])
    for start in range(0, len(select), chunk):
        block = np.asarray(images[select[start:start + chunk]], dtype=np.float64) * scale
        block = block if transform is None else transform(block)
        total += block.sum(axis=(0, 2))
        squares += (block**2).sum(axis=(0, 2))
    count = max(len(select) * images.shape[2], 1)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0))
    return {"mean": mean.tolist(), "std": np.maximum(std, min_std).tolist()}


def spectrogram_images(spec: torch.Tensor, config: FeatureConfig, *, stats: dict | None = None,
                       starts: list[int] | None = None) -> tuple[np.ndarray, list[int]]:
    """(n_bins, frames) spectrogram -> (uint8 images of config.stored_shape, start frame of each).

    For a part of a long clip, stats gives what the normalization needs from the whole clip (streamed.py) and
    starts the windows to cut from this part (relative to it)."""
    per_clip = config.normalize != "image"
    stats = {} if stats is None else stats
    if config.normalize == "frequency":  # already uint8; windows are slices of it
        spec = standardize_rows(spec, config.norm_clip, stats.get("mean"), stats.get("std"))
    elif config.normalize == "dataset":
        spec = remove_level(spec, stats.get("level"))
    to_images = (lambda x: x) if per_clip else to_uint8
    if config.input_mode == "resize":
        unit = to_images(spec).float()[None, None]
        image = F.interpolate(unit, size=(config.image_size,) * 2, mode="bilinear", align_corners=False, antialias=True)
        return image[0].round().clamp(0, 255).to(torch.uint8).numpy(), [0]
    if spec.shape[0] != config.n_bins:
        raise SpoofscanError(f"spectrogram has {spec.shape[0]} rows but the FeatureConfig expects {config.n_bins}; "
                             "set n_mels (or spectrogram) to match the data")
    if starts is None:
        windows, starts = cut_windows(spec, config.window_frames, config.window_hop_frames)
    else:
        windows = torch.stack([spec[:, s:s + config.window_frames] for s in starts])
    return to_images(windows).numpy(), starts


def load_spectrogram(path: str | Path, config: FeatureConfig) -> torch.Tensor:
    """A clip's spectrogram: computed from audio, or read from a seed-style 2-D .npy mel array."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        if config.normalize == "dataset":  # its fixed scale is natural-log magnitude; an array's scale is unknown
            raise SpoofscanError("normalize=dataset needs audio, not a precomputed .npy spectrogram; "
                                 "use normalize image or frequency")
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SpoofscanError(f"{path}: cannot read .npy ({exc}); the file is corrupt") from None
        if array.ndim == 3 and array.shape[-1] in (1, 3):  # an (H, W, C) image saved by the seed's pipeline
            array = array[..., 0]
        if array.ndim != 2 or min(array.shape) < 2:
            raise SpoofscanError(f"{path}: expected a 2-D (frequency x time) array, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise SpoofscanError(f"{path}: array contains NaN or infinite values; regenerate the file")
        if float(array.max() - array.min()) == 0.0:
            raise SpoofscanError(f"{path}: constant array (silent or empty spectrogram); remove the file")
        return torch.from_numpy(array.astype(np.float32))
    wave = torch.from_numpy(read_clip(path, config))
    return log_spectrogram(wave, config)


def image_windows(path: str | Path, config: FeatureConfig, wave: np.ndarray | None = None) -> tuple[np.ndarray, list[int]]:
    """uint8 images of a clip: of wave (already cleaned) if given, else of the file (audio or a seed .npy array)."""
    spec = load_spectrogram(path, config) if wave is None else log_spectrogram(torch.from_numpy(wave), config)
    return spectrogram_images(spec, config)
