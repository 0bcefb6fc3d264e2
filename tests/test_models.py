import numpy as np
from mindspore import Tensor

from msgan.models import build_discriminator, build_generator


def test_generator_maps_latents_to_images_in_tanh_range():
    g = build_generator("mlp", 100)
    g.set_train(False)
    out = g(Tensor(np.random.default_rng(0).standard_normal((5, 100), dtype=np.float32))).asnumpy()
    assert out.shape == (5, 1, 28, 28)
    assert out.min() >= -1 and out.max() <= 1


def test_discriminator_gives_one_probability_per_image():
    d = build_discriminator("mlp")
    out = d(Tensor(np.zeros((3, 1, 28, 28), np.float32))).asnumpy()
    assert out.shape == (3, 1)
    assert ((out > 0) & (out < 1)).all()


def test_tutorial_layers_and_dotted_names():
    g, d = build_generator("mlp", 100), build_discriminator("mlp")
    dense_g = [tuple(p.shape) for p in g.trainable_params() if p.name.endswith(".weight")]
    assert dense_g == [(128, 100), (256, 128), (512, 256), (1024, 512), (784, 1024)]
    dense_d = [tuple(p.shape) for p in d.trainable_params() if p.name.endswith(".weight")]
    assert dense_d == [(512, 784), (256, 512), (1, 256)]
    # BatchNorm after 256, 512 and 1024 only, with its running statistics
    assert sum(p.name.endswith("moving_mean") for p in g.get_parameters()) == 3
    assert all(p.name.startswith("generator.") for p in g.get_parameters())
    assert all(p.name.startswith("discriminator.") for p in d.get_parameters())
