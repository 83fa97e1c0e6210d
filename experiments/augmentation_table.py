"""Section 2a of GENERALIZATION.md: EER (%) per degradation condition, mean over training seeds 0 and 1."""
import csv
from pathlib import Path

CONDITIONS = ["clean", "mp3", "ogg_vorbis", "telephone", "g722", "noise_20db", "noise_10db", "reverb",
              "resample_16k", "gain_-20db"]


def eers(*folders):
    out = {}
    for folder in folders:
        path = Path(folder) / "degradation.csv"
        if path.exists():
            out.update({r["condition"]: 100 * float(r["eer"]) for r in csv.DictReader(open(path))})
    return out


models = {"none (windows)": (eers("degrade_window", "degrade_window_g722"), eers("degrade_window_s1"))}
for aug in ["mp3", "ogg_vorbis", "telephone", "g722", "noise_20db", "noise_10db", "noise_random", "reverb",
            "resample_16k", "specaugment"]:
    models[aug] = (eers(f"degrade_aug_{aug}"), eers(f"degrade_aug_{aug}_s1"))
print("| trained with | " + " | ".join(CONDITIONS) + " |")
print("|" + " --- |" * (len(CONDITIONS) + 1))
for name, (s0, s1) in models.items():
    if not s1:
        continue
    print(f"| {name} | " + " | ".join(f"{(s0[c] + s1[c]) / 2:.1f}" for c in CONDITIONS) + " |")
