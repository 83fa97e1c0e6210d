"""The `spoofscan` command: one sub-command per pipeline step."""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from .config import FeatureConfig, from_dict, load_toml, with_overrides
from .errors import SpoofscanError

# Markdown: a help text's lines flow together at any terminal width, and [brackets] are text, not Rich markup
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode="markdown",
                  help="Tell real speech from vocoded / synthesized speech. Scores are P(fake): higher = more fake.")
console = Console(soft_wrap=True)  # long paths stay on one line, so a printed command can be copied

LayoutOpt = Annotated[Optional[str], typer.Option(help="Dataset layout: combined, wavefake, asvspoof2019, "
                                                       "in_the_wild, generic (default: auto-detect).")]
AugmentOpt = Annotated[Optional[list[str]], typer.Option(
    help="Degradation for extra copies of train clips: mp3, ogg_vorbis, opus, telephone, gsm, g722, noise_20db, "
         "noise_10db, noise_random (SNR 5-30 dB), mp3_random (mp3 at a random 35-100 kbit/s), reverb, resample_16k, "
         "gain_-20db, band_limit (a random band edge of 3.5-7.5 kHz), peak_limit (peaks soft-limited to 6-14 dB "
         "above the RMS). Repeatable.")]
AugmentCopiesOpt = Annotated[int, typer.Option(help="Degraded copies per train clip (each a random --augment).")]


def _items(source: Path, layout: str | None):
    """Items of a dataset folder, a CSV manifest, or an existing store's index."""
    from .layouts import item_from_row, load_items
    from .store import Store

    if source.is_dir() and (source / "header.json").is_file():
        return [item_from_row(row) for row in Store(source).index]
    return load_items(source, layout=layout)


def combine(datasets: list[list]) -> list:
    """Items of several datasets; a group name used by two datasets is prefixed so the groups stay apart."""
    if len(datasets) == 1:
        return datasets[0]
    seen: dict[str, int] = {}
    for n, items in enumerate(datasets):
        for group in {it.group for it in items}:
            seen.setdefault(group, n)
    out = []
    for n, items in enumerate(datasets):
        for it in items:
            if seen[it.group] != n:
                it.group = f"dataset{n}:{it.group}"
            out.append(it)
    return out


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


def train_config_from(config: Path | None, overrides: dict):
    """TrainConfig from defaults, then a TOML file's [train] table, then command-line flags."""
    from .config import TrainConfig

    base = TrainConfig()
    if config is not None:
        base = from_dict(TrainConfig, load_toml(config).get("train", {}), source=str(config))
    return with_overrides(base, overrides)


@app.command()
def split(
    data: Annotated[list[Path], typer.Argument(help="Dataset folders or CSV manifests (several are combined).")],
    out: Annotated[Path, typer.Option(help="Where to write the split manifest (CSV).")] = Path("split.csv"),
    layout: LayoutOpt = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same split.")] = 0,
    val: Annotated[float, typer.Option(help="Fraction of utterance groups for validation.")] = 0.1,
    test: Annotated[float, typer.Option(help="Fraction of utterance groups for test.")] = 0.1,
    holdout_system: Annotated[Optional[list[str]], typer.Option(
        help="Put this system's clips only in test (leave-one-vocoder-out). Repeatable.")] = None,
    holdout_source: Annotated[Optional[list[str]], typer.Option(
        help="Put this source's clips (real and fake) only in test. Repeatable.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing manifest.")] = False,
) -> None:
    """Split by utterance group (a real clip and its vocoded copies stay together) into train/val/test.

    Several datasets are combined into one manifest; their utterance groups stay apart (prefixed per dataset
    when two datasets use the same group names).
    """
    from .splits import count_classes, grouped_split, write_manifest

    if out.exists() and not force:
        raise SpoofscanError(f"{out} already exists; pass --force to overwrite it or choose another --out")
    if holdout_system and holdout_source:
        raise SpoofscanError("--holdout-system and --holdout-source: use one of them per split")
    items = combine([_items(path, layout) for path in data])
    kept, dropped = grouped_split(items, fractions=(1 - val - test, val, test), seed=seed,
                                  holdout_systems=tuple(holdout_system or holdout_source or ()),
                                  holdout_key="source" if holdout_source else "system")
    write_manifest(out, kept)
    console.print(_counts_table(f"{len(kept)} clips in {len({it.group for it in items})} utterance groups",
                                count_classes(kept)))
    if dropped:
        console.print(f"{len(dropped)} held-out clips had their utterance in train/val and were left out")
    console.print(f"wrote {out}")


