import os

import pytest

from spoofscan import io as io_module
from spoofscan.errors import SpoofscanError
from spoofscan.io import write_json, write_text, write_with


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    write_json(target, {"eer": 0.1})
    monkeypatch.setattr(io_module.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(SpoofscanError) as error:
        write_json(target, {"eer": 0.2})
    assert str(target) in str(error.value) and "disk full" in str(error.value)
    assert target.read_text().strip().endswith("}") and '"eer": 0.1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_read_back_failure_is_loud(tmp_path):
    def check(path):
        raise ValueError("truncated\nsecond line")

    with pytest.raises(SpoofscanError) as error:
        write_with(tmp_path / "x.bin", lambda b: b.write(b"abc"), check=check)
    assert "could not read back" in str(error.value) and "\n" not in str(error.value)


def test_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SpoofscanError, match="could not write"):
        write_text(blocker / "report.md", "hello")


def test_a_failed_write_stops_training_with_the_path(tiny_run, tmp_path, monkeypatch):
    from spoofscan.train import train

    real_replace = os.replace

    def failing(src, dst):
        if str(dst).endswith("history.csv"):
            raise OSError("No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(io_module.os, "replace", failing)
    with pytest.raises(SpoofscanError) as error:
        train(tiny_run["store"], tmp_path / "run", tiny_run["config"])
    assert str(tmp_path / "run" / "history.csv") in str(error.value) and "No space left" in str(error.value)
