"""Cutting a (rows, columns) feature matrix into fixed-length windows: shared by every input kind."""
from __future__ import annotations

import math

import torch


def window_starts(n_frames: int, window: int, hop: int) -> list[int]:
    """Start frames of the windows covering n_frames; the last window ends at the clip's end."""
    if n_frames <= window:
        return [0]
    starts = list(range(0, n_frames - window + 1, hop))
    if starts[-1] + window < n_frames:
        starts.append(n_frames - window)
    return starts


def cut_windows(matrix: torch.Tensor, window: int, hop: int) -> tuple[torch.Tensor, list[int]]:
    """(rows, columns) -> (n, rows, window) windows and their start columns; short inputs are tiled, not stretched."""
    if matrix.shape[1] < window:
        matrix = matrix.repeat(1, math.ceil(window / matrix.shape[1]))[:, :window]
    starts = window_starts(matrix.shape[1], window, hop)
    return torch.stack([matrix[:, s:s + window] for s in starts]), starts
