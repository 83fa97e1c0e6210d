"""Dataset layouts: turn a folder (or a CSV manifest) into a list of Items.

Every layout yields the same Item fields, so splitting, auditing and packing never care where data came from.
`group` is the utterance group: a real clip and all its vocoded copies share it, and a split keeps them together.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .audio import AUDIO_EXTENSIONS
from .errors import SpoofscanError
from .io import read_csv

LABELS = ("real", "fake")
SPLITS = ("train", "val", "test")
REAL_SYSTEM = "ground_truth"


@dataclass
class Item:
    """One clip: where it is, what it is, and which utterance group it belongs to."""

    path: str
    label: str  # "real" or "fake"
    system: str  # vocoder / attack name, or "ground_truth" for real clips
    group: str  # utterance group id
    speaker: str = "unknown"
    split: str = ""  # "train", "val", "test", or "" when the layout defines none
    source: str = "unknown"  # where the recordings come from (corpus / recording chain), for per-source results


ITEM_FIELDS = [f.name for f in fields(Item)]


def item_rows(items: list[Item]) -> list[dict[str, str]]:
    return [asdict(item) for item in items]


def item_from_row(row: dict[str, str]) -> Item:
    """An Item from a manifest or store index row (missing optional fields take their defaults)."""
    return Item(**{k: row[k] for k in ITEM_FIELDS if k in row})


def utterance_of(stem: str) -> str:
    """'LJ001-0001_gen' -> 'LJ001-0001': vocoded copies are named after the utterance they re-synthesize."""
    return re.sub(r"_gen$", "", stem)


def _files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in extensions)


def _speaker_of(stem: str) -> str:
    if stem.startswith("LJ"):
        return "ljspeech"
    if stem.startswith("BASIC5000"):
        return "jsut"
    return "unknown"


# --- 1. the seed's CombinedDataset: {train,val,test}/mel/{real,fake}/*.npy -------------------------------------

def _is_combined(root: Path) -> bool:
    return any((root / split / "mel" / label).is_dir() for split in SPLITS for label in LABELS)


def _read_combined(root: Path) -> list[Item]:
    items = []
    for split in SPLITS:
        for label in LABELS:
            for path in _files(root / split / "mel" / label, (".npy",)):
                group = utterance_of(path.stem)
                system = REAL_SYSTEM if label == "real" else "unknown_vocoder"
                speaker = _speaker_of(path.stem)
                items.append(Item(str(path), label, system, group, speaker, split, source=speaker))
    return items


# --- 2. LJSpeech + WaveFake: wavs/LJ*.wav and <system>/LJ*_gen.wav -------------------------------------------

def _wavefake_dirs(root: Path) -> tuple[Path | None, list[Path]]:
    candidates = [root, *[p for p in root.iterdir() if p.is_dir()]]
    wavs = next((c / "wavs" for c in candidates if (c / "wavs").is_dir() and any((c / "wavs").glob("LJ*.wav"))), None)
    systems = []
    for c in candidates:
        for sub in sorted(p for p in c.iterdir() if p.is_dir()):
            if sub.name != "wavs" and next(sub.glob("*_gen.wav"), None) is not None:
                systems.append(sub)
    return wavs, systems


def _is_wavefake(root: Path) -> bool:
    wavs, systems = _wavefake_dirs(root)
    return wavs is not None and bool(systems)


def _read_wavefake(root: Path) -> list[Item]:
    wavs, systems = _wavefake_dirs(root)
    items = [Item(str(p), "real", REAL_SYSTEM, p.stem, "ljspeech", source="ljspeech") for p in sorted(wavs.glob("LJ*.wav"))]
    for folder in systems:
        system = folder.name
        for p in sorted(folder.glob("*_gen.wav")):
            stem = utterance_of(p.stem)
            items.append(Item(str(p), "fake", system, stem, _speaker_of(stem), source="ljspeech"))
    return items


# --- 3. generic folders: real/** and fake/<system>/** ------------------------------------------------------

def _is_generic(root: Path) -> bool:
    return (root / "real").is_dir() and (root / "fake").is_dir()


def _read_generic(root: Path) -> list[Item]:
    items = [Item(str(p), "real", REAL_SYSTEM, utterance_of(p.stem)) for p in _files(root / "real", AUDIO_EXTENSIONS)]
    for folder in sorted(p for p in (root / "fake").iterdir() if p.is_dir()):
        items += [Item(str(p), "fake", folder.name, utterance_of(p.stem)) for p in _files(folder, AUDIO_EXTENSIONS)]
    loose = _files(root / "fake", AUDIO_EXTENSIONS)
    items += [Item(str(p), "fake", "unknown", utterance_of(p.stem)) for p in loose if p.parent == root / "fake"]
    return items


# --- 4. ASVspoof 2019 LA: protocol files + flac folders -----------------------------------------------------

_ASV_SPLITS = {"train": "train", "dev": "val", "eval": "test"}


def _asv_protocols(root: Path) -> list[Path]:
    return sorted(root.rglob("ASVspoof2019.LA.cm.*.txt"))


def _is_asvspoof(root: Path) -> bool:
    return bool(_asv_protocols(root))


def _read_asvspoof(root: Path) -> list[Item]:
    items = []
    for protocol in _asv_protocols(root):
        part = protocol.name.split(".")[3]  # ASVspoof2019.LA.cm.<train|dev|eval>.<trn|trl>.txt
        split = _ASV_SPLITS.get(part, "")
        audio_dir = next(root.rglob(f"ASVspoof2019_LA_{part}/flac"), None)
        if audio_dir is None:
            raise SpoofscanError(f"{protocol}: no ASVspoof2019_LA_{part}/flac folder under {root}; unpack the audio")
        for n, line in enumerate(protocol.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 5 or parts[4] not in ("bonafide", "spoof"):
                raise SpoofscanError(f"{protocol}:{n}: expected 'SPEAKER FILE - ATTACK bonafide|spoof', got {line!r}")
            speaker, file_id, _, attack, key = parts
            label = "real" if key == "bonafide" else "fake"
            system = REAL_SYSTEM if label == "real" else attack
            items.append(Item(str(audio_dir / f"{file_id}.flac"), label, system, file_id, speaker, split,
                              source="asvspoof2019"))
    return items


# --- 5. In-the-Wild: meta.csv with file,speaker,label ------------------------------------------------------

def _is_in_the_wild(root: Path) -> bool:
    return (root / "meta.csv").is_file()


def _read_in_the_wild(root: Path) -> list[Item]:
    rows = read_csv(root / "meta.csv")
    if rows and not {"file", "speaker", "label"} <= set(rows[0]):
        raise SpoofscanError(f"{root / 'meta.csv'}: expected columns file,speaker,label, got {list(rows[0])}")
    items = []
    for row in rows:
        if row["label"] not in ("bona-fide", "spoof"):
            raise SpoofscanError(f"{root / 'meta.csv'}: label {row['label']!r} for {row['file']}: use bona-fide or spoof")
        label = "real" if row["label"] == "bona-fide" else "fake"
        system = REAL_SYSTEM if label == "real" else "in_the_wild"
        items.append(Item(str(root / row["file"]), label, system, Path(row["file"]).stem, row["speaker"],
                          source="in_the_wild"))
    return items


# --- 6. a CSV manifest: path,label[,system,group,speaker,split] ------------------------------------------------

def read_manifest(path: Path) -> list[Item]:
    """Read a CSV manifest; relative paths are relative to the manifest's folder."""
    rows = read_csv(path)
    if not rows:
        raise SpoofscanError(f"{path}: manifest has no rows")
    columns = set(rows[0])
    if not {"path", "label"} <= columns:
        raise SpoofscanError(f"{path}: a manifest needs the columns path,label "
                             "(optional: system, group or utterance or utterance_id, speaker, split, source)")
    alias = {"utterance": "group", "utterance_id": "group", "speaker_id": "speaker"}
    items = []
    for n, row in enumerate(rows, 2):
        row = {alias.get(k, k): (v or "").strip() for k, v in row.items() if k}
        if row["label"] not in LABELS:
            raise SpoofscanError(f"{path}:{n}: label {row['label']!r}: use real or fake")
        if row.get("split", "") not in ("", *SPLITS):
            raise SpoofscanError(f"{path}:{n}: split {row['split']!r}: use train, val, test or leave it empty")
        clip = Path(row["path"])
        clip = clip if clip.is_absolute() else path.parent / clip
        system = row.get("system") or (REAL_SYSTEM if row["label"] == "real" else "unknown")
        items.append(Item(str(clip), row["label"], system, row.get("group") or utterance_of(clip.stem),
                          row.get("speaker") or "unknown", row.get("split", ""), row.get("source") or "unknown"))
    return items


