"""What a run leaves behind as it trains: the loss history, each epoch's checkpoints and picture, the GIF,
the loss plot, and the resume state that lets it continue after a stop."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar, Optional

import numpy as np
from mindspore import Parameter

from msgan.checkpoints import DISCRIMINATOR, GENERATOR, STATE, checkpoint_info, save_network, save_state
from msgan.config import TrainConfig, trained_settings
from msgan.data import epoch_order, to_uint8
from msgan.ema import PREFIX, sampling_batch, standing_plan, standing_statistics
from msgan.judge import load_judge
from msgan.losses import LOSSES
from msgan.models import MODELS
from msgan.runs import (LOSS_COLUMNS, METRIC_COLUMNS, PATTERN_COLUMNS, Position, RunFolder, prune_checkpoints,
                        write_csv)
from msgan.sampling import cycling_labels, generate, latents
from msgan.step import Networks
from msgan.streams import EVAL_NOISE, STANDING_STATS
from msgan.visuals import (heat_strip, make_grid, plot_discriminator, plot_epoch_losses, plot_losses, plot_metrics,
                           plot_pattern_outputs, save_gif, save_png)

# Drawing loss.png takes about 0.3 s, and re-encoding progress.gif grows with the epochs (0.1 s at
# 70), against an epoch of about 1.2 s on the 2-core CPU: redraw both at most this often, after the
# last epoch and when a run stops. The epoch's picture, checkpoints and losses.csv are written every epoch.
REDRAW_EVERY_S = 30.0
FID = METRIC_COLUMNS.index("fid")


def grid_labels(cfg: TrainConfig) -> np.ndarray:
    """Class labels for a conditional model's sample grid: row r draws class r mod the number of classes."""
    return (np.arange(cfg.grid_size ** 2, dtype=np.int32) // cfg.grid_size) % cfg.num_classes


@dataclass
class RunRecorder:
    """Keeps a run's loss history and writes what each finished epoch leaves in the run folder."""

    run: RunFolder
    cfg: TrainConfig
    nets: Networks
    steps_per_epoch: int
    fixed_z: np.ndarray  # the noise behind every epoch's picture
    rows: list[tuple] = field(default_factory=list)
    metric_rows: list[tuple] = field(default_factory=list)  # one per evaluation, as METRIC_COLUMNS
    last_redraw: float = -REDRAW_EVERY_S
    columns: ClassVar[tuple[str, ...]] = LOSS_COLUMNS

    def record(self, epoch: int, step: int, values: list[float]) -> None:
        self.rows.append((epoch, step, *values))

    def epoch_summary(self, epoch: int) -> dict[str, float]:
        """The epoch's mean losses and D outputs, and its scores when it was evaluated."""
        loss_d, loss_g, d_real, d_fake, acc_real, acc_fake = np.mean(
            [row[2:8] for row in self.rows[-self.steps_per_epoch:]], axis=0).tolist()
        summary = {"loss_d": loss_d, "loss_g": loss_g, "D(x)": d_real, self.fakes(): d_fake,
                   "D accuracy": (acc_real + acc_fake) / 2}
        if self.metric_rows and self.metric_rows[-1][0] == epoch:
            scores = dict(zip(METRIC_COLUMNS, self.metric_rows[-1]))
            summary.update({"FID": scores["fid"], "IS": scores["is"], "modes": int(scores["modes"])})
        return summary

    def fakes(self) -> str:
        """What D's output on its fakes is called: D(noise) when D learns alone (--d-alone)."""
        return "D(noise)" if self.cfg.d_alone else "D(G(z))"

    def history(self) -> dict[str, np.ndarray]:
        """What a resumed run needs to continue losses.csv, loss.png and the pictures (float64 holds
        the steps exactly and every float32 loss as it was)."""
        return {"losses": np.array(self.rows, dtype=np.float64).reshape(-1, len(self.columns)),
                "metrics": np.array(self.metric_rows, dtype=np.float64).reshape(-1, len(METRIC_COLUMNS))}

    def restore(self, history: dict[str, np.ndarray]) -> None:
        losses = history.get("losses", np.zeros((0, len(self.columns))))
        self.rows = [(int(epoch), int(step), *values) for epoch, step, *values in losses.tolist()]
        metrics = history.get("metrics", np.zeros((0, len(METRIC_COLUMNS))))
        self.metric_rows = [(int(e), int(s), int(n), fid, is_, int(modes), *rest)
                            for e, s, n, fid, is_, modes, *rest in metrics.tolist()]

    def picture(self) -> np.ndarray:
        """The epoch's sample grid, drawn from the fixed noise by the run's sampler (G's average, when it has one)."""
        labels = grid_labels(self.cfg) if MODELS[self.cfg.model].conditional else None
        return make_grid(to_uint8(generate(self.nets.sampler, self.fixed_z, labels)), columns=self.cfg.grid_size)

    def save_real(self, samples: np.ndarray) -> None:
        """images/real.png: the first real samples that the first epoch trains on, as many as a sample grid
        holds, to set beside the generated ones (the tutorial's and the PyTorch lesson's preview)."""
        first = samples[epoch_order(len(samples), self.cfg.seed, 0)[:self.cfg.grid_size ** 2]]
        save_png(self.real_picture(first), self.run.real_image)

    def real_picture(self, samples: np.ndarray) -> np.ndarray:
        """Real samples laid out as the epoch pictures are."""
        return make_grid(to_uint8(samples), columns=self.cfg.grid_size)

    def plot(self) -> None:
        """loss.png, discriminator.png, and metrics.png once an epoch was scored."""
        values = np.array([row[2:8] for row in self.rows], dtype=np.float64)
        self.plot_losses(values[:, 0], None if self.cfg.d_alone else values[:, 1])  # G learns nothing alone
        loss = LOSSES[self.cfg.loss]
        plot_discriminator(values[:, 2:], self.steps_per_epoch, self.run.discriminator_png, loss.probability,
                           0.5 if loss.probability else loss.midpoint, self.fakes())
        if self.metric_rows:
            plot_metrics(np.array(self.metric_rows, dtype=np.float64), self.run.metrics_png)

    def plot_losses(self, loss_d: np.ndarray, loss_g: Optional[np.ndarray], d_label: str = "D") -> None:
        """loss.png: per step, or each epoch's last step as the tutorial appends after every epoch."""
        name = self.cfg.loss.upper()
        if self.cfg.loss_plot == "epoch":
            ends = slice(self.steps_per_epoch - 1, None, self.steps_per_epoch)
            ends_g = None if loss_g is None else loss_g[ends]
            plot_epoch_losses(loss_d[ends], ends_g, self.run.loss_png, name, d_label)
        else:
            plot_losses(loss_d, loss_g, self.steps_per_epoch, self.run.loss_png, name, d_label)

    def save_epoch(self, epoch: int, step: int) -> None:
        """The checkpoints (G, its average and D), the epoch's picture, the GIF and the losses of a finished epoch."""
        cfg, run, nets = self.cfg, self.run, self.nets
        recipe = cfg.recipe_hash()
        done = epoch + 1  # a network checkpoint records the epochs it has trained, as its name says
        save_network(nets.generator, run.generator_ckpt(epoch), checkpoint_info(done, step, GENERATOR, cfg.model, recipe))
        if nets.average is not None:
            self.restandardise()
            self.save_sampler(run.average_ckpt(epoch), epoch, step)
        save_network(nets.discriminator, run.discriminator_ckpt(epoch),
                     checkpoint_info(done, step, DISCRIMINATOR, cfg.model, recipe))
        save_png(self.picture(), run.epoch_image(epoch))
        write_csv(run.losses_csv, self.rows, self.columns)
        if self.evaluation_due(epoch):
            self.evaluate(epoch, step)
        if epoch == cfg.epochs - 1 or time.perf_counter() - self.last_redraw >= REDRAW_EVERY_S:
            self.redraw(epoch)

    def redraw(self, epoch: int) -> None:
        """progress.gif from the pictures of epochs 0..`epoch` (every --gif-every-th), and the loss plot."""
        save_gif([self.run.epoch_image(e) for e in range(0, epoch + 1, self.cfg.gif_every)], self.run.gif,
                 frame_ms=round(1000 / self.cfg.gif_fps))
        self.plot()
        self.last_redraw = time.perf_counter()

    def restandardise(self) -> None:
        """Give G's average the BatchNorm statistics of its own weights (see ema.standing_statistics)."""
        cfg, spec = self.cfg, MODELS[self.cfg.model]
        samples, batch = standing_plan(spec.convolutional)
        z = latents(samples, cfg.latent_dim, cfg.seed, STANDING_STATS, distribution=cfg.latent)
        standing_statistics(self.nets.average.net, z, cycling_labels(samples, cfg.label_classes), batch)

    def save_sampler(self, path, epoch: int, step: int, extras: Optional[dict] = None) -> None:
        """The sampler's weights as a generator checkpoint that loads strictly into a fresh generator."""
        cfg, average = self.cfg, self.nets.average
        info = checkpoint_info(epoch + 1, step, GENERATOR, cfg.model, cfg.recipe_hash())
        extras = {**(extras or {}), **({"ema": np.array(average.decay)} if average is not None else {})}
        save_network(self.nets.sampler, path, info, extras, strip=PREFIX if average is not None else "")

    def evaluation_due(self, epoch: int) -> bool:
        every = self.cfg.eval_every
        last = epoch == self.cfg.epochs - 1
        return MODELS[self.cfg.model].kind == "digits" and every > 0 and ((epoch + 1) % every == 0 or last)

    def evaluate(self, epoch: int, step: int) -> None:
        """Score eval_samples samples drawn from fixed noise (so that the scores follow G alone) into
        metrics.csv and metrics.png, and keep the generator of the lowest FID as Generator_best.ckpt."""
        cfg, run = self.cfg, self.run
        z = latents(cfg.eval_samples, cfg.latent_dim, cfg.seed, EVAL_NOISE, distribution=cfg.latent)
        labels = cycling_labels(cfg.eval_samples, cfg.label_classes)
        # in one batch, 2,000 of the MLP's took 0.3 s; in batches of 256, 0.6 s
        batch = sampling_batch(MODELS[cfg.model].convolutional, cfg.eval_samples)
        scores = load_judge(cfg.judge).score(to_uint8(generate(self.nets.sampler, z, labels, batch)))  # loaded once
        best = self.best_row()
        self.metric_rows.append((epoch, step, cfg.eval_samples, *(scores[c] for c in METRIC_COLUMNS[3:])))
        write_csv(run.metrics_csv, self.metric_rows, METRIC_COLUMNS)  # metrics.png is redrawn with loss.png
        if best is None or scores["fid"] < best[FID]:
            self.save_sampler(run.best_generator, epoch, step, {"fid": np.array(scores["fid"])})

    def best_row(self) -> Optional[tuple]:
        """The evaluation of the lowest FID so far."""
        return min(self.metric_rows, key=lambda row: row[FID], default=None)

    def save_state(self, parameters: list[Parameter], at: Position, facts: dict[str, int]) -> None:
        """The resume state: `parameters` (both networks and optimizers), where the run stands, the history,
        and `facts` that a resume checks (the training set's size, the number of workers); then the
        epoch checkpoints beyond --keep-last, which it no longer needs."""
        cfg = self.cfg
        info = checkpoint_info(at.epoch, at.step, STATE, cfg.model, cfg.recipe_hash(), at.batch)
        extras = {name: np.array(value) for name, value in facts.items()}
        extras["settings"] = trained_settings(cfg)  # so that a resume sees a hand-edited config.yaml
        save_state(parameters, self.run.resume_state, info, {**self.history(), **extras})
        if cfg.keep_last is not None:
            prune_checkpoints(self.run, cfg.keep_last)

    def summary(self) -> list[str]:
        """The run folder's files, for the message at the end of training."""
        run, last = self.run, self.cfg.epochs - 1
        kept = f"the newest {self.cfg.keep_last} epochs'" if self.cfg.keep_last else "every epoch's"
        lines = [f"{run.generator_ckpt(last)} (and {kept} Generator/Discriminator checkpoints)",
                 f"{run.epoch_image(last)} (one picture per epoch in {run.images}; real samples in "
                 f"{run.real_image.name})",
                 str(run.gif), str(run.loss_png), f"{run.discriminator_png} (D's outputs and accuracy)",
                 str(run.losses_csv), str(run.config)]
        best = self.best_row()
        if best is not None:
            lines += [f"{run.metrics_csv} and {run.metrics_png} (FID, IS, modes, precision, recall)",
                      f"{run.best_generator} (the weights of {run.generator_ckpt(best[0]).name}, the lowest FID: "
                      f"{best[FID]:.1f})"]
        return lines


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
        self.strip.append(generate(self.nets.sampler, self.fixed_z).mean(axis=0))
        return heat_strip(np.array(self.strip), total_rows=self.cfg.epochs)

    def real_picture(self, samples: np.ndarray) -> np.ndarray:
        return heat_strip(samples)

    def plot_losses(self, loss_d: np.ndarray, loss_g: Optional[np.ndarray], d_label: str = "D") -> None:
        """D's loss per call, as the lesson plots it: one call on a real sample, one on a fake, each its own
        loss, so the mean of the two where the recipe sums them (at the balance, (1/2)² = 0.25)."""
        per_call = loss_d / 2 if self.cfg.d_loss == "sum" else loss_d
        super().plot_losses(per_call, loss_g, "D (per call)")

    def plot(self) -> None:
        super().plot()
        plot_pattern_outputs(np.array([row[8:] for row in self.rows]), self.run.outputs_png)

    def summary(self) -> list[str]:
        return [*super().summary(), f"{self.run.outputs_png} (G's four outputs at every step)"]


def new_recorder(run: RunFolder, cfg: TrainConfig, nets: Networks, steps_per_epoch: int,
                 fixed_z: np.ndarray) -> RunRecorder:
    """The recorder for the run's kind of model."""
    recorder_type = PatternRecorder if MODELS[cfg.model].kind == "pattern" else RunRecorder
    return recorder_type(run, cfg, nets, steps_per_epoch, fixed_z)
