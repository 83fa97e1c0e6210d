"""GMM fitting: frames/s of spoofscan's EM (models.gmm.fit_diagonal_gmm, float32 matrix products) against
scikit-learn's GaussianMixture (float64, covariance_type="diag"), the EM spoofscan used up to v13, on the same frames.

Frames: a synthetic mixture shaped like spoofscan-base's (180 standardized rows, twice as many clusters as
components, of varied spread), or with --store the fake frames of a prepared LFCC store's train split (standardized;
base.sh makes one). Both fit the same number of components for the same number of EM iterations (scikit-learn's
convergence test is switched off, tol=0, as it never stops early on real LFCC frames); both include their k-means
start. The mean log-likelihood of held-out frames (50,000 more of the same) shows what the speed costs in fit.

    python benchmarks/gmm_em.py [--frames 200000] [--components 128] [--iterations 10] [--store STORE]

With --curve K, spoofscan's EM alone, and the held-out (and a 50,000-frame train sample's) mean log-likelihood
after every K iterations, and the held-out one against the last's: how many iterations a fit needs
(configs/base.toml's gmm_iterations).
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.special import logsumexp

from common import save, table
from spoofscan.models.gmm import (component_log_probs, expanded_frames, fit_diagonal_gmm, maximization,
                                  sufficient_statistics)


def mixture(rng: np.random.Generator, count: int, centers: np.ndarray, spreads: np.ndarray) -> np.ndarray:
    which = rng.integers(len(centers), size=count)
    return (centers[which] + rng.normal(size=(count, centers.shape[1])) * spreads[which, None]).astype(np.float32)


def store_frames(path: Path, count: int, rng: np.random.Generator) -> np.ndarray:
    """count random fake frames (window columns) of a store's train split, standardized, float32."""
    from spoofscan.store import Store
    from spoofscan.train import sample_frames

    frames = sample_frames(Store(path).split("train"), 1, count, rng)
    return ((frames - frames.mean(axis=0)) / np.maximum(frames.std(axis=0), 0.01)).astype(np.float32)


def mean_log_likelihood(frames: np.ndarray, parameters: tuple[torch.Tensor, ...]) -> float:
    return float(logsumexp(component_log_probs(torch.from_numpy(frames), *parameters).double().numpy(), axis=1).mean())


def curve(frames: np.ndarray, held_out: np.ndarray, args: argparse.Namespace) -> None:
    """spoofscan's EM from its k-means start, the mean log-likelihoods every args.curve iterations."""
    parameters = fit_diagonal_gmm(torch.from_numpy(frames), args.components, iterations=0, seed=0)
    expanded, rows, start = expanded_frames(torch.from_numpy(frames)), [], time.perf_counter()
    for iteration in range(1, args.iterations + 1):
        parameters = maximization(*sufficient_statistics(expanded, *parameters), reg_covar=1e-3)
        if iteration % args.curve == 0:
            rows.append({"iterations": iteration, "seconds": time.perf_counter() - start,
                         "train_ll": mean_log_likelihood(frames[:50_000], parameters),
                         "held_out_ll": mean_log_likelihood(held_out, parameters)})
    for row in rows:  # what stopping here gives up, in nats a frame
        row["held_out_vs_last"] = row["held_out_ll"] - rows[-1]["held_out_ll"]
    table(rows)
    save("gmm_em_curve", {"frames": args.frames, "components": args.components, "store": str(args.store),
                          "results": rows}, args.out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=180)
    parser.add_argument("--components", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--store", type=Path, default=None, help="an LFCC store: fit its frames, not synthetic ones")
    parser.add_argument("--curve", type=int, default=0, help="only spoofscan's EM, its fit every CURVE iterations")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not 0 <= args.curve <= args.iterations:
        parser.error(f"--curve {args.curve}: use 1 to --iterations ({args.iterations}), or 0 for the speed comparison")
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    if args.store is None:
        centers = rng.normal(0, 1, (2 * args.components, args.rows))
        spreads = rng.uniform(0.3, 1.0, 2 * args.components)
        frames, held_out = mixture(rng, args.frames, centers, spreads), mixture(rng, 50_000, centers, spreads)
    else:
        every = store_frames(args.store, args.frames + 50_000, rng)
        frames, held_out = every[:args.frames], every[args.frames:]
    if args.curve:
        return curve(frames, held_out, args)
    rows = []
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a fixed iteration count is the point here
        reference = GaussianMixture(args.components, covariance_type="diag", max_iter=args.iterations, tol=0,
                                    random_state=0, reg_covar=1e-3).fit(frames.astype(np.float64))
    seconds = time.perf_counter() - start
    rows.append({"em": "scikit-learn GaussianMixture (float64)", "seconds": seconds,
                 "frames_per_s": args.frames * args.iterations / seconds, "held_out_ll": reference.score(held_out)})
    start = time.perf_counter()
    parameters = fit_diagonal_gmm(torch.from_numpy(frames), args.components, iterations=args.iterations, seed=0)
    seconds = time.perf_counter() - start
    rows.append({"em": "spoofscan fit_diagonal_gmm (float32)", "seconds": seconds,
                 "frames_per_s": args.frames * args.iterations / seconds,
                 "held_out_ll": mean_log_likelihood(held_out, parameters)})
    table(rows)
    speedup = rows[0]["seconds"] / rows[1]["seconds"]
    print(f"spoofscan's EM is {speedup:.1f}x scikit-learn's; held-out log-likelihood "
          f"{rows[1]['held_out_ll'] - rows[0]['held_out_ll']:+.3f} nats a frame")
    save("gmm_em" if args.store is None else "gmm_em_store", {
        "frames": args.frames, "rows": frames.shape[1], "components": args.components,
        "store": None if args.store is None else str(args.store), "iterations": args.iterations, "results": rows,
        "speedup": speedup}, args.out)


if __name__ == "__main__":
    main()
