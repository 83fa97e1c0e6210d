"""Detector families (resnet18 is covered by the other test files): each trains on its input kind, saves, loads
with weights_only=True, evaluates, predicts, exports; a store of another kind fails cleanly; score fusion."""
import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import scipy.signal
from scipy.special import logsumexp
from scipy.stats import norm
import torch

from conftest import loo_folder, speechlike, vocode, write
from spoofscan.audio import brickwall
from spoofscan.checkpoint import describe, load_checkpoint, model_from_checkpoint
from spoofscan.cli import feature_config_from, run, train_config_from
from spoofscan.config import FeatureConfig, TrainConfig
from spoofscan.errors import SpoofscanError
from spoofscan.features import clip_windows, input_statistics, lfcc, model_input, wave_windows
from spoofscan.features.lfcc import (lfcc_coefficients, linear_filters, low_band_view, remove_window_mean,
                                     window_band_edges)
from spoofscan.layouts import load_items
from spoofscan.models import MODELS, build_model, get_model
from spoofscan.models.gmm import expanded_frames, fit_diagonal_gmm, squared_distances, sufficient_statistics
from spoofscan.predict import Detector, FusedDetector
from spoofscan.splits import grouped_split
from spoofscan.store import SplitData, Store, prepare
from spoofscan.train import balanced_quotas, narrowband_reals, sample_frames, train, window_groups

KIND_FEATURES = {
    "lfcc": dict(input_kind="lfcc", sample_rate=16000, n_fft=512, win_length=512, hop_length=160, n_lfcc=10,
                 n_filters=30, window_frames=32, window_hop_frames=32),
    "waveform": dict(input_kind="waveform", sample_rate=16000, n_fft=512, win_length=512, hop_length=160,
                     window_frames=20, window_hop_frames=20),
}
FAMILY_TRAIN = {
    "lcnn": dict(model="lcnn", epochs=2, unfreeze_epoch=1, batch_size=16, lr=1e-3, threads=2),
    "rawnet2": dict(model="rawnet2", epochs=2, unfreeze_epoch=1, batch_size=16, lr=1e-3, threads=2),
    "lfcc-gmm": dict(model="lfcc-gmm", gmm_components=4, gmm_frames=3000, gmm_iterations=20),
}


@pytest.fixture(scope="module")
def family_runs(tiny_run):
    """tiny_run's clips in an lfcc and a waveform store, and a run of each family on its kind."""
    root = tiny_run["root"] / "families"
    stores = {kind: prepare(tiny_run["items"], root / f"store_{kind}", FeatureConfig(**values), workers=1,
                            progress=False) for kind, values in KIND_FEATURES.items()}
    runs = {}
    for family, values in FAMILY_TRAIN.items():
        store = stores[MODELS[family].input_kind]
        runs[family] = train(store, root / family, TrainConfig(**values))
    return {**tiny_run, "stores": stores, "runs": runs, "root": root}


@pytest.mark.parametrize("family", list(FAMILY_TRAIN))
def test_each_family_trains_saves_loads_evaluates_and_predicts(family, family_runs, tmp_path):
    best = family_runs["runs"][family]
    state = torch.load(best, map_location="cpu", weights_only=True)  # plain tensors and values only
    assert state["train_config"]["model"] == family
    loaded = load_checkpoint(best)
    assert loaded["feature_config"].input_kind == MODELS[family].input_kind
    store = family_runs["stores"][loaded["feature_config"].input_kind]
    assert run(["evaluate", str(best), str(store), "--out", str(tmp_path / "ev"), "--bootstrap", "20"]) == 0
    assert (tmp_path / "ev" / "report.md").is_file() and (tmp_path / "ev" / "roc_curve.png").is_file()
    metrics = __import__("json").loads((tmp_path / "ev" / "metrics.json").read_text())
    assert 0 <= metrics["eer"] <= 1 and metrics["clips"]["total"] == len(Store(store).split("test").clips)
    # audio of any length, rate and channel count, with window times
    detector = Detector.from_checkpoint(best)
    rng = np.random.default_rng(0)
    long_stereo = np.stack([np.sin(np.arange(44100 * 3) / 7.0), rng.normal(0, 0.1, 44100 * 3)], axis=1) * 0.3
    prediction = detector.predict(long_stereo, 44100)
    assert prediction.verdict in ("real", "fake") and 0 <= prediction.score <= 1
    assert len(prediction.window_scores) == len(prediction.window_times) > 1
    assert prediction.window_times[-1][1] == pytest.approx(3.0, abs=0.05)  # to the frame
    files = [it.path for it in family_runs["items"][:3]]
    assert [p.error for p in detector.predict_files(files)] == ["", "", ""]
    assert run(["info", str(best)]) == 0


@pytest.mark.parametrize("family", list(FAMILY_TRAIN))
def test_each_family_exports_to_onnx_with_parity(family, family_runs, tmp_path):
    pytest.importorskip("onnxruntime")
    best = family_runs["runs"][family]
    assert run(["export", str(best), "--onnx", str(tmp_path / "m.onnx"), "--fp16", str(tmp_path / "c.pt")]) == 0
    files = [it.path for it in family_runs["items"][:4]]
    torch_scores = [p.log_odds for p in Detector.from_checkpoint(best).predict_files(files)]
    onnx_scores = [p.log_odds for p in Detector.from_checkpoint(best, backend="onnx").predict_files(files)]
    assert onnx_scores == pytest.approx(torch_scores, rel=1e-3, abs=1e-3)
    compact = [p.log_odds for p in Detector.from_checkpoint(tmp_path / "c.pt").predict_files(files)]
    assert compact == pytest.approx(torch_scores, rel=2e-2, abs=2e-2)


def test_a_store_of_another_kind_is_refused_in_one_line(family_runs, tmp_path, capsys):
    image_store = family_runs["store"]
    for family in ("lcnn", "lfcc-gmm"):
        assert run(["train", str(image_store), "--out", str(tmp_path / family), "--model", family]) == 2
        error = capsys.readouterr().err
        assert "holds image windows but --model" in error and "--input-kind lfcc" in error
        assert not (tmp_path / family / "last.pt").exists()
    assert run(["train", str(family_runs["stores"]["lfcc"]), "--out", str(tmp_path / "r"), "--model", "resnet18",
                "--weights", "none"]) == 2
    assert "needs image input" in capsys.readouterr().err
    assert run(["evaluate", str(family_runs["runs"]["lcnn"]), str(family_runs["stores"]["waveform"]),
                "--out", str(tmp_path / "e")]) == 2
    assert "holds waveform windows but --model lcnn needs lfcc input" in capsys.readouterr().err


def diagonal_gmm_log_likelihoods(x: np.ndarray, log_weights, means, precisions) -> np.ndarray:
    """The reference: log sum_k w_k prod_d N(x_d; mean_kd, 1 / precision_kd), by scipy, per frame."""
    log_weights, means, precisions = (np.asarray(a, dtype=np.float64) for a in (log_weights, means, precisions))
    per_component = norm.logpdf(x[:, None, :], means[None], 1 / np.sqrt(precisions[None])).sum(axis=2)
    return logsumexp(log_weights + per_component, axis=1)


