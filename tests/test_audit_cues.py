"""experiments/audit_cues.py: which kind of fake carries which shortcut cue."""
import subprocess
import sys
from pathlib import Path

from conftest import speechlike, write, write_rows

SCRIPT = Path(__file__).parents[1] / "experiments" / "audit_cues.py"


def test_each_kind_of_fake_gets_its_cues_and_bad_input_fails_in_one_line(tmp_path):
    rows = []
    for n in range(12):
        real = speechlike(1.0, sr=22050, seed=n)
        write(tmp_path / f"real/{n}.wav", real, 22050)
        pulses = real.copy()  # an LPC-like fake: sharp pulses raise the crest factor
        pulses[::200] = 0.9
        write(tmp_path / f"paired/fake/lpc/{n}.wav", pulses, 22050)
        write(tmp_path / f"demo/{n}.wav", speechlike(1.0, sr=22050, seed=50 + n), 22050)  # a published fake
        rows += [{"path": f"real/{n}.wav", "label": "real", "system": "ground_truth", "utterance_id": f"u{n}"},
                 {"path": f"paired/fake/lpc/{n}.wav", "label": "fake", "system": "lpc", "utterance_id": f"u{n}"},
                 {"path": f"demo/{n}.wav", "label": "fake", "system": "lpc", "utterance_id": f"d{n}"}]
    manifest = write_rows(tmp_path / "manifest.csv", rows)
    config = tmp_path / "model.toml"
    config.write_text('[features]\ninput_kind = "lfcc"\nwindow_cmn = true\n')
    run = lambda m, c: subprocess.run([sys.executable, str(SCRIPT), str(m), str(c), "--workers", "1"],
                                      capture_output=True, text=True)
    result = run(manifest, config)
    assert result.returncode == 0, result.stderr
    table = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in result.stdout.splitlines()
             if line.startswith("| paired") or line.startswith("| published")}
    assert set(table) == {"paired lpc", "published"}  # the same system name, told apart by pair's folder
    assert table["paired lpc"][1] == "12" and float(table["paired lpc"][3]) > 0.9  # peak_db: the pulses
    assert abs(float(table["published"][3]) - 0.5) < 0.35
    result = subprocess.run([sys.executable, str(SCRIPT), str(manifest), str(config), "--workers", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--workers 0: use 1 or more" in result.stderr
    result = run(manifest, tmp_path / "missing.toml")
    assert result.returncode == 2 and "missing.toml" in result.stderr and result.stderr.count("\n") == 1
    only_real = write_rows(tmp_path / "real.csv", [r for r in rows if r["label"] == "real"])
    result = run(only_real, config)
    assert result.returncode == 2 and "needs real and fake clips" in result.stderr, result.stderr
