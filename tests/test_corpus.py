import gzip

import numpy as np
import pytest
import soundfile as sf
import soxr

from conftest import speechlike, write
from spoofscan.cli import run
from spoofscan.audio import g722_encode
from spoofscan.corpus import SOURCES, Source, build_corpus, pick_sources
from spoofscan.errors import SpoofscanError
from spoofscan.layouts import load_items
from spoofscan.synth import RATE, read_transcripts, synth


def test_read_transcripts_both_formats(tmp_path):
    asterisk = tmp_path / "sounds.txt.gz"
    with gzip.open(asterisk, "wt") as f:
        f.write("; header\n\nauth-thankyou: Thank you.\nbeep: [this is a beep]\ndigits/1: One.\n")
    assert read_transcripts(asterisk) == {"auth-thankyou": "Thank you.", "digits__1": "One."}
    ljspeech = tmp_path / "metadata.csv"
    ljspeech.write_text("LJ001-0001|Printing, in the 1st sense|Printing, in the first sense\n")
    assert read_transcripts(ljspeech) == {"LJ001-0001": "Printing, in the first sense"}
    empty = tmp_path / "empty.txt"
    empty.write_text("no separator here\n")
    with pytest.raises(SpoofscanError, match="no 'name: text'"):
        read_transcripts(empty)
    with pytest.raises(SpoofscanError, match="cannot read transcripts"):
        read_transcripts(tmp_path / "missing.txt")


def test_piper_speaks_the_transcript(tmp_path):
    real = tmp_path / "real"
    write(real / "hello.wav", speechlike(1.5, sr=16000, seed=1), sr=16000)
    write(real / "untranscribed.wav", speechlike(1.2, sr=16000, seed=2), sr=16000)
    text = tmp_path / "text.txt"
    text.write_text("hello: Hello, please enter your password.\n")
    with pytest.raises(SpoofscanError, match="--transcripts"):
        synth(real, tmp_path / "x", systems=("piper",), workers=1, progress=False)
    manifest = synth(real, tmp_path / "out", systems=("world", "piper"), transcripts=text, workers=1, progress=False)
    items = load_items(manifest)
    assert sorted((it.group, it.system) for it in items) == [
        ("hello", "ground_truth"), ("hello", "piper"), ("hello", "world"),
        ("untranscribed", "ground_truth"), ("untranscribed", "world")]
    fake = next(it for it in items if it.system == "piper")
    wave, rate = sf.read(fake.path)
    info = sf.info(fake.path)
    assert (rate, info.subtype, info.frames) == (RATE, "PCM_16", sf.info(tmp_path / "out/real/hello.wav").frames)
    spectrum = np.abs(np.fft.rfft(wave)) ** 2
    above = spectrum[np.fft.rfftfreq(wave.size, 1 / rate) > 0.95 * 8000 + 500].sum() / spectrum.sum()
    assert np.sqrt(np.mean(wave**2)) > 0.01 and above < 1e-3  # speech, band-limited like its real clip


