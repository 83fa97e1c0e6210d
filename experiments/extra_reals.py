"""Extra real speech for spoofscan-base's training corpus: wideband recordings from other chains and speakers that
install offline (Debian packages), a seeded sample per folder (a language, a voice), appended to a dataset's clips
in one manifest for `spoofscan pair` (which then makes their paired fakes too).

  python experiments/extra_reals.py public-demos-train/MANIFEST.csv combined.csv --source klettres
  python experiments/extra_reals.py ... --source tuxpaint --join tuxpaint   (its words joined into ~6 s clips)
  spoofscan pair combined.csv --out paired ...
  spoofscan loo paired/manifest.csv --by source --always-train KDE/klettres-data ...   (trained on, never scored)

Sources: klettres (KDE's letters and syllables read by native speakers of 24 languages, 44.1 kHz Vorbis; apt-get
install klettres-data), hedgewars (the game's 13 voice packs spoken by different actors, the processed Robot voice
left out, 44.1-48 kHz Vorbis; apt-get install hedgewars-data), fillets (Fish Fillets NG's dialogues dubbed by
Czech, Dutch and English voice actors, mostly 22.05 kHz Vorbis at 40-67 kbit/s; apt-get install fillets-ng-data
fillets-ng-data-cs fillets-ng-data-nl), tuxpaint (Tux Paint's stamp descriptions: each stamp's name read by
volunteers in 12 languages, 44.1 kHz Vorbis; apt-get install tuxpaint-stamps-default) and ktuberling (KTuberling's
object names read by its translators in 12 languages, 22.05-44.1 kHz Vorbis; apt-get install ktuberling-data).
spoofscan-base v9 and v10 use klettres and hedgewars, v11 tuxpaint too, its words joined into utterance-length clips
(--join tuxpaint): as single words they made a real clip's length a cue (the shortcut audit as the model hears it
0.605 against v10's 0.597, means of 10 fold assignments); joined 0.596, and every leave-sources-out fold better than
v10. v12 (experiments/base.sh) joins all three sources' words (--join klettres --join hedgewars --join tuxpaint):
audit 0.581, every leave-sources-out fold better than v11. Adding ktuberling to v12's corpus (WORK c16: +1.8 points
of leave-sources-out EER, the demos 11.0 % against 6.9 %) or fillets to v9's (variant.sh's v9f: +0.9 points; with
bitrate-matched fakes, WORK b9fm: +2.1 points) did not help (experiments/FAMILIES.md). The dataset's own clips come
first and keep their order, so the names `pair` gives their fakes do not change.
"""
from __future__ import annotations

import argparse
import io
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from spoofscan.errors import SpoofscanError
from spoofscan.io import atomic_write_bytes
from spoofscan.layouts import REAL_SYSTEM, Item, load_items
from spoofscan.splits import write_manifest


@dataclass(frozen=True)
class Source:
    folder: str
    name: str  # the source name in the manifest
    install: str
    unit: int = 0  # which part of a file's path under folder names its sampling unit (a language, a voice): 0 the
    # first folder, -2 the folder holding the file
    per_unit: int = 30  # clips sampled from each unit unless --per-folder says otherwise
    excluded: tuple[str, ...] = ()  # units left out
    pattern: str = "*.ogg"  # the files under folder that are speech
    unit_in_name: bool = False  # the unit is the file name's last "_" part instead (Tux Paint's frog_desc_fr.ogg)


SOURCES = {
    "klettres": Source("/usr/share/klettres", "KDE/klettres-data", "apt-get install klettres-data"),
    "hedgewars": Source("/usr/share/games/hedgewars/Data/Sounds/voices", "hedgewars/hedgewars-data",
                        "apt-get install hedgewars-data", excluded=("Robot",)),
    # sound/<level>/<language>/<line>.ogg and sound/share/<kind>/<language>/<joke>.ogg: sampled per language; the
    # files right under sound/share/ are effects, not speech
    "fillets": Source("/usr/share/games/fillets-ng/sound", "fillets-ng/fillets-ng-data",
                      "apt-get install fillets-ng-data fillets-ng-data-cs fillets-ng-data-nl", unit=-2, per_unit=100,
                      excluded=("share",)),
    # stamps/<theme>/.../<stamp>_desc_<language>.ogg: each stamp's name read by volunteers, sampled per language
    "tuxpaint": Source("/usr/share/tuxpaint/stamps", "tuxpaint/tuxpaint-stamps-default",
                       "apt-get install tuxpaint-stamps-default", pattern="*_desc_*.ogg", unit_in_name=True),
    # sounds/<language>/<word>.ogg: KTuberling's object names read by translators; the three other spellings of
    # Serbian hold the same 15 files as sr
    "ktuberling": Source("/usr/share/ktuberling/sounds", "KDE/ktuberling-data", "apt-get install ktuberling-data",
                         per_unit=60, excluded=("sr@latin", "sr@ijekavian", "sr@ijekavianlatin")),
}


def usable(path: Path, min_seconds: float) -> bool:
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise SpoofscanError(f"{path}: unreadable ({exc}); reinstall its package") from None
    return info.samplerate <= 48000 and info.duration >= min_seconds


