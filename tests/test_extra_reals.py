"""experiments/extra_reals.py: a seeded sample per folder of an extra real source, appended after a dataset's clips."""
import csv
import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import speechlike
from spoofscan.errors import SpoofscanError

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "extra_reals.py"
spec = importlib.util.spec_from_file_location("extra_reals", SCRIPT)
extra_reals = importlib.util.module_from_spec(spec)
sys.modules["extra_reals"] = extra_reals  # dataclasses look their module up there
spec.loader.exec_module(extra_reals)


def _voices(root: Path) -> None:
    for voice, count in (("Alice", 5), ("Bob", 2), ("Robot", 3)):
        for n in range(count):
            path = root / voice / f"line{n}.ogg"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, speechlike(1.0, sr=44100, seed=n), 44100, format="OGG", subtype="VORBIS")
    sf.write(root / "Alice" / "blip.ogg", np.zeros(4410, dtype=np.float32), 44100, format="OGG", subtype="VORBIS")


def test_extra_items_sample_each_folder_and_leave_out_excluded_ones(tmp_path, monkeypatch):
    _voices(tmp_path / "voices")
    monkeypatch.setitem(extra_reals.SOURCES, "game",
                        extra_reals.Source(str(tmp_path / "voices"), "game/data", "install it", excluded=("Robot",)))
    items = extra_reals.extra_items("game", per_folder=3)
    assert [it.speaker for it in items] == ["game_Alice"] * 3 + ["game_Bob"] * 2  # Robot left out, Bob has 2
    assert all(it.label == "real" and it.source == "game/data" and it.group.startswith("game:") for it in items)
    assert not any("blip" in it.path for it in items)  # shorter than min_seconds
    assert [it.path for it in items] == [it.path for it in extra_reals.extra_items("game", per_folder=3)]
    monkeypatch.setitem(extra_reals.SOURCES, "gone",
                        extra_reals.Source(str(tmp_path / "nowhere"), "gone/data", "apt-get install x"))
    with pytest.raises(SpoofscanError, match="not found; apt-get install x"):
        extra_reals.extra_items("gone")
    with pytest.raises(SpoofscanError, match="--per-folder 0: use 1 or more"):
        extra_reals.extra_items("game", per_folder=0)
    (tmp_path / "voices" / "Bob" / "line1.ogg").write_bytes(b"OggS not audio")
    with pytest.raises(SpoofscanError, match="line1.ogg: unreadable"):
        extra_reals.extra_items("game")


def test_units_deeper_down_and_a_default_count_per_source(tmp_path, monkeypatch):
    """fillets' layout: sound/<level>/<language>/<line>.ogg and sound/share/<kind>/<language>/<joke>.ogg, sampled per
    language (the folder holding the file) across levels; the effects right under sound/share/ are left out."""
    root = tmp_path / "sound"
    for level in ("cave", "ship", "share/jokes"):
        for language, count in (("cs", 3), ("nl", 1)):
            for n in range(count):
                path = root / level / language / f"{level[-4:]}-{n}.ogg"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, speechlike(1.0, sr=22050, seed=n), 22050, format="OGG", subtype="VORBIS")
    sf.write(root / "share" / "splash.ogg", speechlike(1.0, sr=22050), 22050, format="OGG", subtype="VORBIS")
    monkeypatch.setitem(extra_reals.SOURCES, "fish",
                        extra_reals.Source(str(root), "fish/data", "install it", unit=-2, per_unit=4,
                                           excluded=("share",)))
    items = extra_reals.extra_items("fish")
    assert [it.speaker for it in items] == ["fish_cs"] * 4 + ["fish_nl"] * 3  # 4 of cs's 9 lines, all 3 nl lines
    assert not any("splash" in it.path for it in items)
    assert {it.group for it in items if it.speaker == "fish_nl"} == {"fish:cave/nl/cave-0", "fish:ship/nl/ship-0",
                                                                     "fish:share/jokes/nl/okes-0"}
    assert len(extra_reals.extra_items("fish", per_folder=1)) == 2  # --per-folder overrides the source's count


