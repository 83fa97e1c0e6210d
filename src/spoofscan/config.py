"""Configuration: two plain dataclasses, saved with every store, run and checkpoint.

FeatureConfig says how audio becomes a model input; TrainConfig says how a model is trained.
Both round-trip through dicts (JSON/TOML) and are checked when a store or checkpoint is reused.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SpoofscanError

CLASS_NAMES = ("real", "fake")  # label 0 = real (bona fide), label 1 = fake (spoof); score = P(fake)


INPUT_KINDS = ("image", "lfcc", "waveform")
GMM_BALANCE_COLUMNS = ("", "source", "system", "speaker")  # TrainConfig.gmm_balance: "" or a manifest column


@dataclass
class FeatureConfig:
    """Audio -> fixed-size model input windows. Defaults follow the LJSpeech vocoder convention.

    input_kind says what a window is: "image", a uint8 spectrogram image (ResNet-18); "lfcc", float16 LFCC frames
    with deltas (LCNN, GMM); "waveform", int16 raw samples of the level-normalized clip (RawNet2). Windows are
    window_frames STFT frames (hop_length samples each) long for every kind.
    """

    input_kind: str = "image"
    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    spectrogram: str = "mel"  # "mel" (log-mel) or "linear" (log-magnitude STFT)
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = None  # top of the mel or LFCC filters; None = Nyquist: vocoder artifacts live in the high band
    log_floor: float = 1e-5  # ln(clamp(magnitude, log_floor))
    trim_silence: bool = True  # the same energy rule for real and fake clips
    trim_db: float = 40.0  # edge frames quieter than (peak - trim_db) are cut
    min_duration: float = 0.25  # seconds of audio left after trimming, else the clip is "too short"
    input_mode: str = "window"  # "window": fixed windows, no time stretch; "resize": whole clip resized (seed)
    window_frames: int = 128  # window length in STFT frames (128 x 256 / 22050 = 1.49 s)
    window_hop_frames: int = 64  # hop between windows of one clip
    image_size: int = 224  # the model sees image_size x image_size
    # "image": each image min-max scaled on its own (the seed's); "frequency": each frequency row standardized over
    # the whole clip (removes the recording chain's spectral tilt and the level), then +-norm_clip std -> 0..255;
    # "dataset": only the clip's level removed (a fixed log scale keeps the tilt and the band limit), and the model
    # standardizes each frequency row with the mean and std of the training set (saved in the checkpoint)
    normalize: str = "image"
    norm_clip: float = 3.0
    # input_kind="lfcc": n_lfcc cepstral coefficients of n_filters linearly spaced triangular filters (fmin to fmax)
    # of the power spectrum, plus their deltas and double deltas (WaveFake's and ASVspoof's LFCC)
    n_lfcc: int = 20
    n_filters: int = 70
    # input_kind="lfcc": subtract from each cepstral coefficient its mean over the window (cepstral mean
    # normalization): a fixed recording chain's filter and the level are additive there, so what a microphone or a
    # demo page's processing did to a whole window stops telling sources apart (the deltas do not change)
    window_cmn: bool = False
    # input_kind="lfcc": subtract each STFT frame's mean before the window (Kaldi's remove_dc_offset), so a recording
    # chain's DC offset never reaches the model
    remove_dc: bool = False

    def __post_init__(self) -> None:
        choices = {"input_kind": INPUT_KINDS, "spectrogram": ("mel", "linear"), "input_mode": ("window", "resize"),
                   "normalize": ("image", "frequency", "dataset")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise SpoofscanError(f"FeatureConfig.{name}={getattr(self, name)!r}: use one of {allowed}")
        for name in ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "window_frames",
                     "window_hop_frames", "image_size", "n_lfcc", "n_filters"):
            if int(getattr(self, name)) <= 0:
                raise SpoofscanError(f"FeatureConfig.{name} must be positive, got {getattr(self, name)}")
        if self.norm_clip <= 0:
            raise SpoofscanError(f"FeatureConfig.norm_clip must be positive, got {self.norm_clip}")
        if self.win_length > self.n_fft:
            raise SpoofscanError(f"FeatureConfig.win_length ({self.win_length}) must be <= n_fft ({self.n_fft})")
        if self.input_kind != "image" and self.input_mode != "window":
            raise SpoofscanError(f"FeatureConfig.input_mode={self.input_mode!r} is for images; "
                                 f"input_kind={self.input_kind!r} is always cut into windows")
        for name in ("trim_silence", "window_cmn", "remove_dc"):  # a TOML string "false" would otherwise count as true
            if not isinstance(getattr(self, name), bool):
                raise SpoofscanError(f"FeatureConfig.{name}={getattr(self, name)!r}: use true or false")
        if not 0 <= self.fmin < self.sample_rate / 2:
            raise SpoofscanError(f"FeatureConfig.fmin={self.fmin} must be at least 0 and below Nyquist "
                                 f"({self.sample_rate / 2:g} Hz)")
        if self.fmax is not None and not self.fmin < self.fmax <= self.sample_rate / 2:
            raise SpoofscanError(f"FeatureConfig.fmax={self.fmax} must be above fmin ({self.fmin}) and at most "
                                 f"Nyquist ({self.sample_rate / 2:g} Hz); None means Nyquist")
        if self.remove_dc and self.input_kind != "lfcc":
            raise SpoofscanError(f"FeatureConfig.remove_dc applies to input_kind='lfcc', not {self.input_kind!r}: "
                                 "set remove_dc = false")
        if self.n_lfcc > self.n_filters:
            raise SpoofscanError(f"FeatureConfig.n_lfcc ({self.n_lfcc}) must be <= n_filters ({self.n_filters})")

    @property
    def n_bins(self) -> int:
        """Rows of the spectrogram."""
        return self.n_mels if self.spectrogram == "mel" else self.n_fft // 2 + 1

    @property
    def stored_shape(self) -> tuple[int, int]:
        """Shape of one stored window: image windows keep their native size, resized clips are square."""
        if self.input_kind == "lfcc":
            return (3 * self.n_lfcc, self.window_frames)
        if self.input_kind == "waveform":
            return (1, self.window_frames * self.hop_length)
        if self.input_mode == "window":
            return (self.n_bins, self.window_frames)
        return (self.image_size, self.image_size)

    @property
    def top_hz(self) -> float:
        """The highest frequency the features see: fmax for LFCC and mel input, else Nyquist."""
        uses_fmax = self.input_kind == "lfcc" or (self.input_kind == "image" and self.spectrogram == "mel")
        return self.fmax if uses_fmax and self.fmax is not None else self.sample_rate / 2

    @property
    def sees_level(self) -> bool:
        """Whether the model input keeps the clip's absolute level: only LFCC without window_cmn does (images are
        scaled per clip or per window, waveforms are brought to one RMS)."""
        return self.input_kind == "lfcc" and not self.window_cmn

    @property
    def stored_dtype(self) -> str:
        """numpy dtype of the stored windows."""
        return {"image": "uint8", "lfcc": "float16", "waveform": "int16"}[self.input_kind]


@dataclass
class TrainConfig:
    """The seed report's two-phase ResNet-18 recipe by default; every field can be set from TOML or flags."""

    model: str = "resnet18"  # a family of spoofscan.models.MODELS: resnet18, lcnn, rawnet2, lfcc-gmm
    epochs: int = 15
    batch_size: int = 32
    lr: float = 2e-4  # phase 1 (frozen backbone); phase 2 starts a fresh Adam at lr * finetune_lr_factor
    finetune_lr_factor: float = 0.1
    weight_decay: float = 1e-4
    unfreeze_epoch: int = 4  # 1-based: epochs before it train only the fc layer
    plateau_patience: int = 2
    plateau_factor: float = 0.5
    early_stopping: int = 0  # stop after this many epochs without val-loss improvement; 0 = off
    weights: str = "auto"  # "auto" (imagenet for resnet18, else none), "imagenet", "none" or a state dict path
    seed: int = 0
    # train-only augmentation, on the training device, with the seed's probabilities
    aug_crop_p: float = 0.5
    aug_flip_p: float = 0.5
    aug_jitter_p: float = 0.4
    aug_blur_p: float = 0.3
    aug_specaugment: bool = False  # opt-in time/frequency masking
    class_balance: bool = False  # weight the loss by inverse class frequency of the training windows
    label_smoothing: float = 0.0
    # speed
    amp: str = "auto"  # "auto" (bf16 on CUDA if supported else fp16), "bf16", "fp16", "off"; never on CPU
    channels_last: bool = True
    compile: bool = False
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    threads: int = 0  # CPU threads for torch; 0 = torch's default
    max_train_batches: int = 0  # cap batches per epoch (quick experiments); 0 = all
    # lfcc-gmm: two diagonal GMMs fitted by EM (no epochs, no optimizer) on at most gmm_frames random frames a class
    gmm_components: int = 128
    gmm_frames: int = 200_000
    gmm_iterations: int = 50
    # > 1: fit this many GMM pairs, each on its own random frames from its own k-means start, and average their frame
    # log-likelihoods: EM's local optima move a held-out EER by up to 4 points from one start to another
    gmm_fits: int = 1
    # > 0 (nats): bound each frame's log-likelihood ratio to +-this before a window's mean, so that frames neither GMM
    # explains (whose ratio runs to tens of nats) do not outvote the rest; 0 = unbounded (WaveFake's score)
    gmm_llr_clip: float = 0.0
    # > 0: fit and score only the frames within this many dB of their window's loudest frame (pauses left out)
    gmm_speech_db: float = 0.0
    # > 0 (Hz): fit the GMMs on wideband windows only (band edge at or above this) and score narrowband windows with
    # an offset that gives held-in narrowband real windows the score of held-in wideband real ones (val) at the
    # gmm_narrowband_quantile of each (0.5: their medians; 0.9: their upper tails, where a detection threshold sits)
    gmm_narrowband_hz: float = 0.0
    gmm_narrowband_quantile: float = 0.5
    # > 0 (Hz, below gmm_narrowband_hz): score narrowband windows with a second GMM pair instead, fitted on every
    # train window's cepstra of the band below this frequency (features.lfcc.low_band_view), plus the same offset
    gmm_narrowband_view_hz: float = 0.0
    # "source", "system" or "speaker": draw each class's frames equally from every value of that manifest column (a
    # value with fewer frames gives its share to the others), so that no one repository or speaker defines a class;
    # it changes only a class with more than gmm_frames frames (a smaller one is fitted on all of them); "" draws
    # them uniformly from all frames
    gmm_balance: str = ""
    # > 0: fit one background GMM by EM on both classes' frames and MAP-adapt each class's means from it with this
    # relevance factor (16 is the speaker-verification default); 0: each class's GMM fitted by EM on its own frames
    gmm_map_relevance: float = 0.0

    def __post_init__(self) -> None:
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise SpoofscanError(f"TrainConfig.amp={self.amp!r}: use auto, bf16, fp16 or off")
        from .models import MODELS

        if self.model not in MODELS:
            raise SpoofscanError(f"TrainConfig.model={self.model!r}: use one of {', '.join(MODELS)}")
        for name in ("epochs", "batch_size", "unfreeze_epoch", "gmm_components", "gmm_frames", "gmm_iterations",
                     "gmm_fits"):
            if int(getattr(self, name)) < 1:
                raise SpoofscanError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise SpoofscanError(f"TrainConfig.lr must be > 0, got {self.lr}")
        for name in ("threads", "early_stopping", "max_train_batches"):
            if int(getattr(self, name)) < 0:
                raise SpoofscanError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not self.gmm_speech_db >= 0:
            raise SpoofscanError(f"TrainConfig.gmm_speech_db must be >= 0 (0 = every frame), got {self.gmm_speech_db}")
        if not self.gmm_llr_clip >= 0:
            raise SpoofscanError(f"TrainConfig.gmm_llr_clip must be >= 0 (0 = unbounded), got {self.gmm_llr_clip}")
        if not self.gmm_narrowband_hz >= 0:
            raise SpoofscanError("TrainConfig.gmm_narrowband_hz must be >= 0 (0 = every window fitted alike), got "
                                 f"{self.gmm_narrowband_hz}")
        if not 0 < self.gmm_narrowband_quantile < 1:
            raise SpoofscanError(f"TrainConfig.gmm_narrowband_quantile={self.gmm_narrowband_quantile:g} must lie "
                                 "between 0 and 1 (0.5 aligns the two bands' median real scores)")
        if self.gmm_narrowband_quantile != 0.5 and not self.gmm_narrowband_hz:
            raise SpoofscanError(f"TrainConfig.gmm_narrowband_quantile={self.gmm_narrowband_quantile:g} sets the "
                                 "narrowband offset, which only gmm_narrowband_hz > 0 makes; set gmm_narrowband_hz "
                                 "too, or leave the quantile at 0.5")
        if self.gmm_narrowband_view_hz and not 0 < self.gmm_narrowband_view_hz < self.gmm_narrowband_hz:
            raise SpoofscanError(f"TrainConfig.gmm_narrowband_view_hz={self.gmm_narrowband_view_hz:g} must lie "
                                 f"between 0 and gmm_narrowband_hz ({self.gmm_narrowband_hz:g}), the band a narrowband "
                                 "window holds; set gmm_narrowband_hz too, or 0 to score narrowband windows with the "
                                 "wideband pair")
        if not self.gmm_map_relevance >= 0:
            raise SpoofscanError("TrainConfig.gmm_map_relevance must be >= 0 (0 = each class's GMM fitted on its own), "
                                 f"got {self.gmm_map_relevance}")
        if self.gmm_balance not in GMM_BALANCE_COLUMNS:
            raise SpoofscanError(f"TrainConfig.gmm_balance={self.gmm_balance!r}: use source, system, speaker or \"\" "
                                 "(no balancing)")
        if not 0 <= self.label_smoothing < 1:
            raise SpoofscanError(f"TrainConfig.label_smoothing must be in [0, 1), got {self.label_smoothing}")


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_dict(cls: type, values: dict[str, Any], *, source: str = "config") -> Any:
    """Build a config dataclass from a dict; unknown keys are an error, missing keys take defaults."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SpoofscanError(f"{source}: unknown {cls.__name__} field(s) {unknown}; known fields: {sorted(known)}")
    for f in dataclasses.fields(cls):  # a TOML string or boolean where a number goes: one clear line, not a TypeError
        value = values.get(f.name, f.default)
        if type(f.default) in (int, float) and isinstance(value, (bool, str)):
            raise SpoofscanError(f"{source}: {cls.__name__}.{f.name}={value!r}: use a number, e.g. {f.default}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise SpoofscanError(f"{source}: {exc}") from exc


def load_toml(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a TOML file with optional [features] and [train] tables."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SpoofscanError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpoofscanError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"features", "train"})
    if unknown:
        raise SpoofscanError(f"{path}: unknown table(s) {unknown}; use [features] and [train]")
    return data


def check_same(expected: Any, found: dict[str, Any], *, what: str, fix: str) -> None:
    """Raise a clear error when a saved config differs from the one asked for.

    A field missing from the saved config (written before the field existed) counts as its default.
    """
    defaults = to_dict(type(expected)())
    saved = {**defaults, **found}
    diffs = [f"{k}: saved {saved.get(k)!r} vs asked {v!r}" for k, v in to_dict(expected).items() if saved.get(k) != v]
    if diffs:
        raise SpoofscanError(f"{what} was made with another {type(expected).__name__} ({'; '.join(diffs)}); {fix}")


def with_overrides(config: Any, overrides: dict[str, Any]) -> Any:
    """A copy of config with the non-None overrides applied."""
    values = {k: v for k, v in overrides.items() if v is not None}
    return from_dict(type(config), {**to_dict(config), **values}, source="command-line options")
