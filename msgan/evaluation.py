"""eval.py's work: score a generator, saved samples or real digits with the judge (msgan.judge), and print the
scores beside the real-data floor."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from msgan.data import load_digits, to_uint8
from msgan.device import select_device
from msgan.errors import MsganError
from msgan.files import write_text
from msgan.inference import (load_trained_generator, raw_without_run, resolve_architecture, resolve_checkpoint,
                             weights_of)
from msgan.judge import FLOOR, REFERENCE, shipped_judge
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
    data: Optional[str] = None        # --real: score these digits instead of the held-out split
    model: Optional[str] = None       # a checkpoint outside its run folder: its architecture
    latent_dim: Optional[int] = None
    latent: Optional[str] = None
    device: str = "auto"
    batch_size: int = 256


RANGE_SLACK = 1e-3  # float samples may overshoot [-1, 1] by rounding this much
FEW_SAMPLES = 1000  # below this, FID reads high and varies from draw to draw (the real floor uses 1,000)


def load_samples(path: str) -> np.ndarray:
    """Digits saved as .npy: uint8 (N, 28, 28) as infer.py writes them, or floats in [-1, 1] (N, [1,] 28, 28)."""
    try:
        array = np.load(Path(path).expanduser(), allow_pickle=False)
    except (OSError, ValueError) as err:
        raise MsganError(f"cannot read {path} as a NumPy .npy file ({err}): pass samples.npy from infer.py") from err
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3 or array.shape[1:] != (28, 28):
        raise MsganError(f"{path} holds an array of shape {array.shape}; eval.py scores digits of shape "
                         "(N, 28, 28), as infer.py writes them")
    if len(array) == 0:
        raise MsganError(f"{path} holds no digits (shape {array.shape}): pass a file with at least one")
    if array.dtype == np.uint8:
        return array
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


def generated_digits(request: EvalRequest) -> ToScore:
    """The generator's digits (eval mode, --num of them from --seed; a conditional one draws 0, 1, …, 9, 0, …)."""
    ckpt, run_root = resolve_checkpoint(request.ckpt, request.run, request.raw)
    cfg = resolve_architecture(run_root, ckpt, request.model, request.latent_dim, request.latent)
    spec = MODELS[cfg.model]
    if spec.kind != "digits":
        raise MsganError(f"'{cfg.model}' does not draw digits: eval.py scores digit models only")
    select_device(request.device)
    generator, info = load_trained_generator(ckpt, cfg)
    z = latents(request.num, cfg.latent_dim, request.seed, distribution=cfg.latent)
    labels = cycling_labels(request.num, cfg.label_classes)
    images = to_uint8(generate(generator, z, labels, request.batch_size))
    about = {"source": str(ckpt), "weights": weights_of(ckpt), "model": cfg.model, "epoch": info.epoch,
             "seed": request.seed}
    return ToScore(images, about, labels, run_root)


def chosen_digits(request: EvalRequest) -> ToScore:
    """The digits of the one source the request names."""
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
        return ToScore(load_samples(request.samples), {"source": request.samples})
    if request.real:
        return real_digits(request)
    return generated_digits(request)


def evaluate(request: EvalRequest) -> dict[str, Any]:
    """Score what the request names, print one JSON line, and append it to the run's metrics.jsonl.

    Known labels (a conditional generator's, real digits') add digit_agreement; the real floor has it too, the
    judge's accuracy on each held-out digit.
    """
    scored = chosen_digits(request)
    if len(scored.images) < FEW_SAMPLES:
        print(f"msgan: warning: {len(scored.images)} digits are few for FID, which reads higher and varies more the "
              f"fewer there are: compare scores at equal --num, at least {FEW_SAMPLES:,} (10,000 as in the README)",
              file=sys.stderr, flush=True)
    judge_ = shipped_judge()
    floor = judge_.held_out
    result = {**scored.about, "num": len(scored.images), **judge_.score(scored.images, scored.labels),
              "reference": REFERENCE, "real_floor": {"source": FLOOR, **judge_.score(floor.images, floor.labels)}}
    line = json.dumps(result)
    print(line, flush=True)
    run_root = scored.run_root
    if run_root is not None and (run_root / "config.yaml").is_file():
        metrics = run_root / "metrics.jsonl"
        previous = metrics.read_text(encoding="utf-8") if metrics.is_file() else ""
        write_text(metrics, previous + line + "\n")
    return result


def real_digits(request: EvalRequest) -> ToScore:
    """--real: the held-out embedded digits, or the first --num digits of --data DIR, with their labels."""
    real = shipped_judge().held_out if request.data is None else load_digits(request.data, limit=request.num)
    return ToScore(real.images, {"source": FLOOR if request.data is None else real.source}, real.labels)
