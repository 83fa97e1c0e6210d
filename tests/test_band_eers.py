"""experiments/band_eers.py: leave-sources-out EERs pooled and within each band."""
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import loo_folder, speechlike, write
from spoofscan.audio import brickwall

SCRIPT = Path(__file__).parents[1] / "experiments" / "band_eers.py"


def test_a_detector_that_scores_two_bands_on_two_scales_is_perfect_within_each_and_not_pooled(tmp_path):
    work = tmp_path / "work"
    clips, log_odds = [], []
    for n in range(8):
        wave = speechlike(1.0, sr=16000, seed=n) + 0.01 * np.random.default_rng(n).standard_normal(16000)
        for label in (0, 1):
            for band, shift in (("wide", 2.0), ("narrow", 0.0)):
                name = f"audio/{band}{label}_{n}.wav"
                write(work / name, wave if band == "wide" else brickwall(wave, 4000.0, 16000), 16000)
                clips.append((name, label, f"source=fold{n % 2}"))
                log_odds.append(shift + 1.5 * label - 2.5)  # within a band fakes score 1.5 above; narrow 2 below
    loo = loo_folder(work / "loo", clips, log_odds)
    config = tmp_path / "model.toml"
    config.write_text('[features]\ninput_kind = "lfcc"\nsample_rate = 16000\n')
    run = lambda *args: subprocess.run([sys.executable, str(SCRIPT), *map(str, args), "--workers", "1"],  # noqa: E731
                                       capture_output=True, text=True)
    result = run(config, loo, "--cut", 6000)
    assert result.returncode == 0, result.stderr
    rows = [line.split(" | ") for line in result.stdout.splitlines() if line.startswith("| loo | source=")]
    assert [r[1] for r in rows] == ["source=fold0", "source=fold1"]
    for row in rows:
        assert row[3] == "0.0 % (4 / 4)" and row[4].startswith("0.0 % (4 / 4)")  # within each band: perfect
        assert float(row[2].split(" %")[0]) > 20  # pooled: narrow fakes score below wide reals
        assert row[5] == "0.0 % (gap +2.00) |"  # moved by the other fold's gap between the bands' real clips
    for bad in (["--cut", "0"], ["--cut", "6000", "--workers", "0"]):  # the last --workers counts
        result = subprocess.run([sys.executable, str(SCRIPT), str(config), str(loo), *bad], capture_output=True,
                                text=True)
        assert result.returncode == 2 and "use 1 or more workers and a cut above 0 Hz" in result.stderr
    result = run(config, tmp_path / "nothing")
    assert result.returncode == 2 and "no source=fold*" in result.stderr and result.stderr.count("\n") == 1


def test_no_gap_is_measured_when_the_other_folds_real_clips_lie_in_one_band(tmp_path):
    """Fold 1 holds wideband clips only, so fold 0 has no band gap to be moved by; fold 1 gets fold 0's."""
    work = tmp_path / "work"
    clips, log_odds = [], []
    for n in range(8):
        wave = speechlike(1.0, sr=16000, seed=n) + 0.01 * np.random.default_rng(n).standard_normal(16000)
        fold = n % 2
        for label in (0, 1):
            narrow = fold == 0 and n % 4 == 0
            name = f"audio/{label}_{n}.wav"
            write(work / name, brickwall(wave, 4000.0, 16000) if narrow else wave, 16000)
            clips.append((name, label, f"source=fold{fold}"))
            log_odds.append(1.5 * label - (1.0 if narrow else 0.0))
    config = tmp_path / "model.toml"
    config.write_text('[features]\ninput_kind = "lfcc"\nsample_rate = 16000\n')
    result = subprocess.run([sys.executable, str(SCRIPT), str(config), str(loo_folder(work / "loo", clips, log_odds)),
                             "--cut", "6000", "--workers", "1"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rows = {r[1]: r for r in (line.split(" | ") for line in result.stdout.splitlines() if line.startswith("| loo"))}
    assert rows["source=fold0"][5] == "- (the other folds' real clips lie in one band) |"
    assert rows["source=fold1"][3] == "- (0 / 0)" and rows["source=fold1"][5] == "0.0 % (gap +1.00) |"