def test_ktuberling_samples_each_language_once_and_skips_serbians_other_spellings(tmp_path, monkeypatch):
    """ktuberling's layout: sounds/<language>/<word>.ogg, with sr@latin and the other Serbian folders holding copies
    of sr's files and <language>.soundtheme files beside the folders."""
    root = tmp_path / "sounds"
    for language, count in (("de", 3), ("sr", 2), ("sr@latin", 2), ("sr@ijekavian", 2), ("sr@ijekavianlatin", 2)):
        for n in range(count):
            path = root / language / f"word{n}.ogg"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, speechlike(1.0, sr=22050, seed=n), 22050, format="OGG", subtype="VORBIS")
        (root / f"{language}.soundtheme").write_text("<theme/>")
    monkeypatch.setitem(extra_reals.SOURCES, "ktuberling",
                        dataclasses.replace(extra_reals.SOURCES["ktuberling"], folder=str(root)))
    items = extra_reals.extra_items("ktuberling")
    assert [it.speaker for it in items] == ["ktuberling_de"] * 3 + ["ktuberling_sr"] * 2
    assert all(it.source == "KDE/ktuberling-data" for it in items)


def test_main_keeps_the_dataset_first_and_says_what_is_missing(tiny_run, tmp_path, monkeypatch):
    _voices(tmp_path / "voices")
    monkeypatch.setitem(extra_reals.SOURCES, "hedgewars",
                        extra_reals.Source(str(tmp_path / "voices"), "hw/data", "install it"))
    out = tmp_path / "combined.csv"
    monkeypatch.setattr(sys, "argv", ["extra_reals.py", str(tiny_run["manifest"]), str(out), "--source", "hedgewars",
                                      "--per-folder", "2"])
    extra_reals.main()
    rows = list(csv.DictReader(open(out)))
    with open(tiny_run["manifest"]) as f:
        dataset = list(csv.DictReader(f))
    assert len(rows) == len(dataset) + 6  # 2 from each of Alice, Bob and Robot (nothing excluded here)
    assert [Path(r["path"]).name for r in rows[:len(dataset)]] == [Path(r["path"]).name for r in dataset]
    assert {r["source"] for r in rows[len(dataset):]} == {"hw/data"}
    assert all((out.parent / r["path"]).is_file() for r in rows)
    monkeypatch.setitem(extra_reals.SOURCES, "hedgewars",
                        extra_reals.Source(str(tmp_path / "nowhere"), "hw/data", "apt-get x"))
    out.unlink()
    with pytest.raises(SystemExit, match="nowhere not found; apt-get x"):
        extra_reals.main()
    assert not out.exists()  # nothing written when a source is missing


def test_units_named_in_the_file_name_and_a_pattern(tmp_path, monkeypatch):
    """Tux Paint's layout: stamps/<theme>/<stamp>_desc_<language>.ogg beside the stamp's sound <stamp>.ogg: only the
    descriptions are speech, sampled per language across themes."""
    root = tmp_path / "stamps"
    for theme in ("animals", "town/signs"):
        for stamp in ("frog", "stop_sign"):
            folder = root / theme
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(folder / f"{stamp}.ogg", speechlike(1.0, sr=44100), 44100, format="OGG", subtype="VORBIS")
            for language in ("fr", "pt_BR"):
                sf.write(folder / f"{stamp}_desc_{language}.ogg", speechlike(1.0, sr=44100), 44100,
                         format="OGG", subtype="VORBIS")
    monkeypatch.setitem(extra_reals.SOURCES, "stamps",
                        extra_reals.Source(str(root), "stamps/data", "install it", pattern="*_desc_*.ogg",
                                           unit_in_name=True, per_unit=3, excluded=("BR",)))
    items = extra_reals.extra_items("stamps")
    assert [it.speaker for it in items] == ["stamps_fr"] * 3  # 3 of fr's 4; pt_BR's unit "BR" left out
    assert all(Path(it.path).stem.endswith("_desc_fr") for it in items)  # the stamps' own sounds never
    assert extra_reals.SOURCES["tuxpaint"].pattern == "*_desc_*.ogg"