def tiny_gmm(**settings) -> torch.nn.Module:
    """An unfitted lfcc-gmm of 3 components a class on 6 rows (2 LFCC + deltas), with these TrainConfig settings."""
    return get_model("lfcc-gmm", FeatureConfig(input_kind="lfcc", n_lfcc=2, n_filters=10),
                     train_config=TrainConfig(model="lfcc-gmm", gmm_components=3, **settings))


def two_class_frames(rng: np.random.Generator) -> dict[int, np.ndarray]:
    return {0: rng.normal(0, 1, (2000, 6)), 1: rng.normal(0.5, 1.5, (2000, 6))}


def test_gmm_log_likelihoods_match_scipy():
    rng = np.random.default_rng(0)
    frames = two_class_frames(rng)
    model = tiny_gmm()
    model.fit(frames, iterations=30, seed=0)
    test = rng.normal(0.2, 1.2, (50, 6))
    ours = model.frame_log_likelihoods(torch.tensor(test, dtype=torch.float32)).double().numpy()
    for label in (0, 1):
        reference = diagonal_gmm_log_likelihoods(test, model.log_weights[label], model.means[label],
                                                 model.precisions[label])
        assert ours[:, label] == pytest.approx(reference, rel=1e-5, abs=1e-4)
    window = torch.tensor(test.T[None, None], dtype=torch.float32)  # (1, 1, rows, frames): mean over frames
    assert model(window)[0].double().numpy() == pytest.approx(ours.mean(axis=0), rel=1e-5)


def predict_and_export(best: Path, files: list[str], onnx: Path) -> list[float]:
    """The trained checkpoint's log-odds for the files; its ONNX export (when onnxruntime is installed) scores them
    the same, whatever the number of frames."""
    torch_scores = [p.log_odds for p in Detector.from_checkpoint(best).predict_files(files)]
    assert all(np.isfinite(torch_scores))
    if importlib.util.find_spec("onnxruntime"):
        assert run(["export", str(best), "--onnx", str(onnx)]) == 0
        onnx_scores = [p.log_odds for p in Detector.from_checkpoint(best, backend="onnx").predict_files(files)]
        assert onnx_scores == pytest.approx(torch_scores, rel=1e-3, abs=1e-3)
    return torch_scores


def test_gmm_fits_average_the_log_likelihoods_of_several_gmms_a_class(family_runs, tmp_path):
    """gmm_fits = 2: each class has two GMMs, fitted apart (part 0 as the single GMM of the same seed would be), and
    a frame's log-likelihood is the mean of the two; train fits both on their own frames and saves the setting."""
    rng = np.random.default_rng(0)
    frames = two_class_frames(rng)
    single, other, both = (tiny_gmm(gmm_fits=fits) for fits in (1, 1, 2))
    single.fit(frames, iterations=20, seed=0)
    other.fit(frames, iterations=20, seed=1)
    both.fit(frames, iterations=20, seed=0, part=0)
    both.fit(frames, iterations=20, seed=1, part=1)
    assert both.means.shape == (2, 6, 6) and torch.equal(both.means[:, :3], single.means)
    test = torch.tensor(rng.normal(0.2, 1.2, (50, 6)), dtype=torch.float32)
    expected = (single.frame_log_likelihoods(test) + other.frame_log_likelihoods(test)) / 2
    assert torch.allclose(both.frame_log_likelihoods(test), expected, rtol=1e-5)
    per_fit = both.fit_log_likelihoods(test)  # (frames, fits, classes): each fit's own GMMs
    assert per_fit.shape == (50, 2, 2)
    assert torch.allclose(per_fit[:, 0], single.frame_log_likelihoods(test), rtol=1e-5)
    assert torch.allclose(per_fit[:, 1], other.frame_log_likelihoods(test), rtol=1e-5)
    best = train(family_runs["stores"]["lfcc"], tmp_path / "fits", TrainConfig(**{**FAMILY_TRAIN["lfcc-gmm"],
                                                                                 "gmm_fits": 2}))
    state = load_checkpoint(best)
    assert state["train_config"].gmm_fits == 2
    components = state["train_config"].gmm_components
    means = state["model"]["means"]
    assert means.shape[1] == 2 * components and not torch.equal(means[:, :components], means[:, components:])
    predict_and_export(best, [it.path for it in family_runs["items"][:4]], tmp_path / "fits.onnx")
    with pytest.raises(SpoofscanError, match="gmm_fits must be >= 1"):
        TrainConfig(model="lfcc-gmm", gmm_fits=0)


def test_gmm_llr_clip_bounds_each_frames_ratio_before_the_window_mean(family_runs, tmp_path):
    """gmm_llr_clip = c: a window's log-odds is the mean of its frames' log-likelihood ratios clipped to +-c (the real
    column stays the mean real log-likelihood); a bound no frame reaches changes nothing; train saves the setting
    and the model exports to ONNX with the same scores."""
    rng = np.random.default_rng(0)
    frames = two_class_frames(rng)
    free, clipped, loose = (tiny_gmm(gmm_llr_clip=clip) for clip in (0.0, 0.5, 1e6))
    free.fit(frames, iterations=20, seed=0)
    clipped.load_state_dict(free.state_dict())
    loose.load_state_dict(free.state_dict())
    test = torch.tensor(rng.normal(0.2, 2.0, (40, 6)), dtype=torch.float32)
    per_frame = free.frame_log_likelihoods(test)
    ratio = per_frame[:, 1] - per_frame[:, 0]
    assert (ratio.abs() > 0.5).any() and (ratio.abs() < 0.5).any()  # the bound is met by some frames, not all
    window = test.T[None, None]  # (1, 1, rows, frames)
    logits = clipped(window)[0]
    assert logits[0].item() == pytest.approx(per_frame[:, 0].mean().item(), rel=1e-5)
    assert (logits[1] - logits[0]).item() == pytest.approx(ratio.clamp(-0.5, 0.5).mean().item(), rel=1e-5, abs=1e-6)
    assert torch.allclose(loose(window), free(window))
    best = train(family_runs["stores"]["lfcc"], tmp_path / "clip", TrainConfig(**{**FAMILY_TRAIN["lfcc-gmm"],
                                                                                 "gmm_llr_clip": 0.5}))
    assert load_checkpoint(best)["train_config"].gmm_llr_clip == 0.5
    scores = predict_and_export(best, [it.path for it in family_runs["items"][:4]], tmp_path / "clip.onnx")
    assert all(abs(s) <= 0.5 + 1e-5 for s in scores)  # no narrowband offset here: |mean| <= the bound
    with pytest.raises(SpoofscanError, match="gmm_llr_clip must be >= 0"):
        TrainConfig(model="lfcc-gmm", gmm_llr_clip=-1.0)


