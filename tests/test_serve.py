"""`spoofscan serve`: the HTTP API (every bad input is a 4xx with a reason), auth, the queue, temp files, the CLI."""
from __future__ import annotations

import io
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

from conftest import speechlike, vocode, write

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from spoofscan import serve as serve_module  # noqa: E402
from spoofscan.serve import ServeConfig, create_app  # noqa: E402


def wav_bytes(wave: np.ndarray, sr: int = 16000, **kwargs) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, sr, format=kwargs.pop("format", "WAV"), **kwargs)
    return buffer.getvalue()


@pytest.fixture
def client(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # to see that uploads leave nothing behind
    app = create_app(ServeConfig(checkpoint=str(tiny_run["best"]), max_upload_mb=1.0, max_seconds=30.0))
    with TestClient(app) as client:
        yield client
    assert not list(tmp_path.glob("spoofscan-serve-*")), "an upload's temporary folder was left behind"


def test_predict_matches_the_cli_for_multipart_and_raw_bodies(tiny_run, client):
    from spoofscan.predict import Detector

    stereo = np.stack([vocode(speechlike(2.0, sr=16000, seed=5)), speechlike(2.0, sr=16000, seed=6)], axis=1)
    data = wav_bytes(stereo, 16000)
    path = write(tiny_run["root"] / "serve_stereo.wav", stereo)
    expected = Detector.from_checkpoint(tiny_run["best"]).predict_file(path).to_dict()

    multipart = client.post("/v1/predict", files={"file": ("my clip.wav", data, "audio/wav")})
    raw = client.post("/v1/predict?threshold=0.25&pool=max", content=data,
                      headers={"content-type": "application/octet-stream"})
    assert multipart.status_code == 200 and raw.status_code == 200
    (got,), (got_raw,) = multipart.json(), raw.json()
    assert got["path"] == "my clip.wav" and got_raw["path"] == "upload"
    assert set(got) == set(expected)
    assert got["score"] == pytest.approx(expected["score"], abs=1e-6)
    assert np.allclose(got["window_scores"], expected["window_scores"], atol=1e-6)
    assert got["window_times"] == [list(t) for t in expected["window_times"]]
    assert got_raw["threshold"] == 0.25 and got_raw["verdict"] == ("fake" if got_raw["score"] >= 0.25 else "real")
    assert got_raw["score"] >= got["score"] - 1e-9  # max pooling never scores below mean pooling

    picture = client.post("/v1/predict?spectrogram=true", files={"file": ("a.flac", wav_bytes(stereo, format="FLAC"),
                                                                          "audio/flac")}).json()[0]["spectrogram"]
    import base64

    assert len(base64.b64decode(picture["pixels"])) == picture["rows"] * picture["columns"] > 0
    assert picture["seconds"] == pytest.approx(2.0, abs=0.01)


def test_model_health_card_docs_and_page_are_served_offline(tiny_run, client):
    model = client.get("/v1/model").json()
    assert model["name"] == tiny_run["best"].name and model["checkpoint"]["model"] == "resnet18"
    assert model["limits"] == {"max_upload_mb": 1.0, "max_seconds": 30.0, "queue": 8}
    assert client.get("/healthz").json()["status"] == "ok"
    assert "has no model card" in client.get("/model-card").text
    docs = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert "requestBody" in client.get("/openapi.json").json()["paths"]["/v1/predict"]["post"]
    page = client.get("/").text
    assert '<script src="/static/app.js">' in page and "http" not in page.replace("HTTP API", "")
    assert "drawTimeline" in client.get("/static/app.js").text


def test_built_in_model_card_is_served():
    app = create_app(ServeConfig())
    with TestClient(app) as client:
        card = client.get("/model-card").text
        assert "model card" in card
        assert client.get("/v1/model").json()["name"] == "spoofscan-base (built-in)"
    # every figure filled in: no template field ("4.0 %CI", "{eer}") left where a number belongs
    assert not re.findall(r"%[A-Z]{2,}|\{[a-z_]+\}", card)


def test_every_bad_input_is_a_4xx_with_a_reason(client):
    sr = 16000
    nan = speechlike(1.0, seed=1)
    nan[100] = np.nan
    two = {"file": ("a.wav", wav_bytes(speechlike(1.0)), "audio/wav")}
    cases = {
        "not audio": (415, "cannot decode", {"files": {"file": ("notes.wav", b"RIFF\x00 not really a wave file" * 9)}}),
        "random bytes, raw": (415, "cannot decode", {"content": bytes(range(256)) * 20}),
        "empty body": (422, "empty request", {"content": b""}),
        "silent": (422, "silent audio", {"files": {"file": ("quiet.wav", wav_bytes(np.zeros(sr, np.float32)))}}),
        "too short": (422, "too short", {"files": {"file": ("blip.wav", wav_bytes(speechlike(0.05)))}}),
        "NaN samples": (422, "NaN", {"files": {"file": ("nan.wav", wav_bytes(nan, subtype="FLOAT"))}}),
        "over the upload cap": (413, "cap of 1 MB", {"content": b"\0" * 1_100_000}),
        "over the duration cap": (413, "cap of 30 s", {"files": {"file": ("long.wav", wav_bytes(
            np.tile(speechlike(1.0), 31), subtype="PCM_U8"))}}),
        "two files": (422, "exactly one", {"files": [("file", two["file"]), ("other", two["file"])]}),
    }
    for what, (status, reason, request) in cases.items():
        answer = client.post("/v1/predict", **request)
        assert answer.status_code == status, (what, answer.text)
        detail = answer.json()["detail"]
        assert reason in detail and "spoofscan-serve-" not in detail, (what, detail)
        if "files" in request and isinstance(request["files"], dict):
            assert detail.startswith(request["files"]["file"][0] + ":"), (what, detail)  # names the upload

    def chunked():  # no Content-Length: the cap is enforced while reading
        for _ in range(12):
            yield b"\0" * 100_000

    assert client.post("/v1/predict", content=chunked()).status_code == 413
    for query in ("threshold=2", "threshold=abc", "pool=median"):
        answer = client.post(f"/v1/predict?{query}", files=two)
        assert answer.status_code == 422 and answer.json()["detail"], query
    assert client.get("/v1/predict").status_code == 405


def test_bearer_token(tiny_run):
    app = create_app(ServeConfig(checkpoint=str(tiny_run["best"]), token="s3cret"))
    clip = {"file": ("a.wav", wav_bytes(speechlike(1.0)))}
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200 and client.get("/").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3crét".encode("latin-1")}):
            answer = client.post("/v1/predict", files=clip, headers=headers)
            assert answer.status_code == 401 and "bearer token" in answer.json()["detail"]
            assert answer.headers["www-authenticate"] == "Bearer"
        assert client.get("/v1/model").status_code == 401
        ok = {"Authorization": "Bearer s3cret"}
        assert client.post("/v1/predict", files=clip, headers=ok).status_code == 200
        assert client.get("/v1/model", headers=ok).status_code == 200


@pytest.fixture
def live_server():
    """Start an app on a free loopback port in a thread; yields a function app -> base URL."""
    import uvicorn

    servers = []

    def start(app) -> str:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def test_concurrent_requests_and_a_full_queue(tiny_run, live_server, monkeypatch):
    import httpx2

    url = live_server(create_app(ServeConfig(checkpoint=str(tiny_run["best"]), threads=2)))
    clips = [wav_bytes(speechlike(1.5, seed=n) if n % 2 else vocode(speechlike(1.5, seed=n))) for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda c: httpx2.post(f"{url}/v1/predict", files={"file": ("c.wav", c)}), clips))
    assert [a.status_code for a in answers] == [200] * 8
    alone = [httpx2.post(f"{url}/v1/predict", files={"file": ("c.wav", c)}).json()[0]["score"] for c in clips]
    assert np.allclose([a.json()[0]["score"] for a in answers], alone)

    release, started = threading.Event(), threading.Event()
    real_score = serve_module.score_upload

    def slow_score(*args, **kwargs):
        started.set()
        release.wait(timeout=30)
        return real_score(*args, **kwargs)

    monkeypatch.setattr(serve_module, "score_upload", slow_score)
    url = live_server(create_app(ServeConfig(checkpoint=str(tiny_run["best"]), queue=1)))
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx2.post, f"{url}/v1/predict", files={"file": ("a.wav", clips[0])}, timeout=60)
        assert started.wait(timeout=30)
        busy = httpx2.post(f"{url}/v1/predict", files={"file": ("b.wav", clips[1])})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1" and "busy" in busy.json()["detail"]
        assert httpx2.get(f"{url}/healthz").json()["busy"] == 1  # the event loop still answers
        release.set()
        assert first.result().status_code == 200


