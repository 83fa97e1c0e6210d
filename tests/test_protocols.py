import csv
import json

import numpy as np
import pytest
import torch

from conftest import speechlike
from spoofscan import store as store_module
from spoofscan.cli import run
from spoofscan.config import TrainConfig
from spoofscan.degrade import BAND_LIMIT_HZ, CONDITIONS, PEAK_LIMIT_DB, degrade, degradation_suite
from spoofscan.errors import SpoofscanError
from spoofscan.evaluate import evaluate
from spoofscan.layouts import load_items
from spoofscan.predict import Detector
from spoofscan.shortcuts import band_edge
from spoofscan.splits import audit, grouped_split
from spoofscan.store import Store
from spoofscan.train import make_criterion


def test_evaluate_by_source_and_speaker(tiny_run, tmp_path, capsys):
    out = tmp_path / "r"
    assert run(["evaluate", str(tiny_run["best"]), str(tiny_run["store"]), "--out", str(out), "--bootstrap", "0",
                "--by", "system", "--by", "source"]) == 0
    with open(out / "by_system.csv") as f:
        assert {r["system"] for r in csv.DictReader(f)} == {"buzz", "hiss"}
    assert (out / "by_source.csv").exists() and "EER by source" in capsys.readouterr().out
    assert run(["evaluate", str(tiny_run["best"]), str(tiny_run["store"]), "--out", str(out), "--by", "colour"]) == 2
    assert "--by" in capsys.readouterr().err