def test_build_corpus_joins_sources_and_reports_missing(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    write(one / "a.wav", speechlike(1.0, sr=16000, seed=3), sr=16000)
    write(one / "modem.wav", speechlike(1.0, sr=16000, seed=4), sr=16000)
    write(two / "a.wav", speechlike(1.0, sr=22050, seed=5), sr=22050)
    sources = (Source("one", str(one), "s1", "get one", exclude=("modem.wav",)),
               Source("two", str(two), "s2", "get two"),
               Source("gone", str(tmp_path / "nowhere"), "s3", "apt-get install gone"))
    manifest, missing = build_corpus(tmp_path / "corpus", sources=sources, systems=("lpc",), workers=1,
                                     progress=False)
    assert missing == [f"gone: no wav/flac/ogg/mp3/g722 files in {tmp_path / 'nowhere'}; apt-get install gone"]
    items = load_items(manifest)
    assert sorted((it.source, it.group, it.system, it.speaker) for it in items) == [
        ("one", "one/a", "ground_truth", "s1"), ("one", "one/a", "lpc", "s1"),
        ("two", "two/a", "ground_truth", "s2"), ("two", "two/a", "lpc", "s2")]  # same name, two groups
    assert all(sf.info(it.path).samplerate == RATE for it in items)
    with pytest.raises(SpoofscanError, match="no real speech source found: gone: no"):
        build_corpus(tmp_path / "c2", sources=sources[2:], progress=False)


def soxr_8k(wave: np.ndarray) -> np.ndarray:
    return soxr.resample(wave, 16000, 8000)


def test_a_source_reads_only_its_file_type_and_gives_fakes_its_codec(tmp_path, capsys):
    folder = tmp_path / "prompts"  # one recording in two formats, as Asterisk installs them side by side
    wave = speechlike(1.0, sr=16000, seed=7) + 0.05 * np.sin(2 * np.pi * 6000 * np.arange(16000) / 16000)
    write(folder / "hello.wav", soxr_8k(wave), sr=8000)
    (folder / "hello.g722").write_bytes(g722_encode(wave))
    source = Source("wide", str(folder), "s", "get it", fake_codec="g722", extensions=(".g722",))
    manifest, _ = build_corpus(tmp_path / "corpus", sources=(source,), systems=("lpc",), workers=1, progress=False)
    items = load_items(manifest)
    assert sorted((it.group, it.system) for it in items) == [("wide/hello", "ground_truth"), ("wide/hello", "lpc")]
    real = sf.read(next(it.path for it in items if it.label == "real"))[0]
    spectrum = np.abs(np.fft.rfft(real)) ** 2
    wideband = spectrum[np.fft.rfftfreq(real.size, 1 / RATE) > 4500].sum() / spectrum.sum()
    assert wideband > 0.01  # the 16 kHz G.722 file was read, not the 8 kHz wav
    both = load_items(synth(folder, tmp_path / "both", systems=("lpc",), workers=1, progress=False))
    assert [it.path.endswith("real/hello.wav") for it in both if it.label == "real"] == [True]
    assert np.array_equal(sf.read(next(it.path for it in both if it.label == "real"))[0], real)  # g722 again
    assert run(["synth", str(folder), "--out", str(tmp_path / "narrow"), "--system", "lpc", "--extension", "WAV",
                "--workers", "1"]) == 0
    narrow = sf.read(tmp_path / "narrow" / "real" / "hello.wav")[0]
    spectrum = np.abs(np.fft.rfft(narrow)) ** 2
    assert spectrum[np.fft.rfftfreq(narrow.size, 1 / RATE) > 4500].sum() / spectrum.sum() < 1e-4  # the 8 kHz wav
    capsys.readouterr()
    assert run(["synth", str(folder), "--out", str(tmp_path / "x"), "--extension", "xyz"]) == 2
    err = capsys.readouterr().err
    assert "--extension .xyz: use wav, flac, ogg, mp3, m4a" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
    only_wav = Source("narrow", str(tmp_path / "corpus" / "wide" / "real"), "s", "apt-get install wide",
                      extensions=(".g722",))
    assert build_corpus(tmp_path / "c2", sources=(source, only_wav), systems=("lpc",), workers=1,
                        progress=False)[1] == [f"narrow: no g722 files in {only_wav.folder}; apt-get install wide"]
    wideband = [s for s in SOURCES if s.name.startswith("asterisk_")]
    assert len(wideband) == 5 and all(s.extensions == (".g722",) and s.fake_codec == "g722" for s in wideband)


def test_sources_of_the_same_recordings_share_utterance_groups(tmp_path, capsys):
    folder = tmp_path / "prompts"
    write(folder / "hello.wav", speechlike(1.0, sr=16000, seed=8), sr=16000)
    sources = (Source("narrow", str(folder), "s", "get it"), Source("wide", str(folder), "s", "get it",
                                                                   recordings="narrow"))
    manifest, _ = build_corpus(tmp_path / "corpus", sources=sources, systems=("lpc",), workers=1, progress=False)
    assert {(it.source, it.group) for it in load_items(manifest)} == {("narrow", "narrow/hello"),
                                                                       ("wide", "narrow/hello")}
    assert [s.name for s in pick_sources(["asterisk_wb", "klettres"])] == ["asterisk_wb", "klettres"]
    assert pick_sources(None) == SOURCES
    assert run(["corpus", "--out", str(tmp_path / "c"), "--source", "librispeech"]) == 2
    assert "--source librispeech: unknown; use asterisk, asterisk_wb" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("system, message", [("nope", "--system nope: unknown; use hifigan_universal"),
                                             ("piper", "--system piper: Piper TTS is added with --tts")])
def test_corpus_rejects_a_bad_system_before_writing(tmp_path, capsys, system, message):
    out = tmp_path / "corpus"
    assert run(["corpus", "--out", str(out), "--system", system]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--max-clips", "--max-seconds", "--workers"])
def test_corpus_rejects_negative_numbers_before_writing(tmp_path, capsys, flag):
    out = tmp_path / "corpus"
    assert run(["corpus", "--out", str(out), flag, "-1"]) == 2
    err = capsys.readouterr().err
    assert f"{flag} -1" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_synth_with_an_unreadable_transcripts_file_writes_nothing(tmp_path, capsys):
    real = tmp_path / "real"
    write(real / "a.wav", speechlike(1.0, sr=16000, seed=6), sr=16000)
    out = tmp_path / "out"
    assert run(["synth", str(real), "--out", str(out), "--transcripts", str(tmp_path / "none.txt")]) == 2
    assert "cannot read transcripts" in capsys.readouterr().err and not out.exists()
