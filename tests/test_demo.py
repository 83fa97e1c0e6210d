import json

import pytest

from conftest import speechlike, write
from spoofscan.cli import run
from spoofscan.demo import demo


def test_demo_runs_the_whole_pipeline(tmp_path, capsys, monkeypatch):
    from spoofscan import demo as demo_module

    real = tmp_path / "real"
    for n in range(8):
        write(real / f"prompt{n}.wav", speechlike(1.0 + 0.1 * n, sr=8000, seed=n), sr=8000)
    (real / "prompt0.g722").write_bytes(b"")  # the built-in prompts' G.722 form, if installed, is not read
    monkeypatch.setattr(demo_module, "REAL_SPEECH_DIRS", (str(real),))
    out = tmp_path / "demo"
    summary = demo(out, clips=8, epochs=1, image_size=32, workers=1)
    assert (out / "corpus/manifest.csv").read_text().count(",real,") == 8
    for path in ("corpus/manifest.csv", "split.csv", "store/header.json", "run/best.pt", "report/report.md",
                 "summary.json"):
        assert (out / path).exists(), path
    assert set(summary["per_system_eer"]) == {"hifigan_universal", "world", "griffin_lim", "lpc"}
    assert json.loads((out / "summary.json").read_text())["eer"] == summary["eer"]
    assert [p["truth"] for p in summary["predictions"]][0] == "real" and len(summary["predictions"]) == 5
    assert "unseen vocoder" in capsys.readouterr().out
    # a second run needs --force, and then reuses the corpus
    assert run(["demo", "--out", str(out), "--real", str(real), "--clips", "8"]) == 2
    assert "--force" in capsys.readouterr().err
    assert run(["demo", "--out", str(tmp_path / "d2"), "--real", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_missing_built_in_speech_says_how_to_install_it(monkeypatch):
    from spoofscan import demo as demo_module
    from spoofscan.errors import SpoofscanError

    monkeypatch.setattr(demo_module, "REAL_SPEECH_DIRS", ("/nonexistent/asterisk",))
    with pytest.raises(SpoofscanError, match="apt-get install asterisk-core-sounds-en-wav"):
        demo_module.find_real_speech()
