"""The CPU matmul convolutions against MindSpore's native kernels (same outputs, same gradients), and the
replayable Dropout against its formula."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn, ops

from msgan.layers import (GOLDEN, AxisRelation, BatchNorm1d, Conv2d, Conv2dTranspose, Dropout, key_dropout_streams,
                          tap_groups)

CASES = [  # (layer, in_channels, out_channels, stride, in_size): the shapes DCGAN uses, fewer channels
    (Conv2d, 3, 4, 2, 28),
    (Conv2d, 4, 5, 2, 14),
    (Conv2d, 3, 2, 1, 7),
    (Conv2dTranspose, 6, 4, 1, 7),
    (Conv2dTranspose, 4, 3, 2, 7),
    (Conv2dTranspose, 3, 1, 2, 14),
    (Conv2d, 1, 4, 2, 28),  # a thin input: its gradient is gathered after the multiply (col2im)
    (Conv2dTranspose, 4, 1, 2, 14),  # a thin output: the forward and the weight gradient are col2im
]


def value_and_grads(layer, x):
    def loss(x):
        y = layer(x)
        return (y * ops.cos(y)).sum()  # any smooth function: a non-uniform dy reaches the layer

    return ms.value_and_grad(loss, 0, layer.trainable_params())(x)


PAD_CASES = [  # (layer, in_channels, out_channels, kernel, stride, padding, in_size): the DCGAN tutorial's shapes
    (Conv2d, 3, 4, 4, 2, 1, 16),
    (Conv2d, 4, 5, 4, 2, 1, 8),
    (Conv2d, 6, 1, 4, 1, 0, 4),  # the discriminator's last layer: 4x4 -> 1x1, a thin output
    (Conv2dTranspose, 6, 4, 4, 1, 0, 1),  # the generator's first layer: a 1x1 input
    (Conv2dTranspose, 4, 3, 4, 2, 1, 4),
    (Conv2dTranspose, 4, 3, 4, 2, 1, 8),
    (Conv2d, 3, 12, 4, 2, 1, 16),  # a thin input (the RGB image)
    (Conv2dTranspose, 12, 3, 4, 2, 1, 8),  # a thin output (the RGB image)
    (Conv2dTranspose, 8, 1, 4, 2, 1, 8),
    (Conv2dTranspose, 3, 12, 4, 1, 0, 1),  # a thin 1x1 input
]


def assert_matches_native(native, fast, c_in, size):
    """Same parameters (names, shapes, values) give the same output, input gradient and parameter gradients."""
    for a, b in zip(native.get_parameters(), fast.get_parameters()):
        assert a.name == b.name and a.shape == b.shape
        rng = np.random.default_rng(len(a.name))
        value = rng.standard_normal(a.shape).astype(np.float32)
        a.set_data(Tensor(value))
        b.set_data(Tensor(value))
    x = Tensor(np.random.default_rng(1).standard_normal((2, c_in, size, size)).astype(np.float32))
    (v_native, (dx_native, dparams_native)) = value_and_grads(native, x)
    (v_fast, (dx_fast, dparams_fast)) = value_and_grads(fast, x)
    assert len(dparams_fast) == len(dparams_native)
    np.testing.assert_allclose(fast(x).asnumpy(), native(x).asnumpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(v_fast.asnumpy(), v_native.asnumpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dx_fast.asnumpy(), dx_native.asnumpy(), rtol=1e-4, atol=1e-3)
    for g_fast, g_native in zip(dparams_fast, dparams_native):
        np.testing.assert_allclose(g_fast.asnumpy(), g_native.asnumpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("case", PAD_CASES, ids=lambda c: f"{c[0].__name__}-{c[1]}to{c[2]}-k{c[3]}s{c[4]}p{c[5]}-{c[6]}")
def test_explicit_padding_matches_native(case):
    cls, c_in, c_out, kernel, stride, padding, size = case
    ms.set_seed(0)
    native = cls(c_in, c_out, kernel, stride, size, matmul=False, padding=padding, has_bias=False)
    fast = cls(c_in, c_out, kernel, stride, size, matmul=True, padding=padding, has_bias=False)
    assert fast.bias is None and native.pad_mode == fast.pad_mode == "pad"
    assert_matches_native(native, fast, c_in, size)


def test_explicit_padding_with_a_bias_matches_native():
    native = Conv2dTranspose(4, 3, 4, 2, 4, matmul=False, padding=1)
    fast = Conv2dTranspose(4, 3, 4, 2, 4, matmul=True, padding=1)
    assert_matches_native(native, fast, 4, 4)


def test_dcgan_tutorial_sizes_and_thin_sides():
    """64 -> 32 -> 16 -> 8 -> 4 -> 1 and back, with the image sides gathered after the multiply."""
    x = Tensor(np.zeros((1, 3, 64, 64), np.float32))
    for c_in, c_out, stride, padding, size in [(3, 8, 2, 1, 64), (8, 8, 2, 1, 32), (8, 8, 2, 1, 16),
                                               (8, 8, 2, 1, 8), (8, 1, 1, 0, 4)]:
        x = Conv2d(c_in, c_out, 4, stride, size, matmul=True, padding=padding, has_bias=False)(x)
    assert x.shape == (1, 1, 1, 1)
    for c_in, c_out, stride, padding, size in [(1, 8, 1, 0, 1), (8, 8, 2, 1, 4), (8, 8, 2, 1, 8),
                                               (8, 8, 2, 1, 16), (8, 3, 2, 1, 32)]:
        x = Conv2dTranspose(c_in, c_out, 4, stride, size, matmul=True, padding=padding, has_bias=False)(x)
    assert x.shape == (1, 3, 64, 64)
    assert Conv2d(3, 64, 4, 2, 64, matmul=True, padding=1).gather_matmul.thin_in
    assert Conv2d(512, 1, 4, 1, 4, matmul=True, padding=0).gather_matmul.thin_out
    assert Conv2dTranspose(64, 3, 4, 2, 32, matmul=True, padding=1).gather_matmul.thin_out


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0].__name__}-{c[1]}to{c[2]}-s{c[3]}-{c[4]}")
def test_matmul_path_matches_native(case):
    cls, c_in, c_out, stride, size = case
    ms.set_seed(0)
    native = cls(c_in, c_out, 5, stride, size, matmul=False)
    fast = cls(c_in, c_out, 5, stride, size, matmul=True)
    assert_matches_native(native, fast, c_in, size)


def test_strided_upsampling_skips_the_taps_it_never_hears():
    """A stride-2 transposed 5x5 conv: four parity groups hearing 9, 6, 6 and 4 taps, covering each output once."""
    rel = AxisRelation(low=7, high=14, kernel=5, stride=2, offset=1)
    groups = tap_groups(rel, out_is_high=True)
    assert sorted(len(g.taps) for g in groups) == [4, 6, 6, 9]
    assert sorted(np.concatenate([g.positions for g in groups]).tolist()) == list(range(14 * 14))
    assert sorted(np.concatenate([g.taps for g in groups]).tolist()) == list(range(25))
    # the gradient direction (14x14 -> 7x7) hears every tap: one group
    (back,) = tap_groups(rel, out_is_high=False)
    assert back.index.shape == (49, 25)


def test_dcgan_image_sides_are_gathered_after_the_multiply():
    first, last = Conv2d(1, 64, 5, 2, 28, matmul=True), Conv2dTranspose(64, 1, 5, 2, 14, matmul=True)
    wide = Conv2dTranspose(256, 128, 5, 1, 7, matmul=True)
    assert first.gather_matmul.thin_in and not first.gather_matmul.thin_out
    assert last.gather_matmul.thin_out and not last.gather_matmul.thin_in
    assert not (wide.gather_matmul.thin_in or wide.gather_matmul.thin_out)


def test_plain_batch_norm_matches_the_native_kernel():
    """Same outputs and gradients in training, the same running statistics after two steps (the variance
    unbiased), and in inference the kernel's outputs to the bit."""
    shape = (16, 5)
    ours, theirs = BatchNorm1d(shape[1], momentum=0.8), nn.BatchNorm1d(shape[1], momentum=0.8)
    rng = np.random.default_rng(2)
    for a, b in zip(ours.get_parameters(), theirs.get_parameters()):
        assert a.name == b.name
        value = Tensor(rng.uniform(0.5, 1.5, a.shape).astype(np.float32))
        a.set_data(value)
        b.set_data(value.copy())
    for bn in (ours, theirs):
        bn.set_train(True)
    for step in range(2):
        x = Tensor((rng.standard_normal(shape) * 3 + step).astype(np.float32))
        (y_ours, (dx_ours, dw_ours)), (y_theirs, (dx_theirs, dw_theirs)) = (value_and_grads(bn, x) for bn in (ours, theirs))
        np.testing.assert_allclose(y_ours.asnumpy(), y_theirs.asnumpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(dx_ours.asnumpy(), dx_theirs.asnumpy(), rtol=1e-4, atol=1e-4)
        for g_ours, g_theirs in zip(dw_ours, dw_theirs):
            np.testing.assert_allclose(g_ours.asnumpy(), g_theirs.asnumpy(), rtol=1e-4, atol=1e-4)
    for a, b in ((ours.moving_mean, theirs.moving_mean), (ours.moving_variance, theirs.moving_variance)):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-5)
    assert not np.allclose(ours.moving_variance.asnumpy(), 1.0)  # the statistics did move
    for bn in (ours, theirs):
        bn.set_train(False)
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    ours.moving_mean.set_data(theirs.moving_mean.value().copy())
    ours.moving_variance.set_data(theirs.moving_variance.value().copy())
    np.testing.assert_array_equal(ours(x).asnumpy(), theirs(x).asnumpy())  # inference is the kernel's


