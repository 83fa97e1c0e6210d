"""Bitrate matching in `pair --match-bitrate`: encodes a fake and how near its real file's size they get, for
spoofscan's secant search (synth.nearest_size_level) against the bisection pair used before it (the compression
level halved 7 times from [0, 1], the nearest of 8 encodes), on the same clips in the same run.

Clips: the lossy real clips (Vorbis, Opus, MP3) of a dataset manifest (--data, e.g. public-demos-train's
MANIFEST.csv; --clips of them drawn with a fixed seed), or, without --data, synthetic speech-like clips coded at
random levels. The "fake" each search codes is its real clip decoded with white noise 30 dB below it (a vocoder's
noise floor makes a copy a little harder to code), so the target size is near, not at, the real file's.

    python benchmarks/bitrate_match.py [--data MANIFEST.csv] [--clips 40]
"""
from __future__ import annotations

import argparse
import csv
import functools
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from common import save, table
from spoofscan.audio import coded_bytes, load_audio
from spoofscan.synth import LOSSY_SUBTYPES, nearest_size_level


def bisection_level(size_at, target: float) -> float:
    """The search pair used up to this benchmark: 8 encodes, the level's range halved 7 times."""
    low, high = 0.0, 1.0
    best = low
    size_at(low)
    for _ in range(7):
        level = (low + high) / 2
        if abs(size_at(level) - target) < abs(size_at(best) - target):
            best = level
        low, high = (level, high) if size_at(level) > target else (low, level)
    return best


def synthetic_clips(folder: Path, count: int, rng: np.random.Generator) -> list[Path]:
    """count clips of 3-8 s of a gliding harmonic voice with noise bursts, each in a random lossy format and level."""
    formats = [("OGG", "VORBIS", ".ogg"), ("OGG", "OPUS", ".opus"), ("MP3", "MPEG_LAYER_III", ".mp3")]
    paths = []
    for n in range(count):
        rate = int(rng.choice([16000, 22050, 44100, 48000]))
        fmt, subtype, suffix = formats[n % len(formats)]
        if subtype == "OPUS":
            rate = 48000
        t = np.arange(int(rng.uniform(3, 8) * rate)) / rate
        f0 = 120 + 60 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        voice = sum(np.sin(k * phase) / k for k in range(1, 30) if k * f0.max() < rate / 2)
        wave = 0.2 * voice * (np.sin(2 * np.pi * 3 * t) > 0) + 0.02 * rng.standard_normal(t.size)
        path = folder / f"clip{n:03d}{suffix}"
        sf.write(path, (wave / np.abs(wave).max() * 0.5).astype(np.float32), rate, format=fmt, subtype=subtype,
                 compression_level=float(rng.uniform(0.05, 0.95)))
        paths.append(path)
    return paths


def manifest_clips(manifest: Path, count: int, rng: np.random.Generator) -> list[Path]:
    with open(manifest, newline="") as f:
        paths = [manifest.parent / row["path"] for row in csv.DictReader(f) if row["label"] == "real"]
    lossy = [p for p in paths if sf.info(p).subtype in LOSSY_SUBTYPES]
    return [lossy[i] for i in sorted(rng.choice(len(lossy), min(count, len(lossy)), replace=False))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="a dataset manifest: its lossy real clips")
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    scratch = tempfile.TemporaryDirectory()
    clips = (manifest_clips(args.data, args.clips, rng) if args.data
             else synthetic_clips(Path(scratch.name), args.clips, rng))
    searches = {"bisection (before)": bisection_level, "secant (nearest_size_level)": nearest_size_level}
    found = {name: {"encodes": [], "size_error": [], "seconds": 0.0} for name in searches}
    for path in clips:
        info = sf.info(path)
        wave = load_audio(path, sample_rate=info.samplerate)
        wave = wave + rng.standard_normal(wave.size).astype(np.float32) * 10 ** (-30 / 20) * wave.std()
        if info.channels > 1:
            wave = np.repeat(wave[:, None], info.channels, axis=1)
        target = coded_bytes(path) * wave.shape[0] / max(info.frames, 1)
        for name, search in searches.items():
            @functools.lru_cache(maxsize=None)
            def size_at(level: float) -> int:
                buffer = io.BytesIO()
                sf.write(buffer, wave, info.samplerate, format=info.format, subtype=info.subtype,
                         compression_level=level)
                return len(buffer.getvalue())

            start = time.perf_counter()
            level = search(size_at, target)
            found[name]["seconds"] += time.perf_counter() - start
            found[name]["encodes"].append(size_at.cache_info().currsize)
            found[name]["size_error"].append(abs(size_at(level) / target - 1))
    rows = [{"search": name, "encodes_mean": float(np.mean(r["encodes"])), "encodes_max": int(np.max(r["encodes"])),
             "size_error_median": float(np.median(r["size_error"])),
             "size_error_p90": float(np.percentile(r["size_error"], 90)), "seconds": r["seconds"]}
            for name, r in found.items()]
    table(rows)
    speedup = rows[0]["seconds"] / rows[1]["seconds"]
    print(f"{len(clips)} clips: the secant search is {speedup:.2f}x the bisection's speed")
    save("bitrate_match" if args.data is None else "bitrate_match_data", {
        "data": None if args.data is None else str(args.data), "clips": len(clips), "results": rows,
        "speedup": speedup}, args.out)


if __name__ == "__main__":
    main()
