"""Generator and Discriminator networks, and the registry that names them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mindspore import nn

IMAGE_SHAPE = (1, 28, 28)
IMAGE_PIXELS = 28 * 28


def dense_block(n_in: int, n_out: int, batch_norm: bool = True) -> list[nn.Cell]:
    """Dense, then BatchNorm when asked, then ReLU: one hidden layer of the tutorial's generator."""
    layers: list[nn.Cell] = [nn.Dense(n_in, n_out)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(n_out))
    layers.append(nn.ReLU())
    return layers


class Generator(nn.Cell):
    """The tutorial's MLP generator: latent -> 128 -> 256 -> 512 -> 1024 -> 784 image in [-1, 1]."""

    def __init__(self, latent_dim: int = 100):
        super().__init__()
        self.model = nn.SequentialCell(
            *dense_block(latent_dim, 128, batch_norm=False),
            *dense_block(128, 256),
            *dense_block(256, 512),
            *dense_block(512, 1024),
            nn.Dense(1024, IMAGE_PIXELS),
            nn.Tanh(),
        )

    def construct(self, z):
        return self.model(z).view(-1, *IMAGE_SHAPE)


class Discriminator(nn.Cell):
    """The tutorial's MLP discriminator: 784 -> 512 -> 256 -> probability that the image is real."""

    def __init__(self):
        super().__init__()
        self.model = nn.SequentialCell(
            nn.Dense(IMAGE_PIXELS, 512),
            nn.LeakyReLU(0.2),
            nn.Dense(512, 256),
            nn.LeakyReLU(0.2),
            nn.Dense(256, 1),
            nn.Sigmoid(),
        )

    def construct(self, x):
        return self.model(x.view(x.shape[0], -1))


@dataclass(frozen=True)
class ModelSpec:
    """How to build one GAN's two networks."""

    generator: Callable[[int], nn.Cell]
    discriminator: Callable[[], nn.Cell]


MODELS: dict[str, ModelSpec] = {
    "mlp": ModelSpec(generator=Generator, discriminator=Discriminator),
}


def build_generator(model: str, latent_dim: int) -> nn.Cell:
    """A fresh generator whose parameter names match msgan checkpoints ('generator.…')."""
    net = MODELS[model].generator(latent_dim)
    # Dotted prefix: two networks in one compiled step need distinct parameter names, and a
    # dotted name keeps checkpoints strictly loadable into a fresh network (see checkpoints.py).
    net.update_parameters_name("generator.")
    return net


def build_discriminator(model: str) -> nn.Cell:
    """A fresh discriminator whose parameter names start with 'discriminator.'."""
    net = MODELS[model].discriminator()
    net.update_parameters_name("discriminator.")
    return net
