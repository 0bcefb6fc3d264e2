"""Writing a trained generator as a MINDIR graph with ms.export, which MindSpore runs with ms.load and
nn.GraphCell (or MindSpore Lite) without msgan's model code, and beside it the JSON sidecar that infer.py --mindir
reads (latent size and distribution, batch, labels)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from msgan import __version__
from msgan.config import TrainConfig
from msgan.device import select_device
from msgan.errors import MsganError
from msgan.files import atomic_path, quiet_logging
from msgan.inference import (GraphInfo, load_trained_generator, resolve_architecture, resolve_checkpoint,
                             sidecar_path, weights_of)
from msgan.models import MODELS

FORMATS = ("MINDIR",)


@dataclass
class ExportRequest:
    """What export.py was asked for."""

    ckpt: Optional[str] = None
    run: Optional[str] = None
    raw: bool = False                 # --run: the trained weights, not their moving average
    format: str = "MINDIR"
    batch: int = 64                   # the graph's fixed batch of latents
    out: Optional[str] = None
    model: Optional[str] = None       # used when the run has no config.yaml
    latent_dim: Optional[int] = None  # likewise
    latent: Optional[str] = None      # likewise
    device: str = "auto"


def example_inputs(latent_dim: int, conditional: bool, batch: int) -> list[Tensor]:
    """Inputs of the graph's shapes and types: latents, and class labels for a conditional generator."""
    inputs = [Tensor(np.zeros((batch, latent_dim), np.float32))]
    if conditional:
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
    for path in (out, sidecar_path(out)):
        if path.exists():
            raise MsganError(f"{path} already exists and msgan never overwrites your files: pass another --out")
    return out


def graph_info(cfg: TrainConfig, batch: int, ckpt: Path, epoch: int) -> GraphInfo:
    """The sidecar's contents: what infer.py --mindir needs and the graph cannot tell."""
    spec = MODELS[cfg.model]
    return GraphInfo(model=cfg.model, latent_dim=cfg.latent_dim, latent=cfg.latent, batch=batch,
                     conditional=spec.conditional, kind=spec.kind, checkpoint=str(ckpt), epoch=epoch,
                     msgan_version=__version__, shape=list(cfg.sample_shape), classes=list(cfg.class_names))


def write_graph(generator: nn.Cell, info: GraphInfo, out: Path) -> None:
    """The .mindir and its .json, each atomically; the .json lands last, so a sidecar always has its whole graph."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MsganError(f"cannot create folder {out.parent} ({err.strerror}): pass another --out") from err
    inputs = example_inputs(info.latent_dim, info.conditional, info.batch)
    with atomic_path(sidecar_path(out)) as tmp_info, atomic_path(out) as tmp_graph, quiet_logging():
        ms.export(generator, *inputs, file_name=tmp_graph, file_format="MINDIR")
        Path(tmp_info).write_text(info.to_json(), encoding="utf-8")


def export_generator(request: ExportRequest) -> Path:
    """Write the checkpoint's generator, in eval mode, as a MINDIR graph for `request.batch` latents."""
    if request.format.upper() not in FORMATS:
        raise MsganError(f"--format {request.format}: msgan exports {', '.join(FORMATS)}")
    if request.batch < 1:
        raise MsganError(f"--batch-size must be at least 1, got {request.batch}")
    ckpt, run_root = resolve_checkpoint(request.ckpt, request.run, request.raw)
    cfg = resolve_architecture(run_root, ckpt, request.model, request.latent_dim, request.latent)
    out = export_path(request, ckpt, run_root)
    select_device(request.device)
    generator, ckpt_info = load_trained_generator(ckpt, cfg)
    generator.set_train(False)  # BatchNorm's running statistics, no Dropout
    info = graph_info(cfg, request.batch, ckpt, ckpt_info.epoch)
    write_graph(generator, info, out)
    inputs = "latents and class labels" if info.conditional else "latents"
    outputs = "four numbers in [0, 1]" if info.kind == "pattern" else "images ({}) in [-1, 1]".format(
        "x".join(map(str, info.drawn.shape)))
    print(f"msgan: generator of {ckpt} ('{cfg.model}', epoch {info.epoch}, {weights_of(ckpt)}) exported to {out}, "
          f"described in {sidecar_path(out).name}: {info.batch} {inputs} of size {cfg.latent_dim} ({cfg.latent}) in, "
          f"{info.batch} {outputs} out", flush=True)
    return out
