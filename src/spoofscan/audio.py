"""Audio in: decode any audio or video file, mix to mono, resample, trim silence, reject unusable clips.

soundfile (libsndfile) is the fast path for wav/flac/ogg/mp3; everything else (m4a/AAC, mp4/mov/webm/mkv audio
tracks, Opus, AMR, WMA, ...) and whatever soundfile cannot read goes through PyAV, whose wheel bundles FFmpeg's
decoders. Raw G.722 (Asterisk's .g722 prompts) has its own decoder.
"""
from __future__ import annotations

from pathlib import Path

import G722
import numpy as np
import scipy.fft
import soundfile as sf
import soxr

from .config import FeatureConfig
from .errors import SpoofscanError, UnsupportedAudio

SOUNDFILE_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
AV_EXTENSIONS = (".m4a", ".aac", ".mp4", ".mov", ".webm", ".mkv", ".opus", ".oga", ".amr", ".3gp", ".wma", ".wmv",
                 ".aif", ".aiff", ".caf", ".ac3", ".avi")
AUDIO_EXTENSIONS = SOUNDFILE_EXTENSIONS + AV_EXTENSIONS + (".g722",)
G722_RATE, G722_BITRATE = 16000, 64000  # raw G.722 as Asterisk ships its wideband prompts
SILENCE_PEAK = 1e-4  # a clip whose peak is below -80 dBFS is silent


def load_audio(path: str | Path, *, sample_rate: int = 22050, stream: int = 0) -> np.ndarray:
    """Decode path (its stream-th audio stream) to a mono float32 waveform at sample_rate (soxr resampling)."""
    path = Path(path)
    if not path.is_file():
        raise SpoofscanError(f"{path}: file not found; check the path")
    if stream < 0:
        raise SpoofscanError(f"--stream {stream}: audio streams are numbered from 0")
    if path.suffix.lower() == ".g722":
        data, rate = g722_decode(path.read_bytes())[:, None], G722_RATE
    elif path.suffix.lower() in SOUNDFILE_EXTENSIONS and stream == 0:
        try:
            data, rate = sf.read(path, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
            data, rate = decode_with_av(path, stream)  # a container libsndfile does not know behind a known name
    else:
        data, rate = decode_with_av(path, stream)
    if data.shape[0] == 0:
        raise SpoofscanError(f"{path}: empty audio (0 samples); remove the file or replace it")
    return resample(data.mean(axis=1), rate, sample_rate, name=str(path))


def decode_with_av(path: Path, stream: int = 0) -> tuple[np.ndarray, int]:
    """(samples, channels) float32 and the sample rate of a file's stream-th audio stream, decoded by FFmpeg."""
    import av

    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise UnsupportedAudio(f"{path}: no audio stream in this file (a video without sound?); give a file "
                                     "that has audio")
            if stream >= len(streams):
                raise SpoofscanError(f"{path}: --stream {stream}, but the file has {len(streams)} audio stream(s) "
                                     f"(0 to {len(streams) - 1})")
            chosen = streams[stream]
            to_float = av.AudioResampler(format="fltp", layout=chosen.layout, rate=chosen.rate)
            planes = [resampled.to_ndarray() for frame in container.decode(chosen)
                      for resampled in to_float.resample(frame)]
            planes += [resampled.to_ndarray() for resampled in to_float.resample(None)]
            rate = chosen.rate
    except av.FFmpegError as exc:
        raise UnsupportedAudio(f"{path}: cannot decode audio ({exc}); the file is corrupt or not an audio/video "
                               "file") from None
    if not planes or rate is None:
        return np.zeros((0, 1), np.float32), rate or 1
    return np.concatenate(planes, axis=1).T.astype(np.float32, copy=False), rate


def audio_duration(path: str | Path, stream: int = 0) -> float | None:
    """Seconds of audio in a file from its header, without decoding it (None when the header does not say)."""
    try:
        info = sf.info(path)
        return info.frames / info.samplerate
    except (sf.LibsndfileError, RuntimeError):
        pass
    import av

    try:
        with av.open(str(path)) as container:
            chosen = container.streams.audio[stream]
            if chosen.duration is not None and chosen.time_base is not None:
                return float(chosen.duration * chosen.time_base)
            return container.duration / 1e6 if container.duration else None
    except (av.FFmpegError, IndexError):
        return None


def decode_blocks(path: str | Path, stream: int = 0, *, block_seconds: float = 20.0):
    """Yield (mono float32 block, sample rate) through a file, a few seconds at a time (bounded memory)."""
    path = Path(path)
    if path.suffix.lower() in SOUNDFILE_EXTENSIONS and stream == 0:
        try:
            f = sf.SoundFile(path)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
            f = None  # not a file libsndfile reads after all: FFmpeg below
        if f is not None:
            with f:
                while len(block := f.read(int(block_seconds * f.samplerate), dtype="float32", always_2d=True)):
                    yield block.mean(axis=1), f.samplerate
            return
    import av

    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if stream >= len(streams):
                decode_with_av(path, stream)  # raises the one-line error for this file
            chosen = streams[stream]
            to_float = av.AudioResampler(format="fltp", layout=chosen.layout, rate=chosen.rate)
            for frame in container.decode(chosen):
                for resampled in to_float.resample(frame):
                    yield resampled.to_ndarray().mean(axis=0).astype(np.float32), chosen.rate
            for resampled in to_float.resample(None):
                yield resampled.to_ndarray().mean(axis=0).astype(np.float32), chosen.rate
    except av.FFmpegError as exc:
        raise UnsupportedAudio(f"{path}: cannot decode audio ({exc}); the file is corrupt or not an audio/video "
                               "file") from None


def native_rate(path: str | Path, stream: int = 0) -> int | None:
    """The file's own sample rate, or None when it cannot be read (loading it then says why)."""
    if Path(path).suffix.lower() == ".g722":
        return G722_RATE
    try:
        return sf.info(path).samplerate
    except (sf.LibsndfileError, RuntimeError):
        pass
    import av

    try:
        with av.open(str(path)) as container:
            return container.streams.audio[stream].rate
    except (av.FFmpegError, IndexError):
        return None


def coded_bytes(path: str | Path) -> int:
    """The bytes of path that code its audio: the file's size less an MP3's ID3v2 tag at the start and ID3v1 tag
    at the end (titles, cover art), which say how the file was labelled, not how coarsely its audio was coded."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(10)
        if len(head) == 10 and head[:3] == b"ID3":
            footer = 10 if head[5] & 0x10 else 0  # a footer copies the header at the tag's end
            size -= 10 + footer + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7
                                   | head[9] & 0x7F)  # a "syncsafe" integer: 7 bits per byte
        if size >= 128:
            f.seek(-128, 2)
            size -= 128 if f.read(3) == b"TAG" else 0
    return max(size, 0)


def g722_encode(wave: np.ndarray) -> bytes:
    """16 kHz float waveform -> raw G.722 at 64 kbit/s (ITU-T G.722, wideband telephony)."""
    pcm = np.round(np.clip(wave, -1.0, 32767 / 32768) * 32768).astype(np.int16)
    return G722.G722(G722_RATE, G722_BITRATE).encode(pcm)


def g722_decode(data: bytes) -> np.ndarray:
    """Raw G.722 at 64 kbit/s -> 16 kHz float32 waveform."""
    return np.asarray(G722.G722(G722_RATE, G722_BITRATE).decode(data), dtype=np.float32) / 32768


def resample(wave: np.ndarray, rate: int, sample_rate: int, *, name: str = "waveform") -> np.ndarray:
    """Mono float32 at sample_rate; NaN or infinite samples are an error."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 2:  # (samples, channels)
        wave = wave.mean(axis=1)
    if wave.ndim != 1 or wave.size == 0:
        raise SpoofscanError(f"{name}: expected a non-empty 1-D (or samples x channels) waveform, got shape {wave.shape}")
    if not np.isfinite(wave).all():
        raise SpoofscanError(f"{name}: audio contains NaN or infinite samples; re-export the file")
    if rate != sample_rate:
        wave = soxr.resample(wave, rate, sample_rate, quality="HQ").astype(np.float32, copy=False)
    return wave


def sound_bounds(wave: np.ndarray, *, top_db: float = 40.0, frame_length: int = 1024,
                 hop_length: int = 256) -> tuple[int, int]:
    """(start, end) samples between the first and last frame whose RMS is within top_db of the loudest frame."""
    if wave.size < frame_length:
        return 0, wave.size
    energy = np.concatenate([[0.0], np.cumsum(np.square(wave, dtype=np.float64))])
    starts = np.arange(0, wave.size - frame_length + 1, hop_length)
    rms = np.sqrt((energy[starts + frame_length] - energy[starts]) / frame_length)
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-top_db / 20))
    return int(loud[0] * hop_length), int(loud[-1] * hop_length + frame_length)


