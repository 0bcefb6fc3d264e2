"""What a run leaves behind as it trains: the loss history, each epoch's checkpoints and picture, the GIF,
the loss plot, and the resume state that lets it continue after a stop."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from mindspore import Parameter, nn

from msgan.checkpoints import DISCRIMINATOR, GENERATOR, STATE, checkpoint_info, save_network, save_state
from msgan.config import TrainConfig
from msgan.data import to_uint8
from msgan.models import MODELS, NUM_CLASSES
from msgan.runs import LOSS_COLUMNS, PATTERN_COLUMNS, Position, RunFolder, prune_checkpoints, write_losses
from msgan.sampling import generate
from msgan.visuals import heat_strip, make_grid, plot_losses, plot_pattern_outputs, save_gif, save_png

# Drawing loss.png takes about 0.3 s, a tenth of an epoch on the 2-core CPU: redraw it at most
# this often, and always after the last epoch. losses.csv is still written every epoch.
PLOT_EVERY_S = 30.0


def grid_labels(cfg: TrainConfig) -> np.ndarray:
    """Digit labels for a conditional model's sample grid: row r draws digit r mod 10."""
    return (np.arange(cfg.grid_size ** 2, dtype=np.int32) // cfg.grid_size) % NUM_CLASSES


@dataclass
class RunRecorder:
    """Keeps a run's loss history and writes what each finished epoch leaves in the run folder."""

    run: RunFolder
    cfg: TrainConfig
    generator: nn.Cell
    discriminator: nn.Cell
    steps_per_epoch: int
    fixed_z: np.ndarray  # the noise behind every epoch's picture
    rows: list[tuple] = field(default_factory=list)
    last_plot: float = -PLOT_EVERY_S
    columns: ClassVar[tuple[str, ...]] = LOSS_COLUMNS

    def record(self, epoch: int, step: int, values: list[float]) -> None:
        self.rows.append((epoch, step, *values))

    def epoch_means(self) -> dict[str, float]:
        means = np.mean([row[2:6] for row in self.rows[-self.steps_per_epoch:]], axis=0)
        return dict(zip(("loss_d", "loss_g", "D(x)", "D(G(z))"), means))

    def history(self) -> dict[str, np.ndarray]:
        """What a resumed run needs to continue losses.csv, loss.png and the pictures (float64 holds
        the steps exactly and every float32 loss as it was)."""
        return {"losses": np.array(self.rows, dtype=np.float64).reshape(-1, len(self.columns))}

    def restore(self, history: dict[str, np.ndarray]) -> None:
        losses = history.get("losses", np.zeros((0, len(self.columns))))
        self.rows = [(int(epoch), int(step), *values) for epoch, step, *values in losses.tolist()]

    def picture(self) -> np.ndarray:
        """The epoch's sample grid, drawn from the fixed noise."""
        labels = grid_labels(self.cfg) if MODELS[self.cfg.model].conditional else None
        return make_grid(to_uint8(generate(self.generator, self.fixed_z, labels)), columns=self.cfg.grid_size)

    def plot(self) -> None:
        losses = np.array([row[2:4] for row in self.rows], dtype=np.float64)
        plot_losses(losses[:, 0], losses[:, 1], self.steps_per_epoch, self.run.loss_png, self.cfg.loss.upper())

    def save_epoch(self, epoch: int, step: int) -> None:
        """Both checkpoints, the epoch's picture, the GIF and the losses of a finished epoch."""
        cfg, run = self.cfg, self.run
        recipe = cfg.recipe_hash()
        save_network(self.generator, run.generator_ckpt(epoch),
                     checkpoint_info(epoch, step, GENERATOR, cfg.model, recipe))
        save_network(self.discriminator, run.discriminator_ckpt(epoch),
                     checkpoint_info(epoch, step, DISCRIMINATOR, cfg.model, recipe))
        save_png(self.picture(), run.epoch_image(epoch))
        save_gif([run.epoch_image(e) for e in range(epoch + 1)], run.gif)
        write_losses(run.losses_csv, self.rows, self.columns)
        if epoch == cfg.epochs - 1 or time.perf_counter() - self.last_plot >= PLOT_EVERY_S:
            self.plot()
            self.last_plot = time.perf_counter()

    def save_state(self, parameters: list[Parameter], at: Position, samples: int) -> None:
        """The resume state: `parameters` (both networks and optimizers), where the run stands, the history,
        and the training set's size; then the epoch checkpoints beyond --keep-last, which it no longer needs."""
        cfg = self.cfg
        info = checkpoint_info(at.epoch, at.step, STATE, cfg.model, cfg.recipe_hash(), at.batch)
        save_state(parameters, self.run.resume_state, info, {**self.history(), "samples": np.array(samples)})
        if cfg.keep_last is not None:
            prune_checkpoints(self.run, cfg.keep_last)

    def summary(self) -> list[str]:
        """The run folder's files, for the message at the end of training."""
        run, last = self.run, self.cfg.epochs - 1
        kept = f"the newest {self.cfg.keep_last} epochs'" if self.cfg.keep_last else "every epoch's"
        return [f"{run.generator_ckpt(last)} (and {kept} Generator/Discriminator checkpoints)",
                f"{run.epoch_image(last)} (one picture per epoch in {run.images})",
                str(run.gif), str(run.loss_png), str(run.losses_csv), str(run.config)]


@dataclass
class PatternRecorder(RunRecorder):
    """The toy GAN's recorder: G's four outputs at every step go into losses.csv and outputs.png, and the
    epoch picture is a heat-map strip that gains a row, G's mean output on the fixed input, every epoch."""

    strip: list[np.ndarray] = field(default_factory=list)
    columns: ClassVar[tuple[str, ...]] = LOSS_COLUMNS + PATTERN_COLUMNS

    def history(self) -> dict[str, np.ndarray]:
        return {**super().history(), "strip": np.array(self.strip, dtype=np.float32).reshape(-1, 4)}

    def restore(self, history: dict[str, np.ndarray]) -> None:
        super().restore(history)
        self.strip = list(np.asarray(history.get("strip", []), dtype=np.float32).reshape(-1, 4))

    def picture(self) -> np.ndarray:
        self.strip.append(generate(self.generator, self.fixed_z).mean(axis=0))
        return heat_strip(np.array(self.strip), total_rows=self.cfg.epochs)

    def plot(self) -> None:
        super().plot()
        plot_pattern_outputs(np.array([row[6:] for row in self.rows]), self.run.outputs_png)

    def summary(self) -> list[str]:
        return [*super().summary(), f"{self.run.outputs_png} (G's four outputs at every step)"]


def new_recorder(run: RunFolder, cfg: TrainConfig, generator: nn.Cell, discriminator: nn.Cell,
                 steps_per_epoch: int, fixed_z: np.ndarray) -> RunRecorder:
    """The recorder for the run's kind of model."""
    recorder_type = PatternRecorder if MODELS[cfg.model].kind == "pattern" else RunRecorder
    return recorder_type(run, cfg, generator, discriminator, steps_per_epoch, fixed_z)
