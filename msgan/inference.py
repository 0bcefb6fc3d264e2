"""Drawing digits (or the toy GAN's four numbers) from a generator checkpoint alone."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from mindspore import nn

from msgan.checkpoints import CheckpointInfo, load_generator
from msgan.config import TrainConfig, from_dict, resolve
from msgan.data import to_uint8
from msgan.device import select_device
from msgan.errors import MsganError
from msgan.files import atomic_path
from msgan.models import MODELS, NUM_CLASSES, build_generator
from msgan.runs import latest_generator, read_config
from msgan.sampling import generate, latents
from msgan.visuals import heat_strip, make_grid, save_png


@dataclass
class InferRequest:
    """What infer.py was asked for."""

    ckpt: Optional[str] = None
    run: Optional[str] = None
    num: int = 64
    seed: int = 0
    out: Optional[str] = None
    png: bool = False
    model: Optional[str] = None       # used when the run has no config.yaml
    latent_dim: Optional[int] = None  # likewise
    latent: Optional[str] = None      # likewise
    digit: Optional[str] = None       # conditional models: "0".."9" or "all"
    device: str = "auto"
    batch_size: int = 256


def resolve_checkpoint(ckpt: Optional[str], run: Optional[str]) -> tuple[Path, Path]:
    """(generator checkpoint, the run folder it belongs to), from --ckpt FILE or --run RUN."""
    if (ckpt is None) == (run is None):
        raise MsganError("give exactly one of --ckpt FILE or --run RUN_FOLDER")
    if run is not None:
        run_root = Path(run).expanduser()
        if not run_root.is_dir():
            raise MsganError(f"run folder {run_root} does not exist: pass a folder under runs/")
        return latest_generator(run_root), run_root
    path = Path(ckpt).expanduser()
    return path, path.parent.parent  # runs/X/checkpoints/GeneratorN.ckpt


def resolve_architecture(run_root: Path, model: Optional[str] = None, latent_dim: Optional[int] = None,
                         latent: Optional[str] = None) -> TrainConfig:
    """The run's settings from its config.yaml when it is there, otherwise from flags and the model's recipe."""
    saved = read_config(run_root)
    if saved is not None:
        return from_dict(saved)
    flags = {k: v for k, v in (("model", model), ("latent_dim", latent_dim), ("latent", latent)) if v is not None}
    return resolve(flags)


def load_trained_generator(ckpt: Path, cfg: TrainConfig) -> tuple[nn.Cell, CheckpointInfo]:
    """A generator of the run's architecture with the checkpoint's weights."""
    generator = build_generator(cfg.model, cfg.latent_dim)
    return generator, load_generator(generator, ckpt, cfg.model)


def digit_labels(request: InferRequest, conditional: bool) -> tuple[Optional[np.ndarray], int]:
    """(labels or None, how many samples): `--digit all` draws 10 rows of 10, one row per digit."""
    if not conditional:
        if request.digit is not None:
            raise MsganError("--digit needs a conditional model such as cgan; this generator draws any digit")
        return None, request.num
    if request.digit == "all":
        return np.repeat(np.arange(NUM_CLASSES, dtype=np.int32), NUM_CLASSES), NUM_CLASSES ** 2
    if request.digit is None or request.digit not in {str(d) for d in range(NUM_CLASSES)}:
        raise MsganError(f"this conditional generator needs --digit 0-9 or --digit all, got {request.digit}")
    return np.full(request.num, int(request.digit), dtype=np.int32), request.num


def output_folder(request: InferRequest, ckpt: Path, run_root: Path) -> Path:
    """The folder for the samples: --out, or samples/<checkpoint>-seed<S> inside the run; never a used one."""
    if request.out is not None:
        out = Path(request.out).expanduser()
    else:
        base = run_root if (run_root / "config.yaml").is_file() else Path(".")
        digit = f"-digit{request.digit}" if request.digit is not None else ""
        out = base / "samples" / f"{ckpt.stem}-seed{request.seed}-n{request.num}{digit}"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MsganError(f"output folder {out} already exists and is not empty: choose another --out")
    return out


def infer(request: InferRequest) -> Path:
    """Write grid.png, samples.npy and optional PNGs; return the folder.

    samples.npy holds digits as uint8 (N, 28, 28), 255 = ink, or the toy GAN's float32 (N, 4).
    """
    for name in ("num", "batch_size"):
        if getattr(request, name) < 1:
            raise MsganError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(request, name)}")
    ckpt, run_root = resolve_checkpoint(request.ckpt, request.run)
    cfg = resolve_architecture(run_root, request.model, request.latent_dim, request.latent)
    labels, num = digit_labels(request, MODELS[cfg.model].conditional)
    out = output_folder(request, ckpt, run_root)
    select_device(request.device)
    generator, info = load_trained_generator(ckpt, cfg)
    z = latents(num, cfg.latent_dim, request.seed, distribution=cfg.latent)
    samples = generate(generator, z, labels, request.batch_size)
    note = ""
    if MODELS[cfg.model].kind == "pattern":
        grid, singles = heat_strip(samples), [heat_strip(sample[None]) for sample in samples]
        mean = ", ".join(f"{v:.3f}" for v in samples.mean(axis=0))
        note = f"; mean output [{mean}] (the real pattern is near [1, 0, 1, 0])"
    else:
        samples = to_uint8(samples)
        columns = NUM_CLASSES if request.digit == "all" else int(np.ceil(np.sqrt(num)))
        grid, singles = make_grid(samples, columns), list(samples)
    write_samples(out, samples, grid, singles if request.png else [])
    print(f"msgan: {num} samples from {ckpt} ('{cfg.model}', epoch {info.epoch}, seed {request.seed}) "
          f"written to {out}{note}", flush=True)
    return out


def write_samples(out: Path, samples: np.ndarray, grid: np.ndarray, singles: list[np.ndarray]) -> None:
    """grid.png, samples.npy and one PNG per picture in `singles`."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MsganError(f"cannot create output folder {out} ({err.strerror}): pass another --out") from err
    save_png(grid, out / "grid.png")
    with atomic_path(out / "samples.npy") as tmp:
        np.save(tmp, samples)
    width = len(str(len(singles) - 1))
    for i, picture in enumerate(singles):
        save_png(picture, out / f"sample_{i:0{width}d}.png")