@app.command()
def audit(
    source: Annotated[Path, typer.Argument(help="Dataset folder with splits, split manifest (CSV) or store.")],
    layout: LayoutOpt = None,
    fix: Annotated[Optional[Path], typer.Option(
        help="Write a leakage-free manifest here (priority train > val > test). Your files are never touched.")] = None,
    shortcuts: Annotated[bool, typer.Option(
        help="Also measure how well file properties alone (rate, band, format, bit depth, bitrate, duration, "
             "loudness, silence, DC, clipping) predict the label; works without splits.")] = False,
    as_model: Annotated[Optional[Path], typer.Option(
        help="With --shortcuts: measure the audio as a model with this TOML's [features] sees it (mono at its "
             "sample rate, silence trimmed as it trims): the cues that such a model could still learn; with "
             "[train] gmm_narrowband_hz, only the clips whose windows it fits (all of them with "
             "gmm_narrowband_view_hz).")] = None,
    augment: AugmentOpt = None,
    augment_copies: AugmentCopiesOpt = 0,
    max_shortcut_auc: Annotated[Optional[float], typer.Option(
        help="With --shortcuts: exit 1 when the file-property AUC is above this (e.g. 0.6).")] = None,
    repeats: Annotated[int, typer.Option(
        help="With --shortcuts: run the cross-validation over this many assignments of utterance groups to folds "
             "and report the mean AUC with its spread (the first assignment is the one a single run uses; "
             "--max-shortcut-auc then tests the mean).")] = 1,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the findings as JSON.")] = None,
    workers: Annotated[int, typer.Option(help="Processes for content hashing (0 = all cores).")] = 0,
) -> None:
    """Check splits for leakage by file name, content hash and utterance group (exit 1 if leaky); with
    --shortcuts, check that no file property gives the class away (with --as-model and --augment, in the training
    set that `prepare` with the same --augment and --augment-copies makes: its train clips' copies included)."""
    from .io import write_json
    from .splits import audit as run_audit
    from .store import check_augmentation, train_copies
    from .splits import fix_leakage, hash_items, write_manifest

    items = _items(source, layout)
    split_items = [it for it in items if it.split]
    if not split_items and not shortcuts:
        raise SpoofscanError(f"{source}: no clip has a split; run `spoofscan split {source}` first "
                             "(or pass --shortcuts for the file-property audit alone)")
    if (max_shortcut_auc is not None or as_model is not None or repeats != 1) and not shortcuts:
        raise SpoofscanError("--max-shortcut-auc, --as-model and --repeats go with --shortcuts")
    if (augment or augment_copies) and as_model is None:
        raise SpoofscanError("--augment goes with --shortcuts --as-model CONFIG: copies are measured as a model sees "
                             "them")
    check_augmentation(tuple(augment or ()), augment_copies)
    if max_shortcut_auc is not None and not 0.5 <= max_shortcut_auc <= 1:
        raise SpoofscanError(f"--max-shortcut-auc {max_shortcut_auc}: use an AUC between 0.5 and 1, e.g. 0.6")
    model_view = None if as_model is None else feature_config_from(as_model, {})  # a bad config fails first
    findings: dict = {}
    failed = False
    if split_items:
        hashes = hash_items(split_items, workers=workers)
        report = run_audit(split_items, hashes=hashes)
        _print_audit(report)
        findings.update({**report.summary(), "name_overlaps": report.name_overlaps,
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
            failed = True
        else:
            console.print("[bold green]no leakage[/]: no file name, content or utterance group is shared between "
                          "splits")
    if shortcuts:
        from .shortcuts import shortcut_audit

        copies = train_copies(items, tuple(augment or ()), augment_copies) if augment_copies else None
        # a GMM with gmm_narrowband_hz fits no narrowband window, unless its narrowband pair does
        model_train = None if as_model is None else train_config_from(as_model, {})
        narrowband = 0.0 if model_train is None or model_train.gmm_narrowband_view_hz else \
            model_train.gmm_narrowband_hz
        found = shortcut_audit(items, workers=workers, model_view=model_view, copies=copies, narrowband_hz=narrowband,
                               repeats=repeats)
        _print_shortcuts(found)
        findings["shortcuts"] = found.summary()
        if max_shortcut_auc is not None and found.auc > max_shortcut_auc:
            console.print(f"[bold red]SHORTCUT[/]: file properties predict the label with AUC {found.auc:.3f} > "
                          f"{max_shortcut_auc}")
            failed = True
    if json_out:
        write_json(json_out, findings)
    if failed:
        raise typer.Exit(1)


def _print_shortcuts(report) -> None:
    table = Table(title=f"{'audio properties as the model sees it' if report.model_view else 'file properties'} "
                        f"alone, {report.n_clips} clips ({report.n_real} real"
                        f"{f', {report.copies} of them augmented copies' if report.copies else ''}), "
                        f"{report.folds}-fold cross-validation grouped by utterance"
                        f"{f' (mean of {len(report.auc_runs)} fold assignments)' if len(report.auc_runs) > 1 else ''}"
                        f": AUC (0.5 = no cue)")
    table.add_column("property")
    table.add_column("AUC alone", justify="right")
    for name, auc in report.cue_auc.items():
        table.add_row(name, f"{auc:.3f}")
    console.print(table)
    models = ", ".join(f"{name} {auc:.3f}" for name, auc in report.model_auc.items())
    console.print(f"all properties together: AUC {report.auc:.3f} ({models})")
    if len(report.auc_runs) > 1:
        console.print(f"  mean over {len(report.auc_runs)} assignments of groups to folds: each "
                      f"{min(report.auc_runs):.3f}-{max(report.auc_runs):.3f}, standard deviation "
                      f"{statistics.stdev(report.auc_runs):.3f}")
    if report.unreadable:
        console.print(f"{len(report.unreadable)} unreadable files left out, e.g. {report.unreadable[0]}")
    if report.unfitted:
        console.print(f"{report.unfitted} clips or copies left out: most of their windows end below the config's "
                      "gmm_narrowband_hz, and the model fits none of those")


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
    if report.same_names:
        console.print(f"note: {len(report.same_names)} file names recur in several splits, e.g. "
                      f"{', '.join(list(report.same_names)[:3])}: different files whose names are not utterance ids "
                      "(their content and groups are checked above), so not leakage")
    if report.unreadable:
        console.print(f"{len(report.unreadable)} unreadable files, e.g. {report.unreadable[0]}")


@app.command()
def prepare(
    data: Annotated[Path, typer.Argument(help="Split manifest (CSV) or a dataset folder whose layout has splits.")],
    out: Annotated[Path, typer.Option(help="Store folder to create.")] = Path("store"),
    layout: LayoutOpt = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML file with a \\[features] table.")] = None,
    input_kind: Annotated[Optional[str], typer.Option(help="What the model reads: image (spectrogram images: "
                                                           "resnet18), lfcc (LFCC frames: lcnn, lfcc-gmm) or "
                                                           "waveform (raw samples: rawnet2).")] = None,
    input_mode: Annotated[Optional[str], typer.Option(help="window (default for audio) or resize (the seed's; "
                                                           "default for .npy data).")] = None,
    image_size: Annotated[Optional[int], typer.Option(help="Model input is image_size x image_size.")] = None,
    spectrogram: Annotated[Optional[str], typer.Option(help="mel or linear.")] = None,
    sample_rate: Annotated[Optional[int], typer.Option(help="Resample all audio to this rate.")] = None,
    normalize: Annotated[Optional[str], typer.Option(help="image (min-max per image, the seed's), frequency "
                                                          "(each frequency standardized over the clip) or dataset "
                                                          "(clip level removed; each frequency standardized with "
                                                          "training-set statistics).")] = None,
    trim_silence: Annotated[Optional[bool], typer.Option(help="Trim leading/trailing silence.")] = None,
    workers: Annotated[int, typer.Option(help="Feature extraction processes (0 = all cores).")] = 0,
    force: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
    strict: Annotated[bool, typer.Option(help="Stop at the first unusable file instead of skipping it.")] = False,
    augment: AugmentOpt = None,
    augment_copies: AugmentCopiesOpt = 0,
) -> None:
    """Extract features once into a packed, memory-mapped store (resumes an interrupted run)."""
    from .store import Store
    from .store import prepare as run_prepare

    items = _items(data, layout)
    if input_mode is None and config is None and all(Path(it.path).suffix == ".npy" for it in items):
        input_mode = "resize"  # the seed's .npy mels are whole-clip images
    features = feature_config_from(config, {"input_kind": input_kind, "input_mode": input_mode,
                                            "image_size": image_size,
                                            "spectrogram": spectrogram, "sample_rate": sample_rate,
                                            "normalize": normalize, "trim_silence": trim_silence})
    path = run_prepare(items, out, features, workers=workers, force=force, strict=strict,
                       augment=tuple(augment or ()), augment_copies=augment_copies)
    store = Store(path)
    table = Table(title=f"store {path}")
    for column in ("split", "clips", "real", "fake", "windows"):
        table.add_column(column)
    for split, c in store.header["counts"].items():
        table.add_row(split, str(c["clips"]), str(c["real"]), str(c["fake"]), str(c["windows"]))
    console.print(table)
    if store.header["skipped"]:
        console.print(f"[yellow]{store.header['skipped']} unusable clips skipped[/]: reasons in {path / 'skipped.csv'}")


def _parse_set(pairs: list[str] | None) -> dict:
    """--set key=value pairs; values are read as JSON when they parse (numbers, true/false), else as text."""
    values = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SpoofscanError(f"--set {pair!r}: write it as key=value, e.g. --set aug_blur_p=0")
        try:
            values[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[key.strip()] = raw
    return values


@app.command()
def train(
    store: Annotated[Path, typer.Argument(help="Store made by `spoofscan prepare`.")],
    out: Annotated[Path, typer.Option(help="Run folder: config.json, history.csv, best.pt, last.pt, plots.")] = Path(
        "runs/run"),
    config: Annotated[Optional[Path], typer.Option(help="TOML file with a \\[train] table.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Detector family: resnet18 (default, the seed's), lcnn, "
                                                     "rawnet2 or lfcc-gmm; the store must hold its input kind.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs (seed: 15).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size per process (seed: 32).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Phase-1 learning rate (seed: 2e-4); phase 2 uses lr/10.")] = None,
    unfreeze_epoch: Annotated[Optional[int], typer.Option(help="First epoch that trains the whole network (seed: 4).")] = None,
    weights: Annotated[Optional[str], typer.Option(help="auto (imagenet for resnet18, else none), imagenet, none, "
                                                       "or a state dict path.")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda, cuda:N.")] = None,
    amp: Annotated[Optional[str], typer.Option(help="auto, bf16, fp16 or off (CUDA only).")] = None,
    compile: Annotated[Optional[bool], typer.Option("--compile/--no-compile", help="torch.compile the model.")] = None,
    early_stopping: Annotated[Optional[int], typer.Option(help="Stop after N epochs without val-loss gain.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch (0 = default).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Any TrainConfig field, e.g. --set aug_blur_p=0. "
                                                                     "Repeatable.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out exactly where last.pt left it.")] = False,
) -> None:
    """Train a detector on a store: the two-phase recipe for the networks (the same under torchrun for several
    GPUs/processes), EM for lfcc-gmm."""
    from .train import train as run_train

    flags = {"model": model, "epochs": epochs, "batch_size": batch_size, "lr": lr, "unfreeze_epoch": unfreeze_epoch,
             "weights": weights, "device": device, "amp": amp, "compile": compile, "early_stopping": early_stopping,
             "seed": seed, "threads": threads, **_parse_set(set_)}
    best = run_train(store, out, train_config_from(config, flags), resume=resume)
    console.print(f"best checkpoint: {best}")


@app.command()
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="best.pt / last.pt from `spoofscan train`.")],
    data: Annotated[Path, typer.Argument(help="A store, a dataset folder or a CSV manifest.")],
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("report"),
    split: Annotated[str, typer.Option(help="train, val, test, or all (datasets only).")] = "test",
    layout: LayoutOpt = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of utterance groups (0 = off).")] = 1000,
    aeer: Annotated[bool, typer.Option(help="Also the seed report's aEER (5 clip resamples).")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Windows per forward pass.")] = 64,
    pool: Annotated[str, typer.Option(help="Clip score from windows: mean or max of log-odds.")] = "mean",
    by: Annotated[Optional[list[str]], typer.Option(help="EER tables by system, source or speaker (writes "
                                                         "by_KEY.csv). Repeatable; default: system.")] = None,
) -> None:
    """Score every clip and write metrics.json, scores.csv, plots and report.md (score = P(fake))."""
    from .evaluate import evaluate as run_evaluate
    from .evaluate import group_table

    keys = tuple(by or ("system",))
    metrics = run_evaluate(checkpoint, data, out, split=split, layout=layout, bootstrap=bootstrap, aeer=aeer,
                           device=device, batch_size=batch_size, pool=pool, by=keys)
    table = Table(title=f"{metrics['clips']['total']} clips ({metrics['clips']['real']} real, "
                        f"{metrics['clips']['fake']} fake)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("EER", f"{metrics['eer']:.2%}")
    if "bootstrap_eer" in metrics:
        b = metrics["bootstrap_eer"]
        table.add_row("bootstrapped EER 95 % interval", f"[{b['ci95_low']:.2%}, {b['ci95_high']:.2%}]")
    table.add_row("ROC AUC", f"{metrics['roc_auc']:.4f}")
    table.add_row("minDCF / actual DCF", f"{metrics['min_dcf']['value']:.4f} / "
                  f"{metrics['calibration']['act_dcf']['value']:.4f}")
    table.add_row("Cllr / min Cllr (bits)", f"{metrics['calibration']['cllr']:.4f} / "
                  f"{metrics['calibration']['min_cllr']:.4f}")
    table.add_row("accuracy at the val EER threshold", f"{metrics['at_val_eer_threshold']['accuracy']:.2%}")
    console.print(table)
    for key in keys:
        rows = group_table(metrics, key)
        by_table = Table(title=f"EER by {key}")
        for column in rows[0] if rows else [key]:
            by_table.add_column(column)
        for row in rows:
            by_table.add_row(*[f"{v:.2%}" if isinstance(v, float) else str(v) for v in row.values()])
        console.print(by_table)
    if metrics["failed"]:
        console.print(f"[yellow]{len(metrics['failed'])} clips could not be scored[/] (listed in metrics.json)")
    console.print(f"report: {out / 'report.md'}")


TABLE_LIMIT = 100  # an archive scan with --csv prints a table only up to this many files


@app.command()
def predict(
    paths: Annotated[list[str], typer.Argument(
        help="Audio files, folders (recursive) or glob patterns; a first argument ending in .pt is the checkpoint "
             "(`spoofscan predict run/best.pt clip.wav`).")],
    checkpoint: Annotated[Optional[Path], typer.Option(
        help="A checkpoint from `spoofscan train` (default: the built-in spoofscan-base).")] = None,
    threshold: Annotated[Optional[float], typer.Option(help="P(fake) threshold (default: the checkpoint's "
                                                           "validation EER threshold; 0.5 for a calibrated one).")] = None,
    prior: Annotated[Optional[float], typer.Option(help="Prior P(fake) for a calibrated checkpoint's P(fake) and "
                                                       "Bayes decision (default: the checkpoint's).")] = None,
    pool: Annotated[str, typer.Option(help="Clip score from windows: mean or max.")] = "mean",
    hop: Annotated[Optional[int], typer.Option(help="Window hop in frames (default: the checkpoint's).")] = None,
    stream: Annotated[int, typer.Option(help="Which audio stream of a video or multi-track file (0 = the first).")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (with per-window scores) instead of a table.")] = False,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Append per-window scores and times to this CSV as "
                                                                  "each file finishes.")] = None,
    resume: Annotated[bool, typer.Option(help="With --csv: skip the files already in it (same size and mtime).")] = False,
    workers: Annotated[int, typer.Option(help="Processes that decode and cut windows while the model runs.")] = 1,
    backend: Annotated[str, typer.Option(help="torch or onnx (onnxruntime).")] = "torch",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda.")] = "cpu",
    batch_size: Annotated[int, typer.Option(help="Windows per forward pass.")] = 64,
    threads: Annotated[int, typer.Option(help="torch threads (0 = automatic: 1 for the LFCC-GMM, whose windows are "
                                              "too small to split, else torch's default).")] = 0,
) -> None:
    """Verdicts on your own audio (any length, format, sample rate). Exit code 1 if any file failed.

    With --csv it is an archive scan: rows are appended as files finish, --resume skips what is done, and under
    torchrun each process scores its share and rank 0 merges them into the one CSV."""
    import os

    from rich.progress import track

    from .predict import Detector, find_audio

    if checkpoint is None and paths[0].endswith(".pt"):
        checkpoint, paths = Path(paths[0]), paths[1:]
    files = find_audio(paths)
    if not files:
        raise SpoofscanError(f"no audio found in {' '.join(paths)}; give files, folders or globs of audio or video "
                             "files (wav, flac, mp3, ogg, m4a, mp4, webm, mkv, opus, ...)")
    if resume and csv_out is None:
        raise SpoofscanError("--resume continues a scan written with --csv; give the --csv file to continue")
    if workers < 1:
        raise SpoofscanError(f"--workers {workers}: use 1 (decode in this process) or more")
    world_size, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world_size > 1 and csv_out is None:
        raise SpoofscanError("under torchrun, predict writes its results with --csv FILE (each rank scores a share)")
    if world_size > 1:
        from .train import pick_device

        device = str(pick_device(device))
    detector = Detector.from_checkpoint(checkpoint, device=device, threshold=threshold, pool=pool, hop_frames=hop,
                                        batch_size=batch_size, backend=backend, prior=prior)
    detector.use_threads(threads)
    if checkpoint is None:
        from .checkpoint import BASE_MODEL_CARD

        Console(stderr=True).print("[yellow]built-in spoofscan-base v19[/] (LFCC-GMM): EER 4.0 % on real vocoder "
                                   "demos, about 15 % on unseen vocoder/TTS/VC sources; mp3, codecs, noise and reverb "
                                   "undo it. "
                                   f"Read its model card ({BASE_MODEL_CARD}) before trusting a verdict, or pass a "
                                   "checkpoint trained on data like yours")
    if csv_out is not None:
        from .scan import scan

        results, total = scan(detector, files, csv_out, checkpoint=checkpoint, resume=resume, stream=stream,
                              workers=workers, rank=rank, world_size=world_size)
    else:
        results, total = detector.predict_files(files, stream=stream, workers=workers), len(files)
    if total > 1 and not json_out:
        results = track(results, total=total, description="predict", console=Console(stderr=True))
    # an archive scan keeps only counts (its results are in the CSV); otherwise every prediction is shown
    keep = csv_out is None or json_out or total <= TABLE_LIMIT
    predictions, scored, failed = [], 0, 0
    for prediction in results:
        scored, failed = scored + 1, failed + bool(prediction.error)
        if keep:
            predictions.append(prediction)
    if world_size > 1:
        import torch.distributed as dist

        from .scan import merge_ranks

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        dist.barrier()
        if rank == 0:
            merge_ranks(csv_out, world_size)
        dist.barrier()
        dist.destroy_process_group()
    if json_out:
        print(json.dumps([p.to_dict() for p in predictions], indent=2))
    elif keep:
        calibrated = detector.calibration is not None
        title = (f"score = P(fake) at prior {detector.prior:g}; LLR = calibrated log-likelihood ratio; verdict at "
                 f"P(fake) >= {detector.threshold:.4f}" if calibrated else
                 f"score = P(fake); verdict at threshold {detector.threshold:.4f}")
        table = Table(title=title)
        table.add_column("file", overflow="fold")
        for column in ("seconds", "windows", "P(fake)") + (("LLR",) if calibrated else ()):
            table.add_column(column, justify="right")
        table.add_column("verdict", overflow="fold")
        for p in predictions:
            if p.error:
                table.add_row(p.path, "-", "-", "-", *(("-",) if calibrated else ()), f"[red]error[/]: {p.error}")
            else:
                colour = "red" if p.verdict == "fake" else "green"
                table.add_row(p.path, f"{p.duration:.2f}", str(len(p.window_scores)), f"{p.score:.4f}",
                              *((f"{p.llr:+.2f}",) if calibrated else ()), f"[{colour}]{p.verdict}[/]")
        console.print(table)
    if csv_out is not None and rank == 0:
        skipped = f"; {len(files[rank::world_size]) - total} already there (--resume)" if resume else ""
        typer.echo(f"{csv_out}: {scored} files scored by this process, {failed} failed{skipped}", err=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def info(checkpoint: Annotated[Optional[Path], typer.Argument(
        help="A checkpoint from `spoofscan train` (default: the built-in spoofscan-base).")] = None) -> None:
    """Print what a checkpoint holds: configs, classes, threshold, metrics at save time, versions."""
    from .checkpoint import describe, load_checkpoint

    summary = describe(load_checkpoint(checkpoint))
    console.print_json(json.dumps(summary))


@app.command()
def export(
    checkpoint: Annotated[Optional[Path], typer.Argument(
        help="A checkpoint from `spoofscan train` (default: the built-in spoofscan-base).")] = None,
    onnx: Annotated[Optional[Path], typer.Option(help="Write an ONNX model here.")] = None,
    fp16: Annotated[Optional[Path], typer.Option(help="Write an inference-only checkpoint with fp16 weights here "
                                                      "(half the size; what spoofscan-base ships as).")] = None,
) -> None:
    """Export to ONNX (dynamic batch; parity with PyTorch checked before the file is kept) and/or a compact fp16
    checkpoint."""
    from .checkpoint import load_checkpoint, save_compact
    from .export import export_onnx

    if onnx is None and fp16 is None:
        raise SpoofscanError("nothing to export: give --onnx PATH and/or --fp16 PATH")
    if onnx is not None:
        path = export_onnx(checkpoint, onnx)
        console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); input 'input' (batch, ...) as "
                      "spoofscan.features.model_input gives it, output 'logits' (real, fake)")
    if fp16 is not None:
        path = save_compact(checkpoint, fp16)
        console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, {load_checkpoint(path)['weights_dtype']} "
                      "weights, inference only)")


