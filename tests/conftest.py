"""Small synthetic data for the tests: speech-like tones (real) and a crude 'vocoder' (fake)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 16000


def speechlike(seconds: float = 1.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A harmonic tone with a wandering pitch and syllable-like envelope (stands in for real speech)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 110 + 40 * rng.random() + 20 * np.sin(2 * np.pi * (0.5 + rng.random()) * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    wave = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * (2 + 2 * rng.random()) * t))
    wave = wave * envelope + 0.01 * rng.standard_normal(t.size)
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def vocode(wave: np.ndarray, seed: int = 0) -> np.ndarray:
    """A crude 'vocoder': the same utterance with a metallic high-band buzz (an easy, learnable artifact)."""
    rng = np.random.default_rng(seed + 1000)
    t = np.arange(wave.size) / SR
    buzz = 0.05 * np.sign(np.sin(2 * np.pi * 5000 * t)) * (np.abs(wave) > 0.02)
    return (wave + buzz + 0.002 * rng.standard_normal(wave.size)).astype(np.float32)


def write_rows(path: Path, rows: list[dict]) -> Path:
    """A CSV manifest with the first row's keys as its columns."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write(path: Path, wave: np.ndarray, sr: int = SR, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, sr, **kwargs)
    return path


def loo_folder(root: Path, clips: list[tuple[str, int, str]], log_odds) -> Path:
    """A `spoofscan loo` output folder holding the given out-of-fold scores: (id, label, fold) and a log-odds each."""
    root.mkdir(parents=True)
    (root / "loo.json").write_text("{}")
    for fold in sorted({c[2] for c in clips}):
        report = root / fold / "report_seed0"
        report.mkdir(parents=True)
        rows = ["id,system,label,group,speaker,score,log_odds"]
        rows += [f"{c[0]},sys,{'fake' if c[1] else 'real'},g{c[0]},unknown,0.5,{lo}"
                 for c, lo in zip(clips, log_odds) if c[2] == fold]
        (report / "scores.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture
def wavefake_tree(tmp_path: Path) -> Path:
    """LJSpeech + WaveFake style: wavs/LJ001-000N.wav and two vocoder folders of LJ001-000N_gen.wav."""
    root = tmp_path / "wavefake"
    for n in range(1, 11):
        real = speechlike(0.8 + 0.1 * (n % 3), seed=n)
        write(root / "LJSpeech-1.1" / "wavs" / f"LJ001-{n:04d}.wav", real)
        for system in ("ljspeech_melgan", "ljspeech_hifiGAN"):
            write(root / "generated_audio" / system / f"LJ001-{n:04d}_gen.wav", vocode(real, seed=n))
    return root


@pytest.fixture
def generic_tree(tmp_path: Path) -> Path:
    """Generic layout: real/<utt>.wav and fake/<system>/<utt>_gen.wav."""
    root = tmp_path / "generic"
    for n in range(12):
        real = speechlike(1.0, seed=100 + n)
        write(root / "real" / f"utt{n:03d}.wav", real)
        write(root / "fake" / "buzz" / f"utt{n:03d}_gen.wav", vocode(real, seed=n))
    return root


def mel_like(seed: int, frames: int = 60) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(80, frames)).astype(np.float32)


@pytest.fixture
def combined_leaky(tmp_path: Path) -> Path:
    """The seed's CombinedDataset with the seed's leakage: copied fakes, a renamed copy, a real/fake group split."""
    root = tmp_path / "CombinedDataset"
    for split, ids in (("train", range(0, 8)), ("val", range(8, 10)), ("test", range(10, 12))):
        for label in ("real", "fake"):
            (root / split / "mel" / label).mkdir(parents=True)
        for n in ids:
            np.save(root / split / "mel" / "real" / f"LJ001-{n:04d}.npy", mel_like(n))
            np.save(root / split / "mel" / "fake" / f"LJ001-{n:04d}_gen.npy", mel_like(1000 + n))
    # 1. fake files copied into val and test under the same names
    for split in ("val", "test"):
        np.save(root / split / "mel" / "fake" / "LJ001-0003_gen.npy", mel_like(1003))
    # 2. a renamed copy: train's gen_0001 saved into test as gen_9924
    np.save(root / "train" / "mel" / "fake" / "gen_0001.npy", mel_like(5000))
    np.save(root / "test" / "mel" / "fake" / "gen_9924.npy", mel_like(5000))
    # 3. a real clip in train (LJ001-0005) with its vocoded copy in test
    np.save(root / "test" / "mel" / "fake" / "LJ001-0005_gen.npy", mel_like(7005))
    return root


SMALL_FEATURES = dict(sample_rate=16000, n_fft=512, win_length=512, hop_length=128, n_mels=40,
                      window_frames=40, window_hop_frames=40, image_size=32)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A generic-layout corpus, its split, a packed store and a 3-epoch CPU run (phase change at epoch 2)."""
    from spoofscan.config import FeatureConfig, TrainConfig
    from spoofscan.layouts import load_items
    from spoofscan.splits import grouped_split, write_manifest
    from spoofscan.store import prepare
    from spoofscan.train import train

    root = tmp_path_factory.mktemp("tiny")
    data = root / "data"
    for n in range(30):
        real = speechlike(1.2, seed=200 + n)
        write(data / "real" / f"u{n:03d}.wav", real)
        write(data / "fake" / ("buzz" if n % 2 else "hiss") / f"u{n:03d}_gen.wav", vocode(real, seed=n))
    items, _ = grouped_split(load_items(data), fractions=(0.6, 0.2, 0.2), seed=0)
    manifest = write_manifest(root / "split.csv", items)
    features = FeatureConfig(**SMALL_FEATURES)
    store = prepare(items, root / "store", features, workers=1, progress=False)
    config = TrainConfig(epochs=3, unfreeze_epoch=2, batch_size=16, lr=1e-3, weights="none", threads=2)
    best = train(store, root / "run", config)
    return {"root": root, "data": data, "manifest": manifest, "store": store, "run": root / "run", "best": best,
            "features": features, "config": config, "items": items}


@pytest.fixture(scope="session")
def dataset_run(tiny_run):
    """tiny_run's clips and training settings with normalize="dataset" (training-set statistics per frequency)."""
    from spoofscan.config import FeatureConfig
    from spoofscan.store import prepare
    from spoofscan.train import train

    root = tiny_run["root"] / "dataset_norm"
    features = FeatureConfig(**SMALL_FEATURES, normalize="dataset")
    store = prepare(tiny_run["items"], root / "store", features, workers=1, progress=False)
    best = train(store, root / "run", tiny_run["config"])
    return {**tiny_run, "store": store, "run": root / "run", "best": best, "features": features}
