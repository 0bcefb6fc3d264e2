"""Layers msgan builds itself: a Dropout that replays exactly (see Dropout), spectral normalisation for the
discriminator's layers, a BatchNorm1d that trains in plain ops (faster on CPU), and convolutions for DCGAN,
MindSpore's own kernels on GPU/Ascend and matrix multiplies on CPU.

MindSpore 2.10's CPU convolution kernels are slow: measured on a 2-core CPU, nn.Conv2d 256->128
(k5) on a 7x7 batch of 64 took about 3 s per forward, while ops.matmul did the same work in im2col
form in 35 ms. On CPU these layers therefore gather input patches with a precomputed index map
(im2col) and multiply them by the kernel. Autodiff through the gather is itself slow, so the
gradients come from a custom bprop that uses the same gather: the weight gradient is
patchesᵀ·dy, and the input gradient is another gather-multiply of dy through the inverse map.

Where one side has few channels (DCGAN's 1-channel images), gathering patches of the wide side
moves far more data than the work needs. There each product multiplies first and gathers the thin
result instead (col2im): for the 64->1 transposed convolution this gathers 64x fewer numbers.

Conv2d and Conv2dTranspose subclass the native layers: parameter names and shapes are the
native ones, so one checkpoint loads on every device. Besides pad_mode 'same' they take an explicit
`padding` (and has_bias=False), as the MindSpore DCGAN tutorial's k4 s2 p1 and k4 s1 p0 layers use.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Optional

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops


def same_padding(size_in: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of a 'same' convolution, the extra pixel after (as TensorFlow/MindSpore do)."""
    size_out = -(-size_in // stride)
    total = max((size_out - 1) * stride + kernel - size_in, 0)
    return total // 2, total - total // 2


@dataclass(frozen=True)
class AxisRelation:
    """How a convolution links positions along one axis: high = low * stride + tap - offset.

    A convolution reads `high` (its input) for each `low` (its output); a transposed convolution
    writes `high` (its output) from `low` (its input). Its gradient runs the other way.
    """

    low: int
    high: int
    kernel: int
    stride: int
    offset: int

    def gather_map(self, out_is_high: bool) -> tuple[np.ndarray, np.ndarray]:
        """(input index for each output and tap, -1 outside the input; which taps can ever contribute)."""
        taps = np.arange(self.kernel)[None, :]
        if not out_is_high:
            index = np.arange(self.low)[:, None] * self.stride + taps - self.offset
            return np.where((index >= 0) & (index < self.high), index, -1), np.ones(index.shape, bool)
        shifted = np.arange(self.high)[:, None] + self.offset - taps
        reachable = shifted % self.stride == 0  # strided: each output hears only every stride-th tap
        index = shifted // self.stride
        return np.where(reachable & (index >= 0) & (index < self.low), index, -1), reachable


@dataclass
class TapGroup:
    """Outputs that hear the same taps: their raster positions, those taps, and the input index of each pair."""

    positions: np.ndarray  # (P,)
    taps: np.ndarray       # (T,) flat tap numbers, row-major over the kernel
    index: np.ndarray      # (P, T) flat input positions; in_size**2 means "read a zero"


def flat_positions(rows: np.ndarray, cols: np.ndarray, size_in: int) -> np.ndarray:
    """(row outputs, col outputs, row taps, col taps) flat input positions from per-axis (outputs, taps)
    indexes; size_in**2, the zero row, where either axis falls outside."""
    r, c = rows[:, None, :, None], cols[None, :, None, :]
    return np.where((r >= 0) & (c >= 0), r * size_in + c, size_in * size_in)


def tap_groups(rel: AxisRelation, out_is_high: bool) -> list[TapGroup]:
    """Split a square map into groups whose outputs share their taps (one group unless strided upsampling).

    A stride-2 upsampling hears 9, 6, 6 or 4 of the 25 taps of a 5x5 kernel, depending on the
    output's parity: grouping by parity skips the other taps, a quarter of the work.
    """
    index, reachable = rel.gather_map(out_is_high)
    size_out, size_in = index.shape[0], (rel.low if out_is_high else rel.high)
    patterns = np.unique(reachable, axis=0)
    classes = [(np.flatnonzero((reachable == p).all(axis=1)), np.flatnonzero(p)) for p in patterns]
    groups = []
    for rows, row_taps in classes:
        for cols, col_taps in classes:
            flat = flat_positions(index[rows][:, row_taps], index[cols][:, col_taps], size_in)
            groups.append(TapGroup(
                positions=(rows[:, None] * size_out + cols[None, :]).ravel(),
                taps=(row_taps[:, None] * rel.kernel + col_taps[None, :]).ravel(),
                index=flat.reshape(len(rows) * len(cols), len(row_taps) * len(col_taps)),
            ))
    return groups


def every_tap_index(rel: AxisRelation, out_is_high: bool) -> np.ndarray:
    """(outputs, taps) flat input position each output reads through each tap, in_size**2 where it reads
    nothing: the ungrouped map that col2im gathers through."""
    index, _ = rel.gather_map(out_is_high)
    flat = flat_positions(index, index, rel.low if out_is_high else rel.high)
    return flat.reshape(index.shape[0] ** 2, rel.kernel ** 2)


def _col2im_index(flat: np.ndarray, taps: int, size_in: int) -> Tensor:
    """Rows of the (input position, tap) product that each output sums, the last row being zero."""
    tap = np.arange(taps)[None, :]
    return Tensor(np.where(flat < size_in * size_in, flat * taps + tap, size_in * size_in * taps).astype(np.int32))


def _constants(groups: list[TapGroup]) -> tuple[tuple, tuple, tuple, Tensor]:
    """Index, tap and position tensors per group, and the permutation back to raster order."""
    order = np.concatenate([g.positions for g in groups])
    return (tuple(Tensor(g.index.astype(np.int32)) for g in groups),
            tuple(Tensor(g.taps.astype(np.int32)) for g in groups),
            tuple(Tensor(g.positions.astype(np.int32)) for g in groups),
            Tensor(np.argsort(order).astype(np.int32)))


def append_zero_row(x: Tensor, axis: int) -> Tensor:
    """x with a row of zeros appended along `axis`, for the taps that read outside the input.

    A concat: MindSpore 2.10's CPU Pad kernel took 30-50 times as long for the same result (16.6 against
    0.5 ms on (64, 49, 256)), and the functional ops.pad does not compile inside a bprop."""
    shape = x.shape[:axis] + (1,) + x.shape[axis + 1:]
    return ops.concat((x, ops.zeros(shape, x.dtype)), axis)


THIN = 4  # a side with at most a quarter of the other side's channels is gathered after the multiply


class GatherMatmul(nn.Cell):
    """y[n, :, o] = sum over taps k of x[n, :, input(o, k)] · w[k, :, :], with a gather-based bprop.

    x is (N, C, H, W), w is (K, C, C_out), y is (N, C_out, H_out, W_out). Patches are gathered
    channels-last, so each index moves a whole row of C values, far faster than single elements.
    A thin tensor (THIN) is gathered with the whole batch in each row instead, and a product whose
    result is thin multiplies first and gathers the result (col2im).
    """

    def __init__(self, rel: AxisRelation, out_is_high: bool, c_in: int, c_out: int, has_bias: bool = True):
        super().__init__()
        self.has_bias = has_bias
        self.taps = rel.kernel * rel.kernel
        self.in_size, self.out_size = (rel.low, rel.high) if out_is_high else (rel.high, rel.low)
        self.thin_out, self.thin_in = c_out * THIN <= c_in, c_in * THIN <= c_out
        forward = tap_groups(rel, out_is_high)
        self.index, self.tap_sets, self.positions, self.unpermute = _constants(forward)
        self.tap_unpermute = Tensor(np.argsort(np.concatenate([g.taps for g in forward])).astype(np.int32))
        self.back_index, self.back_tap_sets, _, self.back_unpermute = _constants(tap_groups(rel, not out_is_high))
        every_tap, back_every_tap = every_tap_index(rel, out_is_high), every_tap_index(rel, not out_is_high)
        self.every_tap, self.back_every_tap = Tensor(every_tap.astype(np.int32)), Tensor(back_every_tap.astype(np.int32))
        self.col_index = _col2im_index(every_tap, self.taps, self.in_size)
        self.back_col_index = _col2im_index(back_every_tap, self.taps, self.out_size)
        self.matmul_at = ops.MatMul(transpose_a=True)  # patchesᵀ·dy without materialising the transpose
        self.bias_add = ops.BiasAdd()

    def rows(self, x):
        """(N, H*W + 1, C): channels last, and a zero row at the end for taps that fall outside."""
        n, c = x.shape[0], x.shape[1]
        return append_zero_row(x.reshape(n, c, -1).transpose(0, 2, 1), 1)

    def apply(self, x, w, indexes, tap_sets, unpermute, out_size):
        """The product through gathered patches of x, one matmul per group of outputs hearing the same taps."""
        n, c = x.shape[0], x.shape[1]
        rows = self.rows(x)
        parts = ()
        for i in range(len(indexes)):  # a loop over the groups, unrolled when the graph is compiled
            index, taps = indexes[i], tap_sets[i]
            p, t = index.shape
            patches = ops.gather(rows, index, 1).reshape(n * p, t * c)
            parts += (ops.matmul(patches, ops.gather(w, taps, 0).reshape(t * c, -1)).reshape(n, p, -1),)
        y = ops.gather(ops.concat(parts, 1), unpermute, 1)
        return y.transpose(0, 2, 1).reshape(n, -1, out_size, out_size)

    def thin_patches(self, t, every_tap):
        """(N * outputs, taps * C) patches of a thin tensor, gathered with the whole batch in each row."""
        n, c = t.shape[0], t.shape[1]
        rows = append_zero_row(t.transpose(2, 3, 0, 1).reshape(-1, n * c), 0)
        patches = ops.gather(rows, every_tap, 0)  # (outputs, taps, N * C)
        return patches.reshape(-1, self.taps, n, c).transpose(2, 0, 1, 3).reshape(-1, self.taps * c)

    def apply_thin(self, x, w, every_tap, out_size):
        """The product through patches of a thin x."""
        n, c_out = x.shape[0], w.shape[2]
        y = ops.matmul(self.thin_patches(x, every_tap), w.reshape(-1, c_out)).reshape(n, -1, c_out)
        return y.transpose(0, 2, 1).reshape(n, c_out, out_size, out_size)

    def apply_col2im(self, x, w, col_index, out_size):
        """The product for a thin result: x·w for every (input position, tap), then each output sums its rows."""
        n, c, c_out = x.shape[0], x.shape[1], w.shape[2]
        products = ops.matmul(w.transpose(0, 2, 1).reshape(-1, c), x.transpose(1, 0, 2, 3).reshape(c, -1))
        products = products.reshape(self.taps, c_out, n, -1).transpose(3, 0, 2, 1).reshape(-1, n * c_out)
        y = ops.gather(append_zero_row(products, 0), col_index, 0).sum(axis=1)  # (outputs, N * C_out)
        return y.reshape(-1, n, c_out).transpose(1, 2, 0).reshape(n, c_out, out_size, out_size)

    def product(self, x, w):
        if self.thin_out:
            return self.apply_col2im(x, w, self.col_index, self.out_size)
        if self.thin_in:
            return self.apply_thin(x, w, self.every_tap, self.out_size)
        return self.apply(x, w, self.index, self.tap_sets, self.unpermute, self.out_size)

    def construct(self, x, w, bias):
        # BiasAdd, not y + bias.reshape(1, -1, 1, 1): MindSpore 2.10's CPU Add with a broadcast operand took twice
        # as long and did not reuse its buffers (about four outputs' worth held per call)
        return self.bias_add(self.product(x, w), bias) if self.has_bias else self.product(x, w)

    def input_grad(self, dout, w):
        """The same product from dy, through the opposite map, with the kernel's channels swapped."""
        w_back = w.transpose(0, 2, 1)
        if self.thin_in:
            return self.apply_col2im(dout, w_back, self.back_col_index, self.in_size)
        if self.thin_out:
            return self.apply_thin(dout, w_back, self.back_every_tap, self.in_size)
        return self.apply(dout, w_back, self.back_index, self.back_tap_sets, self.back_unpermute, self.in_size)

    def weight_grad(self, x, dout):
        """dw[k] = sum over outputs o of x[input(o, k)]ᵀ · dy[o], gathering whichever side is thin."""
        n, c_in, c_out = x.shape[0], x.shape[1], dout.shape[1]
        if self.thin_out:  # dy gathered over x's positions
            heard = self.thin_patches(dout, self.back_every_tap)  # (N * inputs, taps * C_out)
            dw = self.matmul_at(x.reshape(n, c_in, -1).transpose(0, 2, 1).reshape(-1, c_in), heard)
            return dw.reshape(c_in, self.taps, c_out).transpose(1, 0, 2)
        dy = dout.reshape(n, c_out, -1).transpose(0, 2, 1)
        if self.thin_in:
            return self.matmul_at(self.thin_patches(x, self.every_tap), dy.reshape(-1, c_out)).reshape(-1, c_in, c_out)
        rows = self.rows(x)
        parts = ()
        for i in range(len(self.index)):
            index, positions = self.index[i], self.positions[i]
            p, t = index.shape
            patches = ops.gather(rows, index, 1).reshape(n * p, t * c_in)
            dy_group = ops.gather(dy, positions, 1).reshape(n * p, c_out)
            parts += (self.matmul_at(patches, dy_group).reshape(t, c_in, c_out),)
        return ops.gather(ops.concat(parts, 0), self.tap_unpermute, 0)

    def bprop(self, x, w, bias, out, dout):
        # the bias's gradient as autodiff gives it for the broadcast sum: the same numbers as before BiasAdd
        bias_grad = dout.sum(axis=(0, 2, 3)) if self.has_bias else ops.zeros_like(bias)
        return self.input_grad(dout, w), self.weight_grad(x, dout), bias_grad


def _use_matmul(matmul: Optional[bool]) -> bool:
    return ms.get_context("device_target") == "CPU" if matmul is None else matmul


def _native_padding(padding: Optional[int]) -> dict:
    """The native layer's pad_mode and padding: 'same' when padding is None, else explicit ('pad')."""
    return {"pad_mode": "same"} if padding is None else {"pad_mode": "pad", "padding": padding}


def _add_bias(cell: nn.Cell, y: Tensor) -> Tensor:
    """y plus the layer's bias, if it has one (has_bias=False leaves bias None)."""
    return y if cell.bias is None else y + cell.bias.reshape(1, -1, 1, 1)


class Conv2d(nn.Conv2d):
    """nn.Conv2d with pad_mode 'same', or explicit `padding`, for a fixed input size; on CPU computed through
    GatherMatmul. Its weight is divided by its spectral norm when `spectral` holds a SpectralNorm (see
    spectral_normalize)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, in_size: int,
                 matmul: Optional[bool] = None, padding: Optional[int] = None, has_bias: bool = True, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, has_bias=has_bias,
                         **_native_padding(padding), **kwargs)
        self.spectral: Optional[SpectralNorm] = None
        self.use_matmul = _use_matmul(matmul)
        if self.use_matmul:
            if padding is None:
                pad, size_out = same_padding(in_size, kernel_size, stride)[0], -(-in_size // stride)
            else:
                pad, size_out = padding, (in_size + 2 * padding - kernel_size) // stride + 1
            rel = AxisRelation(low=size_out, high=in_size, kernel=kernel_size, stride=stride, offset=pad)
            self.gather_matmul = GatherMatmul(rel, out_is_high=False, c_in=in_channels, c_out=out_channels, has_bias=has_bias)
            self.no_bias = Tensor(np.zeros(out_channels, np.float32))  # what GatherMatmul is given without a bias

    def construct(self, x):
        if self.spectral is None and not self.use_matmul:
            return super().construct(x)
        weight = self.weight if self.spectral is None else self.spectral(self.weight)
        if not self.use_matmul:
            return _add_bias(self, ops.conv2d(x, weight, None, self.stride, self.pad_mode, self.padding))
        c_in, c_out = weight.shape[1], weight.shape[0]
        w = weight.transpose(2, 3, 1, 0).reshape(-1, c_in, c_out)  # (tap, input channel, output channel)
        return self.gather_matmul(x, w, self.bias if self.bias is not None else self.no_bias)


class Conv2dTranspose(nn.Conv2dTranspose):
    """nn.Conv2dTranspose with pad_mode 'same' (output = input x stride), or explicit `padding` (output =
    (input - 1) x stride - 2 x padding + kernel); on CPU through GatherMatmul."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, in_size: int,
                 matmul: Optional[bool] = None, padding: Optional[int] = None, has_bias: bool = True, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, has_bias=has_bias,
                         **_native_padding(padding), **kwargs)
        self.use_matmul = _use_matmul(matmul)
        if self.use_matmul:
            if padding is None:  # 'same' crops (kernel - stride) // 2 of the full (in-1)*stride + kernel output
                crop, size_out = (kernel_size - stride) // 2, in_size * stride
            else:
                crop, size_out = padding, (in_size - 1) * stride - 2 * padding + kernel_size
            rel = AxisRelation(low=in_size, high=size_out, kernel=kernel_size, stride=stride, offset=crop)
            self.gather_matmul = GatherMatmul(rel, out_is_high=True, c_in=in_channels, c_out=out_channels, has_bias=has_bias)
            self.no_bias = Tensor(np.zeros(out_channels, np.float32))  # what GatherMatmul is given without a bias

    def construct(self, x):
        if not self.use_matmul:
            return super().construct(x)
        c_in, c_out = self.weight.shape[0], self.weight.shape[1]
        w = self.weight.transpose(2, 3, 0, 1).reshape(-1, c_in, c_out)  # (tap, input channel, output channel)
        return self.gather_matmul(x, w, self.bias if self.bias is not None else self.no_bias)


