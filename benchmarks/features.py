"""Features: clips/s of `spoofscan prepare` against a per-file librosa baseline on the same audio.

Baseline: for each file, librosa.load(sr=22050) + librosa.feature.melspectrogram (the same settings) + log +
np.save of the mel, one file at a time (the seed's preprocessing style). spoofscan: `prepare` with N worker
processes into a packed store (worker start-up, checksums and index included). Both are warmed up first and the
best of two runs counts.

    python benchmarks/features.py MANIFEST_OR_FOLDER [--workers 2]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import librosa
import numpy as np

from common import save, table, timed
from spoofscan.config import FeatureConfig
from spoofscan.layouts import load_items
from spoofscan.store import prepare


def librosa_baseline(paths: list[str], out: Path) -> None:
    for n, path in enumerate(paths):
        wave, _ = librosa.load(path, sr=22050)
        mel = librosa.feature.melspectrogram(y=wave, sr=22050, n_fft=1024, hop_length=256, win_length=1024,
                                             n_mels=80, power=1.0, pad_mode="constant")
        np.save(out / f"{n}.npy", np.log(np.clip(mel, 1e-5, None)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="dataset folder or CSV manifest")
    parser.add_argument("--workers", type=int, default=0, help="prepare's worker processes (0 = all cores)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    items = [it for it in load_items(args.data)]
    for it in items:
        it.split = "train"
    paths = [it.path for it in items]
    seconds_audio = sum(librosa.get_duration(path=p) for p in paths)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # warm both (imports, filter banks, the page cache), then keep the best of two runs each
        librosa_baseline(paths[:8], tmp)
        prepare(items[:8], tmp / "warm", FeatureConfig(), workers=1, progress=False)
        baseline_s = timed(lambda: librosa_baseline(paths, tmp), repeat=2)
        runs = iter(range(2))
        spoofscan_s = timed(lambda: prepare(items, tmp / f"store{next(runs)}", FeatureConfig(), workers=args.workers,
                                            progress=False), repeat=2)
        store_bytes = sum(f.stat().st_size for f in (tmp / "store1").iterdir())
    rows = [{"pipeline": "librosa per file (load + melspectrogram + np.save)", "clips_per_s": len(paths) / baseline_s},
            {"pipeline": f"spoofscan prepare (workers={args.workers or 'all'})", "clips_per_s": len(paths) / spoofscan_s}]
    table(rows)
    print(f"spoofscan / librosa: {baseline_s / spoofscan_s:.2f}x; {len(paths)} clips, {seconds_audio:.0f} s of audio; "
          f"store {store_bytes / len(paths) / 1e3:.1f} kB per clip")
    save("features", {"args": {k: str(v) for k, v in vars(args).items()}, "clips": len(paths),
                      "audio_seconds": seconds_audio, "rows": rows, "ratio": baseline_s / spoofscan_s,
                      "store_kb_per_clip": store_bytes / len(paths) / 1e3}, args.out)


if __name__ == "__main__":
    main()
