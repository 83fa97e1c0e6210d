"""Training on a packed store: the seed report's two-phase recipe for every network family, fast, resumable,
DDP-ready; EM for the GMM family.

Phase 1 (epochs before unfreeze_epoch): only the model's head trains, Adam at lr. Phase 2: everything trains
with a fresh Adam at lr * finetune_lr_factor and a fresh ReduceLROnPlateau on validation loss (the seed kept
a scheduler bound to its discarded optimizer). The same code runs under `torchrun --nproc-per-node N`:
each rank reads its share of the batches, metrics are summed over ranks, and only rank 0 writes.
lfcc-gmm has no epochs: fit_gmm fits its two GMMs by EM on frames sampled from the train split.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from rich.console import Console
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from .augment import augment_batch
from .checkpoint import load_checkpoint, save_checkpoint, versions
from .config import FeatureConfig, TrainConfig, to_dict
from .errors import SpoofscanError
from .features import input_statistics, model_input
from .io import save_figure, write_csv, write_json
from .metrics import eer
from .models import build_model, check_input, count_trainable, set_backbone_frozen, use_channels_last
from .scores import pool_windows, sigmoid
from .store import SplitData, Store

HISTORY_FIELDS = ["epoch", "phase", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "val_eer",
                  "seconds", "images_per_s"]
console = Console(soft_wrap=True)


@dataclass
class Cluster:
    """Where this process sits: rank 0 of 1 without torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def start_cluster(device: torch.device) -> Cluster:
    """Join the torchrun process group when WORLD_SIZE > 1 (NCCL on CUDA, gloo on the CPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Cluster()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Cluster(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(name: str) -> torch.device:
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SpoofscanError(f"--device {name}: CUDA is not available here; use --device cpu or auto")
        if device.index is None:
            device = torch.device(f"cuda:{local_rank}")
    return device


def amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: bf16 or fp16 on CUDA; never on the CPU (bf16 there is 10-40x slower)."""
    if device.type != "cuda" or config.amp == "off":
        return None
    if config.amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if config.amp == "bf16" else torch.float16


class BatchLoader:
    """Batches of (window indices, stored windows, labels) from a store split: one memory-mapped read per batch.

    Shuffled loaders use DistributedSampler (seeded by seed and epoch, so resuming replays the same order);
    ordered loaders give each rank every world_size-th window exactly once. The next batch is read in a
    background thread while the current one is on the device.
    """

    def __init__(self, split: SplitData, batch_size: int, *, shuffle: bool, seed: int, cluster: Cluster,
                 device: torch.device, max_batches: int = 0) -> None:
        self.split, self.batch_size, self.shuffle, self.seed = split, batch_size, shuffle, seed
        self.cluster, self.device, self.max_batches = cluster, device, max_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self) -> np.ndarray:
        n = len(self.split.labels)
        if not self.shuffle:
            return np.arange(self.cluster.rank, n, self.cluster.world_size)
        sampler = DistributedSampler(range(n), num_replicas=self.cluster.world_size, rank=self.cluster.rank,
                                     shuffle=True, seed=self.seed)
        sampler.set_epoch(self.epoch)
        return np.fromiter(iter(sampler), dtype=np.int64)

    def batches(self) -> list[np.ndarray]:
        indices = self._indices()
        batches = [np.sort(indices[i:i + self.batch_size]) for i in range(0, len(indices), self.batch_size)]
        return batches[:self.max_batches] if self.max_batches else batches

    def _read(self, index: np.ndarray) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        images = torch.from_numpy(np.ascontiguousarray(self.split.images[index]))
        labels = torch.from_numpy(self.split.labels[index])
        if self.device.type == "cuda":
            images, labels = images.pin_memory(), labels.pin_memory()
        return index, images, labels

    def __iter__(self):
        batches = self.batches()
        if not batches:
            return
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(self._read, batches[0])
            for i in range(len(batches)):
                index, images, labels = future.result()
                if i + 1 < len(batches):
                    future = pool.submit(self._read, batches[i + 1])
                yield (index, images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True))


def _sum_over_ranks(values: list[float], device: torch.device, cluster: Cluster) -> list[float]:
    if cluster.world_size == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


