"""Paired fakes (spoofscan pair), the file-property shortcut audit (audit --shortcuts) and leave-sources-out folds."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from conftest import speechlike, vocode, write, write_rows
from spoofscan.audio import brickwall, coded_bytes
from spoofscan.cli import run
from spoofscan.errors import SpoofscanError
from spoofscan.layouts import load_items
from spoofscan.protocol import fold_values
from spoofscan.shortcuts import band_edge, file_properties
from spoofscan.splits import audit
from spoofscan.synth import MAX_LEVEL, nearest_size_level


def _manifest(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "system", "utterance_id", "source"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def mixed_rates(tmp_path):
    """A demo-page-like set: real clips at 16 kHz FLAC and 22.05 kHz 24-bit WAV; its published fakes all at
    22.05 kHz (the rate shortcut public demo collections invite)."""
    rows = []
    for n in range(16):
        rate, name, subtype = (16000, f"a/{n}.flac", "PCM_16") if n % 2 else (22050, f"b/{n}.wav", "PCM_24")
        real = speechlike(1.0 + 0.1 * (n % 4), sr=rate, seed=n)
        if n % 4 == 0:  # some real clips in stereo
            real = np.stack([real, 0.9 * real], axis=1)
        write(tmp_path / "data" / name, real, rate, subtype=subtype)
        fake = speechlike(1.0, sr=22050, seed=100 + n)
        write(tmp_path / "data" / f"fake/{n}.wav", fake, 22050)
        source = "site_a" if n < 8 else "site_b"
        rows += [{"path": name, "label": "real", "system": "ground_truth", "utterance_id": f"u{n}", "source": source},
                 {"path": f"fake/{n}.wav", "label": "fake", "system": "tts_x", "utterance_id": f"u{n}",
                  "source": source}]
    return _manifest(tmp_path / "data" / "MANIFEST.csv", rows)


def test_pair_matches_each_real_clips_rate_format_band_level_and_length(mixed_rates, tmp_path, capsys):
    out = tmp_path / "paired"
    assert run(["pair", str(mixed_rates), "--out", str(out), "--system", "griffin_lim", "--system", "lpc",
                "--match-spectrum", "--workers", "1"]) == 0
    items = load_items(out / "manifest.csv")
    original = load_items(mixed_rates)
    assert len(items) == len(original) + 2 * 16 and {it.system for it in items} == {"ground_truth", "tts_x",
                                                                                     "griffin_lim", "lpc"}
    reals = {it.group: it for it in items if it.label == "real"}
    for fake in (it for it in items if it.system in ("griffin_lim", "lpc")):
        real = reals[fake.group]
        assert fake.source == real.source and fake.speaker == real.speaker
        ri, fi = sf.info(real.path), sf.info(fake.path)
        assert ((fi.samplerate, fi.format, fi.subtype, fi.frames, fi.channels)
                == (ri.samplerate, ri.format, ri.subtype, ri.frames, ri.channels))
        r, f = file_properties(real.path), file_properties(fake.path)
        # the real clip's level, or quieter where the fake's peaks would pass the clipping level (LPC's pulses)
        assert abs(r["rms_db"] - f["rms_db"]) < 0.5 or (f["rms_db"] < r["rms_db"] and f["peak_db"] > -0.1)
        assert abs(f["bandwidth_hz"] - r["bandwidth_hz"]) <= 300  # the real clip's band, no more and no less
        assert abs(f["dc_offset"] - r["dc_offset"]) < 1e-3
    before = {p: p.stat().st_mtime_ns for p in (out / "fake").rglob("*.*")}
    assert run(["pair", str(mixed_rates), "--out", str(out), "--system", "griffin_lim", "--system", "lpc",
                "--match-spectrum", "--workers", "1"]) == 0  # a rerun keeps what exists (resumable)
    assert {p: p.stat().st_mtime_ns for p in (out / "fake").rglob("*.*")} == before
    assert "next: spoofscan audit" in capsys.readouterr().out
    # without --match-spectrum (the default, v6's corpus): each vocoder keeps its own long-term spectrum
    plain = tmp_path / "plain"
    assert run(["pair", str(mixed_rates), "--out", str(plain), "--system", "griffin_lim", "--workers", "1"]) == 0
    for fake in (it for it in load_items(plain / "manifest.csv") if it.system == "griffin_lim"):
        matched, _ = sf.read(str(fake.path).replace(str(plain), str(out)))
        unmatched, _ = sf.read(fake.path)
        assert unmatched.shape == matched.shape and np.abs(unmatched - matched).max() > 0.01


def test_pair_piper_reads_sentences_at_each_real_clips_rate_length_and_level(tmp_path):
    """Text-to-speech paired fakes: Piper reads the sentence file (repeated as needed) for as long as each real clip
    lasts, at its rate, format and level."""
    rows = []
    for n, (rate, seconds) in enumerate(((16000, 1.0), (22050, 4.0))):
        write(tmp_path / "data" / f"{n}.wav", 0.3 * speechlike(seconds, sr=rate, seed=n), rate)  # room for peaks
        rows.append({"path": f"{n}.wav", "label": "real", "system": "ground_truth", "utterance_id": f"u{n}",
                     "source": "s"})
    manifest = _manifest(tmp_path / "data" / "M.csv", rows)
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("# a comment line\nThe cat sat.\n")  # one short sentence must still fill four seconds
    assert run(["pair", str(manifest), "--out", str(tmp_path / "p"), "--system", "piper", "--sentences",
                str(sentences), "--workers", "1"]) == 0
    fakes = [it for it in load_items(tmp_path / "p" / "manifest.csv") if it.label == "fake"]
    reals = {it.group: it for it in load_items(manifest)}
    assert len(fakes) == 2 and {it.system for it in fakes} == {"piper"}
    for fake in fakes:
        real = reals[fake.group]
        ri, fi = sf.info(real.path), sf.info(fake.path)
        assert (fi.samplerate, fi.frames) == (ri.samplerate, ri.frames)
        assert abs(file_properties(real.path)["rms_db"] - file_properties(fake.path)["rms_db"]) < 0.5
        wave, _ = sf.read(fake.path)
        assert np.abs(wave[len(wave) // 2:]).max() > 0.1 * np.abs(wave).max()  # speech in the second half: no padding


def test_paired_fakes_of_a_loud_clip_are_never_clipped(tmp_path):
    """LPC's pulse excitation has a higher crest factor than speech: at the real clip's RMS its peaks would pass
    full scale, so the fake is made quieter instead of clipped (clipping would be a cue the real clip lacks)."""
    real = speechlike(1.5, sr=16000, seed=3)
    real = 0.99 * real / np.abs(real).max()
    write(tmp_path / "data" / "r.wav", real, 16000)
    manifest = _manifest(tmp_path / "data" / "M.csv", [{"path": "r.wav", "label": "real", "system": "ground_truth",
                                                        "utterance_id": "u0", "source": "s"}])
    assert run(["pair", str(manifest), "--out", str(tmp_path / "p"), "--system", "lpc", "--system", "world",
                "--workers", "1"]) == 0
    for fake in (it for it in load_items(tmp_path / "p" / "manifest.csv") if it.label == "fake"):
        wave, _ = sf.read(fake.path)
        assert 0.5 < np.abs(wave).max() < 0.999 and file_properties(fake.path)["clipped_fraction"] == 0


def test_pair_bad_inputs(tmp_path, mixed_rates, capsys):
    (tmp_path / "no_layout").mkdir()
    fakes_only = _manifest(tmp_path / "f.csv", [{"path": str(mixed_rates.parent / "fake/0.wav"), "label": "fake",
                                                 "system": "x", "utterance_id": "u0", "source": "s"}])
    comments_only = tmp_path / "comments.txt"
    comments_only.write_text("# a comment\n\n")
    for args, message in (([str(fakes_only)], "no real clips"),
                          ([str(mixed_rates), "--system", "tacotron"], "unknown"),
                          ([str(mixed_rates), "--system", "piper", "--sentences", str(tmp_path / "none.txt")],
                           "cannot read sentences"),
                          ([str(mixed_rates), "--system", "piper", "--sentences", str(comments_only)],
                           "no sentences"),
                          ([str(mixed_rates), "--sentences", str(comments_only)], "add --system piper"),
                          ([str(mixed_rates), "--max-seconds", "-1"], "--max-seconds"),
                          ([str(mixed_rates), "--workers", "-1"], "--workers"),
                          ([str(tmp_path / "no_layout")], "no known dataset layout")):
        workers = [] if "--workers" in args else ["--workers", "1"]
        assert run(["pair", *args, "--out", str(tmp_path / "p"), *workers]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
        assert not (tmp_path / "p").exists()  # nothing written


def test_match_spectrum_gives_a_wave_the_long_term_spectrum_of_another():
    from spoofscan.shortcuts import long_term_spectrum
    from spoofscan.synth import match_spectrum

    rng = np.random.default_rng(0)
    reference = scipy.signal.lfilter([1, 0.9], [1], rng.standard_normal(32000)).astype(np.float32)  # a low tilt
    wave = scipy.signal.lfilter([1, -0.9], [1], rng.standard_normal(32000)).astype(np.float32)  # a high tilt
    level = lambda x: 10 * np.log10(long_term_spectrum(x, 16000)[1][20:-20])  # away from 0 Hz and Nyquist
    assert np.abs(level(wave) - level(reference)).mean() > 5
    assert np.abs(level(match_spectrum(wave, reference, 16000)) - level(reference)).mean() < 1.5


def test_match_spectrum_in_part_of_the_band_leaves_the_rest_and_moves_the_band_edge():
    """match_spectrum(from_hz=, to_hz=): the top of the band only, so a fake whose energy fades early (a vocoder's
    roll-off) gets its real clip's band edge and keeps its own spectrum below."""
    from spoofscan.shortcuts import long_term_spectrum
    from spoofscan.synth import match_spectrum

    rng = np.random.default_rng(0)
    reference = brickwall(rng.standard_normal(44100).astype(np.float32), 10000.0, 22050)
    rolled_off = scipy.signal.sosfiltfilt(scipy.signal.butter(10, 7000, fs=22050, output="sos"), reference)
    wave = brickwall(rolled_off, 10000.0, 22050)  # the same band, but 60 dB down well before its end
    assert band_edge(wave, 22050) < band_edge(reference, 22050) - 1000
    matched = match_spectrum(wave, reference, 22050, from_hz=9000.0, to_hz=10000.0)
    assert abs(band_edge(matched, 22050) - band_edge(reference, 22050)) <= 100
    freqs, before = long_term_spectrum(wave, 22050)
    _, after = long_term_spectrum(matched, 22050)
    below = freqs < 7000  # where the wave has energy (deeper down, the Welch window's leakage from above shows)
    assert np.allclose(10 * np.log10(after[below]), 10 * np.log10(before[below]), atol=0.1)


