"""experiments/offset_screen.py: other rules for the lfcc-gmm's narrowband offset, screened on a finished loo run."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[1] / "experiments" / "offset_screen.py"
spec = importlib.util.spec_from_file_location("offset_screen", SCRIPT)
offset_screen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(offset_screen)


def test_each_rule_aligns_its_quantile_of_windows_or_of_clips():
    rng = np.random.default_rng(0)
    # wideband real windows: 4 clips of 50; narrowband real ones 2 below them and spread twice as wide
    wide = rng.normal(0.0, 1.0, 200)
    narrow = -2.0 + 2.0 * rng.normal(0.0, 1.0, 300)
    reference, narrow_real = (wide, np.repeat(np.arange(4), 50)), (narrow, np.repeat([7, 9, 11], 100))
    for rule, level in (("q50", 0.5), ("q90", 0.9)):
        shift = offset_screen.offset(rule, reference, narrow_real)
        assert np.quantile(narrow + shift, level) == pytest.approx(np.quantile(wide, level))
    # the median alone leaves the wider band's upper tail above the other's; the 90th percentile aligns it
    assert offset_screen.offset("q90", reference, narrow_real) < offset_screen.offset("q50", reference, narrow_real)
    clip_means = [wide.reshape(4, 50).mean(1), narrow.reshape(3, 100).mean(1)]
    assert offset_screen.offset("clip50", reference, narrow_real) == pytest.approx(
        np.median(clip_means[0]) - np.median(clip_means[1]))


def test_a_folder_that_is_not_a_loo_run_or_bad_seeds_are_one_line_of_error(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "no source=fold* folders" in result.stderr and result.stderr.count("\n") == 1
    (tmp_path / "source=fold0").mkdir()
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--seeds", "0,one"], capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert "--seeds '0,one': use comma-separated integers" in result.stderr and result.stderr.count("\n") == 1
