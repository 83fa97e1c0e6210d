"""Long files: peak memory and time of `predict` on one long 44.1 kHz file, streamed (bounded memory) against the
in-memory path on the same file, each in a fresh process.

    python benchmarks/long_audio.py [--hours 3] [--baseline-hours 0.5] [--checkpoint base]

The in-memory path is run on --baseline-hours (it grows with the audio); the ratio is peak memory per hour.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from common import save, table
from inference import speech_like

CHILD = """
import json, resource, sys, time
import spoofscan.streaming as streaming
from spoofscan.audio import load_audio
from spoofscan.predict import Detector
path, mode, checkpoint = sys.argv[1], sys.argv[2], sys.argv[3]
detector = Detector.from_checkpoint(None if checkpoint == "base" else checkpoint)
start = time.perf_counter()
if mode == "streamed":
    prediction = detector.predict_long(path)
else:
    prediction = detector.predict(load_audio(path, sample_rate=detector.config.sample_rate),
                                  detector.config.sample_rate, name=path)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "log_odds": prediction.log_odds, "windows": len(prediction.window_scores)}))
"""


def write_long(path: Path, hours: float, rate: int = 44100) -> None:
    """Speech-like audio in 60 s blocks, so that making the file needs no memory either."""
    with sf.SoundFile(path, "w", samplerate=rate, channels=2, subtype="PCM_16") as f:
        for minute in range(int(round(hours * 60))):
            block = speech_like(60.0, minute, rate=rate)
            f.write(np.stack([block, 0.7 * block], axis=1))


def run(path: Path, mode: str, checkpoint: str) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(path), mode, checkpoint], capture_output=True,
                            text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--baseline-hours", type=float, default=0.5)
    parser.add_argument("--checkpoint", default="base")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        short, long = Path(tmp) / "short.wav", Path(tmp) / "long.wav"
        write_long(short, args.baseline_hours)
        write_long(long, args.hours)
        for path, hours, mode in ((short, args.baseline_hours, "in-memory"), (short, args.baseline_hours, "streamed"),
                                  (long, args.hours, "streamed")):
            result = run(path, mode, args.checkpoint)
            rows.append({"path": mode, "audio_hours": hours, "peak_mb": result["peak_mb"],
                         "mb_per_audio_hour": result["peak_mb"] / hours, "x_real_time": hours * 3600 / result["seconds"],
                         "windows": result["windows"], "log_odds": result["log_odds"]})
    rows[1]["same_score_as_in_memory"] = abs(rows[1]["log_odds"] - rows[0]["log_odds"]) < 1e-4
    table(rows)
    save("long_audio_cpu", {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