def test_join_items_makes_utterance_length_clips_with_the_recordings_own_pauses(tmp_path, monkeypatch, capsys):
    """Short words of one speaker, rate and channel count are run together until a clip lasts --join-seconds, with
    pauses at the level of the word's own background between them; main writes them beside the manifest."""
    root = tmp_path / "stamps"
    rng = np.random.default_rng(0)
    for n in range(7):
        for language, channels in (("fr", 1), ("de", 2)):
            word = np.concatenate([0.001 * rng.standard_normal(2205), speechlike(0.8, sr=44100, seed=n)])
            sf.write(_path(root, n, language),
                     np.repeat(word[:, None], channels, axis=1), 44100, format="OGG", subtype="VORBIS")
    monkeypatch.setitem(extra_reals.SOURCES, "stamps",
                        extra_reals.Source(str(root), "stamps/data", "install it", pattern="*_desc_*.ogg",
                                           unit_in_name=True, per_unit=7))
    words = extra_reals.extra_items("stamps")
    joined = extra_reals.join_items(words, tmp_path / "joined", seconds=2.5)
    # 0.85 s words and 0.2-0.5 s pauses: three words reach 2.5 s, so 7 words make clips of 3, 3 and 1 words
    assert [it.speaker for it in joined] == ["stamps_de"] * 3 + ["stamps_fr"] * 3
    lengths = [sf.info(it.path).duration for it in joined]
    assert all(2.5 <= s <= 2.55 + 2 * 0.5 for s in lengths[:2] + lengths[3:5]) and lengths[2] < 1.0
    assert [sf.info(it.path).channels for it in joined] == [2] * 3 + [1] * 3
    assert all(sf.info(it.path).format == "OGG" and Path(it.path).is_absolute() for it in joined)
    assert len({it.group for it in joined}) == 6 and all(it.group.startswith("stamps:joined/") for it in joined)
    assert all(it.label == "real" and it.source == "stamps/data" for it in joined)
    # a pause sounds like the recording's background: at its level, not digital silence and not speech
    clip, rate = sf.read(joined[3].path)
    pause = clip[int(0.86 * rate):int(0.86 * rate) + int(0.15 * rate)]
    assert 0.0003 < np.sqrt(np.mean(pause ** 2)) < 0.003
    # main: --join needs the source, and writes the clips to the folder "joined" next to the manifest
    out = tmp_path / "out" / "combined.csv"
    data = tmp_path / "data.csv"
    data.write_text("path,label\n" + "".join(f"{w.path},real\n" for w in words[:1]))
    monkeypatch.setattr(sys, "argv", ["extra_reals.py", str(data), str(out), "--source", "stamps", "--join", "stamps",
                                      "--join-seconds", "2.5"])
    extra_reals.main()
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 1 + 6 and all((out.parent / r["path"]).is_file() for r in rows)
    assert len(list((out.parent / "joined" / "stamps").glob("*.ogg"))) == 6
    with pytest.raises(SpoofscanError, match="--join-seconds 0: use a positive length"):
        extra_reals.join_items(words, tmp_path / "none", seconds=0)
    assert not (tmp_path / "none").exists()
    out.unlink()
    for bad, message in ((["--join", "tuxpaint"], "--join tuxpaint: add it as a --source too"),
                         (["--join", "stamps", "--join-seconds", "-1"], "--join-seconds -1.0: use a positive length")):
        monkeypatch.setattr(sys, "argv", ["extra_reals.py", str(data), str(out), "--source", "stamps"] + bad)
        with pytest.raises(SystemExit) as exit:
            extra_reals.main()
        assert message in capsys.readouterr().err + str(exit.value)  # argparse prints it; main exits with it
        assert not out.exists()


def _path(root: Path, n: int, language: str) -> Path:
    path = root / ("animals" if n % 2 else "town") / f"w{n}_desc_{language}.ogg"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
