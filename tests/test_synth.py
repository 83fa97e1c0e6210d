import importlib.util

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import speechlike, write
from spoofscan.cli import run
from spoofscan.errors import SpoofscanError
from spoofscan.layouts import load_items
from spoofscan.synth import RATE, _world_f0, band_limit, mlsa, synth, warp_frequency, world_vc

HAS_PYSPTK = importlib.util.find_spec("pysptk") is not None  # optional: `make setup` builds it where it can
NO_PYSPTK = "pysptk (the mlsa extra) did not build here: it needs a C compiler and Python headers"
SYSTEMS = ("hifigan_universal", "hifigan_universal_24k", "hifigan_universal_25_35k", "world", "world_vc", "griffin_lim", "lpc") + (
    ("mlsa",) if HAS_PYSPTK else ())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    real = tmp_path_factory.mktemp("real")
    for n in range(6):  # mixed rates and formats, as real collections are
        rate = 8000 if n == 0 else 16000
        write(real / f"spk/clip{n}.{'flac' if n % 2 else 'wav'}", speechlike(0.8 + 0.1 * n, sr=rate, seed=n), sr=rate)
    out = tmp_path_factory.mktemp("corpus")
    manifest = synth(real, out, systems=SYSTEMS, workers=1, speaker="tester", source="synthetic", progress=False)
    return real, out, manifest


def test_layout_and_pairing(corpus):
    _, out, manifest = corpus
    items = load_items(manifest)
    assert len(items) == 6 * (1 + len(SYSTEMS))
    for group in {it.group for it in items}:
        members = [it for it in items if it.group == group]
        assert sorted(it.system for it in members) == sorted(("ground_truth", *SYSTEMS))
    assert load_items(out)  # the corpus folder itself reads as the generic layout
    assert {it.speaker for it in items} == {"tester"} and {it.source for it in items} == {"synthetic"}


def test_no_format_shortcut(corpus):
    _, out, manifest = corpus
    items = load_items(manifest)
    cutoff = 0.95 * 8000 / 2  # the narrowest source (8 kHz) sets the band for everyone
    rows = []
    for it in items:
        info = sf.info(it.path)
        wave, rate = sf.read(it.path, dtype="float64")
        rms_db = 20 * np.log10(np.sqrt(np.mean(wave**2)))
        spectrum = np.abs(np.fft.rfft(wave)) ** 2
        freqs = np.fft.rfftfreq(wave.size, 1 / rate)
        above = spectrum[freqs > cutoff + 500].sum() / spectrum.sum()
        assert (rate, info.subtype, info.channels) == (RATE, "PCM_16", 1)
        assert abs(rms_db + 26) < 0.05 and above < 1e-3, it.path
        rows.append([rate, info.frames, info.channels, rms_db, int(it.label == "fake"), it.group])
    lengths = {}
    for it, row in zip(items, rows):
        assert lengths.setdefault(it.group, row[1]) == row[1]  # every fake is exactly as long as its real clip
    data = np.array([r[:4] for r in rows], dtype=float)
    labels = np.array([r[4] for r in rows])
    groups = np.array([r[5] for r in rows])
    model = make_pipeline(StandardScaler(), LogisticRegression())
    scores = cross_val_predict(model, data, labels, groups=groups, cv=GroupKFold(3), method="predict_proba")[:, 1]
    assert roc_auc_score(labels, scores) < 0.7  # metadata and loudness alone do not tell real from fake


def test_fakes_differ_from_the_real_clip(corpus):
    _, _, manifest = corpus
    items = load_items(manifest)
    real = {it.group: sf.read(it.path)[0] for it in items if it.label == "real"}
    for it in items:
        if it.label == "fake":
            fake = sf.read(it.path)[0]
            assert np.abs(fake - real[it.group]).mean() > 1e-3, it.path


def test_rerun_resumes_without_rewriting(corpus):
    real, out, manifest = corpus
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    assert synth(real, out, systems=SYSTEMS, workers=1, speaker="tester", source="synthetic", progress=False) == manifest
    assert stamps == {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}


def test_band_limit_keeps_the_pass_band():
    t = np.arange(RATE) / RATE
    low, high = np.sin(2 * np.pi * 500 * t), np.sin(2 * np.pi * 6000 * t)
    assert np.std(band_limit((low + high).astype(np.float32), 3800)[2000:-2000] - low[2000:-2000]) < 0.01


