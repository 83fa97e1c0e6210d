"""experiments/held_out_errors.py: per-source errors of a leave-sources-out run, spectral holes, score averaging."""
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import loo_folder, speechlike, vocode, write
from spoofscan.audio import brickwall

SCRIPT = Path(__file__).parents[1] / "experiments" / "held_out_errors.py"
spec = importlib.util.spec_from_file_location("held_out_errors", SCRIPT)
held_out_errors = importlib.util.module_from_spec(spec)
spec.loader.exec_module(held_out_errors)


def script(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def with_sources(root: Path, clips: list[tuple[str, int, str]], source_of) -> Path:
    """Each fold of a loo folder gets the store index that names its clips' sources."""
    for fold in sorted({c[2] for c in clips}):
        store = root / fold / "store"
        store.mkdir()
        rows = ["path,source"] + [f"{c[0]},{source_of(c[0])}" for c in clips if c[2] == fold]
        (store / "index.csv").write_text("\n".join(rows) + "\n")
    return root


def test_sources_and_average_name_what_errs_and_mismatched_runs_fail(tmp_path):
    rng = np.random.default_rng(0)
    # per fold: 20 real and 20 fake clips of a clean source, and 10 real mp3 files of a lossy one that score as fake
    clips = [(f"f{k}/clean{i}.wav", i % 2, f"source=fold{k}") for k in range(3) for i in range(40)]
    clips += [(f"f{k}/lossy{i}.mp3", 0, f"source=fold{k}") for k in range(3) for i in range(10)]
    labels = np.array([c[1] for c in clips])
    lossy = np.array([c[0].endswith(".mp3") for c in clips])
    scores = 3.0 * labels + rng.normal(0, 0.5, len(clips)) + 4.0 * lossy
    source_of = lambda path: "lossy" if path.endswith(".mp3") else "clean"  # noqa: E731
    run_a = with_sources(loo_folder(tmp_path / "a", clips, scores), clips, source_of)
    result = script("sources", run_a)
    assert result.returncode == 0, result.stderr
    folds = [line for line in result.stdout.splitlines() if line.startswith("a source=fold")]
    assert len(folds) == 3
    for line in folds:
        eer_all, eer_without = (float(x.split(" %")[0]) for x in line.split("EER ")[1].split(", ")[:2])
        assert eer_all > 10 and eer_without < 5 and "without lossy" in line
        assert "lossy real files 10, median log-odds +" in line and float(line.split("log-odds ")[1]) > 3
        # the clean source alone separates its classes; the lossy one has no fakes, so no EER of its own
        assert "within sources 0.0 % (1 with both classes)" in line
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("  lossy")]
    assert all(row[1:5] == ["real", "10", "flagged", "10"] and "own EER" not in " ".join(row) for row in rows)
    assert all(line.endswith("own EER 0.0 %") for line in result.stdout.splitlines() if line.startswith("  clean"))
    assert all(float(row[row.index("log-odds") + 1]) > 3 for row in rows)  # the lossy real clips' median

    run_b = loo_folder(tmp_path / "b", clips, 3.0 * labels + rng.normal(0, 0.5, len(clips)))  # lossy files scored right
    result = script("average", run_a, run_b)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    mean_of = lambda line: float(line.split("mean ")[1].split(" %")[0])  # noqa: E731
    assert lines[0].startswith("weight of B 0.0") and lines[-1].startswith("weight of B 1.0")
    assert mean_of(lines[-1]) < mean_of(lines[0])

    # another training seed's scores in the same folder (loo --seeds 0,1): --seed-b reads them
    for fold in run_b.glob("source=*"):
        shutil.copytree(fold / "report_seed0", run_a / fold.name / "report_seed1")
    assert script("average", run_a, run_a, "--seed-b", 1).stdout.splitlines() == lines
    # two `evaluate` scores.csv files (two models on one test set): one EER a weight, and the weights move it
    files = sorted(run_a.glob("source=fold0/report_seed*/scores.csv"))
    result = script("average", *files)
    assert result.returncode == 0, result.stderr
    pooled = result.stdout.splitlines()
    assert len(pooled) == 5 and all(" / " not in line for line in pooled)
    assert mean_of(pooled[-1]) < mean_of(pooled[0])  # seed 1 here is run_b's fold 0, which scores mp3 files right

    not_scores = tmp_path / "notes.csv"
    not_scores.write_text("a,b\n1,2\n")
    moved = loo_folder(tmp_path / "c", [(c[0], c[1], "source=fold0") for c in clips], scores)
    for args, reason in ((("average", run_a, moved), "score different clips"),
                         (("average", files[0], not_scores), "notes.csv: not a scores.csv"),
                         (("sources", tmp_path), "no source=*"),
                         (("average", run_a, run_a, "--seed-b", 2), "no source=*/report_seed2"),
                         (("holes", tmp_path / "*.flac"), "no audio file matches")):
        result = script(*args)
        assert result.returncode != 0 and reason in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_holes_are_few_in_full_band_audio_and_many_where_a_codec_cut_bands(tmp_path):
    rng = np.random.default_rng(1)
    noise = (0.1 * rng.standard_normal(22050 * 2)).astype(np.float32)
    write(tmp_path / "full.wav", noise, sr=22050)
    write(tmp_path / "cut.wav", brickwall(noise, 6000.0, 22050), sr=22050)  # 6-10 kHz empty
    shares = {}
    for name in ("full", "cut"):
        result = script("holes", tmp_path / f"{name}.wav")
        assert result.returncode == 0, result.stderr
        shares[name] = float(result.stdout.split("spectral holes ")[1].split(" %")[0])
    assert shares["full"] < 1 and shares["cut"] > 50