@app.command()
def degrade(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint from `spoofscan train`.")],
    data: Annotated[Path, typer.Argument(help="Dataset folder, CSV manifest or store (its clips' audio is read).")],
    out: Annotated[Path, typer.Option(help="Folder for degradation.csv and degradation.md.")] = Path("degradation"),
    split: Annotated[str, typer.Option(help="Which split to use (all = every clip).")] = "test",
    layout: LayoutOpt = None,
    condition: Annotated[Optional[list[str]], typer.Option(
        help="clean, mp3, ogg_vorbis, opus, telephone, gsm, g722, noise_20db, noise_10db, reverb, resample_16k, "
             "gain_-20db (default: all), or one drawn per clip: noise_random (SNR 5-30 dB), mp3_random (35-100 kbit/s), "
             "band_limit, peak_limit. Repeatable.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda.")] = "cpu",
) -> None:
    """Degradation suite: EER of the same clips through codecs, noise, reverb, resampling and gain."""
    from .degrade import CONDITIONS, degradation_suite, table_markdown
    from .io import write_csv, write_text
    from .predict import Detector

    items = [it for it in _items(data, layout) if split == "all" or it.split == split]
    if not items:
        raise SpoofscanError(f"{data}: no clips in the {split} split; use --split all or another split")
    detector = Detector.from_checkpoint(checkpoint, device=device)
    rows = degradation_suite(detector, items, conditions=tuple(condition or CONDITIONS))
    write_csv(out / "degradation.csv", rows, list(rows[0]))
    write_text(out / "degradation.md", f"# Degradation suite\n\ncheckpoint `{checkpoint}`, data `{data}` ({split})"
               "\n\n" + table_markdown(rows, ["condition", "eer", "roc_auc", "clips", "failed"]))
    table = Table(title=f"EER per condition ({len(items)} clips)")
    for column in ("condition", "EER", "ROC AUC", "failed"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["condition"], f"{row['eer']:.2%}", f"{row['roc_auc']:.4f}", str(row["failed"]))
    console.print(table)
    console.print(f"wrote {out / 'degradation.md'}")


