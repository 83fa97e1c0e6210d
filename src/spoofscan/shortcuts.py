"""The shortcut audit: how well do file properties alone (no speech content) predict real vs fake?

A detector can score well by learning the sample rate, the band, the codec, the loudness or the silence of one
class instead of the fakes' artifacts. This module measures each such property of every file and fits simple
classifiers on them with cross-validation grouped by utterance (a real clip and its copies are always in the same
fold). An AUC near 0.5 means the properties give the class away no better than a coin; near 1.0 means a model can
reach that score without ever listening.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf
import torch

from .audio import G722_RATE, brickwall, coded_bytes, load_audio, sound_bounds
from .config import FeatureConfig
from .degrade import cleaned_copies
from .errors import SpoofscanError
from .features import wave_windows
from .features.lfcc import window_band_edges
from .layouts import Item

NUMERIC = ("sample_rate", "bandwidth_hz", "bit_depth", "kbps", "channels", "duration_s", "rms_db", "peak_db",
           "lead_silence_s", "trail_silence_s", "dc_offset", "clipped_fraction")
CATEGORICAL = ("format", "subtype")
BIT_DEPTH = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64}
CLIP_LEVEL = 0.999  # samples at or above it (full scale is 1.0) count as clipped
BAND_FLOOR_DB = 60.0  # the band ends where the long-term spectrum falls this far below its peak


def long_term_spectrum(wave: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and the long-term average power spectrum (Welch, 2048-sample segments) of a waveform."""
    return scipy.signal.welch(wave.astype(np.float64), fs=rate, nperseg=min(2048, wave.size))


def band_edge(wave: np.ndarray, rate: int, *, floor_db: float = BAND_FLOOR_DB) -> float:
    """Effective bandwidth in Hz: the highest frequency where the long-term average power spectrum is within
    floor_db of its peak (an upsampled 16 kHz file ends near 8 kHz whatever its sample rate)."""
    if wave.size < 256:
        return 0.0
    freqs, power = long_term_spectrum(wave, rate)
    level = 10 * np.log10(power + 1e-20)
    above = np.flatnonzero(level >= level.max() - floor_db)
    return float(freqs[above[-1]])