@torch.no_grad()
def window_logits(model: nn.Module, split: SplitData, *, features: FeatureConfig, batch_size: int,
                  device: torch.device, amp: torch.dtype | None = None, cluster: Cluster | None = None) -> np.ndarray:
    """(windows, 2) float32 logits for every window of a split, gathered from all ranks."""
    cluster = cluster or Cluster()
    model.eval()
    loader = BatchLoader(split, batch_size, shuffle=False, seed=0, cluster=cluster, device=device)
    parts_index, parts_logits = [], []
    for index, images, _ in loader:
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits = model(model_input(images, features))
        parts_index.append(index)
        parts_logits.append(logits.float().cpu().numpy())
    index = np.concatenate(parts_index) if parts_index else np.zeros(0, np.int64)
    logits = np.concatenate(parts_logits) if parts_logits else np.zeros((0, 2), np.float32)
    if cluster.world_size > 1:
        gathered: list = [None] * cluster.world_size
        dist.all_gather_object(gathered, (index, logits))
        index = np.concatenate([g[0] for g in gathered])
        logits = np.concatenate([g[1] for g in gathered])
    out = np.zeros((len(split.labels), 2), np.float32)
    out[index] = logits
    return out


def validate(model: nn.Module, split: SplitData, *, features: FeatureConfig, batch_size: int, device: torch.device,
             amp: torch.dtype | None = None, cluster: Cluster | None = None) -> dict[str, float]:
    """Window-level loss and accuracy, and the clip-level EER and its threshold (P(fake) units)."""
    logits = window_logits(model, split, features=features, batch_size=batch_size, device=device, amp=amp,
                           cluster=cluster)
    labels = split.labels
    loss = float(nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)))
    clip_scores = pool_windows(logits[:, 1] - logits[:, 0], split.clip_of_window, len(split.clips))
    clip_labels = np.array([int(c["label"] == "fake") for c in split.clips])
    rate, threshold = eer(clip_labels, clip_scores) if len(set(clip_labels)) == 2 else (float("nan"), 0.0)
    return {"val_loss": loss, "val_acc": float((logits.argmax(1) == labels).mean()), "val_eer": rate,
            "threshold": float(sigmoid(threshold)), "threshold_log_odds": float(threshold)}


def make_criterion(config: TrainConfig, labels: np.ndarray, device: torch.device) -> nn.Module:
    """Cross-entropy, optionally weighted by inverse class frequency and with label smoothing."""
    weight = None
    if config.class_balance:
        counts = np.bincount(labels, minlength=2).astype(np.float64)
        weight = torch.tensor(counts.sum() / (2 * np.maximum(counts, 1)), dtype=torch.float32, device=device)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)


def train_one_epoch(model: nn.Module, loader: BatchLoader, optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, criterion: nn.Module, config: TrainConfig, *,
                    features: FeatureConfig, amp: torch.dtype | None, device: torch.device,
                    cluster: Cluster) -> dict[str, float]:
    model.train()
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    start = time.perf_counter()
    for _, images, labels in loader:
        x = model_input(images, features)
        if features.input_kind == "image":  # the seed's image augmentations; other inputs train on clean windows
            x = augment_batch(x, config)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits = model(x)
            loss = criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        loss_sum += loss.detach() * len(labels)  # stays on the device: no sync per step
        correct += (logits.detach().argmax(1) == labels).sum()
        seen += len(labels)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    loss_total, correct_total, seen_total = _sum_over_ranks([loss_sum.item(), correct.item(), seen], device, cluster)
    if seen_total == 0:
        raise SpoofscanError("the training split has no windows; prepare a store whose train split holds clips")
    return {"train_loss": loss_total / seen_total, "train_acc": correct_total / seen_total, "seconds": seconds,
            "images_per_s": seen_total / seconds}


def _sync_buffers(model: nn.Module, cluster: Cluster) -> None:
    """Give every rank rank 0's BatchNorm statistics, so validation on all ranks sees the model rank 0 saves."""
    if cluster.world_size > 1:
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def _optimizer(model: nn.Module, config: TrainConfig, lr: float):
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr,
                                 weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", patience=config.plateau_patience,
                                                           factor=config.plateau_factor)
    return optimizer, scheduler