class BatchNorm1d(nn.BatchNorm1d):
    """nn.BatchNorm1d (same parameters and statistics) whose training runs in plain ops: x normalised by its batch
    mean and (biased) variance, and the running statistics moved towards them (the variance unbiased), as
    MindSpore's kernel does. `momentum` is the kernel's (1 - the constructor's): the share of each batch in the
    running statistics. Inference runs the kernel.

    MindSpore 2.10's CPU BatchNorm kernel and its gradient took 15.1 of a 59.8 ms MLP step at batch 256, these
    ops about 4 (benchmarks/profile_step.py). The same ops over (N, H, W) for BatchNorm2d were slower than its
    kernel (dcgan's step: 415 against 340 ms), so convolutional layers keep nn.BatchNorm2d."""

    def construct(self, x):
        if not self.training:  # MindSpore's kernel: inference draws exactly as nn.BatchNorm1d's (the tutorial's)
            return super().construct(x)
        mean = x.mean(0)
        centred = x - mean
        variance = (centred * centred).mean(0)
        count = x.shape[0]
        ops.assign(self.moving_mean, self.moving_mean * (1 - self.momentum) + ops.stop_gradient(mean) * self.momentum)
        unbiased = ops.stop_gradient(variance) * (count / max(count - 1, 1))
        ops.assign(self.moving_variance, self.moving_variance * (1 - self.momentum) + unbiased * self.momentum)
        return centred * ops.rsqrt(variance + self.eps) * self.gamma + self.beta