def test_copies_scores_each_held_out_clip_against_its_own_resynthesis(tmp_path, tiny_run):
    from spoofscan.metrics import eer
    from spoofscan.predict import Detector

    clips, waves = [], {}
    for n in range(8):  # two folds, each with 2 real and 2 fake clips at 16 kHz
        real = speechlike(1.2, seed=300 + n)
        waves[f"data/u{n}.wav"] = real if n % 2 == 0 else vocode(real, seed=n)
        clips.append((f"data/u{n}.wav", n % 2, f"source=fold{n // 4}"))
    for name, wave in waves.items():
        write(tmp_path / name, wave)
    log_odds = np.array([0.5, 1.0, -2.0, 0.2, -1.0, 2.0, 0.3, -0.4])
    loo = loo_folder(tmp_path / "loo", clips, log_odds)
    for fold in ("source=fold0", "source=fold1"):
        (loo / fold / "run_seed0").mkdir()
        shutil.copy(tiny_run["best"], loo / fold / "run_seed0" / "best.pt")
    result = script("copies", loo, tmp_path / "copies", "--system", "lpc")
    assert result.returncode == 0, result.stderr
    made = sorted((tmp_path / "copies" / "fake" / "lpc").glob("*_gen.wav"))
    assert len(made) == 8  # the fakes re-synthesized too

    # independently: each copy scored by predict_file, the EERs of clip - alpha x copy per fold
    detector = Detector.from_checkpoint(tiny_run["best"])
    copied = np.array([detector.predict_file(path).log_odds for path in made])  # pair names them in clip order
    labels = np.array([c[1] for c in clips])
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines() if line.startswith("alpha")}
    for alpha in (0.0, 1.0):
        expected = [100 * eer(labels[k * 4:k * 4 + 4], (log_odds - alpha * copied)[k * 4:k * 4 + 4])[0]
                    for k in range(2)]
        assert lines[f"alpha {alpha:+.2f}"].split(": ")[1].startswith(" / ".join(f"{e:.1f}" for e in expected))
    gains = [line for line in result.stdout.splitlines() if "clips with a scored copy" in line]
    assert len(gains) == 2 and all(line.split(": ")[1].startswith("4 of 4 clips") for line in gains)
    gain = copied - log_odds
    assert f"real {np.median(gain[[0, 2]]):+.2f}, fake {np.median(gain[[1, 3]]):+.2f}" in gains[0]

    result = script("copies", loo, tmp_path / "copies3", "--system", "nope")
    assert result.returncode != 0 and "--system nope" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "copies3").exists()  # refused before anything is written

    (tmp_path / "data" / "u3.wav").unlink()
    result = script("copies", loo, tmp_path / "copies2", "--system", "lpc")
    assert result.returncode != 0 and "u3.wav: not found" in result.stderr and "relative to" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_clip_pools_by_hand():
    frames, loudness = np.array([1.0, 2.0, 3.0, 10.0]), np.array([0.0, -5.0, -35.0, -50.0])
    pools = held_out_errors.clip_pools(frames, loudness)
    assert pools["mean"] == 4.0 and pools["median"] == 2.5 and pools["trimmed mean 20 %"] == 4.0  # 4 // 5 = 0 cut
    assert pools["loud 30 dB"] == 1.5 and pools["loud 40 dB"] == 2.0 and pools["loud 20 dB"] == 1.5
    assert pools["loud 30 dB - 0.5 x quiet"] == 1.5 - 0.5 * 6.5  # the quiet frames: 3 and 10
    assert pools["mean / std"] == 4.0 / np.std(frames)
    loud_only = held_out_errors.clip_pools(frames, np.zeros(4))
    assert loud_only["loud 20 dB - 1.0 x quiet"] == 0.0  # no pauses: scored against its own loud frames