def extra_items(name: str, *, per_folder: int | None = None, min_seconds: float = 0.4, seed: int = 0) -> list[Item]:
    """Up to per_folder real clips (seeded; default: the source's per_unit) of each sampling unit of source name
    (a language, a voice), as manifest items."""
    source = SOURCES[name]
    per_folder = source.per_unit if per_folder is None else per_folder
    if per_folder < 1:
        raise SpoofscanError(f"--per-folder {per_folder}: use 1 or more")
    root = Path(source.folder)
    if not root.is_dir():
        raise SpoofscanError(f"{name}: {source.folder} not found; {source.install}")
    units: dict[str, list[Path]] = {}
    for path in sorted(root.rglob(source.pattern)):
        parts = path.relative_to(root).parts
        # one Tux Paint file, inukshuk-photo_desc_da.ogg.ogg, so makes a unit of its own ("da.ogg"): kept, as it is
        # Danish speech all the same and FAMILIES.md's Tux Paint corpus is this sample
        unit = path.stem.rsplit("_", 1)[-1] if source.unit_in_name else parts[source.unit]
        if len(parts) > 1 and unit not in source.excluded:  # files in a sub-folder
            units.setdefault(unit, []).append(path)
    rng = random.Random(seed)
    items = []
    for unit in sorted(units):
        files = [p for p in units[unit] if usable(p, min_seconds)]
        for path in sorted(rng.sample(files, min(per_folder, len(files)))):
            group = f"{name}:{path.relative_to(root).with_suffix('').as_posix()}"
            items.append(Item(str(path), "real", REAL_SYSTEM, group, f"{name}_{unit}", "", source.name))
    return items


def room_tone(clip: np.ndarray, rate: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """seconds of the clip's own background (frames x channels): its 20 ms windows within 3 dB of the quietest one
    (a tightly trimmed word has few), picked at random and overlap-added with Hann windows at half overlap (which
    sum to one), so that a pause sounds like that recording's background and never like a fragment of the word."""
    size = int(0.02 * rate)
    hop = size // 2
    starts = np.arange(0, max(len(clip) - size, 0) + 1, hop)
    energy = np.array([np.mean(clip[s:s + size] ** 2) for s in starts])
    quiet = starts[energy <= 2 * energy.min()]
    length = int(seconds * rate)
    tone = np.zeros((length + size, clip.shape[1]))
    window = np.hanning(size + 1)[:size, None]
    for start in range(0, length, hop):
        piece = clip[rng.choice(quiet):][:size]
        tone[start:start + len(piece)] += piece * window[:len(piece)]
    return tone[:length]


def join_items(items: list[Item], folder: Path, *, seconds: float = 6.0, seed: int = 0) -> list[Item]:
    """Short clips (single words) joined into utterance-length ones: each speaker's clips of one sample rate and
    channel count, in order, run together until a clip lasts seconds, with pauses of 0.2-0.5 s of the previous
    word's own background (room_tone) between them; written to folder as Ogg Vorbis (the packages' format), one
    item each in a group of its own. Keeps short words from making a real clip's duration a cue of its own."""
    if not seconds > 0:
        raise SpoofscanError(f"--join-seconds {seconds}: use a positive length in seconds, e.g. 6")
    rng = np.random.default_rng(seed)
    runs: dict[tuple[str, int, int], list[Item]] = {}
    for item in items:
        info = sf.info(item.path)
        runs.setdefault((item.speaker, info.samplerate, info.channels), []).append(item)
    joined = []
    for (speaker, rate, _), words in runs.items():
        parts: list[np.ndarray] = []
        for n, word in enumerate(words):
            clip, _ = sf.read(word.path, dtype="float64", always_2d=True)
            if parts:
                parts.append(room_tone(parts[-1], rate, rng.uniform(0.2, 0.5), rng))
            parts.append(clip)
            if sum(len(p) for p in parts) >= seconds * rate or n == len(words) - 1:
                name = f"{speaker}_{rate}_{len(joined):03d}"
                buffer = io.BytesIO()
                sf.write(buffer, np.concatenate(parts), rate, format="OGG", subtype="VORBIS")
                path = atomic_write_bytes(folder / f"{name}.ogg", buffer.getvalue()).resolve()
                group = f"{word.group.split(':')[0]}:joined/{name}"
                joined.append(replace(word, path=str(path), group=group))
                parts = []
    return joined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="the dataset (a CSV manifest or folder) whose clips come first")
    parser.add_argument("out", help="the manifest to write")
    parser.add_argument("--source", action="append", choices=sorted(SOURCES), required=True,
                        help="an extra source (repeatable, in the order given)")
    parser.add_argument("--per-folder", type=int, default=None,
                        help="clips from each language or voice (default: 30 each; ktuberling: 60; fillets: 100)")
    parser.add_argument("--join", action="append", choices=sorted(SOURCES), default=[],
                        help="a source whose clips are joined into utterance-length ones (join_items), written to "
                             "the folder 'joined' next to out (repeatable)")
    parser.add_argument("--join-seconds", type=float, default=6.0,
                        help="how long a joined clip gets (default: 6 s, about public-demos-train's median real clip)")
    args = parser.parse_args()
    if set(args.join) - set(args.source):
        parser.error(f"--join {' '.join(sorted(set(args.join) - set(args.source)))}: add it as a --source too")
    try:
        items = [Item(str(Path(it.path).resolve()), it.label, it.system, it.group, it.speaker, "", it.source)
                 for it in load_items(args.data)]
        extra = []
        for name in args.source:
            sampled = extra_items(name, per_folder=args.per_folder)
            if name in args.join:
                sampled = join_items(sampled, Path(args.out).parent / "joined" / name, seconds=args.join_seconds)
            extra += sampled
    except SpoofscanError as exc:
        raise SystemExit(f"extra_reals.py: {exc}") from None
    write_manifest(Path(args.out), items + extra)
    print(f"wrote {args.out}: {len(items)} clips of {args.data}, {len(extra)} extra real clips")


if __name__ == "__main__":
    main()
