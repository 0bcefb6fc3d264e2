"""Saving and strictly loading checkpoints, with msgan's metadata inside each file.

Two kinds: a network's weights (Generator<E>.ckpt, Discriminator<E>.ckpt, as the tutorial saves them),
and the resume state (resume.ckpt): both networks, both optimizers, where the run stands and its loss
history, in one file, so that one atomic rename moves a run from one consistent point to the next.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn

import msgan
from msgan.errors import MsganError
from msgan.files import atomic_path, quiet_logging

META_PREFIX = "msgan_"
GENERATOR, DISCRIMINATOR, STATE = "generator", "discriminator", "state"
INFO_FIELDS = ("network", "model", "epoch", "step", "batch", "recipe_hash", "version")
# A generator saved by the MindSpore GAN tutorial's own code: save_checkpoint(net_g, "Generator<E>.ckpt") after
# net_g.update_parameters_name('generator') and optimizer_g.update_parameters_name('optim_g'), which also renames
# the weights the optimizer holds: 'optim_ggeneratormodel.0.weight', but 'generatormodel.3.moving_mean'.
TUTORIAL_NAME = re.compile(r"(?:optim_g)?generator(model\..+)")
TUTORIAL = "the MindSpore GAN tutorial"  # CheckpointInfo.version of such a file


@dataclass
class CheckpointInfo:
    """What msgan records in a checkpoint beside the weights."""

    network: str      # "generator", "discriminator" or "state"
    model: str        # registry name, e.g. "mlp"
    epoch: int        # weights: the epochs trained, as in the file's name (counted from 1);
                      # state: the epochs finished, which is the epoch to go on with as the code counts (from 0)
    step: int         # steps done in the whole run
    recipe_hash: str
    version: str
    batch: int = 0    # state: batches of `epoch` already done (a run stopped mid-epoch resumes there)


def _save(contents: Union[nn.Cell, list], path: str | os.PathLike, info: CheckpointInfo,
          extras: dict[str, Union[np.ndarray, str]]) -> None:
    """Write `contents` with `info` and `extras` (arrays or strings) atomically, with a CRC."""
    meta = {f"{META_PREFIX}{name}": getattr(info, name) for name in INFO_FIELDS}
    meta.update({f"{META_PREFIX}{name}": value for name, value in extras.items() if isinstance(value, str)})
    # save_checkpoint silently drops empty arrays; readers treat a missing one as empty
    meta.update({f"{META_PREFIX}{name}": Tensor(value) for name, value in extras.items()
                 if not isinstance(value, str) and np.size(value)})
    with atomic_path(path) as tmp, quiet_logging():
        ms.save_checkpoint(contents, tmp, append_dict=meta, crc_check=True)


def save_network(net: nn.Cell, path: str | os.PathLike, info: CheckpointInfo,
                 extras: Optional[dict[str, np.ndarray]] = None, strip: str = "") -> None:
    """Write `net`'s parameters (BatchNorm statistics included), `info` and any `extras`; with `strip`, each
    parameter's name loses that prefix (G's average, ema.generator.…, saves as generator.…)."""
    contents = [{"name": p.name.removeprefix(strip), "data": p} for p in net.get_parameters()] if strip else net
    _save(contents, path, info, extras or {})


def save_state(params: list[Parameter], path: str | os.PathLike, info: CheckpointInfo,
               extras: dict[str, Union[np.ndarray, str]]) -> None:
    """Write the resume state: `params` (weights and optimizer state) by name, `info`, and `extras` (history)."""
    _save([{"name": p.name, "data": p} for p in params], path, info, extras)


def _plain(value):
    """save_checkpoint stores metadata as Parameters; read it back as a Python number or a NumPy array."""
    if not hasattr(value, "asnumpy"):
        return value
    array = value.asnumpy()
    return array.item() if array.ndim == 0 else array


def read_checkpoint_extras(path: str | os.PathLike) -> tuple[dict, CheckpointInfo, dict]:
    """Read a checkpoint file into (parameters, info, extras); any damage is one clear MsganError."""
    path = Path(path)
    if path.is_dir():
        raise MsganError(f"{path} is a folder, not a checkpoint: pass one of its .ckpt files"
                         + (", or the run folder with --run" if path.name == "checkpoints" else ""))
    if not path.is_file():
        raise MsganError(f"checkpoint {path} does not exist: pass a .ckpt file from a run's checkpoints/ folder")
    if path.stat().st_size == 0:
        raise MsganError(f"checkpoint {path} is empty (0 bytes), probably from an interrupted copy: "
                         "use another checkpoint of the run")
    try:
        with quiet_logging():
            contents = ms.load_checkpoint(str(path), crc_check=True)
    except (ValueError, RuntimeError, TypeError) as err:
        raise MsganError(f"checkpoint {path} is damaged or truncated and cannot be read: "
                         "use another checkpoint of the run") from err
    meta = {k[len(META_PREFIX):]: _plain(v) for k, v in contents.items() if k.startswith(META_PREFIX)}
    params = {k: v for k, v in contents.items() if not k.startswith(META_PREFIX)}
    if "network" not in meta:
        tutorial = tutorial_generator(params, path)
        if tutorial is None:
            raise MsganError(f"{path} was not written by msgan (no msgan metadata) nor by the MindSpore GAN "
                             "tutorial: train with `python train.py` to get a loadable checkpoint")
        return (*tutorial, {})
    info = CheckpointInfo(
        network=str(meta.pop("network")), model=str(meta.pop("model")),
        epoch=int(meta.pop("epoch")), step=int(meta.pop("step")),
        recipe_hash=str(meta.pop("recipe_hash")), version=str(meta.pop("version")),
        batch=int(meta.pop("batch", 0)),
    )
    return params, info, meta


def tutorial_generator(params: dict, path: Path) -> Optional[tuple[dict, CheckpointInfo]]:
    """The parameters of a generator saved by the tutorial's code under msgan's names (generator.model.…),
    with the info msgan would have recorded (its layers are msgan's `mlp` generator's, index for index); None
    for any other file. The epoch is the one of the tutorial's file name, Generator<E>.ckpt, which counts from 0
    where msgan's names count from 1: its Generator11.ckpt holds 12 epochs (0 without such a name)."""
    matches = {key: TUTORIAL_NAME.fullmatch(key) for key in params}
    if not params or not all(matches.values()):
        return None
    renamed = {f"generator.{match.group(1)}": params[key] for key, match in matches.items()}
    epoch = re.fullmatch(r"Generator(\d+)\.ckpt", path.name)
    return renamed, CheckpointInfo(network=GENERATOR, model="mlp", epoch=int(epoch.group(1)) + 1 if epoch else 0,
                                   step=0, recipe_hash="", version=TUTORIAL)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, CheckpointInfo]:
    """A network checkpoint's (parameters, info)."""
    params, info, _ = read_checkpoint_extras(path)
    return params, info


