"""The comparison table of experiments/FAMILIES.md from the run folder of `bash experiments/families.sh WORK`.

    python experiments/families_table.py WORK

Rows: every family's leave-sources-out folds (loso_<family>/loo.json; resnet18 = loso_mel/ of base.sh), its EER on
the external test (dev_<family>/metrics.json), training time (time_<family>.txt; resnet18: its epochs' seconds in
run/history.csv) and CPU predict speed (speed_<family>/; resnet18: benchmarks/results/inference_cpu_base.json, the
same model in fp16), then the fusion; and the dev EER per system of each.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = {"resnet18": "mel", "lfcc-gmm": "lfcc-gmm", "lcnn": "lcnn", "rawnet2": "rawnet2"}


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def loso_of(work: Path, name: str) -> dict | None:
    """loo.json, or the folds that finished of an interrupted protocol."""
    loso = load(work / f"loso_{name}" / "loo.json")
    if loso is None:
        finished = [load(p) for p in sorted(work.glob(f"loso_{name}/source=fold*/report_seed0/metrics.json"))]
        if finished:
            eers = [m["eer"] for m in finished]
            loso = {"folds": [{"eer_mean": e} for e in eers], "mean_eer": None, "worst_eer": None}
    return loso


def train_seconds(work: Path, family: str) -> float | None:
    timed = work / f"time_{family}.txt"
    if timed.is_file() and timed.read_text().split():  # empty while the run is going
        return float(timed.read_text().split()[-1])
    history = work / "run" / "history.csv"
    if family == "resnet18" and history.is_file():
        return sum(float(r["seconds"]) for r in csv.DictReader(history.open()))
    return None


def speed(work: Path, family: str) -> dict | None:
    found = sorted((work / f"speed_{family}").glob("*.json"))
    result = load(found[0]) if found else load(ROOT / "benchmarks" / "results" / "inference_cpu_base.json") \
        if family == "resnet18" else None
    return next((r for r in result["rows"] if r["backend"] == "torch"), None) if result else None


def main() -> None:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else "base-run")
    rows = {family: (loso_of(work, loso_name), load(work / ("dev" if family == "resnet18" else f"dev_{family}")
                                                      / "metrics.json"))
            for family, loso_name in FAMILIES.items()}
    rows["fusion"] = (None, load(work / "dev_fused" / "metrics.json"))
    print("| detector | LOSO folds 0 / 1 / 2 | LOSO mean | LOSO worst | dev EER (95 % interval) | dev AUC | "
          "train time | CPU predict (60 s file / 4 s clips) |\n|---|---|---|---|---|---|---|---|")
    for family, (loso, dev) in rows.items():
        folds = " / ".join(pct(f["eer_mean"]) for f in loso["folds"]) if loso else "-"
        dev_eer = (f"{pct(dev['eer'])} ({pct(dev['bootstrap_eer']['ci95_low'])}-"
                   f"{pct(dev['bootstrap_eer']['ci95_high'])})") if dev else "-"
        seconds = train_seconds(work, family)
        fast = speed(work, family)
        print(f"| {family} | {folds} | {pct(loso and loso['mean_eer'])} | {pct(loso and loso['worst_eer'])} | "
              f"{dev_eer} | {dev['roc_auc']:.3f} | " if dev else f"| {family} | {folds} | - | - | - | - | ", end="")
        print(f"{seconds / 60:.1f} min | " if seconds else "- | ", end="")
        print(f"{fast['x_real_time']:.0f}x real time / {fast['clips_per_s_4s']:.1f} clips/s |" if fast else "- |")
    if (work / "fused.pt").is_file():
        from spoofscan.checkpoint import load_checkpoint

        fusion = load_checkpoint(work / "fused.pt")["fusion"]
        members = ", ".join(f"{m['train_config'].model} {w:+.3f}" for m, w in zip(fusion["members"], fusion["weights"]))
        fitted = fusion["fitted_on"]
        print(f"\nfusion: bias {fusion['bias']:+.3f}, {members}; fitted on {fitted['clips']} clips of "
              f"{Path(fitted['data']).name} ({fitted['split']}), EER there {pct(fitted['eer'])} (members: "
              f"{', '.join(pct(e) for e in fitted['member_eers'])})")
    print("\n## Dev EER per system\n")
    devs = {family: dev for family, (_, dev) in rows.items() if dev}
    systems = sorted({s for dev in devs.values() for s in dev["per_system"]})
    print("| system | " + " | ".join(devs) + " |\n|---|" + "---|" * len(devs))
    for system in systems:
        print(f"| {system} | " + " | ".join(pct(d["per_system"].get(system, {}).get("eer")) for d in devs.values())
              + " |")


if __name__ == "__main__":
    main()
