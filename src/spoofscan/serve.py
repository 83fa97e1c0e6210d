"""`spoofscan serve`: a web page and an HTTP API over one detector, loaded once.

Each upload is written to a private temporary folder that is removed when its request ends (no name or path from
the client reaches the file system), decoded and scored in a worker thread so the event loop keeps answering. At most
`queue` requests wait or run at once; more are answered 503 with Retry-After. Bad input gets a 4xx with the CLI's
one-line reason: 413 for an upload or audio over the caps, 415 for a file that is not decodable audio, 422 for audio
that cannot be scored (empty, silent, too short, NaN) or a bad option, 401 without the bearer token when one is set.
"""

import asyncio
import base64
import secrets
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

from .audio import AUDIO_EXTENSIONS, audio_duration, decode_blocks, load_audio, native_rate
from .checkpoint import BASE_MODEL_CARD, describe, load_checkpoint
from .errors import SpoofscanError, UnsupportedAudio
from .predict import Detector
from .streaming import is_long

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
WEB = resources.files("spoofscan") / "web"  # the page's HTML, script and style, served from the package


@dataclass
class ServeConfig:
    """Settings of `spoofscan serve` (defaults are the CLI's)."""

    checkpoint: str | None = None  # None: the built-in spoofscan-base
    host: str = "127.0.0.1"  # localhost only unless you choose otherwise
    port: int = 8000
    token: str | None = None  # when set, /v1/* needs "Authorization: Bearer TOKEN"
    max_upload_mb: float = 50.0  # larger request bodies are answered 413 before they are read
    max_seconds: float = 600.0  # longer audio is answered 413 before it is decoded
    queue: int = 8  # requests waiting or running at once; more get 503
    threads: int = 1  # requests scored at the same time
    torch_threads: int = 0  # 0: automatic (Detector.use_threads); set by serve(), not create_app (process-wide)
    device: str = "cpu"


class TooLarge(SpoofscanError):
    """An upload or audio over the server's caps (413)."""


def check_serve_config(config: ServeConfig) -> None:
    """One-line errors for settings that cannot work."""
    if not 0 < config.max_upload_mb:
        raise SpoofscanError(f"--max-upload-mb {config.max_upload_mb}: use a positive size in MB")
    if not 0 < config.max_seconds:
        raise SpoofscanError(f"--max-seconds {config.max_seconds}: use a positive duration")
    if config.queue < 1:
        raise SpoofscanError(f"--queue {config.queue}: use 1 or more")
    if config.threads < 1:
        raise SpoofscanError(f"--threads {config.threads}: use 1 or more")
    if config.torch_threads < 0:
        raise SpoofscanError(f"--torch-threads {config.torch_threads}: use 0 (automatic) or a number of threads")
    if not 0 < config.port < 65536:
        raise SpoofscanError(f"--port {config.port}: use a TCP port from 1 to 65535")


def display_spectrogram(wave: np.ndarray, rate: int, *, rows: int = 80, max_columns: int = 1200) -> dict:
    """A log-mel picture of a clip for the page: uint8 pixels (row 0 = lowest band), 80 dB of range, base64."""
    import librosa

    hop = max(256, int(np.ceil(wave.size / max_columns)))
    mel = librosa.feature.melspectrogram(y=wave, sr=rate, n_fft=max(1024, hop), hop_length=hop, n_mels=rows,
                                         fmax=rate / 2)
    db = librosa.power_to_db(mel, ref=float(mel.max()) or 1.0, top_db=80.0)
    pixels = np.round((db + 80.0) * (255 / 80)).clip(0, 255).astype(np.uint8)
    return {"rows": rows, "columns": int(pixels.shape[1]), "seconds": round(wave.size / rate, 3),
            "max_hz": rate / 2, "scale": "mel", "pixels": base64.b64encode(pixels.tobytes()).decode()}


