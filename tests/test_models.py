"""Every registered model: shapes, a strict checkpoint round trip, and one compiled train step."""
import dataclasses

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor

from msgan.checkpoints import GENERATOR, checkpoint_info, load_generator, save_network
from msgan.config import resolve
from msgan.errors import MsganError
from msgan.models import MODELS, build_discriminator, build_generator
from msgan.sampling import generate, latents
from msgan.step import StepOptions, build_networks, make_optimizers, make_train_step
from conftest import lone_step_inputs

LABELS = np.arange(6, dtype=np.int32) % 10


def inputs(model: str, n: int = 6):
    cfg = resolve({"model": model})
    z = latents(n, cfg.latent_dim, 0, distribution=cfg.latent)
    extra = [Tensor(LABELS[:n])] if MODELS[model].conditional else []
    return Tensor(z), extra


@pytest.mark.parametrize("model", list(MODELS))
def test_shapes_and_ranges(model):
    g, d = build_generator(model, resolve({"model": model}).latent_dim), build_discriminator(model)
    g.set_train(False)
    d.set_train(False)
    z, extra = inputs(model)
    samples = g(z, *extra)
    assert samples.shape == (6, *MODELS[model].sample_shape)
    low = 0 if MODELS[model].kind == "pattern" else -1  # Sigmoid on the toy's [0, 1] numbers, else Tanh
    assert low <= samples.asnumpy().min() and samples.asnumpy().max() <= 1
    scores = d(samples, *extra).asnumpy()  # raw scores: the loss reads them (as probabilities, for bce)
    assert scores.shape == (6, 1 + 10 * MODELS[model].class_head) and np.isfinite(scores).all()
    assert all(p.name.startswith("generator.") for p in g.get_parameters())
    assert all(p.name.startswith("discriminator.") for p in d.get_parameters())


def test_tutorial_layers():
    g, d = build_generator("mlp", 100), build_discriminator("mlp")
    dense_g = [tuple(p.shape) for p in g.trainable_params() if p.name.endswith(".weight")]
    assert dense_g == [(128, 100), (256, 128), (512, 256), (1024, 512), (784, 1024)]
    dense_d = [tuple(p.shape) for p in d.trainable_params() if p.name.endswith(".weight")]
    assert dense_d == [(512, 784), (256, 512), (1, 256)]
    assert sum(p.name.endswith("moving_mean") for p in g.get_parameters()) == 3  # BN after 256, 512, 1024


def test_lesson_layer_sizes():
    def dense(net):
        return [tuple(p.shape) for p in net.trainable_params() if p.name.endswith(".weight") and p.ndim == 2]
    assert dense(build_generator("mlp-small", 100)) == [(256, 100), (256, 256), (784, 256)]
    assert dense(build_discriminator("mlp-small")) == [(256, 784), (256, 256), (1, 256)]
    assert dense(build_generator("mlp-keras", 100)) == [(256, 100), (512, 256), (1024, 512), (784, 1024)]
    assert dense(build_discriminator("mlp-keras")) == [(512, 784), (256, 512), (1, 256)]
    # cgan-concat: label embeddings joined to the latent (10-d) and to the image (784-d)
    g, d = build_generator("cgan-concat", 100), build_discriminator("cgan-concat")
    assert dense(g)[0] == (128, 110) and dense(d)[0] == (512, 1568)
    embeddings = [tuple(p.shape) for p in (*g.trainable_params(), *d.trainable_params()) if "embed" in p.name]
    assert embeddings == [(10, 10), (10, 784)]
    assert dense(build_generator("toy1010", 1)) == [(3, 1), (4, 3)]
    assert dense(build_discriminator("toy1010")) == [(3, 4), (1, 3)]