@app.command()
def loo(
    data: Annotated[Path, typer.Argument(help="Dataset folder or CSV manifest (without splits: they are made).")],
    out: Annotated[Path, typer.Option(help="Protocol folder: one sub-folder per fold, loo.csv, loo.md.")] = Path("loo"),
    by: Annotated[str, typer.Option(help="Hold out each system or each source in turn.")] = "system",
    layout: LayoutOpt = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML file with \\[features] and \\[train] tables.")] = None,
    seeds: Annotated[str, typer.Option(help="Training seeds, comma-separated (mean +- std over them).")] = "0",
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Any FeatureConfig or TrainConfig field, "
                                                                     "e.g. --set image_size=64. Repeatable.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Detector family (resnet18, lcnn, rawnet2, lfcc-gmm); sets the "
                                                     "input kind it needs too.")] = None,
    folds: Annotated[int, typer.Option(help="Hold out sets of values in this many folds of about equal size "
                                            "instead of one value at a time (0 = one at a time).")] = 0,
    folds_from: Annotated[Optional[Path], typer.Option(
        help="Hold out the same sets as an earlier `loo --folds` run (its folder or its loo.json), to compare "
             "recipes on the same folds.")] = None,
    untested_system: Annotated[Optional[list[str]], typer.Option(
        help="Train on this system but never score it in a held-out test (e.g. paired fakes). Repeatable.")] = None,
    always_train: Annotated[Optional[list[str]], typer.Option(
        help="A value of --by that is never held out: every fold trains on it, none scores it (e.g. extra real "
             "speech and its paired fakes). Repeatable.")] = None,
    workers: Annotated[int, typer.Option(help="Feature extraction processes (0 = all cores).")] = 0,
    augment: AugmentOpt = None,
    augment_copies: AugmentCopiesOpt = 0,
    reuse_store: Annotated[Optional[list[Path]], typer.Option(
        help="A store prepared from the same files with the same features (e.g. `prepare`'s of the same corpus): "
             "its clips' windows are copied into the fold stores, not extracted again. Repeatable.")] = None,
) -> None:
    """Leave-one-out protocol: for each system (or source) train without it, test on it; one table.

    With --folds K the values are held out in K sets (leave-sources-out cross-validation), for data with many small
    sources or sources that hold only one class."""
    import dataclasses

    from .protocol import leave_one_out, read_fold_sets

    from .models import MODELS

    overrides = _parse_set(set_)
    if model is not None:
        if model not in MODELS:
            raise SpoofscanError(f"--model {model!r}: use one of {', '.join(MODELS)}")
        overrides = {"model": model, "input_kind": MODELS[model].input_kind, **overrides}
    feature_fields = {f.name for f in dataclasses.fields(FeatureConfig)}
    features = feature_config_from(config, {k: v for k, v in overrides.items() if k in feature_fields})
    train_config = train_config_from(config, {k: v for k, v in overrides.items() if k not in feature_fields})
    try:
        seed_list = tuple(int(s) for s in seeds.split(","))
    except ValueError:
        raise SpoofscanError(f"--seeds {seeds!r}: write integers separated by commas, e.g. 0,1,2") from None
    fold_sets = read_fold_sets(folds_from, by) if folds_from else None
    summary = leave_one_out(_items(data, layout), out, features, train_config, key=by, seeds=seed_list,
                            folds=folds, fold_sets=fold_sets, untested_systems=tuple(untested_system or ()),
                            always_train=tuple(always_train or ()), workers=workers,
                            augment=tuple(augment or ()), augment_copies=augment_copies,
                            reuse=tuple(reuse_store or ()))
    table = Table(title=f"leave one {by} out: EER on the held-out {by}")
    for column in ("held out", "EER mean", "std", "seeds"):
        table.add_column(column)
    for row in summary["folds"]:
        table.add_row(row["values"], f"{row['eer_mean']:.2%}", f"{row['eer_std']:.2%}", str(row["seeds"]))
    console.print(table)
    console.print(f"mean {summary['mean_eer']:.2%}, worst {summary['worst_eer']:.2%} ({summary['worst']}); "
                  f"wrote {out / 'loo.md'}")


