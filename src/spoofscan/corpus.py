"""The offline training corpus: every real speech source that installs offline, crossed with every fake maker.

Each source found on this machine is re-synthesized by `spoofscan.synth` into OUT/<source>/ with its own band
limit and format hygiene; OUT/manifest.csv joins them, with the source, speaker and system of every clip, so that
evaluation can hold any of them out. Utterance groups are prefixed with the source's recordings: two sources share a
group only where they are the same recordings in two forms (Asterisk's 8 kHz wav and 16 kHz G.722 prompts), so
those always land in one split.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .audio import SOUNDFILE_EXTENSIONS
from .errors import SpoofscanError
from .io import read_csv, write_csv
from .layouts import ITEM_FIELDS
from .synth import VOCODERS, check_systems, synth


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
    extensions: tuple[str, ...] = SOUNDFILE_EXTENSIONS + (".g722",)  # the file types to read
    max_clips: int = 0  # 0 = all
    recordings: str = ""  # sources made of the same recordings share this name (and so their utterance groups)


ASTERISK_EN = "/usr/share/asterisk/sounds/en_US_f_Allison"
ASTERISK_EN_TEXT = "/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"


def _asterisk(language: str, folder: str, speaker: str, name: str = "", transcripts: str = "",
              max_clips: int = 0) -> Source:
    """Asterisk's voice prompts in their wideband form: 16 kHz G.722 (7 kHz band), the fakes get G.722 too."""
    return Source(name or f"asterisk_{language}", f"/usr/share/asterisk/sounds/{folder}", speaker,
                  f"apt-get install asterisk-core-sounds-{language}-g722 (professional voice prompts, 16 kHz G.722, "
                  "CC-BY-SA-3.0)", transcripts=transcripts, fake_codec="g722", extensions=(".g722",),
                  max_clips=max_clips, recordings="asterisk" if language == "en" else "")


# The English prompts come twice: 8 kHz wav (what spoofscan-base was trained on) and 16 kHz G.722 (the same
# recordings, so the same utterance groups); their transcripts add Piper TTS fakes. The other languages add speakers
# and phonetics, 120 prompts each, so that synthesizing a corpus stays within about an hour on a laptop CPU.
SOURCES = (
    Source("asterisk", ASTERISK_EN, "allison", "apt-get install asterisk-core-sounds-en-wav (8 kHz, one professional "
           "speaker, CC-BY-SA-3.0)", transcripts=ASTERISK_EN_TEXT, extensions=(".wav",)),
    _asterisk("en", "en_US_f_Allison", "allison", name="asterisk_wb", transcripts=ASTERISK_EN_TEXT),
    _asterisk("fr", "fr_CA_f_June", "june", max_clips=120),
    _asterisk("es", "es_MX_f_Allison", "allison", max_clips=120),
    _asterisk("it", "it_IT_m_Carlo", "carlo", max_clips=120),
    _asterisk("ru", "ru_RU_f_IvrvoiceRU", "ivrvoice_ru", max_clips=120),
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


def pick_sources(names: list[str] | None) -> tuple[Source, ...]:
    """The sources called names (all of SOURCES when names is empty), or an error listing the known ones."""
    known = {source.name: source for source in SOURCES}
    unknown = [name for name in names or () if name not in known]
    if unknown:
        raise SpoofscanError(f"--source {', '.join(unknown)}: unknown; use {', '.join(known)}")
    return tuple(known[name] for name in names) if names else SOURCES


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
    if "piper" in systems:
        raise SpoofscanError("--system piper: Piper TTS is added with --tts where a source has transcripts")
    check_systems(systems)
    out = Path(out)
    rows, missing = [], []
    for source in sources:
        folder = Path(source.folder)
        if not folder.is_dir() or not any(p.suffix.lower() in source.extensions for p in folder.rglob("*")):
            kinds = "/".join(e[1:] for e in source.extensions)
            missing.append(f"{source.name}: no {kinds} files in {source.folder}; {source.install}")
            continue
        use_tts = tts and source.transcripts and Path(source.transcripts).is_file()
        caps = [c for c in (max_clips, source.max_clips) if c]
        manifest = synth(source.folder, out / source.name, systems=systems + (("piper",) if use_tts else ()),
                         max_clips=min(caps, default=0), max_seconds=max_seconds, workers=workers,
                         speaker=source.speaker, source=source.name, fake_codec=source.fake_codec,
                         transcripts=source.transcripts if use_tts else None, exclude=source.exclude,
                         extensions=source.extensions, progress=progress)
        for row in read_csv(manifest):
            rows.append({**row, "path": f"{source.name}/{row['path']}",
                         "group": f"{source.recordings or source.name}/{row['group']}"})
    if not rows:
        raise SpoofscanError("no real speech source found: " + " | ".join(missing))
    return write_csv(out / "manifest.csv", rows, ITEM_FIELDS), missing