def test_cli_serve_warns_and_refuses_bad_settings(tiny_run, monkeypatch, capsys):
    import uvicorn

    from spoofscan.cli import run

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    assert run(["serve", "--checkpoint", str(tiny_run["best"]), "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert calls == [{"host": "0.0.0.0", "port": 8123, "log_level": "info"}]
    assert "without --token" in capsys.readouterr().err
    monkeypatch.setenv("SPOOFSCAN_TOKEN", "abc")
    assert run(["serve", "--checkpoint", str(tiny_run["best"]), "--host", "0.0.0.0"]) == 0
    err = capsys.readouterr().err
    assert "without --token" not in err and "abc" not in err  # the token is never printed
    for flag, value in (("--queue", "0"), ("--max-upload-mb", "0"), ("--port", "70000"), ("--max-seconds", "-1"),
                        ("--threads", "0"), ("--torch-threads", "-1")):
        assert run(["serve", "--checkpoint", str(tiny_run["best"]), flag, value]) == 2
        err = capsys.readouterr().err
        assert err.startswith("spoofscan: error:") and flag in err and err.count("\n") == 1
    assert run(["serve", "--checkpoint", str(tiny_run["root"] / "missing.pt")]) == 2
    assert "missing.pt" in capsys.readouterr().err


def test_a_model_card_next_to_the_checkpoint_is_served(tiny_run, tmp_path):
    import shutil

    checkpoint = tmp_path / "mine.pt"
    shutil.copy(tiny_run["best"], checkpoint)
    (tmp_path / "mine.md").write_text("# mine\nTrained on buzz and hiss.\n")
    with TestClient(create_app(ServeConfig(checkpoint=str(checkpoint)))) as client:
        assert client.get("/model-card").text == "# mine\nTrained on buzz and hiss.\n"


def test_truncated_and_corrupted_uploads_never_give_a_500(client):
    rng = np.random.default_rng(0)
    wave = speechlike(1.5)
    answers = []
    for fmt, subtype in (("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")):
        data = wav_bytes(wave, format=fmt, subtype=subtype)
        corrupted = np.frombuffer(data, np.uint8).copy()
        corrupted[rng.integers(44, len(data), 100)] = rng.integers(0, 256, 100)
        for blob in [data[:cut] for cut in (4, 44, 300, len(data) // 2, len(data) - 10)] + [corrupted.tobytes()]:
            for name in (f"x.{fmt.lower()}", "x"):  # with and without a telling extension
                answer = client.post("/v1/predict", files={"file": (name, blob)})
                answers.append(answer.status_code)
                assert answer.status_code in (200, 415, 422), (fmt, len(blob), name, answer.text)
    assert {200, 415} <= set(answers)
