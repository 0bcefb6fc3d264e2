"""The GAN training step, written once for any generator/discriminator pair, and the training loop."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, ClassVar

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from msgan.checkpoints import DISCRIMINATOR, GENERATOR, checkpoint_info, save_network
from msgan.config import TrainConfig, check_ranges
from msgan.console import Progress, format_seconds
from msgan.data import TrainingSet, batches, digit_set, load_digits, pattern_set, to_uint8
from msgan.device import select_device
from msgan.errors import MsganError
from msgan.models import MODELS, NUM_CLASSES, build_discriminator, build_generator
from msgan.runs import LOSS_COLUMNS, PATTERN_COLUMNS, RunFolder, create_run_folder, write_config, write_losses
from msgan.sampling import FIXED_NOISE, STEP_NOISE, generate, latents
from msgan.visuals import heat_strip, make_grid, plot_losses, plot_pattern_outputs, save_gif, save_png

StepFn = Callable[[Tensor, Tensor, Tensor], Tensor]
LOSSES = {"bce": nn.BCELoss, "mse": nn.MSELoss}
# Drawing loss.png takes about 0.3 s, a tenth of an epoch on the 2-core CPU: redraw it at most
# this often, and always after the last epoch. losses.csv is still written every epoch.
PLOT_EVERY_S = 30.0


def prefix_optimizer_state(optimizer: nn.Optimizer, prefix: str) -> None:
    """Prefix an optimizer's own state (step, learning rate, beta powers, moments), not the weights it updates.

    Two optimizers in one graph must not both own a 'global_step'. The tutorial calls
    optimizer.update_parameters_name, which also renames the network's weights (to names such as
    'optim_ggeneratormodel.0.weight') so that its checkpoints no longer load into a fresh network.
    """
    weights = {id(p) for p in optimizer.parameters}
    for param in optimizer.get_parameters():
        if id(param) not in weights:
            param.name = prefix + param.name


def make_optimizer(net: nn.Cell, cfg: TrainConfig) -> nn.Optimizer:
    """The recipe's optimizer over one network's trainable weights."""
    if cfg.optimizer == "sgd":
        return nn.SGD(net.trainable_params(), learning_rate=cfg.lr)
    return nn.Adam(net.trainable_params(), learning_rate=cfg.lr, beta1=cfg.beta1, beta2=cfg.beta2)


def make_optimizers(generator: nn.Cell, discriminator: nn.Cell, cfg: TrainConfig) -> tuple[nn.Optimizer, nn.Optimizer]:
    """One optimizer per network, with distinct state names so that one graph can hold both."""
    opt_g, opt_d = make_optimizer(generator, cfg), make_optimizer(discriminator, cfg)
    prefix_optimizer_state(opt_g, "optim_g.")
    prefix_optimizer_state(opt_d, "optim_d.")
    return opt_g, opt_d


def make_train_step(generator: nn.Cell, discriminator: nn.Cell, opt_g: nn.Optimizer, opt_d: nn.Optimizer,
                    loss: str = "bce", d_loss: str = "mean", conditional: bool = False, track_fakes: bool = False,
                    compiled: bool = True) -> StepFn:
    """Build train_step(real, z, labels) -> [loss_d, loss_g, mean D(x), mean D(G(z))]: D is updated, then G.

    D's loss is the mean of its real and fake losses, or their `d_loss="sum"` (the 1010 lesson takes
    one D step on each). `labels` reach the networks only when they are `conditional`, and with
    `track_fakes` the batch mean of G's output follows the four numbers; these are Python-level
    choices, so the graph never sees the other branch.
    """
    generator.set_train(True)  # BatchNorm normalises by batch statistics and updates its running ones
    discriminator.set_train(True)
    criterion = LOSSES[loss](reduction="mean")

    def make_fakes(z, labels):
        return generator(z, labels) if conditional else generator(z)

    def judge(x, labels):
        return discriminator(x, labels) if conditional else discriminator(x)

    def discriminator_loss(real, fake, labels):
        p_real, p_fake = judge(real, labels), judge(fake, labels)
        loss = criterion(p_real, ops.ones_like(p_real)) + criterion(p_fake, ops.zeros_like(p_fake))
        if d_loss == "mean":
            loss = loss / 2
        return loss, (p_real.mean(), p_fake.mean())

    def generator_loss(fake, labels):
        p_fake = judge(fake, labels)
        return criterion(p_fake, ops.ones_like(p_fake))  # non-saturating: G maximises log D(G(z))

    # D's loss is differentiated over D's weights only; G's loss over G's output, from which ms.vjp
    # carries the gradient back into G's weights.
    grad_d = ms.value_and_grad(discriminator_loss, None, opt_d.parameters, has_aux=True)
    grad_g = ms.value_and_grad(generator_loss, 0)

    def train_step(real, z, labels):
        # One forward pass of G serves both updates, since G does not change before its own update
        # (PyTorch's DCGAN example reuses its fake batch the same way). Running it twice cost the
        # DCGAN step about a sixth of its time, and updated BatchNorm's running statistics twice.
        fake, pull_back = ms.vjp(make_fakes, z, labels, weights=opt_g.parameters)
        (loss_d, (d_real, d_fake)), grads = grad_d(real, ops.stop_gradient(fake), labels)
        opt_d(grads)
        loss_g, grad_fake = grad_g(fake, labels)
        opt_g(pull_back(grad_fake)[1])  # [0] would be the gradients of z and labels
        stats = ops.stack([loss_d, loss_g, d_real, d_fake])
        return ops.concat((stats, fake.mean(0).reshape(-1))) if track_fakes else stats

    return ms.jit(train_step) if compiled else train_step


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

    def summary(self) -> list[str]:
        """The run folder's files, for the message at the end of training."""
        run, last = self.run, self.cfg.epochs - 1
        return [f"{run.generator_ckpt(last)} (and every epoch's Generator/Discriminator checkpoints)",
                f"{run.epoch_image(last)} (one picture per epoch in {run.images})",
                str(run.gif), str(run.loss_png), str(run.losses_csv), str(run.config)]


