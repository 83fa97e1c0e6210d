"""Inference: real-time factor of `spoofscan predict` on a 60 s file and clips/s on 4 s clips, torch and onnx.

RTF = processing seconds / audio seconds (lower is faster; 0.05 = 20x faster than real time). Uses a checkpoint
with the default FeatureConfig at the given image size (weights do not change the speed), or with --checkpoint a
real one of any family (--checkpoint base: the built-in spoofscan-base; a fused checkpoint: --backends torch).

    python benchmarks/inference.py [--image-size 224] [--clips 16] [--device cpu] [--checkpoint PATH|base]
                                   [--threads 0,2]

--threads: torch threads as `predict --threads` (0 = automatic: 1 for the LFCC-GMM, else torch's default); a list
compares settings in one run.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from common import save, table, timed
from spoofscan.checkpoint import BASE_MODEL, load_checkpoint, save_checkpoint
from spoofscan.config import FeatureConfig, TrainConfig, to_dict
from spoofscan.models import build_model
from spoofscan.predict import Detector


def speech_like(seconds: float, seed: int, rate: int = 22050) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.7 * t)) / rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 10)) * (0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 3 * t)))
    return (0.3 * wave / np.abs(wave).max() + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backends", default="torch,onnx")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--threads", default="0", help="comma-separated torch thread counts (0 = automatic)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.checkpoint:
            checkpoint = BASE_MODEL if args.checkpoint == "base" else Path(args.checkpoint)
            state = load_checkpoint(checkpoint)
            model = state["train_config"].model if "fusion" not in state else "fusion"
            args.image_size = state["feature_config"].image_size if model == "resnet18" else 0
        else:
            model = "resnet18"
            checkpoint = save_checkpoint(tmp / "model.pt", {
                "model": build_model("resnet18", FeatureConfig(image_size=args.image_size), "none").state_dict(),
                "feature_config": to_dict(FeatureConfig(image_size=args.image_size)),
                "train_config": to_dict(TrainConfig(weights="none")),
                "threshold": 0.5})
        long_file = tmp / "long.wav"
        sf.write(long_file, speech_like(60.0, 0), 22050)
        clips = [tmp / f"clip{n}.wav" for n in range(args.clips)]
        for n, path in enumerate(clips):
            sf.write(path, speech_like(4.0, n + 1), 22050)
        default_threads = torch.get_num_threads()
        for backend in args.backends.split(","):
            for threads in (int(t) for t in args.threads.split(",")):
                detector = Detector.from_checkpoint(checkpoint, device=args.device, backend=backend)
                torch.set_num_threads(default_threads)
                threads = detector.use_threads(threads)
                detector.predict_file(clips[0])  # warm-up
                long_s = timed(lambda: detector.predict_file(long_file), repeat=2)
                clips_s = timed(lambda: list(detector.predict_files(clips)), repeat=2)
                rows.append({"model": model, "backend": backend, "device": args.device, "image": args.image_size,
                             "threads": threads, "rtf_60s_file": long_s / 60.0, "x_real_time": 60.0 / long_s,
                             "clips_per_s_4s": args.clips / clips_s})
    table(rows)
    name = {"base": "base", None: f"{args.image_size}px"}.get(args.checkpoint, Path(str(args.checkpoint)).parent.name)
    save(f"inference_{args.device}_{name}", {"args": {k: str(v) for k, v in vars(args).items()},
                                                          "rows": rows}, args.out)


if __name__ == "__main__":
    main()
