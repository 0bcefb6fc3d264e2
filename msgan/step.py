"""The GAN training step, written once for every model and loss, the compiled loop of many steps, and the
networks and optimizers they update.

One step takes a batch of real samples and latents: G draws its fakes once, D is updated on real and fake
(with the loss from msgan.losses, and its gradient penalty or class head when asked), then G is updated
through D's score of the same fakes, and the generator's moving average follows G.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

from msgan.config import TrainConfig
from msgan.data import PIXEL_MIDPOINT
from msgan.ema import GeneratorAverage
from msgan.layers import shard_dropout_streams
from msgan.losses import LOSSES, GanLoss, gradient_penalty
from msgan.mixed_precision import LossScaling, loss_scaling
from msgan.models import MODELS, build_discriminator, build_generator
from msgan.parallel import SINGLE, Workers, gradient_mean, value_mean

StepFn = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]
LoopFn = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


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


def make_optimizer(net: nn.Cell, cfg: TrainConfig, lr: float) -> nn.Optimizer:
    """The recipe's optimizer over one network's trainable weights."""
    if cfg.optimizer == "sgd":
        return nn.SGD(net.trainable_params(), learning_rate=lr)
    return nn.Adam(net.trainable_params(), learning_rate=lr, beta1=cfg.beta1, beta2=cfg.beta2)


def make_optimizers(generator: nn.Cell, discriminator: nn.Cell, cfg: TrainConfig) -> tuple[nn.Optimizer, nn.Optimizer]:
    """One optimizer per network, with distinct state names so that one graph can hold both."""
    opt_g = make_optimizer(generator, cfg, cfg.lr)
    opt_d = make_optimizer(discriminator, cfg, cfg.lr if cfg.lr_d is None else cfg.lr_d)
    prefix_optimizer_state(opt_g, "optim_g.")
    prefix_optimizer_state(opt_d, "optim_d.")
    return opt_g, opt_d


@dataclass(frozen=True)
class StepOptions:
    """How the step trains, beyond its networks: the loss, how D's real and fake terms combine ("mean" or
    "sum"), the gradient penalty's weight, the weight of D's digit classifier (a class head's cross-entropy), one
    G update per `n_critic` D updates, the model's inputs and outputs (labels, a class head on D, the toy GAN's
    tracked outputs), whether D learns alone against the latents as its fakes (--d-alone), and the workers."""

    loss: GanLoss = LOSSES["bce"]
    d_loss: str = "mean"
    penalty_weight: float = 10.0
    class_weight: float = 1.0
    n_critic: int = 1
    conditional: bool = False
    class_head: bool = False
    track_fakes: bool = False
    d_alone: bool = False
    workers: Workers = SINGLE

    @classmethod
    def of(cls, cfg: TrainConfig, workers: Workers = SINGLE) -> "StepOptions":
        spec = MODELS[cfg.model]
        return cls(LOSSES[cfg.loss], cfg.d_loss, cfg.penalty_weight, cfg.class_weight, cfg.n_critic,
                   spec.conditional, spec.class_head, spec.kind == "pattern", cfg.d_alone, workers)


def make_train_step(generator: nn.Cell, discriminator: nn.Cell, opt_g: nn.Optimizer, opt_d: nn.Optimizer,
                    options: StepOptions = StepOptions(), average: Optional[GeneratorAverage] = None,
                    compiled: bool = True, scaling: Optional[tuple[LossScaling, LossScaling]] = None) -> StepFn:
    """Build train_step(real, z, labels, mix, update_g) -> [loss_d, loss_g, D(x), D(G(z)), D's accuracy on the
    real samples, on the fakes]: D is updated, then G (when `update_g`, which the loop sets on one step in
    `n_critic`), then G's `average`.

    D(x) and D(G(z)) are the batch means of D's scores, as probabilities for the losses that read them so; the
    accuracies are the shares of real samples that D scores above the loss's midpoint and of fakes below it.
    `labels` reach the networks only when they are `conditional`; `mix` holds the gradient penalty's
    interpolation weights; with `track_fakes` the batch mean of G's output follows the four numbers.
    These are Python-level choices, so the graph never holds the branches it does not take.
    With several workers, each update uses the gradients averaged over all of them, and the
    returned numbers are their means: those of the global batch. `scaling` holds D's and G's loss
    scaling (--amp O2); by default there is none.
    """
    generator.set_train(True)  # BatchNorm normalises by batch statistics and updates its running ones
    discriminator.set_train(True)
    loss, o = options.loss, options
    scale_d, unscale_d, update_d, _ = scaling[0] if scaling else loss_scaling("O0", "", opt_d)
    scale_g, unscale_g, update_g_weights, _ = scaling[1] if scaling else loss_scaling("O0", "", opt_g)

    def make_fakes(z, labels):
        return generator(z, labels) if o.conditional else generator(z)

    def judge(x, labels):
        """D's scores (N, 1), and its class logits (N, classes) when it has a class head (AC-GAN)."""
        out = discriminator(x, labels) if o.conditional else discriminator(x)
        return (out[:, :1], out[:, 1:]) if o.class_head else (out, None)

    def shown(scores):
        return ops.sigmoid(scores).mean() if loss.probability else scores.mean()

    def share_real(scores):
        """The share of the batch that D calls real."""
        return (scores > loss.midpoint).astype(ms.float32).mean()

    def discriminator_loss(real, fake, labels, mix):
        s_real, c_real = judge(real, labels)
        s_fake, c_fake = judge(fake, labels)
        real_term, fake_term = loss.discriminator(s_real, s_fake)
        total = (real_term + fake_term) / 2 if o.d_loss == "mean" else real_term + fake_term
        if loss.penalty:
            total = total + o.penalty_weight * gradient_penalty(lambda x: judge(x, labels)[0], real, fake, mix)
        if o.class_head:  # AC-GAN: D also names the digit of every real and every fake sample
            total = total + o.class_weight * (ops.cross_entropy(c_real, labels) + ops.cross_entropy(c_fake, labels))
        seen = (shown(s_real), shown(s_fake), share_real(s_real), 1 - share_real(s_fake))
        return scale_d(total), (loss.generator(s_fake), ops.stack(seen))

    def generator_loss(fake, labels):
        s_fake, c_fake = judge(fake, labels)
        total = loss.generator(s_fake)
        if o.class_head:  # and G draws samples that D takes for the digit asked
            total = total + o.class_weight * ops.cross_entropy(c_fake, labels)
        return scale_g(total)

    # D's loss is differentiated over D's weights only; G's loss over G's output, from which ms.vjp
    # carries the gradient back into G's weights.
    grad_d = ms.value_and_grad(discriminator_loss, None, opt_d.parameters, has_aux=True)
    grad_g = ms.value_and_grad(generator_loss, 0)
    mean_grads_d, mean_grads_g = gradient_mean(opt_d.parameters, o.workers), gradient_mean(opt_g.parameters, o.workers)
    mean_over_workers = value_mean(o.workers)

    def generator_update(fake, labels, pull_back):
        loss_g, grad_fake = grad_g(fake, labels)
        loss_g = unscale_g(loss_g)  # before the update, which may change the loss scale
        update_g_weights(mean_grads_g(pull_back(grad_fake)[1]))  # [0] would be the gradients of z and labels
        if average is not None:
            average.update()
        return loss_g

    def train_step(real, z, labels, mix, update_g):
        # One forward pass of G serves both updates, since G does not change before its own update
        # (PyTorch's DCGAN example reuses its fake batch the same way). Running it twice cost the
        # DCGAN step about a sixth of its time, and updated BatchNorm's running statistics twice.
        fake, pull_back = ms.vjp(make_fakes, z, labels, weights=opt_g.parameters)
        shown_to_d = z.reshape(real.shape) if o.d_alone else fake  # --d-alone: uniform noise, as the toy lesson's
        (loss_d, (loss_g, seen)), grads = grad_d(real, ops.stop_gradient(shown_to_d), labels, mix)
        loss_d = unscale_d(loss_d)  # before the update, which may change the loss scale
        update_d(mean_grads_d(grads))
        if o.d_alone:
            pass  # G is not trained; loss_g is G's loss on D's scores of the noise
        elif o.n_critic == 1:
            loss_g = generator_update(fake, labels, pull_back)
        elif update_g:
            loss_g = generator_update(fake, labels, pull_back)
        # else: D alone learnt on this step, and loss_g is G's loss on D's scores from before D's update
        stats = ops.concat((ops.stack([loss_d, loss_g]), seen))
        return mean_over_workers(ops.concat((stats, fake.mean(0).reshape(-1))) if o.track_fakes else stats)

    return ms.jit(train_step) if compiled else train_step


