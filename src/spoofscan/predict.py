"""Verdicts on any audio: files of any length, format, sample rate and channel count.

A clip is cut into the checkpoint's windows (hop configurable), every window gets a log-odds of being fake,
and the clip's score pools them (mean of the windows' log-odds by default, or max). score = P(fake) =
sigmoid(pooled log-odds); the verdict compares it with the checkpoint's validation-EER threshold unless a
threshold is given. A calibrated checkpoint (`spoofscan calibrate`) maps the pooled log-odds to a log-likelihood
ratio (llr); score is then P(fake) at the stated prior and the verdict is the Bayes decision (score >= 0.5). A fused checkpoint (`spoofscan fuse`) gives a FusedDetector: its members score the clip
and a logistic regression combines their clip log-odds. The CLI's `predict` is a thin layer over Detector.
"""
from __future__ import annotations

import copy
import dataclasses
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .audio import AUDIO_EXTENSIONS, clean_waveform, load_audio, native_rate, resample
from .checkpoint import load_checkpoint, model_from_checkpoint
from .config import FeatureConfig
from .errors import SpoofscanError
from .features import model_input, wave_windows
from .models import use_channels_last
from .scores import calibrated_llr, check_prior, pool_windows, posterior, sigmoid
from .streaming import is_long, long_clip