@app.command()
def fuse(
    checkpoints: Annotated[list[Path], typer.Argument(help="Two or more checkpoints (any families).")],
    on: Annotated[Optional[Path], typer.Option(
        help="Dataset or manifest the members score now to fit the fusion on (never your test set).")] = None,
    scores: Annotated[Optional[list[Path]], typer.Option(
        help="Instead of --on: fit on scores already written, one per checkpoint in the same order: a member's "
             "`spoofscan loo` folder (its out-of-fold scores) or an `evaluate` scores.csv. Repeat the option.")] = None,
    out: Annotated[Path, typer.Option(help="The fused checkpoint to write.")] = Path("fused.pt"),
    split: Annotated[str, typer.Option(help="Which split of --on to fit on (all = every clip).")] = "all",
    layout: LayoutOpt = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda.")] = "cpu",
) -> None:
    """Logistic-regression score fusion of several detectors, saved as a checkpoint that predict, evaluate,
    degrade and the API load like any other."""
    from .fuse import fuse as run_fuse

    result = run_fuse(checkpoints, out, data=on, scores=scores, layout=layout, split=split, device=device)
    source = f"{on} ({split})" if on is not None else "the --scores files"
    table = Table(title=f"fusion fitted on {result['clips']} clips of {source}")
    for column in ("member", "weight", "EER on these clips"):
        table.add_column(column)
    for path, weight, member_eer in zip(checkpoints, result["weights"], result["member_eers"]):
        table.add_row(str(path), f"{weight:+.3f}", f"{member_eer:.2%}")
    table.add_row("fused", f"bias {result['bias']:+.3f}", f"{result['eer']:.2%}")
    console.print(table)
    if "folds" in result:
        table = Table(title="each fold scored by a fusion fitted on the other folds (EER)")
        for column in ("fold", "clips", "fused", *map(str, checkpoints)):
            table.add_column(column)
        for row in result["folds"]:
            table.add_row(row["fold"], str(row["clips"]), f"{row['fused_eer']:.2%}",
                          *(f"{e:.2%}" for e in row["member_eers"]))
        console.print(table)
    console.print(f"wrote {out}")


