"""The tables of experiments/BASE_V2.md from a run folder of `bash experiments/base_v2.sh WORK`.

    python experiments/base_table.py WORK
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def main() -> None:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else "base-run")
    print("## File properties alone (`spoofscan audit --shortcuts`, AUC out of fold)\n")
    audits = {name: load(work / f"shortcuts_{name}.json") for name in ("public", "paired")}
    audits = {name: a["shortcuts"] for name, a in audits.items() if a}
    if audits:
        cues = list(next(iter(audits.values()))["cue_auc"])
        print("| property | " + " | ".join(audits) + " |\n|---|" + "---|" * len(audits))
        print("| **all together** | " + " | ".join(f"**{a['auc']:.3f}**" for a in audits.values()) + " |")
        for cue in cues:
            print(f"| {cue} | " + " | ".join(f"{a['cue_auc'][cue]:.3f}" for a in audits.values()) + " |")
    print("\n## Leave sources out (3 folds) and the external test (vocoder-demos-dev)\n")
    print("| detector | fold EERs | LOSO mean | LOSO worst | dev EER (95 % interval) | dev AUC |\n|---|---|---|---|---|---|")
    gmm = load(work / "gmm" / "lfcc_gmm.json")
    loso = load(work / "loso_mel" / "loo.json")
    if loso is None:  # an interrupted protocol: the folds that finished
        finished = [load(p) for p in sorted(work.glob("loso_mel/source=fold*/report_seed0/metrics.json"))]
        if finished:
            eers = [m["eer"] for m in finished]
            loso = {"folds": [{"eer": e} for e in eers], "mean_eer": sum(eers) / len(eers), "worst_eer": max(eers)}
    for name, loso, dev in (("ResNet-18, log-mel (configs/base_v2.toml)", loso,
                             load(work / "dev" / "metrics.json")),
                            ("LFCC-GMM (experiments/lfcc_gmm.py)", gmm, gmm["dev"] if gmm else None)):
        if loso and "folds" in loso:
            folds = ", ".join(pct(f.get("eer_mean", f.get("eer", 0))) for f in loso["folds"])
            mean = loso.get("mean_eer", loso.get("loso_mean_eer"))
            worst = loso.get("worst_eer", loso.get("loso_worst_eer"))
            cells = [folds, pct(mean), pct(worst)]
        else:
            cells = ["-", "-", "-"]
        if dev:
            b = dev.get("bootstrap_eer", {})
            interval = f" ({pct(b['ci95_low'])}-{pct(b['ci95_high'])})" if "ci95_low" in b else ""
            cells += [pct(dev["eer"]) + interval, f"{dev['roc_auc']:.3f}"]
        else:
            cells += ["-", "-"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    dev = load(work / "dev" / "metrics.json")
    if dev:
        print("\n## spoofscan-base v2 on vocoder-demos-dev, per system (each system's fakes against all real clips)\n")
        print("| system | fake clips | EER | LFCC-GMM EER |\n|---|---|---|---|")
        for system, row in dev["per_system"].items():
            other = gmm["dev"]["per_system"].get(system) if gmm else None
            print(f"| {system} | {row['n_fake']} | {pct(row['eer'])} | {pct(other) if other is not None else '-'} |")


if __name__ == "__main__":
    main()