@dataclass
class PatternRecorder(RunRecorder):
    """The toy GAN's recorder: G's four outputs at every step go into losses.csv and outputs.png, and the
    epoch picture is a heat-map strip that gains a row, G's mean output on the fixed input, every epoch."""

    history: list[np.ndarray] = field(default_factory=list)
    columns: ClassVar[tuple[str, ...]] = LOSS_COLUMNS + PATTERN_COLUMNS

    def picture(self) -> np.ndarray:
        self.history.append(generate(self.generator, self.fixed_z).mean(axis=0))
        return heat_strip(np.array(self.history), total_rows=self.cfg.epochs)

    def plot(self) -> None:
        super().plot()
        plot_pattern_outputs(np.array([row[6:] for row in self.rows]), self.run.outputs_png)

    def summary(self) -> list[str]:
        return [*super().summary(), f"{self.run.outputs_png} (G's four outputs at every step)"]


def training_set(cfg: TrainConfig) -> TrainingSet:
    """The digits the run asked for, or the toy GAN's own four-number samples."""
    if MODELS[cfg.model].kind == "pattern":
        if cfg.data != TrainConfig.data or cfg.download or cfg.limit is not None:
            raise MsganError(f"'{cfg.model}' makes its own four-number samples: leave out --data, --download and --limit")
        return pattern_set(cfg.batch_size, cfg.seed)
    return digit_set(load_digits(cfg.data, download=cfg.download, limit=cfg.limit))


def train(cfg: TrainConfig) -> RunFolder:
    """Train a GAN as `cfg` says and leave a complete run folder after every epoch."""
    check_ranges(cfg)
    device = select_device(cfg.device, pynative=cfg.pynative)
    data = training_set(cfg)
    if cfg.batch_size > len(data):
        raise MsganError(f"--batch-size {cfg.batch_size} is larger than the {len(data)} training images: "
                         "lower --batch-size or raise --limit")
    run = create_run_folder(cfg.out, cfg.model)
    write_config(run, cfg)
    print(f"msgan: training '{cfg.model}' on {data.source} on {device}, "
          f"{'PyNative' if cfg.pynative else 'compiled graph'}; run folder {run.root}", flush=True)

    ms.set_seed(cfg.seed)
    spec = MODELS[cfg.model]
    generator, discriminator = build_generator(cfg.model, cfg.latent_dim), build_discriminator(cfg.model)
    opt_g, opt_d = make_optimizers(generator, discriminator, cfg)
    train_step = make_train_step(generator, discriminator, opt_g, opt_d, loss=cfg.loss, d_loss=cfg.d_loss,
                                 conditional=spec.conditional, track_fakes=spec.kind == "pattern",
                                 compiled=not cfg.pynative)
    fit(cfg, run, data, generator, discriminator, train_step)
    return run


def fit(cfg: TrainConfig, run: RunFolder, data: TrainingSet, generator: nn.Cell, discriminator: nn.Cell,
        train_step: StepFn) -> None:
    """The epoch loop: shuffle, step, log, and save each epoch's outputs."""
    fixed_z = latents(cfg.grid_size ** 2, cfg.latent_dim, cfg.seed, FIXED_NOISE, distribution=cfg.latent)
    steps_per_epoch = len(data) // cfg.batch_size
    progress = Progress(steps_per_epoch * cfg.epochs, cfg.epochs)
    recorder_type = PatternRecorder if MODELS[cfg.model].kind == "pattern" else RunRecorder
    recorder = recorder_type(run, cfg, generator, discriminator, steps_per_epoch, fixed_z)
    step = 0
    for epoch in range(cfg.epochs):
        started = time.perf_counter()
        noise = latents(steps_per_epoch * cfg.batch_size, cfg.latent_dim, cfg.seed, STEP_NOISE, epoch,
                        distribution=cfg.latent)
        for i, index in enumerate(batches(len(data), cfg.batch_size, cfg.seed, epoch)):
            z = noise[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            # loss_d, loss_g, D(x), D(G(z)) (and the toy GAN's four outputs)
            values = train_step(Tensor(data.samples[index]), Tensor(z), Tensor(data.labels[index])).asnumpy().tolist()
            step += 1
            recorder.record(epoch, step, values)
            progress.update(epoch, step, values[0], values[1])
        recorder.save_epoch(epoch, step)
        progress.epoch_done(epoch, recorder.epoch_means(), time.perf_counter() - started)
    elapsed = progress.close()
    files = "".join(f"  {line}\n" for line in recorder.summary())
    print(f"msgan: done in {format_seconds(elapsed)}. Run folder {run.root}:\n{files}"
          f"Sample from it: python infer.py --run {run.root}", flush=True)