def reference_bits(count: int, call: int, key: int) -> np.ndarray:
    """The Dropout's random bits in NumPy's uint32 arithmetic (wrapping multiplies, logical shifts)."""
    def mix(x):
        x = x ^ (x >> np.uint32(16))
        x = x * np.uint32(0x85EBCA6B)
        x = x ^ (x >> np.uint32(13))
        x = x * np.uint32(0xC2B2AE35)
        return x ^ (x >> np.uint32(16))
    with np.errstate(over="ignore"):
        start = mix(np.array([call * GOLDEN + key], dtype=np.uint64).astype(np.uint32))
        return mix(np.arange(count, dtype=np.uint32) + start)


def test_dropout_masks_follow_the_formula_call_after_call():
    ms.set_seed(4)
    net = nn.SequentialCell(Dropout(p=0.3), Dropout(p=0.3))
    net.update_parameters_name("d.")
    key_dropout_streams(net)
    first, second = net[0], net[1]
    assert int(first.key.asnumpy()) != int(second.key.asnumpy())  # each layer draws its own masks
    net.set_train(True)

    @ms.jit
    def step(x):
        return first(x)

    x = Tensor(np.full((16, 3, 20, 20), 2.0, np.float32))
    for call in range(3):
        out = step(x).asnumpy().ravel()
        keep = reference_bits(out.size, call, int(first.key.asnumpy())) < np.uint32(round(0.7 * 2 ** 32))
        np.testing.assert_array_equal(out != 0, keep)
        np.testing.assert_allclose(out[keep], 2.0 / 0.7, rtol=1e-6)  # kept values are scaled by 1/keep
        assert abs(keep.mean() - 0.7) < 0.02
    assert int(first.calls.asnumpy()) == 3  # saved with the network, so a resumed run continues the stream
    net.set_train(False)
    np.testing.assert_array_equal(first(x).asnumpy(), x.asnumpy())  # eval mode: identity


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_dropout_host_and_device_masks_are_the_same(dtype):
    """The NumPy mask drawn on CPU and MindSpore's integer ops (GPU, Ascend) give the same output, call after
    call, on a worker's shard, in half precision too."""
    layers = []
    for host in (True, False):
        layer = Dropout(p=0.3, host=host)
        layer.key, layer.shard = Tensor(0xDEADBEEF, ms.uint32), Tensor(2, ms.uint32)
        layer.set_train(True)
        layers.append(ms.jit(layer.construct))
    x = Tensor(np.random.default_rng(0).standard_normal((8, 5, 7, 7)).astype(dtype))
    for _ in range(3):
        np.testing.assert_array_equal(layers[0](x).asnumpy(), layers[1](x).asnumpy())


def test_spectral_native_path_keeps_the_explicit_padding():
    """A spectrally normalised Conv2d off the matmul path calls ops.conv2d itself: with the layer's own padding."""
    from mindspore.common.initializer import Normal

    from msgan.layers import SpectralNorm
    native = Conv2d(3, 4, 4, 2, 16, matmul=False, padding=1, has_bias=False, weight_init=Normal(0.02))
    fast = Conv2d(3, 4, 4, 2, 16, matmul=True, padding=1, has_bias=False)
    assert abs(float(native.weight.asnumpy().std()) - 0.02) < 0.005  # weight_init reaches the native constructor
    fast.weight.set_data(native.weight.value())
    for layer in (native, fast):
        layer.spectral = SpectralNorm(layer.weight)
        layer.set_train(False)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32))
    np.testing.assert_allclose(fast(x).asnumpy(), native(x).asnumpy(), rtol=1e-4, atol=1e-5)