def test_em_finds_every_cluster_and_fits_at_least_as_well_as_scikit_learn():
    """fit_diagonal_gmm (float32 EM from k-means++ seeds) recovers eight separated clusters, each with its own
    spread, and reaches a mean log-likelihood no lower than scikit-learn's GaussianMixture with the same settings."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, (8, 10))
    spreads = 0.5 + 0.1 * np.arange(8)
    x = np.concatenate([c + rng.normal(0, s, (3000, 10)) for c, s in zip(centers, spreads)]).astype(np.float32)
    log_weights, means, precisions = fit_diagonal_gmm(torch.from_numpy(x), 8, iterations=30, seed=0)
    order = means[:, 0].argsort().numpy()
    truth = centers[:, 0].argsort()
    assert means.numpy()[order] == pytest.approx(centers[truth], abs=0.1)  # 3000 frames: the mean is off by ~0.02
    assert (1 / precisions.numpy()[order].mean(axis=1)) ** 0.5 == pytest.approx(spreads[truth], rel=0.05)
    assert np.exp(log_weights.numpy()) == pytest.approx(np.full(8, 1 / 8), abs=1e-3)
    ours = diagonal_gmm_log_likelihoods(x, log_weights, means, precisions).mean()
    reference = GaussianMixture(8, covariance_type="diag", max_iter=30, random_state=0, reg_covar=1e-3).fit(x)
    assert ours >= reference.score(x) - 1e-3
    # the same seed gives the same model
    again = fit_diagonal_gmm(torch.from_numpy(x), 8, iterations=30, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(again, (log_weights, means, precisions)))


def test_em_statistics_match_responsibilities_computed_directly():
    """The E-step (one matrix product of the frames and their squares a chunk) gives the summed responsibilities
    and the responsibility-weighted sums of the frames and of their squares that scipy's densities give, across
    chunk boundaries."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, (1000, 5)).astype(np.float32)
    log_weights = torch.log(torch.tensor([0.2, 0.3, 0.5]))
    means = torch.tensor(rng.normal(0, 1, (3, 5)), dtype=torch.float32)
    precisions = torch.tensor(rng.uniform(0.2, 2, (3, 5)), dtype=torch.float32)
    counts, sums, squares = sufficient_statistics(expanded_frames(torch.from_numpy(x)), log_weights, means,
                                                  precisions, chunk=300)
    weights, mu, precision = (a.double().numpy() for a in (log_weights, means, precisions))
    joint = weights + norm.logpdf(x[:, None, :], mu[None], 1 / np.sqrt(precision[None])).sum(axis=2)
    responsibility = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    assert counts.numpy() == pytest.approx(responsibility.sum(axis=0), rel=1e-4)
    assert sums.numpy() == pytest.approx(responsibility.T @ x, rel=1e-4, abs=1e-3)
    assert squares.numpy() == pytest.approx(responsibility.T @ x.astype(np.float64) ** 2, rel=1e-4)


