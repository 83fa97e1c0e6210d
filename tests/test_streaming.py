"""Long files in bounded memory: streamed windows give the in-memory path's scores for every input kind."""
import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import speechlike
from spoofscan import streaming
from spoofscan.audio import load_audio
from spoofscan.config import FeatureConfig
from spoofscan.models import get_model
from spoofscan.predict import Detector

KINDS = {
    "image": ("resnet18", dict(sample_rate=16000, n_fft=512, win_length=512, hop_length=128, n_mels=40,
                               window_frames=40, window_hop_frames=30, image_size=32)),
    "frequency": ("resnet18", dict(sample_rate=16000, n_fft=512, win_length=400, hop_length=128, n_mels=40,
                                   window_frames=40, window_hop_frames=40, image_size=32, normalize="frequency")),
    "dataset": ("resnet18", dict(sample_rate=16000, n_fft=512, win_length=512, hop_length=128, n_mels=40,
                                 window_frames=40, window_hop_frames=40, image_size=32, normalize="dataset")),
    "lfcc": ("lcnn", dict(input_kind="lfcc", sample_rate=16000, n_fft=512, win_length=512, hop_length=160,
                          n_lfcc=10, n_filters=30, window_frames=32, window_hop_frames=20)),
    "lfcc_cmn": ("lcnn", dict(input_kind="lfcc", sample_rate=16000, n_fft=512, win_length=512, hop_length=160,
                              n_lfcc=10, n_filters=30, window_frames=32, window_hop_frames=32, window_cmn=True,
                              fmax=6000.0, remove_dc=True)),
    "waveform": ("rawnet2", dict(input_kind="waveform", sample_rate=16000, n_fft=512, win_length=512, hop_length=160,
                                 window_frames=20, window_hop_frames=15)),
}


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    """35 s of 44.1 kHz stereo speech-like audio with silence at both ends (resampling and trimming both matter)."""
    rate = 44100
    speech = np.concatenate([speechlike(5.0, sr=rate, seed=s) for s in range(6)])
    silence = np.zeros(int(2.5 * rate), np.float32)
    mono = np.concatenate([silence, speech, silence])
    path = tmp_path_factory.mktemp("long") / "talk.flac"
    sf.write(path, np.stack([mono, 0.5 * mono], axis=1), rate)
    return path


@pytest.mark.parametrize("kind", list(KINDS))
def test_streamed_scores_equal_the_in_memory_scores(kind, long_file, monkeypatch):
    family, values = KINDS[kind]
    config = FeatureConfig(**values)
    torch.manual_seed(0)
    detector = Detector(get_model(family, config), config, 0.5)
    wave = load_audio(long_file, sample_rate=config.sample_rate)
    in_memory = detector.predict(wave, config.sample_rate, name=str(long_file))
    monkeypatch.setattr(streaming, "LONG_SECONDS", 10.0)
    monkeypatch.setattr(streaming, "CHUNK_FRAMES", 700)  # several passes' steps over this short file
    streamed = detector.predict_file(long_file)
    assert streaming.is_long(long_file, config)
    assert streamed.window_times == in_memory.window_times and len(streamed.window_times) > 20
    assert streamed.log_odds == pytest.approx(in_memory.log_odds, abs=1e-4)
    assert np.abs(np.array(streamed.window_scores) - np.array(in_memory.window_scores)).max() < 1e-4
    assert streamed.duration == in_memory.duration


def test_streamed_bad_files(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "LONG_SECONDS", 1.0)
    config = FeatureConfig(**KINDS["lfcc"][1])
    detector = Detector(get_model("lcnn", config), config, 0.5)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 3, np.float32), 16000)
    assert "silent audio" in list(detector.predict_files([silent]))[0].error
    with pytest.raises(Exception, match="silent audio"):
        detector.predict_file(silent)
    assert not list(tmp_path.glob("spoofscan-*"))
