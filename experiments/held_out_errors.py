"""Where a `spoofscan loo` run goes wrong on held-out sources, and two what-ifs on its saved fold models.

  python experiments/held_out_errors.py sources LOO_DIR [LOO_DIR ...]
      per fold and source: real clips flagged and fakes missed at the fold's EER threshold, the real clips' median
      log-odds, and the source's own EER where it has both classes; per fold: the median log-odds of the held-out
      real clips in lossy files (mp3, Ogg, Opus), the fold's EER without the source that errs most, and its sources'
      own EERs averaged over their clips (where that is far below the fold's EER, the sources' scores sit at
      different offsets)
  python experiments/held_out_errors.py holes FILE_OR_GLOB [...]
      spectral holes of audio files: the share of STFT bins from 4 to 10 kHz (active frames) more than 50 dB below
      the strongest bin of their frame in that band; a lossy codec leaves many, a studio recording few
  python experiments/held_out_errors.py average LOO_A LOO_B [--seed-b N]
      fold EERs of the weighted mean of two runs' log-odds (no fitting; weight of B 0-1); --seed-b: B's scores of
      that training seed (`loo --seeds`), e.g. LOO_A LOO_A --seed-b 1 averages two seeds of one run; LOO_A and LOO_B
      may also be two `evaluate` scores.csv files of the same clips (two models on the external test)
  python experiments/held_out_errors.py copies LOO_DIR OUT [--system hifigan_universal]
      every held-out clip re-synthesized by a vocoder (`spoofscan pair` at the clip's own band edge, crest factor and
      bitrate, into OUT, resumably), the copy scored by the clip's fold model: fold EERs of log-odds(clip) - alpha x
      log-odds(copy), and how much each class's copy gains. Does a clip's own re-synthesis take out its source's
      offset? (A real clip should gain more from vocoding than a fake.)
  python experiments/held_out_errors.py frames LOO_DIR [LOO_DIR ...]
      fold EERs of other ways to pool a held-out clip's frame log-likelihood ratios (lfcc-gmm) than their mean
      (v10's score, the first row): median, trimmed mean, mean over std, only the frames within 20, 30 or 40 dB of
      the clip's loudest, and those minus alpha x the quieter frames' mean (a clip scored against its own pauses)
  python experiments/held_out_errors.py ratios LOO_DIR [--seed N]
      fold EERs of other rules that turn a window's frame log-likelihood ratios (lfcc-gmm) into its score than their
      mean (the first row, which reproduces loo's EERs): each ratio clamped to +-BOUND (gmm_llr_clip) for bounds 2-8
      nats, softly bounded (4 tanh(ratio / 4)), a window's frames trimmed at both ends, and a class's gmm_fits GMMs
      taken as one mixture or by the best of them; the narrowband offset set again per rule as train sets it; the
      fold models of training seed N (`loo --seeds`)
  python experiments/held_out_errors.py clean-offset LOO_AUGMENTED LOO_CLEAN
      an lfcc-gmm run trained with `--augment` copies, its narrowband offset set from the clean windows only (the
      windows of LOO_CLEAN's fold stores, same clips, no copies): fold EERs with the stored and that offset

These are analyses of finished runs, for experiments/FAMILIES.md; nothing here trains a model. A run's clip ids are
paths relative to the folder `loo` ran in, its output's parent (base.sh's WORK).
"""
from __future__ import annotations

import argparse
import glob
from collections import defaultdict
from pathlib import Path

import numpy as np
import scipy.signal
from scipy.special import logsumexp
import soundfile as sf
import torch

from spoofscan.checkpoint import load_checkpoint, model_from_checkpoint
from spoofscan.errors import SpoofscanError
from spoofscan.evaluate import score_items
from spoofscan.features.lfcc import remove_window_mean
from spoofscan.io import read_csv
from spoofscan.layouts import Item
from spoofscan.metrics import eer
from spoofscan.splits import write_manifest
from spoofscan.store import Store
from spoofscan.synth import check_systems, pair, paired_name, paired_path
from spoofscan.train import window_summaries