@dataclass
class Prediction:
    """The result for one clip. score = P(fake); window_* give each window's P(fake) and time range (s) (none for a
    fused detector, whose members cut different windows)."""

    path: str
    score: float | None = None
    verdict: str = "error"  # "fake", "real" or "error"
    threshold: float | None = None
    log_odds: float | None = None  # the model's pooled log-odds (uncalibrated)
    llr: float | None = None  # calibrated log-likelihood ratio of fake vs real (calibrated checkpoints only)
    prior: float | None = None  # the prior P(fake) that score assumes (calibrated checkpoints only)
    duration: float | None = None
    window_scores: list[float] = field(default_factory=list)
    window_times: list[tuple[float, float]] = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def find_audio(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files, folders (recursively) and glob patterns into audio files; unknown paths are kept to fail loudly."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        elif any(ch in str(raw) for ch in "*?[") and not path.exists():
            anchor = Path(path.anchor or ".")
            pattern = str(path.relative_to(anchor)) if path.is_absolute() else str(raw)
            found += sorted(p for p in anchor.glob(pattern) if p.is_file())
        else:
            found.append(path)
    return found


class Detector:
    """A trained detector. Build it with Detector.from_checkpoint(path, device=...) (no path: spoofscan-base)."""

    def __init__(self, model: torch.nn.Module, feature_config: FeatureConfig, threshold: float, *,
                 device: str | torch.device = "cpu", pool: str = "mean", batch_size: int = 64,
                 onnx_session=None, calibration: dict | None = None, prior: float | None = None) -> None:
        self.model = model.eval()
        self.calibration, self.prior = calibration, prior
        self.config = feature_config
        self.threshold = threshold
        self.device = torch.device(device)
        self.pool = pool
        self.batch_size = batch_size
        self.onnx_session = onnx_session

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, *, device: str = "cpu", threshold: float | None = None,
                        pool: str = "mean", hop_frames: int | None = None, batch_size: int = 64,
                        backend: str = "torch", prior: float | None = None, state: dict | None = None) -> "Detector":
        """Load a checkpoint (None = the built-in spoofscan-base); hop_frames overrides the window hop, threshold
        the checkpoint's decision threshold, prior the calibrated checkpoint's prior P(fake); state: path's contents
        when already loaded (load_checkpoint). A fused checkpoint gives a FusedDetector."""
        check_options(threshold=threshold, pool=pool)
        if backend not in ("torch", "onnx"):
            raise SpoofscanError(f"--backend {backend!r}: use torch or onnx")
        if batch_size < 1:
            raise SpoofscanError(f"--batch-size {batch_size}: use 1 or more windows per forward pass")
        state = load_checkpoint(path) if state is None else state
        calibration = state.get("calibration")
        if prior is not None and calibration is None:
            raise SpoofscanError(f"--prior {prior}: {path or 'spoofscan-base'} is not calibrated, so its scores are not "
                                 "likelihood ratios; calibrate it first (`spoofscan calibrate CKPT DATA`)")
        if calibration is not None:
            prior = check_prior(calibration["prior"] if prior is None else prior)
            threshold = 0.5 if threshold is None else threshold  # the Bayes decision at that prior
        if "fusion" in state:
            if backend != "torch":
                raise SpoofscanError(f"{path}: a fused checkpoint runs with --backend torch only")
            detector = FusedDetector.from_state(state, device=device, threshold=threshold, pool=pool,
                                                hop_frames=hop_frames, batch_size=batch_size)
        else:
            detector = cls.from_state(state, path=path, device=device, threshold=threshold, pool=pool,
                                      hop_frames=hop_frames, batch_size=batch_size, backend=backend)
        detector.calibration, detector.prior = calibration, prior
        return detector

    @classmethod
    def from_state(cls, state: dict, *, path: str | Path | None = None, device: str = "cpu",
                   threshold: float | None = None, pool: str = "mean", hop_frames: int | None = None,
                   batch_size: int = 64, backend: str = "torch") -> "Detector":
        """A Detector of a loaded single-model checkpoint (see from_checkpoint)."""
        config = state["feature_config"]
        if hop_frames is not None:
            if hop_frames < 1:
                raise SpoofscanError(f"--hop {hop_frames}: the window hop must be >= 1 frame")
            config = dataclasses.replace(config, window_hop_frames=hop_frames)
        model = model_from_checkpoint(state)
        device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                              "cpu" if device == "auto" else device)
        use_channels_last(model.to(device))
        session = None
        if backend == "onnx":
            from .export import export_onnx, onnx_session

            with tempfile.TemporaryDirectory() as tmp:
                session = onnx_session(export_onnx(path, Path(tmp) / "model.onnx"))
        return cls(model, config, state["threshold"] if threshold is None else threshold, device=device,
                   pool=pool, batch_size=batch_size, onnx_session=session)

    def with_options(self, *, threshold: float | None = None, pool: str | None = None) -> "Detector":
        """A copy that shares the model but decides at another threshold or pools windows another way."""
        check_options(threshold=threshold, pool=pool)
        detector = copy.copy(self)
        detector.threshold = self.threshold if threshold is None else threshold
        detector.pool = self.pool if pool is None else pool
        return detector

    def preferred_threads(self) -> int | None:
        """The torch threads this model runs fastest on, where its family says (None: torch's default)."""
        return getattr(self.model, "inference_threads", None)

    def use_threads(self, threads: int = 0) -> int:
        """Set torch's threads for inference: threads if > 0, else the model's preference, else leave the default."""
        if threads < 0:
            raise SpoofscanError(f"--threads {threads}: use 0 (automatic) or a number of threads")
        torch.set_num_threads(threads or self.preferred_threads() or torch.get_num_threads())
        return torch.get_num_threads()

    # --- the model on stored windows -----------------------------------------------------------------------
    @torch.inference_mode()
    def window_log_odds(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W) windows as the store holds them -> (N,) float64 log-odds of fake, in batches."""
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[start:start + self.batch_size]))
            x = model_input(batch.to(self.device), self.config)
            if self.onnx_session is not None:
                logits = self.onnx_session.run(None, {"input": x.cpu().numpy()})[0]
            else:
                logits = self.model(x).float().cpu().numpy()
            out.append(logits[:, 1].astype(np.float64) - logits[:, 0])
        return np.concatenate(out) if out else np.zeros(0)

    # --- audio -> windows -> verdict ---------------------------------------------------------------------
    def p_fake(self, log_odds: np.ndarray | float) -> np.ndarray | float:
        """P(fake) of log-odds: at the stated prior through the calibration, else the model's sigmoid."""
        if self.calibration is None:
            return sigmoid(log_odds)
        return posterior(calibrated_llr(log_odds, self.calibration), self.prior)

    def _result(self, name: str, log_odds: np.ndarray, times: list, duration: float) -> Prediction:
        pooled = float(pool_windows(log_odds, np.zeros(len(log_odds), np.int64), 1, self.pool)[0])
        return self._verdict(name, pooled, duration, window_scores=[float(s) for s in self.p_fake(log_odds)],
                             window_times=times)

    def _verdict(self, name: str, pooled: float, duration: float, **windows) -> Prediction:
        score = float(self.p_fake(pooled))
        llr = None if self.calibration is None else float(calibrated_llr(pooled, self.calibration))
        return Prediction(path=name, score=score, verdict="fake" if score >= self.threshold else "real",
                          threshold=self.threshold, log_odds=pooled, llr=llr, prior=self.prior,
                          duration=round(duration, 3), **windows)

    def predict(self, waveform: np.ndarray, sample_rate: int, *, name: str = "waveform") -> Prediction:
        """Score a waveform: (samples,) or (samples, channels), any sample rate."""
        images, times, duration = audio_windows(waveform, sample_rate, self.config, name=name)
        return self._result(name, self.window_log_odds(images), times, duration)

    def predict_file(self, path: str | Path, *, stream: int = 0) -> Prediction:
        """Score one audio or video file (its stream-th audio stream). Raises SpoofscanError for a bad file.

        A file longer than streaming.LONG_SECONDS is scored a part at a time in bounded memory."""
        if is_long(path, self.config, stream):
            return self.predict_long(path, stream=stream)
        wave = load_audio(path, sample_rate=self.config.sample_rate, stream=stream)
        return self.predict(wave, self.config.sample_rate, name=str(path))

    def predict_files(self, paths: Iterable[str | Path], *, stream: int = 0, workers: int = 1) -> Iterator[Prediction]:
        """Score many files, batching windows across files; a bad file yields an error Prediction, the rest go on.

        workers > 1 decodes and cuts windows in that many processes while this one runs the model."""
        pending: list[tuple[str, np.ndarray, list, float]] = []

        def flush() -> Iterator[Prediction]:
            log_odds = self.window_log_odds(np.concatenate([p[1] for p in pending]))
            offset = 0
            for name, images, times, duration in pending:
                yield self._result(name, log_odds[offset:offset + len(images)], times, duration)
                offset += len(images)
            pending.clear()

        jobs = ((str(path), self.config, stream) for path in paths)
        if workers > 1:
            from .store import process_pool

            pool = process_pool(workers)
            decoded = _bounded_map(pool, file_windows, jobs, ahead=4 * workers)
        else:
            pool, decoded = None, map(file_windows, jobs)
        try:
            for name, windows, error in decoded:
                if error or windows is None:
                    yield from flush() if pending else ()
                    yield self._predict_or_error(name, stream) if not error else Prediction(path=name, error=error)
                    continue
                pending.append((name, *windows))
                if sum(len(p[1]) for p in pending) >= self.batch_size:
                    yield from flush()
            if pending:
                yield from flush()
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)


    def predict_long(self, path: str | Path, *, stream: int = 0) -> Prediction:
        """Score a long file a batch of windows at a time (streaming.LongClip): the same result as predict_file's
        in-memory path, in memory that does not grow with the audio."""
        clip, directory = long_clip(path, self.config, stream)
        try:
            parts = [(self.window_log_odds(windows), starts) for windows, starts in clip.windows()]
        finally:
            directory.cleanup()
        log_odds = np.concatenate([p[0] for p in parts])
        starts = [s for p in parts for s in p[1]]
        seconds_per_frame = self.config.hop_length / self.config.sample_rate
        t0 = clip.start / self.config.sample_rate
        times = [(round(t0 + s * seconds_per_frame, 3),
                  round(min(t0 + (s + self.config.window_frames) * seconds_per_frame, clip.duration), 3))
                 for s in starts]
        return self._result(str(path), log_odds, times, clip.duration)

    def _predict_or_error(self, path: str, stream: int) -> Prediction:
        try:
            return self.predict_long(path, stream=stream)
        except SpoofscanError as exc:
            return Prediction(path=path, error=str(exc))


