"""Which fakes carry which shortcut cue: every clip's properties as a model sees it (`audit --as-model`), and for each
fake system the AUC of each property alone against all real clips (0.5: no cue; below 0.5: lower than the real clips).

    python experiments/audit_cues.py WORK/paired/manifest.csv configs/base.toml [--workers 2]

The paired fakes of `spoofscan pair` (its systems: HiFi-GAN, WORLD, Griffin-Lim, LPC, ...) are listed by system,
the other fakes together as "published". What FAMILIES.md says about where v6's remaining audit cues come from was measured with it.
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from spoofscan.cli import feature_config_from
from spoofscan.errors import SpoofscanError
from spoofscan.layouts import load_items
from spoofscan.metrics import roc_auc
from spoofscan.shortcuts import model_view_properties
from spoofscan.synth import SYSTEMS

CUES = ("bandwidth_hz", "peak_db", "dc_offset", "clipped_fraction", "duration_s", "lead_silence_s", "trail_silence_s")


def kind(path: str, label: str, system: str) -> str:
    if label == "real":
        return "real"
    paired = system in SYSTEMS and f"/fake/{system}/" in "/" + Path(path).as_posix()  # pair's OUT/fake/SYSTEM/
    return f"paired {system}" if paired else "published"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("config", help="the model's TOML: its [features] decide what the model sees")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.workers < 1:
        print(f"audit_cues.py: --workers {args.workers}: use 1 or more", file=sys.stderr)
        return 2
    try:
        config = feature_config_from(args.config, {})
        items = load_items(args.manifest)
    except SpoofscanError as exc:
        print(f"audit_cues.py: {exc}", file=sys.stderr)
        return 2
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(model_view_properties, [(it.path, config, (), 0.0) for it in items], chunksize=16))
    groups: dict[str, list[dict]] = {}
    for it, (properties,) in zip(items, rows):
        if "error" not in properties:
            groups.setdefault(kind(it.path, it.label, it.system), []).append(properties)
    if "real" not in groups or len(groups) < 2:
        print("audit_cues.py: the manifest needs real and fake clips", file=sys.stderr)
        return 2
    real = groups.pop("real")
    print(f"| fakes | clips | {' | '.join(CUES)} |\n|---|---|{'---|' * len(CUES)}")
    for name, fakes in sorted(groups.items()):
        aucs = [roc_auc(np.r_[np.zeros(len(real)), np.ones(len(fakes))],
                        np.r_[[r[c] for r in real], [f[c] for f in fakes]]) for c in CUES]
        print(f"| {name} | {len(fakes)} | {' | '.join(f'{a:.2f}' for a in aucs)} |")
    medians = " ".join(f"{c} {np.median([r[c] for r in real]):.4g}" for c in CUES[:2])
    print(f"\n{len(real)} real clips; their medians: {medians}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