LOSSY = (".mp3", ".ogg", ".opus")


def fold_scores(loo: Path, seed: int = 0) -> dict[str, list[dict]]:
    if loo.is_file():  # an `evaluate` scores.csv: its clips as one set
        rows = read_csv(loo)
        if not rows or not {"id", "label", "log_odds"} <= set(rows[0]):
            raise SystemExit(f"{loo}: not a scores.csv of `spoofscan evaluate` (columns id, label, log_odds)")
        return {"all": rows}
    folds = {p.parent.parent.name: read_csv(p) for p in sorted(loo.glob(f"source=*/report_seed{seed}/scores.csv"))}
    if not folds:
        raise SystemExit(f"{loo}: no source=*/report_seed{seed}/scores.csv; give a finished `spoofscan loo --by "
                         "source` folder (and a seed it was run with)")
    return folds


def sources_table(loo: Path) -> None:
    for fold, rows in fold_scores(loo).items():
        source_of = {r["path"]: r["source"] for r in read_csv(loo / fold / "store" / "index.csv")}
        labels = np.array([r["label"] == "fake" for r in rows])
        scores = np.array([float(r["log_odds"]) for r in rows])
        fold_eer, threshold = eer(labels, scores)
        counts = defaultdict(lambda: [0, 0, 0, 0])  # real, flagged, fake, missed
        for r, fake, score in zip(rows, labels, scores):
            c = counts[source_of[r["id"]]]
            c[2 * fake] += 1
            c[2 * fake + 1] += (score < threshold) if fake else (score >= threshold)
        lossy = [s for r, s in zip(rows, scores) if r["label"] == "real" and r["id"].lower().endswith(LOSSY)]
        worst = max(counts, key=lambda s: counts[s][1] + counts[s][3])
        sources = np.array([source_of[r["id"]] for r in rows])
        own = {s: eer(labels[sources == s], scores[sources == s])[0] for s, c in counts.items() if c[0] and c[2]}
        clips = {s: c[0] + c[2] for s, c in counts.items()}
        within = sum(own[s] * clips[s] for s in own) / max(sum(clips[s] for s in own), 1)
        without = eer(labels[sources != worst], scores[sources != worst])[0]
        print(f"{loo.name} {fold}: EER {100 * fold_eer:.1f} %, {100 * without:.1f} % "
              f"without {worst}; within sources {100 * within:.1f} % ({len(own)} with both classes); lossy real files "
              f"{len(lossy)}" + (f", median log-odds {np.median(lossy):+.2f}" if lossy else ""))
        for source, (real, flagged, fake, missed) in sorted(counts.items(), key=lambda kv: -kv[1][1] - kv[1][3]):
            reals = scores[(sources == source) & ~labels]
            print(f"  {source:50s} real {real:4d} flagged {flagged:4d} | fake {fake:4d} missed {missed:4d}"
                  + (f" | real median log-odds {np.median(reals):+.2f}" if real else "")
                  + (f" | own EER {100 * own[source]:.1f} %" if source in own else ""))


def holes(path: str) -> float:
    wave, rate = sf.read(path, dtype="float32", always_2d=True)
    _, _, spectrum = scipy.signal.stft(wave.mean(axis=1), rate, nperseg=1024)
    level = 20 * np.log10(np.abs(spectrum) + 1e-10)
    freqs = np.fft.rfftfreq(1024, 1 / rate)
    band = level[(freqs > 4000) & (freqs < min(rate / 2 - 500, 10000))]
    band = band[:, level.max(axis=0) > level.max() - 40]  # frames within 40 dB of the loudest
    return float(np.mean(band < band.max(axis=0) - 50))


