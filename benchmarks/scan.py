"""Archive scan throughput: clips/s of `predict --workers N` (decoding in N processes) against --workers 1, in one run.

    python benchmarks/scan.py [--clips 48] [--seconds 4] [--checkpoint PATH|base] [--device cpu] [--workers 2,4]

The clips are mp3 files (decoding costs what it costs on real archives); the ratio to workers 1 is the figure.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import soundfile as sf

from common import save, table, timed
from inference import speech_like
from spoofscan.checkpoint import BASE_MODEL
from spoofscan.predict import Detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--checkpoint", default="base")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    detector = Detector.from_checkpoint(BASE_MODEL if args.checkpoint == "base" else args.checkpoint,
                                        device=args.device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = [Path(tmp) / f"clip{n}.mp3" for n in range(args.clips)]
        for n, path in enumerate(clips):
            sf.write(path, speech_like(args.seconds, n), 22050)
        list(detector.predict_files(clips[:2]))  # warm-up
        for workers in [1] + [int(w) for w in args.workers.split(",")]:
            seconds = timed(lambda: list(detector.predict_files(clips, workers=workers)), repeat=2)
            rows.append({"workers": workers, "device": args.device, "clips_per_s": args.clips / seconds})
    for row in rows:
        row["vs_workers_1"] = row["clips_per_s"] / rows[0]["clips_per_s"]
    table(rows)
    save(f"scan_{args.device}", {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