LAYOUTS: dict[str, tuple[Callable[[Path], bool], Callable[[Path], list[Item]], str]] = {
    "combined": (_is_combined, _read_combined, "{train,val,test}/mel/{real,fake}/*.npy (the seed's CombinedDataset)"),
    "wavefake": (_is_wavefake, _read_wavefake, "wavs/LJ*.wav beside <vocoder>/LJ*_gen.wav folders (LJSpeech + WaveFake)"),
    "asvspoof2019": (_is_asvspoof, _read_asvspoof, "ASVspoof2019.LA.cm.*.txt protocols + ASVspoof2019_LA_*/flac"),
    "in_the_wild": (_is_in_the_wild, _read_in_the_wild, "meta.csv with file,speaker,label (In-the-Wild)"),
    "generic": (_is_generic, _read_generic, "real/** and fake/<system>/** audio folders"),
}


def detect_layout(root: Path) -> str:
    """The name of the first layout whose marker files exist under root."""
    for name, (matches, _, _) in LAYOUTS.items():
        if matches(root):
            return name
    looked_for = "; ".join(f"{name}: {desc}" for name, (_, _, desc) in LAYOUTS.items())
    raise SpoofscanError(f"{root}: no known dataset layout found. Looked for {looked_for}; "
                         "or pass a CSV manifest (path,label[,system,group,speaker,split])")


def load_items(source: str | Path, *, layout: str | None = None) -> list[Item]:
    """Items of a dataset folder (layout auto-detected or named) or of a CSV manifest file."""
    source = Path(source)
    if not source.exists():
        raise SpoofscanError(f"{source}: no such file or folder")
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise SpoofscanError(f"{source}: expected a dataset folder or a .csv manifest")
        return read_manifest(source)
    if layout is not None and layout not in LAYOUTS:
        raise SpoofscanError(f"--layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    name = layout or detect_layout(source)
    items = LAYOUTS[name][1](source)
    if not items:
        raise SpoofscanError(f"{source}: the {name} layout matched but holds no clips")
    return items
