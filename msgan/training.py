"""The GAN training step, written once for any generator/discriminator pair, and the training loop."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from msgan.checkpoints import DISCRIMINATOR, GENERATOR, checkpoint_info, save_network
from msgan.config import TrainConfig, check_ranges
from msgan.console import Progress, format_seconds
from msgan.data import Digits, batches, load_digits, to_model_range
from msgan.device import select_device
from msgan.errors import MsganError
from msgan.models import MODELS, NUM_CLASSES, build_discriminator, build_generator
from msgan.runs import RunFolder, create_run_folder, write_config, write_losses
from msgan.sampling import FIXED_NOISE, STEP_NOISE, generate, latents
from msgan.visuals import make_grid, plot_losses, save_gif, save_png

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
                    loss: str = "bce", conditional: bool = False, compiled: bool = True) -> StepFn:
    """Build train_step(real, z, labels) -> [loss_d, loss_g, mean D(x), mean D(G(z))]: D is updated, then G.

    `labels` reach the networks only when they are `conditional`; the graph never sees the other branch.
    """
    generator.set_train(True)  # BatchNorm normalises by batch statistics and updates its running ones
    discriminator.set_train(True)
    criterion = LOSSES[loss](reduction="mean")

    def make_fakes(z, labels):
        return generator(z, labels) if conditional else generator(z)

    def judge(x, labels):
        return discriminator(x, labels) if conditional else discriminator(x)

    def discriminator_loss(real, z, labels):
        fake = ops.stop_gradient(make_fakes(z, labels))
        p_real, p_fake = judge(real, labels), judge(fake, labels)
        loss = (criterion(p_real, ops.ones_like(p_real)) + criterion(p_fake, ops.zeros_like(p_fake))) / 2
        return loss, (p_real.mean(), p_fake.mean())

    def generator_loss(z, labels):
        p_fake = judge(make_fakes(z, labels), labels)
        return criterion(p_fake, ops.ones_like(p_fake))  # non-saturating: G maximises log D(G(z))

    # Each loss is differentiated over its own network's weights only.
    grad_d = ms.value_and_grad(discriminator_loss, None, opt_d.parameters, has_aux=True)
    grad_g = ms.value_and_grad(generator_loss, None, opt_g.parameters)

    def train_step(real, z, labels):
        (loss_d, (d_real, d_fake)), grads = grad_d(real, z, labels)
        opt_d(grads)
        loss_g, grads = grad_g(z, labels)
        opt_g(grads)
        return ops.stack([loss_d, loss_g, d_real, d_fake])

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
    rows: list[tuple] = field(default_factory=list)
    last_plot: float = -PLOT_EVERY_S

    def record(self, epoch: int, step: int, values: list[float]) -> None:
        self.rows.append((epoch, step, *values))

    def epoch_means(self) -> dict[str, float]:
        means = np.mean([row[2:] for row in self.rows[-self.steps_per_epoch:]], axis=0)
        return dict(zip(("loss_d", "loss_g", "D(x)", "D(G(z))"), means))

    def save_epoch(self, epoch: int, step: int, fixed_z: np.ndarray) -> None:
        """Both checkpoints, the sample grid, the GIF and the losses of a finished epoch."""
        cfg, run = self.cfg, self.run
        recipe = cfg.recipe_hash()
        save_network(self.generator, run.generator_ckpt(epoch),
                     checkpoint_info(epoch, step, GENERATOR, cfg.model, recipe))
        save_network(self.discriminator, run.discriminator_ckpt(epoch),
                     checkpoint_info(epoch, step, DISCRIMINATOR, cfg.model, recipe))
        samples = generate(self.generator, fixed_z, grid_labels(cfg) if MODELS[cfg.model].conditional else None)
        save_png(make_grid(samples, columns=cfg.grid_size), run.epoch_image(epoch))
        save_gif([run.epoch_image(e) for e in range(epoch + 1)], run.gif)
        write_losses(run.losses_csv, self.rows)
        if epoch == cfg.epochs - 1 or time.perf_counter() - self.last_plot >= PLOT_EVERY_S:
            losses = np.array([row[2:4] for row in self.rows], dtype=np.float64)
            plot_losses(losses[:, 0], losses[:, 1], self.steps_per_epoch, run.loss_png)
            self.last_plot = time.perf_counter()


def train(cfg: TrainConfig) -> RunFolder:
    """Train a GAN as `cfg` says and leave a complete run folder after every epoch."""
    check_ranges(cfg)
    device = select_device(cfg.device, pynative=cfg.pynative)
    digits = load_digits(cfg.data, download=cfg.download, limit=cfg.limit)
    if cfg.batch_size > len(digits):
        raise MsganError(f"--batch-size {cfg.batch_size} is larger than the {len(digits)} training images: "
                         "lower --batch-size or raise --limit")
    run = create_run_folder(cfg.out, cfg.model)
    write_config(run, cfg)
    print(f"msgan: training '{cfg.model}' on {len(digits)} digits ({digits.source}) on {device}, "
          f"{'PyNative' if cfg.pynative else 'compiled graph'}; run folder {run.root}", flush=True)

    ms.set_seed(cfg.seed)
    generator, discriminator = build_generator(cfg.model, cfg.latent_dim), build_discriminator(cfg.model)
    opt_g, opt_d = make_optimizers(generator, discriminator, cfg)
    train_step = make_train_step(generator, discriminator, opt_g, opt_d, loss=cfg.loss,
                                 conditional=MODELS[cfg.model].conditional, compiled=not cfg.pynative)
    fit(cfg, run, digits, generator, discriminator, train_step)
    return run


def fit(cfg: TrainConfig, run: RunFolder, digits: Digits, generator: nn.Cell, discriminator: nn.Cell,
        train_step: StepFn) -> None:
    """The epoch loop: shuffle, step, log, and save each epoch's outputs."""
    images = to_model_range(digits.images)
    fixed_z = latents(cfg.grid_size ** 2, cfg.latent_dim, cfg.seed, FIXED_NOISE, distribution=cfg.latent)
    steps_per_epoch = len(images) // cfg.batch_size
    progress = Progress(steps_per_epoch * cfg.epochs, cfg.epochs)
    recorder = RunRecorder(run, cfg, generator, discriminator, steps_per_epoch)
    step = 0
    for epoch in range(cfg.epochs):
        started = time.perf_counter()
        noise = latents(steps_per_epoch * cfg.batch_size, cfg.latent_dim, cfg.seed, STEP_NOISE, epoch,
                        distribution=cfg.latent)
        for i, index in enumerate(batches(len(images), cfg.batch_size, cfg.seed, epoch)):
            z = noise[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            # loss_d, loss_g, D(x), D(G(z))
            values = train_step(Tensor(images[index]), Tensor(z), Tensor(digits.labels[index])).asnumpy().tolist()
            step += 1
            recorder.record(epoch, step, values)
            progress.update(epoch, step, values[0], values[1])
        recorder.save_epoch(epoch, step, fixed_z)
        progress.epoch_done(epoch, recorder.epoch_means(), time.perf_counter() - started)
    elapsed = progress.close()
    last = cfg.epochs - 1
    print(f"msgan: done in {format_seconds(elapsed)}. Run folder {run.root}:\n"
          f"  {run.generator_ckpt(last)} (and every epoch's Generator/Discriminator checkpoints)\n"
          f"  {run.epoch_image(last)} (one sample grid per epoch in {run.images})\n"
          f"  {run.gif}\n  {run.loss_png}\n  {run.losses_csv}\n  {run.config}\n"
          f"Sample from it: python infer.py --run {run.root}", flush=True)