def test_kmeans_distances_in_row_blocks_are_the_direct_sums_bit_for_bit():
    """The k-means++ seeding's distances, summed a block of rows at a time, equal the one-pass sums exactly (so a
    fit's start, and the fitted model, does not change with the block size), a last short block included."""
    points = torch.randn(1000, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    direct = ((points - points[3]) ** 2).sum(1)
    for rows in (1, 64, 333, 1024):
        assert torch.equal(squared_distances(points, points[3], rows=rows), direct)


def test_gmm_map_adapts_both_classes_from_one_background_model(family_runs, tmp_path):
    """With gmm_map_relevance, both GMMs keep the background model's weights and variances (EM on every second frame
    of each class), and each class's means move from the background means toward its own frames' by
    n / (n + relevance)."""
    rng = np.random.default_rng(0)
    frames = {0: rng.normal(0, 1, (2000, 6)), 1: rng.normal(0.8, 1, (2000, 6))}
    config = FeatureConfig(input_kind="lfcc", n_lfcc=2, n_filters=10)
    models = {}
    for relevance in (16.0, 1e6):
        models[relevance] = get_model("lfcc-gmm", config, train_config=TrainConfig(
            model="lfcc-gmm", gmm_components=3, gmm_map_relevance=relevance))
        models[relevance].fit(frames, iterations=30, seed=0, map_relevance=relevance)
    ubm = [p.double().numpy() for p in fit_diagonal_gmm(torch.tensor(np.concatenate(
        [frames[0][::2], frames[1][::2]]), dtype=torch.float32), 3, iterations=30, seed=0)]
    model = models[16.0]
    for label in (0, 1):
        assert model.log_weights[label].double().numpy() == pytest.approx(ubm[0], rel=1e-6)
        assert model.precisions[label].double().numpy() == pytest.approx(ubm[2], rel=1e-6)
        joint = ubm[0] + norm.logpdf(frames[label][:, None, :], ubm[1][None], 1 / np.sqrt(ubm[2][None])).sum(axis=2)
        responsibility = np.exp(joint - joint.max(axis=1, keepdims=True))
        responsibility /= responsibility.sum(axis=1, keepdims=True)
        counts = responsibility.sum(axis=0)[:, None]
        adaptation = counts / (counts + 16.0)
        expected = adaptation * (responsibility.T @ frames[label] / counts) + (1 - adaptation) * ubm[1]
        assert model.means[label].double().numpy() == pytest.approx(expected, rel=1e-4, abs=1e-4)
    # the fake class's frames lie 0.8 above the real ones': so do its adapted means, and a real-like window scores
    # as real; a huge relevance factor leaves both at the background means (no evidence either way)
    assert ((model.means[1] - model.means[0]) > 0.2).all()
    window = torch.tensor(rng.normal(0, 1, (6, 200))[None, None], dtype=torch.float32)
    logits = model(window)[0]
    assert logits[0] > logits[1]
    assert torch.allclose(models[1e6].means[0], models[1e6].means[1], atol=1e-2)
    # train passes the setting on and saves it with the run
    best = train(family_runs["stores"]["lfcc"], tmp_path / "map", TrainConfig(**FAMILY_TRAIN["lfcc-gmm"],
                                                                              gmm_map_relevance=16))
    state = load_checkpoint(best)
    assert state["train_config"].gmm_map_relevance == 16
    assert torch.equal(state["model"]["precisions"][0], state["model"]["precisions"][1])
    assert not torch.equal(state["model"]["means"][0], state["model"]["means"][1])
    with pytest.raises(SpoofscanError, match="gmm_map_relevance must be >= 0"):
        TrainConfig(model="lfcc-gmm", gmm_map_relevance=-1)


def test_gmm_speech_db_leaves_quiet_frames_out_of_fitting_and_scoring(family_runs, tmp_path):
    rng = np.random.default_rng(0)
    config = FeatureConfig(input_kind="lfcc", n_lfcc=2, n_filters=10)
    frames = {0: rng.normal(0, 1, (500, 6)), 1: rng.normal(0.5, 1.5, (500, 6))}
    plain = get_model("lfcc-gmm", config, train_config=TrainConfig(model="lfcc-gmm", gmm_components=2))
    speech = get_model("lfcc-gmm", config, train_config=TrainConfig(model="lfcc-gmm", gmm_components=2,
                                                                    gmm_speech_db=30))
    plain.fit(frames, iterations=10)
    speech.load_state_dict(plain.state_dict())
    window = rng.normal(0, 1, (6, 40)).astype(np.float32)
    window[0, :25] += 10.0  # loud frames; c0 of the other 15 is 10 lower, 10 * 1.37 = 13.7 dB: still within 30 dB
    assert speech(torch.tensor(window[None, None]))[0].tolist() == pytest.approx(
        plain(torch.tensor(window[None, None]))[0].tolist(), rel=1e-5)
    window[0, 25:] -= 30.0  # now 40 * 1.37 = 55 dB below: left out
    every = plain.frame_log_likelihoods(torch.tensor(window.T)).numpy()
    assert speech(torch.tensor(window[None, None]))[0].numpy() == pytest.approx(every[:25].mean(axis=0), rel=1e-5)
    assert plain(torch.tensor(window[None, None]))[0].numpy() == pytest.approx(every.mean(axis=0), rel=1e-5)
    # training samples only the kept frames
    split = SplitData(np.stack([window, window]), np.array([0, 1]), np.array([0, 1]), [{}, {}])
    drawn = sample_frames(split, 1, 100, rng, keep=lambda c0: speech.speech_frames(torch.from_numpy(c0)).numpy())
    assert len(drawn) == 25 and (drawn[:, 0] > -5).all()
    # a trained detector keeps the setting in its checkpoint, and the ONNX export scores the same
    best = train(family_runs["stores"]["lfcc"], tmp_path / "speech", TrainConfig(**FAMILY_TRAIN["lfcc-gmm"],
                                                                                 gmm_speech_db=30))
    detector = Detector.from_checkpoint(best)
    assert detector.model.speech_c0 == pytest.approx(30 / (10 / np.log(10) / np.sqrt(30)))
    files = [item.path for item in family_runs["items"][:4]]
    torch_scores = [p.log_odds for p in detector.predict_files(files)]
    if importlib.util.find_spec("onnxruntime"):
        assert run(["export", str(best), "--onnx", str(tmp_path / "s.onnx")]) == 0
        onnx_scores = [p.log_odds for p in Detector.from_checkpoint(best, backend="onnx").predict_files(files)]
        assert onnx_scores == pytest.approx(torch_scores, rel=1e-3, abs=1e-3)
    with pytest.raises(SpoofscanError, match="gmm_speech_db must be >= 0"):
        TrainConfig(model="lfcc-gmm", gmm_speech_db=-1)


def test_lfcc_and_waveform_windows():
    config = FeatureConfig(**KIND_FEATURES["lfcc"])
    rate = config.sample_rate
    tone = (0.1 * np.sin(2 * np.pi * 3000 * np.arange(rate) / rate)).astype(np.float32)
    features = lfcc(tone, config)
    assert features.shape == (30, 1 + (rate - 512) // 160) and np.isfinite(features).all()
    windows, starts = wave_windows(tone, config)
    assert windows.dtype == np.float16 and windows.shape[1:] == config.stored_shape == (30, 32)
    assert starts[0] == 0 and starts[-1] + 32 == features.shape[1]
    wave_config = FeatureConfig(**KIND_FEATURES["waveform"])
    for gain in (0.01, 0.5):  # the level is removed: the same windows at any gain
        windows, starts = wave_windows(gain * tone, wave_config)
        assert windows.dtype == np.int16 and windows.shape[1:] == (1, 3200)
        x = model_input(torch.from_numpy(windows), wave_config)
        assert x.shape == (len(windows), 1, 3200)
        assert float(x.square().mean().sqrt()) == pytest.approx(0.05, rel=0.01)


def test_lfcc_window_cmn_removes_the_level_and_a_fixed_filter_and_keeps_the_deltas():
    config = FeatureConfig(**KIND_FEATURES["lfcc"], window_cmn=True)
    plain = FeatureConfig(**KIND_FEATURES["lfcc"])
    speech = speechlike(2.0, sr=config.sample_rate, seed=4)
    stored, _ = wave_windows(speech, config)
    raw, _ = wave_windows(speech, plain)
    assert np.array_equal(stored, raw)  # a store keeps each window's mean spectrum; the model removes it
    n = config.n_lfcc
    cmn = lambda w: remove_window_mean(torch.from_numpy(w.astype(np.float32)), n).numpy()  # noqa: E731
    windows = cmn(stored)
    assert np.abs(windows[:, :n].mean(axis=2)).max() < 1e-4  # each coefficient's mean is gone
    assert np.array_equal(windows[:, n:], raw[:, n:].astype(np.float32))  # the deltas are what they were
    assert np.allclose(cmn(windows), windows, atol=1e-5)  # twice is once: stores of format 1 held such windows
    quieter = cmn(wave_windows(0.05 * speech, config)[0])  # -26 dB
    assert np.abs(quieter - windows).max() < 0.05  # float16 stores c0 near -19 in steps of 1/64
    assert np.abs(raw[:, 0].astype(np.float32).mean() - wave_windows(0.05 * speech, plain)[0][:, 0].mean()) > 1
    # a fixed recording-chain filter (a first-order high-pass) barely moves the normalized coefficients
    filtered = scipy.signal.lfilter([1, -0.7], [1], speech).astype(np.float32)
    moved = lambda f: np.abs(f(wave_windows(filtered, plain)[0])[:, :n] - f(raw)[:, :n]).mean()  # noqa: E731
    assert moved(cmn) < 0.5 * moved(lambda w: w.astype(np.float32))


@pytest.mark.parametrize("win_length", [512, 400])
def test_lfcc_remove_dc_subtracts_each_frames_mean_before_the_window(win_length):
    config = FeatureConfig(**{**KIND_FEATURES["lfcc"], "win_length": win_length}, remove_dc=True)
    speech = speechlike(1.0, sr=config.sample_rate, seed=6)
    frames = torch.from_numpy(speech).unfold(0, config.n_fft, config.hop_length)  # what Kaldi's remove_dc_offset does
    left = (config.n_fft - win_length) // 2
    window = torch.nn.functional.pad(torch.hann_window(win_length), (left, config.n_fft - win_length - left))
    power = torch.fft.rfft((frames - frames.mean(dim=1, keepdim=True)) * window).abs().square().T.numpy()
    energies = linear_filters(config.n_fft, config.n_filters) @ power
    expected = scipy.fft.dct(np.log(energies + 1e-10), axis=0, norm="ortho")[:config.n_lfcc]
    assert np.allclose(lfcc_coefficients(speech, config), expected, atol=1e-3)
    shifted = lfcc_coefficients(speech + 0.2, config)  # a DC offset as large as the speech never reaches the model
    assert np.abs(shifted - lfcc_coefficients(speech, config)).max() < 1e-3
    plain = FeatureConfig(**KIND_FEATURES["lfcc"])
    assert np.abs(lfcc_coefficients(speech + 0.2, plain) - lfcc_coefficients(speech, plain)).max() > 0.1
    with pytest.raises(SpoofscanError, match="remove_dc applies to input_kind='lfcc'"):
        FeatureConfig(remove_dc=True)


@pytest.mark.parametrize("setting, low, high", [(dict(fmax=4000.0), 4200.0, 7900.0),  # noise above fmax
                                                 (dict(fmin=3000.0), 0.0, 2500.0)])  # a sub-band: below fmin
def test_lfcc_filters_span_fmin_to_fmax(setting, low, high):
    """Noise outside the filters' band changes nothing; without the setting it changes the features."""
    config = FeatureConfig(**KIND_FEATURES["lfcc"], **setting)
    rate = config.sample_rate
    speech = speechlike(1.0, sr=rate, seed=5)
    hiss = 0.05 * np.random.default_rng(0).standard_normal(rate).astype(np.float32)
    outside = brickwall(hiss, high, rate) - (brickwall(hiss, low, rate) if low else 0)
    same = wave_windows(speech + outside, config)[0].astype(np.float32)
    assert np.abs(same - wave_windows(speech, config)[0].astype(np.float32)).max() < 0.05
    full = FeatureConfig(**KIND_FEATURES["lfcc"])
    assert np.abs(wave_windows(speech + outside, full)[0].astype(np.float32)
                  - wave_windows(speech, full)[0].astype(np.float32)).max() > 1


def test_lfcc_band_settings_are_checked():
    with pytest.raises(SpoofscanError, match="fmax=9000.0 must be above fmin"):
        FeatureConfig(**KIND_FEATURES["lfcc"], fmax=9000.0)
    with pytest.raises(SpoofscanError, match="fmin=8000.0 must be at least 0 and below Nyquist"):
        FeatureConfig(**KIND_FEATURES["lfcc"], fmin=8000.0)  # its rate: 16 kHz


def test_a_bad_lfcc_setting_in_a_config_fails_in_one_line_before_anything_is_written(family_runs, tmp_path, capsys):
    manifest = str(family_runs["manifest"])
    for line, reason in (('window_cmn = "false"', "window_cmn='false': use true or false"),
                         ('remove_dc = "yes"', "remove_dc='yes': use true or false"),
                         ("fmax = 20000.0", "fmax=20000.0 must be above fmin"),
                         ("fmax = 6000.0\nsample_rate = 16000\nfmin = 7000.0", "must be above fmin (7000.0)"),
                         ("fmin = -10.0", "fmin=-10.0 must be at least 0")):
        config = tmp_path / "bad.toml"
        config.write_text(f'[features]\ninput_kind = "lfcc"\n{line}\n')
        assert run(["prepare", manifest, "--out", str(tmp_path / "store"), "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert reason in err and err.count("\n") == 1, err
        assert not (tmp_path / "store").exists() and not (tmp_path / "store.partial").exists()


def test_a_number_given_as_text_in_a_config_fails_in_one_line(tmp_path):
    config = tmp_path / "bad.toml"
    for table, line in (("train", 'gmm_narrowband_hz = "8500"'), ("train", "gmm_speech_db = true"),
                        ("train", 'gmm_map_relevance = "16"'), ("train", 'gmm_narrowband_view_hz = "7000"'),
                        ("train", 'gmm_narrowband_quantile = "0.9"'),
                        ("features", 'n_lfcc = "60"')):
        body = f"[train]\n{line}" if table == "train" else line
        config.write_text(f'[features]\ninput_kind = "lfcc"\n{body}\n')
        with pytest.raises(SpoofscanError, match=f"bad.toml: .*{line.split(' = ')[0]}=.*: use a number, e.g."):
            (train_config_from if table == "train" else feature_config_from)(config, {})


def test_family_settings_fail_cleanly(tmp_path):
    with pytest.raises(SpoofscanError, match="input_mode='resize' is for images"):
        FeatureConfig(input_kind="lfcc", input_mode="resize")
    with pytest.raises(SpoofscanError, match="n_lfcc"):
        FeatureConfig(input_kind="lfcc", n_lfcc=40, n_filters=20)
    with pytest.raises(SpoofscanError, match="TrainConfig.model='aasist'"):
        TrainConfig(model="aasist")
    with pytest.raises(SpoofscanError, match="only resnet18 has ImageNet weights"):
        build_model("lcnn", FeatureConfig(input_kind="lfcc"), "imagenet")
    with pytest.raises(SpoofscanError, match="needs audio"):
        np.save(tmp_path / "x.npy", np.ones((80, 40), np.float32))
        clip_windows(tmp_path / "x.npy", FeatureConfig(input_kind="lfcc"))


def test_fusion_is_a_checkpoint_that_every_command_loads(family_runs, tmp_path, capsys):
    members = [str(family_runs["best"]), str(family_runs["runs"]["lfcc-gmm"]), str(family_runs["runs"]["lcnn"])]
    fused = tmp_path / "fused.pt"
    manifest = str(family_runs["manifest"])
    assert run(["fuse", *members, "--on", manifest, "--split", "val", "--out", str(fused)]) == 0
    state = torch.load(fused, map_location="cpu", weights_only=True)
    assert len(state["fusion"]["members"]) == 3 and len(state["fusion"]["weights"]) == 3
    assert "optimizer" not in state["fusion"]["members"][0]
    detector = Detector.from_checkpoint(fused)
    assert isinstance(detector, FusedDetector)
    path = family_runs["items"][0].path
    prediction = detector.predict_file(path)
    member_log_odds = [Detector.from_checkpoint(m).predict_file(path).log_odds for m in members]
    expected = state["fusion"]["bias"] + np.dot(state["fusion"]["weights"], member_log_odds)
    assert prediction.log_odds == pytest.approx(expected, rel=1e-6)
    assert run(["evaluate", str(fused), manifest, "--split", "test", "--out", str(tmp_path / "ev"),
                "--bootstrap", "20"]) == 0
    assert run(["predict", path, "--checkpoint", str(fused)]) == 0
    assert run(["info", str(fused)]) == 0
    assert '"fusion"' in capsys.readouterr().out
    # one-line errors where a fused checkpoint cannot go
    assert run(["evaluate", str(fused), str(family_runs["store"]), "--out", str(tmp_path / "e2")]) == 2
    assert "not a store" in capsys.readouterr().err
    assert run(["export", str(fused), "--onnx", str(tmp_path / "f.onnx")]) == 2
    assert "export each member" in capsys.readouterr().err and not (tmp_path / "f.onnx").exists()
    assert run(["fuse", members[0], "--on", manifest, "--out", str(tmp_path / "one.pt")]) == 2
    assert "two or more" in capsys.readouterr().err
    assert run(["fuse", str(fused), members[0], "--on", manifest, "--out", str(tmp_path / "nested.pt")]) == 2
    assert "fuse its members' own checkpoints" in capsys.readouterr().err


def test_loo_refuses_bad_augmentation_before_writing(tiny_run, tmp_path, capsys):
    for args in (["--augment", "vinyl", "--augment-copies", "1"], ["--augment", "mp3"]):
        assert run(["loo", str(tiny_run["data"]), "--out", str(tmp_path / "loo"), "--model", "lfcc-gmm", *args]) == 2
        err = capsys.readouterr().err
        assert "--augment" in err and err.count("\n") == 1
        assert not (tmp_path / "loo").exists()


def test_loo_trains_any_family(tiny_run, tmp_path):
    assert run(["loo", str(tiny_run["data"]), "--out", str(tmp_path / "loo"), "--model", "lfcc-gmm",
                "--set", "gmm_components=4", "--set", "gmm_frames=2000", "--set", "sample_rate=16000",
                "--set", "n_fft=512", "--set", "win_length=512", "--set", "hop_length=160",
                "--set", "window_frames=32", "--workers", "1", "--augment", "mp3", "--augment", "noise_20db",
                "--augment-copies", "1"]) == 0
    table = (tmp_path / "loo" / "loo.csv").read_text()
    headers = list((tmp_path / "loo").glob("*/store/header.json"))
    assert len(headers) == 2
    for header in headers:  # every fold trained on degraded copies too
        store = json.loads(header.read_text())
        assert store["train_augmentation"]["copies"] == 1
        assert store["train_augmentation"]["conditions"] == ["mp3", "noise_20db"]
    assert "buzz" in table and "hiss" in table
    assert load_checkpoint(next((tmp_path / "loo").rglob("best.pt")))["train_config"].model == "lfcc-gmm"
    model = model_from_checkpoint(load_checkpoint(next((tmp_path / "loo").rglob("best.pt"))))
    assert sum(p.numel() for p in model.parameters()) == 0  # fitted by EM: buffers only


def test_inference_threads_follow_the_family(family_runs, capsys):
    gmm = Detector.from_checkpoint(family_runs["runs"]["lfcc-gmm"])
    network = Detector.from_checkpoint(family_runs["best"])
    assert gmm.preferred_threads() == 1 and network.preferred_threads() is None
    before = torch.get_num_threads()
    try:
        assert gmm.use_threads(0) == 1  # the GMM runs on one thread unless told otherwise
        assert gmm.use_threads(2) == 2
        assert network.use_threads(0) == 2  # a network keeps the current (default) setting
    finally:
        torch.set_num_threads(before)
    path = family_runs["items"][0].path
    assert run(["predict", path, "--checkpoint", str(family_runs["best"]), "--threads", "-1"]) == 2
    assert "--threads -1" in capsys.readouterr().err


def test_fusion_fitted_on_out_of_fold_scores(family_runs, tmp_path, capsys):
    rng = np.random.default_rng(0)
    clips = [(f"clip{i}.wav", i % 2, f"source=fold{i % 3}") for i in range(120)]
    labels = np.array([c[1] for c in clips])
    informative = loo_folder(tmp_path / "a", clips, 2.0 * (labels - 0.5) + rng.normal(0, 0.8, 120))
    # the same clips read from a manifest one folder deeper: ids differ by their `..` steps, the files are the same
    deeper = [(f"paired/../../{c[0]}", c[1], c[2]) for c in clips]
    noise = loo_folder(tmp_path / "b", deeper, rng.normal(0, 1.0, 120))
    members = [str(family_runs["runs"]["lfcc-gmm"]), str(family_runs["best"])]
    fused = tmp_path / "fused.pt"
    assert run(["fuse", *members, "--scores", str(informative), "--scores", str(noise), "--out", str(fused)]) == 0
    assert "fitted on the other folds" in capsys.readouterr().out
    fitted = torch.load(fused, map_location="cpu", weights_only=True)["fusion"]["fitted_on"]
    assert fitted["clips"] == 120 and [row["fold"] for row in fitted["folds"]] == [f"source=fold{k}" for k in range(3)]
    weights = torch.load(fused, map_location="cpu", weights_only=True)["fusion"]["weights"]
    assert weights[0] > 3 * abs(weights[1])  # the member that transfers gets the weight
    for row in fitted["folds"]:
        assert row["fused_eer"] < 0.35 and row["member_eers"][1] > row["member_eers"][0]
    assert isinstance(Detector.from_checkpoint(fused), FusedDetector)
    # one-line errors
    other_labels = loo_folder(tmp_path / "c", [(c[0], 1 - c[1], c[2]) for c in clips], np.zeros(120))
    for args, reason in (
            (["--scores", str(informative), "--on", str(family_runs["manifest"])], "not both"),
            (["--scores", str(informative)], "one per checkpoint"),
            (["--scores", str(informative), "--scores", str(tmp_path)], "not a `spoofscan loo` folder"),
            (["--scores", str(informative), "--scores", str(other_labels)], "label or fold differs")):
        assert run(["fuse", *members, *args, "--out", str(tmp_path / "bad.pt")]) == 2
        err = capsys.readouterr().err
        assert reason in err and err.count("\n") == 1, err
        assert not (tmp_path / "bad.pt").exists()


def test_window_band_edges_find_where_a_windows_band_ends():
    config = FeatureConfig(**KIND_FEATURES["lfcc"], window_cmn=True)  # 16 kHz: filters up to 8 kHz
    speech = speechlike(2.0, sr=config.sample_rate, seed=1)
    for cutoff in (4000, 6000):
        edges = window_band_edges(torch.from_numpy(wave_windows(brickwall(speech, cutoff, 16000), config)[0]), config)
        assert ((edges > cutoff - 300) & (edges < cutoff + 600)).all()  # within two filters above the cut
    assert (window_band_edges(torch.from_numpy(wave_windows(speech, config)[0]), config) == 8000).all()


def narrowband_corpus(root: Path, config: FeatureConfig, *, narrow_reals: bool = True) -> Path:
    """Wideband real and fake clips, and (narrow_reals) real ones whose band ends at 4 kHz, split 60/40 into train
    and val by utterance; returns the store."""
    for n in range(20):
        real = speechlike(1.2, sr=config.sample_rate, seed=300 + n)
        write(root / "data" / "real" / f"u{n:03d}.wav", real)
        write(root / "data" / "fake" / "buzz" / f"u{n:03d}_gen.wav", vocode(real, seed=n))
        if narrow_reals and n % 2:
            write(root / "data" / "real" / f"u{n:03d}_phone.wav", brickwall(real, 4000, config.sample_rate))
    items, _ = grouped_split(load_items(root / "data"), fractions=(0.6, 0.4, 0.0), seed=0)
    return prepare(items, root / "store", config, workers=1, progress=False)


def test_gmm_narrowband_windows_are_not_fitted_and_get_an_offset_that_aligns_real_quantiles(tmp_path):
    config = FeatureConfig(**KIND_FEATURES["lfcc"], window_cmn=True)
    store = narrowband_corpus(tmp_path, config)
    settings = dict(model="lfcc-gmm", gmm_components=2, gmm_frames=3000, gmm_iterations=10)
    best = train(store, tmp_path / "run", TrainConfig(**settings, gmm_narrowband_hz=6000))
    state = load_checkpoint(best)
    model = model_from_checkpoint(state)
    offset = float(model.narrowband_offset)
    assert offset != 0 and state["model"]["narrowband_offset"] == pytest.approx(offset)
    assert describe(state)["narrowband route"] == (f"windows whose band ends below 6000 Hz were not fitted and are "
                                                   f"scored with {offset:+.3f} log-odds added")  # spoofscan info
    splits = {name: Store(store).split(name) for name in ("train", "val")}
    narrow = {name: window_band_edges(torch.from_numpy(split.images[:].astype(np.float32)), config) < 6000
              for name, split in splits.items()}
    assert all(n.any() and not n.all() for n in narrow.values())
    # the GMMs and their input statistics saw the wideband train windows only
    wide_train = np.flatnonzero(~narrow["train"].numpy())
    assert state["input_norm"]["mean"] == pytest.approx(
        input_statistics(splits["train"].images, config, select=wide_train)["mean"], rel=1e-6)

    def log_odds(split, chosen):
        with torch.no_grad():
            logits = model(model_input(torch.from_numpy(split.images[chosen].astype(np.float32)), config))
        return (logits[:, 1] - logits[:, 0]).numpy()

    real = {name: split.labels == 0 for name, split in splits.items()}
    wide_real_val = log_odds(splits["val"], np.flatnonzero(real["val"] & ~narrow["val"].numpy()))
    narrow_real = np.concatenate([log_odds(splits[name], np.flatnonzero(real[name] & narrow[name].numpy()))
                                  for name in splits])
    assert np.median(narrow_real) == pytest.approx(np.median(wide_real_val), abs=1e-4)
    # gmm_narrowband_quantile = 0.9: the same GMMs, with their upper tails aligned instead
    tail = load_checkpoint(train(store, tmp_path / "tail", TrainConfig(**settings, gmm_narrowband_hz=6000,
                                                                        gmm_narrowband_quantile=0.9)))
    assert all(torch.equal(tail["model"][k], v) for k, v in state["model"].items() if k != "narrowband_offset")
    tail_offset = float(tail["model"]["narrowband_offset"])
    assert tail_offset != pytest.approx(offset, abs=1e-3)
    assert np.quantile(narrow_real - offset + tail_offset, 0.9) == pytest.approx(np.quantile(wide_real_val, 0.9),
                                                                                 abs=1e-4)
    for bad in (0, 1, 1.5, float("nan")):
        with pytest.raises(SpoofscanError, match="gmm_narrowband_quantile=.* must lie between 0 and 1"):
            TrainConfig(model="lfcc-gmm", gmm_narrowband_hz=6000, gmm_narrowband_quantile=bad)
    with pytest.raises(SpoofscanError, match="only gmm_narrowband_hz > 0 makes; set gmm_narrowband_hz too"):
        TrainConfig(model="lfcc-gmm", gmm_narrowband_quantile=0.9)
    # a narrowband window scores as without the route, plus the offset; a wideband one exactly as without it
    plain = get_model("lfcc-gmm", config, train_config=TrainConfig(**settings))
    plain.load_state_dict({k: v for k, v in state["model"].items() if k != "narrowband_offset"})
    plain.set_input_norm(**state["input_norm"])
    x = model_input(torch.from_numpy(splits["val"].images[:].astype(np.float32)), config)
    with torch.no_grad():
        moved = (model(x) - plain(x))[:, 1] - (model(x) - plain(x))[:, 0]
    assert moved.numpy() == pytest.approx(np.where(narrow["val"].numpy(), offset, 0.0), abs=1e-4)
    # the detector measures the band of any file it scores, and the ONNX export does the same
    files = [c["path"] for c in splits["val"].clips]
    detector = Detector.from_checkpoint(best)
    torch_scores = [p.log_odds for p in detector.predict_files(files)]
    if importlib.util.find_spec("onnxruntime"):
        assert run(["export", str(best), "--onnx", str(tmp_path / "n.onnx")]) == 0
        onnx_scores = [p.log_odds for p in Detector.from_checkpoint(best, backend="onnx").predict_files(files)]
        assert onnx_scores == pytest.approx(torch_scores, rel=1e-3, abs=1e-3)


def test_low_band_view_is_the_cepstrum_of_the_band_below_whatever_lies_above_it():
    config = FeatureConfig(**{**KIND_FEATURES["lfcc"], "n_lfcc": 26})  # most coefficients kept, as 60 of 70
    # over the whole band the view gives back the stored rows
    assert torch.allclose(low_band_view(config, config.top_hz), torch.eye(3 * config.n_lfcc), atol=1e-6)
    view = low_band_view(config, 3500)  # 12 of the 30 filters (258 Hz apart) end at or below 3.5 kHz
    assert view.shape == (3 * 26, 3 * round(26 * 12 / 30))
    speech = speechlike(2.0, sr=config.sample_rate, seed=4)
    full = torch.from_numpy(lfcc(speech, config)).T  # (frames, rows)
    cut = torch.from_numpy(lfcc(brickwall(speech, 4000, config.sample_rate), config)).T
    assert (full - cut).norm(dim=1).mean() > 20 * ((full - cut) @ view).norm(dim=1).mean()
    # equal to the cepstrum of those 12 filters' log energies, as lfcc_coefficients computes them
    energies = np.log(linear_filters(config.n_fft, 30) @ np.abs(scipy.signal.stft(
        speech, nperseg=512, noverlap=512 - 160, window="hann", boundary=None, padded=False)[2] * 256) ** 2 + 1e-10)
    direct = scipy.fft.dct(energies[:12], axis=0, norm="ortho")[:10]
    coefficients = torch.from_numpy(lfcc_coefficients(speech, config))
    viewed = (coefficients.T @ view[:26, :10]).T.numpy()
    assert np.abs(viewed - direct).mean() < 0.05 * np.abs(direct).mean()
    with pytest.raises(SpoofscanError, match="a low band of 400 Hz holds 0 of the 30 LFCC filters"):
        low_band_view(config, 400)


@pytest.mark.parametrize("fits", [1, 2])
def test_gmm_narrowband_view_scores_narrowband_windows_with_a_pair_fitted_on_every_window(fits, tmp_path):
    """With gmm_fits = 2 too: each fit has its own narrowband pair, and the view's row statistics are the first's."""
    config = FeatureConfig(**KIND_FEATURES["lfcc"], window_cmn=True)
    store = narrowband_corpus(tmp_path, config)
    settings = dict(model="lfcc-gmm", gmm_components=2, gmm_frames=100_000, gmm_iterations=10, gmm_narrowband_hz=6000,
                    gmm_fits=fits)
    best = train(store, tmp_path / "view", TrainConfig(**settings, gmm_narrowband_view_hz=3500))
    state = load_checkpoint(best)
    model = model_from_checkpoint(state)
    assert model.narrow_means.shape[1] == 2 * fits
    if fits == 2:  # the two narrowband pairs started from different seeds
        assert not torch.equal(model.narrow_means[:, :2], model.narrow_means[:, 2:])
    assert describe(state)["narrowband route"] == (
        "windows whose band ends below 6000 Hz are scored by a GMM pair on the band below 3500 Hz with "
        f"{float(model.narrowband_offset):+.3f} log-odds added")
    # the wideband pair is the one fitted without the view; the narrowband pair saw every train frame, both bands
    plain = load_checkpoint(train(store, tmp_path / "plain", TrainConfig(**settings)))["model"]
    assert all(torch.equal(state["model"][k], plain[k]) for k in ("means", "precisions", "log_weights"))
    train_split = Store(store).split("train")
    frames = remove_window_mean(torch.from_numpy(train_split.images[:].astype(np.float32)), config.n_lfcc)
    low = frames.transpose(1, 2).reshape(-1, 3 * config.n_lfcc) @ low_band_view(config, 3500)
    assert model.narrow_row_mean.numpy() == pytest.approx(low.mean(dim=0).numpy(), abs=1e-4)
    # a narrowband window gets the narrowband pair's mean frame log-likelihoods, plus the offset on the fake one
    val = Store(store).split("val")
    x = model_input(torch.from_numpy(val.images[:].astype(np.float32)), config)
    narrow = model.narrow_windows(x.squeeze(1))
    assert narrow.any() and not narrow.all()
    low_val = (remove_window_mean(x.squeeze(1), config.n_lfcc).transpose(1, 2) @ model.view - model.narrow_row_mean) \
        / model.narrow_row_std
    expected = model.frame_log_likelihoods(low_val.reshape(-1, low_val.shape[2]), "narrow_").view(
        len(x), -1, 2).mean(dim=1)
    with torch.no_grad():
        logits = model(x)
    assert logits[narrow, 0].numpy() == pytest.approx(expected[narrow, 0].numpy(), abs=1e-4)
    assert (logits[narrow, 1] - expected[narrow, 1]).numpy() == pytest.approx(float(model.narrowband_offset), abs=1e-4)
    files = [c["path"] for c in val.clips]
    torch_scores = [p.log_odds for p in Detector.from_checkpoint(best).predict_files(files)]
    if importlib.util.find_spec("onnxruntime"):
        assert run(["export", str(best), "--onnx", str(tmp_path / "v.onnx")]) == 0
        onnx_scores = [p.log_odds for p in Detector.from_checkpoint(best, backend="onnx").predict_files(files)]
        assert onnx_scores == pytest.approx(torch_scores, rel=1e-3, abs=1e-3)
    for bad in (dict(gmm_narrowband_view_hz=3500), dict(gmm_narrowband_hz=6000, gmm_narrowband_view_hz=6000)):
        with pytest.raises(SpoofscanError, match="gmm_narrowband_view_hz=.* must lie between 0 and gmm_narrowband_hz"):
            TrainConfig(model="lfcc-gmm", **bad)


def test_gmm_narrowband_refuses_what_it_cannot_measure_or_align(tmp_path):
    config = FeatureConfig(**KIND_FEATURES["lfcc"], window_cmn=True)
    settings = TrainConfig(model="lfcc-gmm", gmm_components=2, gmm_frames=2000, gmm_iterations=5,
                           gmm_narrowband_hz=6000)
    store = narrowband_corpus(tmp_path / "wide", config, narrow_reals=False)
    with pytest.raises(SpoofscanError, match="no real window has a band edge below 6000 Hz"):
        train(store, tmp_path / "run1", settings)
    store = narrowband_corpus(tmp_path / "both", config)
    with pytest.raises(SpoofscanError, match="no real window with a band edge at or above gmm_narrowband_hz = 8100 Hz"):
        train(store, tmp_path / "run2", dataclasses.replace(settings, gmm_narrowband_hz=8100))
    with pytest.raises(SpoofscanError, match="a low band of 400 Hz holds 0 of the 30 LFCC filters.*raise it to"):
        train(store, tmp_path / "run4", dataclasses.replace(settings, gmm_narrowband_view_hz=400))
    assert not any((tmp_path / "run4").glob("*"))  # nothing written
    header = json.loads((store / "header.json").read_text())
    (store / "header.json").write_text(json.dumps({**header, "format": "spoofscan-store-1"}))
    with pytest.raises(SpoofscanError, match="earlier spoofscan.*prepare the store again"):
        train(store, tmp_path / "run3", settings)
    with pytest.raises(SpoofscanError, match="gmm_narrowband_hz must be >= 0"):
        TrainConfig(model="lfcc-gmm", gmm_narrowband_hz=-1)
    # val's real windows all narrowband: nothing held in to align them with
    def split(labels: list[int]) -> SplitData:
        return SplitData(np.zeros((len(labels), 1, 1)), np.array(labels), np.arange(len(labels)), [])

    splits = {"train": split([0, 0, 1]), "val": split([0, 1])}
    with pytest.raises(SpoofscanError, match="the val split holds no wideband real windows.*gmm_narrowband_hz = 0"):
        narrowband_reals(Store(store), splits, {"train": np.array([True, False, False]),
                                                "val": np.array([True, False])}, narrowband_hz=6000)
    reference, narrow_real = narrowband_reals(Store(store), splits, {"train": np.array([True, False, False]),
                                                                     "val": np.array([False, True])},
                                              narrowband_hz=6000)
    assert reference.tolist() == [0] and narrow_real["train"].tolist() == [0] and narrow_real["val"].tolist() == []


def test_gmm_balance_draws_each_class_equally_from_every_source(family_runs, tmp_path):
    """A source with nine tenths of the real frames gets no more of the GMM's frames than one with a tenth; a source
    with fewer frames than its share gives the rest to the others; without gmm_balance the draw is uniform."""
    assert balanced_quotas(np.array([5, 100, 100]), 90).tolist() == [5, 43, 42]
    assert balanced_quotas(np.array([5, 10]), 100).tolist() == [5, 10]
    sources = ["big"] * 9 + ["small", "small-fake"]
    clips = [{"source": s} for s in sources]
    images = np.stack([np.full((3, 40), n, dtype=np.float32) for n in range(len(clips))])  # row values = window
    split = SplitData(images, np.array([0] * 10 + [1]), np.arange(len(clips)), clips)
    groups = window_groups(split, "source")
    rng = np.random.default_rng(0)
    drawn = sample_frames(split, 0, 80, rng, groups=groups)
    from_small = int((drawn[:, 0] == 9).sum())
    assert len(drawn) == 80 and from_small == 40  # its 40 frames, not a tenth of the draw
    plain = sample_frames(split, 0, 80, np.random.default_rng(0))
    assert int((plain[:, 0] == 9).sum()) < 20
    # speech frames only, balanced the same way
    keep = lambda c0: np.arange(c0.shape[1])[None, :].repeat(len(c0), axis=0) < 10  # the first 10 frames of each
    drawn = sample_frames(split, 0, 20, rng, keep=keep, groups=groups)
    assert int((drawn[:, 0] == 9).sum()) == 10 and len(drawn) == 20
    assert window_groups(split, "") is None
    assert len(sample_frames(split, 1, 10, rng, windows_ok=np.zeros(len(clips), dtype=bool), groups=groups)) == 0
    # a trained detector keeps the setting
    best = train(family_runs["stores"]["lfcc"], tmp_path / "balanced", TrainConfig(**FAMILY_TRAIN["lfcc-gmm"],
                                                                                   gmm_balance="system"))
    assert load_checkpoint(best)["train_config"].gmm_balance == "system"
    with pytest.raises(SpoofscanError, match="gmm_balance='repo'.*source, system, speaker"):
        TrainConfig(model="lfcc-gmm", gmm_balance="repo")
