import dataclasses

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor

from msgan.config import TrainConfig, resolve
from msgan.data import batches, channels_first, real_patterns, to_model_range
from msgan.models import MODELS, build_discriminator, build_generator
from msgan.sampling import latents
from msgan.losses import LOSSES
from msgan.step import StepOptions, build_networks, make_optimizers, make_train_step
from conftest import lone_step_inputs


def setup(seed: int = 3):
    ms.set_seed(seed)
    g, d = build_generator("mlp", 100), build_discriminator("mlp")
    opt_g, opt_d = make_optimizers(g, d, TrainConfig())
    return g, d, opt_g, opt_d


def batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (Tensor(rng.uniform(-1, 1, (32, 1, 28, 28)).astype(np.float32)),
            Tensor(rng.standard_normal((32, 100), dtype=np.float32)),
            Tensor(rng.integers(0, 10, 32).astype(np.int32)), *lone_step_inputs(32))


def weights(net):
    return {p.name: p.asnumpy().copy() for p in net.trainable_params()}


def test_optimizers_match_the_tutorial_and_keep_weight_names():
    g, d, opt_g, opt_d = setup()
    assert opt_g.beta1.asnumpy() == np.float32(0.5) and opt_g.beta2.asnumpy() == np.float32(0.999)
    assert np.isclose(opt_d.learning_rate.asnumpy(), 2e-4)
    # the optimizers' own state is prefixed, the weights they update are not renamed
    assert all(p.name.startswith("generator.") for p in g.get_parameters())
    own = [p.name for p in opt_g.get_parameters() if not p.name.startswith("generator.")]
    assert own and all(name.startswith("optim_g.") for name in own)


def test_compiled_step_updates_both_networks_and_reports_probabilities():
    g, d, opt_g, opt_d = setup()
    before_g, before_d = weights(g), weights(d)
    out = make_train_step(g, d, opt_g, opt_d, compiled=True)(*batch()).asnumpy()
    assert out.shape == (6,) and np.isfinite(out).all()
    loss_d, loss_g, d_real, d_fake, acc_real, acc_fake = out
    assert 0 < d_real < 1 and 0 < d_fake < 1 and 0 <= acc_real <= 1 and 0 <= acc_fake <= 1
    assert loss_d > 0 and loss_g > 0
    assert all(not np.array_equal(before_g[k], v) for k, v in weights(g).items())
    assert all(not np.array_equal(before_d[k], v) for k, v in weights(d).items())


@pytest.mark.parametrize("loss", ["bce", "lsgan"])
def test_the_step_reports_d_outputs_and_accuracies_from_d_before_its_update(loss):
    """D(x), D(G(z)) and the shares of real samples D calls real and of fakes it calls fake, read from D's
    scores before its update: above the loss's midpoint is 'real' (logit 0 for BCE, 0.5 for least squares)."""
    g, d, opt_g, opt_d = setup()
    real, z, *rest = batch()
    g.set_train(True)  # as the step runs G: BatchNorm by batch statistics
    s_real, s_fake = d(real).asnumpy().ravel(), d(g(z)).asnumpy().ravel()
    midpoint, shown = LOSSES[loss].midpoint, (lambda s: 1 / (1 + np.exp(-s))) if loss == "bce" else (lambda s: s)
    step = make_train_step(g, d, opt_g, opt_d, StepOptions(LOSSES[loss]))
    out = step(real, z, *rest).asnumpy()
    np.testing.assert_allclose(out[2:4], [shown(s_real).mean(), shown(s_fake).mean()], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[4:], [(s_real > midpoint).mean(), (s_fake < midpoint).mean()], atol=1e-6)
    # a fresh D scores near 0: BCE's midpoint splits the batches, least squares' 0.5 calls every sample fake
    assert (0 < out[4] < 1 and 0 < out[5] < 1) if loss == "bce" else (out[4], out[5]) == (0, 1)


def test_d_alone_trains_d_on_the_latents_as_its_fakes_and_leaves_g_alone():
    """--d-alone, the toy lesson's first experiment: D's fakes are the uniform latents, G never changes."""
    ms.set_seed(5)
    g, d = build_generator("toy1010", 4), build_discriminator("toy1010")
    cfg = TrainConfig(model="toy1010", latent_dim=4, latent="uniform", d_alone=True, optimizer="sgd", lr=0.5,
                      loss="mse", d_loss="sum")
    step = make_train_step(g, d, *make_optimizers(g, d, cfg), StepOptions.of(cfg))
    real, noise = Tensor(real_patterns(4, seed=0)), Tensor(latents(4, 4, 0, distribution="uniform"))
    before_g, before_d = weights(g), weights(d)
    d_noise = (1 / (1 + np.exp(-d(noise).asnumpy()))).mean()
    out = step(real, noise, Tensor(np.zeros(4, np.int32)), *lone_step_inputs(4)).asnumpy()
    np.testing.assert_allclose(out[3], d_noise, rtol=1e-5)  # D(G(z)) is D's output on the noise itself
    assert all(np.array_equal(before_g[k], v) for k, v in weights(g).items())
    assert all(not np.array_equal(before_d[k], v) for k, v in weights(d).items())