def test_every_condition_changes_the_audio_and_keeps_it_finite():
    t = np.arange(22050) / 22050
    wave = (0.2 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    for condition in CONDITIONS:
        out, rate = degrade(wave, 22050, condition, seed=1)
        assert np.isfinite(out).all() and out.dtype == np.float32 and abs(out.size / rate - 1.0) < 0.01, condition
        if condition != "clean":
            assert rate != 22050 or not np.allclose(out, wave, atol=1e-4), condition
    assert np.array_equal(degrade(wave, 22050, "noise_10db", seed=3)[0], degrade(wave, 22050, "noise_10db", seed=3)[0])
    snrs = []
    for seed in range(40):  # noise_random: a seeded SNR per clip, spread over 5-30 dB
        noisy = degrade(wave, 22050, "noise_random", seed=seed)[0]
        assert np.array_equal(noisy, degrade(wave, 22050, "noise_random", seed=seed)[0])
        snrs.append(10 * np.log10(np.mean(wave.astype(float) ** 2) / np.mean((noisy - wave).astype(float) ** 2)))
    assert 4.5 < min(snrs) < 10 and 25 < max(snrs) < 30.5
    with pytest.raises(SpoofscanError, match="condition"):
        degrade(wave, 22050, "underwater")


def test_mp3_random_draws_a_seeded_bitrate_that_keeps_the_band():
    """mp3_random: a different bitrate per seed (the same for the same seed), each leaving the band to about 10 kHz
    (the fixed "mp3" condition's 24 kbit/s cuts it near 6 kHz) and the length as it was."""
    speech = speechlike(2.0, sr=22050, seed=3)
    copies = [degrade(speech, 22050, "mp3_random", seed=seed) for seed in range(4)]
    for seed, (coded, rate) in enumerate(copies):
        assert rate == 22050 and coded.size == speech.size and np.isfinite(coded).all()
        assert np.array_equal(coded, degrade(speech, 22050, "mp3_random", seed=seed)[0])
        assert band_edge(coded, rate) > 9000
    assert len({np.round(np.mean((coded - speech) ** 2), 12) for coded, _ in copies}) == 4  # four bitrates
    assert band_edge(degrade(speech, 22050, "mp3")[0], 22050) < 8000


def test_band_and_peak_limits_draw_a_seeded_edge_and_crest_factor():
    rng = np.random.default_rng(0)
    hiss = (0.1 * rng.standard_normal(22050)).astype(np.float32)  # white: its band edge is Nyquist
    speech = speechlike(1.0, sr=22050, seed=2)
    edges, crests = [], []
    for seed in range(30):
        cut, rate = degrade(hiss, 22050, "band_limit", seed=seed)
        assert rate == 22050 and np.array_equal(cut, degrade(hiss, 22050, "band_limit", seed=seed)[0])
        edges.append(band_edge(cut, rate))
        limited = degrade(speech, 22050, "peak_limit", seed=seed)[0]
        rms = np.sqrt(np.mean(limited.astype(np.float64) ** 2))
        crests.append(20 * np.log10(np.abs(limited).max() / rms))
    low, high = BAND_LIMIT_HZ
    assert low - 100 < min(edges) < low + 1000 and high - 1000 < max(edges) < high + 100
    assert max(crests) < PEAK_LIMIT_DB[1] + 1 and min(crests) < PEAK_LIMIT_DB[0] + 2
    assert 20 * np.log10(np.abs(speech).max() / np.sqrt(np.mean(speech.astype(np.float64) ** 2))) > max(crests)
    narrow = degrade(degrade(hiss, 22050, "resample_16k")[0], 16000, "band_limit", seed=1)[0]
    assert np.isfinite(narrow).all()  # an edge above a low rate's Nyquist leaves the clip whole


def test_degradation_suite_and_cli(tiny_run, tmp_path, capsys):
    detector = Detector.from_checkpoint(tiny_run["best"])
    items = [it for it in load_items(tiny_run["manifest"]) if it.split == "test"]
    rows = degradation_suite(detector, items, conditions=("clean", "noise_10db", "telephone"))
    assert [r["condition"] for r in rows] == ["clean", "noise_10db", "telephone"]
    assert all(0 <= r["eer"] <= 1 and r["clips"] == len(items) for r in rows)
    clean = evaluate(tiny_run["best"], tiny_run["manifest"], tmp_path / "e", bootstrap=0, device="cpu")
    assert rows[0]["eer"] == pytest.approx(clean["eer"], abs=1e-9)  # "clean" is exactly the ordinary evaluation
    assert run(["degrade", str(tiny_run["best"]), str(tiny_run["store"]), "--out", str(tmp_path / "d"),
                "--condition", "gain_-20db", "--condition", "mp3"]) == 0
    assert "gain_-20db" in (tmp_path / "d" / "degradation.md").read_text()
    assert run(["degrade", str(tiny_run["best"]), str(tiny_run["store"]), "--condition", "fog"]) == 2


def test_leave_one_system_out_cli(tiny_run, tmp_path, capsys, monkeypatch):
    """Two systems held out in turn, two seeds each; every fold store copies the windows of tiny_run's store (the
    same clips and features, --reuse-store), so no clip's features are extracted again."""
    extracted = []
    monkeypatch.setattr(store_module, "_extract", lambda args: extracted.append(args[1]))
    out = tmp_path / "loo"
    code = run(["loo", str(tiny_run["data"]), "--out", str(out), "--seeds", "0,1", "--set", "epochs=1",
                "--set", "weights=none", "--set", "n_mels=40", "--set", "sample_rate=16000", "--set", "n_fft=512",
                "--set", "win_length=512", "--set", "hop_length=128", "--set", "window_frames=40",
                "--set", "window_hop_frames=40", "--set", "image_size=32", "--set", "batch_size=16",
                "--set", "unfreeze_epoch=1", "--workers", "1", "--reuse-store", str(tiny_run["store"])])
    assert code == 0 and extracted == []
    fold_store = Store(out / "system=buzz" / "store")
    assert sum(c["clips"] for c in fold_store.header["counts"].values()) == len(load_items(out / "system=buzz" /
                                                                                         "split.csv"))
    summary = json.loads((out / "loo.json").read_text())
    assert [f["held_out"] for f in summary["folds"]] == ["buzz", "hiss"] and all(f["seeds"] == 2 for f in summary["folds"])
    assert summary["worst_eer"] >= summary["mean_eer"]
    for fold in ("system=buzz", "system=hiss"):
        held = fold.split("=")[1]
        items = load_items(out / fold / "split.csv")
        assert {it.split for it in items if it.system == held} == {"test"} and not audit(items).leaky
    assert "mean" in capsys.readouterr().out
    assert run(["loo", str(tiny_run["data"]), "--out", str(tmp_path / "x"), "--seeds", "a,b"]) == 2


def test_holdout_by_source(tiny_run):
    items = load_items(tiny_run["manifest"])
    for it in items:
        it.source = "studio" if int(it.group[1:]) % 3 else "phone"
    kept, dropped = grouped_split(items, holdout_systems=("phone",), holdout_key="source", seed=0)
    # a held-out source's groups hold only its own clips: all of them go to test, nothing is dropped
    assert {it.split for it in kept if it.source == "phone"} == {"test"} and not dropped
    assert sum(it.source == "phone" for it in kept) == sum(it.source == "phone" for it in items)
    assert {it.split for it in kept if it.source == "studio"} == {"train", "val", "test"} and not audit(kept).leaky
    with pytest.raises(SpoofscanError, match="no such source"):
        grouped_split(items, holdout_systems=("radio",), holdout_key="source")


def test_class_balance_and_label_smoothing():
    labels = np.array([0] * 10 + [1] * 30)
    criterion = make_criterion(TrainConfig(class_balance=True, label_smoothing=0.1), labels, torch.device("cpu"))
    assert criterion.weight.tolist() == pytest.approx([2.0, 2 / 3]) and criterion.label_smoothing == 0.1
    assert make_criterion(TrainConfig(), labels, torch.device("cpu")).weight is None


def test_protocol_and_split_option_errors(tiny_run, tmp_path, capsys):
    assert run(["loo", str(tiny_run["data"]), "--out", str(tmp_path / "l"), "--by", "colour"]) == 2
    assert "--by 'colour'" in capsys.readouterr().err
    assert run(["loo", str(tiny_run["data"]), "--out", str(tmp_path / "l"), "--reuse-store", str(tmp_path)]) == 2
    assert "not a spoofscan store (no header.json)" in capsys.readouterr().err and not (tmp_path / "l").exists()
    assert run(["split", str(tiny_run["data"]), "--out", str(tmp_path / "s.csv"), "--val", "0.6", "--test", "0.6"]) == 2
    assert "fractions" in capsys.readouterr().err
    assert run(["split", str(tiny_run["data"]), "--out", str(tmp_path / "s.csv"), "--holdout-system", "buzz",
                "--holdout-source", "unknown"]) == 2
    assert "use one of them" in capsys.readouterr().err
    assert run(["degrade", str(tiny_run["best"]), str(tiny_run["data"]), "--split", "val"]) == 2
    assert "no clips in the val split" in capsys.readouterr().err


def test_numeric_options_out_of_range_get_one_line_errors(tiny_run, tmp_path, capsys):
    from spoofscan.synth import synth

    cases = [
        (["prepare", str(tiny_run["manifest"]), "--out", str(tmp_path / "p"), "--workers", "-1"], "--workers -1"),
        (["train", str(tiny_run["store"]), "--out", str(tmp_path / "t"), "--threads", "-1"], "threads"),
        (["train", str(tiny_run["store"]), "--out", str(tmp_path / "t"), "--set", "label_smoothing=1.5"],
         "label_smoothing"),
        (["predict", str(tiny_run["best"]), str(tiny_run["data"]), "--batch-size", "0"], "--batch-size 0"),
        (["evaluate", str(tiny_run["best"]), str(tiny_run["store"]), "--out", str(tmp_path / "e"),
          "--bootstrap", "-1"], "--bootstrap -1"),
        (["audit", str(tiny_run["manifest"]), "--workers", "-2"], "--workers -2"),
        (["synth", str(tiny_run["data"] / "real"), "--out", str(tmp_path / "s"), "--max-seconds", "-1"],
         "--max-seconds -1"),
    ]
    for argv, message in cases:
        assert run(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)
    for path in ("p", "t", "e", "s"):
        assert not (tmp_path / path).exists()  # nothing half-written
    with pytest.raises(SpoofscanError, match="--max-clips"):
        synth(tiny_run["data"] / "real", tmp_path / "s2", max_clips=-3, progress=False)
