"""Calibration: Cllr, min Cllr and actual DCF; `spoofscan calibrate`; LLR and P(fake) at a prior in predict."""
import json

import numpy as np
import pytest
import torch

from conftest import loo_folder
from spoofscan.checkpoint import load_checkpoint
from spoofscan.cli import run
from spoofscan.metrics import act_dcf, cllr, min_cllr
from spoofscan.predict import Detector
from spoofscan.scores import posterior


def test_cllr_min_cllr_and_actual_dcf():
    labels = np.array([0] * 50 + [1] * 50)
    assert cllr(labels, np.zeros(100)) == pytest.approx(1.0)  # an LLR of 0 carries no information
    separated = np.where(labels == 1, 20.0, -20.0)
    assert cllr(labels, separated) < 1e-6 and act_dcf(labels, separated) == 0.0
    assert cllr(labels, -separated) > 20  # confidently wrong costs more than saying nothing
    rng = np.random.default_rng(0)
    scores = rng.normal(labels * 2.0, 1.0)
    assert min_cllr(labels, scores) <= cllr(labels, scores) and min_cllr(labels, 10 * scores) == pytest.approx(
        min_cllr(labels, scores))  # min Cllr ignores any monotone rescaling
    assert min_cllr(labels, scores) < cllr(labels, 10 * scores)  # overconfident scores: miscalibration shows
    # actual DCF: calling everything real misses no real clip but accepts every fake: cost c_fa * p / normalizer = 1
    assert act_dcf(labels, np.full(100, -50.0)) == pytest.approx(1.0)


def test_calibrate_then_predict_and_evaluate(tiny_run, tmp_path, capsys):
    calibrated = tmp_path / "calibrated.pt"
    manifest = str(tiny_run["manifest"])
    assert run(["calibrate", str(tiny_run["best"]), manifest, "--split", "val", "--out", str(calibrated),
                "--prior", "0.2"]) == 0
    state = torch.load(calibrated, map_location="cpu", weights_only=True)
    calibration = state["calibration"]
    assert calibration["prior"] == 0.2 and calibration["fitted_on"]["clips"] == 12
    assert calibration["fitted_on"]["cllr_after"] <= calibration["fitted_on"]["cllr_before"] + 1e-9
    path = tiny_run["items"][0].path
    raw = Detector.from_checkpoint(tiny_run["best"]).predict_file(path)
    at_default = Detector.from_checkpoint(calibrated).predict_file(path)
    at_half = Detector.from_checkpoint(calibrated, prior=0.5).predict_file(path)
    assert at_default.log_odds == pytest.approx(raw.log_odds)
    assert at_default.llr == pytest.approx(calibration["scale"] * raw.log_odds + calibration["offset"])
    assert at_default.score == pytest.approx(posterior(at_default.llr, 0.2))
    assert at_half.llr == at_default.llr and at_half.score == pytest.approx(posterior(at_half.llr, 0.5))
    assert at_default.threshold == 0.5 and at_default.verdict == ("fake" if at_default.score >= 0.5 else "real")
    capsys.readouterr()
    assert run(["predict", path, "--checkpoint", str(calibrated), "--json", "--prior", "0.01"]) == 0
    printed = json.loads(capsys.readouterr().out)[0]
    assert printed["prior"] == 0.01 and printed["llr"] == pytest.approx(at_default.llr)
    assert run(["evaluate", str(calibrated), manifest, "--split", "test", "--out", str(tmp_path / "ev"),
                "--bootstrap", "0"]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["calibration"]["llr"].startswith("calibrated") and metrics["calibration"]["cllr"] >= 0
    assert (tmp_path / "ev" / "reliability.png").stat().st_size > 0
    assert "Cllr" in (tmp_path / "ev" / "report.md").read_text()
    assert load_checkpoint(calibrated)["train_config"] == load_checkpoint(tiny_run["best"])["train_config"]


def test_calibrate_on_out_of_fold_scores(tiny_run, tmp_path, capsys):
    """--scores fits the map on a loo folder's held-out scores (over-confident there: the fit shrinks them)."""
    rng = np.random.default_rng(0)
    clips = [(f"c{i}.wav", i // 2 % 2, f"source=fold{i % 2}") for i in range(200)]  # both classes in each fold
    labels = np.array([c[1] for c in clips])
    loo = loo_folder(tmp_path / "loo", clips, 8 * (labels - 0.5) + rng.normal(0, 4, 200))
    reals_only = loo_folder(tmp_path / "reals", [c for c in clips if c[1] == 0], np.zeros(100))
    out = tmp_path / "oof.pt"
    assert run(["calibrate", str(tiny_run["best"]), "--scores", str(loo), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.replace("\n", " ")
    assert "fitted on 200 clips (100 real, 100 fake)" in printed and "fitted on the other folds" in printed
    calibration = torch.load(out, map_location="cpu", weights_only=True)["calibration"]
    fitted = calibration["fitted_on"]
    assert fitted["scores"] == str(loo) and 0 < calibration["scale"] < 0.8
    assert fitted["cllr_after"] < fitted["cllr_before"]
    assert fitted["cllr_after"] <= fitted["cllr_cross_fold"] < fitted["cllr_before"]  # held-out folds: a bit worse
    for args, reason in (([str(tiny_run["manifest"]), "--scores", str(loo)], "exactly one of DATA"),
                         ([], "exactly one of DATA"),
                         (["--scores", str(loo), "--split", "val"], "--split and --layout choose clips of DATA"),
                         (["--scores", str(tmp_path)], "not a `spoofscan loo` folder"),
                         (["--scores", str(tmp_path / "missing.csv")], "no scores.csv found"),
                         (["--scores", str(reals_only)], "one class only")):
        assert run(["calibrate", str(tiny_run["best"]), *args, "--out", str(tmp_path / "bad.pt")]) == 2
        err = capsys.readouterr().err
        assert reason in err and err.count("\n") == 1, err
        assert not (tmp_path / "bad.pt").exists()


def test_calibration_bad_inputs(tiny_run, tmp_path, capsys):
    one_class = tmp_path / "reals.csv"
    lines = tiny_run["manifest"].read_text().splitlines()
    one_class.write_text("\n".join([lines[0]] + [line for line in lines[1:] if ",real," in line]) + "\n")
    out = tmp_path / "c.pt"
    assert run(["calibrate", str(tiny_run["best"]), str(one_class), "--out", str(out)]) == 2
    assert "one class only" in capsys.readouterr().err and not out.exists()
    assert run(["calibrate", str(tiny_run["best"]), str(tiny_run["manifest"]), "--out", str(out), "--prior", "1"]) == 2
    assert "strictly between 0 and 1" in capsys.readouterr().err and not out.exists()
    assert run(["predict", tiny_run["items"][0].path, "--checkpoint", str(tiny_run["best"]), "--prior", "0.1"]) == 2
    assert "is not calibrated" in capsys.readouterr().err