@pytest.mark.parametrize("model", list(MODELS))
def test_one_compiled_step_and_strict_round_trip(model, tmp_path):
    ms.set_seed(0)
    cfg = resolve({"model": model})
    spec = MODELS[model]
    g, d = build_generator(model, cfg.latent_dim), build_discriminator(model)
    step = make_train_step(g, d, *make_optimizers(g, d, cfg), StepOptions.of(cfg))
    before = {p.name: p.asnumpy().copy() for p in (*g.trainable_params(), *d.trainable_params())}
    rng = np.random.default_rng(0)
    out = step(Tensor(rng.uniform(-1, 1, (16, *spec.sample_shape)).astype(np.float32)),
               Tensor(latents(16, cfg.latent_dim, 1, distribution=cfg.latent)),
               Tensor(rng.integers(0, 10, 16).astype(np.int32)), *lone_step_inputs(16)).asnumpy()
    assert np.isfinite(out).all()
    after = {p.name: p.asnumpy() for p in (*g.trainable_params(), *d.trainable_params())}
    assert all(not np.array_equal(before[k], after[k]) for k in before)

    save_network(g, tmp_path / "Generator0.ckpt", checkpoint_info(0, 1, GENERATOR, model, cfg.recipe_hash()))
    fresh = build_generator(model, cfg.latent_dim)
    load_generator(fresh, tmp_path / "Generator0.ckpt", model)
    z = latents(8, cfg.latent_dim, 2, distribution=cfg.latent)
    labels = np.arange(8, dtype=np.int32) % 10 if spec.conditional else None
    np.testing.assert_array_equal(generate(g, z, labels), generate(fresh, z, labels))


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 64, 64)], ids=lambda s: "x".join(map(str, s)))
def test_dcgan_other_sizes_take_a_compiled_step(shape):
    """DCGAN at 32 pixels in colour and 64 in grey: the networks take the shape, and one step trains them all."""
    ms.set_seed(0)
    cfg = resolve({"model": "dcgan"})
    g, d = build_generator("dcgan", cfg.latent_dim, shape=shape), build_discriminator("dcgan", shape=shape)
    step = make_train_step(g, d, *make_optimizers(g, d, cfg), StepOptions.of(cfg))
    before = {p.name: p.asnumpy().copy() for p in (*g.trainable_params(), *d.trainable_params())}
    rng = np.random.default_rng(0)
    out = step(Tensor(rng.uniform(-1, 1, (4, *shape)).astype(np.float32)),
               Tensor(latents(4, cfg.latent_dim, 1)), Tensor(np.zeros(4, np.int32)), *lone_step_inputs(4)).asnumpy()
    assert np.isfinite(out).all()
    assert all(not np.array_equal(before[p.name], p.asnumpy()) for p in (*g.trainable_params(), *d.trainable_params()))
    g.set_train(False)
    assert generate(g, latents(3, cfg.latent_dim, 2)).shape == (3, *shape)


@pytest.mark.parametrize("shape, problem", [((3, 30, 30), "not 30x30"), ((2, 32, 32), "1 or 3 channels"),
                                            ((3, 48, 32), "not 48x32"), ((1, 72, 72), "not 72x72")])
def test_dcgan_refuses_shapes_it_cannot_draw(shape, problem):
    with pytest.raises(MsganError, match=f"'dcgan' cannot train on .*{problem}.*--image-size"):
        build_discriminator("dcgan", shape=shape)


def test_mlps_take_any_shape():
    g = build_generator("mlp-small", 100, shape=(3, 32, 32))
    g.set_train(False)
    assert generate(g, latents(2, 100, 0)).shape == (2, 3, 32, 32)
    assert [tuple(p.shape) for p in build_discriminator("mlp", shape=(3, 32, 32)).trainable_params()][0] == (512, 3072)


def conv_weights(net):
    return [tuple(p.shape) for p in net.trainable_params() if p.ndim == 4]