@app.command()
def calibrate(
    checkpoint: Annotated[Path, typer.Argument(help="The checkpoint to calibrate (any family, or a fused one).")],
    data: Annotated[Optional[Path], typer.Argument(
        help="Calibration set: a dataset or manifest like the audio you will check, with both classes, that you do "
             "not test on.")] = None,
    out: Annotated[Path, typer.Option(help="The calibrated checkpoint to write.")] = Path("calibrated.pt"),
    scores: Annotated[Optional[Path], typer.Option(
        help="Fit on these out-of-fold scores instead of DATA: a `spoofscan loo` folder of this checkpoint's recipe "
             "(LLRs calibrated for unseen sources) or an evaluate scores.csv.")] = None,
    split: Annotated[str, typer.Option(help="Which split of DATA to fit on (all = every clip).")] = "all",
    prior: Annotated[float, typer.Option(help="Default prior P(fake) for P(fake) and the verdict.")] = 0.5,
    layout: LayoutOpt = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda.")] = "cpu",
) -> None:
    """Fit score -> log-likelihood ratio on a calibration set (DATA), or on out-of-fold scores (--scores); predict
    then gives the LLR, P(fake) at a stated prior and the Bayes decision, and evaluate adds Cllr and actual DCF."""
    from .calibrate import calibrate as run_calibrate

    result = run_calibrate(checkpoint, data, out, scores=scores, layout=layout, split=split, prior=prior,
                           device=device)
    fitted = result["fitted_on"]
    console.print(f"LLR = {result['scale']:.4f} x log-odds {result['offset']:+.4f}, fitted on {fitted['clips']} clips "
                  f"({fitted['real']} real, {fitted['fake']} fake); Cllr there {fitted['cllr_before']:.3f} -> "
                  f"{fitted['cllr_after']:.3f} bits; default prior {prior:g}")
    if "cllr_cross_fold" in fitted:
        console.print(f"each fold calibrated by a map fitted on the other folds: Cllr {fitted['cllr_cross_fold']:.3f} "
                      "bits (what to expect on sources it has not seen)")
    console.print(f"wrote {out}")