def unit(v: Tensor) -> Tensor:
    return v / (ops.norm(v) + 1e-12)


class SpectralNorm(nn.Cell):
    """Divides a weight by an estimate of its largest singular value σ (Miyato et al. 2018), so that the layer
    stretches no input by more than 1: D's gradients stay bounded whatever the loss.

    σ = uᵀ·W·v for the leading singular vectors, which one power iteration per training call refines
    (u and v carry no gradient). u is a Parameter, saved with the network and restored on resume.
    """

    def __init__(self, weight: Parameter):
        super().__init__()
        rows = weight.shape[0]
        start = np.random.default_rng(rows).standard_normal(rows)  # any start works: the iterations find σ's vector
        self.u = Parameter(Tensor(start / np.linalg.norm(start), ms.float32), name="u", requires_grad=False)

    def construct(self, weight: Tensor) -> Tensor:
        matrix = weight.reshape(weight.shape[0], -1)
        u = self.u.value()
        if self.training:
            u = ops.stop_gradient(unit(ops.mv(matrix, unit(ops.mv(matrix.T, u)))))
            ops.assign(self.u, u)
        v = ops.stop_gradient(unit(ops.mv(matrix.T, u)))
        return weight / (u * ops.mv(matrix, v)).sum()


class SpectralDense(nn.Dense):
    """nn.Dense (no activation) whose weight is divided by its spectral norm."""

    def __init__(self, dense: nn.Dense):
        super().__init__(dense.in_channels, dense.out_channels, dense.weight.value(), dense.bias.value())
        self.spectral = SpectralNorm(self.weight)

    def construct(self, x):
        return ops.matmul(x, self.spectral(self.weight).T) + self.bias


