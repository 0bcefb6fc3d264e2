"""The loss registry against the formulas, the gradient penalty against NumPy, spectral normalisation against
the largest singular value, and G's moving average against its update rule."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from msgan.config import TrainConfig
from msgan.ema import GeneratorAverage, standing_statistics
from msgan.layers import SpectralNorm, spectral_normalize
from msgan.losses import LOSSES, gradient_penalty, interpolate
from msgan.models import build_discriminator, build_generator
from msgan.step import StepOptions, make_optimizers, make_train_step
from conftest import lone_step_inputs

REAL = np.array([[2.0], [0.5], [-1.0]], np.float32)
FAKE = np.array([[-1.5], [0.0], [3.0]], np.float32)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name: (D's real term, D's fake term, G's loss), in NumPy, of raw scores
FORMULAS = {
    "bce": (lambda r: -np.log(sigmoid(r)).mean(), lambda f: -np.log(1 - sigmoid(f)).mean(),
            lambda f: -np.log(sigmoid(f)).mean()),
    "saturating": (lambda r: -np.log(sigmoid(r)).mean(), lambda f: -np.log(1 - sigmoid(f)).mean(),
                   lambda f: np.log(1 - sigmoid(f)).mean()),
    "mse": (lambda r: ((sigmoid(r) - 1) ** 2).mean(), lambda f: (sigmoid(f) ** 2).mean(),
            lambda f: ((sigmoid(f) - 1) ** 2).mean()),
    "lsgan": (lambda r: ((r - 1) ** 2).mean(), lambda f: (f ** 2).mean(), lambda f: ((f - 1) ** 2).mean()),
    "hinge": (lambda r: np.maximum(0, 1 - r).mean(), lambda f: np.maximum(0, 1 + f).mean(), lambda f: -f.mean()),
    "wgan-gp": (lambda r: -r.mean(), lambda f: f.mean(), lambda f: -f.mean()),
}


def test_every_loss_has_a_formula_and_a_flag():
    assert set(FORMULAS) == set(LOSSES)
    from msgan.config import CHOICES
    assert set(CHOICES["loss"]) == set(LOSSES)


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_values(name):
    loss = LOSSES[name]
    real_term, fake_term = (t.asnumpy() for t in loss.discriminator(Tensor(REAL), Tensor(FAKE)))
    want_real, want_fake, want_g = FORMULAS[name]
    np.testing.assert_allclose(real_term, want_real(REAL), rtol=1e-5)
    np.testing.assert_allclose(fake_term, want_fake(FAKE), rtol=1e-5)
    np.testing.assert_allclose(loss.generator(Tensor(FAKE)).asnumpy(), want_g(FAKE), rtol=1e-5, atol=1e-7)


def slope(fn, scores: np.ndarray) -> np.ndarray:
    return ms.grad(fn)(Tensor(scores)).asnumpy()


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_signs(name):
    """D's loss falls as it scores real samples higher and fakes lower; G's falls as its fakes score higher."""
    loss = LOSSES[name]
    scores = np.array([[0.1], [0.4], [0.7]], np.float32)  # between the targets, where every loss has a slope

    def real_term(s):
        return loss.discriminator(s, Tensor(FAKE))[0]

    def fake_term(s):
        return loss.discriminator(Tensor(REAL), s)[1]

    assert (slope(real_term, scores) < 0).all()
    assert (slope(fake_term, scores) > 0).all()
    assert (slope(loss.generator, scores) < 0).all()


def test_saturating_loss_stalls_where_the_non_saturating_one_pulls():
    """The theory lesson's warning: while D confidently rejects the fakes, log(1 - D(G(z))) gives G almost no
    gradient, and -log D(G(z)) gives it nearly the largest."""
    rejected = np.full((4, 1), -8.0, np.float32)
    saturating = np.abs(slope(LOSSES["saturating"].generator, rejected)).max()
    pulling = np.abs(slope(LOSSES["bce"].generator, rejected)).min()
    assert saturating < 1e-3 * pulling


class TinyCritic(nn.Cell):
    """score(x) = v · tanh(W x), whose input gradient NumPy computes in closed form."""

    def __init__(self, w: np.ndarray, v: np.ndarray):
        super().__init__()
        self.hidden = nn.Dense(w.shape[1], w.shape[0], Tensor(w), has_bias=False)
        self.out = nn.Dense(w.shape[0], 1, Tensor(v[None, :]), has_bias=False)

    def construct(self, x):
        return self.out(ms.ops.tanh(self.hidden(x.reshape(x.shape[0], -1))))


def test_gradient_penalty_against_numpy():
    rng = np.random.default_rng(0)
    w, v = rng.standard_normal((5, 6)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    real, fake = rng.standard_normal((4, 1, 2, 3)).astype(np.float32), rng.standard_normal((4, 1, 2, 3)).astype(np.float32)
    mix = np.array([0.0, 0.25, 0.5, 1.0], np.float32)
    critic = TinyCritic(w, v)
    got = gradient_penalty(critic, Tensor(real), Tensor(fake), Tensor(mix)).asnumpy()

    points = (mix[:, None] * real.reshape(4, -1) + (1 - mix[:, None]) * fake.reshape(4, -1))
    grads = (v * (1 - np.tanh(points @ w.T) ** 2)) @ w  # d/dx of v·tanh(Wx), per sample
    want = ((np.linalg.norm(grads, axis=1) - 1) ** 2).mean()
    np.testing.assert_allclose(got, want, rtol=1e-4)  # float32 against float64
    np.testing.assert_allclose(interpolate(Tensor(real), Tensor(fake), Tensor(mix)).asnumpy()[0], fake[0])
    # D's loss differentiates the penalty once more, over its weights
    def penalty(r, f):
        return gradient_penalty(critic, r, f, Tensor(mix))

    weight_grads = ms.grad(penalty, None, critic.trainable_params())(Tensor(real), Tensor(fake))
    assert all(np.isfinite(g.asnumpy()).all() and np.abs(g.asnumpy()).max() > 0 for g in weight_grads)


def test_spectral_norm_divides_by_the_largest_singular_value():
    weight = np.random.default_rng(1).standard_normal((8, 3, 2, 2)).astype(np.float32)
    sn = SpectralNorm(ms.Parameter(Tensor(weight), name="w"))
    sn.set_train(True)
    for _ in range(30):  # one power iteration per training call
        normalised = sn(Tensor(weight)).asnumpy()
    sigma = np.linalg.svd(weight.reshape(8, -1), compute_uv=False)[0]
    np.testing.assert_allclose(normalised, weight / sigma, rtol=1e-4)
    assert abs(np.linalg.svd(normalised.reshape(8, -1), compute_uv=False)[0] - 1) < 1e-4


def test_spectral_normalize_keeps_the_initial_weights_and_names():
    ms.set_seed(0)
    plain = build_discriminator("mlp")
    ms.set_seed(0)
    normed = build_discriminator("mlp", spectral_norm=True)
    plain_weights = {p.name: p.asnumpy() for p in plain.trainable_params()}
    assert {p.name: p.asnumpy() for p in normed.trainable_params()}.keys() == plain_weights.keys()
    for p in normed.trainable_params():
        np.testing.assert_array_equal(p.asnumpy(), plain_weights[p.name])
    assert sum(p.name.endswith(".u") for p in normed.get_parameters()) == 3  # one per Dense layer
    assert spectral_normalize(nn.SequentialCell(nn.Dense(2, 2))) is not None


def test_moving_average_follows_its_update_rule():
    """avg ← avg + (1 - min(decay, (1 + n) / (10 + n)))·(w - avg) after every G update n = 0, 1, …, starting
    from G's initial weights."""
    ms.set_seed(2)
    g, d = build_generator("mlp-small", 100), build_discriminator("mlp-small")
    opt_g, opt_d = make_optimizers(g, d, TrainConfig())
    average = GeneratorAverage(build_generator("mlp-small", 100), g, decay=0.5)
    weights = lambda net: [p.asnumpy().copy() for p in net.trainable_params()]
    expected = weights(g)
    assert all(np.array_equal(a, b) for a, b in zip(weights(average.net), expected))
    step = make_train_step(g, d, opt_g, opt_d, StepOptions(), average)
    rng = np.random.default_rng(0)
    for n in range(4):
        step(Tensor(rng.uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32)),
             Tensor(rng.standard_normal((8, 100)).astype(np.float32)), Tensor(np.zeros(8, np.int32)),
             *lone_step_inputs(8))
        rate = 1 - min(0.5, (1 + n) / (10 + n))
        expected = [a + rate * (w - a) for a, w in zip(expected, weights(g))]
    for got, want in zip(weights(average.net), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert average.updates.asnumpy() == 4
    assert all(p.name.startswith("ema.generator.") for p in average.net.get_parameters())


def test_standing_statistics_are_the_mean_of_the_batch_statistics():
    """The first BatchNorm of the tutorial's G normalises Dense(ReLU(Dense(z))): its standing mean and variance
    are the means over the batches of that input's batch mean and variance."""
    ms.set_seed(3)
    g = build_generator("mlp", 100)
    net = GeneratorAverage(build_generator("mlp", 100), g, decay=0.9).net
    z = np.random.default_rng(4).standard_normal((96, 100)).astype(np.float32)
    standing_statistics(net, z, None, batch=32)
    (w0, b0), (w1, b1) = [(net.trainable_params()[i].asnumpy(), net.trainable_params()[i + 1].asnumpy()) for i in (0, 2)]
    inputs = np.maximum(z @ w0.T + b0, 0) @ w1.T + b1
    batches = inputs.reshape(3, 32, -1)
    bn = [c for _, c in net.cells_and_names() if isinstance(c, nn.BatchNorm1d)][0]
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), batches.mean(1).mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.asnumpy(), batches.var(1, ddof=1).mean(0), rtol=1e-3, atol=1e-5)
    assert not net.training