def test_frames_pools_held_out_frames_and_its_mean_is_the_runs_own_score(tiny_run, tmp_path):
    from spoofscan.cli import run
    from spoofscan.io import read_csv

    loo = tmp_path / "loo"
    for cmn in ("false", "true"):
        shutil.rmtree(loo, ignore_errors=True)
        assert run(["loo", str(tiny_run["data"]), "--out", str(loo), "--model", "lfcc-gmm", "--set", "gmm_components=4",
                    "--set", "gmm_frames=2000", "--set", "sample_rate=16000", "--set", "n_fft=512",
                    "--set", "win_length=512", "--set", "hop_length=160", "--set", "window_frames=32",
                    "--set", "window_hop_frames=32", "--set", f"window_cmn={cmn}", "--workers", "1"]) == 0
        folds = sorted(p.parent.parent.name for p in loo.glob("*/run_seed0/best.pt"))
        assert len(folds) == 2
        for fold in folds:  # loo's own clip scores: the mean of the windows' mean frame log-likelihood ratios
            stored = {r["id"]: float(r["log_odds"]) for r in read_csv(loo / fold / "report_seed0" / "scores.csv")}
            clips, pooled = held_out_errors.pooled_fold_scores(loo, fold)
            assert len(clips) == len(stored) > 0
            np.testing.assert_allclose(pooled["mean"], [stored[c["path"]] for c in clips], rtol=1e-4, atol=1e-3)
    result = script("frames", loo)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if " %, mean " in line]
    assert len(rows) == 16 and all(row[29:].count(" / ") == 1 for row in rows) and rows[0].startswith("mean ")
    result = script("frames", tmp_path / "nothing")
    assert result.returncode != 0 and "no */run_seed0/best.pt" in result.stderr and result.stderr.count("\n") == 1
    # ratios: the unbounded mean reproduces loo's fold EERs; every rule gets a row of fold EERs
    result = script("ratios", loo)
    assert result.returncode == 0, result.stderr
    rows = {line[:16].strip(): line[16:] for line in result.stdout.splitlines()[1:]}
    assert len(rows) == len(held_out_errors.RATIO_RULES) and "clamp +-4" in rows and "mixture" in rows
    loo_eers = [100 * json.loads((loo / fold / "report_seed0" / "metrics.json").read_text())["eer"] for fold in folds]
    assert [float(e) for e in rows["unbounded mean"].split(" = ")[0].split(" / ")] == pytest.approx(loo_eers, abs=0.06)
    result = script("ratios", loo, "--seed", "3")
    assert result.returncode != 0 and "no */run_seed3/best.pt" in result.stderr