def score_upload(detector: Detector, data: bytes, *, name: str, suffix: str, max_seconds: float,
                 spectrogram: bool) -> dict:
    """Score one uploaded file: predict --json's fields for it (plus a display spectrogram when asked)."""
    with tempfile.TemporaryDirectory(prefix="spoofscan-serve-") as folder:  # mode 0700, removed on exit
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            check_duration(path, max_seconds)
            if is_long(path, detector.config):
                return detector.predict_file(path).to_dict() | {"path": name}  # streamed; too long to picture
            rate = native_rate(path) or detector.config.sample_rate
            wave = load_audio(path, sample_rate=rate)
            result = detector.predict(wave, rate, name=name).to_dict()
            return result | ({"spectrogram": display_spectrogram(wave, rate)} if spectrogram else {})
        except SpoofscanError as exc:  # name the upload, not the temporary file
            raise type(exc)(str(exc).replace(str(path), name)) from None


def check_duration(path: Path, max_seconds: float) -> None:
    """TooLarge when the audio lasts more than max_seconds (from the header, else by decoding up to the cap)."""
    seconds = audio_duration(path)
    if seconds is None:
        seconds = 0.0
        for block, rate in decode_blocks(path):
            seconds += block.size / rate
            if seconds > max_seconds:
                break
    if seconds > max_seconds:
        raise TooLarge(f"{path}: {seconds:.0f} s of audio, over this server's cap of {max_seconds:g} s; send a "
                       "shorter clip (cut it with ffmpeg -t) or run `spoofscan predict` on it")


def upload_name(filename: str | None) -> tuple[str, str]:
    """A display name for an upload (printable, at most 100 characters) and a file suffix from AUDIO_EXTENSIONS."""
    name = "".join(ch for ch in Path(filename or "upload").name if ch.isprintable())[:100] or "upload"
    suffix = Path(name).suffix.lower()
    return name, suffix if suffix in AUDIO_EXTENSIONS else ""


