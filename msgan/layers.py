"""Convolution layers for DCGAN: MindSpore's own kernels on GPU/Ascend, matrix multiplies on CPU.

MindSpore 2.10's CPU convolution kernels are slow: measured on a 2-core CPU, nn.Conv2d 256->128
(k5) on a 7x7 batch of 64 took about 3 s per forward, while ops.matmul did the same work in im2col
form in 35 ms. On CPU these layers therefore gather input patches with a precomputed index map
(im2col) and multiply them by the kernel. Autodiff through the gather is itself slow, so the
gradients come from a custom bprop that uses the same gather: the weight gradient is
patchesᵀ·dy, and the input gradient is another gather-multiply of dy through the inverse map.

Conv2d and Conv2dTranspose subclass the native layers: parameter names and shapes are the
native ones, so one checkpoint loads on every device.
"""
from __future__ import annotations

from typing import Optional

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops


def same_padding(size_in: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of a 'same' convolution, the extra pixel after (as TensorFlow/MindSpore do)."""
    size_out = -(-size_in // stride)
    total = max((size_out - 1) * stride + kernel - size_in, 0)
    return total // 2, total - total // 2


def conv_index_map(size_in: int, kernel: int, stride: int, pad: int, size_out: int) -> np.ndarray:
    """For output o and kernel tap k (one axis): the input index o*stride + k - pad, or -1 outside the input."""
    index = np.arange(size_out)[:, None] * stride + np.arange(kernel)[None, :] - pad
    return np.where((index >= 0) & (index < size_in), index, -1)


def transposed_index_map(size_in: int, kernel: int, stride: int, crop: int, size_out: int) -> np.ndarray:
    """For output o and tap k of a transposed convolution: the input i with i*stride + k - crop == o, or -1."""
    offset = np.arange(size_out)[:, None] + crop - np.arange(kernel)[None, :]
    index = offset // stride
    return np.where((offset % stride == 0) & (index >= 0) & (index < size_in), index, -1)


def flat_index_map(rows: np.ndarray, cols: np.ndarray, width_in: int, size_in: int) -> np.ndarray:
    """Combine per-axis maps into (out_h*out_w, k*k) indices into a flattened image; size_in marks 'zero'."""
    r = rows[:, None, :, None]
    c = cols[None, :, None, :]
    flat = np.where((r >= 0) & (c >= 0), r * width_in + c, size_in)
    return flat.reshape(rows.shape[0] * cols.shape[0], rows.shape[1] * cols.shape[1])


def inverse_index_map(index: np.ndarray, size_in: int) -> np.ndarray:
    """For input i and tap k: the output o whose tap k read i (at most one), or out_size for none."""
    size_out, taps = index.shape
    inverse = np.full((size_in, taps), size_out, dtype=np.int64)
    outs, ks = np.nonzero(index < size_in)
    inverse[index[outs, ks], ks] = outs
    return inverse


class GatherMatmul(nn.Cell):
    """y[n, :, o] = sum over taps k of x[n, :, index[o, k]] · w[(k, c), :], with a gather-based bprop.

    x is (N, C, H, W), w is (K*C, C_out) with rows ordered (tap, channel), y is (N, C_out, H_out, W_out).
    Patches are gathered channels-last, so each index moves a whole row of C values: far faster
    than gathering single elements.
    """

    def __init__(self, index: np.ndarray, in_hw: tuple[int, int], out_hw: tuple[int, int]):
        super().__init__()
        self.in_hw, self.out_hw = in_hw, out_hw
        self.taps = index.shape[1]
        self.index = Tensor(index.reshape(-1).astype(np.int32))
        self.inverse = Tensor(inverse_index_map(index, in_hw[0] * in_hw[1]).reshape(-1).astype(np.int32))
        self.append_zero = ops.Pad(((0, 0), (0, 1), (0, 0)))  # the primitive; ops.pad fails inside a bprop
        self.matmul_at = ops.MatMul(transpose_a=True)  # patchesᵀ·dy without materialising the transpose

    def patches(self, x, index, hw_out):
        """(N*out, K*C) rows of input patches; index entries equal to H*W read a zero row."""
        n, c = x.shape[0], x.shape[1]
        rows = self.append_zero(x.reshape(n, c, -1).transpose(0, 2, 1))  # (N, H*W + 1, C)
        return ops.gather(rows, index, 1).reshape(n * hw_out, self.taps * c)

    def apply(self, x, w, index, out_hw):
        n = x.shape[0]
        hw_out = out_hw[0] * out_hw[1]
        y = ops.matmul(self.patches(x, index, hw_out), w)
        return y.reshape(n, hw_out, -1).transpose(0, 2, 1).reshape(n, -1, out_hw[0], out_hw[1])

    def construct(self, x, w):
        return self.apply(x, w, self.index, self.out_hw)

    def bprop(self, x, w, out, dout):
        n, c_in, c_out = x.shape[0], x.shape[1], dout.shape[1]
        hw_out = self.out_hw[0] * self.out_hw[1]
        dy = dout.reshape(n, c_out, hw_out).transpose(0, 2, 1).reshape(n * hw_out, c_out)
        dw = self.matmul_at(self.patches(x, self.index, hw_out), dy)
        # Input gradient: the same gather-multiply, from dy through the inverse map, with the
        # weight's (tap, input channel) rows regrouped as (tap, output channel) -> input channel.
        w_back = w.reshape(self.taps, c_in, c_out).transpose(0, 2, 1).reshape(self.taps * c_out, c_in)
        dx = self.apply(dout, w_back, self.inverse, self.in_hw)
        return dx, dw


def _use_matmul(matmul: Optional[bool]) -> bool:
    return ms.get_context("device_target") == "CPU" if matmul is None else matmul


class Conv2d(nn.Conv2d):
    """nn.Conv2d with pad_mode 'same' for a fixed input size; on CPU computed through GatherMatmul."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, in_size: int,
                 matmul: Optional[bool] = None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, pad_mode="same", has_bias=True)
        self.use_matmul = _use_matmul(matmul)
        if self.use_matmul:
            out_size = -(-in_size // stride)
            pad = same_padding(in_size, kernel_size, stride)[0]
            axis = conv_index_map(in_size, kernel_size, stride, pad, out_size)
            index = flat_index_map(axis, axis, in_size, in_size * in_size)
            self.gather_matmul = GatherMatmul(index, (in_size, in_size), (out_size, out_size))

    def construct(self, x):
        if not self.use_matmul:
            return super().construct(x)
        c_out = self.weight.shape[0]
        w = self.weight.transpose(2, 3, 1, 0).reshape(-1, c_out)  # rows ordered (tap, input channel)
        return self.gather_matmul(x, w) + self.bias.reshape(1, -1, 1, 1)


class Conv2dTranspose(nn.Conv2dTranspose):
    """nn.Conv2dTranspose with pad_mode 'same' (output = input x stride); on CPU through GatherMatmul."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, in_size: int,
                 matmul: Optional[bool] = None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, pad_mode="same", has_bias=True)
        self.use_matmul = _use_matmul(matmul)
        if self.use_matmul:
            out_size = in_size * stride
            crop = (kernel_size - stride) // 2  # of the full (in-1)*stride + kernel output
            axis = transposed_index_map(in_size, kernel_size, stride, crop, out_size)
            index = flat_index_map(axis, axis, in_size, in_size * in_size)
            self.gather_matmul = GatherMatmul(index, (in_size, in_size), (out_size, out_size))

    def construct(self, x):
        if not self.use_matmul:
            return super().construct(x)
        c_out = self.weight.shape[1]
        w = self.weight.transpose(2, 3, 0, 1).reshape(-1, c_out)  # rows ordered (tap, input channel)
        return self.gather_matmul(x, w) + self.bias.reshape(1, -1, 1, 1)