def test_synth_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpoofscanError, match="no audio files"):
        synth(tmp_path / "empty", tmp_path / "o", progress=False)
    assert run(["synth", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert run(["synth", str(tmp_path / "empty"), "--system", "melgan"]) == 2
    assert "unknown" in capsys.readouterr().err
    write(tmp_path / "r" / "ok.wav", speechlike(0.6))
    (tmp_path / "r" / "bad.wav").write_bytes(b"RIFF broken")
    manifest = synth(tmp_path / "r", tmp_path / "o2", systems=("world",), workers=1, progress=False)
    assert len(load_items(manifest)) == 2 and "bad.wav" in (tmp_path / "o2" / "failed.csv").read_text()


@pytest.mark.parametrize("codec", ["ogg_vorbis", "telephone", "g722"])  # same rate, 8 kHz, 16 kHz
def test_fake_codec_gives_fakes_the_codec_traces_of_the_reals(tmp_path, codec):
    write(tmp_path / "r" / "a.wav", speechlike(1.0, sr=8000, seed=3), sr=8000)
    plain = load_items(synth(tmp_path / "r", tmp_path / "plain", systems=("world",), workers=1, progress=False))
    coded = load_items(synth(tmp_path / "r", tmp_path / "coded", systems=("world",), fake_codec=codec,
                             workers=1, progress=False))
    real_a, real_b = (sf.read(next(it.path for it in items if it.label == "real"))[0] for items in (plain, coded))
    fake_a, fake_b = (sf.read(next(it.path for it in items if it.label == "fake"))[0] for items in (plain, coded))
    assert np.array_equal(real_a, real_b)  # real clips are untouched
    assert fake_a.size == fake_b.size and np.abs(fake_a - fake_b).mean() > 1e-4  # fakes went through the codec
    assert abs(20 * np.log10(np.sqrt(np.mean(fake_b**2))) + 26) < 0.05  # and are still loudness-matched
    envelope_a, envelope_b = (np.sqrt((x[:x.size // 512 * 512].reshape(-1, 512) ** 2).mean(1))
                              for x in (fake_a, fake_b))
    assert np.corrcoef(envelope_a, envelope_b)[0, 1] > 0.9  # in time with the uncoded fake: not sped up or shifted
    with pytest.raises(SpoofscanError, match="--fake-codec"):
        synth(tmp_path / "r", tmp_path / "bad", fake_codec="flac", progress=False)


def test_warp_frequency_moves_a_peak_by_the_ratio():
    frames = np.zeros((2, 101))
    frames[:, 40] = 1.0
    assert np.argmax(warp_frequency(frames, 1.25), axis=1).tolist() == [50, 50]
    assert np.argmax(warp_frequency(frames, 0.8), axis=1).tolist() == [32, 32]


def test_world_vc_moves_the_pitch_both_ways_and_repeats_per_clip():
    ratios = []
    for seed in range(8):
        clip = speechlike(1.0, sr=RATE, seed=seed)
        made = world_vc(clip)
        assert made.shape[0] >= clip.size - 256 and np.isfinite(made).all()
        assert np.array_equal(made, world_vc(clip.copy()))  # the same clip always gets the same voice
        (before, _), (after, _) = _world_f0(clip), _world_f0(made.astype(np.float32))
        voiced = (before > 0) & (after[:before.size] > 0)
        ratios.append(np.median(after[:before.size][voiced] / before[voiced]))
    semitones = 12 * np.log2(ratios)
    assert np.all((np.abs(semitones) > 2.5) & (np.abs(semitones) < 8.5)), semitones  # drawn from 3-8 semitones
    assert (semitones > 0).any() and (semitones < 0).any()  # up for some clips, down for others


@pytest.mark.skipif(not HAS_PYSPTK, reason=NO_PYSPTK)
def test_mlsa_follows_the_spectral_envelope_and_stays_stable_on_a_band_limited_clip():
    wave = speechlike(1.5, sr=RATE, seed=4)
    for clip in (wave, band_limit(wave, 3800.0)):  # an empty high band must not make the filter blow up
        made = mlsa(clip)
        assert made.shape == clip.shape and np.isfinite(made).all() and 0 < np.abs(made).max() < 100
        envelope = [np.log(np.abs(np.fft.rfft(x.reshape(-1, 1024), axis=1)).mean(axis=0)[:180] + 1e-6)
                    for x in (clip[:clip.size // 1024 * 1024], made[:clip.size // 1024 * 1024])]
        assert np.corrcoef(*envelope)[0, 1] > 0.8  # 0-3.9 kHz: the band both clips have


def test_mlsa_without_pysptk_fails_before_writing(tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_pysptk(name, *args, **kwargs):
        if name.startswith("pysptk"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pysptk)
    write(tmp_path / "real" / "a.wav", speechlike(1.0, seed=1))
    assert run(["synth", str(tmp_path / "real"), "--out", str(tmp_path / "out"), "--system", "mlsa"]) == 2
    assert "pip install 'spoofscan[mlsa]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_rate_warped_hifigan_moves_its_artifacts_with_the_rate_and_keeps_the_speech(monkeypatch):
    """hifigan_universal_24k: what the generator adds at a fixed share of its own rate (here a tone at a quarter of
    it, where upsampling layers leave theirs) lands at that share of 24 kHz, while the clip's own tone stays put."""
    from spoofscan import synth as synth_module

    def generator(wave, name):  # stands in for HiFi-GAN: the input back, plus a tone at a quarter of its rate
        samples = np.arange(wave.size)
        return wave + 0.1 * np.sin(2 * np.pi * 0.25 * samples).astype(np.float32)

    monkeypatch.setattr(synth_module, "hifigan", generator)
    t = np.arange(RATE) / RATE
    clip = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    made = synth_module.vocode(clip, "hifigan_universal_24k")
    spectrum = np.abs(np.fft.rfft(made * np.hanning(made.size)))
    freqs = np.fft.rfftfreq(made.size, 1 / RATE)
    speech = freqs[np.argmax(spectrum * (freqs < 2000))]
    artifact = freqs[np.argmax(spectrum * (freqs > 2000))]
    assert abs(made.size - clip.size) <= 2
    assert abs(speech - 1000) < 5 and abs(artifact - 24000 / 4) < 5  # the speech kept, the artifact at 6 kHz
    plain = synth_module.vocode(clip, "hifigan_universal")  # the generator at its own rate: at 5,512.5 Hz
    plain_spectrum = np.abs(np.fft.rfft(plain * np.hanning(plain.size)))
    assert abs(freqs[np.argmax(plain_spectrum * (freqs > 2000))] - RATE / 4) < 5


@pytest.mark.parametrize("system, low, high", [("hifigan_universal_25_35k", 25000, 35000),
                                               ("hifigan_universal_24_35k", 24000, 35000)])
def test_a_hifigan_at_a_rate_drawn_per_clip_puts_each_clips_artifact_somewhere_in_the_range(monkeypatch, system, low,
                                                                                             high):
    """hifigan_universal_25_35k: each clip's rate is drawn from 25-35 kHz by its own samples, so the artifact (a tone
    at a quarter of the rate) lands between 6.25 and 8.75 kHz, at the same place every time for the same clip and at
    different places for different clips; hifigan_universal_24_35k the same from 24-35 kHz."""
    from spoofscan import synth as synth_module

    def generator(wave, name):
        return wave + 0.1 * np.sin(2 * np.pi * 0.25 * np.arange(wave.size)).astype(np.float32)

    monkeypatch.setattr(synth_module, "hifigan", generator)
    t = np.arange(RATE) / RATE
    freqs = np.fft.rfftfreq(RATE, 1 / RATE)

    def artifact(clip):
        made = synth_module.vocode(clip, system)
        return freqs[np.argmax(np.abs(np.fft.rfft(made[:RATE] * np.hanning(RATE))) * (freqs > 2000))]

    clips = [(0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32) for f0 in (900, 1000, 1100, 1200, 1300)]
    places = [artifact(clip) for clip in clips]
    assert all(low / 4 - 5 < place < high / 4 + 5 for place in places)
    assert len({round(place) for place in places}) == len(places)  # a rate per clip, not one for all
    assert artifact(clips[0]) == places[0]  # and the same clip always gets the same one


def test_convs_as_2d_gives_the_same_output_as_the_1d_convolutions():
    """HiFi-GAN's convolutions run as 2-D channels-last twins (synth.convs_as_2d, for speed): a stack shaped like
    the generator's (a strided transposed convolution, dilated and plain convolutions, a residual sum) gives the
    same output to float rounding, and every 1-D convolution inside it was replaced."""
    import torch

    from spoofscan.synth import Conv1dAs2d, convs_as_2d

    torch.manual_seed(0)

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.up = torch.nn.ConvTranspose1d(16, 8, 16, stride=8, padding=4)
            self.convs = torch.nn.ModuleList([torch.nn.Conv1d(8, 8, 11, dilation=d, padding=5 * d) for d in (1, 3, 5)])
            self.post = torch.nn.Conv1d(8, 1, 7, padding=3, bias=False)

        def forward(self, x):
            x = self.up(x)
            for conv in self.convs:
                x = x + conv(torch.nn.functional.leaky_relu(x, 0.1))
            return torch.tanh(self.post(x))

    block = Block().eval()
    x = torch.randn(2, 16, 50)
    with torch.inference_mode():
        before = block(x)
        after = convs_as_2d(block)(x)
    assert after.shape == before.shape == (2, 1, 400)
    assert torch.allclose(after, before, atol=1e-5)
    assert not any(isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)) for m in block.modules())
    assert sum(isinstance(m, Conv1dAs2d) for m in block.modules()) == 5
    # a transposed convolution's output padding is kept; convolutions padded other than with zeros stay 1-D
    others = torch.nn.Sequential(torch.nn.ConvTranspose1d(4, 4, 5, stride=2, padding=2, output_padding=1),
                                 torch.nn.Conv1d(4, 4, 5, padding=2, padding_mode="reflect"),
                                 torch.nn.Conv1d(4, 4, 3, padding="same")).eval()
    x = torch.randn(1, 4, 30)
    with torch.inference_mode():
        before = others(x)
        after = convs_as_2d(others)(x)
    assert after.shape == before.shape == (1, 4, 60) and torch.allclose(after, before, atol=1e-5)
    assert [type(m).__name__ for m in others] == ["Conv1dAs2d", "Conv1d", "Conv1d"]
