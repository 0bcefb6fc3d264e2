"""Mixed precision (--amp) through mindspore.amp: float16 compute for the matrix products, float32 weights,
and dynamic loss scaling where MindSpore's own recipe for the level uses it (O2).

O0 (the default) changes nothing: the step is the float32 step, to the bit. The weights stay float32 at
every level, so checkpoints load into a float32 generator for infer.py and export.py.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import mindspore as ms
from mindspore import Parameter, Tensor, amp, nn

from msgan.errors import MsganError
from msgan.parallel import unchanged

# What the loss scale starts at, and how it moves: halved after a step whose gradients overflowed
# float16 (that step's update is skipped), doubled after this many steps without one.
LOSS_SCALE, SCALE_FACTOR, SCALE_WINDOW = 2.0 ** 16, 2, 1000


def check_level(level: str, model: str, convolutional: bool) -> None:
    """Refuse a float16 level for a model that cannot train at it: the convolutional models' convolutions on CPU
    are msgan's own (msgan.layers), whose gradients come back in float16 under O1 and O2 and then fail Adam's type
    check (MindSpore 2.10, measured for dcgan, dcgan64 and cdcgan); the MLP models train at every level."""
    if level != "O0" and convolutional:
        raise MsganError(f"--amp {level} does not compile for '{model}' with MindSpore {ms.__version__} "
                         "(see README, Mixed precision): use --amp O0")


class Float32Output(nn.Cell):
    """A network whose output is cast back to float32, so that the losses and samples stay float32."""

    def __init__(self, net: nn.Cell):
        super().__init__(auto_prefix=False)  # the parameters keep their names: checkpoints stay loadable
        self.net = net

    def construct(self, *inputs):
        return self.net(*inputs).astype(ms.float32)


def mixed_precision(build: Callable[[], nn.Cell], level: str, prefix: str) -> nn.Cell:
    """A fresh network from `build` at `level`, its parameters named `prefix`… as in float32.

    O1 computes the layers of mindspore.amp's white list (Dense, convolutions) in float16.
    (amp.auto_mixed_precision's O1 rewrites the network's Python code: on msgan's models it either
    failed to compile or left every layer in float32.) O2 is amp.auto_mixed_precision's: float16
    everywhere but BatchNorm.
    """
    net = build()
    net.update_parameters_name(prefix)
    if level == "O1":
        white = tuple(c for c in amp.get_white_list() if isinstance(c, type) and issubclass(c, nn.Cell))
        for _, cell in net.cells_and_names():
            if isinstance(cell, white):
                cell.to_float(ms.float16)
        return Float32Output(net)
    return net if level == "O0" else amp.auto_mixed_precision(net, level)


class LossScaling(NamedTuple):
    """How one network's loss and gradients are scaled (O2) or not (O0, O1), as functions a compiled step calls."""

    scale: Callable[[Tensor], Tensor]  # the loss, before it is differentiated
    unscale: Callable[[Tensor], Tensor]  # the loss again, for the log
    update: Callable[[tuple], None]  # apply the gradients (of the scaled loss) with the network's optimizer
    parameters: list[Parameter]  # the scale and its counter: part of the resume state


def loss_scaling(level: str, name: str, optimizer: nn.Optimizer) -> LossScaling:
    """Dynamic loss scaling for `optimizer`'s network at O2, as MindSpore's own O2 recipe has it: the
    gradients are unscaled and applied only when all are finite, and the scale adapts. Below O2 the
    loss and gradients pass unchanged (and O0 compiles to the float32 step)."""
    if level != "O2":
        def update(grads):
            optimizer(grads)

        return LossScaling(unchanged, unchanged, update, [])
    scaler = amp.DynamicLossScaler(LOSS_SCALE, SCALE_FACTOR, SCALE_WINDOW)
    for param in (scaler.scale_value, scaler.counter):  # two scalers in one graph need distinct names
        param.name = f"{name}.{param.name}"

    def scale(loss):
        return scaler.scale(loss)

    def unscale(loss):
        return scaler.unscale(loss)

    def update_if_finite(grads):
        grads = scaler.unscale(grads)
        finite = amp.all_finite(grads)
        if finite:
            optimizer(grads)
        scaler.adjust(finite)

    return LossScaling(scale, unscale, update_if_finite, [scaler.scale_value, scaler.counter])
