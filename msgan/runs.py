"""The run folder: where a run's checkpoints, pictures, losses and settings live."""
from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from msgan.config import TrainConfig
from msgan.errors import MsganError
from msgan.files import write_text

# d_real, d_fake: D's mean output on the batch's real and fake samples; acc_real, acc_fake: the shares of them
# that D classes rightly (the Keras lesson's accuracy), each counted before D's update of the step
LOSS_COLUMNS = ("epoch", "step", "loss_d", "loss_g", "d_real", "d_fake", "acc_real", "acc_fake")
PATTERN_COLUMNS = ("g_out0", "g_out1", "g_out2", "g_out3")  # the toy GAN's outputs, logged beside its losses
AVERAGE = "_ema"  # G's moving average beside the trained G: Generator<E>_ema.ckpt
METRIC_COLUMNS = ("epoch", "step", "num", "fid", "is", "modes", "kl_uniform", "precision", "recall")


@dataclass
class Position:
    """Where a run stands: `batch` batches of `epoch` done, `step` steps in all."""

    epoch: int = 0
    batch: int = 0
    step: int = 0


class RunFolder:
    """Paths inside one run folder.

    The code counts a run's epochs from 0, as range() does; whatever a person reads counts them from 1: the
    screen, file names, CSV files and plots. The methods below take the epoch as the code counts it, so
    generator_ckpt(0) is Generator1.ckpt, the weights after the first epoch.
    """

    def __init__(self, root: Path):
        self.root = root
        self.checkpoints = root / "checkpoints"
        self.images = root / "images"
        self.real_image = self.images / "real.png"  # real training samples, as the tutorial previews them
        self.config = root / "config.yaml"
        self.losses_csv = root / "losses.csv"
        self.loss_png = root / "loss.png"
        self.discriminator_png = root / "discriminator.png"  # D(x), D(G(z)) and D's accuracies over training
        self.gif = root / "progress.gif"
        self.outputs_png = root / "outputs.png"  # the toy GAN only
        self.resume_state = self.checkpoints / "resume.ckpt"  # what --resume continues from
        self.best_generator = self.checkpoints / "Generator_best.ckpt"  # the lowest FID of --eval-every
        self.metrics_csv = root / "metrics.csv"
        self.metrics_png = root / "metrics.png"

    def generator_ckpt(self, epoch: int) -> Path:
        return self.checkpoints / f"Generator{epoch + 1}.ckpt"

    def average_ckpt(self, epoch: int) -> Path:
        """G's moving average after `epoch` (see msgan.ema)."""
        return self.checkpoints / f"Generator{epoch + 1}{AVERAGE}.ckpt"

    def discriminator_ckpt(self, epoch: int) -> Path:
        return self.checkpoints / f"Discriminator{epoch + 1}.ckpt"

    def epoch_image(self, epoch: int) -> Path:
        return self.images / f"epoch{epoch + 1:03d}.png"


def create_run_folder(out: Optional[str], model: str) -> RunFolder:
    """A new, empty run folder: `out`, or runs/<model>-<time>; an existing run is never reused."""
    if out is not None:
        root = Path(out).expanduser()
        if root.exists() and not root.is_dir():
            raise MsganError(f"--out {root} is a file, not a folder: choose a new --out, "
                             "or leave it out for a fresh folder under runs/")
        if root.exists() and any(root.iterdir()):
            raise MsganError(f"output folder {root} already exists and is not empty: choose a new --out, "
                             "leave it out for a fresh folder under runs/, or continue that run with --resume")
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        root = Path("runs") / f"{model}-{stamp}"
        suffix = 1
        while root.exists():
            suffix += 1
            root = Path("runs") / f"{model}-{stamp}-{suffix}"
    run = RunFolder(root)
    try:
        for folder in (run.checkpoints, run.images):
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MsganError(f"cannot create output folder {root} ({err.strerror}): "
                         "pass --out with a folder you can write to") from err
    return run


def write_config(run: RunFolder, cfg: TrainConfig) -> None:
    """Save every resolved setting, plus versions, as config.yaml."""
    write_text(run.config, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def read_config(run_root: Path) -> Optional[dict]:
    """A run's saved settings, or None when the folder has no config.yaml."""
    path = run_root / "config.yaml"
    if not path.is_file():
        return None
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise MsganError(f"{path} is not valid YAML ({err.__class__.__name__}): restore it or pass --model") from err
    if not isinstance(values, dict):
        raise MsganError(f"{path} does not hold run settings: restore it or pass --model")
    return values


def write_csv(path: Path, rows: list[tuple], columns: tuple[str, ...] = LOSS_COLUMNS) -> None:
    """Write rows of (epoch, step, then the values named in `columns`) as CSV, atomically; the file counts
    epochs from 1, as a person reads them (the rows count from 0, as the code does)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for epoch, step, *values in rows:
        writer.writerow([epoch + 1, step, *(f"{v:.6g}" for v in values)])
    write_text(path, buffer.getvalue())


def epoch_checkpoints(run_root: Path, network: str, suffix: str = "") -> dict[int, Path]:
    """A run's Generator<E>.ckpt (network "Generator") or Discriminator<E>.ckpt files, by the E of their names;
    with suffix "_ema", the moving average's Generator<E>_ema.ckpt."""
    found = {}
    for path in (run_root / "checkpoints").glob(f"{network}*{suffix}.ckpt"):
        match = re.fullmatch(rf"{network}(\d+){suffix}\.ckpt", path.name)
        if match:
            found[int(match.group(1))] = path
    return found


def latest_generator(run_root: Path, raw: bool = False) -> Path:
    """The generator checkpoint of the run's highest epoch: its moving average when the run keeps one, unless
    `raw` asks for the trained weights."""
    found = epoch_checkpoints(run_root, "Generator")
    if not found:
        raise MsganError(f"no Generator*.ckpt in {run_root / 'checkpoints'}: "
                         "pass --run with a run folder that finished at least one epoch, or --ckpt")
    last = max(found)
    average = epoch_checkpoints(run_root, "Generator", AVERAGE).get(last)
    return found[last] if raw or average is None else average


def prune_checkpoints(run: RunFolder, keep_last: int) -> None:
    """Delete the epoch checkpoints older than the newest `keep_last` epochs (the newest always stays)."""
    for network, suffix in (("Generator", ""), ("Generator", AVERAGE), ("Discriminator", "")):
        found = epoch_checkpoints(run.root, network, suffix)
        for epoch in sorted(found)[:-keep_last]:
            found[epoch].unlink()
