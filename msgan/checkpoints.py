"""Saving and strictly loading network checkpoints, with msgan's metadata inside each file."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import mindspore as ms
from mindspore import nn

import msgan
from msgan.errors import MsganError
from msgan.files import atomic_path

META_PREFIX = "msgan_"
GENERATOR, DISCRIMINATOR = "generator", "discriminator"


@dataclass
class CheckpointInfo:
    """What msgan records in a checkpoint beside the weights."""

    network: str      # "generator" or "discriminator"
    model: str        # registry name, e.g. "mlp"
    epoch: int
    step: int
    recipe_hash: str
    version: str


def save_network(net: nn.Cell, path: str | os.PathLike, info: CheckpointInfo) -> None:
    """Write `net`'s parameters (BatchNorm statistics included) and `info` atomically, with a CRC."""
    meta = {
        f"{META_PREFIX}network": info.network,
        f"{META_PREFIX}model": info.model,
        f"{META_PREFIX}epoch": info.epoch,
        f"{META_PREFIX}step": info.step,
        f"{META_PREFIX}recipe_hash": info.recipe_hash,
        f"{META_PREFIX}version": info.version,
    }
    with atomic_path(path) as tmp:
        ms.save_checkpoint(net, tmp, append_dict=meta, crc_check=True)


def _as_int(value) -> int:
    """save_checkpoint stores int metadata as a 0-d Parameter; read it back as a Python int."""
    return int(value.asnumpy()) if hasattr(value, "asnumpy") else int(value)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, CheckpointInfo]:
    """Read a checkpoint file into (parameters, info); any damage is one clear MsganError."""
    path = Path(path)
    if not path.is_file():
        raise MsganError(f"checkpoint {path} does not exist: pass a .ckpt file from a run's checkpoints/ folder")
    if path.stat().st_size == 0:
        raise MsganError(f"checkpoint {path} is empty (0 bytes), probably from an interrupted copy: "
                         "use another checkpoint of the run")
    try:
        contents = ms.load_checkpoint(str(path), crc_check=True)
    except (ValueError, RuntimeError, TypeError) as err:
        raise MsganError(f"checkpoint {path} is damaged or truncated and cannot be read: "
                         "use another checkpoint of the run") from err
    meta = {k[len(META_PREFIX):]: v for k, v in contents.items() if k.startswith(META_PREFIX)}
    params = {k: v for k, v in contents.items() if not k.startswith(META_PREFIX)}
    if "network" not in meta:
        raise MsganError(f"{path} was not written by msgan (no msgan metadata): "
                         "train with `python train.py` to get a loadable checkpoint")
    info = CheckpointInfo(
        network=str(meta["network"]), model=str(meta["model"]),
        epoch=_as_int(meta["epoch"]), step=_as_int(meta["step"]),
        recipe_hash=str(meta["recipe_hash"]), version=str(meta["version"]),
    )
    return params, info


def load_into(net: nn.Cell, params: dict, source: str) -> None:
    """Load `params` into `net` strictly: every name present, every shape equal, nothing left over."""
    expected = {p.name: tuple(p.shape) for p in net.get_parameters()}
    found = {name: tuple(p.shape) for name, p in params.items()}
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    reshaped = sorted(n for n in set(expected) & set(found) if expected[n] != found[n])
    if missing or unexpected or reshaped:
        detail = "; ".join(part for part in (
            f"missing {missing[:3]}" if missing else "",
            f"unexpected {unexpected[:3]}" if unexpected else "",
            f"shape of {reshaped[0]} is {found[reshaped[0]]}, expected {expected[reshaped[0]]}" if reshaped else "",
        ) if part)
        raise MsganError(f"{source} does not fit this network ({detail}): "
                         "pick the --model and --latent-dim it was trained with")
    not_loaded, _ = ms.load_param_into_net(net, params, strict_load=True)
    if not_loaded:  # cannot happen after the checks above; never continue half-loaded
        raise MsganError(f"{source}: parameters {not_loaded[:3]} were not loaded")


def load_generator(net: nn.Cell, path: str | os.PathLike, model: str) -> CheckpointInfo:
    """Load a generator checkpoint of `model` into `net`, refusing anything else."""
    params, info = read_checkpoint(path)
    if info.network != GENERATOR:
        raise MsganError(f"{path} is a {info.network} checkpoint; sampling needs a Generator*.ckpt file")
    if info.model != model:
        raise MsganError(f"{path} holds a '{info.model}' generator, not '{model}': pass --model {info.model}")
    load_into(net, params, str(path))
    return info


def checkpoint_info(epoch: int, step: int, network: str, model: str, recipe_hash: str) -> CheckpointInfo:
    """The metadata for a checkpoint written now by this msgan."""
    return CheckpointInfo(network, model, epoch, step, recipe_hash, msgan.__version__)