def check_options(*, threshold: float | None = None, pool: str | None = None) -> None:
    """Raise SpoofscanError for a P(fake) threshold outside [0, 1] or an unknown pooling."""
    if pool is not None and pool not in ("mean", "max"):
        raise SpoofscanError(f"--pool {pool!r}: use mean or max")
    if threshold is not None and not 0 <= threshold <= 1:
        raise SpoofscanError(f"--threshold {threshold}: a P(fake) threshold lies in [0, 1]")


def _bounded_map(pool, function, jobs: Iterator, *, ahead: int) -> Iterator:
    """pool.map in order, with at most `ahead` jobs submitted but not yet consumed (bounded memory for any archive)."""
    from collections import deque

    futures: deque = deque()
    for job in jobs:
        futures.append(pool.submit(function, job))
        if len(futures) >= ahead:
            yield futures.popleft().result()
    while futures:
        yield futures.popleft().result()


def audio_windows(waveform: np.ndarray, sample_rate: int, config: FeatureConfig, *,
                  name: str) -> tuple[np.ndarray, list[tuple[float, float]], float]:
    """A waveform -> its model windows, each window's (start, end) seconds, and the duration in seconds."""
    wave = resample(waveform, sample_rate, config.sample_rate, name=name)
    duration = wave.size / config.sample_rate
    kept, offset = clean_waveform(wave, config, name=name)
    images, starts = wave_windows(kept, config)
    seconds_per_frame = config.hop_length / config.sample_rate
    t0 = offset / config.sample_rate
    if config.input_mode == "resize":
        times = [(round(t0, 3), round(t0 + kept.size / config.sample_rate, 3))]
    else:
        times = [(round(t0 + s * seconds_per_frame, 3),
                  round(min(t0 + (s + config.window_frames) * seconds_per_frame, duration), 3)) for s in starts]
    return images, times, duration


