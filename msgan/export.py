"""Writing a trained generator as a MINDIR graph with ms.export, which MindSpore runs with ms.load and
nn.GraphCell (or MindSpore Lite) without msgan's model code."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import mindspore as ms
import numpy as np
from mindspore import Tensor

from msgan.config import TrainConfig
from msgan.device import select_device
from msgan.errors import MsganError
from msgan.files import atomic_path, quiet_logging
from msgan.inference import load_trained_generator, resolve_architecture, resolve_checkpoint
from msgan.models import MODELS

FORMATS = ("MINDIR",)


@dataclass
class ExportRequest:
    """What export.py was asked for."""

    ckpt: Optional[str] = None
    run: Optional[str] = None
    format: str = "MINDIR"
    batch: int = 64                   # the graph's fixed batch of latents
    out: Optional[str] = None
    model: Optional[str] = None       # used when the run has no config.yaml
    latent_dim: Optional[int] = None  # likewise
    latent: Optional[str] = None      # likewise
    device: str = "auto"


def example_inputs(cfg: TrainConfig, batch: int) -> list[Tensor]:
    """Inputs of the graph's shapes and types: latents, and digit labels for a conditional generator."""
    inputs = [Tensor(np.zeros((batch, cfg.latent_dim), np.float32))]
    if MODELS[cfg.model].conditional:
        inputs.append(Tensor(np.zeros(batch, np.int32)))
    return inputs


def export_path(request: ExportRequest, ckpt: Path, run_root: Path) -> Path:
    """--out, or export/<checkpoint>-batch<B>.mindir in the run folder; never a file that exists."""
    if request.out is not None:
        out = Path(request.out).expanduser()
    else:
        folder = run_root / "export" if (run_root / "config.yaml").is_file() else ckpt.parent
        out = folder / f"{ckpt.stem}-batch{request.batch}.mindir"
    if out.suffix != ".mindir":
        raise MsganError(f"--out {out}: a MINDIR file must end in .mindir")
    if out.exists():
        raise MsganError(f"{out} already exists and msgan never overwrites your files: pass another --out")
    return out


def export_generator(request: ExportRequest) -> Path:
    """Write the checkpoint's generator, in eval mode, as a MINDIR graph for `request.batch` latents."""
    if request.format.upper() not in FORMATS:
        raise MsganError(f"--format {request.format}: msgan exports {', '.join(FORMATS)}")
    if request.batch < 1:
        raise MsganError(f"--batch must be at least 1, got {request.batch}")
    ckpt, run_root = resolve_checkpoint(request.ckpt, request.run)
    cfg = resolve_architecture(run_root, request.model, request.latent_dim, request.latent)
    out = export_path(request, ckpt, run_root)
    select_device(request.device)
    generator, info = load_trained_generator(ckpt, cfg)
    generator.set_train(False)  # BatchNorm's running statistics, no Dropout
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MsganError(f"cannot create folder {out.parent} ({err.strerror}): pass another --out") from err
    with atomic_path(out) as tmp, quiet_logging():
        ms.export(generator, *example_inputs(cfg, request.batch), file_name=tmp, file_format="MINDIR")
    inputs = "latents and digit labels" if MODELS[cfg.model].conditional else "latents"
    print(f"msgan: generator of {ckpt} ('{cfg.model}', epoch {info.epoch}) exported to {out}: "
          f"{request.batch} {inputs} of size {cfg.latent_dim} ({cfg.latent}) in, samples in [-1, 1] out", flush=True)
    return out
