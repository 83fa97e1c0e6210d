import csv

import numpy as np
import pytest

from conftest import speechlike, write
from spoofscan.cli import run
from spoofscan.errors import SpoofscanError
from spoofscan.layouts import Item, detect_layout, load_items
from spoofscan.splits import audit, fix_leakage, grouped_split, hash_items


def test_wavefake_layout(wavefake_tree):
    items = load_items(wavefake_tree)
    assert detect_layout(wavefake_tree) == "wavefake"
    assert len(items) == 30
    assert {it.system for it in items} == {"ground_truth", "ljspeech_melgan", "ljspeech_hifiGAN"}
    fake = next(it for it in items if it.path.endswith("LJ001-0004_gen.wav"))
    assert fake.label == "fake" and fake.group == "LJ001-0004" and fake.speaker == "ljspeech"


def test_generic_combined_manifest_layouts(generic_tree, combined_leaky, tmp_path):
    generic = load_items(generic_tree)
    assert detect_layout(generic_tree) == "generic"
    assert {(it.label, it.system) for it in generic} == {("real", "ground_truth"), ("fake", "buzz")}
    combined = load_items(combined_leaky)
    assert detect_layout(combined_leaky) == "combined"
    assert {it.split for it in combined} == {"train", "val", "test"}
    assert next(it for it in combined if it.path.endswith("LJ001-0009_gen.npy")).group == "LJ001-0009"
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,system,utterance,speaker,split\n"
                        f"{generic_tree}/real/utt000.wav,real,,u0,spk1,train\n"
                        "generic/fake/buzz/utt000_gen.wav,fake,buzz,u0,spk1,train\n")
    items = load_items(manifest)
    assert items[1].path == str(tmp_path / "generic/fake/buzz/utt000_gen.wav")
    assert items[0].system == "ground_truth" and items[1].group == "u0" and items[0].speaker == "spk1"


def test_asvspoof_and_in_the_wild_layouts(tmp_path):
    asv = tmp_path / "LA"
    (asv / "ASVspoof2019_LA_cm_protocols").mkdir(parents=True)
    (asv / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt").write_text(
        "LA_0069 LA_D_1047731 - - bonafide\nLA_0070 LA_D_1000001 - A04 spoof\n")
    for file_id in ("LA_D_1047731", "LA_D_1000001"):
        write(asv / "ASVspoof2019_LA_dev" / "flac" / f"{file_id}.flac", speechlike(0.5))
    items = load_items(asv)
    assert [(it.label, it.system, it.split, it.speaker) for it in items] == [
        ("real", "ground_truth", "val", "LA_0069"), ("fake", "A04", "val", "LA_0070")]
    wild = tmp_path / "wild"
    write(wild / "0.wav", speechlike(0.5))
    write(wild / "1.wav", speechlike(0.5, seed=1))
    (wild / "meta.csv").write_text("file,speaker,label\n0.wav,Alec Guinness,spoof\n1.wav,Alec Guinness,bona-fide\n")
    items = load_items(wild)
    assert [(it.label, it.speaker) for it in items] == [("fake", "Alec Guinness"), ("real", "Alec Guinness")]