def _wrap(model: nn.Module, config: TrainConfig, device: torch.device, cluster: Cluster) -> nn.Module:
    """DDP (re-built at the phase change, because DDP registers only the parameters that train) and compile."""
    wrapped: nn.Module = model
    if cluster.world_size > 1:
        wrapped = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return torch.compile(wrapped) if config.compile else wrapped


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _plot_history(path: Path, history: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        axes[0].plot(epochs, [h[key] for h in history], marker="o", label=label)
    for key, label in (("train_acc", "train (windows)"), ("val_acc", "validation (windows)")):
        axes[1].plot(epochs, [h[key] for h in history], marker="o", label=label)
    axes[2].plot(epochs, [h["val_eer"] for h in history], marker="o", color="C3")
    for ax, title in zip(axes, ("loss", "accuracy", "validation EER (clips)")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend()
    axes[1].legend()
    save_figure(path, fig)


def train(store_path: str | Path, out_dir: str | Path, config: TrainConfig, *, resume: bool = False) -> Path:
    """Train on a store's train split, validate on its val split, write the run to out_dir. Returns best.pt."""
    out_dir = Path(out_dir)
    store = Store(store_path)
    features: FeatureConfig = store.feature_config
    if resume:
        saved = load_checkpoint(out_dir / "last.pt", feature_config=features)
        config = saved["train_config"]
    elif (out_dir / "last.pt").exists():
        raise SpoofscanError(f"{out_dir} already holds a run; pass --resume to continue it or choose another --out")
    device = pick_device(config.device)
    cluster = start_cluster(device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    amp = amp_dtype(config, device)
    check_input(config.model, features, where=f"store {store.path}")
    train_split, val_split = store.split("train"), store.split("val")
    if len(val_split.labels) == 0:
        raise SpoofscanError(f"{store.path}: the val split is empty; split with a validation fraction (--val 0.1)")
    if config.model == "lfcc-gmm":
        if cluster.world_size > 1:
            raise SpoofscanError("lfcc-gmm is fitted by EM in one process; run it without torchrun")
        return fit_gmm(store, out_dir, config, device=device)

    model = build_model(config.model, features, "none" if resume else config.weights).to(device)
    if config.channels_last:
        use_channels_last(model)
    start_epoch, history, best_loss, bad_epochs = 1, [], math.inf, 0
    # per-row statistics of the training windows (models that standardize their input), fixed for the whole run
    input_norm = saved.get("input_norm") if resume else input_statistics(train_split.images, features)
    if input_norm is not None:
        model.set_input_norm(**input_norm)
    if resume:
        model.load_state_dict(saved["model"])
        start_epoch = saved["epoch"] + 1
        history, best_loss, bad_epochs = saved["history"], saved["best_val_loss"], saved["bad_epochs"]
    phase = 1 if start_epoch < config.unfreeze_epoch else 2
    set_backbone_frozen(model, frozen=phase == 1)
    optimizer, scheduler = _optimizer(model, config, config.lr if phase == 1 else config.lr * config.finetune_lr_factor)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    if resume:
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["rng"]["torch"])
        if device.type == "cuda" and "cuda" in saved["rng"]:
            torch.cuda.set_rng_state(saved["rng"]["cuda"], device)
    wrapped = _wrap(model, config, device, cluster)
    criterion = make_criterion(config, train_split.labels, device)
    loader = BatchLoader(train_split, config.batch_size, shuffle=True, seed=config.seed, cluster=cluster,
                         device=device, max_batches=config.max_train_batches)
    run_info = {"store": str(store.path.resolve()), "feature_config": to_dict(features), "train_config": to_dict(config),
                "device": str(device), "world_size": cluster.world_size, "amp": str(amp), "versions": versions()}
    if cluster.main:
        write_json(out_dir / "config.json", run_info)
        console.print(f"training {config.model} on {device} x{cluster.world_size}, amp={amp}, "
                      f"{len(train_split.labels)} train / {len(val_split.labels)} val {features.input_kind} windows")

    for epoch in range(start_epoch, config.epochs + 1):
        if epoch == config.unfreeze_epoch and phase == 1:
            phase = 2
            set_backbone_frozen(model, frozen=False)
            optimizer, scheduler = _optimizer(model, config, config.lr * config.finetune_lr_factor)
            wrapped = _wrap(model, config, device, cluster)
        loader.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        stats = train_one_epoch(wrapped, loader, optimizer, scaler, criterion, config, features=features,
                                amp=amp, device=device, cluster=cluster)
        _sync_buffers(model, cluster)
        val = validate(model, val_split, features=features, batch_size=config.batch_size * 2,
                       device=device, amp=amp, cluster=cluster)
        scheduler.step(val["val_loss"])
        improved = val["val_loss"] < best_loss
        best_loss, bad_epochs = (val["val_loss"], 0) if improved else (best_loss, bad_epochs + 1)
        row = {"epoch": epoch, "phase": phase, "lr": lr, **{k: stats[k] for k in ("train_loss", "train_acc")},
               **{k: val[k] for k in ("val_loss", "val_acc", "val_eer")}, "seconds": stats["seconds"],
               "images_per_s": stats["images_per_s"]}
        history.append(row)
        if cluster.main:
            state = {"model": model.state_dict(), "feature_config": to_dict(features), "train_config": to_dict(config),
                     "epoch": epoch, "threshold": val["threshold"], "threshold_log_odds": val["threshold_log_odds"],
                     "metrics": {k: row[k] for k in ("val_loss", "val_acc", "val_eer")}, "history": history,
                     "best_val_loss": best_loss, "bad_epochs": bad_epochs, "trainable_parameters": count_trainable(model)}
            if input_norm is not None:
                state["input_norm"] = input_norm
            if improved:
                save_checkpoint(out_dir / "best.pt", state)
            save_checkpoint(out_dir / "last.pt", {**state, "optimizer": optimizer.state_dict(),
                                                  "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                                                  "rng": _rng_state(device)})
            write_csv(out_dir / "history.csv", history, HISTORY_FIELDS)
            _plot_history(out_dir / "training_history.png", history)
            console.print(f"epoch {epoch:2d} phase {phase} lr {lr:.1e} | train loss {row['train_loss']:.4f} "
                          f"acc {row['train_acc']:.3f} | val loss {row['val_loss']:.4f} acc {row['val_acc']:.3f} "
                          f"EER {row['val_eer']:.3f} | {row['images_per_s']:.0f} img/s"
                          f"{' *' if improved else ''}")
        if config.early_stopping and bad_epochs >= config.early_stopping:
            if cluster.main:
                console.print(f"early stopping: no validation-loss improvement for {bad_epochs} epochs")
            break
    if cluster.world_size > 1:
        dist.barrier()
    return out_dir / "best.pt"


def balanced_quotas(available: np.ndarray, count: int) -> np.ndarray:
    """How many of count draws each group gets: equal shares, a group with fewer than its share giving the rest to
    the others (water-filling); the total is min(count, available.sum())."""
    take = np.zeros_like(available)
    left = min(count, int(available.sum()))
    order = np.argsort(available, kind="stable")
    for i, group in enumerate(order):
        take[group] = min(available[group], -(-left // (len(order) - i)))
        left -= take[group]
    return take


def choose(rng: np.random.Generator, total: int, count: int, group: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices of min(count, total) of total candidates drawn without replacement; with group (each
    candidate's group id), as equally from every group as balanced_quotas allows."""
    if group is None or total == 0:
        return np.sort(rng.choice(total, min(count, total), replace=False))
    _, inverse, available = np.unique(group, return_inverse=True, return_counts=True)
    by_group = np.argsort(inverse, kind="stable")
    starts = np.cumsum(available) - available
    picks = [by_group[start + rng.choice(size, take, replace=False)]
             for start, size, take in zip(starts, available, balanced_quotas(available, count))]
    return np.sort(np.concatenate(picks))


def window_groups(split: SplitData, column: str) -> np.ndarray | None:
    """Per window of a split: an id of its clip's value in column (TrainConfig.gmm_balance), None when column is ""."""
    if not column:
        return None
    _, ids = np.unique([clip[column] for clip in split.clips], return_inverse=True)
    return ids[split.clip_of_window]


def sample_frames(split: SplitData, label: int, count: int, rng: np.random.Generator, *,
                  keep: Callable[[np.ndarray], np.ndarray] | None = None, windows_ok: np.ndarray | None = None,
                  window_mean: np.ndarray | None = None, groups: np.ndarray | None = None) -> np.ndarray:
    """(n, rows) float32 frames (window columns) drawn without replacement from the windows of one class (those
    windows_ok marks, when given); with keep, only from the frames it marks ((windows, frames) c0 rows -> bool, e.g.
    GMMDetector.speech_frames); with window_mean ((windows, k)), each frame's first k rows minus its window's mean
    (window_cmn, as the model does it); with groups (per window, window_groups), equally from every group."""
    eligible = split.labels == label if windows_ok is None else (split.labels == label) & windows_ok
    windows = np.flatnonzero(eligible)
    if keep is None:
        columns = split.images.shape[2]
        picks = choose(rng, len(windows) * columns, count,
                       None if groups is None else np.repeat(groups[windows], columns))
        chosen, columns = windows[picks // columns], picks % columns
    else:
        rows, kept_columns = np.nonzero(keep(np.asarray(split.images[windows, 0, :], dtype=np.float32)))
        picks = choose(rng, len(rows), count, None if groups is None else groups[windows[rows]])
        chosen, columns = windows[rows[picks]], kept_columns[picks]
    frames = np.asarray(split.images[chosen, :, columns], dtype=np.float32)
    if window_mean is not None:
        frames[:, :window_mean.shape[1]] -= window_mean[chosen]
    return frames


def window_summaries(model: nn.Module, split: SplitData, features: FeatureConfig, *,
                     chunk: int = 2048) -> tuple[np.ndarray | None, np.ndarray]:
    """Per window of a split: its static cepstral mean ((windows, n_lfcc), None without window_cmn) and whether the
    GMM scores it as narrowband (GMMDetector.narrow_windows)."""
    means, narrow = [], []
    for start in range(0, len(split.labels), chunk):
        block = torch.from_numpy(np.asarray(split.images[start:start + chunk], dtype=np.float32))
        means.append(block[:, :features.n_lfcc].mean(dim=2).numpy())
        narrow.append(model.narrow_windows(block).numpy())
    if not means:
        return None, np.zeros(0, dtype=bool)
    return (np.concatenate(means) if features.window_cmn else None), np.concatenate(narrow)


def narrowband_reals(store: Store, splits: dict[str, SplitData], narrow: dict[str, np.ndarray], *,
                     narrowband_hz: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The real windows the narrowband offset is set from: val's wideband ones (held in, not fitted) and every
    split's narrowband ones (none is fitted), or a one-line error when either is missing."""
    real = {name: split.labels == 0 for name, split in splits.items()}
    reference = np.flatnonzero(real["val"] & ~narrow["val"])
    narrow_real = {name: np.flatnonzero(real[name] & narrow[name]) for name in splits}
    if not len(reference):
        raise SpoofscanError(f"{store.path}: the val split holds no wideband real windows to set the narrowband offset "
                             f"against; make a split with real val clips whose band reaches {narrowband_hz:g} Hz, or "
                             "set gmm_narrowband_hz = 0 (and drop gmm_narrowband_quantile)")
    if not sum(map(len, narrow_real.values())):
        raise SpoofscanError(f"{store.path}: no real window has a band edge below {narrowband_hz:g} Hz, so the "
                             "narrowband offset cannot be set; add narrowband real clips (e.g. 16 kHz recordings) or "
                             "set gmm_narrowband_hz = 0 (and drop gmm_narrowband_quantile)")
    return reference, narrow_real


def chosen_window_log_odds(model: nn.Module, split: SplitData, chosen: np.ndarray, *, features: FeatureConfig,
                           batch_size: int) -> np.ndarray:
    """The log-odds of the windows of a split at the chosen indices, on the CPU (only those are read and scored)."""
    subset = SplitData(np.asarray(split.images[chosen]), split.labels[chosen], np.arange(len(chosen)), [])
    logits = window_logits(model, subset, features=features, batch_size=batch_size, device=torch.device("cpu"))
    return logits[:, 1] - logits[:, 0]


def narrowband_offset(model: nn.Module, splits: dict[str, SplitData], reference: np.ndarray,
                      narrow_real: dict[str, np.ndarray], *, features: FeatureConfig, batch_size: int,
                      quantile: float = 0.5) -> float:
    """The offset that gives the narrowband real windows the log-odds of the reference (wideband real val) windows
    at the given quantile of each: 0.5 aligns their medians; a higher one their upper tails, so that a threshold
    there flags as large a share of real windows in either band when one band's real scores spread wider."""
    def quantile_log_odds(parts: list[tuple[SplitData, np.ndarray]]) -> float:
        scores = [chosen_window_log_odds(model, split, chosen, features=features, batch_size=batch_size)
                  for split, chosen in parts]
        return float(np.quantile(np.concatenate(scores), quantile))

    model.narrowband_offset.zero_()
    wide = quantile_log_odds([(splits["val"], reference)])
    return wide - quantile_log_odds([(splits[name], chosen) for name, chosen in narrow_real.items()])


def fit_gmm(store: Store, out_dir: Path, config: TrainConfig, *, device: torch.device) -> Path:
    """lfcc-gmm: fit the real and the fake GMM by EM on frames of the train split; best.pt = last.pt."""
    features = store.feature_config
    train_split, val_split = store.split("train"), store.split("val")
    if len(set(train_split.labels.tolist())) < 2:
        raise SpoofscanError(f"{store.path}: the train split holds one class only; a GMM per class needs both")
    model = build_model(config.model, features, config.weights, train_config=config)  # a bad setting fails first
    write_json(out_dir / "config.json", {"store": str(store.path.resolve()), "feature_config": to_dict(features),
                                         "train_config": to_dict(config), "device": "cpu", "world_size": 1,
                                         "amp": "None", "versions": versions()})
    if config.gmm_narrowband_hz > 0 and not store.windows_keep_mean:
        raise SpoofscanError(f"{store.path}: made by an earlier spoofscan, whose window_cmn windows lost their "
                             "mean spectrum, so their band cannot be measured for gmm_narrowband_hz; prepare the store "
                             "again")
    window_mean, narrow = window_summaries(model, train_split, features)
    fitted_windows = ~narrow  # every window unless gmm_narrowband_hz
    for label, name in ((0, "real"), (1, "fake")):
        if not (fitted_windows & (train_split.labels == label)).any():
            raise SpoofscanError(f"{store.path}: the train split holds no {name} window with a band edge at or above "
                                 f"gmm_narrowband_hz = {config.gmm_narrowband_hz:g} Hz; lower it or set it to 0")
    splits = {"train": train_split, "val": val_split}
    if config.gmm_narrowband_hz > 0:
        reference, narrow_real = narrowband_reals(store, splits, {"train": narrow, "val": window_summaries(
            model, val_split, features)[1]}, narrowband_hz=config.gmm_narrowband_hz)
    input_norm = input_statistics(train_split.images, features, select=np.flatnonzero(fitted_windows))
    model.set_input_norm(**input_norm)
    mean, std = (np.asarray(input_norm[k], dtype=np.float32) for k in ("mean", "std"))
    rng = np.random.default_rng(config.seed)
    keep = None if config.gmm_speech_db == 0 else (lambda c0: model.speech_frames(torch.from_numpy(c0)).numpy())
    groups = window_groups(train_split, config.gmm_balance)
    start, fitted_frames = time.perf_counter(), 0
    for part in range(config.gmm_fits):  # each fit its own frames (one rng stream) and EM start (seed * fits + part)
        frames = {label: (sample_frames(train_split, label, config.gmm_frames, rng, keep=keep,
                                        windows_ok=fitted_windows, window_mean=window_mean, groups=groups) - mean) / std
                  for label in (0, 1)}
        console.print(f"fitting lfcc-gmm {part + 1} of {config.gmm_fits}: {config.gmm_components} components a class "
                      + (f"MAP-adapted (relevance {config.gmm_map_relevance:g}) from a background GMM fitted by EM on "
                         if config.gmm_map_relevance > 0 else "by EM on ")
                      + f"{len(frames[0])} real and {len(frames[1])} fake frames"
                      + (f", drawn equally from every {config.gmm_balance}" if config.gmm_balance else ""))
        seed = config.seed * config.gmm_fits + part
        model.fit(frames, iterations=config.gmm_iterations, seed=seed, map_relevance=config.gmm_map_relevance,
                  part=part)
        fitted_frames += len(frames[0]) + len(frames[1])
        if config.gmm_narrowband_view_hz > 0:  # the narrowband pair: every window, both bands, in its low-band view
            low = {label: sample_frames(train_split, label, config.gmm_frames, rng, keep=keep,
                                        window_mean=window_mean, groups=groups) @ model.view.numpy() for label in (0, 1)}
            if part == 0:  # the row statistics of the first draw serve every fit
                pooled = np.concatenate([low[0], low[1]])
                model.narrow_row_mean.copy_(torch.from_numpy(pooled.mean(axis=0)))
                model.narrow_row_std.copy_(torch.from_numpy(np.maximum(pooled.std(axis=0), 0.01)))  # as row_statistics
            low_mean, low_std = model.narrow_row_mean.numpy(), model.narrow_row_std.numpy()
            console.print(f"fitting the narrowband pair on {len(low[0])} real and {len(low[1])} fake frames of all "
                          f"windows, {low_mean.size} rows of the band below {config.gmm_narrowband_view_hz:g} Hz")
            model.fit({label: (low[label] - low_mean) / low_std for label in (0, 1)},
                      iterations=config.gmm_iterations, seed=seed, map_relevance=config.gmm_map_relevance,
                      pair="narrow_", part=part)
    seconds = time.perf_counter() - start
    if config.gmm_narrowband_hz > 0:
        offset = narrowband_offset(model, splits, reference, narrow_real, features=features,
                                   batch_size=config.batch_size * 2, quantile=config.gmm_narrowband_quantile)
        model.narrowband_offset.fill_(offset)
        console.print(f"narrowband windows (band edge below {config.gmm_narrowband_hz:g} Hz): {int(narrow.sum())} of "
                      f"{len(narrow)} train windows, " + ("scored by the narrowband pair" if
                      config.gmm_narrowband_view_hz > 0 else "not fitted; scored") + f" with offset {offset:+.3f}")
    model.to(device)
    batch = config.batch_size * 2
    fitted = validate(model, train_split, features=features, batch_size=batch, device=device)
    val = validate(model, val_split, features=features, batch_size=batch, device=device)
    row = {"epoch": 1, "phase": "em", "lr": 0.0, "train_loss": fitted["val_loss"], "train_acc": fitted["val_acc"],
           **{k: val[k] for k in ("val_loss", "val_acc", "val_eer")}, "seconds": seconds,
           "images_per_s": fitted_frames * config.gmm_iterations / seconds}
    state = {"model": {k: v.cpu() for k, v in model.state_dict().items()}, "feature_config": to_dict(features),
             "train_config": to_dict(config), "epoch": 1, "threshold": val["threshold"],
             "threshold_log_odds": val["threshold_log_odds"], "input_norm": input_norm,
             "metrics": {k: row[k] for k in ("val_loss", "val_acc", "val_eer")}, "history": [row],
             "best_val_loss": val["val_loss"], "bad_epochs": 0, "trainable_parameters": 0}
    save_checkpoint(out_dir / "best.pt", state)
    save_checkpoint(out_dir / "last.pt", state)
    write_csv(out_dir / "history.csv", [row], HISTORY_FIELDS)
    _plot_history(out_dir / "training_history.png", [row])
    console.print(f"EM {seconds:.0f} s | val loss {val['val_loss']:.4f} acc {val['val_acc']:.3f} "
                  f"EER {val['val_eer']:.3f}")
    return out_dir / "best.pt"