def file_windows(job: tuple[str, FeatureConfig, int]) -> tuple[str, tuple | None, str]:
    """(path, config, stream) -> (path, audio_windows of the file, or None for a long file; error message or "")."""
    path, config, stream = job
    try:
        if is_long(path, config, stream):
            return path, None, ""  # streamed by the Detector itself (predict_long)
        wave = load_audio(path, sample_rate=config.sample_rate, stream=stream)
        return path, audio_windows(wave, config.sample_rate, config, name=path), ""
    except SpoofscanError as exc:
        return path, None, str(exc)


class FusedDetector(Detector):
    """Score fusion: each member Detector scores the clip, and the clip's log-odds is
    bias + sum(weight_i * member log-odds_i) (a logistic regression fitted by `spoofscan fuse`)."""

    def __init__(self, members: list[Detector], weights: list[float], bias: float, threshold: float) -> None:
        self.members, self.weights, self.bias, self.threshold = members, np.asarray(weights, np.float64), bias, threshold
        self.config = members[0].config  # load_audio's rate; each member resamples to its own
        self.pool = members[0].pool  # the members pool their windows; the fusion sees one log-odds per member
        self.calibration, self.prior = None, None

    @classmethod
    def from_state(cls, state: dict, *, device: str = "cpu", threshold: float | None = None, pool: str = "mean",
                   hop_frames: int | None = None, batch_size: int = 64, **_) -> "FusedDetector":
        fusion = state["fusion"]
        members = [Detector.from_state(m, device=device, pool=pool, hop_frames=hop_frames, batch_size=batch_size)
                   for m in fusion["members"]]
        return cls(members, fusion["weights"], float(fusion["bias"]),
                   state["threshold"] if threshold is None else threshold)

    def with_options(self, *, threshold: float | None = None, pool: str | None = None) -> "FusedDetector":
        fused = super().with_options(threshold=threshold)
        fused.members = [m.with_options(pool=pool) for m in self.members]
        return fused

    def preferred_threads(self) -> int | None:
        preferences = {m.preferred_threads() for m in self.members}
        return preferences.pop() if len(preferences) == 1 else None

    def fuse(self, member_log_odds: np.ndarray) -> np.ndarray:
        """(clips, members) member log-odds -> (clips,) fused log-odds."""
        return self.bias + member_log_odds @ self.weights

    def predict(self, waveform: np.ndarray, sample_rate: int, *, name: str = "waveform") -> Prediction:
        results = [m.predict(waveform, sample_rate, name=name) for m in self.members]
        fused = float(self.fuse(np.array([[r.log_odds for r in results]]))[0])
        return self._verdict(name, fused, results[0].duration)

    def predict_file(self, path: str | Path, *, stream: int = 0) -> Prediction:
        if any(is_long(path, m.config, stream) for m in self.members):  # each member streams it
            results = [m.predict_file(path, stream=stream) for m in self.members]
            return self._verdict(str(path), float(self.fuse(np.array([[r.log_odds for r in results]]))[0]),
                                 results[0].duration)
        rate = native_rate(path, stream) or self.config.sample_rate  # decoded once at its own rate; members resample
        return self.predict(load_audio(path, sample_rate=rate, stream=stream), rate, name=str(path))

    def predict_files(self, paths: Iterable[str | Path], *, stream: int = 0, workers: int = 1) -> Iterator[Prediction]:
        """As Detector.predict_files; each member decodes for itself, so workers is not used."""
        for path in paths:
            try:
                yield self.predict_file(path, stream=stream)
            except SpoofscanError as exc:
                yield Prediction(path=str(path), error=str(exc))