def test_pynative_step_is_the_same_step():
    """--pynative runs the identical step uncompiled: same losses and same weights after two steps."""
    results = []
    for compiled in (True, False):
        if not compiled:
            ms.set_context(mode=ms.PYNATIVE_MODE)
        try:
            g, d, opt_g, opt_d = setup()
            step = make_train_step(g, d, opt_g, opt_d, compiled=compiled)
            outs = [step(*batch(i)).asnumpy() for i in range(2)]
            results.append((outs, weights(g), weights(d)))
        finally:
            ms.set_context(mode=ms.GRAPH_MODE)
    (outs_a, g_a, d_a), (outs_b, g_b, d_b) = results
    np.testing.assert_allclose(outs_a, outs_b, rtol=1e-4, atol=1e-5)
    for key in g_a:
        np.testing.assert_allclose(g_a[key], g_b[key], rtol=1e-4, atol=1e-5, err_msg=key)
    for key in d_a:
        np.testing.assert_allclose(d_a[key], d_b[key], rtol=1e-4, atol=1e-5, err_msg=key)


def test_discriminator_update_does_not_touch_the_generator():
    """Each loss is differentiated over its own network only: with G's learning rate 0, G must not move."""
    ms.set_seed(3)
    g, d = build_generator("mlp", 100), build_discriminator("mlp")
    _, opt_d = make_optimizers(g, d, TrainConfig())
    frozen_g = ms.nn.Adam(g.trainable_params(), learning_rate=0.0)
    before = weights(g)
    make_train_step(g, d, frozen_g, opt_d)(*batch())
    for key, value in weights(g).items():
        np.testing.assert_array_equal(before[key], value, err_msg=key)


def toy_step(d_loss: str, track_fakes: bool = False):
    ms.set_seed(5)
    g, d = build_generator("toy1010", 1), build_discriminator("toy1010")
    options = StepOptions(LOSSES["mse"], d_loss, track_fakes=track_fakes)
    return make_train_step(g, d, *make_optimizers(g, d, TrainConfig(optimizer="sgd", lr=0.01)), options), g


def toy_batch():
    return (Tensor(real_patterns(4, seed=0)), Tensor(latents(4, 1, 0, distribution="constant")),
            Tensor(np.zeros(4, np.int32)), *lone_step_inputs(4))


def test_summed_discriminator_loss_is_twice_the_mean():
    mean, _ = toy_step("mean")
    summed, _ = toy_step("sum")
    np.testing.assert_allclose(summed(*toy_batch()).asnumpy()[0], 2 * mean(*toy_batch()).asnumpy()[0], rtol=1e-6)


def test_tracked_step_reports_the_generators_output():
    step, g = toy_step("sum", track_fakes=True)
    g.set_train(False)
    before = g(Tensor(np.full((1, 1), 0.5, np.float32))).asnumpy()[0]
    out = step(*toy_batch()).asnumpy()
    assert out.shape == (10,)
    np.testing.assert_allclose(out[6:], before, rtol=1e-6)  # G's output at the step's start


def test_latent_distributions():
    assert (latents(3, 2, 0, distribution="constant") == 0.5).all()
    near = latents(1000, 1, 0, distribution="near-constant")
    assert abs(near.mean() - 0.5) < 0.02 and 0.05 < near.std() < 0.15
    uniform = latents(1000, 2, 0, distribution="uniform")
    assert uniform.min() >= 0 and uniform.max() < 1
    np.testing.assert_array_equal(latents(5, 3, 7, 1, distribution="normal"), latents(5, 3, 7, 1))
    assert not np.array_equal(latents(5, 3, 7, 1), latents(5, 3, 7, 2))  # separate streams


# dcgan64 and cdcgan are made of the layers that dcgan and cgan bring here, and their compiles would add 80 and 30 s
@pytest.mark.parametrize("model", [m for m in MODELS if m not in ("dcgan64", "cdcgan")])
def test_one_compiled_call_of_several_steps_equals_single_steps(model):
    """The training loop runs several steps per compiled call (make_train_loop). Calls of 1 and 3 steps give
    every step's numbers and every weight, BatchNorm statistic, Adam moment and Dropout count that five
    single compiled steps give, to the bit."""
    cfg = resolve({"model": model, "batch_size": 4})
    spec = MODELS[cfg.model]
    data = real_patterns(20, seed=0) if spec.kind == "pattern" else (
        np.random.default_rng(0).uniform(-1, 1, (20, *spec.sample_shape)).astype(np.float32))
    labels = np.random.default_rng(1).integers(0, 10, 20).astype(np.int32)
    order = batches(20, 4, seed=0, epoch=0).astype(np.int32)
    noise = latents(20, cfg.latent_dim, seed=0, distribution=cfg.latent).reshape(5, 4, cfg.latent_dim)

    looped = build_networks(cfg)
    mix = np.random.default_rng(2).random((5, 4), dtype=np.float32)
    inputs = (Tensor(data), Tensor(labels), Tensor(order), Tensor(noise), Tensor(mix))
    rows = [looped.train_steps(*inputs, Tensor(first, ms.int32), Tensor(count, ms.int32)).asnumpy()[:count]
            for first, count in ((0, 1), (1, 3), (4, 1))]

    single = build_networks(cfg)
    step = ms.jit(single.train_step)  # the same step, one compiled call each
    expected = [step(Tensor(data[index]), Tensor(noise[i]), Tensor(labels[index]), Tensor(mix[i]),
                     Tensor((i + 1) % cfg.n_critic == 0)).asnumpy() for i, index in enumerate(order)]

    np.testing.assert_array_equal(np.concatenate(rows), np.array(expected))
    assert len(looped.state_parameters()) == len(single.state_parameters())
    for a, b in zip(looped.state_parameters(), single.state_parameters()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy(), err_msg=a.name)


