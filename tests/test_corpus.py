import gzip

import numpy as np
import pytest
import soundfile as sf

from conftest import speechlike, write
from spoofscan.cli import run
from spoofscan.corpus import Source, build_corpus
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
    assert missing == [f"gone: {tmp_path / 'nowhere'} not found; apt-get install gone"]
    items = load_items(manifest)
    assert sorted((it.source, it.group, it.system, it.speaker) for it in items) == [
        ("one", "one/a", "ground_truth", "s1"), ("one", "one/a", "lpc", "s1"),
        ("two", "two/a", "ground_truth", "s2"), ("two", "two/a", "lpc", "s2")]  # same name, two groups
    assert all(sf.info(it.path).samplerate == RATE for it in items)
    with pytest.raises(SpoofscanError, match="no real speech source found: gone"):
        build_corpus(tmp_path / "c2", sources=sources[2:], progress=False)



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