def file_properties(path: str | Path) -> dict:
    """Properties of one file that say nothing about how the speech was made; an "error" key if unreadable."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".g722":
            rate, channels, fmt, subtype = G722_RATE, 1, "G722", "G722"
            data = load_audio(path, sample_rate=G722_RATE)[:, None]
        else:
            info = sf.info(path)
            rate, channels, fmt, subtype = info.samplerate, info.channels, info.format, info.subtype
            data, _ = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - an unreadable file is reported, not fatal to the audit
        return {"error": f"{type(exc).__name__}: {exc}".replace("\n", " ")}
    if data.size == 0:
        return {"error": "empty audio"}
    # the audio's bits per second (tags left out): a lossy coder's setting (how coarsely it coded), for PCM its rate
    # and bit depth
    return wave_properties(data, rate, fmt=fmt, subtype=subtype,
                           kbps=coded_bytes(path) * 8 / (len(data) / rate) / 1000)


def _file_rows(path: str) -> list[dict]:
    return [file_properties(path)]


def model_view_properties(job: tuple[str, FeatureConfig, tuple[tuple[str, int], ...], float]) -> list[dict]:
    """The same properties of the audio a model's features see: decoded to mono at config.sample_rate, silence
    trimmed as config trims it, and nothing above config.fmax (where the features' filters end); where the input
    does not keep the level (config.sees_level), every clip at one RMS, so the peak is measured from the RMS (the
    crest factor); with config.remove_dc no DC offset. The container, codec, bit depth, channels and original rate
    are gone by then; what is left (band, level, duration, DC, clipping) a model with this input could still learn.

    job = (path, config, degradations, narrowband_hz): one dict for the clip, then one for each (condition, seed)
    copy of spoofscan.degrade (the copies `prepare --augment` trains on); [{"error": ...}] if the clip is unusable.
    With narrowband_hz > 0 (an LFCC-GMM's gmm_narrowband_hz), each dict also gives the share of its windows whose band
    reaches it ("fitted_share"): the windows such a GMM fits."""
    path, config, degradations, narrowband_hz = job
    try:
        waves = cleaned_copies(path, config, degradations)
    except SpoofscanError as exc:
        return [{"error": str(exc)}]
    rows = []
    for kept in waves:
        fitted = {}
        if narrowband_hz > 0:
            edges = window_band_edges(torch.from_numpy(wave_windows(kept, config)[0]), config)
            fitted = {"fitted_share": float((edges >= narrowband_hz).float().mean())}
        if config.top_hz < config.sample_rate / 2:
            kept = brickwall(kept, config.top_hz, config.sample_rate)
        properties = wave_properties(kept[:, None], config.sample_rate, fmt="decoded", subtype="FLOAT")
        if not config.sees_level:  # clipping stays: it is a distortion of the waveform, not a level
            properties.update(peak_db=properties["peak_db"] - properties["rms_db"], rms_db=0.0)
        if config.remove_dc:
            properties.update(dc_offset=0.0)
        rows.append({**properties, **fitted})
    return rows


def wave_properties(data: np.ndarray, rate: int, *, fmt: str, subtype: str, kbps: float = 0.0) -> dict:
    """file_properties of (samples, channels) audio at rate, stored as fmt/subtype at kbps (0: not a file)."""
    mono = data.mean(axis=1)
    rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
    start, end = sound_bounds(mono, top_db=40.0, frame_length=max(256, rate // 20), hop_length=max(64, rate // 80))
    return {
        "sample_rate": rate, "bandwidth_hz": band_edge(mono, rate), "bit_depth": BIT_DEPTH.get(subtype, 0),
        "kbps": kbps, "channels": data.shape[1], "duration_s": mono.size / rate,
        "rms_db": 20 * math.log10(max(rms, 1e-10)),
        "peak_db": 20 * math.log10(max(float(np.abs(data).max()), 1e-10)),
        "lead_silence_s": start / rate, "trail_silence_s": max(mono.size - end, 0) / rate,
        "dc_offset": float(mono.mean()), "clipped_fraction": float(np.mean(np.abs(data) >= CLIP_LEVEL)),
        "format": fmt, "subtype": subtype,
    }


@dataclass
class ShortcutReport:
    """AUC of a classifier on all file properties, and of each property alone (out-of-fold, grouped)."""

    auc: float  # the better of the two classifiers below (with repeats: the mean over fold assignments)
    model_auc: dict[str, float]  # logistic regression and boosted trees on every property
    cue_auc: dict[str, float]  # one property alone (a depth-3 tree), strongest first
    n_clips: int
    n_real: int
    folds: int
    unreadable: list[str]
    model_view: bool = False  # the properties of the audio as a model sees it (model_view_properties)
    copies: int = 0  # of the n_clips, augmented copies of train clips (counted with their label)
    unfitted: int = 0  # clips (and copies) left out: most of their windows are narrowband, which the model does not fit
    auc_runs: list[float] = field(default_factory=list)  # auc of each fold assignment (the first: the unshuffled one)

    def summary(self) -> dict:
        return {"auc": self.auc, "model_auc": self.model_auc, "cue_auc": self.cue_auc, "clips": self.n_clips,
                "real": self.n_real, "fake": self.n_clips - self.n_real, "folds": self.folds,
                "unreadable": self.unreadable, "model_view": self.model_view, "copies": self.copies,
                "unfitted": self.unfitted, "repeats": len(self.auc_runs), "auc_runs": self.auc_runs}


def _design(rows: list[dict], names: tuple[str, ...]) -> np.ndarray:
    """Numeric properties as columns, categorical ones one-hot."""
    columns = []
    for name in names:
        if name in CATEGORICAL:
            values = sorted({r[name] for r in rows})
            columns += [[float(r[name] == v) for r in rows] for v in values]
        else:
            columns.append([float(r[name]) for r in rows])
    return np.asarray(columns, dtype=np.float64).T


def _out_of_fold_auc(x: np.ndarray, y: np.ndarray, groups: np.ndarray, model, folds: int, repeat: int) -> float:
    """ROC AUC of model's out-of-fold scores; repeat 0 assigns groups to folds as GroupKFold does (by size, in
    order), repeat r > 0 shuffles them with seed r."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_predict

    cv = GroupKFold(n_splits=folds, shuffle=True, random_state=repeat) if repeat else GroupKFold(n_splits=folds)
    scores = cross_val_predict(model, x, y, groups=groups, cv=cv, method="predict_proba")
    return float(roc_auc_score(y, scores[:, 1]))


def shortcut_audit(items: list[Item], *, folds: int = 5, workers: int = 0, model_view: FeatureConfig | None = None,
                   copies: list[tuple[tuple[str, int], ...]] | None = None,
                   narrowband_hz: float = 0.0, repeats: int = 1) -> ShortcutReport:
    """Measure every file's properties and how well they predict the label (grouped cross-validation; with
    repeats > 1, over that many assignments of groups to folds, AUCs averaged and each run's kept). With
    model_view, the properties of the audio as a model with that FeatureConfig sees it (model_view_properties),
    with copies (store.train_copies: each item's (condition, seed) pairs) those of its augmented copies too, each
    in its clip's utterance group, and with narrowband_hz (TrainConfig.gmm_narrowband_hz) only the clips and copies
    most of whose windows such a GMM fits."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    if folds < 2:
        raise SpoofscanError(f"--folds {folds}: use 2 or more")
    if repeats < 1:
        raise SpoofscanError(f"--repeats {repeats}: use 1 or more")
    if workers < 0:
        raise SpoofscanError(f"--workers {workers}: use 0 (all cores) or a positive number")
    if (copies is not None or narrowband_hz > 0) and model_view is None:
        raise SpoofscanError("augmented copies and fitted windows are measured as a model sees them: pass --as-model "
                             "CONFIG too")
    if narrowband_hz > 0 and model_view.input_kind != "lfcc":
        raise SpoofscanError(f"gmm_narrowband_hz is an lfcc-gmm setting; the config's input_kind is "
                             f"{model_view.input_kind!r}, not 'lfcc'")
    workers = workers or (os.cpu_count() or 1)
    paths = [it.path for it in items]
    copies = copies or [()] * len(items)
    measure, jobs = (_file_rows, paths) if model_view is None else \
        (model_view_properties, [(p, model_view, c, narrowband_hz) for p, c in zip(paths, copies)])
    if workers == 1 or len(paths) < 64:
        properties = [measure(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            properties = list(pool.map(measure, jobs, chunksize=16))
    unreadable = [f"{p}: {props[0]['error']}" for p, props in zip(paths, properties) if "error" in props[0]]
    measured = [(it, row, i > 0) for it, props in zip(items, properties) if "error" not in props[0]
                for i, row in enumerate(props)]  # i > 0: an augmented copy
    kept = [(it, row) for it, row, _ in measured if row.get("fitted_share", 1.0) >= 0.5]
    n_copies = sum(copy for _, row, copy in measured if row.get("fitted_share", 1.0) >= 0.5)
    y = np.array([it.label == "fake" for it, _ in kept], dtype=int)
    groups = np.array([it.group for it, _ in kept])
    n_groups = len(set(groups))
    if y.min(initial=1) == y.max(initial=0) or n_groups < folds:
        raise SpoofscanError(f"the shortcut audit needs real and fake clips in at least {folds} utterance groups; "
                             f"found {int((y == 0).sum())} real and {int(y.sum())} fake readable clips in "
                             f"{n_groups} groups")
    rows = [props for _, props in kept]
    everything = _design(rows, NUMERIC + CATEGORICAL)
    models = {"logistic_regression": make_pipeline(StandardScaler(),
                                                   LogisticRegression(max_iter=2000, class_weight="balanced")),
              "boosted_trees": HistGradientBoostingClassifier(max_depth=3, max_iter=100, class_weight="balanced",
                                                              random_state=0)}
    runs = [{name: _out_of_fold_auc(everything, y, groups, model, folds, r) for name, model in models.items()}
            for r in range(repeats)]
    model_auc = {name: float(np.mean([run[name] for run in runs])) for name in models}
    auc_runs = [max(run.values()) for run in runs]
    cue_auc = {}
    for name in NUMERIC + CATEGORICAL:
        tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=max(2, min(10, len(y) // 40)),
                                      class_weight="balanced", random_state=0)
        cue_auc[name] = float(np.mean([_out_of_fold_auc(_design(rows, (name,)), y, groups, tree, folds, r)
                                       for r in range(repeats)]))
    cue_auc = dict(sorted(cue_auc.items(), key=lambda kv: -abs(kv[1] - 0.5)))
    return ShortcutReport(auc=float(np.mean(auc_runs)), model_auc=model_auc, cue_auc=cue_auc, n_clips=len(kept),
                          n_real=int((y == 0).sum()), folds=folds, unreadable=unreadable,
                          model_view=model_view is not None, copies=n_copies, unfitted=len(measured) - len(kept),
                          auc_runs=auc_runs)
