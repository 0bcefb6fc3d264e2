"""Pictures of a run: sample grids (or the toy GAN's heat-map strips), the progress GIF and the plots."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from msgan.files import atomic_path

FRAME = 40  # the dark grey between the pictures of a grid
# A grid shows at most 100 x 100 pictures: 3,002 pixels square for digits, well inside Pillow's refusal of
# pictures over 89 million pixels, and still one file a browser opens.
MAX_GRID_SIDE = 100


def pyplot():
    """matplotlib's pyplot drawing off-screen: servers and CI have no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def make_grid(images: np.ndarray, columns: int, pad: int = 2) -> np.ndarray:
    """uint8 greyscale (N, H, W) or colour (N, H, W, 3) -> one uint8 picture of the same kind, `columns`
    images a row, on a dark grey frame."""
    n, h, w = images.shape[:3]
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, *images.shape[3:]), FRAME, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top:top + h, left:left + w] = image
    return grid


def heat_strip(rows: np.ndarray, total_rows: Optional[int] = None, cell: int = 28) -> np.ndarray:
    """Rows of numbers in [0, 1] as grey cells (0 black, 1 white), one picture row per row.

    Rows after those given, up to `total_rows`, are left empty, so that a strip that grows during
    training keeps one size for every frame of the GIF.
    """
    rows = np.asarray(rows, dtype=np.float32)
    cells = np.full(((total_rows or len(rows)) * rows.shape[1], cell, cell), FRAME, dtype=np.uint8)
    cells[:rows.size] = np.rint(np.clip(rows, 0, 1) * 255).reshape(-1, 1, 1)
    return make_grid(cells, columns=rows.shape[1])


def save_png(picture: np.ndarray, path: Path, scale: int = 1) -> None:
    """Save a uint8 picture, greyscale (H, W) or colour (H, W, 3), as PNG, optionally enlarged with sharp pixels."""
    image = Image.fromarray(picture)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def save_gif(frames: Sequence[Path], path: Path, frame_ms: int = 250, hold_last_ms: int = 2000) -> None:
    """An animated GIF of the epoch grids, looping, holding the last frame.

    Frames smaller than the largest are extended with the frame colour: the toy GAN's strip has a row
    for every epoch, so a run resumed with more epochs draws taller strips from then on.
    """
    opened = [Image.open(frame) for frame in frames]
    mode = "RGB" if any(image.mode == "RGB" for image in opened) else "L"  # colour data draws colour grids
    images = [image.convert(mode) for image in opened]
    size = (max(image.width for image in images), max(image.height for image in images))
    images = [image if image.size == size else _extend(image, size) for image in images]
    durations = [frame_ms] * (len(images) - 1) + [hold_last_ms]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=durations, loop=0)


def _extend(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    canvas = Image.new(image.mode, size, FRAME if image.mode == "L" else (FRAME,) * 3)
    canvas.paste(image, (0, 0))
    return canvas


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """A trailing moving average of the same length (shorter windows at the start)."""
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, len(values) + 1) - counts]) / counts


def save_figure(fig, path: Path) -> None:
    """Write a matplotlib figure as PNG through the atomic writer, and free it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    pyplot().close(fig)


MAX_EPOCH_MARKS = 20  # loss.png marks at most this many epoch boundaries (70 lines hid the curves)


def smoothing_window(steps: int, steps_per_epoch: int) -> int:
    """The moving average of the per-step plots: an epoch, or a tenth of a short run."""
    return max(1, min(steps_per_epoch, steps // 10 or 1))


def mark_epochs(ax, steps: int, steps_per_epoch: int) -> None:
    """Light lines at the epoch boundaries of a per-step plot (at most MAX_EPOCH_MARKS), and the x label."""
    epochs = steps // steps_per_epoch
    every = math.ceil(epochs / MAX_EPOCH_MARKS) if epochs > MAX_EPOCH_MARKS else 1
    for e in range(every, epochs, every):
        ax.axvline(e * steps_per_epoch, color="grey", linewidth=0.4, alpha=0.4)
    marked = "epochs marked" if every == 1 else f"every {every} epochs marked"
    ax.set_xlabel(f"step ({steps_per_epoch} per epoch, {marked})")


def plot_losses(loss_d: np.ndarray, loss_g: Optional[np.ndarray], steps_per_epoch: int, path: Path,
                loss_name: str = "BCE", d_label: str = "D") -> None:
    """D and G loss per step, raw and smoothed, with epoch boundaries marked (D's alone without `loss_g`)."""
    plt = pyplot()
    steps = np.arange(1, len(loss_d) + 1)
    window = smoothing_window(len(steps), steps_per_epoch)
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100, layout="constrained")
    curves = [(loss_d, d_label, "tab:blue")] + ([(loss_g, "G", "tab:orange")] if loss_g is not None else [])
    for values, name, color in curves:
        ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.6, antialiased=False)
        ax.plot(steps, smooth(values, window), color=color, linewidth=1.6, label=f"{name} loss (mean of {window} steps)")
    mark_epochs(ax, len(steps), steps_per_epoch)
    finish_loss_plot(fig, ax, path, loss_name)


def finish_loss_plot(fig, ax, path: Path, loss_name: str) -> None:
    """The loss plots' common frame: the loss's name, the legend and a light grid; then the file."""
    ax.set_ylabel(f"{loss_name} loss")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.2)
    save_figure(fig, path)


