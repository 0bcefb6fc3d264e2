"""eval.py's work: score a generator, saved samples or real images with a judge (msgan.judge: the shipped digit
classifier, or one trained on other data with `python -m msgan.classifier --data DIR`), and print the scores
beside the real-data floor."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from msgan.data import to_uint8
from msgan.datasets import fit_side, load_images, shape_of
from msgan.device import select_device
from msgan.errors import MsganError
from msgan.files import write_text
from msgan.inference import (load_trained_generator, raw_without_run, resolve_architecture, resolve_checkpoint,
                             weights_of)
from msgan.judge import FLOOR, SHIPPED, Judge, load_judge
from msgan.models import MODELS
from msgan.sampling import cycling_labels, generate, latents


@dataclass
class EvalRequest:
    """What eval.py was asked to score: a generator (--ckpt or --run), --real digits, or --samples FILE."""

    ckpt: Optional[str] = None
    run: Optional[str] = None
    raw: bool = False                 # --run: the trained weights, not their moving average
    real: bool = False
    samples: Optional[str] = None
    num: int = 10_000
    seed: int = 0
    data: Optional[str] = None        # --real: score these images instead of the held-out split
    judge: Optional[str] = None       # a classifier checkpoint (python -m msgan.classifier); None: the digit judge
    model: Optional[str] = None       # a checkpoint outside its run folder: its architecture
    latent_dim: Optional[int] = None
    latent: Optional[str] = None
    device: str = "auto"
    batch_size: int = 256


RANGE_SLACK = 1e-3  # float samples may overshoot [-1, 1] by rounding this much
FEW_SAMPLES = 1000  # below this, FID reads high and varies from draw to draw (the real floor uses 1,000)


def saved_shape(array: np.ndarray) -> Optional[tuple[int, ...]]:
    """(C, H, W) of saved samples: uint8 pictures (N, H, W) or (N, H, W, 3) as infer.py writes them, or the
    generator's floats (N, C, H, W) (greyscale also (N, H, W)); None for any other layout."""
    if array.ndim == 3:
        return (1, *array.shape[1:])
    if array.ndim == 4 and array.dtype == np.uint8 and array.shape[-1] == 3:
        return (3, *array.shape[1:3])
    return tuple(array.shape[1:]) if array.ndim == 4 else None


def load_samples(path: str, judge: Judge) -> np.ndarray:
    """Images saved as .npy, of the judge's shape: uint8 greyscale (N, H, W) or colour (N, H, W, 3) as infer.py
    writes them, or floats in [-1, 1] as the generator draws them, (N, C, H, W) (or greyscale (N, H, W))."""
    try:
        array = np.load(Path(path).expanduser(), allow_pickle=False)
    except (OSError, ValueError) as err:
        raise MsganError(f"cannot read {path} as a NumPy .npy file ({err}): pass samples.npy from infer.py") from err
    if saved_shape(array) != judge.shape:
        channels, height, width = judge.shape
        layout = f"(N, {height}, {width})" if channels == 1 else f"(N, {height}, {width}, {channels})"
        raise MsganError(f"{path} holds an array of shape {array.shape}; the judge ({judge.source}) scores images of "
                         f"shape {layout}, as infer.py writes them: pass --judge with a judge of these samples' shape")
    if len(array) == 0:
        raise MsganError(f"{path} holds no images (shape {array.shape}): pass a file with at least one")
    if array.dtype == np.uint8:
        return array[:, 0] if array.ndim == 4 and array.shape[1] == 1 else array
    if not np.issubdtype(array.dtype, np.floating):
        raise MsganError(f"{path} holds {array.dtype} numbers; eval.py reads uint8 pixels or floats in [-1, 1]")
    if not np.isfinite(array).all():
        raise MsganError(f"{path} holds NaN or infinite values: the generator that made them diverged")
    low, high = float(array.min()), float(array.max())
    if low >= 0 and high <= 1:  # a Tanh generator's digits are mostly background, near -1
        raise MsganError(f"{path} holds floats in [0, 1] (from {low:g} to {high:g}), but eval.py reads floats in "
                         "[-1, 1], the generator's Tanh range: save them as 2 * x - 1, or as uint8 pixels")
    if low < -1 - RANGE_SLACK or high > 1 + RANGE_SLACK:
        raise MsganError(f"{path} holds floats from {low:g} to {high:g}, outside [-1, 1]: save 0-255 pixels as "
                         "uint8, and a generator's output as it is")
    return to_uint8(array)