def averaged(loo_a: Path, loo_b: Path, seed_b: int = 0) -> None:
    a, b = fold_scores(loo_a), fold_scores(loo_b, seed_b)
    if any({r["id"] for r in a[fold]} != {r["id"] for r in b.get(fold, [])} for fold in a):
        raise SystemExit(f"{loo_a} and {loo_b} score different clips; run both on the same folds (loo --folds-from)")
    for weight in (0.0, 0.3, 0.5, 0.7, 1.0):
        eers = []
        for fold in a:
            other = {r["id"]: float(r["log_odds"]) for r in b[fold]}
            labels = np.array([r["label"] == "fake" for r in a[fold]])
            scores = np.array([(1 - weight) * float(r["log_odds"]) + weight * other[r["id"]] for r in a[fold]])
            eers.append(100 * eer(labels, scores)[0])
        print(f"weight of B {weight:.1f}: " + " / ".join(f"{e:.1f}" for e in eers) + f" %, mean {np.mean(eers):.1f} %")


def copy_scores(loo: Path, out: Path, system: str = "hifigan_universal") -> None:
    try:
        check_systems((system,))
    except SpoofscanError as exc:
        raise SystemExit(str(exc)) from None
    folds = fold_scores(loo)
    clips = [(fold, r, (loo.parent / r["id"]).resolve()) for fold, rows in folds.items() for r in rows]
    missing = [path for _, _, path in clips if not path.exists()]
    if missing:
        raise SystemExit(f"{missing[0]}: not found; {loo}'s clip ids are paths relative to {loo.parent}, the "
                         f"folder `loo` ran in ({len(missing)} of {len(clips)} missing)")
    out.mkdir(parents=True, exist_ok=True)
    # every clip labelled real, so that pair re-synthesizes the fakes too; the copies' names follow this order
    write_manifest(out / "clips.csv", [Item(str(path), "real", r["system"], r["group"], r["speaker"], "", fold)
                                       for fold, r, path in clips])
    pair(out / "clips.csv", out, systems=(system,), workers=2, match=("edge", "crest", "bitrate"))
    copy_of = {r["id"]: paired_path(out, system, paired_name(n, path), path) for n, (_, r, path) in enumerate(clips)}
    alphas = (-0.5, -0.25, 0.0, 0.25, 0.5, 1.0)
    eers = []
    for fold, rows in folds.items():
        items = [Item(str(copy_of[r["id"]]), r["label"], r["system"], r["group"]) for r in rows
                 if copy_of[r["id"]].exists()]
        scored, _ = score_items(loo / fold / "run_seed0" / "best.pt", items, device="cpu")
        copy = {row["path"]: row["log_odds"] for row in scored}
        kept = [r for r in rows if str(copy_of[r["id"]]) in copy]
        labels = np.array([r["label"] == "fake" for r in kept])
        clip_scores = np.array([float(r["log_odds"]) for r in kept])
        copied = np.array([copy[str(copy_of[r["id"]])] for r in kept])
        gain = copied - clip_scores
        print(f"{fold}: {len(kept)} of {len(rows)} clips with a scored copy; the copy's gain in log-odds, median: "
              f"real {np.median(gain[~labels]):+.2f}, fake {np.median(gain[labels]):+.2f}")
        eers.append([100 * eer(labels, clip_scores - alpha * copied)[0] for alpha in alphas])
    for alpha, fold_eers in zip(alphas, np.array(eers).T):
        folds_text = " / ".join(f"{e:.1f}" for e in fold_eers)
        print(f"alpha {alpha:+.2f}: {folds_text} %, mean {fold_eers.mean():.1f} %")