def test_pynative_loop_runs_the_same_steps():
    """--pynative runs the same loop uncompiled, op by op: the same numbers as the compiled loop, to float
    rounding (PyNative's kernels may order sums differently)."""
    cfg = resolve({"model": "mlp", "batch_size": 8})
    data = np.random.default_rng(0).uniform(-1, 1, (16, 1, 28, 28)).astype(np.float32)
    inputs = (Tensor(data), Tensor(np.zeros(16, np.int32)), Tensor(batches(16, 8, seed=0, epoch=0).astype(np.int32)),
              Tensor(latents(16, 100, seed=0).reshape(2, 8, 100)), Tensor(np.zeros((2, 8), np.float32)),
              Tensor(0, ms.int32), Tensor(2, ms.int32))
    rows = []
    for pynative in (False, True):
        if pynative:
            ms.set_context(mode=ms.PYNATIVE_MODE)
        try:
            rows.append(build_networks(dataclasses.replace(cfg, pynative=pynative)).train_steps(*inputs).asnumpy())
        finally:
            ms.set_context(mode=ms.GRAPH_MODE)
    np.testing.assert_allclose(rows[1], rows[0], rtol=1e-4, atol=1e-5)
    assert np.all(rows[0][:, :2] > 0)  # the losses of both steps


def test_class_weight_scales_the_class_term_of_both_losses():
    """A D that names the digit (here AC-GAN's; every class head shares the step's code) adds class_weight times its cross-entropy to D's and G's losses: from the same
    weights and batch, the losses grow by the same positive amount from weight 0 to 1 as from 1 to 2 (G's to within
    1%: it is taken after D's update, which the weight changes too, so the learning rate is tiny)."""
    rng = np.random.default_rng(0)
    real = Tensor(rng.uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32))
    z = Tensor(rng.standard_normal((8, 100), dtype=np.float32))
    labels = Tensor(rng.integers(0, 10, 8).astype(np.int32))
    losses = []
    for weight in (0.0, 1.0, 2.0):
        nets = build_networks(resolve({"model": "cgan-acgan", "class_weight": weight, "lr": 1e-9}))
        losses.append(ms.jit(nets.train_step)(real, z, labels, Tensor(np.zeros(8, np.float32)),
                                              Tensor(True)).asnumpy()[:2])
    low, mid, high = losses
    assert np.all(mid - low > 0.5)  # a cross-entropy over ten digits starts near ln 10
    np.testing.assert_allclose(high[0] - mid[0], mid[0] - low[0], rtol=1e-4)
    np.testing.assert_allclose(high[1] - mid[1], mid[1] - low[1], rtol=1e-2)


def test_pixels_on_the_device_train_as_their_float_range():
    """Image sets stay uint8 on the device (a quarter of their float32 size) and the loop scales each batch:
    the same numbers and weights, to the bit, as the float samples data.to_model_range makes."""
    cfg = resolve({"model": "mlp-small", "batch_size": 4})
    pixels = np.random.default_rng(0).integers(0, 256, (8, 28, 28, 3), dtype=np.uint8)
    order = Tensor(batches(8, 4, seed=0, epoch=0).astype(np.int32))
    noise = Tensor(latents(8, cfg.latent_dim, seed=0).reshape(2, 4, cfg.latent_dim))
    rest = (Tensor(np.zeros(8, np.int32)), order, noise, Tensor(np.zeros((2, 4), np.float32)),
            Tensor(0, ms.int32), Tensor(2, ms.int32))
    runs = []
    for samples in (channels_first(pixels), to_model_range(pixels)):
        nets = build_networks(dataclasses.replace(cfg, shape=[3, 28, 28]))
        runs.append((nets.train_steps(Tensor(samples), *rest).asnumpy(), nets.generator.trainable_params()))
    (rows_u8, weights_u8), (rows_f32, weights_f32) = runs
    np.testing.assert_array_equal(rows_u8, rows_f32)
    for a, b in zip(weights_u8, weights_f32):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy(), err_msg=a.name)