def model_range(batch: Tensor) -> Tensor:
    """A batch in the generator's range: uint8 pixels (the image sets, kept so on the device, a quarter of their
    float32 size) scaled to [-1, 1] as data.to_model_range scales them, to the bit; float samples as they are.
    The dtype is known when the loop compiles, so the graph holds one branch only."""
    if batch.dtype == ms.uint8:
        return ops.cast(batch, ms.float32) / PIXEL_MIDPOINT - 1.0
    return batch


def make_train_loop(train_step: StepFn, width: int, n_critic: int = 1, compiled: bool = True) -> LoopFn:
    """Build train_steps(samples, labels, order, noise, mix, first, count) -> (steps, width) stats: the steps
    first .. first+count-1 of an epoch, whose batches are the rows of `order`, `noise` and `mix`, run in one
    call. G is updated on every `n_critic`-th step of the epoch.

    The loop runs inside the compiled graph and gathers each batch from the samples already on the
    device (image sets as uint8 pixels, see model_range), so Python, the host-to-device copies and the
    graph launch cost once per call, not once per step. On the 2-core CPU the tutorial's MLP GAN went from 11.1 steps/s (one call per step) to
    52.8 at batch 64, and from 10.2 to 36.0 at batch 128 (benchmarks/bench_train.py); the losses are
    the same to the bit.
    `count` is a tensor, so calls of any length share one compiled graph. Row k of the result holds
    step first+k's numbers; the rows from `count` on are zero.
    """
    def train_steps(samples, labels, order, noise, mix, first, count):
        stats = ops.zeros((order.shape[0], width), ms.float32)
        i = first
        while i < first + count:
            index = order[i]
            stats[i - first] = train_step(model_range(ops.gather(samples, index, 0)), noise[i],
                                          ops.gather(labels, index, 0), mix[i], (i + 1) % n_critic == 0)
            i = i + 1
        return stats

    return ms.jit(train_steps) if compiled else train_steps


