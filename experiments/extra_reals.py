"""Extra real speech for spoofscan-base's training corpus: wideband recordings from other chains and speakers that
install offline (Debian packages), a seeded sample per folder (a language, a voice), appended to a dataset's clips
in one manifest for `spoofscan pair` (which then makes their paired fakes too).

  python experiments/extra_reals.py public-demos-train/MANIFEST.csv combined.csv --source klettres
  spoofscan pair combined.csv --out paired ...
  spoofscan loo paired/manifest.csv --by source --always-train KDE/klettres-data ...   (trained on, never scored)

Sources: klettres (KDE's letters and syllables read by native speakers of 24 languages, 44.1 kHz Vorbis; apt-get
install klettres-data) and hedgewars (the game's 13 voice packs spoken by different actors, the processed Robot
voice left out, 44.1-48 kHz Vorbis; apt-get install hedgewars-data). The dataset's own clips come first and keep
their order, so the names `pair` gives their fakes do not change.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import soundfile as sf

from spoofscan.errors import SpoofscanError
from spoofscan.layouts import REAL_SYSTEM, Item, load_items
from spoofscan.splits import write_manifest

# name: (folder, source name in the manifest, how to install, sub-folders left out)
SOURCES = {
    "klettres": ("/usr/share/klettres", "KDE/klettres-data", "apt-get install klettres-data", ()),
    "hedgewars": ("/usr/share/games/hedgewars/Data/Sounds/voices", "hedgewars/hedgewars-data",
                  "apt-get install hedgewars-data", ("Robot",)),
}


def usable(path: Path, min_seconds: float) -> bool:
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise SpoofscanError(f"{path}: unreadable ({exc}); reinstall its package") from None
    return info.samplerate <= 48000 and info.duration >= min_seconds


def extra_items(name: str, *, per_folder: int = 30, min_seconds: float = 0.4, seed: int = 0) -> list[Item]:
    """Up to per_folder real clips (seeded) of each sub-folder of source name, as manifest items."""
    if per_folder < 1:
        raise SpoofscanError(f"--per-folder {per_folder}: use 1 or more")
    folder, source, install, excluded = SOURCES[name]
    root = Path(folder)
    if not root.is_dir():
        raise SpoofscanError(f"{name}: {folder} not found; {install}")
    rng = random.Random(seed)
    items = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in excluded):
        files = [p for p in sorted(sub.rglob("*.ogg")) if usable(p, min_seconds)]
        if not files:
            continue
        for path in sorted(rng.sample(files, min(per_folder, len(files)))):
            group = f"{name}:{sub.name}/{path.relative_to(sub).with_suffix('').as_posix()}"
            items.append(Item(str(path), "real", REAL_SYSTEM, group, f"{name}_{sub.name}", "", source))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="the dataset (a CSV manifest or folder) whose clips come first")
    parser.add_argument("out", help="the manifest to write")
    parser.add_argument("--source", action="append", choices=sorted(SOURCES), required=True,
                        help="an extra source (repeatable, in the order given)")
    parser.add_argument("--per-folder", type=int, default=30, help="clips from each language or voice (default 30)")
    args = parser.parse_args()
    try:
        items = [Item(str(Path(it.path).resolve()), it.label, it.system, it.group, it.speaker, "", it.source)
                 for it in load_items(args.data)]
        extra = [it for name in args.source for it in extra_items(name, per_folder=args.per_folder)]
    except SpoofscanError as exc:
        raise SystemExit(f"extra_reals.py: {exc}") from None
    write_manifest(Path(args.out), items + extra)
    print(f"wrote {args.out}: {len(items)} clips of {args.data}, {len(extra)} extra real clips")


if __name__ == "__main__":
    main()