def test_dcgan64_is_the_mindspore_tutorials_networks():
    """The DCGAN tutorial's layers, without biases, its weights N(0, 0.02) and BatchNorm scales N(1, 0.02);
    the parameter counts are those of its PyTorch original (3,576,704 and 2,765,568). (The tests over every
    model draw dcgan64's (3, 64, 64) images in [-1, 1] and train it a compiled step.)"""
    g, d = build_generator("dcgan64", 100), build_discriminator("dcgan64")
    assert conv_weights(g) == [(100, 512, 4, 4), (512, 256, 4, 4), (256, 128, 4, 4), (128, 64, 4, 4), (64, 3, 4, 4)]
    assert conv_weights(d) == [(64, 3, 4, 4), (128, 64, 4, 4), (256, 128, 4, 4), (512, 256, 4, 4), (1, 512, 4, 4)]
    params = [*g.trainable_params(), *d.trainable_params()]
    assert not [p.name for p in params if p.name.endswith("bias")]
    assert sum(p.size for p in g.trainable_params()) == 3_576_704
    assert sum(p.size for p in d.trainable_params()) == 2_765_568
    weights = np.concatenate([p.asnumpy().ravel() for p in params if p.ndim == 4])
    gammas = np.concatenate([p.asnumpy() for p in params if p.name.endswith("gamma")])
    assert abs(weights.std() - 0.02) < 0.001 and abs(weights.mean()) < 0.001
    assert gammas.size == 512 + 256 + 128 + 64 + 128 + 256 + 512
    assert abs(gammas.mean() - 1) < 0.005 and abs(gammas.std() - 0.02) < 0.005


def train_one_step(model: str, shape: tuple, classes: int, batch: int = 4):
    """The networks of `model` for data of `shape` in `classes` classes, after one compiled step of its recipe,
    checked to have changed every weight."""
    cfg = dataclasses.replace(resolve({"model": model}), shape=list(shape), classes=[str(c) for c in range(classes)])
    nets = build_networks(cfg)
    params = [*nets.generator.trainable_params(), *nets.discriminator.trainable_params()]
    before = {p.name: p.asnumpy().copy() for p in params}
    rng = np.random.default_rng(0)
    out = ms.jit(nets.train_step)(Tensor(rng.uniform(-1, 1, (batch, *shape)).astype(np.float32)),
                                  Tensor(latents(batch, cfg.latent_dim, 1, distribution=cfg.latent)),
                                  Tensor(np.arange(batch, dtype=np.int32) % classes), *lone_step_inputs(batch))
    assert np.isfinite(out.asnumpy()).all()
    assert [p.name for p in params if np.array_equal(before[p.name], p.asnumpy())] == []
    return cfg, nets


def test_dcgan64_refuses_other_sides_in_one_line():
    with pytest.raises(MsganError) as err:
        build_generator("dcgan64", 100, shape=(3, 32, 32))
    assert str(err.value) == ("'dcgan64' cannot train on 32x32 images with 3 channel(s): it draws 64x64 images "
                              "(the DCGAN tutorial's), not 32x32; pass --image-size with a size it draws, "
                              "or pick another --model")
    with pytest.raises(MsganError, match=r"\(1 or 3 channels\), not 2"):
        build_discriminator("dcgan64", shape=(2, 64, 64))


def test_cdcgan_draws_colour_classes_and_trains():
    """cdcgan on CIFAR-sized images of four classes: D scores and names the class, (N, 1 + 4)."""
    cfg, nets = train_one_step("cdcgan", (3, 32, 32), classes=4)
    for net in (nets.generator, nets.discriminator):
        net.set_train(False)
    labels = Tensor(np.array([0, 3], np.int32))
    samples = nets.generator(Tensor(latents(2, cfg.latent_dim, 2, distribution=cfg.latent)), labels)
    assert samples.shape == (2, 3, 32, 32)
    assert nets.discriminator(samples, labels).shape == (2, 5)


def test_cdcgan_needs_two_classes():
    with pytest.raises(MsganError, match="'cdcgan' draws the class it is asked for, and these data hold 1 class"):
        build_generator("cdcgan", 100, shape=(3, 32, 32), classes=1)
