"""Training efficiency: end-to-end training images/s divided by model-only images/s.

End to end = what `spoofscan train` does per step: read a batch from the packed store, copy it to the device,
resize, augment, forward, backward, optimizer step. Model only = the same step on a synthetic batch already on
the device. Same model, batch size, image size, AMP and memory format. The goal is 0.9 or better.

    python benchmarks/train_efficiency.py [--image-size 64] [--batch-size 32] [--steps 20] [--amp off]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from common import save, table, timed
from spoofscan.augment import augment_batch
from spoofscan.config import FeatureConfig, TrainConfig
from spoofscan.features import model_input
from spoofscan.models import build_model, use_channels_last
from spoofscan.store import SplitData
from spoofscan.train import BatchLoader, Cluster, amp_dtype


def step_fn(model, optimizer, scaler, amp, device):
    criterion = torch.nn.CrossEntropyLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = criterion(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return step


def measure(args, device: torch.device, *, compile_model: bool, channels_last: bool, amp_name: str) -> dict:
    config = TrainConfig(amp=amp_name, batch_size=args.batch_size)
    amp = amp_dtype(config, device)
    torch.manual_seed(0)
    model = build_model("resnet18", FeatureConfig(image_size=args.image_size), "none").to(device)
    if channels_last:
        use_channels_last(model)
    model.train()
    forward = torch.compile(model) if compile_model else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    step = step_fn(forward, optimizer, scaler, amp, device)
    n = args.batch_size * args.steps
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, args.height, args.width), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.u8"
        path.write_bytes(images.tobytes())
        memmap = np.memmap(path, dtype=np.uint8, mode="r", shape=images.shape)
        split = SplitData(memmap, (np.arange(n) % 2).astype(np.int64), np.arange(n), [{}] * n)
        loader = BatchLoader(split, args.batch_size, shuffle=True, seed=0, cluster=Cluster(), device=device)
        x = torch.rand(args.batch_size, 1, args.image_size, args.image_size, device=device)
        y = torch.randint(0, 2, (args.batch_size,), device=device)
        for _ in range(3):  # warm-up (and compilation)
            step(x, y)

        def model_only() -> None:
            for _ in range(args.steps):
                step(x, y)

        def end_to_end() -> None:
            for _, batch, labels in loader:
                step(augment_batch(model_input(batch, FeatureConfig(input_mode="resize", image_size=args.image_size)), config), labels)

        end_to_end()  # warm the page cache and any shape-specialized kernels
        model_s = timed(model_only, repeat=args.repeat)
        e2e_s = timed(end_to_end, repeat=args.repeat)
    return {"amp": str(amp), "compile": compile_model, "channels_last": channels_last,
            "batch": args.batch_size, "image": args.image_size,
            "model_only_img_s": n / model_s, "end_to_end_img_s": n / e2e_s, "efficiency": model_s / e2e_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--height", type=int, default=80, help="stored image height (n_mels)")
    parser.add_argument("--width", type=int, default=128, help="stored image width (window frames)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--amp", default="off", help="auto, bf16, fp16, off (CUDA only)")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    row = measure(args, device, compile_model=args.compile, channels_last=not args.no_channels_last, amp_name=args.amp)
    table([row])
    save(f"train_efficiency_{device.type}_{args.image_size}px", {"args": {k: str(v) for k, v in vars(args).items()},
                                                                 "rows": [row]}, args.out)


if __name__ == "__main__":
    main()
