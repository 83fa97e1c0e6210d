"""The `spoofscan` command: one sub-command per pipeline step."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from .config import FeatureConfig, from_dict, load_toml, with_overrides
from .errors import SpoofscanError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Tell real speech from vocoded / synthesized speech. Scores are P(fake): higher = more fake.")
console = Console()

LayoutOpt = Annotated[Optional[str], typer.Option(help="Dataset layout: combined, wavefake, asvspoof2019, "
                                                       "in_the_wild, generic (default: auto-detect).")]


def _items(source: Path, layout: str | None):
    """Items of a dataset folder, a CSV manifest, or an existing store's index."""
    from .layouts import Item, load_items
    from .store import Store

    if source.is_dir() and (source / "header.json").is_file():
        return [Item(**{k: r[k] for k in ("path", "label", "system", "group", "speaker", "split")})
                for r in Store(source).index]
    return load_items(source, layout=layout)


def _counts_table(title: str, counts: dict[str, dict[str, int]]) -> Table:
    table = Table(title=title)
    for column in ("split", "real", "fake", "total", "fake share"):
        table.add_column(column, justify="right" if column != "split" else "left")
    for split, c in counts.items():
        total = c["real"] + c["fake"]
        table.add_row(split, str(c["real"]), str(c["fake"]), str(total), f"{c['fake'] / total:.1%}" if total else "-")
    return table


def feature_config_from(config: Path | None, overrides: dict) -> FeatureConfig:
    """FeatureConfig from defaults, then a TOML file's [features] table, then command-line flags."""
    base = FeatureConfig()
    if config is not None:
        base = from_dict(FeatureConfig, load_toml(config).get("features", {}), source=str(config))
    return with_overrides(base, overrides)


@app.command()
def split(
    data: Annotated[Path, typer.Argument(help="Dataset folder or CSV manifest.")],
    out: Annotated[Path, typer.Option(help="Where to write the split manifest (CSV).")] = Path("split.csv"),
    layout: LayoutOpt = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same split.")] = 0,
    val: Annotated[float, typer.Option(help="Fraction of utterance groups for validation.")] = 0.1,
    test: Annotated[float, typer.Option(help="Fraction of utterance groups for test.")] = 0.1,
    holdout_system: Annotated[Optional[list[str]], typer.Option(
        help="Put this system's clips only in test (leave-one-vocoder-out). Repeatable.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing manifest.")] = False,
) -> None:
    """Split by utterance group (a real clip and its vocoded copies stay together) into train/val/test."""
    from .splits import count_classes, grouped_split, write_manifest

    if out.exists() and not force:
        raise SpoofscanError(f"{out} already exists; pass --force to overwrite it or choose another --out")
    items = _items(data, layout)
    kept, dropped = grouped_split(items, fractions=(1 - val - test, val, test), seed=seed,
                                  holdout_systems=tuple(holdout_system or ()))
    write_manifest(out, kept)
    console.print(_counts_table(f"{len(kept)} clips in {len({it.group for it in items})} utterance groups",
                                count_classes(kept)))
    if dropped:
        console.print(f"{len(dropped)} clips of held-out systems had their utterance in train/val and were left out")
    console.print(f"wrote {out}")


@app.command()
def audit(
    source: Annotated[Path, typer.Argument(help="Dataset folder with splits, split manifest (CSV) or store.")],
    layout: LayoutOpt = None,
    fix: Annotated[Optional[Path], typer.Option(
        help="Write a leakage-free manifest here (priority train > val > test). Your files are never touched.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the findings as JSON.")] = None,
    workers: Annotated[int, typer.Option(help="Processes for content hashing (0 = all cores).")] = 0,
) -> None:
    """Check splits for leakage by file name, content hash and utterance group. Exit code 1 if leaky."""
    from .io import write_json
    from .splits import audit as run_audit
    from .splits import fix_leakage, hash_items, write_manifest

    split_items = [it for it in _items(source, layout) if it.split]
    if not split_items:
        raise SpoofscanError(f"{source}: no clip has a split; run `spoofscan split {source}` first")
    hashes = hash_items(split_items, workers=workers)
    report = run_audit(split_items, hashes=hashes)
    _print_audit(report)
    if json_out:
        write_json(json_out, {**report.summary(), "name_overlaps": report.name_overlaps,
                              "content_overlaps": report.content_overlaps, "group_overlaps": report.group_overlaps,
                              "unreadable": report.unreadable})
    if fix is not None:
        kept, dropped = fix_leakage(split_items, hashes)
        write_manifest(fix, kept)
        kept_hashes = [h for it, h in zip(split_items, hashes) if it in kept]
        fixed = run_audit(kept, hashes=kept_hashes)
        console.print(f"--fix: dropped {len(dropped)} clips from later splits; wrote {fix}")
        console.print(_counts_table("after --fix", fixed.counts))
        report = fixed
    if report.leaky:
        console.print("[bold red]LEAKAGE FOUND[/]")
        raise typer.Exit(1)
    console.print("[bold green]no leakage[/]: no file name, content or utterance group is shared between splits")