def test_match_crest_lowers_a_pulse_trains_crest_factor_and_keeps_its_spectrum():
    """Pulse excitation (an LPC vocoder's) has a higher crest factor than a recording: match_crest brings it down to
    the target, mostly by phase (all-pass), so the magnitude spectrum a detector sees barely moves."""
    from spoofscan.shortcuts import long_term_spectrum
    from spoofscan.synth import crest_db, match_crest, ride_peaks

    rate = 16000
    pulses = np.zeros(rate * 2)
    pulses[::133] = 1.0  # 120 Hz
    voiced = scipy.signal.lfilter([1.0], [1.0, -1.3, 0.8], pulses)  # one formant
    voiced *= 0.5 + 0.5 * np.sin(2 * np.pi * 3 * np.arange(voiced.size) / rate) ** 2  # syllables
    assert crest_db(voiced) > 16
    matched = match_crest(voiced, 12.0, rate)
    assert 11.0 <= crest_db(matched) <= 12.05 and matched.size == voiced.size
    freqs, before = long_term_spectrum(voiced, rate)
    _, after = long_term_spectrum(matched, rate)
    band = (freqs > 200) & (freqs < 6000)
    level = lambda p: 10 * np.log10(p[band] / p.sum())
    assert np.abs(level(after) - level(before)).mean() < 1.0
    assert np.array_equal(match_crest(voiced, 30.0, rate), voiced.astype(np.float32))  # already below: untouched
    limited = ride_peaks(voiced, 16.0, rate)  # the limiter alone: the loudest syllables come down
    assert crest_db(limited) <= 16.1 and np.all(np.abs(limited) <= np.abs(voiced) + 1e-12)