@dataclass
class Networks:
    """A run's two networks, their optimizers, G's moving average (None when the recipe has none), the recipe's
    single train step over them (uncompiled; the loop compiles it), and the compiled loop of those steps."""

    generator: nn.Cell
    discriminator: nn.Cell
    opt_g: nn.Optimizer
    opt_d: nn.Optimizer
    average: Optional[GeneratorAverage]
    train_step: StepFn
    train_steps: LoopFn
    loss_scales: list[Parameter]  # --amp O2's loss scales and their counters; none otherwise

    def state_parameters(self) -> list[Parameter]:
        """Everything an exact resume restores: weights, BatchNorm statistics, both optimizers' moments and
        steps, G's average, and the loss scales."""
        cells = (self.generator, self.discriminator, self.opt_g, self.opt_d)
        params = [p for cell in cells for p in cell.get_parameters()] + self.loss_scales
        if self.average is not None:
            params += self.average.state()
        return list({id(p): p for p in params}.values())

    @property
    def sampler(self) -> nn.Cell:
        """The generator that draws the run's pictures and scores: the average when there is one."""
        return self.generator if self.average is None else self.average.net


def build_networks(cfg: TrainConfig, workers: Workers = SINGLE) -> Networks:
    """Fresh networks, optimizers, G's average and the (compiled) loop of train steps, as the recipe says.

    Every worker builds the same initial weights from the seed.
    """
    ms.set_seed(cfg.seed)
    shape, classes = cfg.sample_shape, cfg.num_classes
    generator = build_generator(cfg.model, cfg.latent_dim, cfg.amp, shape, classes)
    discriminator = build_discriminator(cfg.model, cfg.amp, cfg.spectral_norm, shape, classes)
    for net in (generator, discriminator):
        shard_dropout_streams(net, workers.rank)
    opt_g, opt_d = make_optimizers(generator, discriminator, cfg)
    # built last: a network built earlier would change the initial weights of those after it
    average = GeneratorAverage(build_generator(cfg.model, cfg.latent_dim, shape=shape, classes=classes), generator,
                               cfg.ema) if cfg.ema else None
    scaling = (loss_scaling(cfg.amp, "loss_scale_d", opt_d), loss_scaling(cfg.amp, "loss_scale_g", opt_g))
    options = StepOptions.of(cfg, workers)
    train_step = make_train_step(generator, discriminator, opt_g, opt_d, options, average, compiled=False,
                                 scaling=scaling)
    width = 6 + (shape[0] if options.track_fakes else 0)  # the six numbers, and G's mean output
    return Networks(generator, discriminator, opt_g, opt_d, average, train_step,
                    make_train_loop(train_step, width, cfg.n_critic, compiled=not cfg.pynative),
                    scaling[0].parameters + scaling[1].parameters)
