"""Pictures of a run: sample grids, the progress GIF and the loss plot."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from msgan.files import atomic_path


def make_grid(images: np.ndarray, columns: int, pad: int = 2) -> np.ndarray:
    """uint8 (N, H, W) -> one uint8 picture, `columns` images a row, on a dark grey frame."""
    n, h, w = images.shape
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad), 40, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top:top + h, left:left + w] = image
    return grid


def save_png(picture: np.ndarray, path: Path, scale: int = 1) -> None:
    """Save a uint8 greyscale picture as PNG, optionally enlarged with sharp pixels."""
    image = Image.fromarray(picture)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def save_gif(frames: Sequence[Path], path: Path, frame_ms: int = 250, hold_last_ms: int = 2000) -> None:
    """An animated GIF of the epoch grids, looping, holding the last frame."""
    images = [Image.open(frame).convert("L") for frame in frames]
    durations = [frame_ms] * (len(images) - 1) + [hold_last_ms]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=durations, loop=0)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """A trailing moving average of the same length (shorter windows at the start)."""
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, len(values) + 1) - counts]) / counts


def plot_losses(loss_d: np.ndarray, loss_g: np.ndarray, steps_per_epoch: int, path: Path) -> None:
    """D and G loss per step, raw and smoothed, with epoch boundaries marked."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    steps = np.arange(1, len(loss_d) + 1)
    window = max(1, min(steps_per_epoch, len(steps) // 10 or 1))
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100, layout="constrained")
    for values, name, color in ((loss_d, "D", "tab:blue"), (loss_g, "G", "tab:orange")):
        ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.6, antialiased=False)
        ax.plot(steps, smooth(values, window), color=color, linewidth=1.6, label=f"{name} loss (mean of {window} steps)")
    epochs = len(steps) // steps_per_epoch
    for e in range(1, epochs):
        ax.axvline(e * steps_per_epoch, color="grey", linewidth=0.4, alpha=0.4)
    ax.set_xlabel(f"step ({steps_per_epoch} per epoch, epochs marked)")
    ax.set_ylabel("BCE loss")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.2)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