@app.command()
def synth(
    real: Annotated[Path, typer.Argument(help="Folder of real speech (any format, any rate; searched recursively).")],
    out: Annotated[Path, typer.Option(help="Corpus folder: real/, fake/SYSTEM/, manifest.csv.")] = Path("corpus"),
    system: Annotated[Optional[list[str]], typer.Option(
        help="hifigan_universal, hifigan_ljspeech, hifigan_universal_24k (run as a 24 kHz vocoder), "
             "hifigan_universal_25_35k (as a 25-35 kHz one, the rate drawn per clip), hifigan_universal_24_35k (24-35 "
             "kHz), world, world_vc "
             "(WORLD with a new pitch and formants), griffin_lim, lpc, mlsa (needs spoofscan\\[mlsa]), piper "
             "(default: all but the two rate-moved HiFi-GANs, world_vc and mlsa; piper only with --transcripts). "
             "Repeatable.")] = None,
    max_clips: Annotated[int, typer.Option(help="Use a seeded sample of this many real clips (0 = all).")] = 0,
    max_seconds: Annotated[float, typer.Option(help="Keep only the first seconds of each clip (0 = all).")] = 0.0,
    speaker: Annotated[str, typer.Option(help="Speaker name recorded in the manifest.")] = "unknown",
    source: Annotated[str, typer.Option(help="Source name recorded in the manifest (default: the folder name).")] = "",
    fake_codec: Annotated[str, typer.Option(help="Codec the real recordings went through (mp3, ogg_vorbis, "
                                                 "opus, telephone, gsm, g722): the fakes get it too.")] = "",
    transcripts: Annotated[Optional[Path], typer.Option(
        help="'name: text' or LJSpeech 'name|text' lines (.gz too): adds the piper TTS system.")] = None,
    extension: Annotated[Optional[list[str]], typer.Option(
        help="Read only these file types, e.g. --extension wav (default: every audio type). Repeatable.")] = None,
    workers: Annotated[int, typer.Option(help="Processes (0 = all cores).")] = 0,
) -> None:
    """Re-synthesize real clips with offline vocoders (and Piper TTS) into a WaveFake-style corpus (resumable)."""
    from .audio import AUDIO_EXTENSIONS
    from .synth import VOCODERS
    from .synth import synth as run_synth

    systems = tuple(system or VOCODERS + (("piper",) if transcripts else ()))
    extensions = tuple("." + e.lower().lstrip(".") for e in extension or ()) or AUDIO_EXTENSIONS
    unknown = sorted(set(extensions) - set(AUDIO_EXTENSIONS))
    if unknown:
        raise SpoofscanError(f"--extension {' '.join(unknown)}: use {', '.join(e[1:] for e in AUDIO_EXTENSIONS)}")
    manifest = run_synth(real, out, systems=systems, max_clips=max_clips, max_seconds=max_seconds, workers=workers,
                         speaker=speaker, source=source, fake_codec=fake_codec, transcripts=transcripts,
                         extensions=extensions)
    console.print(f"wrote {manifest}; next: spoofscan split {manifest}")