def check_fit(expected: dict[str, tuple], params: dict, source: str) -> None:
    """Refuse `params` unless they hold every expected name with its shape, and nothing else."""
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


def load_into(net: nn.Cell, params: dict, source: str) -> None:
    """Load `params` into `net` strictly: every name present, every shape equal, nothing left over."""
    check_fit({p.name: tuple(p.shape) for p in net.get_parameters()}, params, source)
    not_loaded, _ = ms.load_param_into_net(net, params, strict_load=True)
    if not_loaded:  # cannot happen after the checks above; never continue half-loaded
        raise MsganError(f"{source}: parameters {not_loaded[:3]} were not loaded")


def assign_state(targets: list[Parameter], params: dict, source: str) -> None:
    """Set every Parameter in `targets` from `params` by name, strictly, keeping each target's dtype."""
    check_fit({p.name: tuple(p.shape) for p in targets}, params, source)
    for target in targets:
        target.set_data(Tensor(params[target.name].asnumpy(), dtype=target.dtype))


def load_generator(net: nn.Cell, path: str | os.PathLike, model: str) -> CheckpointInfo:
    """Load a generator checkpoint of `model` into `net`, refusing anything else."""
    params, info = read_checkpoint(path)
    if info.network != GENERATOR:
        what = "a resume state" if info.network == STATE else f"a {info.network} checkpoint"
        raise MsganError(f"{path} is {what}; sampling needs a Generator*.ckpt file")
    if info.model != model:
        raise MsganError(f"{path} holds a '{info.model}' generator, not '{model}': pass --model {info.model}")
    load_into(net, params, str(path))
    if info.version == TUTORIAL:
        print(f"msgan: {path} was saved by {TUTORIAL}'s code; its weights (named 'generatormodel.…' there, "
              f"with or without 'optim_g') are loaded, all of them, into msgan's '{model}' generator, the same "
              "network", flush=True)
    return info


def checkpoint_info(epoch: int, step: int, network: str, model: str, recipe_hash: str, batch: int = 0) -> CheckpointInfo:
    """The metadata for a checkpoint written now by this msgan."""
    return CheckpointInfo(network, model, epoch, step, recipe_hash, msgan.__version__, batch)
