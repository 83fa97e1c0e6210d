"""Archive scans: predict --csv appends as it goes, --resume skips what is done, --workers decodes in parallel,
torchrun shards the files and rank 0 merges."""
import csv
import os
import subprocess
import sys

import pytest

from conftest import speechlike, write
from spoofscan.cli import run
from spoofscan.scan import CSV_FIELDS


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def archive(tmp_path):
    folder = tmp_path / "archive"
    for n in range(6):
        write(folder / f"clip{n}.wav", speechlike(1.0 + 0.2 * n, seed=300 + n))
    (folder / "broken.wav").write_bytes(b"RIFF not really")
    return folder


def test_scan_resumes_and_rescans_changed_files(tiny_run, archive, tmp_path, capsys):
    out = tmp_path / "scan.csv"
    assert run(["predict", str(tiny_run["best"]), str(archive), "--csv", str(out)]) == 1  # broken.wav failed
    first = rows_of(out)
    assert list(first[0]) == CSV_FIELDS and {r["path"] for r in first} == {str(p) for p in archive.iterdir()}
    assert run(["predict", str(tiny_run["best"]), str(archive), "--csv", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    # an interruption: the last file's rows and half a row lost; a file changed since
    lines = out.read_text().splitlines()
    last = first[-1]["path"]
    kept = [line for line in lines if not line.startswith(last + ",")]
    out.write_text("\n".join(kept) + "\n" + lines[-1][:20])
    write(archive / "clip0.wav", speechlike(2.0, seed=999))
    capsys.readouterr()
    run(["predict", str(tiny_run["best"]), str(archive), "--csv", str(out), "--resume"])
    err = capsys.readouterr().err
    assert "2 files scored by this process" in err and "5 already there" in err
    after = rows_of(out)
    assert {r["path"] for r in after} == {r["path"] for r in first}
    clip0 = [r for r in after if r["path"].endswith("clip0.wav")]
    assert len({r["window"] for r in clip0}) == len(clip0)  # the old rows of the changed file are gone
    assert run(["predict", str(tiny_run["best"]), str(archive), "--csv", str(out), "--resume"]) == 0
    assert "0 files scored" in capsys.readouterr().err  # nothing left (broken.wav's error row counts as done)


def test_scan_refuses_another_checkpoints_csv(tiny_run, family_free_copy, archive, tmp_path, capsys):
    out = tmp_path / "scan.csv"
    run(["predict", str(tiny_run["best"]), str(archive / "clip1.wav"), "--csv", str(out)])
    assert run(["predict", str(family_free_copy), str(archive), "--csv", str(out), "--resume"]) == 2
    assert "written by another checkpoint" in capsys.readouterr().err
    assert run(["predict", str(tiny_run["best"]), str(archive), "--resume"]) == 2
    assert "give the --csv file" in capsys.readouterr().err


@pytest.fixture
def family_free_copy(tiny_run, tmp_path):
    """Another checkpoint: the same run's fp16 copy (other bytes, other digest)."""
    path = tmp_path / "other.pt"
    assert run(["export", str(tiny_run["best"]), "--fp16", str(path)]) == 0
    return path


def test_workers_and_torchrun_shards_give_the_same_scores(tiny_run, archive, tmp_path):
    (archive / "broken.wav").unlink()
    single, pooled, sharded = tmp_path / "single.csv", tmp_path / "pooled.csv", tmp_path / "sharded.csv"
    assert run(["predict", str(tiny_run["best"]), str(archive), "--csv", str(single)]) == 0
    assert run(["predict", str(tiny_run["best"]), str(archive), "--csv", str(pooled), "--workers", "2"]) == 0
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29541",
               "-m", "spoofscan", "predict", str(tiny_run["best"]), str(archive), "--csv", str(sharded)]
    result = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not list(tmp_path.glob("sharded.csv.rank*"))

    def scores(path):
        return {(r["path"], r["window"]): float(r["window_score"]) for r in rows_of(path)}

    reference = scores(single)
    for other in (pooled, sharded):
        got = scores(other)
        assert got.keys() == reference.keys()
        assert all(got[k] == pytest.approx(v, abs=1e-6) for k, v in reference.items())


def test_new_predict_flags_reject_bad_values(tiny_run, archive, tmp_path, capsys):
    clip = str(archive / "clip1.wav")
    assert run(["predict", str(tiny_run["best"]), clip, "--workers", "0"]) == 2
    assert "--workers 0" in capsys.readouterr().err
    assert run(["predict", str(tiny_run["best"]), clip, "--stream", "-1", "--json"]) == 1
    assert "streams are numbered from 0" in capsys.readouterr().out
    assert run(["predict", str(tiny_run["best"]), clip, "--stream", "1", "--json"]) == 1  # a wav has one stream
    assert "--stream 1, but the file has 1 audio stream" in capsys.readouterr().out
    out = tmp_path / "f.pt"
    assert run(["fuse", str(tiny_run["best"]), str(tiny_run["best"]), "--on", str(tiny_run["manifest"]),
                "--split", "nosuch", "--out", str(out)]) == 2
    assert "no clip in the nosuch split" in capsys.readouterr().err and not out.exists()
    assert run(["prepare", str(tiny_run["manifest"]), "--out", str(tmp_path / "s"), "--input-kind", "pixels"]) == 2
    assert "input_kind='pixels'" in capsys.readouterr().err and not (tmp_path / "s").exists()