def spectral_normalize(net: nn.Cell) -> nn.Cell:
    """Spectrally normalise every Dense and msgan Conv2d layer of `net` (a discriminator) and return it; the
    layers keep their initial weights."""
    for _, parent in list(net.cells_and_names()):
        for name, child in list(parent.name_cells().items()):
            if type(child) is nn.Dense:
                if isinstance(parent, nn.SequentialCell):
                    parent[int(name)] = SpectralDense(child)
                else:
                    setattr(parent, name, SpectralDense(child))
            elif isinstance(child, Conv2d):
                child.spectral = SpectralNorm(child.weight)
    return net


GOLDEN = 0x9E3779B9  # 2^32 / golden ratio: spreads consecutive call numbers over the 32-bit range


def shift_right(x: Tensor, bits: int) -> Tensor:
    """x >> bits for uint32, as a floor division by 2**bits: the same numbers, and on MindSpore 2.10's CPU
    kernels 3.7 against 5.4 ms for DCGAN's largest Dropout input (802,816 elements)."""
    return ops.div(x, Tensor(2 ** bits, ms.uint32), rounding_mode="floor")


def mix32(x: Tensor) -> Tensor:
    """The murmur3 finalizer: a bijection of uint32 that scrambles every input bit into every output bit."""
    x = ops.bitwise_xor(x, shift_right(x, 16))
    x = x * Tensor(0x85EBCA6B, ms.uint32)
    x = ops.bitwise_xor(x, shift_right(x, 13))
    x = x * Tensor(0xC2B2AE35, ms.uint32)
    return ops.bitwise_xor(x, shift_right(x, 16))


