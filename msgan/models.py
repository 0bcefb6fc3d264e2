"""Generator and Discriminator networks, and the registry that names them.

Every image generator maps a latent (and, when conditional, a digit label) to (N, 1, 28, 28) in
[-1, 1] through a Tanh; every discriminator maps an image (and label) to a raw score, which the loss
reads (msgan.losses: the tutorial's BCE passes it through the sigmoid that ended its discriminator).
The toy 1010 GAN draws four numbers in [0, 1] instead of an image.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from mindspore import nn, ops
from mindspore.common.initializer import Normal, XavierUniform

from msgan.layers import Conv2d, Conv2dTranspose, Dropout, key_dropout_streams, spectral_normalize
from msgan.mixed_precision import mixed_precision

IMAGE_SHAPE = (1, 28, 28)
IMAGE_PIXELS = 28 * 28
NUM_CLASSES = 10
PATTERN_SIZE = 4  # the toy GAN's samples: four numbers


def dense_block(n_in: int, n_out: int, batch_norm: bool = True, bn_after_act: bool = False,
                act: Optional[nn.Cell] = None) -> list[nn.Cell]:
    """Dense, activation (ReLU by default) and optional BatchNorm, before the activation or after it."""
    act = act if act is not None else nn.ReLU()
    if not batch_norm:
        return [nn.Dense(n_in, n_out), act]
    if bn_after_act:
        return [nn.Dense(n_in, n_out), act, nn.BatchNorm1d(n_out)]
    return [nn.Dense(n_in, n_out), nn.BatchNorm1d(n_out), act]


class ImageGenerator(nn.Cell):
    """A layer stack from the latent to 784 pixels, shaped as (N, 1, 28, 28)."""

    def __init__(self, layers: list[nn.Cell]):
        super().__init__()
        self.model = nn.SequentialCell(*layers)
        self.image_shape = IMAGE_SHAPE  # an attribute: --amp O1 recompiles construct without this module's names

    def construct(self, z):
        return self.model(z).view(-1, *self.image_shape)


class ImageDiscriminator(nn.Cell):
    """A layer stack from the flattened image to one score."""

    def __init__(self, layers: list[nn.Cell]):
        super().__init__()
        self.model = nn.SequentialCell(*layers)

    def construct(self, x):
        return self.model(x.view(x.shape[0], -1))


def label_embedding(size: int) -> nn.Embedding:
    """A learned vector per digit, initialised N(0, 1) as in PyTorch (MindSpore's default sigma is 0.01)."""
    return nn.Embedding(NUM_CLASSES, size, embedding_table=Normal(1.0))


class ConditionalGenerator(nn.Cell):
    """An ImageGenerator whose input is the latent joined to a learned 10-d embedding of the digit label."""

    def __init__(self, layers: list[nn.Cell]):
        super().__init__()
        self.embed = label_embedding(NUM_CLASSES)
        self.model = nn.SequentialCell(*layers)
        self.image_shape = IMAGE_SHAPE  # see ImageGenerator

    def construct(self, z, labels):
        return self.model(ops.concat((z, self.embed(labels)), axis=1)).view(-1, *self.image_shape)


class ConditionalDiscriminator(nn.Cell):
    """An ImageDiscriminator whose input is the flattened image joined to an image-sized label embedding.

    The label gets as many inputs as the pixels: joined as 10 numbers beside 784, the discriminator
    ignored it, and the generator used the label to pick one picture per class, whatever the digit.
    """

    def __init__(self, layers: list[nn.Cell]):
        super().__init__()
        self.embed = label_embedding(IMAGE_PIXELS)
        self.model = nn.SequentialCell(*layers)

    def construct(self, x, labels):
        return self.model(ops.concat((x.view(x.shape[0], -1), self.embed(labels)), axis=1))


class ProjectionDiscriminator(nn.Cell):
    """A projection discriminator (Miyato & Koyama 2018): the tutorial's features h of the image, scored by
    w·h + b + embed(label)·h, so that the label asks "is this a real image of this digit?" of the features."""

    def __init__(self):
        super().__init__()
        self.features = nn.SequentialCell(*tutorial_features(IMAGE_PIXELS))
        self.score = nn.Dense(256, 1)
        self.embed = nn.Embedding(NUM_CLASSES, 256, embedding_table=XavierUniform())

    def construct(self, x, labels):
        return self.features_and_score(x, labels)[1]

    def features_and_score(self, x, labels):
        h = self.features(x.view(x.shape[0], -1))
        return h, self.score(h) + (self.embed(labels) * h).sum(axis=1, keepdims=True)


class ClassifyingProjectionDiscriminator(ProjectionDiscriminator):
    """A projection discriminator that also names the digit from its features, as an AC-GAN's does: its projected
    score and the ten digits' logits side by side, (N, 1 + 10). The class term pushes G towards digits that read
    clearly as the one asked for; the projection keeps the label in D's judgement of realism."""

    def __init__(self):
        super().__init__()
        self.classify = nn.Dense(256, NUM_CLASSES)

    def construct(self, x, labels):
        h, score = self.features_and_score(x, labels)
        return ops.concat((score, self.classify(h)), axis=1)


class ClassifyingDiscriminator(nn.Cell):
    """An auxiliary-classifier discriminator (AC-GAN, Odena et al. 2017): the tutorial's features of the image
    alone, with two heads, the score and the ten digits' logits, returned side by side as (N, 1 + 10).
    The label is not an input: the step trains the class head on the real and the asked-for digits."""

    def __init__(self):
        super().__init__()
        self.features = nn.SequentialCell(*tutorial_features(IMAGE_PIXELS))
        self.heads = nn.Dense(256, 1 + NUM_CLASSES)

    def construct(self, x, labels):
        return self.heads(self.features(x.view(x.shape[0], -1)))


def tutorial_generator_layers(n_in: int) -> list[nn.Cell]:
    """The MindSpore tutorial's generator: n_in -> 128 -> 256 -> 512 -> 1024 (BN from 256 on) -> 784, Tanh."""
    return [*dense_block(n_in, 128, batch_norm=False), *dense_block(128, 256), *dense_block(256, 512),
            *dense_block(512, 1024), nn.Dense(1024, IMAGE_PIXELS), nn.Tanh()]


def tutorial_features(n_in: int) -> list[nn.Cell]:
    """The MindSpore tutorial's discriminator up to its last layer: n_in -> 512 -> 256, LeakyReLU 0.2."""
    return [nn.Dense(n_in, 512), nn.LeakyReLU(0.2), nn.Dense(512, 256), nn.LeakyReLU(0.2)]


def tutorial_discriminator_layers(n_in: int) -> list[nn.Cell]:
    """The MindSpore tutorial's discriminator: n_in -> 512 -> 256 (LeakyReLU 0.2) -> 1 (its Sigmoid is the loss's)."""
    return [*tutorial_features(n_in), nn.Dense(256, 1)]


class Generator(ImageGenerator):
    """The tutorial's MLP generator."""

    def __init__(self, latent_dim: int = 100):
        super().__init__(tutorial_generator_layers(latent_dim))


class Discriminator(ImageDiscriminator):
    """The tutorial's MLP discriminator."""

    def __init__(self):
        super().__init__(tutorial_discriminator_layers(IMAGE_PIXELS))


def small_generator(latent_dim: int) -> nn.Cell:
    """The classic PyTorch MNIST GAN: latent -> 256 -> 256 -> 784 (ReLU, Tanh)."""
    return ImageGenerator([*dense_block(latent_dim, 256, batch_norm=False), *dense_block(256, 256, batch_norm=False),
                           nn.Dense(256, IMAGE_PIXELS), nn.Tanh()])


def small_discriminator() -> nn.Cell:
    """The classic PyTorch MNIST GAN: 784 -> 256 -> 256 (LeakyReLU 0.2) -> 1 (Sigmoid in the loss)."""
    return ImageDiscriminator([nn.Dense(IMAGE_PIXELS, 256), nn.LeakyReLU(0.2), nn.Dense(256, 256),
                               nn.LeakyReLU(0.2), nn.Dense(256, 1)])


def keras_generator(latent_dim: int) -> nn.Cell:
    """The Keras MLP GAN: latent -> 256 -> 512 -> 1024 (Dense, ReLU, then BatchNorm), Dropout 0.5, 784, Tanh."""
    return ImageGenerator([*dense_block(latent_dim, 256, bn_after_act=True), *dense_block(256, 512, bn_after_act=True),
                           *dense_block(512, 1024, bn_after_act=True), Dropout(p=0.5),
                           nn.Dense(1024, IMAGE_PIXELS), nn.Tanh()])


def keras_discriminator() -> nn.Cell:
    """The Keras MLP GAN: Dropout 0.5, 784 -> 512 -> 256 (ReLU) -> 1 (Sigmoid in the loss)."""
    return ImageDiscriminator([Dropout(p=0.5), nn.Dense(IMAGE_PIXELS, 512), nn.ReLU(), nn.Dense(512, 256),
                               nn.ReLU(), nn.Dense(256, 1)])


def conditional_generator(latent_dim: int) -> nn.Cell:
    """The tutorial's generator fed the latent joined to a 10-d label embedding."""
    return ConditionalGenerator(tutorial_generator_layers(latent_dim + NUM_CLASSES))


def conditional_discriminator() -> nn.Cell:
    """The tutorial's discriminator fed the image joined to a 784-d label embedding."""
    return ConditionalDiscriminator(tutorial_discriminator_layers(2 * IMAGE_PIXELS))


class DCGANGenerator(nn.Cell):
    """The Keras DCGAN generator: Dense to 7x7x256, then transposed convolutions 256->128->64->1, Tanh."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.project = nn.SequentialCell(nn.Dense(latent_dim, 7 * 7 * 256), nn.ReLU(), nn.BatchNorm1d(7 * 7 * 256))
        self.model = nn.SequentialCell(
            Conv2dTranspose(256, 128, 5, stride=1, in_size=7), nn.ReLU(), nn.BatchNorm2d(128),
            Conv2dTranspose(128, 64, 5, stride=2, in_size=7), nn.ReLU(), nn.BatchNorm2d(64),
            Conv2dTranspose(64, 1, 5, stride=2, in_size=14), nn.Tanh(),
        )

    def construct(self, z):
        return self.model(self.project(z).view(-1, 256, 7, 7))


class DCGANDiscriminator(nn.Cell):
    """The Keras DCGAN discriminator: convolutions 1->64->128 (stride 2, ReLU, Dropout 0.3), Dense (Sigmoid in the loss)."""

    def __init__(self):
        super().__init__()
        self.model = nn.SequentialCell(
            Conv2d(1, 64, 5, stride=2, in_size=28), nn.ReLU(), Dropout(p=0.3),
            Conv2d(64, 128, 5, stride=2, in_size=14), nn.ReLU(), Dropout(p=0.3),
            nn.Flatten(), nn.Dense(7 * 7 * 128, 1),
        )

    def construct(self, x):
        return self.model(x)


def toy_generator(latent_dim: int) -> nn.Cell:
    """The 1010 lesson's generator: latent (one number) -> 3 -> 4, Sigmoid after each layer."""
    return nn.SequentialCell(nn.Dense(latent_dim, 3), nn.Sigmoid(), nn.Dense(3, PATTERN_SIZE), nn.Sigmoid())


def toy_discriminator() -> nn.Cell:
    """The 1010 lesson's discriminator: 4 -> 3 -> 1, Sigmoid after each layer (the last one in the loss)."""
    return nn.SequentialCell(nn.Dense(PATTERN_SIZE, 3), nn.Sigmoid(), nn.Dense(3, 1))


@dataclass(frozen=True)
class ModelSpec:
    """How to build one GAN's two networks, whether they take the digit label, and what they draw.

    `kind` is "digits" (trained on MNIST, samples shaped IMAGE_SHAPE) or "pattern" (the toy GAN:
    trained on four-number samples it makes itself, see data.real_patterns).
    """

    generator: Callable[[int], nn.Cell]
    discriminator: Callable[[], nn.Cell]
    conditional: bool = False
    kind: str = "digits"
    class_head: bool = False  # D returns its score and the digits' logits side by side (AC-GAN)
    # built on msgan.layers' convolutions: on CPU their gradient is a hand-written bprop, which cannot be
    # differentiated again (wgan-gp's gradient penalty), and their gathered patches take memory per sample
    convolutional: bool = False

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (PATTERN_SIZE,) if self.kind == "pattern" else IMAGE_SHAPE


MODELS: dict[str, ModelSpec] = {
    "mlp": ModelSpec(Generator, Discriminator),
    "mlp-small": ModelSpec(small_generator, small_discriminator),
    "mlp-keras": ModelSpec(keras_generator, keras_discriminator),
    # cgan is the conditional GAN that drew the digits asked for most faithfully (README, Quality); the others
    # share its generator, so their checkpoints are interchangeable for sampling
    "cgan": ModelSpec(conditional_generator, ClassifyingProjectionDiscriminator, conditional=True, class_head=True),
    "cgan-concat": ModelSpec(conditional_generator, conditional_discriminator, conditional=True),
    "cgan-projection": ModelSpec(conditional_generator, ProjectionDiscriminator, conditional=True),
    "cgan-acgan": ModelSpec(conditional_generator, ClassifyingDiscriminator, conditional=True, class_head=True),
    "dcgan": ModelSpec(DCGANGenerator, DCGANDiscriminator, convolutional=True),
    "toy1010": ModelSpec(toy_generator, toy_discriminator, kind="pattern"),
}


def build_generator(model: str, latent_dim: int, amp: str = "O0") -> nn.Cell:
    """A fresh generator whose parameter names match msgan checkpoints ('generator.…'), at mixed-precision
    level `amp` (see msgan.mixed_precision)."""
    # Dotted prefix: two networks in one compiled step need distinct parameter names, and a
    # dotted name keeps checkpoints strictly loadable into a fresh network (see checkpoints.py).
    net = mixed_precision(lambda: MODELS[model].generator(latent_dim), amp, "generator.")
    key_dropout_streams(net)
    return net


def build_discriminator(model: str, amp: str = "O0", spectral_norm: bool = False) -> nn.Cell:
    """A fresh discriminator whose parameter names start with 'discriminator.', its layers spectrally
    normalised when asked (see layers.spectral_normalize)."""
    def build() -> nn.Cell:
        net = MODELS[model].discriminator()
        return spectral_normalize(net) if spectral_norm else net

    net = mixed_precision(build, amp, "discriminator.")
    key_dropout_streams(net)
    return net
