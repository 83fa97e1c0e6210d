import json

import numpy as np
import pytest

from conftest import speechlike, write
from spoofscan import store as store_module
from spoofscan.cli import run
from spoofscan.config import FeatureConfig
from spoofscan.errors import SpoofscanError
from spoofscan.layouts import load_items
from spoofscan.splits import grouped_split
from spoofscan.store import Store, prepare

SMALL = FeatureConfig(sample_rate=16000, n_fft=512, win_length=512, hop_length=128, n_mels=40,
                      window_frames=32, window_hop_frames=32, image_size=32)


def split_items(root):
    return grouped_split(load_items(root), seed=0)[0]


def test_prepare_and_load(generic_tree, tmp_path):
    items = split_items(generic_tree)
    path = prepare(items, tmp_path / "store", SMALL, workers=1, progress=False)
    store = Store(path, feature_config=SMALL)
    store.verify()
    train = store.split("train")
    assert train.images.shape[1:] == (40, 32) and train.images.dtype == np.uint8
    assert isinstance(train.images, np.memmap)
    assert len(train.labels) == len(train.images) == len(train.clip_of_window)
    assert sum(int(c["n_windows"]) for c in train.clips) == len(train.images)
    assert set(train.labels) == {0, 1}
    header = store.header
    assert header["feature_config"]["n_mels"] == 40 and header["versions"]["torch"]
    total = sum(c["clips"] for c in header["counts"].values())
    assert total == len(items) and header["skipped"] == 0
    # the stored windows are exactly what the feature code gives for that file
    from spoofscan.features import clip_windows
    first = train.clips[0]
    expected, _ = clip_windows(first["path"], SMALL)
    assert np.array_equal(train.images[:len(expected)], expected)


def test_prepare_in_parallel_equals_serial(generic_tree, tmp_path):
    items = split_items(generic_tree)
    serial = Store(prepare(items, tmp_path / "a", SMALL, workers=1, progress=False))
    parallel = Store(prepare(items, tmp_path / "b", SMALL, workers=2, progress=False))
    assert serial.header["files"] == parallel.header["files"]  # same SHA-256 of every data file


def test_bad_files_are_skipped_with_reasons_or_fatal_with_strict(generic_tree, tmp_path):
    (generic_tree / "real" / "broken.wav").write_bytes(b"RIFF....garbage")
    write(generic_tree / "real" / "quiet.wav", np.zeros(16000, np.float32))
    items = split_items(generic_tree)
    store = Store(prepare(items, tmp_path / "store", SMALL, workers=1, progress=False))
    skipped = (store.path / "skipped.csv").read_text()
    assert store.header["skipped"] == 2 and "cannot decode" in skipped and "silent audio" in skipped
    with pytest.raises(SpoofscanError, match="--strict"):
        prepare(items, tmp_path / "strict", SMALL, workers=1, strict=True, progress=False)
    assert not (tmp_path / "strict").exists()


def test_existing_store_needs_force_and_config_mismatch_is_an_error(generic_tree, tmp_path):
    items = split_items(generic_tree)
    path = prepare(items, tmp_path / "store", SMALL, workers=1, progress=False)
    with pytest.raises(SpoofscanError, match="--force"):
        prepare(items, path, SMALL, workers=1, progress=False)
    other = FeatureConfig(**{**SMALL.__dict__, "n_mels": 64})
    prepare(items, path, other, workers=1, force=True, progress=False)
    with pytest.raises(SpoofscanError, match="n_mels: saved 64 vs asked 40"):
        Store(path, feature_config=SMALL)