def mix32_numpy(x: np.ndarray) -> np.ndarray:
    """mix32 in NumPy's uint32 arithmetic (wrapping multiplies, logical shifts), in place."""
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return x


def same_as_last(*inputs):
    """A pyfunc op's output shape or dtype: its last input's."""
    return inputs[-1]


def host_keep_mask(threshold: int, scale: float):
    """Dropout's mask, kept elements `scale` and dropped ones 0, drawn in NumPy: the body of a CPU pyfunc op.

    The same numbers as Dropout.device_mask. On MindSpore 2.10's CPU kernels integer arithmetic does not reuse
    its buffers, so the ops' mask held about 17 bytes per element for every integer op in mix32 (450 MB per
    call for DCGAN's first Dropout at batch 256), and took 1.7 times as long as this."""
    def keep_mask(calls, key, shard, x: np.ndarray) -> np.ndarray:  # scalars arrive as ints or 0-d arrays
        calls, key, shard = (np.array(v, dtype=np.uint32).reshape(1) for v in (calls, key, shard))
        start = mix32_numpy(calls * np.uint32(GOLDEN) + key)
        bits = np.arange(x.size, dtype=np.uint32)
        bits += shard * np.uint32(x.size) + start
        return np.multiply(mix32_numpy(bits) < np.uint32(threshold), x.dtype.type(scale), dtype=x.dtype).reshape(x.shape)
    return keep_mask


