"""Every container a user has: audio and video files decoded through PyAV (FFmpeg), made here with the same library."""
import av
import numpy as np
import pytest

from conftest import speechlike
from spoofscan.audio import load_audio
from spoofscan.cli import run
from spoofscan.errors import SpoofscanError
from spoofscan.predict import find_audio

RATE = 16000


def encode(path, tracks, *, codec, rate=RATE, video=False):
    """Write each (samples,) float waveform in tracks as one audio stream of path, optionally after a video stream."""
    with av.open(str(path), "w") as container:
        if video:
            picture = container.add_stream("mpeg4", rate=10)
            picture.width, picture.height, picture.pix_fmt = 32, 32, "yuv420p"
        streams = [container.add_stream(codec, rate=rate, layout="mono") for _ in tracks]
        for stream in streams:
            stream.bit_rate = 64000  # WMA's encoder has no default
        if video:
            for i in range(5):
                frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8), format="rgb24")
                for packet in picture.encode(frame):
                    container.mux(packet)
            for packet in picture.encode(None):
                container.mux(packet)
        for stream, wave in zip(streams, tracks):
            frame = av.AudioFrame.from_ndarray((wave[None] * 32767).astype(np.int16), format="s16", layout="mono")
            frame.rate = RATE
            for converted in av.AudioResampler(format=stream.format.name, layout="mono", rate=rate).resample(frame):
                for packet in stream.encode(converted):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    return path


def rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize("name,codec,rate", [("memo.m4a", "aac", RATE), ("note.webm", "libopus", 48000),
                                             ("clip.mp4", "aac", RATE), ("old.wma", "wmav2", 22050),
                                             ("phone.amr", "libopencore_amrnb", 8000), ("voice.opus", "libopus", 48000)])
def test_audio_in_every_container(tmp_path, name, codec, rate):
    wave = speechlike(2.0, sr=RATE, seed=3)
    decoded = load_audio(encode(tmp_path / name, [wave], codec=codec, rate=rate), sample_rate=RATE)
    assert abs(decoded.size - wave.size) < 0.15 * RATE  # codec priming and padding only
    assert rms(decoded) == pytest.approx(rms(wave), rel=0.25)
    assert tmp_path / name in find_audio([tmp_path])


def test_video_tracks_streams_and_bad_files(tmp_path, tiny_run, capsys):
    low, high = speechlike(2.0, sr=RATE, seed=4), 0.2 * speechlike(2.0, sr=RATE, seed=5)
    movie = encode(tmp_path / "talk.mkv", [low, high], codec="aac", video=True)
    first, second = load_audio(movie, sample_rate=RATE), load_audio(movie, sample_rate=RATE, stream=1)
    assert rms(first) == pytest.approx(rms(low), rel=0.25) and rms(second) == pytest.approx(rms(high), rel=0.25)
    with pytest.raises(SpoofscanError, match=r"--stream 2, but the file has 2 audio stream\(s\)"):
        load_audio(movie, stream=2)
    silent_video = tmp_path / "silent.mp4"
    with av.open(str(silent_video), "w") as container:
        picture = container.add_stream("mpeg4", rate=10)
        picture.width, picture.height, picture.pix_fmt = 32, 32, "yuv420p"
        for packet in picture.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
            container.mux(packet)
        for packet in picture.encode(None):
            container.mux(packet)
    with pytest.raises(SpoofscanError, match="no audio stream in this file"):
        load_audio(silent_video)
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(movie.read_bytes()[:200])
    with pytest.raises(SpoofscanError, match="broken.mp4: cannot decode audio"):
        load_audio(corrupt)
    # through the CLI: the second track of the video, a corrupt file reported and the exit code 1
    assert run(["predict", str(tiny_run["best"]), str(movie), "--stream", "1", "--json"]) == 0
    assert '"verdict"' in capsys.readouterr().out
    assert run(["predict", str(tiny_run["best"]), str(corrupt), str(movie)]) == 1