def test_pair_match_edge_and_crest(mixed_rates, tmp_path, capsys):
    """pair --match-edge --match-crest: each LPC fake ends its band where its real clip does, keeps its DC offset, and
    its peaks come down towards the real clip's crest factor; --match-edge with --match-spectrum is refused."""
    from spoofscan.synth import crest_db

    crest = lambda x: crest_db(x - x.mean())

    def mono(path):  # as pair hears a clip: its channels averaged
        wave, rate = sf.read(path)
        return (wave.mean(axis=1) if wave.ndim == 2 else wave), rate

    made = {}
    for name, options in (("plain", []), ("matched", ["--match-edge", "--match-crest"])):
        assert run(["pair", str(mixed_rates), "--out", str(tmp_path / name), "--system", "lpc", *options,
                    "--workers", "1"]) == 0
        made[name] = load_items(tmp_path / name / "manifest.csv")
    reals = {it.group: mono(it.path)[0] for it in made["matched"] if it.label == "real"}
    gaps = {"plain": [], "matched": []}
    for name, items in made.items():
        for fake in (it for it in items if it.system == "lpc"):
            wave, rate = mono(fake.path)
            real = reals[fake.group]
            gaps[name].append(crest(wave) - crest(real))
            if name == "matched":
                assert abs(band_edge(wave, rate) - band_edge(real, rate)) <= 300
                assert abs(wave.mean() - real.mean()) < 1e-3
    plain, matched = np.array(gaps["plain"]), np.array(gaps["matched"])
    assert np.all(matched <= plain + 0.05) and matched.mean() < 0.5 * plain.mean()
    assert run(["pair", str(mixed_rates), "--out", str(tmp_path / "p"), "--match-edge", "--match-spectrum",
                "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "leave out edge" in err and err.count("\n") == 1 and not (tmp_path / "p").exists()
    from spoofscan.synth import pair

    with pytest.raises(SpoofscanError, match="--match level: unknown; use spectrum, edge, crest, clipping, bitrate$"):
        pair(mixed_rates, tmp_path / "p", systems=("lpc",), match=("crest", "level"), workers=1)
    assert not (tmp_path / "p").exists()


def test_pair_match_clipping_clips_a_clipped_real_clips_fakes_as_much(tmp_path):
    """pair --match-clipping: the fakes of a real clip recorded too hot have about its share of samples at full scale
    (without it, and for an unclipped real clip, no fake reaches full scale), so clipping is no cue of the real class."""
    from spoofscan.shortcuts import CLIP_LEVEL
    from spoofscan.synth import FULL_SCALE, clip_like

    hot = np.clip(speechlike(1.0, sr=22050, seed=1) * 6.0, -1.0, 1.0)  # peaks 1.8 x full scale: clipped
    clean = speechlike(1.0, sr=22050, seed=2)
    write(tmp_path / "data" / "hot.wav", hot, 22050)
    write(tmp_path / "data" / "clean.wav", clean, 22050)
    manifest = _manifest(tmp_path / "data" / "MANIFEST.csv",
                         [{"path": f"{n}.wav", "label": "real", "system": "ground_truth", "utterance_id": n,
                           "source": "s"} for n in ("hot", "clean")])
    share = lambda path: float(np.mean(np.abs(sf.read(path)[0]) >= CLIP_LEVEL))
    assert share(tmp_path / "data" / "hot.wav") > 0.01
    made = {}
    for name, options in (("plain", []), ("matched", ["--match-clipping"])):
        assert run(["pair", str(manifest), "--out", str(tmp_path / name), "--system", "griffin_lim", "--system", "lpc",
                    *options, "--workers", "1"]) == 0
        made[name] = {(it.system, Path(it.path).name): it.path
                      for it in load_items(tmp_path / name / "manifest.csv") if it.label == "fake"}
    assert len(made["matched"]) == 4
    for fake, path in made["matched"].items():
        if "hot" in fake[1]:
            assert 0.5 < share(path) / share(tmp_path / "data" / "hot.wav") < 2.0
        else:  # an unclipped real clip's fakes are made as without the option
            assert np.array_equal(sf.read(path)[0], sf.read(made["plain"][fake])[0])
        assert share(made["plain"][fake]) == 0.0
    wave = np.linspace(-1.0, 1.0, 1001, dtype=np.float32)
    assert np.mean(np.abs(clip_like(wave, 0.1, ceiling=0.9)) >= 0.9 - 1e-6) == pytest.approx(0.1, abs=0.005)
    # a fake that is mostly digital silence cannot clip as much as asked: every sound sample goes to the ceiling
    gappy = np.concatenate([np.zeros(800, dtype=np.float32), wave[:200]])
    assert np.mean(np.abs(clip_like(gappy, 0.9)) >= FULL_SCALE - 1e-6) == pytest.approx(0.2)
    assert np.mean(np.abs(clip_like(wave, 1.0)) >= FULL_SCALE - 1e-6) > 0.99
    with pytest.raises(SpoofscanError, match="silent"):
        clip_like(np.zeros(100, dtype=np.float32), 0.1)


def test_pair_wideband_only_copies_only_clips_whose_band_reaches_the_edge(mixed_rates, tmp_path, capsys):
    """pair --wideband-only SYSTEM: that system copies the 22.05 kHz clips (band to 11 kHz) and skips the 16 kHz ones
    (band to 8 kHz), the other systems copy every clip; a system not made, or a band edge of 0, is refused."""
    out = tmp_path / "p"
    assert run(["pair", str(mixed_rates), "--out", str(out), "--system", "griffin_lim", "--system", "lpc",
                "--wideband-only", "lpc", "--workers", "1"]) == 0
    items = load_items(out / "manifest.csv")
    reals = {it.group: it for it in items if it.label == "real"}
    copied = {system: {it.group for it in items if it.system == system} for system in ("griffin_lim", "lpc")}
    wide = {group for group, it in reals.items() if sf.info(it.path).samplerate == 22050}
    assert copied["griffin_lim"] == set(reals) and copied["lpc"] == wide and len(wide) == 8
    assert len(list((out / "fake" / "lpc").iterdir())) == 8 and not (out / "failed.csv").exists()
    # a lower edge lets the 16 kHz clips in too; the 22.05 kHz copies are kept (resumable)
    assert run(["pair", str(mixed_rates), "--out", str(out), "--system", "griffin_lim", "--system", "lpc",
                "--wideband-only", "lpc", "--wideband-hz", "7000", "--workers", "1"]) == 0
    assert {it.group for it in load_items(out / "manifest.csv") if it.system == "lpc"} == set(reals)
    capsys.readouterr()
    for options, message in ((["--system", "lpc", "--wideband-only", "world"], "--wideband-only world: not among"),
                             (["--system", "lpc", "--wideband-only", "tacotron"], "--system tacotron: unknown; use"),
                             (["--system", "lpc", "--wideband-only", "lpc", "--wideband-hz", "0"],
                              "--wideband-hz 0: use a band edge")):
        assert run(["pair", str(mixed_rates), "--out", str(tmp_path / "q"), *options, "--workers", "1"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and not (tmp_path / "q").exists()


def test_pair_is_reproducible_byte_for_byte(tmp_path):
    """base.sh's corpus step, made twice (one worker, then two): every paired fake decodes to the same samples and,
    but for Ogg (libsndfile gives each Ogg stream a random serial number), has the same bytes. So a rebuild of the
    shipped model can differ only where its inputs or package versions do (constraints.txt pins those)."""
    rows = []
    for n, (name, rate, options) in enumerate((("a.ogg", 44100, {"format": "OGG", "subtype": "VORBIS"}),
                                               ("b.flac", 16000, {}), ("c.wav", 22050, {"subtype": "PCM_24"}))):
        write(tmp_path / "data" / name, 0.3 * speechlike(1.2, sr=rate, seed=n), rate, **options)
        rows.append({"path": name, "label": "real", "system": "ground_truth", "utterance_id": f"u{n}", "source": "s"})
    manifest = _manifest(tmp_path / "data" / "M.csv", rows)
    made = {}
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        assert run(["pair", str(manifest), "--out", str(out), "--match-edge", "--match-crest", "--workers", workers,
                    *[a for s in ("hifigan_universal", "world", "griffin_lim", "lpc") for a in ("--system", s)]]) == 0
        made[workers] = {p.relative_to(out): p for p in (out / "fake").rglob("*.*")}
    assert len(made["1"]) == 3 * 4 and made["1"].keys() == made["2"].keys()
    for name, first in made["1"].items():
        second = made["2"][name]
        assert np.array_equal(sf.read(first)[0], sf.read(second)[0])
        assert name.suffix == ".ogg" or first.read_bytes() == second.read_bytes()


def test_base_sh_refuses_an_unknown_corpus_before_writing_anything(tmp_path):
    """experiments/base.sh CORPUS=...: an unknown corpus is a one-line error (exit 2) naming the known ones, before
    the WORK folder is made."""
    import os
    import subprocess

    script = Path(__file__).resolve().parents[1] / "experiments" / "base.sh"
    for name in ("train.csv", "dev.csv"):
        (tmp_path / name).write_text("path,label\n")
    done = subprocess.run(["bash", str(script), str(tmp_path / "work"), str(tmp_path / "train.csv"),
                           str(tmp_path / "dev.csv")], env={**os.environ, "CORPUS": "bogus"},
                          capture_output=True, text=True)
    assert done.returncode == 2 and not (tmp_path / "work").exists()
    assert done.stderr == ("base.sh: CORPUS=bogus is unknown; use v15, wideband, wideband24, wideband15 or leave it "
                           "unset\n")


def test_pair_match_bitrate_codes_each_fake_as_coarsely_as_its_lossy_real_file(tmp_path):
    """Two Vorbis real clips coded coarsely and finely, and an MP3 one, also with 100 kB of ID3 tags: with
    --match-bitrate each fake's file is about its real file's size (tags left out); without it libsndfile's default
    setting gives both Vorbis fakes about one size."""
    rows = []
    vorbis = {"format": "OGG", "subtype": "VORBIS"}
    for n, (name, options) in enumerate((("coarse.ogg", {**vorbis, "compression_level": 0.95}),
                                         ("fine.ogg", {**vorbis, "compression_level": 0.05}),
                                         ("coded.mp3", {"format": "MP3", "compression_level": 0.9}))):
        write(tmp_path / "data" / name, 0.3 * speechlike(3.0, sr=44100, seed=n), 44100, **options)
        rows.append({"path": name, "label": "real", "system": "ground_truth", "utterance_id": f"u{n}", "source": "s"})
    tag = 100_000  # an ID3v2.4 tag of that size (10-byte header, size as a syncsafe integer) and an ID3v1 tag
    id3v2 = b"ID3\x04\x00\x00" + bytes((tag >> 21 & 0x7F, tag >> 14 & 0x7F, tag >> 7 & 0x7F, tag & 0x7F))
    coded = (tmp_path / "data" / "coded.mp3").read_bytes()
    (tmp_path / "data" / "tagged.mp3").write_bytes(id3v2 + bytes(tag) + coded + b"TAG" + bytes(125))
    rows.append({"path": "tagged.mp3", "label": "real", "system": "ground_truth", "utterance_id": "u3", "source": "s"})
    assert coded_bytes(tmp_path / "data" / "tagged.mp3") == len(coded)
    assert (file_properties(tmp_path / "data" / "tagged.mp3")["kbps"]
            == pytest.approx(file_properties(tmp_path / "data" / "coded.mp3")["kbps"]))
    manifest = _manifest(tmp_path / "data" / "M.csv", rows)
    sizes = {}
    for name, options in (("default", []), ("matched", ["--match-bitrate"])):
        assert run(["pair", str(manifest), "--out", str(tmp_path / name), "--system", "lpc", *options,
                    "--workers", "1"]) == 0
        fakes = [it for it in load_items(tmp_path / name / "manifest.csv") if it.label == "fake"]
        sizes[name] = {Path(it.path).stem.split("_", 1)[1][:-4]: Path(it.path).stat().st_size for it in fakes}
    real = {stem: (tmp_path / "data" / f"{stem}.{ext}").stat().st_size
            for stem, ext in (("coarse", "ogg"), ("fine", "ogg"), ("coded", "mp3"))}
    assert real["fine"] > 2 * real["coarse"]
    coarse_kbps = file_properties(tmp_path / "data" / "coarse.ogg")["kbps"]  # the audit's bitrate cue
    assert coarse_kbps == pytest.approx(real["coarse"] * 8 / 3.0 / 1000)
    for stem, size in real.items():
        assert abs(sizes["matched"][stem] - size) < 0.1 * size, (stem, sizes, real)
    assert abs(sizes["matched"]["tagged"] - real["coded"]) < 0.1 * real["coded"], (sizes, real)
    assert abs(sizes["default"]["fine"] - sizes["default"]["coarse"]) < 0.3 * sizes["default"]["coarse"]


def test_nearest_size_level_finds_a_coders_level_in_few_encodes():
    """A size that falls smoothly as the level rises, as a coder's does: within 1 % of the target in at most 5 sizes
    taken, wherever the target's level is; a target smaller than the coarsest level gives: that coarsest level."""
    for level_of_target in (0.05, 0.37, 0.8, 0.97):
        taken = []

        def size_at(level: float) -> float:
            taken.append(level)
            return 50_000 * np.exp(-1.7 * (level - level_of_target)) * (1 + 0.01 * np.sin(40 * level))

        level = nearest_size_level(size_at, 50_000)
        assert len(taken) <= 5, (level_of_target, taken)
        assert abs(size_at(level) / 50_000 - 1) <= 0.01, (level_of_target, level)
    assert MAX_LEVEL - 1 / 64 < nearest_size_level(lambda level: 1000 * (2 - level), 10) <= MAX_LEVEL


def test_band_edge_finds_an_upsampled_band():
    wave = np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 0.1
    from spoofscan.audio import brickwall

    assert band_edge(wave, 22050) > 10000
    assert 7500 < band_edge(brickwall(wave, 8000.0, 22050), 22050) < 8500


def test_shortcut_audit_flags_the_rate_shortcut_and_pairing_removes_it(mixed_rates, tmp_path, capsys):
    report = tmp_path / "shortcuts.json"
    code = run(["audit", str(mixed_rates), "--shortcuts", "--max-shortcut-auc", "0.6", "--json", str(report),
                "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 1 and "SHORTCUT" in out and "sample_rate" in out
    found = json.loads(report.read_text())["shortcuts"]
    assert found["auc"] > 0.8 and found["cue_auc"]["sample_rate"] > 0.7 and found["clips"] == 32
    assert "counts" not in json.loads(report.read_text())  # no splits: the leakage audit did not run

    # as a 22.05 kHz model sees the audio: the rate, format and bit depth are gone; the band edge of the upsampled
    # 16 kHz clips is not
    config = tmp_path / "model.toml"
    config.write_text("[features]\nsample_rate = 22050\n")
    assert run(["audit", str(mixed_rates), "--shortcuts", "--as-model", str(config), "--json", str(report),
                "--workers", "1"]) == 0
    seen = json.loads(report.read_text())["shortcuts"]
    for gone in ("sample_rate", "subtype", "bit_depth", "format", "channels"):
        assert seen["cue_auc"][gone] == 0.5, gone
    assert seen["cue_auc"]["bandwidth_hz"] > 0.7
    capsys.readouterr()

    # an LFCC model whose filters end at 7 kHz and whose windows lose the level (window_cmn) sees neither the band
    # above 7 kHz nor the loudness: every clip is measured band-limited there and at one RMS
    config.write_text('[features]\ninput_kind = "lfcc"\nfmax = 7000.0\nwindow_cmn = true\n')
    assert run(["audit", str(mixed_rates), "--shortcuts", "--as-model", str(config), "--json", str(report),
                "--workers", "1"]) == 0
    narrow = json.loads(report.read_text())["shortcuts"]
    assert narrow["cue_auc"]["bandwidth_hz"] < 0.65 and narrow["cue_auc"]["rms_db"] == 0.5
    capsys.readouterr()

    # the published fakes dropped, paired fakes in their place: no file property tells the classes apart
    reals = tmp_path / "reals.csv"
    with open(mixed_rates) as f:
        rows = [r for r in csv.DictReader(f) if r["label"] == "real"]
    for r in rows:
        r["path"] = str(mixed_rates.parent / r["path"])
    _manifest(reals, rows)
    assert run(["pair", str(reals), "--out", str(tmp_path / "paired"), "--system", "griffin_lim",
                "--workers", "1"]) == 0
    capsys.readouterr()
    assert run(["audit", str(tmp_path / "paired" / "manifest.csv"), "--shortcuts", "--json", str(report),
                "--workers", "1"]) == 0
    paired = json.loads(report.read_text())["shortcuts"]
    assert paired["cue_auc"]["sample_rate"] <= 0.55 and paired["cue_auc"]["subtype"] <= 0.55


def test_shortcut_audit_repeats_the_cross_validation_over_fold_assignments(tmp_path, capsys):
    """--repeats N: the first run is the single run's fold assignment, the others shuffle the groups; the AUC is their
    mean and --max-shortcut-auc tests it. Fakes a little longer than real clips on average: a weak cue, whose
    out-of-fold AUC depends on which groups share a fold."""
    rng = np.random.default_rng(0)
    rows = []
    for n in range(30):
        for label, seconds in (("real", rng.uniform(0.5, 1.5)), ("fake", rng.uniform(0.7, 1.7))):
            write(tmp_path / f"{label}{n}.wav", speechlike(seconds, sr=16000, seed=n), 16000)
            rows.append({"path": f"{label}{n}.wav", "label": label, "system": "ground_truth" if label == "real"
                         else "voc", "utterance_id": f"u{n}", "split": "train" if n < 24 else "test"})
    manifest = write_rows(tmp_path / "clips.csv", rows)
    single, repeated = tmp_path / "one.json", tmp_path / "three.json"
    audit = ["audit", str(manifest), "--shortcuts", "--workers", "1", "--json"]
    assert run(audit + [str(single)]) == 0
    assert run(audit + [str(repeated), "--repeats", "3"]) == 0
    assert "mean over 3 assignments of groups to folds" in capsys.readouterr().out
    one, three = (json.loads(p.read_text())["shortcuts"] for p in (single, repeated))
    assert one["repeats"] == 1 and one["auc_runs"] == [one["auc"]]
    assert three["repeats"] == 3 and three["auc_runs"][0] == one["auc"]
    assert len(set(three["auc_runs"])) > 1  # other assignments, other out-of-fold scores
    assert three["auc"] == pytest.approx(np.mean(three["auc_runs"]))
    assert min(three["auc_runs"]) <= three["auc"] <= max(three["auc_runs"])
    assert run(audit + [str(repeated), "--repeats", "3", "--max-shortcut-auc", f"{three['auc'] - 0.001:.3f}"]) == 1
    assert run(audit + [str(repeated), "--repeats", "0"]) == 2
    assert "--repeats 0: use 1 or more" in capsys.readouterr().err
    assert run(["audit", str(manifest), "--repeats", "3"]) == 2
    assert "go with --shortcuts" in capsys.readouterr().err


def test_shortcut_audit_measures_the_augmented_copies_a_model_trains_on(tmp_path, capsys):
    """Fakes that lose the top band (a vocoder's weak top octave) give the band edge away; band-limited copies of
    every train clip, both classes alike, take most of that cue out of the training set the model sees."""
    rows = []
    for n in range(20):
        real = speechlike(1.0, sr=22050, seed=n) + 0.01 * np.random.default_rng(n).standard_normal(22050)
        fake = brickwall(speechlike(1.0, sr=22050, seed=50 + n) + 0.01 * np.random.default_rng(50 + n)
                         .standard_normal(22050), 9000.0, 22050)
        split = "train" if n < 16 else "val"
        for label, wave in (("real", real), ("fake", fake)):
            write(tmp_path / f"{label}{n}.wav", wave.astype(np.float32), 22050)
            rows.append({"path": f"{label}{n}.wav", "label": label, "system": "ground_truth" if label == "real"
                         else "voc", "utterance_id": f"u{n}", "split": split})
    manifest = write_rows(tmp_path / "split.csv", rows)
    config = tmp_path / "model.toml"
    config.write_text('[features]\ninput_kind = "lfcc"\nwindow_cmn = true\nremove_dc = true\n')
    report = tmp_path / "a.json"
    audit = ["audit", str(manifest), "--shortcuts", "--as-model", str(config), "--json", str(report), "--workers", "1"]
    assert run(audit) == 0
    clean = json.loads(report.read_text())["shortcuts"]
    assert clean["cue_auc"]["bandwidth_hz"] > 0.9 and clean["copies"] == 0 and clean["clips"] == 40
    assert clean["cue_auc"]["dc_offset"] == 0.5  # remove_dc: the model never sees a DC offset
    assert run(audit + ["--augment", "band_limit", "--augment-copies", "4"]) == 0
    assert "128 of them augmented copies" in capsys.readouterr().out
    copied = json.loads(report.read_text())["shortcuts"]
    assert copied["copies"] == 4 * 32 and copied["clips"] == 40 + 4 * 32  # the val clips get none, as in prepare
    assert copied["cue_auc"]["bandwidth_hz"] < clean["cue_auc"]["bandwidth_hz"] - 0.15
    assert run(["audit", str(manifest), "--shortcuts", "--augment", "band_limit", "--augment-copies", "4"]) == 2
    assert "--augment goes with --shortcuts --as-model" in capsys.readouterr().err
    assert run(audit + ["--augment", "band_limit"]) == 2  # conditions without copies
    assert "--augment ['band_limit'] with --augment-copies 0" in capsys.readouterr().err


def test_shortcut_audit_bad_inputs(generic_tree, tiny_run, tmp_path, capsys):
    only_real = _manifest(tmp_path / "r.csv", [{"path": str(p), "label": "real", "system": "ground_truth",
                                                "utterance_id": p.stem, "source": "s"}
                                               for p in sorted((generic_tree / "real").glob("*.wav"))])
    assert run(["audit", str(only_real), "--shortcuts", "--workers", "1"]) == 2
    assert "real and fake clips" in capsys.readouterr().err
    assert run(["audit", str(generic_tree), "--max-shortcut-auc", "0.6"]) == 2  # no splits, no --shortcuts
    assert "no clip has a split" in capsys.readouterr().err
    assert run(["audit", str(tiny_run["manifest"]), "--max-shortcut-auc", "0.6"]) == 2
    assert "go with --shortcuts" in capsys.readouterr().err
    assert run(["audit", str(tiny_run["manifest"]), "--as-model", str(tmp_path / "model.toml")]) == 2
    assert "go with --shortcuts" in capsys.readouterr().err
    assert run(["audit", str(tiny_run["manifest"]), "--shortcuts", "--as-model", str(tmp_path / "missing.toml"),
                "--json", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err
    assert "missing.toml" in err and err.count("\n") == 1 and not (tmp_path / "a.json").exists()
    assert run(["audit", str(tiny_run["manifest"]), "--shortcuts", "--max-shortcut-auc", "60"]) == 2
    assert "between 0.5 and 1" in capsys.readouterr().err
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEnot audio")
    assert "error" in file_properties(broken) and "error" in file_properties(tmp_path / "missing.wav")


def test_fold_values_balance_clip_counts(tiny_run):
    items = load_items(tiny_run["manifest"])
    for it in items:
        it.source = f"s{int(it.group[1:]) % 5}"
    parts = fold_values(items, sorted({it.source for it in items}), "source", 2)
    assert sorted(v for p in parts for v in p) == [f"s{k}" for k in range(5)] and all(parts)
    sizes = [sum(it.source in p for it in items) for p in parts]
    assert max(sizes) - min(sizes) <= 12  # the biggest source holds 12 clips


def test_leave_sources_out_in_folds_scores_only_published_fakes(tmp_path, capsys):
    rows = []
    for n in range(24):
        source = f"s{n % 4}"
        real = speechlike(1.2, seed=300 + n)
        rows.append({"path": str(write(tmp_path / f"real/{n}.wav", real)), "label": "real", "system": "ground_truth",
                     "utterance_id": f"u{n}", "source": source})
        # a paired copy of every real clip (trained on, never tested) ...
        rows.append({"path": str(write(tmp_path / f"paired/{n}.wav", vocode(real, seed=n))), "label": "fake",
                     "system": "paired", "utterance_id": f"u{n}", "source": source})
        if source != "s3":  # ... and published fakes, except from s3, which holds only real clips of its own
            rows.append({"path": str(write(tmp_path / f"tts/{n}.wav", vocode(speechlike(1.2, seed=n), seed=n))),
                         "label": "fake", "system": "tts", "utterance_id": f"t{n}", "source": source})
    manifest = _manifest(tmp_path / "m.csv", rows)
    small = ["--set", "epochs=1", "--set", "weights=none", "--set", "n_mels=40", "--set", "sample_rate=16000",
             "--set", "n_fft=512", "--set", "win_length=512", "--set", "hop_length=128", "--set", "window_frames=40",
             "--set", "window_hop_frames=40", "--set", "image_size=32", "--set", "batch_size=16", "--workers", "1"]
    assert run(["loo", str(manifest), "--by", "source", "--untested-system", "paired", "--out", str(tmp_path / "x"),
                *small]) == 2
    assert "--folds" in capsys.readouterr().err  # s3 holds only real clips
    out = tmp_path / "loso"
    assert run(["loo", str(manifest), "--by", "source", "--folds", "2", "--untested-system", "paired",
                "--out", str(out), *small]) == 0
    summary = json.loads((out / "loo.json").read_text())
    assert len(summary["folds"]) == 2 and summary["untested_systems"] == ["paired"]
    assert sorted(" ".join(f["values"] for f in summary["folds"]).split()) == ["s0", "s1", "s2", "s3"]
    for fold in summary["folds"]:
        items = load_items(out / f"source={fold['held_out']}" / "split.csv")
        test = [it for it in items if it.split == "test"]
        assert {it.source for it in test} <= set(fold["values"].split()) and not audit(items).leaky
        assert "paired" not in {it.system for it in test} and "paired" in {it.system for it in items}
    assert "Leave sets of sources (2 folds) out" in (out / "loo.md").read_text()
    # --folds-from: the same sets as an earlier run, here written by hand to differ from what fold_values picks
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    (chosen / "loo.json").write_text(json.dumps({**summary, "folds": [{"values": "s1 s3"}, {"values": "s0 s2"}]}))
    assert run(["loo", str(manifest), "--by", "source", "--folds-from", str(chosen), "--untested-system", "paired",
                "--out", str(tmp_path / "again"), *small]) == 0
    again = json.loads((tmp_path / "again" / "loo.json").read_text())
    assert [f["values"] for f in again["folds"]] == ["s1 s3", "s0 s2"]
    # or a file with only the folds (as experiments/base_folds.json): the same sets
    only_folds = tmp_path / "folds.json"
    only_folds.write_text(json.dumps({"key": "source", "folds_asked": 2, "folds": again["folds"][::-1]}))
    assert run(["loo", str(manifest), "--by", "source", "--folds-from", str(only_folds), "--untested-system",
                "paired", "--out", str(tmp_path / "from_file"), *small]) == 0
    from_file = json.loads((tmp_path / "from_file" / "loo.json").read_text())
    assert [f["values"] for f in from_file["folds"]] == ["s0 s2", "s1 s3"]
    # --always-train: s3 (real clips and their paired fakes) is in every fold's training data and no fold's test
    kept = tmp_path / "kept"
    assert run(["loo", str(manifest), "--by", "source", "--folds", "2", "--always-train", "s3",
                "--untested-system", "paired", "--out", str(kept), *small]) == 0
    summary = json.loads((kept / "loo.json").read_text())
    assert summary["always_train"] == ["s3"]
    assert sorted(" ".join(f["values"] for f in summary["folds"]).split()) == ["s0", "s1", "s2"]
    for fold in summary["folds"]:
        items = load_items(kept / f"source={fold['held_out']}" / "split.csv")
        assert {it.split for it in items if it.source == "s3"} <= {"train", "val"}
        assert {it.system for it in items if it.source == "s3" and it.split == "train"} == {"ground_truth", "paired"}
    (chosen / "loo.json").write_text(json.dumps({**summary, "folds": [{"values": "s1 s3"}, {"values": "s0"}]}))
    not_json = tmp_path / "folds.txt"
    not_json.write_text("fold0: s0 s1\n")
    broken, by_system = tmp_path / "broken", tmp_path / "by_system"
    broken.mkdir(), by_system.mkdir()
    (broken / "loo.json").write_text(json.dumps({"key": "source", "folds_asked": 2}))  # no folds
    (by_system / "loo.json").write_text(json.dumps({**summary, "key": "system"}))
    for args, message in ((["--folds-from", str(chosen)], "do not partition"),
                          (["--folds-from", str(out), "--folds", "2"], "not both"),
                          (["--folds-from", str(tmp_path)], "cannot read"),
                          (["--folds-from", str(broken)], "cannot read its folds"),
                          (["--folds-from", str(not_json)], "folds.txt: cannot read its folds"),
                          (["--folds-from", str(by_system)], "not a `loo --by source --folds K` run")):
        assert run(["loo", str(manifest), "--by", "source", *args, "--out", str(tmp_path / "z")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not (tmp_path / "z").exists()
    assert run(["loo", str(manifest), "--by", "source", "--folds", "9", "--out", str(tmp_path / "y")]) == 2
    assert run(["loo", str(manifest), "--by", "source", "--folds", "2", "--untested-system", "nope",
                "--out", str(tmp_path / "y")]) == 2
    assert "no such system" in capsys.readouterr().err
    assert run(["loo", str(manifest), "--by", "source", "--folds", "2", "--always-train", "s9",
                "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert "--always-train s9: no such source" in err and err.count("\n") == 1
    assert not (tmp_path / "y").exists()


def test_shortcut_audit_as_a_wideband_gmm_leaves_out_the_clips_it_does_not_fit(tmp_path, capsys):
    """Narrowband real clips (a 16 kHz chain in a 22.05 kHz corpus, here 4 kHz in 16 kHz) give the band away; a GMM
    with gmm_narrowband_hz fits none of their windows, so its training set holds no such cue."""
    rows = []
    for n in range(30):
        noise = 0.01 * np.random.default_rng(n).standard_normal(16000)
        real = speechlike(1.0, sr=16000, seed=n) + noise
        if n % 3 == 0:
            real = brickwall(real, 4000.0, 16000)
        fake = speechlike(1.0, sr=16000, seed=50 + n) + noise
        for label, wave in (("real", real), ("fake", fake)):
            write(tmp_path / f"{label}{n}.wav", wave.astype(np.float32), 16000)
            rows.append({"path": f"{label}{n}.wav", "label": label, "system": "ground_truth" if label == "real"
                         else "voc", "utterance_id": f"u{n}", "split": "train"})
    manifest = write_rows(tmp_path / "split.csv", rows)
    config = tmp_path / "model.toml"
    features = '[features]\ninput_kind = "lfcc"\nsample_rate = 16000\nwindow_cmn = true\n'
    config.write_text(features)
    report = tmp_path / "a.json"
    audit = ["audit", str(manifest), "--shortcuts", "--as-model", str(config), "--json", str(report), "--workers", "1"]
    assert run(audit) == 0
    every = json.loads(report.read_text())["shortcuts"]
    assert every["cue_auc"]["bandwidth_hz"] > 0.6 and every["clips"] == 60 and every["unfitted"] == 0
    capsys.readouterr()
    config.write_text(features + '[train]\nmodel = "lfcc-gmm"\ngmm_narrowband_hz = 6000\n')
    assert run(audit) == 0
    assert "10 clips or copies left out" in capsys.readouterr().out
    fitted = json.loads(report.read_text())["shortcuts"]
    assert fitted["unfitted"] == 10 and fitted["clips"] == 50 and fitted["real"] == 20
    assert fitted["cue_auc"]["bandwidth_hz"] < 0.6
    # with a narrowband pair every window is fitted by one of the two pairs: every clip counts, as without the route
    config.write_text(features + '[train]\nmodel = "lfcc-gmm"\ngmm_narrowband_hz = 6000\n'
                                 'gmm_narrowband_view_hz = 3500\n')
    assert run(audit) == 0
    assert json.loads(report.read_text())["shortcuts"] == every
    config.write_text('[features]\ninput_kind = "image"\n[train]\nmodel = "lfcc-gmm"\ngmm_narrowband_hz = 6000\n')
    assert run(audit) == 2
    assert "gmm_narrowband_hz is an lfcc-gmm setting" in capsys.readouterr().err