class Dropout(nn.Cell):
    """Dropout whose masks are a pure function of (seed, layer, call number, element), so that one seed
    gives one run and a resumed run draws the masks that the unbroken run would have drawn.

    MindSpore 2.10's CPU Dropout kernels share one random state and may run concurrently: with two of
    them in a graph, runs with the same seed drift apart after a few steps (measured), and the state
    cannot be saved. Here the call count is a Parameter, saved with the network like BatchNorm's
    statistics, and the bits come from a counter-based generator (as PyTorch's and JAX's Philox):
    element i of call c keeps its value when mix32(i + mix32(c * GOLDEN + key)) < keep * 2^32.
    On CPU (or with host=True) NumPy draws the mask inside the graph (host_keep_mask), elsewhere MindSpore's
    integer ops do: the same masks either way.
    """

    def __init__(self, p: float, host: Optional[bool] = None):
        super().__init__()
        self.keep = 1.0 - p
        threshold = min(round(self.keep * 2 ** 32), 2 ** 32 - 1)
        self.threshold = Tensor(threshold, ms.uint32)
        self.calls = Parameter(Tensor(0, ms.uint32), name="calls", requires_grad=False)
        self.key = Tensor(0, ms.uint32)  # the layer's own stream: see key_dropout_streams
        self.shard = Tensor(0, ms.uint32)  # this worker's place in the global batch: see shard_dropout_streams
        self.host = ms.get_context("device_target") == "CPU" if host is None else host
        if self.host:  # pyfunc ops run on CPU only
            self.host_mask = ops.Custom(host_keep_mask(threshold, 1.0 / self.keep), out_shape=same_as_last,
                                        out_dtype=same_as_last, func_type="pyfunc")

    def device_mask(self, x: Tensor) -> Tensor:
        start = mix32(self.calls.reshape(1) * Tensor(GOLDEN, ms.uint32) + self.key)
        first = self.shard * Tensor(x.size, ms.uint32)  # the index of this slice's first element in the global batch
        bits = mix32(ops.arange(x.size, dtype=ms.int32).astype(ms.uint32) + first + start)
        return (bits < self.threshold).astype(x.dtype).reshape(x.shape) * (1.0 / self.keep)

    def construct(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        if self.host:
            mask = ops.stop_gradient(self.host_mask(self.calls, self.key, self.shard, x))
        else:
            mask = self.device_mask(x)
        ops.assign_add(self.calls, Tensor(1, ms.uint32))
        return x * mask


def key_dropout_streams(net: nn.Cell) -> None:
    """Give each Dropout in `net` a stream of its own, from the run's seed and its parameter's name
    (fixed by then, and the same in every process), so that no two layers draw the same masks."""
    seed = ms.get_seed() or 0  # the run's seed: ms.set_seed comes before the networks are built
    for _, cell in net.cells_and_names():
        if isinstance(cell, Dropout):
            cell.key = Tensor(zlib.crc32(f"{seed}/{cell.calls.name}".encode()), ms.uint32)


def shard_dropout_streams(net: nn.Cell, rank: int) -> None:
    """Make worker `rank`'s Dropout masks the rows of the mask that one process would draw for the global
    batch, of which this worker holds slice `rank`: element i of the slice is element rank * size + i."""
    for _, cell in net.cells_and_names():
        if isinstance(cell, Dropout):
            cell.shard = Tensor(rank, ms.uint32)
