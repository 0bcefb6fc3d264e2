"""The generator's exponential moving average (EMA): a second generator whose weights follow the trained one's,
averaged over the recent steps, which draws smoother, more faithful samples than the weights of any single
step (as in StudioGAN, BigGAN and most current GAN code).

The average is updated inside the compiled training step after every update of G. Its BatchNorm layers get
statistics of their own ("standing statistics"): the running statistics of the trained generator belong to
its own weights, and with the averaged weights they made samples worse (measured in PyTorch on the tutorial
MLP, 50 epochs: FID 79.5 for the raw generator, 149.5 for the average with copied statistics, 64.7 with
statistics re-estimated).
"""
from __future__ import annotations

from typing import Optional

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from msgan.layers import BatchNorm1d, Dropout


PREFIX = "ema."      # the averaged weights' names beside the trained ones in one graph: ema.generator.…
# The decay after n updates is min(decay, (1 + n) / (WARMUP + n)) (TensorFlow's ExponentialMovingAverage with
# num_updates): early weights are soon forgotten, and until the decay is reached (0.999: after about 9,000
# updates) the average spans roughly the last ninth of training. Runs of a few thousand steps never reach it.
WARMUP = 10.0
# The latents whose BatchNorm statistics the average uses. On two final averages of the tutorial MLP, four draws
# of 1,024 latents gave FID 13.6-17.2 (mean 15.2), four of 2,048 gave 13.3-15.2 (mean 14.1), 4,096 and 8,192 no
# better; the batch they ran in (64 to 4,096) changed little. They run as one batch (0.13 s for the MLP on the
# 2-core CPU). A convolutional generator's layers average each channel over every pixel as well, so it needs
# fewer: on dcgan's final average (9 epochs, seed 0), four draws each of 512, 1,024 and 2,048 latents gave FID
# 89.6 ± 5.0, 86.6 ± 3.1 and 87.8 ± 2.8 (5,000 samples), and 2,048 took 13-14 s an epoch against 3-4 s for 512.
# They run in batches of CONV_BATCH, since patches take memory (dcgan: 1.2 GB at 256, 5.6 GB at 2,048).
STANDING_SAMPLES, CONV_STANDING_SAMPLES, CONV_BATCH = 2048, 512, 256
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


class GeneratorAverage(nn.Cell):
    """The averaged generator `net` (a fresh generator of the same architecture, its parameters named
    ema.generator.…), the number of updates so far, and the update that a compiled step calls."""

    def __init__(self, net: nn.Cell, source: nn.Cell, decay: float):
        super().__init__(auto_prefix=False)
        self.net = net
        self.decay = decay
        for param in net.get_parameters():  # (update_parameters_name would replace 'generator.', not prefix it)
            param.name = PREFIX + param.name
        for bn in batch_norms(net):  # training mode only ever re-estimates: each call's statistics replace the last
            replace_statistics(bn)
        self.averaged = net.trainable_params()
        self.sources = source.trainable_params()
        for avg, src in zip(self.averaged, self.sources):
            avg.set_data(src.value().copy())
        self.updates = Parameter(Tensor(0.0, ms.float32), name=f"{PREFIX}updates", requires_grad=False)

    def update(self) -> None:
        """Move every averaged weight towards the trained one: avg += (1 - decay_n)·(weight - avg)."""
        n = self.updates
        rate = 1.0 - ops.minimum(Tensor(self.decay, ms.float32), (1.0 + n) / (WARMUP + n))
        for avg, src in zip(self.averaged, self.sources):
            ops.assign(avg, avg + rate * (src - avg))
        ops.assign_add(self.updates, Tensor(1.0, ms.float32))

    def state(self) -> list[Parameter]:
        """What an exact resume restores: the averaged weights and the update count (the BatchNorm statistics
        are re-estimated from the weights whenever they are used)."""
        return self.averaged + [self.updates]


def sampling_batch(convolutional: bool, count: int) -> int:
    """The batch in which to draw `count` samples: all at once, unless a convolutional generator's patches need
    the memory of CONV_BATCH at a time."""
    return CONV_BATCH if convolutional else count


def standing_plan(convolutional: bool) -> tuple[int, int]:
    """How many latents the standing statistics use, and in batches of how many."""
    samples = CONV_STANDING_SAMPLES if convolutional else STANDING_SAMPLES
    return samples, sampling_batch(convolutional, samples)


def replace_statistics(bn: nn.Cell) -> None:
    """Make each training-mode call of `bn` replace its running statistics instead of moving them."""
    if isinstance(bn, BatchNorm1d):
        bn.momentum = 1.0  # msgan's plain-ops layer: the share of each batch in the statistics
    else:
        bn.bn_train = ops.BatchNorm(is_training=True, epsilon=bn.eps, momentum=1.0, data_format=bn.format)


def batch_norms(net: nn.Cell) -> list[nn.Cell]:
    return [cell for _, cell in net.cells_and_names() if isinstance(cell, BATCH_NORMS)]


def standing_statistics(net: nn.Cell, z: np.ndarray, labels: Optional[np.ndarray], batch: int) -> None:
    """Set the BatchNorm statistics of `net` (a GeneratorAverage's net) to those of its own outputs: the mean,
    over the training-mode batches of `batch` latents `z` (and a conditional generator's `labels`), of each
    layer's batch mean and variance."""
    layers = batch_norms(net)
    if not layers:
        return
    sums = [np.zeros((2, bn.num_features)) for bn in layers]
    chunks = range(0, len(z) - batch + 1, batch)  # whole batches only
    # Dropout draws its masks as in training, from the same call numbers every time: the result is a
    # function of the weights alone, so a resumed run re-estimates exactly what the unbroken run did.
    counters = [(cell.calls, cell.calls.value().copy()) for _, cell in net.cells_and_names() if isinstance(cell, Dropout)]
    net.set_train(True)
    try:
        for start in chunks:
            inputs = [Tensor(z[start:start + batch])]
            if labels is not None:
                inputs.append(Tensor(labels[start:start + batch]))
            net(*inputs)
            for total, bn in zip(sums, layers):
                total += np.stack([bn.moving_mean.asnumpy(), bn.moving_variance.asnumpy()])
    finally:
        net.set_train(False)
        for calls, start in counters:
            calls.set_data(start)
    for total, bn in zip(sums, layers):
        mean, variance = (total / len(chunks)).astype(np.float32)
        bn.moving_mean.set_data(Tensor(mean))
        bn.moving_variance.set_data(Tensor(variance))