def test_unknown_tree_lists_the_layouts(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(SpoofscanError) as error:
        load_items(tmp_path / "x")
    for name in ("combined", "wavefake", "asvspoof2019", "in_the_wild", "generic", "manifest"):
        assert name in str(error.value)
    with pytest.raises(SpoofscanError, match="use one of"):
        load_items(tmp_path / "x", layout="nope")


def test_grouped_split_keeps_groups_together_and_is_seeded(wavefake_tree):
    items = load_items(wavefake_tree)
    kept, dropped = grouped_split(items, seed=1)
    assert not dropped and len(kept) == len(items)
    split_of_group = {}
    for it in kept:
        assert split_of_group.setdefault(it.group, it.split) == it.split
    assert {it.split for it in kept} == {"train", "val", "test"}
    assert [it.split for it in grouped_split(items, seed=1)[0]] == [it.split for it in kept]
    assert [it.split for it in grouped_split(items, seed=2)[0]] != [it.split for it in kept]
    assert not audit(kept).leaky


def test_holdout_system_only_in_test(wavefake_tree):
    kept, dropped = grouped_split(load_items(wavefake_tree), holdout_systems=("ljspeech_melgan",))
    held = [it for it in kept if it.system == "ljspeech_melgan"]
    assert held and all(it.split == "test" for it in held)
    assert all(it.system == "ljspeech_melgan" for it in dropped) and len(held) + len(dropped) == 10
    assert not audit(kept).leaky
    with pytest.raises(SpoofscanError, match="no such system"):
        grouped_split(load_items(wavefake_tree), holdout_systems=("waveglow",))


def test_audit_finds_the_seeds_leakage_and_fix_cleans_it(combined_leaky):
    before = {p: p.read_bytes() for p in combined_leaky.rglob("*.npy")}
    items = load_items(combined_leaky)
    hashes = hash_items(items, workers=1)
    report = audit(items, hashes=hashes)
    assert report.leaky
    assert report.name_overlaps["ljspeech/LJ001-0003_gen.npy"] == ["train", "val", "test"]  # copied, same name
    assert report.content_overlaps  # the renamed copy gen_0001 -> gen_9924
    renamed = [h for h, it in zip(hashes, items) if it.path.endswith("gen_9924.npy")][0]
    assert report.content_overlaps[renamed] == ["train", "test"]
    assert report.group_overlaps["LJ001-0005"] == ["train", "test"]  # real in train, its vocoded copy in test
    kept, dropped = fix_leakage(items, hashes)
    assert {it.path.rsplit("/", 1)[-1] for it, _ in dropped} == {"LJ001-0003_gen.npy", "gen_9924.npy",
                                                                  "LJ001-0005_gen.npy"}
    assert len(dropped) == 4 and all(it.split != "train" for it, _ in dropped)
    kept_hashes = [h for h, it in zip(hashes, items) if it in kept]
    assert not audit(kept, hashes=kept_hashes).leaky
    assert before == {p: p.read_bytes() for p in combined_leaky.rglob("*.npy")}  # the user's files are untouched


def test_file_names_are_compared_within_a_source():
    # Asterisk names a prompt the same in every language: two recordings, not a leak
    items = [Item("en/real/hello.wav", "real", "ground_truth", "hello", split="train", source="en"),
             Item("fr/real/hello.wav", "real", "ground_truth", "hello2", split="test", source="fr")]
    assert not audit(items, hashes=["a", "b"]).leaky
    items[1] = Item("en/copy/hello.wav", "real", "ground_truth", "hello", split="test", source="en")
    assert audit(items, hashes=["a", "b"]).name_overlaps == {"en/hello.wav": ["train", "test"]}
    assert [why for _, why in fix_leakage(items, ["a", "b"])[1]] == ["same file name as a clip in an earlier split"]


def test_generic_names_of_different_recordings_are_a_note_not_leakage(tmp_path, capsys):
    # a demo-page tree: names are not utterance ids (source.wav, 1.wav in many folders); groups are given
    rows = ["path,label,utterance_id,source,split"]
    for n, (folder, split) in enumerate((("p229xp236", "train"), ("p225xp259", "test"), ("p230xp231", "val"))):
        for name in ("source.wav", "1.wav"):
            write(tmp_path / folder / name, speechlike(0.5, seed=10 * n + len(name)))
            rows.append(f"{folder}/{name},{'real' if name == 'source.wav' else 'fake'},{folder},demo,{split}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    report = audit(load_items(tmp_path / "m.csv"), workers=1)
    assert not report.leaky and set(report.same_names) == {"demo/source.wav", "demo/1.wav"}
    assert run(["audit", str(tmp_path / "m.csv")]) == 0
    assert "not leakage" in capsys.readouterr().out
    # the same file listed in two splits is still leakage by name (and by content)
    (tmp_path / "m.csv").write_text("\n".join(rows + ["p229xp236/1.wav,fake,other,demo,test"]) + "\n")
    assert run(["audit", str(tmp_path / "m.csv")]) == 1


def test_cli_split_audit_fix(combined_leaky, wavefake_tree, tmp_path, capsys):
    assert run(["audit", str(combined_leaky)]) == 1
    assert "LEAKAGE FOUND" in capsys.readouterr().out
    fixed = tmp_path / "fixed.csv"
    assert run(["audit", str(combined_leaky), "--fix", str(fixed), "--json", str(tmp_path / "a.json")]) == 0
    assert run(["audit", str(fixed)]) == 0
    with open(fixed) as f:
        assert len(list(csv.DictReader(f))) == 25  # 29 clips, 4 leaky ones dropped
    manifest = tmp_path / "split.csv"
    assert run(["split", str(wavefake_tree), "--out", str(manifest), "--holdout-system", "ljspeech_melgan"]) == 0
    assert "train" in capsys.readouterr().out
    assert run(["audit", str(manifest)]) == 0
    assert run(["split", str(wavefake_tree), "--out", str(manifest)]) == 2  # exists: needs --force
    assert "--force" in capsys.readouterr().err
    assert run(["split", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spoofscan: error:") and err.count("\n") == 1


def test_audit_reports_unreadable_without_crashing(tmp_path):
    (tmp_path / "m").mkdir()
    write(tmp_path / "m" / "a.wav", speechlike(0.5))
    (tmp_path / "m" / "b.wav").write_bytes(b"not audio")
    (tmp_path / "m.csv").write_text("path,label,split\nm/a.wav,real,train\nm/b.wav,fake,test\n")
    report = audit(load_items(tmp_path / "m.csv"), workers=1)
    assert not report.leaky and len(report.unreadable) == 1 and "b.wav" in report.unreadable[0]
    assert np.sum([c["real"] + c["fake"] for c in report.counts.values()]) == 2


def test_split_combines_datasets_and_keeps_their_groups_apart(wavefake_tree, generic_tree, tmp_path):
    import shutil

    twin = tmp_path / "twin"
    shutil.copytree(generic_tree, twin)  # same file and group names as generic_tree, other recordings
    manifest = tmp_path / "both.csv"
    assert run(["split", str(wavefake_tree), str(generic_tree), str(twin), "--out", str(manifest)]) == 0
    items = load_items(manifest)
    assert len(items) == 30 + 24 + 24
    groups = {it.group for it in items}
    assert "utt000" in groups and "dataset2:utt000" in groups  # the twin's groups are renamed, not merged
    assert not audit(items, workers=1).group_overlaps
