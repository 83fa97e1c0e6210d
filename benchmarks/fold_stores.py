"""A `loo` fold's store made by extracting every clip's features against copying the windows an earlier fold's
store holds (prepare's reuse, what loo does from its second fold on): seconds for each, on the same clips, in one
run, and whether the two stores are the same bit for bit.

    python benchmarks/fold_stores.py SPLIT_CSV STORE [--config configs/base.toml] [--workers 2]

SPLIT_CSV: a fold's clips (e.g. WORK/loso_base_gmm/source=fold1/split.csv after base.sh); STORE: another fold's
store of the same corpus and config (e.g. WORK/loso_base_gmm/source=fold0/store).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import save, table
from spoofscan.config import FeatureConfig, from_dict, load_toml
from spoofscan.layouts import load_items
from spoofscan.store import Store, prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("split", type=Path)
    parser.add_argument("store", type=Path)
    parser.add_argument("--config", type=Path, default=Path(__file__).parents[1] / "configs" / "base.toml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    features = from_dict(FeatureConfig, load_toml(args.config).get("features", {}), source=str(args.config))
    items = load_items(args.split)
    rows, stores = [], {}
    with tempfile.TemporaryDirectory(dir=args.store.parent) as scratch:
        for name, reuse in (("extracted", ()), ("copied from STORE", (args.store,))):
            start = time.perf_counter()
            stores[name] = Store(prepare(items, Path(scratch) / name.split()[0], features, workers=args.workers,
                                         progress=False, reuse=reuse))
            rows.append({"fold store": name, "clips": len(items), "seconds": time.perf_counter() - start})
        same = stores["extracted"].header["files"] == stores["copied from STORE"].header["files"]
    table(rows)
    speedup = rows[0]["seconds"] / rows[1]["seconds"]
    print(f"copying is {speedup:.1f}x extracting; the stores are {'the same' if same else 'DIFFERENT'} bit for bit")
    save("fold_stores", {"split": str(args.split), "store": str(args.store), "results": rows, "speedup": speedup,
                         "same_bit_for_bit": same}, args.out)
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
