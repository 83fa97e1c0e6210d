"""The offline training corpus: every real speech source that installs offline, crossed with every fake maker.

Each source found on this machine is re-synthesized by `spoofscan.synth` into OUT/<source>/ with its own band
limit and format hygiene; OUT/manifest.csv joins them, with the source, speaker and system of every clip, so that
evaluation can hold any of them out. Utterance groups are prefixed with the source, so two sources never share one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import SpoofscanError
from .io import read_csv, write_csv
from .layouts import ITEM_FIELDS
from .synth import VOCODERS, synth


@dataclass(frozen=True)
class Source:
    """A folder of real human speech and how to use it."""

    name: str
    folder: str
    speaker: str
    install: str  # how to get it, shown when it is missing
    transcripts: str = ""  # enables the piper TTS system for this source
    exclude: tuple[str, ...] = ()  # files in the folder that are not (unprocessed) speech
    fake_codec: str = ""  # the codec the real recordings went through
    max_clips: int = 0  # 0 = all


SOURCES = (
    Source("asterisk", "/usr/share/asterisk/sounds/en_US_f_Allison", "allison",
           "apt-get install asterisk-core-sounds-en-wav (8 kHz, one professional speaker, CC-BY-SA-3.0)",
           transcripts="/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"),
    Source("klettres", "/usr/share/klettres", "klettres",
           "apt-get install klettres-data (letters and syllables in 20+ languages, 44.1 kHz Vorbis, GPL)",
           fake_codec="ogg_vorbis"),
    Source("codec2", "/usr/share/codec2/wav", "codec2",
           "apt-get install codec2-examples (several speakers, 8/16 kHz)",
           # modem signals, and speech already decoded by a 2400 bit/s vocoder (that is, fake)
           exclude=("david4.wav", "vk2tpm_004.wav", "f2400.wav", "m2400.wav")),
    Source("alsa", "/usr/share/sounds/alsa", "alsa", "apt-get install alsa-utils (spoken channel names, 48 kHz)",
           exclude=("Noise.wav",)),
)


def build_corpus(out: str | Path, *, sources: tuple[Source, ...] = SOURCES, systems: tuple[str, ...] = VOCODERS,
                 tts: bool = True, max_clips: int = 0, max_seconds: float = 6.0, workers: int = 0,
                 progress: bool = True) -> tuple[Path, list[str]]:
    """Synthesize every available source into out/<source>/ and join them in out/manifest.csv.

    max_clips > 0 caps the clips per source (a seeded sample); tts adds the piper system where a source has
    transcripts. Returns the manifest and one line per source that was not found (with how to install it).
    Rerunning continues where a stopped run left off.
    """
    for name, value in (("--max-clips", max_clips), ("--max-seconds", max_seconds), ("--workers", workers)):
        if value < 0:
            raise SpoofscanError(f"{name} {value}: use 0 (no limit / all cores) or a positive number")
    out = Path(out)
    rows, missing = [], []
    for source in sources:
        if not Path(source.folder).is_dir():
            missing.append(f"{source.name}: {source.folder} not found; {source.install}")
            continue
        use_tts = tts and source.transcripts and Path(source.transcripts).is_file()
        caps = [c for c in (max_clips, source.max_clips) if c]
        manifest = synth(source.folder, out / source.name, systems=systems + (("piper",) if use_tts else ()),
                         max_clips=min(caps, default=0), max_seconds=max_seconds, workers=workers,
                         speaker=source.speaker, source=source.name, fake_codec=source.fake_codec,
                         transcripts=source.transcripts if use_tts else None, exclude=source.exclude,
                         progress=progress)
        for row in read_csv(manifest):
            rows.append({**row, "path": f"{source.name}/{row['path']}", "group": f"{source.name}/{row['group']}"})
    if not rows:
        raise SpoofscanError("no real speech source found: " + " | ".join(missing))
    return write_csv(out / "manifest.csv", rows, ITEM_FIELDS), missing
