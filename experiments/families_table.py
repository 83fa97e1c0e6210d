"""The comparison table of experiments/FAMILIES.md from the run folder of `bash experiments/families.sh WORK`.

    python experiments/families_table.py WORK

Rows: every family's leave-sources-out folds (loso_<family>/loo.json; resnet18 = loso_mel/ of base.sh), its EER on
the external test (dev_<family>/metrics.json), training time (time_<family>.txt; resnet18: its epochs' seconds in
run/history.csv) and CPU predict speed (speed_<family>/, families.sh's speed step), then the recipe variants
(variant.sh: VARIANTS) and the fusions (families.sh's fuse and fuse-oof steps); and the dev EER per system of each.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

FAMILIES = {"resnet18": "mel", "lfcc-gmm": "lfcc-gmm", "lcnn": "lcnn", "rawnet2": "rawnet2"}
VARIANTS = {"lfcc-gmm_aug": "lfcc-gmm + aug", "lfcc-gmm_40": "lfcc-gmm, 40 LFCC",  # variant.sh NAME: row label
            "lfcc-gmm_60": "lfcc-gmm, 60 LFCC", "lfcc-gmm_60_cmn": "lfcc-gmm, 60 LFCC + CMN",
            "lfcc-gmm_90_cmn": "lfcc-gmm, 90 of 128 + CMN",
            "lfcc-gmm_60_cmn_piper": "lfcc-gmm, 60 + CMN, + Piper fakes",
            "lfcc-gmm_60_cmn_matched": "lfcc-gmm, 60 + CMN, matched spectra",
            "lfcc-gmm_60_cmn_speech": "lfcc-gmm, 60 + CMN, speech frames",
            "lfcc-gmm_60_cmn_speech25": "lfcc-gmm, 60 + CMN, speech frames 25 dB",
            "lfcc-gmm_60_cmn_speech30": "lfcc-gmm, 60 + CMN, speech frames 30 dB", "lcnn_cmn": "lcnn + CMN",
            "lfcc-gmm_60_cmn_limits": "lfcc-gmm, 60 + CMN, 4 band/peak-limited copies",
            "lfcc-gmm_60_cmn_limits1": "lfcc-gmm, 60 + CMN, 1 band/peak-limited copy",
            "lfcc-gmm_60_cmn_wide": "lfcc-gmm, 60 + CMN, wideband fit",
            "lfcc-gmm_60_cmn_wide64": "lfcc-gmm, 60 + CMN, wideband fit, 64 components",
            "lfcc-gmm_60_cmn_wide_speech25": "lfcc-gmm, 60 + CMN, wideband fit, speech frames 25 dB",
            "base_gmm": "lfcc-gmm, 60 + CMN, wideband fit, corpus rebuilt",
            "lfcc-gmm_60_cmn_wide_by_source": "lfcc-gmm, 60 + CMN, wideband fit, frames by source",
            "lfcc-gmm_60_cmn_wide_by_system": "lfcc-gmm, 60 + CMN, wideband fit, frames by system",
            "lfcc-gmm_60_cmn_wide_dc": "lfcc-gmm, 60 + CMN, wideband fit, remove_dc",
            "lfcc-gmm_60_cmn_wide_edge_crest": "lfcc-gmm, 60 + CMN, wideband fit, edge/crest-matched fakes",
            "lfcc-gmm_60_cmn_wide_dc_edge_crest": "lfcc-gmm, 60 + CMN, wideband fit, remove_dc, edge/crest-matched "
                                                  "fakes",
            "lfcc-gmm_60_cmn_wide_dc_edge_crest_mp3": "lfcc-gmm, v8 + an mp3 copy (24 kbit/s) of every train clip",
            "lfcc-gmm_60_cmn_wide_dc_edge_crest_mp3_random": "lfcc-gmm, v8 + an mp3 copy (35-100 kbit/s) of every "
                                                             "train clip",
            "lfcc-gmm_60_cmn_wide_dc_edge_crest_256": "lfcc-gmm, v8 with 256 components",
            "v8k": "lfcc-gmm, v8 + extra real speech (klettres)",
            "v8kh": "lfcc-gmm, v8 + extra real speech (klettres, hedgewars)",
            "v9f": "lfcc-gmm, v9 + extra real speech (fillets)",
            "view7k": "lfcc-gmm, v10 + a narrowband pair on the band below 7 kHz",
            "tux": "lfcc-gmm, v10 + extra real speech (tuxpaint)"}


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
    result = load(found[0]) if found else None
    return next((r for r in result["rows"] if r["backend"] == "torch"), None) if result else None


def fusion_loso(work: Path, name: str) -> dict | None:
    """The leave-sources-out estimate of a fusion fitted on out-of-fold scores (`fuse --scores`): each fold scored by
    a fusion fitted on the other folds."""
    fusion = fused(work, name)
    folds = fusion and fusion["fitted_on"].get("folds")
    if not folds:
        return None
    eers = [f["fused_eer"] for f in folds]
    return {"folds": [{"eer_mean": e} for e in eers], "mean_eer": sum(eers) / len(eers), "worst_eer": max(eers)}


def fused(work: Path, name: str) -> dict | None:
    from spoofscan.checkpoint import load_checkpoint

    return load_checkpoint(work / f"{name}.pt")["fusion"] if (work / f"{name}.pt").is_file() else None


def main() -> None:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else "base-run")
    rows = {family: (loso_of(work, loso_name), load(work / ("dev" if family == "resnet18" else f"dev_{family}")
                                                      / "metrics.json"))
            for family, loso_name in FAMILIES.items()}
    for name, label in VARIANTS.items():
        if (work / f"dev_{name}" / "metrics.json").is_file():
            rows[label] = (loso_of(work, name), load(work / f"dev_{name}" / "metrics.json"))
    fusions = {"fused": "fusion (val)", "fused_oof": "fusion (oof)", "fused_oof_gmm_lcnn": "fusion gmm+lcnn (oof)",
               "fused_cmn_oof": "fusion gmm-60 + gmm-60-cmn (oof)",
               "fused_v6_lcnn_cmn": "fusion gmm-60-cmn + lcnn-cmn (oof)"}
    for name, label in fusions.items():
        if (work / f"dev_{name}" / "metrics.json").is_file():
            rows[label] = (fusion_loso(work, name), load(work / f"dev_{name}" / "metrics.json"))
    print("lfcc-gmm + aug: trained with one codec or noise copy of every clip; lfcc-gmm, 40 (60) LFCC: 40 (60) "
          "cepstral coefficients instead of 20, 40 is spoofscan-base v4, 60 v5; + CMN: each window's cepstral mean "
          "removed (window_cmn); 90 of 128 + CMN: 90 coefficients of 128 filters, with CMN; + Piper fakes: the 60 + "
          "CMN recipe on a corpus whose paired fakes include Piper TTS, on the same folds; matched spectra: the same "
          "corpus with every paired fake given its real clip's long-term spectrum (pair --match-spectrum); speech "
          "frames: pauses left out (gmm_speech_db = 40; 25 dB: 25; 30 dB: 30); lcnn + CMN: the LCNN's recipe with each "
          "window's cepstral mean removed; 4 band/peak-limited copies: the 60 + CMN recipe with remove_dc, trained "
          "with four copies (1 copy: one) of every train clip, each band- or peak-limited at random, both classes "
          "alike; wideband fit: the 60 + CMN recipe fitted on the windows whose band reaches 8.5 kHz, narrowband "
          "windows scored with an offset (gmm_narrowband_hz = 8500), spoofscan-base v7; 64 components: the same "
          "with 64 components a class; wideband fit, speech frames 25 dB: the same with gmm_speech_db = 25; "
          "corpus rebuilt: v7 again, on a corpus rebuilt from scratch on a new machine (base.sh's corpus and gmm "
          "steps); frames by source (system): v7 with each class's frames drawn equally from every source (system), "
          "gmm_balance, on the rebuilt corpus and its folds; remove_dc: v7 with each STFT frame's mean removed, the "
          "same way; edge/crest-matched fakes: the same recipes on a corpus whose paired fakes also have their real "
          "clip's band edge and crest factor (pair --match-edge --match-crest), on the rebuilt corpus's folds (all "
          "variant.sh); fusion (val): every family "
          "fused on split.csv's val clips; fusion (oof): every family fused on the members' out-of-fold LOSO scores "
          "(its LOSO columns: each fold scored by a fusion fitted on the other folds); fusion gmm+lcnn (oof): the "
          "same with two members; fusion gmm-60 + gmm-60-cmn (oof): the 60-coefficient GMMs without and with the "
          "cepstral mean removal (v5 and v6), the same way; fusion gmm-60-cmn + lcnn-cmn (oof): v6 and the LCNN "
          "with the mean removed, the same way.\n")
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
    for name, label in fusions.items():
        fusion = fused(work, name)
        if fusion is None:
            continue
        members = ", ".join(f"{m['train_config'].model} {w:+.3f}" for m, w in zip(fusion["members"], fusion["weights"]))
        fitted = fusion["fitted_on"]
        where = (f"{Path(fitted['data']).name} ({fitted['split']})" if "data" in fitted else
                 "the members' out-of-fold LOSO scores")
        print(f"\n{label}: bias {fusion['bias']:+.3f}, {members}; fitted on {fitted['clips']} clips of {where}, "
              f"EER there {pct(fitted['eer'])} (members: {', '.join(pct(e) for e in fitted['member_eers'])})")
    print("\n### Vocoder demos (dev): EER per system\n")
    devs = {family: dev for family, (_, dev) in rows.items() if dev}
    systems = sorted({s for dev in devs.values() for s in dev["per_system"]})
    print("| system | " + " | ".join(devs) + " |\n|---|" + "---|" * len(devs))
    for system in systems:
        print(f"| {system} | " + " | ".join(pct(d["per_system"].get(system, {}).get("eer")) for d in devs.values())
              + " |")


if __name__ == "__main__":
    main()
