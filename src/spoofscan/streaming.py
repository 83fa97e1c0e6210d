"""Long files in bounded memory: the same windows as features.wave_windows, computed a part at a time.

A long file is decoded block by block and resampled as a stream into a float32 temporary file; then the silence
bounds and what the features need from the whole clip (the RMS level for waveform windows, per-frequency mean and
std or the level for normalized spectrograms) are computed in passes over it; then the windows are made a batch at
a time from just the samples they cover. Memory grows with the number of windows (a few bytes each), not with the
audio: a three-hour file is scored in well under 1 GB. Used by Detector for files longer than LONG_SECONDS.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr
import torch

from .audio import SILENCE_PEAK, decode_blocks
from .config import FeatureConfig
from .errors import SpoofscanError
from .features import log_spectrogram, spectrogram_images, window_starts
from .features.lfcc import lfcc_coefficients, with_deltas
from .features.waveform import to_pcm

LONG_SECONDS = 600.0  # files longer than this are streamed
CHUNK_FRAMES = 8192  # STFT frames per pass step


class DiskWave:
    """A mono float32 waveform at one sample rate, kept in a temporary file and read a range at a time."""

    def __init__(self, path: str | Path, sample_rate: int, *, directory: str, stream: int = 0) -> None:
        self.file = Path(directory) / "wave.f32"
        self.sample_rate = sample_rate
        self.size, self.peak = 0, 0.0
        resampler: soxr.ResampleStream | None = None
        with open(self.file, "wb") as out:
            for block, rate in decode_blocks(path, stream):
                if not np.isfinite(block).all():
                    raise SpoofscanError(f"{path}: audio contains NaN or infinite samples; re-export the file")
                if resampler is None and rate != sample_rate:
                    resampler = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ")
                self._append(out, resampler.resample_chunk(block) if resampler else block)
            if resampler is not None:
                self._append(out, resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        if self.size == 0:
            raise SpoofscanError(f"{path}: empty audio (0 samples); remove the file or replace it")

    def _append(self, out, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=np.float32)
        out.write(block.tobytes())
        self.size += block.size
        self.peak = max(self.peak, float(np.abs(block).max())) if block.size else self.peak

    def read(self, start: int, stop: int, *, low: int = 0, high: int | None = None) -> np.ndarray:
        """Samples [start, stop), zeros where that range leaves [low, high) (the kept part of the clip)."""
        high = self.size if high is None else high
        out = np.zeros(max(stop - start, 0), np.float32)
        a, b = max(start, low), min(stop, high)
        if b > a:
            out[a - start:b - start] = np.fromfile(self.file, np.float32, count=b - a, offset=4 * a)
        return out


def sound_bounds(wave: DiskWave, *, top_db: float, frame_length: int, hop_length: int) -> tuple[int, int]:
    """audio.sound_bounds over a DiskWave, CHUNK_FRAMES frames at a time."""
    if wave.size < frame_length:
        return 0, wave.size
    starts = np.arange(0, wave.size - frame_length + 1, hop_length)
    rms = np.empty(len(starts))
    for i in range(0, len(starts), CHUNK_FRAMES):
        part = starts[i:i + CHUNK_FRAMES]
        samples = wave.read(int(part[0]), int(part[-1]) + frame_length).astype(np.float64)
        energy = np.concatenate([[0.0], np.cumsum(np.square(samples))])
        offsets = part - part[0]
        rms[i:i + len(part)] = np.sqrt((energy[offsets + frame_length] - energy[offsets]) / frame_length)
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-top_db / 20))
    return int(loud[0] * hop_length), int(loud[-1] * hop_length + frame_length)


class LongClip:
    """The kept (silence-trimmed) part of a long file and its windows, as features.wave_windows would cut them."""

    def __init__(self, path: str | Path, config: FeatureConfig, *, directory: str, stream: int = 0) -> None:
        self.config, self.name = config, str(path)
        self.wave = DiskWave(path, config.sample_rate, directory=directory, stream=stream)
        if self.wave.peak < SILENCE_PEAK:
            raise SpoofscanError(f"{path}: silent audio (peak below -80 dBFS); remove the file or check the recording")
        self.start, self.end = 0, self.wave.size
        if config.trim_silence:
            self.start, self.end = sound_bounds(self.wave, top_db=config.trim_db, frame_length=config.win_length,
                                                hop_length=config.hop_length)
        seconds = (self.end - self.start) / config.sample_rate
        if seconds < config.min_duration:
            raise SpoofscanError(f"{path}: too short ({seconds:.3f} s of sound, min_duration is "
                                 f"{config.min_duration} s); use a longer clip or lower min_duration")
        hop, length = config.hop_length, self.end - self.start
        if config.input_kind == "image":
            self.n_frames = 1 + length // hop
        elif config.input_kind == "lfcc":
            self.n_frames = 1 + (max(length, config.n_fft) - config.n_fft) // hop
        else:
            self.n_frames = length  # waveform windows are cut from samples
        self.stats = self._clip_statistics()

    @property
    def duration(self) -> float:
        return self.wave.size / self.config.sample_rate

    def _samples(self, first: int, stop: int) -> np.ndarray:
        """Kept-clip samples [first, stop), zero outside the kept part (as the in-memory path sees them)."""
        return self.wave.read(self.start + first, self.start + stop, low=self.start, high=self.end)

    def _spectrogram(self, f0: int, f1: int) -> torch.Tensor:
        """Frames [f0, f1) of log_spectrogram(kept) (centred frames: n_fft // 2 of zeros around the clip)."""
        half, hop = self.config.n_fft // 2, self.config.hop_length
        samples = self._samples(f0 * hop - half, (f1 - 1) * hop - half + self.config.n_fft)
        return log_spectrogram(torch.from_numpy(samples), self.config, center=False)

    def _lfcc(self, f0: int, f1: int) -> np.ndarray:
        """Frames [f0, f1) of features.lfcc(kept): coefficients with one frame of context for the deltas."""
        g0, g1 = max(f0 - 1, 0), min(f1 + 1, self.n_frames)
        hop = self.config.hop_length
        coefficients = lfcc_coefficients(self._samples(g0 * hop, (g1 - 1) * hop + self.config.n_fft), self.config)
        return with_deltas(coefficients)[:, f0 - g0:f1 - g0]

    def _clip_statistics(self) -> dict:
        """What the windows need from the whole kept clip, in one pass over it."""
        config = self.config
        if config.input_kind == "waveform":
            total = sum(float(np.square(self._samples(a, min(a + CHUNK_FRAMES * 64, self.n_frames)),
                                        dtype=np.float64).sum()) for a in range(0, self.n_frames, CHUNK_FRAMES * 64))
            return {"rms": float(np.sqrt(total / self.n_frames))}
        if config.input_kind != "image" or config.normalize == "image":
            return {}
        sums, squares, peaks = 0.0, 0.0, []
        for f0 in range(0, self.n_frames, CHUNK_FRAMES):
            spec = self._spectrogram(f0, min(f0 + CHUNK_FRAMES, self.n_frames)).double()
            sums, squares = sums + spec.sum(dim=1, keepdim=True), squares + spec.square().sum(dim=1, keepdim=True)
            peaks.append(spec.amax(dim=0).float())
        if config.normalize == "dataset":
            return {"level": torch.quantile(torch.cat(peaks), 0.95)}
        mean = sums / self.n_frames
        return {"mean": mean.float(), "std": (squares / self.n_frames - mean.square()).clamp(min=0).sqrt().float()}

    def windows(self, batch: int = 32) -> Iterator[tuple[np.ndarray, list[int]]]:
        """(windows, their start frames) a batch at a time, as features.wave_windows gives them for the whole clip."""
        config, hop = self.config, self.config.hop_length
        width, step = config.window_frames, config.window_hop_frames
        if config.input_kind == "waveform":
            starts = window_starts(self.n_frames, width * hop, step * hop)
        else:
            starts = window_starts(self.n_frames, width, step)
        for i in range(0, len(starts), batch):
            group = starts[i:i + batch]
            first, last = group[0], group[-1]
            relative = [s - first for s in group]
            if config.input_kind == "image":
                images, _ = spectrogram_images(self._spectrogram(first, last + width), config, stats=self.stats,
                                               starts=relative)
                yield images, group
            elif config.input_kind == "lfcc":
                frames = self._lfcc(first, last + width)
                yield np.stack([frames[:, s:s + width] for s in relative]).astype(np.float16), group
            else:
                pcm = to_pcm(self._samples(first, last + width * hop), self.stats["rms"])
                yield np.stack([pcm[None, s:s + width * hop] for s in relative]), [s // hop for s in group]


def is_long(path: str | Path, config: FeatureConfig, stream: int = 0) -> bool:
    """Whether a file is scored by streaming: windowed input and a header that says it lasts over LONG_SECONDS."""
    from .audio import audio_duration

    return config.input_mode == "window" and (audio_duration(path, stream) or 0.0) > LONG_SECONDS


def long_clip(path: str | Path, config: FeatureConfig, stream: int = 0) -> tuple[LongClip, tempfile.TemporaryDirectory]:
    """A LongClip of path and the temporary folder that holds its samples (clean it up when done)."""
    directory = tempfile.TemporaryDirectory(prefix="spoofscan-")
    try:
        return LongClip(path, config, directory=directory.name, stream=stream), directory
    except BaseException:
        directory.cleanup()
        raise