def test_prepare_copies_the_windows_another_store_holds_bit_for_bit(generic_tree, tmp_path, monkeypatch):
    """reuse: the clips another store holds (split another way) are copied, not extracted again, and the store equals
    one extracted afresh; clips it lacks, a store of other settings and degraded train copies are extracted."""
    extracted = []
    real_extract = store_module._extract

    def counted_extract(args):
        extracted.append(args[1])
        return real_extract(args)

    items = split_items(generic_tree)
    other_split = grouped_split(load_items(generic_tree), seed=1)[0]
    assert [it.split for it in other_split] != [it.split for it in items]
    half = prepare(items[: len(items) // 2], tmp_path / "half", SMALL, workers=1, progress=False)
    fresh = Store(prepare(other_split, tmp_path / "fresh", SMALL, workers=1, progress=False))
    monkeypatch.setattr(store_module, "_extract", counted_extract)
    copied = Store(prepare(other_split, tmp_path / "copied", SMALL, workers=1, progress=False, reuse=(half,)))
    assert sorted(extracted) == sorted(it.path for it in items[len(items) // 2:])
    assert copied.header["files"] == fresh.header["files"]  # the same SHA-256 of every data file
    assert (copied.path / "index.csv").read_text() == (fresh.path / "index.csv").read_text()

    extracted.clear()
    coarser = prepare(items, tmp_path / "coarser", FeatureConfig(**{**SMALL.__dict__, "n_mels": 32}), workers=1,
                      progress=False)
    augmented = prepare(items, tmp_path / "augmented", SMALL, workers=1, progress=False, augment=("noise_random",),
                        augment_copies=1)
    extracted.clear()
    prepare(other_split, tmp_path / "again", SMALL, workers=1, progress=False, reuse=(coarser, augmented))
    assert sorted(extracted) == sorted(it.path for it in items if it.split == "train")


def test_interrupted_prepare_leaves_no_store_and_resumes(generic_tree, tmp_path, monkeypatch):
    items = split_items(generic_tree)
    calls = {"n": 0}
    real_extract = store_module._extract

    def dying_extract(args):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return real_extract(args)

    monkeypatch.setattr(store_module, "_extract", dying_extract)
    with pytest.raises(KeyboardInterrupt):
        prepare(items, tmp_path / "store", SMALL, workers=1, progress=False)
    assert not (tmp_path / "store").exists()
    with pytest.raises(SpoofscanError, match="unfinished prepare"):
        Store(tmp_path / "store")
    progress = (tmp_path / "store.partial" / "progress.jsonl").read_text().splitlines()
    assert len(progress) == 9
    calls["n"] = -1000
    resumed = Store(prepare(items, tmp_path / "store", SMALL, workers=1, progress=False))
    assert calls["n"] == -1000 + len(items) - 9  # only the unfinished items were extracted again
    clean = Store(prepare(items, tmp_path / "clean", SMALL, workers=1, progress=False))
    assert resumed.header["files"] == clean.header["files"]
    assert not (tmp_path / "store.partial").exists()


def test_cli_prepare_seed_npy_and_unsplit_data(combined_leaky, generic_tree, tmp_path, capsys):
    fixed = tmp_path / "fixed.csv"
    assert run(["audit", str(combined_leaky), "--fix", str(fixed)]) == 0
    assert run(["prepare", str(fixed), "--out", str(tmp_path / "s"), "--image-size", "48", "--workers", "1"]) == 0
    store = Store(tmp_path / "s")
    assert store.feature_config.input_mode == "resize"  # the seed's .npy mels default to resize
    assert store.split("train").images.shape[1:] == (48, 48)
    assert run(["prepare", str(generic_tree), "--out", str(tmp_path / "t")]) == 2
    assert "spoofscan split" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[features]\nn_mells = 3\n")
    assert run(["prepare", str(fixed), "--out", str(tmp_path / "u"), "--config", str(bad)]) == 2
    assert "unknown FeatureConfig field(s) ['n_mells']" in capsys.readouterr().err


def test_corrupt_store_header_is_a_clear_error(generic_tree, tmp_path):
    path = prepare(split_items(generic_tree), tmp_path / "store", SMALL, workers=1, progress=False)
    (path / "header.json").write_text("{ broken")
    with pytest.raises(SpoofscanError, match="corrupt header"):
        Store(path)
    (path / "header.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(SpoofscanError, match="store format"):
        Store(path)


def test_cli_split_audit_prepare_on_a_wavefake_tree(wavefake_tree, tmp_path):
    manifest = tmp_path / "split.csv"
    assert run(["split", str(wavefake_tree), "--out", str(manifest), "--seed", "3"]) == 0
    assert run(["audit", str(manifest)]) == 0
    assert run(["prepare", str(manifest), "--out", str(tmp_path / "store"), "--sample-rate", "16000",
                "--image-size", "32", "--workers", "2"]) == 0
    store = Store(tmp_path / "store")
    assert store.feature_config.input_mode == "window"  # audio defaults to fixed windows
    assert sum(c["clips"] for c in store.header["counts"].values()) == 30
    assert {r["system"] for r in store.index} == {"ground_truth", "ljspeech_melgan", "ljspeech_hifiGAN"}
    assert {r["source"] for r in store.index} == {"ljspeech"}
    assert run(["audit", str(tmp_path / "store")]) == 0  # a store's index can be audited too


def test_degraded_copies_of_train_clips_only(generic_tree, tmp_path, capsys):
    items = split_items(generic_tree)
    plain = Store(prepare(items, tmp_path / "plain", SMALL, workers=1, progress=False))
    augmented = Store(prepare(items, tmp_path / "aug", SMALL, workers=2, progress=False,
                              augment=("mp3", "noise_random"), augment_copies=2))
    assert augmented.header["train_augmentation"] == {"conditions": ["mp3", "noise_random"], "copies": 2, "seed": 0}
    for split in ("val", "test"):  # evaluation data stays clean
        assert augmented.header["files"][split] == plain.header["files"][split]
    train_plain, train_aug = plain.split("train"), augmented.split("train")
    assert len(train_aug.labels) == 3 * len(train_plain.labels)
    first = int(train_aug.clips[0]["n_windows"]) // 3
    assert np.array_equal(train_aug.images[:first], train_plain.images[:first])  # the clean copy comes first
    assert not np.array_equal(train_aug.images[first:2 * first], train_plain.images[:first])
    again = Store(prepare(items, tmp_path / "again", SMALL, workers=1, progress=False,
                          augment=("mp3", "noise_random"), augment_copies=2))
    assert again.header["files"] == augmented.header["files"]  # seeded: the same copies every time
    # audit --augment draws the copies that prepare draws from the same manifest, whatever order its splits come in
    drawn = dict(zip([it.path for it in items], store_module.train_copies(items, ("mp3", "noise_random"), 2)))
    test_first = sorted(items, key=lambda it: -store_module.SPLITS.index(it.split))  # stable within each split
    assert [it.path for it in test_first] != [it.path for it in items]
    assert dict(zip([it.path for it in test_first],
                    store_module.train_copies(test_first, ("mp3", "noise_random"), 2))) == drawn
    assert sum(bool(c) for c in drawn.values()) == sum(it.split == "train" for it in items)
    with pytest.raises(SpoofscanError, match="--augment"):
        prepare(items, tmp_path / "bad", SMALL, augment=("underwater",), augment_copies=1)
    with pytest.raises(SpoofscanError, match="--augment"):
        prepare(items, tmp_path / "bad", SMALL, augment=("mp3",), augment_copies=0)