def trim_silence(wave: np.ndarray, *, top_db: float = 40.0, frame_length: int = 1024, hop_length: int = 256) -> np.ndarray:
    """Cut leading and trailing frames whose RMS is more than top_db below the loudest frame."""
    start, end = sound_bounds(wave, top_db=top_db, frame_length=frame_length, hop_length=hop_length)
    return wave[start:end]


def fft_filter(wave: np.ndarray, gain_at_hz, sample_rate: int) -> np.ndarray:
    """wave with each frequency's amplitude times gain_at_hz(frequencies in Hz), a zero-phase filter made by one FFT.
    wave is zero-padded to a length of small prime factors first and cut back after: an FFT of a length with a large
    prime factor (most clip lengths) takes 10-50x longer."""
    size = scipy.fft.next_fast_len(wave.size, real=True)
    spectrum = np.fft.rfft(wave, n=size)
    spectrum *= gain_at_hz(np.fft.rfftfreq(size, 1 / sample_rate))
    return np.fft.irfft(spectrum, n=size)[:wave.size].astype(np.float32)


def brickwall(wave: np.ndarray, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """Zero every frequency above cutoff_hz (FFT): a band edge as sharp as a recording's anti-aliasing filter."""
    return fft_filter(wave, lambda hz: hz <= cutoff_hz, sample_rate)


def clean_waveform(wave: np.ndarray, config: FeatureConfig, *, name: str) -> tuple[np.ndarray, int]:
    """Reject silent audio, trim silence (same rule for both classes), reject clips left too short.

    Returns the kept audio and the sample where it starts in the input.
    """
    if float(np.abs(wave).max()) < SILENCE_PEAK:
        raise SpoofscanError(f"{name}: silent audio (peak below -80 dBFS); remove the file or check the recording")
    start = 0
    if config.trim_silence:
        start, end = sound_bounds(wave, top_db=config.trim_db, frame_length=config.win_length,
                                  hop_length=config.hop_length)
        wave = wave[start:end]
    seconds = wave.size / config.sample_rate
    if seconds < config.min_duration:
        raise SpoofscanError(
            f"{name}: too short ({seconds:.3f} s of sound, min_duration is {config.min_duration} s); "
            "use a longer clip or lower min_duration")
    return wave, start


def read_clip(path: str | Path, config: FeatureConfig) -> np.ndarray:
    """load_audio + clean_waveform with the settings of config."""
    return clean_waveform(load_audio(path, sample_rate=config.sample_rate), config, name=str(path))[0]
