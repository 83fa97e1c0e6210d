"""Degradation suite: the same test clips through codecs, noise, reverberation, resampling and gain.

Each condition is a deterministic function of (waveform, sample rate, seed), so a table is reproducible.
degradation_suite scores every clip under every condition with a Detector and reports EER and AUC per
condition: how much a detector's accuracy depends on the recording chain.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf
import soxr

from .audio import G722_RATE, brickwall, clean_waveform, g722_decode, g722_encode, load_audio, resample
from .config import FeatureConfig
from .errors import SpoofscanError
from .layouts import Item
from .metrics import eer, roc_auc

CONDITIONS = ("clean", "mp3", "ogg_vorbis", "opus", "telephone", "gsm", "g722", "noise_20db", "noise_10db", "reverb",
              "resample_16k", "gain_-20db")
RANDOM_SNR_DB = (5.0, 30.0)  # noise_random: white noise at an SNR drawn uniformly from this range, per clip and seed
# Train-time copies that take a file property away from both classes alike (the shortcut audit's cues): band_limit
# cuts the band at a random edge below a 16 kHz file's, peak_limit squashes the peaks to a random crest factor.
BAND_LIMIT_HZ = (3500.0, 7500.0)
PEAK_LIMIT_DB = (6.0, 14.0)  # peaks at most this far above the clip's RMS
# mp3_random: libsndfile's constant-bitrate compression level, drawn per clip and seed; 0.4-0.85 is about 100-35
# kbit/s for 22.05 kHz speech, which keeps a band to 10 kHz and leaves spectral holes (the "mp3" condition: 24 kbit/s)
MP3_RANDOM_LEVEL = (0.4, 0.85)
# what `prepare --augment` accepts
AUGMENTATIONS = CONDITIONS[1:] + ("noise_random", "mp3_random", "band_limit", "peak_limit")


def _codec(wave: np.ndarray, rate: int, **format_args) -> np.ndarray:
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(wave, -1, 1), rate, **format_args)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32", always_2d=True)
    decoded = decoded[:, 0][:wave.size]
    return np.pad(decoded, (0, wave.size - decoded.size))


def _at(wave: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    return soxr.resample(wave, rate, new_rate).astype(np.float32)


def _noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    power = float(np.mean(wave.astype(np.float64) ** 2))
    return (wave + rng.standard_normal(wave.size) * np.sqrt(power / 10 ** (snr_db / 10))).astype(np.float32)


def _reverb(wave: np.ndarray, rate: int, rng: np.random.Generator, rt60: float = 0.5) -> np.ndarray:
    """A synthetic room: exponentially decaying noise (RT60 0.5 s) after a direct path."""
    t = np.arange(int(rt60 * rate)) / rate
    response = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60) * 0.3
    response[0] = 1.0
    wet = scipy.signal.fftconvolve(wave, response)[:wave.size]
    return (wet * np.sqrt(np.mean(wave**2) / max(np.mean(wet**2), 1e-12))).astype(np.float32)


def _peak_limit(wave: np.ndarray, crest_db: float) -> np.ndarray:
    """A soft limiter: samples pass through ceiling x tanh(x / ceiling), the ceiling crest_db above the RMS."""
    ceiling = np.sqrt(np.mean(wave.astype(np.float64) ** 2)) * 10 ** (crest_db / 20)
    if ceiling <= 0:
        return wave
    return (ceiling * np.tanh(wave / ceiling)).astype(np.float32)


def degrade(wave: np.ndarray, rate: int, condition: str, *, seed: int = 0) -> tuple[np.ndarray, int]:
    """(waveform, rate) after one condition of CONDITIONS or AUGMENTATIONS."""
    rng = np.random.default_rng(seed)
    if condition == "clean":
        return wave, rate
    if condition == "mp3":
        return _codec(wave, rate, format="MP3", bitrate_mode="CONSTANT", compression_level=0.9), rate
    if condition == "mp3_random":
        return _codec(wave, rate, format="MP3", bitrate_mode="CONSTANT",
                      compression_level=rng.uniform(*MP3_RANDOM_LEVEL)), rate
    if condition == "ogg_vorbis":
        return _codec(wave, rate, format="OGG", subtype="VORBIS", compression_level=0.8), rate
    if condition == "opus":  # VoIP and messaging apps: 16 kHz Ogg Opus at about 19 kbit/s
        return _codec(_at(wave, rate, 16000), 16000, format="OGG", subtype="OPUS", compression_level=0.95), 16000
    if condition == "gsm":  # a mobile call: 8 kHz GSM 06.10 full rate (13 kbit/s)
        return _codec(_at(wave, rate, 8000), 8000, format="WAV", subtype="GSM610"), 8000
    if condition == "telephone":  # 8 kHz, 300-3400 Hz band, mu-law, as on a landline
        sos = scipy.signal.butter(4, [300, 3400], btype="band", fs=8000, output="sos")
        band = scipy.signal.sosfilt(sos, _at(wave, rate, 8000)).astype(np.float32)
        return _codec(band, 8000, format="WAV", subtype="ULAW"), 8000
    if condition == "g722":  # wideband VoIP: 16 kHz, G.722 at 64 kbit/s
        wide = _at(wave, rate, G722_RATE)
        return g722_decode(g722_encode(wide))[:wide.size], G722_RATE
    if condition == "noise_random":
        return _noise(wave, rng.uniform(*RANDOM_SNR_DB), rng), rate
    if condition.startswith("noise_"):
        return _noise(wave, float(condition.removeprefix("noise_").removesuffix("db")), rng), rate
    if condition == "band_limit":
        return brickwall(wave, min(rng.uniform(*BAND_LIMIT_HZ), rate / 2), rate), rate
    if condition == "peak_limit":
        return _peak_limit(wave, rng.uniform(*PEAK_LIMIT_DB)), rate
    if condition == "reverb":
        return _reverb(wave, rate, rng), rate
    if condition == "resample_16k":
        return _at(wave, rate, 16000), 16000
    if condition.startswith("gain_"):
        return (wave * 10 ** (float(condition.removeprefix("gain_").removesuffix("db")) / 20)).astype(np.float32), rate
    raise SpoofscanError(f"--condition {condition!r}: use one of {', '.join(('clean',) + AUGMENTATIONS)}")


def cleaned_copies(path: str | Path, config: FeatureConfig, degradations: tuple[tuple[str, int], ...] = ()
                   ) -> list[np.ndarray]:
    """The clip as a model with config reads it (clean_waveform at config.sample_rate), then one such waveform for
    each (condition, seed) of degradations: the copies `prepare --augment` trains on."""
    wave = load_audio(path, sample_rate=config.sample_rate)
    waves = [clean_waveform(wave, config, name=str(path))[0]]
    for condition, seed in degradations:
        degraded, rate = degrade(wave, config.sample_rate, condition, seed=seed)
        waves.append(clean_waveform(resample(degraded, rate, config.sample_rate, name=str(path)), config,
                                    name=f"{path} ({condition})")[0])
    return waves


def degradation_suite(detector, items: list[Item], *, conditions: tuple[str, ...] = CONDITIONS,
                      seed: int = 0) -> list[dict]:
    """EER and ROC AUC of detector on items under each condition (clips that fail are counted, not scored)."""
    for condition in conditions:
        degrade(np.zeros(16, np.float32), 16000, condition)  # unknown names fail before any work
    rate = detector.config.sample_rate
    scores: dict[str, list[float]] = {c: [] for c in conditions}
    labels: dict[str, list[int]] = {c: [] for c in conditions}
    failed = {c: 0 for c in conditions}
    for n, item in enumerate(items):
        try:
            wave = load_audio(item.path, sample_rate=rate)
        except SpoofscanError:
            for c in conditions:
                failed[c] += 1
            continue
        for condition in conditions:
            try:
                degraded, degraded_rate = degrade(wave, rate, condition, seed=seed + n)
                scores[condition].append(detector.predict(degraded, degraded_rate, name=item.path).log_odds)
                labels[condition].append(int(item.label == "fake"))
            except SpoofscanError:
                failed[condition] += 1
    rows = []
    for condition in conditions:
        y, s = np.array(labels[condition]), np.array(scores[condition])
        if len(set(y)) < 2:
            raise SpoofscanError(f"condition {condition}: fewer than two classes could be scored")
        rows.append({"condition": condition, "eer": eer(y, s)[0], "roc_auc": roc_auc(y, s), "clips": len(y),
                     "failed": failed[condition]})
    return rows


def table_markdown(rows: list[dict], columns: list[str]) -> str:
    """A markdown table of rows; floats below 1 as percentages when the column is an EER."""
    def cell(key: str, value) -> str:
        if isinstance(value, float):
            return f"{value:.2%}" if "eer" in key else f"{value:.4f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(c, r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"
