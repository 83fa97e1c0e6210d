"""experiments/compare_loo.py: the paired bootstrap of two leave-sources-out runs on the same folds."""
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import loo_folder

SCRIPT = Path(__file__).parents[1] / "experiments" / "compare_loo.py"


def compare(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args), "--resamples", "200"], capture_output=True,
                          text=True)


def test_a_better_recipe_wins_its_resamples_and_mismatched_folders_fail(tmp_path):
    rng = np.random.default_rng(0)
    clips = [(f"clip{i}.wav", i % 2, f"source=fold{i % 3}") for i in range(300)]
    labels = np.array([c[1] for c in clips])
    weak = loo_folder(tmp_path / "a", clips, 0.6 * labels + rng.normal(0, 1, 300))
    # the same clips scored from a manifest one folder deeper (ids with `..` steps), by a stronger recipe
    deeper = [(f"paired/../{c[0]}", c[1], c[2]) for c in clips]
    strong = loo_folder(tmp_path / "b", deeper, 3.0 * labels + rng.normal(0, 1, 300))
    result = compare(weak, strong)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [f"source=fold{k}" for k in range(3)]
    assert "B better in 100 % of them" in lines[-1]
    low, high = (float(x) for x in lines[-1].split("interval ")[1].split(" (")[0].split(" to "))
    assert low <= high < 0
    # other folds, or not a loo folder: one line, exit 2
    moved = loo_folder(tmp_path / "c", [(c[0], c[1], "source=fold0") for c in clips], rng.normal(0, 1, 300))
    for other, reason in ((moved, "same clips on the same folds"), (tmp_path, "not a finished")):
        result = compare(weak, other)
        assert result.returncode == 2 and reason in result.stderr and result.stderr.count("\n") == 1, result.stderr
    result = subprocess.run([sys.executable, str(SCRIPT), str(weak), str(strong), "--resamples", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--resamples 0: use 1 or more" in result.stderr
