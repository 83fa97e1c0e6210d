"""The FFT filters of `pair` (brickwall at the real clip's band edge, match_spectrum's edge match): an FFT of the
clip's own length, as before, against audio.fft_filter's FFT of the clip zero-padded to a length of small prime
factors (scipy.fft.next_fast_len), on the same clips in one run.

Clip lengths: those of a dataset manifest's real clips (--data; --clips of them, seeded) at their own sample rates,
or, without --data, 2-10 s drawn at 16, 22.05, 44.1 and 48 kHz. The audio is white noise of that length (an FFT's
time does not depend on what it transforms).

    python benchmarks/fft_filter.py [--data MANIFEST.csv] [--clips 100]
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from common import save, table
from spoofscan.audio import brickwall


def brickwall_exact_length(wave: np.ndarray, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """brickwall as it was: the FFT of the clip's own length."""
    spectrum = np.fft.rfft(wave)
    spectrum[np.fft.rfftfreq(wave.size, 1 / sample_rate) > cutoff_hz] = 0
    return np.fft.irfft(spectrum, n=wave.size).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="a dataset manifest: its real clips' lengths")
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    if args.data:
        with open(args.data, newline="") as f:
            paths = [args.data.parent / row["path"] for row in csv.DictReader(f) if row["label"] == "real"]
        infos = [sf.info(paths[i]) for i in rng.choice(len(paths), min(args.clips, len(paths)), replace=False)]
        clips = [(info.frames, info.samplerate) for info in infos]
    else:
        rates = rng.choice([16000, 22050, 44100, 48000], args.clips)
        clips = [(int(rng.uniform(2, 10) * rate), int(rate)) for rate in rates]
    seconds = {"exact length (before)": 0.0, "padded (fft_filter)": 0.0}
    largest_difference = 0.0
    for frames, rate in clips:
        wave = rng.standard_normal(frames).astype(np.float32) * 0.1
        outputs = []
        for name, filtered in (("exact length (before)", brickwall_exact_length), ("padded (fft_filter)", brickwall)):
            start = time.perf_counter()
            outputs.append(filtered(wave, 0.4 * rate, rate))
            seconds[name] += time.perf_counter() - start
        middle = slice(frames // 10, frames - frames // 10)  # the ends differ: circular against zero-padded
        largest_difference = max(largest_difference, float(np.abs(outputs[0][middle] - outputs[1][middle]).max()))
    rows = [{"brickwall FFT": name, "clips": len(clips), "seconds": s, "ms_per_clip": 1000 * s / len(clips)}
            for name, s in seconds.items()]
    table(rows)
    speedup = rows[0]["seconds"] / rows[1]["seconds"]
    print(f"padded is {speedup:.1f}x the exact length's speed; largest difference away from the ends "
          f"{largest_difference:.2e} (signal RMS 0.1)")
    save("fft_filter" if args.data is None else "fft_filter_data", {
        "data": None if args.data is None else str(args.data), "clips": len(clips), "results": rows,
        "speedup": speedup, "largest_difference_inside": largest_difference}, args.out)


if __name__ == "__main__":
    main()
