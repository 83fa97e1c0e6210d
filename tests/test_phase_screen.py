"""experiments/phase_screen.py: group-delay GMMs on a finished loo's folds, fused with the run's own scores."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import speechlike
from spoofscan.cli import run
from spoofscan.io import read_csv
from spoofscan.metrics import eer

SCRIPT = Path(__file__).parents[1] / "experiments" / "phase_screen.py"
spec = importlib.util.spec_from_file_location("phase_screen", SCRIPT)
phase_screen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(phase_screen)


def test_group_delay_cepstra_of_a_clip_and_of_a_clip_shorter_than_a_frame():
    wave = speechlike(1.0, sr=22050, seed=3)
    features = phase_screen.mgdcc(wave)
    frames = (wave.size - 512) // 160 + 1
    assert features.shape == ((frames + 1) // 2, 2 * phase_screen.N_CEPSTRA) and np.isfinite(features).all()
    assert np.abs(phase_screen.mgdcc(wave[:300])).max() == 0  # one padded frame: its mean removed, nothing left
    assert not np.allclose(features, phase_screen.mgdcc(np.roll(wave, 80)))  # the phase changes, the features too


def test_screen_reads_each_folds_split_and_the_runs_own_scores(tiny_run, tmp_path):
    loo = tmp_path / "loo"
    assert run(["loo", str(tiny_run["data"]), "--out", str(loo), "--model", "lfcc-gmm", "--set", "gmm_components=4",
                "--set", "gmm_frames=2000", "--set", "sample_rate=16000", "--set", "n_fft=512",
                "--set", "win_length=512", "--set", "hop_length=160", "--set", "window_frames=32",
                "--workers", "1"]) == 0
    result = subprocess.run([sys.executable, str(SCRIPT), str(loo), "--workers", "1", "--cache", str(tmp_path / "f.npz")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("60 clips, 0 unreadable")
    for fold in sorted(p.parent.name for p in loo.glob("*/split.csv")):  # the run's EER, read back by clip key
        scores = read_csv(loo / fold / "report_seed0" / "scores.csv")
        own = 100 * eer(np.array([r["label"] == "fake" for r in scores]), np.array([float(r["log_odds"]) for r in scores]))[0]
        line = next(line for line in lines if line.startswith(f"{fold}:"))
        assert f"the run's {own:.1f} % ({len(scores)} held-out clips)" in line
    assert lines[-2].startswith("MGDCC alone: ") and lines[-1].startswith("fused with the run")
    again = subprocess.run([sys.executable, str(SCRIPT), str(loo), "--cache", str(tmp_path / "f.npz")],
                           capture_output=True, text=True)
    assert again.stdout == result.stdout  # the cached features give the same screen
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode != 0 and "no */split.csv" in result.stderr
