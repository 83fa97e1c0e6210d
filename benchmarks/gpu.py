"""GPU: training images/s (model only and end to end) for AMP modes, channels_last, torch.compile and batch sizes.

Image 224 (the seed's size), stored windows 80 x 128 resized on the device. Each row also gives the efficiency
(end to end / model only). Run it on a CUDA machine:

    python benchmarks/gpu.py [--batches 32,128,256] [--steps 20]
"""
from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import torch

from common import save, table
from train_efficiency import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="32,128,256")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu.py needs CUDA")
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    runs = []
    for batch in map(int, args.batches.split(",")):
        for amp in ("off", "bf16", "fp16"):
            runs.append((batch, amp, True, False))
    middle = int(args.batches.split(",")[1 if "," in args.batches else 0])
    runs += [(middle, "bf16", False, False), (middle, "bf16", True, True)]
    rows = []
    for batch, amp, channels_last, compile_model in runs:
        settings = SimpleNamespace(image_size=args.image_size, height=80, width=128, batch_size=batch,
                                   steps=args.steps, repeat=2)
        row = measure(settings, device, compile_model=compile_model, channels_last=channels_last, amp_name=amp)
        rows.append(row)
        table([row])
    print()
    table(rows)
    save("gpu", {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