def plot_epoch_losses(loss_d: np.ndarray, loss_g: Optional[np.ndarray], path: Path, loss_name: str = "BCE",
                      d_label: str = "D") -> None:
    """D and G loss at the last step of each epoch, by epoch (1-based), as the tutorial plots them."""
    plt = pyplot()
    epochs = np.arange(1, len(loss_d) + 1)
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100, layout="constrained")
    ax.plot(epochs, loss_d, marker="o", color="tab:blue", label=f"{d_label} loss")
    if loss_g is not None:
        ax.plot(epochs, loss_g, marker="o", color="tab:orange", label="G loss")
    ax.set_xlabel("epoch (the loss of its last step)")
    finish_loss_plot(fig, ax, path, loss_name)


def plot_discriminator(seen: np.ndarray, steps_per_epoch: int, path: Path, probability: bool,
                       midpoint: float, fakes: str = "D(G(z))") -> None:
    """D's mean output on real and on fake samples (D(x), D(G(z))) and its accuracy on each, per step and
    smoothed, the outputs on the left axis and the accuracies on a twin axis, as the Keras lesson plots them.
    `seen` holds a row per step: D(x), D(G(z)), real accuracy, fake accuracy; `midpoint` is the output
    above which D calls a sample real (1/2 for probabilities, where the optimal D settles at the balance);
    `fakes` names D's output on its fakes."""
    plt = pyplot()
    steps = np.arange(1, len(seen) + 1)
    window = smoothing_window(len(steps), steps_per_epoch)
    fig, outputs = plt.subplots(figsize=(8, 4), dpi=100, layout="constrained")
    accuracy = outputs.twinx()
    lines = []
    for ax, column, label, color, style in ((outputs, 0, "D(x)", "tab:green", "-"),
                                            (outputs, 1, fakes, "tab:red", "-"),
                                            (accuracy, 2, "accuracy on real", "tab:green", ":"),
                                            (accuracy, 3, "accuracy on fake", "tab:red", ":")):
        lines += ax.plot(steps, smooth(seen[:, column], window), color=color, linestyle=style, linewidth=1.6,
                         label=label)
    outputs.axhline(midpoint, color="grey", linewidth=0.8, linestyle="--")
    if probability:
        outputs.set_ylim(0, 1)
    accuracy.set_ylim(0, 1.02)
    kind = "probability" if probability else "raw score"
    outputs.set_ylabel(f"D's mean output ({kind}; dashed: {midpoint:g})")
    accuracy.set_ylabel("D's accuracy (dotted)")
    mark_epochs(outputs, len(steps), steps_per_epoch)
    outputs.set_title(f"the discriminator over training (each line the mean of {window} steps)")
    outputs.legend(lines, [line.get_label() for line in lines], loc="lower left", ncols=2)
    outputs.grid(alpha=0.2)
    save_figure(fig, path)


def plain_log_labels(value: float, _position: int) -> str:
    """Tick labels of a log axis as plain numbers (20, 50, 100), on 1, 2 and 5 of each decade only."""
    leading = value / 10 ** math.floor(math.log10(value)) if value > 0 else 0
    return f"{value:g}" if round(leading) in (1, 2, 5) else ""


def plot_metrics(rows: np.ndarray, path: Path) -> None:
    """FID, IS, modes and precision/recall at each evaluated epoch (rows as runs.METRIC_COLUMNS), epochs 1-based."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    plt = pyplot()
    epochs = rows[:, 0] + 1
    fig, (fid, score, modes, pr) = plt.subplots(1, 4, figsize=(12, 3.2), dpi=100, layout="constrained")
    fid.plot(epochs, rows[:, 3], marker="o", color="tab:red")
    fid.set_yscale("log")
    for axis_formatter in (fid.yaxis.set_major_formatter, fid.yaxis.set_minor_formatter):
        axis_formatter(FuncFormatter(plain_log_labels))
    fid.set_title("FID (lower is better)")
    modes.plot(epochs, rows[:, 5], marker="o", color="tab:purple")
    modes.set_ylim(0, 10.5)
    modes.yaxis.set_major_locator(MaxNLocator(integer=True))
    modes.set_title("modes (digits drawn, of 10)")
    score.plot(epochs, rows[:, 4], marker="o", color="tab:green")
    score.set_ylim(1, 10)
    score.set_title("IS (at most 10)")
    pr.plot(epochs, rows[:, 7], marker="o", label="precision")
    pr.plot(epochs, rows[:, 8], marker="o", label="recall")
    pr.set_ylim(0, 1)
    pr.legend(loc="lower right")
    pr.set_title("precision and recall")
    for ax in (fid, score, modes, pr):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.2)
    save_figure(fig, path)


def plot_pattern_outputs(outputs: np.ndarray, path: Path) -> None:
    """The toy GAN's four outputs at every step, over the bands its real samples come from."""
    plt = pyplot()
    steps = np.arange(1, len(outputs) + 1)
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100, layout="constrained")
    for low in (0.0, 0.8):
        ax.axhspan(low, low + 0.2, color="grey", alpha=0.15, linewidth=0)
    for i in range(outputs.shape[1]):
        ax.plot(steps, outputs[:, i], linewidth=1.2, label=f"G output {i}")
    ax.set_ylim(-0.02, 1.15)
    ax.set_xlabel("step (grey bands: where the real samples' numbers lie, high-low-high-low)")
    ax.set_ylabel("G's output (batch mean)")
    ax.legend(loc="upper center", ncols=4)
    ax.grid(alpha=0.2)
    save_figure(fig, path)