@dataclass
class ToScore:
    """Digits to score, what they came from (the JSON line's first keys), the digit each was asked (or is known)
    to be, if any, and the run folder whose metrics.jsonl gets the line, if any."""

    images: np.ndarray
    about: dict[str, Any]
    labels: Optional[np.ndarray] = None
    run_root: Optional[Path] = None


def generated_digits(request: EvalRequest, judge: Judge) -> ToScore:
    """The generator's images (eval mode, --num of them from --seed; a conditional one draws the classes
    0, 1, 2, … in turn)."""
    ckpt, run_root = resolve_checkpoint(request.ckpt, request.run, request.raw)
    cfg = resolve_architecture(run_root, ckpt, request.model, request.latent_dim, request.latent)
    spec = MODELS[cfg.model]
    if spec.kind != "digits":
        raise MsganError(f"'{cfg.model}' does not draw images: eval.py scores image models only")
    judge.check_fits(cfg.sample_shape, f"{run_root if (run_root / 'config.yaml').is_file() else ckpt}'s samples")
    select_device(request.device)
    generator, info = load_trained_generator(ckpt, cfg)
    z = latents(request.num, cfg.latent_dim, request.seed, distribution=cfg.latent)
    labels = cycling_labels(request.num, cfg.label_classes)
    images = to_uint8(generate(generator, z, labels, request.batch_size))
    about = {"source": str(ckpt), "weights": weights_of(ckpt), "model": cfg.model, "epoch": info.epoch,
             "seed": request.seed}
    return ToScore(images, about, labels, run_root)


def chosen_digits(request: EvalRequest, judge: Judge) -> ToScore:
    """The images of the one source the request names."""
    chosen = [name for name in ("ckpt", "run", "samples") if getattr(request, name) is not None] + (
        ["real"] if request.real else [])
    if len(chosen) != 1:
        raise MsganError("give exactly one of --ckpt FILE, --run RUN_FOLDER, --real or --samples FILE.npy")
    if request.raw and chosen[0] in ("samples", "real"):
        raise raw_without_run(f"--{chosen[0]}")
    for name in ("num", "batch_size"):
        if getattr(request, name) < 1:
            raise MsganError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(request, name)}")
    if request.samples is not None:
        return ToScore(load_samples(request.samples, judge), {"source": request.samples})
    if request.real:
        return real_images(request, judge)
    return generated_digits(request, judge)


def evaluate(request: EvalRequest) -> dict[str, Any]:
    """Score what the request names, print one JSON line, and append it to the run's metrics.jsonl.

    Known labels (a conditional generator's, real digits') add digit_agreement; the real floor has it too, the
    judge's accuracy on each held-out digit.
    """
    judge = load_judge(request.judge)
    scored = chosen_digits(request, judge)
    if len(scored.images) < FEW_SAMPLES:
        print(f"msgan: warning: {len(scored.images)} samples are few for FID, which reads higher and varies more the "
              f"fewer there are: compare scores at equal --num, at least {FEW_SAMPLES:,} (10,000 as in the README)",
              file=sys.stderr, flush=True)
    result = {**scored.about, "num": len(scored.images), **judge.score(scored.images, scored.labels),
              "judge": judge.source, "reference": judge.reference_about, "real_floor": judge.real_floor()}
    line = json.dumps(result)
    print(line, flush=True)
    run_root = scored.run_root
    if run_root is not None and (run_root / "config.yaml").is_file():
        metrics = run_root / "metrics.jsonl"
        previous = metrics.read_text(encoding="utf-8") if metrics.is_file() else ""
        write_text(metrics, previous + line + "\n")
    return result


def real_images(request: EvalRequest, judge: Judge) -> ToScore:
    """--real: the first --num images of --data (at the judge's side), with their labels, or without --data the
    judge's own real floor (the digit judge's held-out digits)."""
    if request.data is None:
        if judge.source != SHIPPED:
            raise MsganError(f"--real without --data scores the judge's held-out split, which {judge.source} "
                             "keeps as its scores only (every line's real_floor): pass --data DIR to score images")
        return ToScore(judge.held_out.images, {"source": FLOOR}, judge.held_out.labels)
    name, real = load_images(request.data, limit=request.num, folder_side=judge.shape[1])
    real = fit_side(real, judge.shape[1])
    judge.check_fits(shape_of(real), f"--data {request.data}")
    return ToScore(real.images, {"source": real.source}, real.labels if real.classes else None)
