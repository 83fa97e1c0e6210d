"""`spoofscan demo`: the whole pipeline in minutes on a laptop CPU, with no download at run time.

synth (real prompts re-synthesized by offline vocoders) -> split -> audit -> prepare -> train -> evaluate ->
predict on held-out clips, with a CPU-sized configuration, then a one-screen summary.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .audio import AUDIO_EXTENSIONS
from .config import FeatureConfig, TrainConfig
from .errors import SpoofscanError
from .io import write_json

REAL_SPEECH_DIRS = ("/usr/share/asterisk/sounds/en_US_f_Allison", "/usr/share/asterisk/sounds/en")
DEMO_SYSTEMS = ("hifigan_universal", "world", "griffin_lim", "lpc")
UNSEEN_SYSTEM = "hifigan_universal"  # kept out of training: the demo measures an unseen neural vocoder too
console = Console(soft_wrap=True)


def find_real_speech() -> Path:
    """The built-in real speech: Debian's asterisk-core-sounds-en-wav (Allison Smith, CC-BY-SA-3.0)."""
    for folder in REAL_SPEECH_DIRS:
        if Path(folder).is_dir():
            return Path(folder)
    raise SpoofscanError("no built-in real speech found: install it with `sudo apt-get install "
                         "asterisk-core-sounds-en-wav` (Debian/Ubuntu), or pass --real DIR with your own recordings")


def demo(out: str | Path = "demo-output", *, real_dir: str | Path | None = None, clips: int = 120,
         systems: tuple[str, ...] = DEMO_SYSTEMS, epochs: int = 6, image_size: int = 64, workers: int = 0,
         force: bool = False) -> dict:
    """Run the pipeline end to end in out/; returns the summary (also written to out/summary.json)."""
    from .evaluate import evaluate
    from .layouts import load_items
    from .predict import Detector
    from .splits import audit, grouped_split, write_manifest
    from .store import prepare
    from .synth import synth
    from .train import train

    out = Path(out)
    derived = [out / name for name in ("split.csv", "store", "run", "report", "summary.json")]
    if any(p.exists() for p in derived):
        if not force:
            raise SpoofscanError(f"{out} holds an earlier demo; pass --force to redo it (the corpus is reused)")
        for path in derived:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    # the built-in prompts may also be installed as 16 kHz G.722; the demo keeps to the 8 kHz wav files
    extensions = AUDIO_EXTENSIONS if real_dir else (".wav",)
    real_dir = Path(real_dir) if real_dir else find_real_speech()
    times: dict[str, float] = {}

    def stage(name: str):
        console.rule(f"[bold]{name}")
        times[name] = time.perf_counter()

    def done(name: str) -> None:
        times[name] = round(time.perf_counter() - times[name], 1)

    stage("synth")
    manifest = synth(real_dir, out / "corpus", systems=systems, max_clips=clips, max_seconds=6.0, workers=workers,
                     speaker="allison", source="asterisk", extensions=extensions)
    done("synth")
    stage("split")
    items, _ = grouped_split(load_items(manifest), fractions=(0.7, 0.15, 0.15), seed=0,
                             holdout_systems=(UNSEEN_SYSTEM,))
    split_csv = write_manifest(out / "split.csv", items)
    done("split")
    stage("audit")
    report = audit(items)
    if report.leaky:
        raise SpoofscanError(f"the demo split leaks ({report.summary()}); this is a bug, please report it")
    console.print("no leakage between train, val and test (by name, content and utterance group)")
    done("audit")
    stage("prepare")
    store = prepare(items, out / "store", FeatureConfig(image_size=image_size), workers=workers)
    done("prepare")
    stage("train")
    config = TrainConfig(epochs=epochs, unfreeze_epoch=1, lr=1e-3, weights="none", batch_size=32)
    best = train(store, out / "run", config)
    done("train")
    stage("evaluate")
    metrics = evaluate(best, store, out / "report", device="cpu")
    done("evaluate")
    stage("predict")
    test_items = [it for it in items if it.split == "test"]
    examples = [next(it for it in test_items if it.label == "real")]
    examples += [next(it for it in test_items if it.system == s) for s in systems if any(it.system == s for it in test_items)]
    predictions = list(Detector.from_checkpoint(best).predict_files([it.path for it in examples]))
    done("predict")

    summary = {"eer": metrics["eer"], "roc_auc": metrics["roc_auc"], "unseen_system": UNSEEN_SYSTEM,
               "per_system_eer": {k: v["eer"] for k, v in metrics["per_system"].items()},
               "stage_seconds": times, "report": str(out / "report" / "report.md"), "split": str(split_csv),
               "predictions": [{"path": p.path, "truth": it.label, "score": p.score, "verdict": p.verdict}
                               for p, it in zip(predictions, examples)]}
    write_json(out / "summary.json", summary)
    _print_summary(summary, metrics)
    return summary


def _print_summary(summary: dict, metrics: dict) -> None:
    console.rule("[bold]spoofscan demo: summary")
    table = Table(title=f"test set: {metrics['clips']['real']} real, {metrics['clips']['fake']} fake clips "
                        "(utterances never seen in training)")
    table.add_column("system")
    table.add_column("EER", justify="right")
    table.add_column("in training?")
    table.add_row("[bold]all", f"[bold]{summary['eer']:.2%}", "")
    for system, value in summary["per_system_eer"].items():
        table.add_row(system, f"{value:.2%}", "no: unseen vocoder" if system == summary["unseen_system"] else "yes")
    console.print(table)
    verdicts = Table(title="predict on held-out clips (score = P(fake))")
    for column in ("file", "truth", "P(fake)", "verdict"):
        verdicts.add_column(column)
    for p in summary["predictions"]:
        verdicts.add_row("/".join(Path(p["path"]).parts[-2:]), p["truth"], f"{p['score']:.3f}", p["verdict"])
    console.print(verdicts)
    console.print("stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in summary["stage_seconds"].items()))
    console.print(f"full report: [bold]{summary['report']}[/]")