@torch.no_grad()
def fit_log_likelihoods(model, images: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(windows, frames, fits, 2) log-likelihoods of the chosen windows' frames under each of a class's gmm_fits GMMs
    and which windows are narrowband."""
    out, narrow = [], []
    for start in range(0, len(chosen), 256):
        windows = torch.from_numpy(np.asarray(images[chosen[start:start + 256]], dtype=np.float32)).squeeze(1)
        narrow.append(model.narrow_windows(windows).numpy())
        if model.config.window_cmn:
            windows = remove_window_mean(windows, model.config.n_lfcc)
        frames = windows.transpose(1, 2)
        x = ((frames - model.row_mean) / model.row_std).flatten(0, 1)
        out.append(model.fit_log_likelihoods(x).view(*frames.shape[:2], model.fits, 2).numpy())
    if not out:
        return np.zeros((0, 1, model.fits, 2), np.float32), np.zeros(0, dtype=bool)
    return np.concatenate(out), np.concatenate(narrow)


def frame_llrs(model, images: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(windows, frames) fake-minus-real frame log-likelihood ratios of the chosen windows (unbounded, whatever the
    model's gmm_llr_clip), and which are narrowband."""
    log_likelihoods, narrow = fit_log_likelihoods(model, images, chosen)
    return window_ratios(log_likelihoods, ("mean", 0.0)), narrow


def window_ratios(log_likelihoods: np.ndarray, rule: tuple[str, float]) -> np.ndarray:
    """(windows, frames, fits, 2) log-likelihoods -> (windows, frames) frame ratios under one rule: a class's GMMs
    by their mean log-likelihood ("mean", the model's own), as one mixture ("mixture") or by the best ("best"), and
    each ratio clamped to +-value ("clamp") or softly bounded, value x tanh(ratio / value) ("tanh")."""
    kind, value = rule
    ll = log_likelihoods
    if kind == "mixture":
        per_class = logsumexp(ll, axis=2) - np.log(ll.shape[2])
    elif kind == "best":
        per_class = ll.max(axis=2)
    else:
        per_class = ll.mean(axis=2)
    ratio = per_class[..., 1] - per_class[..., 0]
    if kind == "clamp":
        return np.clip(ratio, -value, value)
    if kind == "tanh":
        return value * np.tanh(ratio / value)
    return ratio


def window_score(log_likelihoods: np.ndarray, rule: tuple[str, float]) -> np.ndarray:
    """(windows,) scores: the mean of window_ratios, or with ("trim", pct) of the frames between a window's pct-th
    and (100 - pct)-th percentiles."""
    if rule[0] != "trim":
        return window_ratios(log_likelihoods, rule).mean(axis=1)
    ratio = window_ratios(log_likelihoods, ("mean", 0.0))
    low, high = np.percentile(ratio, [rule[1], 100 - rule[1]], axis=1, keepdims=True)
    kept = (ratio >= low) & (ratio <= high)
    return (ratio * kept).sum(axis=1) / kept.sum(axis=1)


RATIO_RULES = ([("unbounded mean", ("mean", 0.0))] + [(f"clamp +-{b}", ("clamp", float(b))) for b in (2, 3, 4, 5, 6, 8)]
               + [("tanh 4", ("tanh", 4.0))] + [(f"trim {p} %", ("trim", float(p))) for p in (5, 10, 25)]
               + [("mixture", ("mixture", 0.0)), ("best GMM", ("best", 0.0))])


def ratio_rules(loo: Path, seed: int = 0) -> None:
    """Fold EERs of each of RATIO_RULES on the fold models of one training seed, the narrowband offset set again for
    each rule as train sets it (val's wideband real windows against every narrowband real window)."""
    torch.set_num_threads(1)
    folds = sorted(p.parent.parent.name for p in loo.glob(f"*/run_seed{seed}/best.pt"))
    if not folds:
        raise SystemExit(f"{loo}: no */run_seed{seed}/best.pt; give a finished `spoofscan loo` folder of an lfcc-gmm")
    eers = defaultdict(list)
    for fold in folds:
        model = model_from_checkpoint(load_checkpoint(loo / fold / f"run_seed{seed}" / "best.pt")).eval()
        store = Store(loo / fold / "store")
        test, val, train = store.split("test"), store.split("val"), store.split("train")
        held_out, narrow = fit_log_likelihoods(model, test.images, np.arange(len(test.images)))
        val_real, val_narrow = fit_log_likelihoods(model, val.images, np.flatnonzero(val.labels == 0))
        train_real = np.flatnonzero(train.labels == 0)
        train_narrow = window_summaries(model, train, model.config)[1][train_real]
        train_narrow_real = fit_log_likelihoods(model, train.images, train_real[train_narrow])[0]
        labels = np.array([c["label"] == "fake" for c in test.clips])
        counts = np.bincount(test.clip_of_window, minlength=len(test.clips))
        for name, rule in RATIO_RULES:
            windows = window_score(held_out, rule)
            if narrow.any():
                reference = window_score(val_real, rule)
                narrow_real = np.r_[reference[val_narrow], window_score(train_narrow_real, rule)]
                windows = windows + narrow * (np.median(reference[~val_narrow]) - np.median(narrow_real))
            eers[name].append(100 * eer(labels, np.bincount(test.clip_of_window, windows, len(test.clips)) / counts)[0])
    print(f"{loo} seed {seed}: held-out EER per fold ({', '.join(folds)}) and their mean")
    for name, fold_eers in eers.items():
        print(f"{name:16s} " + " / ".join(f"{e:4.1f}" for e in fold_eers) + f" = {np.mean(fold_eers):.2f} %")


def clean_offset(loo_aug: Path, loo_clean: Path) -> None:
    torch.set_num_threads(1)
    for fold in sorted(p.name for p in loo_aug.glob("source=*")):
        model = model_from_checkpoint(load_checkpoint(loo_aug / fold / "run_seed0" / "best.pt")).eval()
        store = Store(loo_aug / fold / "store")
        train, val, test = store.split("train"), store.split("val"), store.split("test")
        clean_clips = Store(loo_clean / fold / "store").split("train").clips
        if [c["path"] for c in clean_clips] != [c["path"] for c in train.clips]:
            raise SystemExit(f"{fold}: the two runs' train splits hold different clips")
        is_clean = np.zeros(len(train.images), dtype=bool)  # a clip's own windows come first, then its copies'
        for aug, clean in zip(train.clips, clean_clips):
            is_clean[int(aug["first_window"]):int(aug["first_window"]) + int(clean["n_windows"])] = True
        real_train = np.flatnonzero(train.labels == 0)
        train_llr, train_narrow = frame_llrs(model, train.images, real_train)
        val_llr, val_narrow = frame_llrs(model, val.images, np.flatnonzero(val.labels == 0))
        reference = np.median(val_llr[~val_narrow].mean(axis=1))  # train.narrowband_offset's reference
        narrow_clean = train_narrow & is_clean[real_train]
        offset = reference - np.median(np.r_[train_llr[narrow_clean].mean(axis=1), val_llr[val_narrow].mean(axis=1)])
        test_llr, test_narrow = frame_llrs(model, test.images, np.arange(len(test.images)))
        labels = np.array([c["label"] == "fake" for c in test.clips])
        counts = np.bincount(test.clip_of_window, minlength=len(test.clips))
        results = []
        for value in (float(model.narrowband_offset), offset):
            windows = test_llr.mean(axis=1) + test_narrow * value
            results.append(100 * eer(labels, np.bincount(test.clip_of_window, windows, len(test.clips)) / counts)[0])
        print(f"{fold}: stored offset {float(model.narrowband_offset):+.3f}, EER {results[0]:.1f} %; from clean "
              f"windows {offset:+.3f}, EER {results[1]:.1f} %")


def clip_pools(frames: np.ndarray, loudness_db: np.ndarray) -> dict[str, float]:
    """One clip's frame log-likelihood ratios and their levels (dB) -> its score under each way of pooling them."""
    below = loudness_db.max() - loudness_db
    pools = {"mean": frames.mean(), "median": np.median(frames),
             "trimmed mean 20 %": np.sort(frames)[len(frames) // 5: len(frames) - len(frames) // 5].mean(),
             "mean / std": frames.mean() / frames.std()}
    for cut in (20, 30, 40):
        loud, quiet = frames[below <= cut], frames[below > cut]
        pools[f"loud {cut} dB"] = loud.mean()
        quiet_mean = quiet.mean() if len(quiet) else loud.mean()  # no pauses: the loud frames are the reference
        for alpha in (0.25, 0.5, 1.0):
            pools[f"loud {cut} dB - {alpha} x quiet"] = loud.mean() - alpha * quiet_mean
    return {name: float(score) for name, score in pools.items()}


def pooled_fold_scores(loo: Path, fold: str) -> tuple[list[dict], dict[str, np.ndarray]]:
    """A fold's held-out clips (store index rows) and their scores under each of clip_pools' ways of pooling."""
    model = model_from_checkpoint(load_checkpoint(loo / fold / "run_seed0" / "best.pt")).eval()
    test = Store(loo / fold / "store").split("test")
    llr, narrow = frame_llrs(model, test.images, np.arange(len(test.images)))
    llr = llr + narrow[:, None] * float(getattr(model, "narrowband_offset", 0.0))
    # c0 is the sum of the natural-log filter powers over sqrt(n_filters) (orthonormal DCT)
    db = np.asarray(test.images[:, 0, :], dtype=np.float64) * 10 / np.log(10) / np.sqrt(model.config.n_filters)
    first = np.searchsorted(test.clip_of_window, np.arange(len(test.clips) + 1))  # a clip's windows are contiguous
    pooled = defaultdict(list)
    for clip in range(len(test.clips)):
        windows = slice(first[clip], first[clip + 1])
        for name, score in clip_pools(llr[windows].ravel(), db[windows].ravel()).items():
            pooled[name].append(score)
    return test.clips, {name: np.array(scores) for name, scores in pooled.items()}


def frame_aggregates(loo: Path) -> None:
    """Fold EERs of other ways to pool a held-out clip's frame log-likelihood ratios than their mean."""
    torch.set_num_threads(1)
    folds = sorted(p.parent.parent.name for p in loo.glob("*/run_seed0/best.pt"))
    if not folds:
        raise SystemExit(f"{loo}: no */run_seed0/best.pt; give a finished `spoofscan loo` folder of an lfcc-gmm")
    results = defaultdict(list)
    for fold in folds:
        clips, pooled = pooled_fold_scores(loo, fold)
        labels = np.array([c["label"] == "fake" for c in clips])
        for name, scores in pooled.items():
            results[name].append(100 * eer(labels, scores)[0])
    for name, eers in results.items():
        print(f"{name:28s} " + " / ".join(f"{e:.1f}" for e in eers) + f" %, mean {np.mean(eers):.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("sources", "holes", "average", "copies", "clean-offset", "frames", "ratios"))
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--seed-b", type=int, default=0, help="average: the training seed of LOO_B's scores")
    parser.add_argument("--seed", type=int, default=0, help="ratios: the training seed of the fold models")
    parser.add_argument("--system", default="hifigan_universal", help="copies: the vocoder that re-synthesizes")
    args = parser.parse_args()
    if args.what == "sources":
        for loo in args.paths:
            sources_table(Path(loo))
    elif args.what == "holes":
        files = sorted(f for pattern in args.paths for f in glob.glob(pattern, recursive=True))
        if not files:
            raise SystemExit(f"no audio file matches {' '.join(args.paths)}; quote a glob such as 'DIR/**/*.mp3'")
        shares = [holes(f) for f in files]
        print(f"{len(files)} files: spectral holes {100 * np.mean(shares):.1f} % on average "
              f"({100 * min(shares):.1f}-{100 * max(shares):.1f} %)")
    elif args.what == "average":
        averaged(Path(args.paths[0]), Path(args.paths[1]), args.seed_b)
    elif args.what == "copies":
        if len(args.paths) != 2:
            raise SystemExit("copies takes LOO_DIR OUT: a finished `loo` folder and a folder for the copies")
        copy_scores(Path(args.paths[0]), Path(args.paths[1]), args.system)
    elif args.what == "frames":
        for loo in args.paths:
            frame_aggregates(Path(loo))
    elif args.what == "ratios":
        for loo in args.paths:
            ratio_rules(Path(loo), args.seed)
    else:
        clean_offset(Path(args.paths[0]), Path(args.paths[1]))


if __name__ == "__main__":
    main()
