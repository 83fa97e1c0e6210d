"""Loader: samples/s of spoofscan's training input vs a faithful re-implementation of the seed's Dataset.

The seed: per-file np.load, 3-channel stack, min-max to uint8, PIL image, torchvision transforms with the seed's
augmentations, Resize 224, ToTensor, Normalize, DataLoader(num_workers=0, batch 32). spoofscan: the packed store
(the same mels, the deterministic part done once by `prepare`) read by BatchLoader, then batched augmentation and
normalization on the training device. Both produce a training-ready (32, 3 or 1, S, S) float batch.

    python benchmarks/loader.py [--clips 512] [--image-size 224] [--device cpu]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image  # noqa: F401 - the seed's pipeline goes through PIL images
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from common import save, table, timed
from spoofscan.augment import augment_batch
from spoofscan.config import FeatureConfig, TrainConfig
from spoofscan.layouts import Item
from spoofscan.store import Store, prepare
from spoofscan.train import BatchLoader, Cluster
from spoofscan.features import model_input


class SeedDataset(Dataset):
    """The seed report's Dataset, step by step (section 4 and 7)."""

    def __init__(self, paths: list[Path], labels: list[int], image_size: int) -> None:
        self.paths, self.labels = paths, labels
        self.augmentations = transforms.Compose([
            transforms.RandomApply([transforms.RandomResizedCrop(image_size, scale=(0.8, 1.0))], p=0.5),
            transforms.RandomHorizontalFlip(p=0.5),
            transforms.RandomApply([transforms.ColorJitter(0.1, 0.1, 0.1, 0.05)], p=0.4),
            transforms.RandomApply([transforms.GaussianBlur(3)], p=0.3),
        ])
        self.finish = transforms.Compose([
            transforms.Resize((image_size, image_size)), transforms.ToTensor(),
            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        mel = np.load(self.paths[i])
        mel = np.stack([mel] * 3, axis=-1)
        low, high = mel.min(), mel.max()
        image = transforms.ToPILImage()(((mel - low) / (high - low + 1e-9) * 255).astype(np.uint8))
        return self.finish(self.augmentations(image)), self.labels[i]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=512)
    parser.add_argument("--frames", type=int, default=430, help="mel frames per clip (430 = 5 s at hop 256)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args()
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths, labels, items = [], [], []
        for n in range(args.clips):
            path = folder / f"LJ{n:05d}.npy"
            np.save(path, rng.normal(-5, 2, size=(80, args.frames)).astype(np.float32))
            paths.append(path)
            labels.append(n % 2)
            items.append(Item(str(path), "fake" if n % 2 else "real", "x", path.stem, split="train"))
        features = FeatureConfig(input_mode="resize", image_size=args.image_size)
        store = Store(prepare(items, folder / "store", features, workers=2, progress=False))
        split = store.split("train")
        config = TrainConfig()

        def seed_epoch() -> None:
            for images, targets in DataLoader(SeedDataset(paths, labels, args.image_size), batch_size=args.batch_size,
                                              shuffle=True, num_workers=0, pin_memory=device.type == "cuda"):
                images.to(device, non_blocking=True)
                targets.to(device, non_blocking=True)

        def spoofscan_epoch() -> None:
            loader = BatchLoader(split, args.batch_size, shuffle=True, seed=0, cluster=Cluster(), device=device)
            for _, images, _ in loader:
                augment_batch(model_input(images, features), config)

        seed_s = timed(seed_epoch, repeat=2)
        spoofscan_s = timed(spoofscan_epoch, repeat=3)
    rows = [{"pipeline": "seed Dataset (np.load, PIL, transforms, num_workers=0)", "samples_per_s": args.clips / seed_s},
            {"pipeline": "spoofscan store + on-device batch augmentation", "samples_per_s": args.clips / spoofscan_s}]
    table(rows)
    ratio = seed_s / spoofscan_s
    print(f"spoofscan / seed: {ratio:.1f}x")
    save(f"loader_{device.type}", {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows,
                                   "ratio": ratio}, args.out)


if __name__ == "__main__":
    main()