@app.command()
def pair(
    data: Annotated[Path, typer.Argument(help="Dataset folder or CSV manifest whose real clips get fake copies.")],
    out: Annotated[Path, typer.Option(help="Folder: fake/SYSTEM/ and manifest.csv (the data plus its paired "
                                           "fakes).")] = Path("paired"),
    system: Annotated[Optional[list[str]], typer.Option(
        help="hifigan_universal, hifigan_ljspeech, hifigan_universal_24k (run as a 24 kHz vocoder), "
             "hifigan_universal_25_35k (as a 25-35 kHz one, the rate drawn per clip), hifigan_universal_24_35k (24-35 "
             "kHz), world, world_vc "
             "(WORLD with a new pitch and formants), griffin_lim, lpc, mlsa (needs spoofscan\\[mlsa]), piper (text "
             "to speech reading --sentences) (default: the five vocoders). Repeatable.")] = None,
    max_seconds: Annotated[float, typer.Option(help="Fake only the first seconds of each real clip (0 = all).")] = 0.0,
    layout: LayoutOpt = None,
    sentences: Annotated[Optional[Path], typer.Option(
        help="Text file, one sentence per line, that the piper system reads (default: a built-in bank of 155).")] = None,
    match_spectrum: Annotated[bool, typer.Option(
        help="Give each fake its real clip's long-term spectrum (the recording chain and the roll-off into the band "
             "edge): removes the band-edge cue of the shortcut audit, but also a vocoder's weaker top band, which "
             "was evidence (experiments/FAMILIES.md).")] = False,
    match_edge: Annotated[bool, typer.Option(
        help="Give each fake its real clip's long-term spectrum only in the top 1 kHz of the band the vocoder made, "
             "so its band edge is the real clip's (not with --match-spectrum, which does this and more).")] = False,
    match_crest: Annotated[bool, typer.Option(
        help="Bring each fake's crest factor (peak over RMS) down to its real clip's where it is higher (LPC's "
             "pulses): all-pass dispersion, then a smooth look-ahead limiter.")] = False,
    match_clipping: Annotated[bool, typer.Option(
        help="Drive each fake of a clipped real clip into full scale until as large a share of its samples sits "
             "there (otherwise fakes stay below it, and clipping tells the real clips apart).")] = False,
    match_bitrate: Annotated[bool, typer.Option(
        help="Code each fake of a lossy real file (Vorbis, Opus, MP3) at the real file's bitrate, not the coder's "
             "default, so coding artefacts do not tell the classes apart.")] = False,
    wideband_only: Annotated[Optional[list[str]], typer.Option(
        help="A system of --system that copies only the real clips whose band edge reaches --wideband-hz (a "
             "detector fitted on wideband windows never learns from the others' copies). Repeatable.")] = None,
    wideband_hz: Annotated[float, typer.Option(
        help="Band edge in Hz that --wideband-only clips must reach (configs/base.toml's gmm_narrowband_hz).")
    ] = 8500.0,
    workers: Annotated[int, typer.Option(help="Processes (0 = all cores).")] = 0,
) -> None:
    """Paired fakes: every real clip re-synthesized at its own rate, band, loudness, length, format and channel count
    (resumable).

    Every real speaker and recording chain then also appears as fake, so a detector cannot learn the sample rate, the
    band or the file format of the real clips instead of the fakes' artifacts.
    """
    from .synth import VOCODERS
    from .synth import pair as run_pair

    manifest = run_pair(data, out, systems=tuple(system or VOCODERS), max_seconds=max_seconds, workers=workers,
                        layout=layout, sentences=sentences,
                        match=tuple(m for m, on in (("spectrum", match_spectrum), ("edge", match_edge),
                                                    ("crest", match_crest), ("clipping", match_clipping),
                                                    ("bitrate", match_bitrate)) if on),
                        wideband_only=tuple(wideband_only or ()), wideband_hz=wideband_hz)
    if (out / "failed.csv").exists():
        console.print(f"[yellow]some real clips could not be paired[/]: see {out / 'failed.csv'}")
    console.print(f"wrote {manifest}; next: spoofscan audit {manifest} --shortcuts; spoofscan split {manifest}")


@app.command()
def corpus(
    out: Annotated[Path, typer.Option(help="Corpus folder: one subfolder per source, manifest.csv.")] = Path("corpus"),
    max_clips: Annotated[int, typer.Option(help="Real clips per source, a seeded sample (0 = all).")] = 0,
    max_seconds: Annotated[float, typer.Option(help="Keep only the first seconds of each clip (0 = all).")] = 6.0,
    tts: Annotated[bool, typer.Option(help="Add Piper TTS fakes where a source has transcripts.")] = True,
    source: Annotated[Optional[list[str]], typer.Option(
        help="Use only these sources (default: every one found; see the README's table). Repeatable.")] = None,
    system: Annotated[Optional[list[str]], typer.Option(
        help="Vocoders to use (default: hifigan_universal, hifigan_ljspeech, world, griffin_lim, lpc; add mlsa "
             "with spoofscan[mlsa]). Repeatable.")] = None,
    workers: Annotated[int, typer.Option(help="Processes (0 = all cores).")] = 0,
) -> None:
    """Every offline real speech source on this machine x every offline fake maker, in one manifest (resumable)."""
    from .corpus import build_corpus, pick_sources
    from .synth import VOCODERS

    manifest, missing = build_corpus(out, sources=pick_sources(source), systems=tuple(system or VOCODERS), tts=tts,
                                     max_clips=max_clips, max_seconds=max_seconds, workers=workers)
    for line in missing:
        console.print(f"[yellow]skipped source[/] {line}")
    console.print(f"wrote {manifest}; next: spoofscan split {manifest}")


@app.command()
def serve(
    checkpoint: Annotated[Optional[Path], typer.Option(
        help="A checkpoint from `spoofscan train`, `fuse` or `calibrate` (default: the built-in spoofscan-base).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 = every interface (set --token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[Optional[str], typer.Option(
        envvar="SPOOFSCAN_TOKEN", help="Require 'Authorization: Bearer TOKEN' on /v1/* (or set SPOOFSCAN_TOKEN).")] = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload; larger ones get 413.")] = 50.0,
    max_seconds: Annotated[float, typer.Option(help="Longest audio; longer clips get 413.")] = 600.0,
    queue: Annotated[int, typer.Option(help="Requests waiting or running at once; more get 503 + Retry-After.")] = 8,
    threads: Annotated[int, typer.Option(help="Requests scored at the same time.")] = 1,
    torch_threads: Annotated[int, typer.Option(help="torch threads (0 = automatic, as in predict).")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
) -> None:
    """A web page (/) and an HTTP API (/v1/predict, /v1/model, /healthz, /docs) for verdicts, offline."""
    from .serve import ServeConfig
    from .serve import serve as run_server

    run_server(ServeConfig(checkpoint=None if checkpoint is None else str(checkpoint), host=host, port=port,
                           token=token or None, max_upload_mb=max_upload_mb, max_seconds=max_seconds, queue=queue,
                           threads=threads, torch_threads=torch_threads, device=device))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for everything the demo makes.")] = Path("demo-output"),
    real: Annotated[Optional[Path], typer.Option(help="Real speech folder (default: the built-in asterisk prompts).")] = None,
    clips: Annotated[int, typer.Option(help="Real clips to use.")] = 120,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 6,
    image_size: Annotated[int, typer.Option(help="Model input size (CPU-sized by default).")] = 64,
    workers: Annotated[int, typer.Option(help="Processes for synth and prepare (0 = all cores).")] = 0,
    force: Annotated[bool, typer.Option(help="Redo an earlier demo in --out (its corpus is reused).")] = False,
) -> None:
    """synth -> split -> audit -> prepare -> train -> evaluate -> predict, end to end on the CPU."""
    from .demo import demo as run_demo

    run_demo(out, real_dir=real, clips=clips, epochs=epochs, image_size=image_size, workers=workers, force=force)


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