class BodyLimit:
    """ASGI middleware: a request body over max_bytes is refused with 413, before reading it when Content-Length
    says so, else as soon as the bytes received pass the cap."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            from fastapi.responses import JSONResponse

            return await JSONResponse({"detail": self.message()}, status_code=413)(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise TooLarge(self.message())
            return message

        await self.app(scope, limited_receive, send)

    def message(self) -> str:
        return (f"upload over this server's cap of {self.max_bytes / 1e6:g} MB; send a shorter or compressed clip "
                "(or start the server with a larger --max-upload-mb)")


UPLOAD_SCHEMA = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


def create_app(config: ServeConfig, detector: Detector | None = None):
    """The FastAPI application of `spoofscan serve` (detector: an already loaded one, else config.checkpoint's)."""
    try:
        from fastapi import Depends, FastAPI, HTTPException, Request
        from fastapi.openapi.docs import get_swagger_ui_html
        from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
        from fastapi.staticfiles import StaticFiles
        from swagger_ui_bundle import swagger_ui_path
    except ImportError as exc:
        raise SpoofscanError(f"spoofscan serve needs its extra ({exc.name} is missing): "
                             "pip install 'spoofscan[serve]'") from None
    check_serve_config(config)
    state = load_checkpoint(config.checkpoint)
    if detector is None:
        detector = Detector.from_checkpoint(config.checkpoint, device=config.device, state=state)
    name = "spoofscan-base (built-in)" if config.checkpoint is None else Path(config.checkpoint).name
    card = BASE_MODEL_CARD if config.checkpoint is None else Path(config.checkpoint).with_suffix(".md")
    executor = ThreadPoolExecutor(config.threads, thread_name_prefix="spoofscan-score")
    busy = {"requests": 0}  # waiting or running; only the event loop's thread changes it

    app = FastAPI(title="spoofscan", version="1", docs_url=None, redoc_url=None,
                  description="Tell real speech from vocoder and TTS speech. Scores are P(fake).")
    app.add_middleware(BodyLimit, max_bytes=int(config.max_upload_mb * 1e6))
    app.mount("/static", StaticFiles(directory=str(WEB)), name="static")
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    def require_token(request: Request) -> None:
        if config.token is None:
            return
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, f"Bearer {config.token}".encode()):
            raise HTTPException(401, "missing or wrong bearer token: send the header "
                                     "'Authorization: Bearer TOKEN' with the server's token",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(SpoofscanError)
    async def bad_input(request: Request, exc: SpoofscanError):
        status = 413 if isinstance(exc, TooLarge) else 415 if isinstance(exc, UnsupportedAudio) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(str(WEB / "index.html"))

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="spoofscan API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")

    @app.get("/healthz", summary="Liveness: the model is loaded")
    async def healthz() -> dict:
        return {"status": "ok", "model": name, "busy": busy["requests"], "queue": config.queue}

    @app.get("/model-card", response_class=PlainTextResponse, summary="The model card of the served model")
    async def model_card() -> str:
        if card.is_file():
            return card.read_text()
        return f"{name} has no model card (no {card.name} next to it); GET /v1/model says what it holds.\n"

    @app.get("/v1/model", dependencies=[Depends(require_token)], summary="What `spoofscan info` shows")
    async def model() -> dict:
        return {"name": name, "model_card": "/model-card", "threshold": detector.threshold, "pool": detector.pool,
                "calibrated": detector.calibration is not None, "prior": detector.prior,
                "limits": {"max_upload_mb": config.max_upload_mb, "max_seconds": config.max_seconds,
                           "queue": config.queue},
                "checkpoint": describe(state)}

    @app.post("/v1/predict", dependencies=[Depends(require_token)], openapi_extra=UPLOAD_SCHEMA,
              summary="Score one clip: the JSON of `spoofscan predict --json` (a list with one entry)")
    async def predict(request: Request, threshold: float | None = None, pool: Literal["mean", "max"] | None = None,
                      spectrogram: bool = False):
        """Send the file as a multipart field named `file` or as the raw request body. `threshold` (P(fake)) and
        `pool` (mean or max of the window log-odds) override the model's; `spectrogram=true` adds a picture of
        the clip for display."""
        scorer = detector.with_options(threshold=threshold, pool=pool)
        if busy["requests"] >= config.queue:
            raise HTTPException(503, f"busy: {config.queue} requests are already waiting or running; retry shortly",
                                headers={"Retry-After": "1"})
        busy["requests"] += 1
        try:
            data, filename = await read_upload(request)
            clip, suffix = upload_name(filename)
            result = await asyncio.get_running_loop().run_in_executor(
                executor, lambda: score_upload(scorer, data, name=clip, suffix=suffix,
                                               max_seconds=config.max_seconds, spectrogram=spectrogram))
        finally:
            busy["requests"] -= 1
        return [result]

    async def read_upload(request: Request) -> tuple[bytes, str | None]:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            async with request.form(max_files=2, max_fields=8) as form:
                files = [v for _, v in form.multi_items() if not isinstance(v, str)]
                if len(files) != 1:
                    raise SpoofscanError(f"{len(files)} files in the form; send exactly one, as the field 'file'")
                return await files[0].read(), files[0].filename
        data = await request.body()
        if not data:
            raise SpoofscanError("empty request: send the audio as the body or as a multipart field named 'file'")
        return data, None

    app.state.config, app.state.detector = config, detector
    return app


def serve(config: ServeConfig) -> None:
    """Run the server until interrupted (uvicorn), warning when it is reachable from other machines unprotected."""
    import uvicorn
    from rich.console import Console

    app = create_app(config)
    app.state.detector.use_threads(config.torch_threads)
    if config.host not in LOCAL_HOSTS and config.token is None:
        Console(stderr=True).print(f"[yellow]warning[/]: serving on {config.host} without --token: anyone who can "
                                   "reach this machine can use it; set --token (or SPOOFSCAN_TOKEN)")
    shown = {k: v for k, v in asdict(config).items() if k != "token"} | {"token": config.token is not None}
    Console(stderr=True).print(f"spoofscan serve: http://{config.host}:{config.port}/  {shown}")
    uvicorn.run(app, host=config.host, port=config.port, log_level="info")
