import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import speechlike, vocode, write
from spoofscan.checkpoint import load_checkpoint, model_from_checkpoint
from spoofscan.cli import run
from spoofscan.config import FeatureConfig
from spoofscan.errors import SpoofscanError
from spoofscan.evaluate import evaluate
from spoofscan.export import max_logit_difference, onnx_session
from spoofscan import Detector


def test_evaluate_store_writes_the_full_report(tiny_run, tmp_path):
    out = tmp_path / "report"
    metrics = evaluate(tiny_run["best"], tiny_run["store"], out, bootstrap=200, aeer=True, device="cpu")
    for name in ("metrics.json", "scores.csv", "confusion_matrix.npy", "roc_curve.png", "det_curve.png",
                 "score_histogram.png", "confusion_matrix.png", "report.md"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["eer"] == metrics["eer"] and 0 <= metrics["eer"] <= 1
    assert set(saved["per_system"]) == {"buzz", "hiss"}
    assert saved["bootstrap_eer"]["unit"] == "utterance group" and saved["seed_aeer"]["resamples"] == 5
    assert abs(saved["eer"] - saved["eer_asvspoof_sorted"]) <= 1 / (2 * min(saved["clips"]["real"],
                                                                             saved["clips"]["fake"])) + 1e-9
    assert np.load(out / "confusion_matrix.npy").sum() == saved["clips"]["total"]
    with open(out / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == saved["clips"]["total"] and all(0 <= float(r["score"]) <= 1 for r in rows)
    report = (out / "report.md").read_text()
    assert "P(fake)" in report and "| buzz |" in report and "roc_curve.png" in report


def test_the_tiny_detector_learned_the_artifact(tiny_run, tmp_path):
    metrics = evaluate(tiny_run["best"], tiny_run["store"], tmp_path / "r", bootstrap=0, device="cpu")
    assert metrics["roc_auc"] > 0.8, metrics["roc_auc"]


def test_store_route_and_audio_route_agree(tiny_run, tmp_path):
    from_store = evaluate(tiny_run["best"], tiny_run["store"], tmp_path / "a", bootstrap=0, device="cpu")
    from_audio = evaluate(tiny_run["best"], tiny_run["manifest"], tmp_path / "b", bootstrap=0, device="cpu")
    assert from_audio["clips"] == from_store["clips"]
    assert from_audio["eer"] == pytest.approx(from_store["eer"], abs=1e-9)
    assert from_audio["roc_auc"] == pytest.approx(from_store["roc_auc"], abs=1e-6)


def test_evaluate_refuses_a_store_with_other_features(tiny_run, tmp_path, capsys):
    from spoofscan.layouts import load_items
    from spoofscan.store import prepare

    other = FeatureConfig(**{**tiny_run["features"].__dict__, "n_mels": 48})
    store = prepare(load_items(tiny_run["manifest"]), tmp_path / "s", other, workers=1, progress=False)
    assert run(["evaluate", str(tiny_run["best"]), str(store), "--out", str(tmp_path / "r")]) == 2
    assert "n_mels: saved 48 vs asked 40" in capsys.readouterr().err
    with pytest.raises(SpoofscanError, match="n_mels"):
        evaluate(tiny_run["best"], store, tmp_path / "r2")


@pytest.fixture
def clips(tmp_path):
    """User files: long, short, stereo, 8 kHz, 48 kHz, mp3, corrupt."""
    base = speechlike(1.0, seed=7)
    files = {
        "long": write(tmp_path / "long.wav", np.tile(speechlike(2.0, seed=8), 30)),  # 60 s
        "short": write(tmp_path / "short.wav", speechlike(0.28, seed=9)),  # shorter than one 0.32 s window
        "stereo": write(tmp_path / "stereo.flac", np.stack([base, vocode(base)], axis=1)),
        "8k": write(tmp_path / "8k.wav", speechlike(1.5, sr=8000, seed=10), sr=8000),
        "48k": write(tmp_path / "48k.ogg", speechlike(1.5, sr=48000, seed=11), sr=48000),
        "mp3": write(tmp_path / "clip.mp3", vocode(speechlike(1.5, seed=12))),
    }
    files["corrupt"] = tmp_path / "corrupt.wav"
    files["corrupt"].write_bytes(b"RIFF" + bytes(100))
    return files


def test_detector_handles_any_user_audio(tiny_run, clips):
    detector = Detector.from_checkpoint(tiny_run["best"])
    long = detector.predict_file(clips["long"])
    assert long.duration == pytest.approx(60.0, abs=0.05) and len(long.window_scores) > 150
    assert long.window_times[0][0] >= 0 and long.window_times[-1][1] <= 60.0
    assert long.window_times[-1][1] == pytest.approx(60.0, abs=0.3)  # the windows reach the end of the clip
    short = detector.predict_file(clips["short"])
    assert len(short.window_scores) == 1 and short.verdict in ("real", "fake")
    for name in ("stereo", "8k", "48k", "mp3"):
        p = detector.predict_file(clips[name])
        assert 0 <= p.score <= 1 and p.verdict == ("fake" if p.score >= detector.threshold else "real"), name
    with pytest.raises(SpoofscanError, match="cannot decode"):
        detector.predict_file(clips["corrupt"])
    wave, rate = sf.read(clips["48k"])
    assert detector.predict(wave, rate).score == pytest.approx(detector.predict_file(clips["48k"]).score, abs=1e-6)


def test_batched_files_equal_one_by_one_and_errors_do_not_stop(tiny_run, clips):
    detector = Detector.from_checkpoint(tiny_run["best"], batch_size=8)
    paths = [clips[k] for k in ("short", "corrupt", "stereo", "8k", "mp3")]
    results = list(detector.predict_files(paths))
    assert [r.path for r in results] == [str(p) for p in paths]
    assert results[1].verdict == "error" and "cannot decode" in results[1].error
    for result, path in zip(results, paths):
        if not result.error:
            assert result.score == pytest.approx(detector.predict_file(path).score, abs=1e-6)


def test_threshold_pool_and_hop_options(tiny_run, clips):
    mean = Detector.from_checkpoint(tiny_run["best"]).predict_file(clips["long"])
    top = Detector.from_checkpoint(tiny_run["best"], pool="max").predict_file(clips["long"])
    assert top.score >= mean.score
    strict = Detector.from_checkpoint(tiny_run["best"], threshold=1.0).predict_file(clips["stereo"])
    assert strict.verdict == "real" and strict.threshold == 1.0
    dense = Detector.from_checkpoint(tiny_run["best"], hop_frames=8).predict_file(clips["long"])
    assert len(dense.window_scores) > 3 * len(mean.window_scores)
    for bad in ({"pool": "median"}, {"threshold": 1.5}, {"backend": "tensorrt"}, {"hop_frames": 0}):
        with pytest.raises(SpoofscanError):
            Detector.from_checkpoint(tiny_run["best"], **bad).predict_file(clips["long"])


def test_cli_predict_agrees_with_the_api(tiny_run, clips, tmp_path, capsys):
    paths = [str(clips[k]) for k in ("stereo", "8k", "corrupt")]
    code = run(["predict", str(tiny_run["best"]), *paths, "--json", "--csv", str(tmp_path / "w.csv")])
    assert code == 1  # one file failed; the others were still scored
    printed = json.loads(capsys.readouterr().out)
    detector = Detector.from_checkpoint(tiny_run["best"])
    for row in printed[:2]:
        assert row["score"] == pytest.approx(detector.predict_file(row["path"]).score, abs=1e-6)
    assert printed[2]["verdict"] == "error"
    with open(tmp_path / "w.csv") as f:
        windows = list(csv.DictReader(f))
    assert {w["path"] for w in windows} == set(paths) and all(w["start_s"] for w in windows if not w["error"])
    folder = clips["stereo"].parent
    assert run(["predict", str(tiny_run["best"]), str(folder / "*.wav"), str(folder / "clip.mp3"), "--json"]) == 1
    names = {row["path"].rsplit("/", 1)[-1]: row["verdict"] for row in json.loads(capsys.readouterr().out)}
    assert set(names) == {"long.wav", "short.wav", "8k.wav", "corrupt.wav", "clip.mp3"} and names["corrupt.wav"] == "error"
    assert run(["predict", str(tiny_run["best"]), str(folder)]) == 1  # a folder, recursively, as a table
    assert "error" in capsys.readouterr().out
    assert run(["predict", str(tiny_run["best"]), str(clips["8k"])]) == 0
    assert run(["predict", str(tiny_run["best"]), str(tmp_path / "nothing" / "*.wav")]) == 2


def test_checkpoint_errors_and_info(tiny_run, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(SpoofscanError, match="not a readable spoofscan checkpoint"):
        load_checkpoint(bad)
    other = FeatureConfig(**{**tiny_run["features"].__dict__, "sample_rate": 22050})
    with pytest.raises(SpoofscanError, match="sample_rate: saved 16000 vs asked 22050"):
        load_checkpoint(tiny_run["best"], feature_config=other)
    assert run(["info", str(tiny_run["best"])]) == 0
    out = capsys.readouterr().out
    assert "threshold" in out and "feature_config" in out and "real" in out
    assert run(["predict", str(bad), str(tmp_path)]) == 2


@pytest.mark.parametrize("run_name", ["tiny_run", "dataset_run"])
def test_onnx_export_parity_and_backend(run_name, request, clips, tmp_path):
    tiny_run = request.getfixturevalue(run_name)
    path = tmp_path / "model.onnx"
    assert run(["export", str(tiny_run["best"]), "--onnx", str(path)]) == 0
    state = load_checkpoint(tiny_run["best"])
    model = model_from_checkpoint(state).eval()
    session = onnx_session(path)
    import torch

    assert max_logit_difference(model, session, torch.rand(7, 1, 32, 32)) <= 1e-4
    from spoofscan.store import Store

    from spoofscan.features import model_input

    store = Store(tiny_run["store"])
    real_images = model_input(torch.from_numpy(np.array(store.split("test").images[:16])), store.feature_config)
    assert max_logit_difference(model, session, real_images) <= 1e-4
    torch_scores = [p.score for p in Detector.from_checkpoint(tiny_run["best"]).predict_files(
        [clips["stereo"], clips["long"]])]
    onnx_scores = [p.score for p in Detector.from_checkpoint(tiny_run["best"], backend="onnx").predict_files(
        [clips["stereo"], clips["long"]])]
    assert onnx_scores == pytest.approx(torch_scores, abs=1e-4)
    import onnx

    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(metadata["feature_config"])["n_mels"] == 40 and float(metadata["threshold"]) == state["threshold"]


def test_evaluate_bad_split_and_single_class(tiny_run, tmp_path, capsys):
    assert run(["evaluate", str(tiny_run["best"]), str(tiny_run["store"]), "--split", "holdout",
                "--out", str(tmp_path / "r")]) == 2
    assert "--split" in capsys.readouterr().err
    only_real = tmp_path / "real.csv"
    rows = [line for line in tiny_run["manifest"].read_text().splitlines() if ",fake," not in line]
    only_real.write_text("\n".join(rows).replace("data/", str(tiny_run["data"]) + "/") + "\n")
    with pytest.raises(SpoofscanError, match="both real and fake"):
        evaluate(tiny_run["best"], only_real, tmp_path / "r2", split="all", bootstrap=0)
    assert not (tmp_path / "r2" / "metrics.json").exists()


@pytest.mark.parametrize("run_name", ["tiny_run", "dataset_run"])
def test_compact_fp16_checkpoint_predicts_like_the_original(run_name, request, tmp_path, capsys):
    tiny_run = request.getfixturevalue(run_name)
    from spoofscan.checkpoint import load_checkpoint
    from spoofscan.predict import Detector

    compact = tmp_path / "compact.pt"
    assert run(["export", str(tiny_run["best"]), "--fp16", str(compact)]) == 0
    assert compact.stat().st_size < 0.6 * tiny_run["best"].stat().st_size
    state = load_checkpoint(compact)
    assert state["weights_dtype"] == "float16" and "optimizer" not in state
    assert all(v.dtype == torch.float16 for v in state["model"].values() if v.is_floating_point())
    clips = sorted((tiny_run["data"] / "fake").rglob("*.wav"))[:3] + sorted((tiny_run["data"] / "real").glob("*.wav"))[:3]
    full = [p.score for p in Detector.from_checkpoint(tiny_run["best"]).predict_files(clips)]
    half = [p.score for p in Detector.from_checkpoint(compact).predict_files(clips)]
    assert np.allclose(full, half, atol=0.02)
    capsys.readouterr()
    # both spellings of the checkpoint argument
    assert run(["predict", str(compact), str(clips[0]), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert run(["predict", str(clips[0]), "--checkpoint", str(compact), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert run(["export", str(compact)]) == 2 and "nothing to export" in capsys.readouterr().err


def test_missing_builtin_model_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("spoofscan.checkpoint.BASE_MODEL", tmp_path / "gone.pt")
    clip = write(tmp_path / "clip.wav", speechlike(1.0))
    assert run(["predict", str(clip)]) == 2
    assert "built-in model" in capsys.readouterr().err


def test_builtin_spoofscan_base_gives_verdicts(tmp_path, capsys):
    from spoofscan.checkpoint import BASE_MODEL

    from pathlib import Path

    from spoofscan.cli import feature_config_from, train_config_from

    state = load_checkpoint()  # no path: the model shipped in the package, calibrated
    assert state["weights_dtype"] in ("float16", "float32") and BASE_MODEL.stat().st_size < 25e6
    assert "optimizer" not in state and "cllr_cross_fold" in state["calibration"]["fitted_on"]  # on loo scores
    recipe = Path(__file__).parents[1] / "configs" / "base.toml"  # the recipe it was trained with, written out
    assert state["feature_config"] == feature_config_from(recipe, {})
    assert state["train_config"] == train_config_from(recipe, {})
    clip = write(tmp_path / "clip.wav", speechlike(3.0, sr=16000), sr=16000)
    assert run(["predict", str(clip), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)[0]
    assert result["verdict"] in ("real", "fake") and 0 <= result["score"] <= 1 and result["window_scores"]
    assert result["llr"] is not None and result["prior"] == state["calibration"]["prior"]
    assert "model card" in " ".join(captured.err.split())  # however the console wraps it