def _print_audit(report) -> None:
    console.print(_counts_table("clips per split", report.counts))
    for what, overlaps in (("file name", report.name_overlaps), ("content", report.content_overlaps),
                           ("utterance group", report.group_overlaps)):
        pairs: dict[str, int] = {}
        for splits in overlaps.values():
            for i, a in enumerate(splits):
                for b in splits[i + 1:]:
                    pairs[f"{a} & {b}"] = pairs.get(f"{a} & {b}", 0) + 1
        detail = ", ".join(f"{k}: {v}" for k, v in pairs.items()) or "none"
        examples = ", ".join(list(overlaps)[:3])
        console.print(f"overlap by {what}: {len(overlaps)} ({detail}){' e.g. ' + examples if overlaps else ''}")
    if report.unreadable:
        console.print(f"{len(report.unreadable)} unreadable files, e.g. {report.unreadable[0]}")


@app.command()
def prepare(
    data: Annotated[Path, typer.Argument(help="Split manifest (CSV) or a dataset folder whose layout has splits.")],
    out: Annotated[Path, typer.Option(help="Store folder to create.")] = Path("store"),
    layout: LayoutOpt = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML file with a \\[features] table.")] = None,
    input_mode: Annotated[Optional[str], typer.Option(help="window (default for audio) or resize (the seed's; "
                                                           "default for .npy data).")] = None,
    image_size: Annotated[Optional[int], typer.Option(help="Model input is image_size x image_size.")] = None,
    spectrogram: Annotated[Optional[str], typer.Option(help="mel or linear.")] = None,
    sample_rate: Annotated[Optional[int], typer.Option(help="Resample all audio to this rate.")] = None,
    trim_silence: Annotated[Optional[bool], typer.Option(help="Trim leading/trailing silence.")] = None,
    workers: Annotated[int, typer.Option(help="Feature extraction processes (0 = all cores).")] = 0,
    force: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
    strict: Annotated[bool, typer.Option(help="Stop at the first unusable file instead of skipping it.")] = False,
) -> None:
    """Extract features once into a packed, memory-mapped store (resumes an interrupted run)."""
    from .store import Store
    from .store import prepare as run_prepare

    items = _items(data, layout)
    if input_mode is None and config is None and all(Path(it.path).suffix == ".npy" for it in items):
        input_mode = "resize"  # the seed's .npy mels are whole-clip images
    features = feature_config_from(config, {"input_mode": input_mode, "image_size": image_size,
                                            "spectrogram": spectrogram, "sample_rate": sample_rate,
                                            "trim_silence": trim_silence})
    path = run_prepare(items, out, features, workers=workers, force=force, strict=strict)
    store = Store(path)
    table = Table(title=f"store {path}")
    for column in ("split", "clips", "real", "fake", "windows"):
        table.add_column(column)
    for split, c in store.header["counts"].items():
        table.add_row(split, str(c["clips"]), str(c["real"]), str(c["fake"]), str(c["windows"]))
    console.print(table)
    if store.header["skipped"]:
        console.print(f"[yellow]{store.header['skipped']} unusable clips skipped[/]: reasons in {path / 'skipped.csv'}")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; a SpoofscanError becomes a one-line message on stderr and exit code 2."""
    try:
        app(args=argv, prog_name="spoofscan")  # exits through SystemExit with the command's code
    except SpoofscanError as exc:
        print(f"spoofscan: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return 0


def main() -> None:
    sys.exit(run())

