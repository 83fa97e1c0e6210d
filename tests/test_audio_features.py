import librosa
import numpy as np
import pytest
import scipy.signal
import soundfile as sf
import torch

from conftest import SR, speechlike, write
from spoofscan.audio import g722_encode, load_audio, native_rate, read_clip, trim_silence
from spoofscan.config import FeatureConfig
from spoofscan.errors import SpoofscanError
from spoofscan.features import clip_windows, log_spectrogram, row_statistics, spectrogram_images, window_starts


def test_log_mel_matches_librosa():
    wave = speechlike(1.5, sr=22050, seed=3)
    config = FeatureConfig()
    ours = log_spectrogram(torch.from_numpy(wave), config).numpy()
    mel = librosa.feature.melspectrogram(y=wave, sr=22050, n_fft=1024, hop_length=256, win_length=1024,
                                         center=True, pad_mode="constant", power=1.0, n_mels=80, fmin=0, fmax=None)
    reference = np.log(np.clip(mel, 1e-5, None))
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() < 1e-4


def test_log_spectrogram_is_batched_and_linear_option():
    waves = torch.from_numpy(np.stack([speechlike(1.0, sr=22050, seed=s) for s in range(3)]))
    config = FeatureConfig(spectrogram="linear")
    batch = log_spectrogram(waves, config)
    assert batch.shape == (3, 513, 1 + 22050 // 256)
    single = log_spectrogram(waves[1], config)
    assert torch.allclose(batch[1], single, atol=1e-5)


def test_window_mode_no_stretch_and_tiling():
    config = FeatureConfig(window_frames=32, window_hop_frames=16)
    spec = torch.randn(80, 100)
    images, starts = spectrogram_images(spec, config)
    assert images.dtype == np.uint8 and images.shape[1:] == (80, 32)
    assert starts == [0, 16, 32, 48, 64, 68]  # the last window ends at the clip's end
    # a longer clip gives more windows of the same size: duration changes the count, never the pixels' scale
    longer, _ = spectrogram_images(torch.cat([spec, spec], 1), config)
    assert len(longer) > len(images) and np.array_equal(longer[0], images[0])
    short, starts = spectrogram_images(spec[:, :10], config)  # shorter than a window: tiled, not stretched
    assert short.shape == (1, 80, 32) and starts == [0]
    assert np.array_equal(short[0, :, :10], short[0, :, 10:20])


def test_resize_mode_makes_square_images():
    config = FeatureConfig(input_mode="resize", image_size=64)
    ramp = torch.arange(80.0)[:, None].expand(80, 300)  # low rows dark, high rows bright
    images, _ = spectrogram_images(ramp, config)
    assert images.shape == (1, 64, 64) and images.dtype == np.uint8
    assert images[0, 0, 0] < 5 and images[0, -1, 0] > 250 and np.all(np.diff(images[0, :, 0].astype(int)) >= 0)


def test_window_starts_cover_the_clip():
    assert window_starts(10, 32, 16) == [0]
    assert window_starts(64, 32, 32) == [0, 32]


def test_trim_silence_same_rule_both_ends():
    wave = speechlike(1.0, seed=1)
    padded = np.concatenate([np.zeros(8000, np.float32), wave, np.zeros(4000, np.float32)])
    trimmed = trim_silence(padded, top_db=40, frame_length=1024, hop_length=256)
    assert abs(trimmed.size - wave.size) < 2048


def test_load_audio_mixes_resamples_and_decodes_formats(tmp_path):
    wave = speechlike(1.0, sr=48000, seed=2)
    stereo = np.stack([wave, 0.5 * wave], axis=1)
    for name, kwargs in (("a.wav", {}), ("a.flac", {}), ("a.ogg", {}), ("a.mp3", {})):
        path = write(tmp_path / name, stereo, sr=48000, **kwargs)
        out = load_audio(path, sample_rate=22050)
        assert out.dtype == np.float32 and out.ndim == 1
        assert abs(out.size - 22050) < 1200, name  # mp3 adds encoder padding
    narrow = load_audio(write(tmp_path / "8k.wav", speechlike(1.0, sr=8000), sr=8000), sample_rate=22050)
    assert narrow.size == 22050


def test_load_audio_reads_raw_g722(tmp_path):
    wave = speechlike(1.0, sr=16000, seed=4)
    path = tmp_path / "prompt.g722"  # Asterisk's wideband format: headerless G.722, 16 kHz, 64 kbit/s
    path.write_bytes(g722_encode(wave))
    assert native_rate(path) == 16000 and native_rate(write(tmp_path / "a.wav", wave, sr=8000)) == 8000
    decoded = load_audio(path, sample_rate=16000)
    assert decoded.size == wave.size
    delay = 22  # the codec's QMF filter bank
    assert np.corrcoef(decoded[delay:], wave[:-delay])[0, 1] > 0.95
    assert load_audio(path, sample_rate=22050).size == 22050
    empty = tmp_path / "empty.g722"
    empty.write_bytes(b"")
    with pytest.raises(SpoofscanError, match="empty.g722: empty audio"):
        load_audio(empty)


@pytest.mark.parametrize("case,message", [
    ("missing", "file not found"), ("corrupt", "cannot decode"), ("empty", "empty audio"),
    ("silent", "silent audio"), ("short", "too short"), ("nan", "NaN"),
])
def test_bad_audio_gets_one_line_error_naming_the_file(tmp_path, case, message):
    path = tmp_path / f"{case}.wav"
    if case == "corrupt":
        path.write_bytes(b"RIFF\x00\x00garbage" * 10)
    elif case == "empty":
        sf.write(path, np.zeros(0, np.float32), SR)
    elif case == "silent":
        sf.write(path, np.zeros(SR, np.float32), SR)
    elif case == "short":
        sf.write(path, speechlike(0.1), SR)
    elif case == "nan":
        wave = speechlike(1.0)
        wave[100] = np.nan
        sf.write(path, wave, SR, subtype="FLOAT")
    with pytest.raises(SpoofscanError) as error:
        read_clip(path, FeatureConfig())
    text = str(error.value)
    assert message in text and str(path) in text and "\n" not in text


def test_npy_input_and_bad_arrays(tmp_path):
    np.save(tmp_path / "ok.npy", np.random.default_rng(0).normal(size=(80, 50)).astype(np.float32))
    images, _ = clip_windows(tmp_path / "ok.npy", FeatureConfig(input_mode="resize", image_size=32))
    with pytest.raises(SpoofscanError, match=r"ok.npy: normalize=dataset needs audio"):
        clip_windows(tmp_path / "ok.npy", FeatureConfig(normalize="dataset"))
    assert images.shape == (1, 32, 32)
    np.save(tmp_path / "nan.npy", np.full((80, 50), np.nan, np.float32))
    np.save(tmp_path / "flat.npy", np.zeros((80, 50), np.float32))
    np.save(tmp_path / "rows.npy", np.ones((128, 50), np.float32) * np.arange(50))
    for name, message in (("nan.npy", "NaN"), ("flat.npy", "constant"), ("rows.npy", "128 rows")):
        with pytest.raises(SpoofscanError, match=message) as error:
            clip_windows(tmp_path / name, FeatureConfig())
        assert str(tmp_path / name) in str(error.value)


def test_feature_config_rejects_bad_values():
    with pytest.raises(SpoofscanError, match="input_mode"):
        FeatureConfig(input_mode="stretch")
    with pytest.raises(SpoofscanError, match="win_length"):
        FeatureConfig(win_length=2048)


def test_frequency_normalization_removes_level_and_channel_tilt():
    from spoofscan.features import standardize_rows

    config = FeatureConfig(normalize="frequency", window_frames=32, window_hop_frames=16)
    wave = torch.from_numpy(speechlike(2.0, sr=config.sample_rate, seed=7))
    images, starts = spectrogram_images(log_spectrogram(wave, config), config)
    quieter, _ = spectrogram_images(log_spectrogram(wave * 0.05, config), config)
    assert np.abs(images.astype(int) - quieter.astype(int)).max() <= 1  # the level is gone
    full = standardize_rows(log_spectrogram(wave, config), config.norm_clip).numpy()
    assert np.array_equal(images[1], full[:, starts[1]:starts[1] + 32])  # windows are slices, not re-scaled
    unit = full.astype(float) / 255 * 6 - 3
    assert np.abs(unit.mean(axis=1)).max() < 0.3  # each frequency row is centred over the clip
    with pytest.raises(SpoofscanError, match="normalize"):
        FeatureConfig(normalize="global")
    with pytest.raises(SpoofscanError, match="norm_clip must be positive"):
        FeatureConfig(normalize="frequency", norm_clip=0)


def test_dataset_normalization_removes_the_level_and_keeps_the_tilt():
    config = FeatureConfig(normalize="dataset", window_frames=32, window_hop_frames=16)
    wave = speechlike(2.0, sr=config.sample_rate, seed=7)
    images, _ = spectrogram_images(log_spectrogram(torch.from_numpy(wave), config), config)
    quieter, _ = spectrogram_images(log_spectrogram(torch.from_numpy(wave * 0.5), config), config)
    assert np.abs(images.astype(int) - quieter.astype(int)).max() <= 1  # the level is gone
    muffled = scipy.signal.sosfilt(scipy.signal.butter(8, 2000, fs=config.sample_rate, output="sos"), wave)
    darker, _ = spectrogram_images(log_spectrogram(torch.from_numpy(muffled.astype(np.float32)), config), config)
    top = config.n_mels * 3 // 4  # mel rows far above 2 kHz
    assert darker[:, top:].mean() < images[:, top:].mean() - 40  # the lost high band stays visible
    assert abs(float(darker[:, :5].mean()) - float(images[:, :5].mean())) < 10  # the kept band barely moves


def test_row_statistics_match_numpy_over_chunks():
    images = np.random.default_rng(0).integers(0, 256, size=(37, 6, 9), dtype=np.uint8)
    images[:, 5] = 100  # a row that never varies gets the floor std instead of 0
    stats = row_statistics(images, chunk=8)
    unit = images.astype(np.float64) / 255
    assert np.allclose(stats["mean"], unit.mean(axis=(0, 2)))
    assert np.allclose(stats["std"][:5], unit.std(axis=(0, 2))[:5]) and stats["std"][5] == 0.01


def test_saved_config_without_a_new_field_reads_as_its_default():
    from spoofscan.config import check_same, to_dict

    saved = to_dict(FeatureConfig())
    del saved["normalize"]
    check_same(FeatureConfig(), saved, what="store", fix="rebuild it")
    with pytest.raises(SpoofscanError, match="normalize: saved 'image' vs asked 'frequency'"):
        check_same(FeatureConfig(normalize="frequency"), saved, what="store", fix="rebuild it")
