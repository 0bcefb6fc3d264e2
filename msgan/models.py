"""Generator and Discriminator networks, and the registry that names them.

Every image generator maps a latent (and, when conditional, a class label) to images (N, C, H, W) in
[-1, 1] through a Tanh, in the shape (C, H, W) of the data it trains on (the MNIST digits' (1, 28, 28)
unless asked otherwise; each ModelSpec says which shapes its networks take). Every discriminator maps an
image (and label) to a raw score, which the loss reads (msgan.losses: the tutorial's BCE passes it through
the sigmoid that ended its discriminator). The toy 1010 GAN draws four numbers in [0, 1] instead of an image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

from mindspore import nn, ops
from mindspore.common.initializer import Normal, XavierUniform

from msgan.data import DIGIT_CLASSES, MNIST_SHAPE
from msgan.errors import MsganError
from msgan.layers import BatchNorm1d, Conv2d, Conv2dTranspose, Dropout, key_dropout_streams, spectral_normalize
from msgan.mixed_precision import mixed_precision

Shape = tuple[int, int, int]  # (channels, height, width) of one image
PATTERN_SIZE = 4  # the toy GAN's samples: four numbers


def dense_block(n_in: int, n_out: int, batch_norm: bool = True, bn_after_act: bool = False,
                act: Optional[nn.Cell] = None) -> list[nn.Cell]:
    """Dense, activation (ReLU by default) and optional BatchNorm, before the activation or after it."""
    act = act if act is not None else nn.ReLU()
    if not batch_norm:
        return [nn.Dense(n_in, n_out), act]
    if bn_after_act:
        return [nn.Dense(n_in, n_out), act, BatchNorm1d(n_out)]
    return [nn.Dense(n_in, n_out), BatchNorm1d(n_out), act]


class ImageGenerator(nn.Cell):
    """A layer stack from the latent to every pixel of an image, shaped as (N, C, H, W)."""

    def __init__(self, layers: list[nn.Cell], shape: Shape):
        super().__init__()
        self.model = nn.SequentialCell(*layers)
        self.image_shape = shape  # an attribute: --amp O1 recompiles construct without this module's names

    def construct(self, z):
        return self.model(z).view(-1, *self.image_shape)


class ImageDiscriminator(nn.Cell):
    """A layer stack from the flattened image to one score."""

    def __init__(self, layers: list[nn.Cell]):
        super().__init__()
        self.model = nn.SequentialCell(*layers)

    def construct(self, x):
        return self.model(x.view(x.shape[0], -1))


def label_embedding(classes: int, size: int) -> nn.Embedding:
    """A learned vector per class, initialised N(0, 1) as in PyTorch (MindSpore's default sigma is 0.01)."""
    return nn.Embedding(classes, size, embedding_table=Normal(1.0))


class ConditionalGenerator(nn.Cell):
    """An ImageGenerator whose input is the latent joined to a learned embedding of the class label, of as many
    numbers as there are classes (10 for digits)."""

    def __init__(self, layers: list[nn.Cell], shape: Shape, classes: int):
        super().__init__()
        self.embed = label_embedding(classes, classes)
        self.model = nn.SequentialCell(*layers)
        self.image_shape = shape  # see ImageGenerator

    def construct(self, z, labels):
        return self.model(ops.concat((z, self.embed(labels)), axis=1)).view(-1, *self.image_shape)


class ConditionalDiscriminator(nn.Cell):
    """An ImageDiscriminator whose input is the flattened image joined to an image-sized label embedding.

    The label gets as many inputs as the pixels: joined as 10 numbers beside 784, the discriminator
    ignored it, and the generator used the label to pick one picture per class, whatever the digit.
    """

    def __init__(self, layers: list[nn.Cell], shape: Shape, classes: int):
        super().__init__()
        self.embed = label_embedding(classes, math.prod(shape))
        self.model = nn.SequentialCell(*layers)

    def construct(self, x, labels):
        return self.model(ops.concat((x.view(x.shape[0], -1), self.embed(labels)), axis=1))


class ProjectionDiscriminator(nn.Cell):
    """A projection discriminator (Miyato & Koyama 2018): the tutorial's features h of the image, scored by
    w·h + b + embed(label)·h, so that the label asks "is this a real image of this digit?" of the features.
    A subclass may take other features by overriding feature_layers and image_features."""

    def __init__(self, shape: Shape, classes: int):
        super().__init__()
        layers, width = self.feature_layers(shape)
        self.features = nn.SequentialCell(*layers)
        self.score = nn.Dense(width, 1)
        self.embed = nn.Embedding(classes, width, embedding_table=XavierUniform())

    @staticmethod
    def feature_layers(shape: Shape) -> tuple[list[nn.Cell], int]:
        """The tutorial's features of the flattened image, and their 256 numbers."""
        return tutorial_features(math.prod(shape)), 256

    def image_features(self, x):
        return self.features(x.view(x.shape[0], -1))

    def construct(self, x, labels):
        return self.features_and_score(x, labels)[1]

    def features_and_score(self, x, labels):
        h = self.image_features(x)
        return h, self.score(h) + (self.embed(labels) * h).sum(axis=1, keepdims=True)


class ClassifyingProjectionDiscriminator(ProjectionDiscriminator):
    """A projection discriminator that also names the digit from its features, as an AC-GAN's does: its projected
    score and the ten digits' logits side by side, (N, 1 + 10). The class term pushes G towards digits that read
    clearly as the one asked for; the projection keeps the label in D's judgement of realism."""

    def __init__(self, shape: Shape, classes: int):
        super().__init__(shape, classes)
        self.classify = nn.Dense(self.score.in_channels, classes)

    def construct(self, x, labels):
        h, score = self.features_and_score(x, labels)
        return ops.concat((score, self.classify(h)), axis=1)


class ClassifyingDiscriminator(nn.Cell):
    """An auxiliary-classifier discriminator (AC-GAN, Odena et al. 2017): the tutorial's features of the image
    alone, with two heads, the score and the ten digits' logits, returned side by side as (N, 1 + 10).
    The label is not an input: the step trains the class head on the real and the asked-for digits."""

    def __init__(self, shape: Shape, classes: int):
        super().__init__()
        self.features = nn.SequentialCell(*tutorial_features(math.prod(shape)))
        self.heads = nn.Dense(256, 1 + classes)

    def construct(self, x, labels):
        return self.heads(self.features(x.view(x.shape[0], -1)))


def tutorial_generator_layers(n_in: int, pixels: int) -> list[nn.Cell]:
    """The MindSpore tutorial's generator: n_in -> 128 -> 256 -> 512 -> 1024 (BN from 256 on) -> pixels (784), Tanh."""
    return [*dense_block(n_in, 128, batch_norm=False), *dense_block(128, 256), *dense_block(256, 512),
            *dense_block(512, 1024), nn.Dense(1024, pixels), nn.Tanh()]


def tutorial_features(n_in: int) -> list[nn.Cell]:
    """The MindSpore tutorial's discriminator up to its last layer: n_in -> 512 -> 256, LeakyReLU 0.2."""
    return [nn.Dense(n_in, 512), nn.LeakyReLU(0.2), nn.Dense(512, 256), nn.LeakyReLU(0.2)]


def tutorial_discriminator_layers(n_in: int) -> list[nn.Cell]:
    """The MindSpore tutorial's discriminator: n_in -> 512 -> 256 (LeakyReLU 0.2) -> 1 (its Sigmoid is the loss's)."""
    return [*tutorial_features(n_in), nn.Dense(256, 1)]


class Generator(ImageGenerator):
    """The tutorial's MLP generator."""

    def __init__(self, latent_dim: int = 100, shape: Shape = MNIST_SHAPE):
        super().__init__(tutorial_generator_layers(latent_dim, math.prod(shape)), shape)


class Discriminator(ImageDiscriminator):
    """The tutorial's MLP discriminator."""

    def __init__(self, shape: Shape = MNIST_SHAPE):
        super().__init__(tutorial_discriminator_layers(math.prod(shape)))


def small_generator(latent_dim: int, shape: Shape) -> nn.Cell:
    """The classic PyTorch MNIST GAN: latent -> 256 -> 256 -> 784 (ReLU, Tanh)."""
    return ImageGenerator([*dense_block(latent_dim, 256, batch_norm=False), *dense_block(256, 256, batch_norm=False),
                           nn.Dense(256, math.prod(shape)), nn.Tanh()], shape)


def small_discriminator(shape: Shape) -> nn.Cell:
    """The classic PyTorch MNIST GAN: 784 -> 256 -> 256 (LeakyReLU 0.2) -> 1 (Sigmoid in the loss)."""
    return ImageDiscriminator([nn.Dense(math.prod(shape), 256), nn.LeakyReLU(0.2), nn.Dense(256, 256),
                               nn.LeakyReLU(0.2), nn.Dense(256, 1)])


def keras_generator(latent_dim: int, shape: Shape) -> nn.Cell:
    """The Keras MLP GAN: latent -> 256 -> 512 -> 1024 (Dense, ReLU, then BatchNorm), Dropout 0.5, 784, Tanh."""
    return ImageGenerator([*dense_block(latent_dim, 256, bn_after_act=True), *dense_block(256, 512, bn_after_act=True),
                           *dense_block(512, 1024, bn_after_act=True), Dropout(p=0.5),
                           nn.Dense(1024, math.prod(shape)), nn.Tanh()], shape)


def keras_discriminator(shape: Shape) -> nn.Cell:
    """The Keras MLP GAN: Dropout 0.5, 784 -> 512 -> 256 (ReLU) -> 1 (Sigmoid in the loss)."""
    return ImageDiscriminator([Dropout(p=0.5), nn.Dense(math.prod(shape), 512), nn.ReLU(), nn.Dense(512, 256),
                               nn.ReLU(), nn.Dense(256, 1)])


def conditional_generator(latent_dim: int, shape: Shape, classes: int) -> nn.Cell:
    """The tutorial's generator fed the latent joined to a label embedding (10-d for the digits)."""
    return ConditionalGenerator(tutorial_generator_layers(latent_dim + classes, math.prod(shape)), shape, classes)


def conditional_discriminator(shape: Shape, classes: int) -> nn.Cell:
    """The tutorial's discriminator fed the image joined to an image-sized label embedding."""
    return ConditionalDiscriminator(tutorial_discriminator_layers(2 * math.prod(shape)), shape, classes)


DCGAN_SIDES = "square sides of 16 to 32 pixels in steps of 4, or 40 to 64 in steps of 8"


def dcgan_upsamplings(side: int) -> int:
    """The stride-2 layers between DCGAN's smallest feature map and the image: two (7x7 to 28, 8x8 to 32), or
    three from 64 on (8x8 to 64), so that the first map stays at most 8x8, whose 5x5 convolutions are cheap."""
    return 2 if side <= 32 else 3


def channels_problem(channels: int) -> Optional[str]:
    """Why the convolutional models cannot draw images of `channels` channels, or None when they can."""
    if channels not in (1, 3):
        return f"it draws greyscale or colour images (1 or 3 channels), not {channels}"
    return None


def dcgan_shape_problem(shape: Shape) -> Optional[str]:
    """Why DCGAN cannot draw images of `shape`, or None when it can."""
    channels, height, width = shape
    if problem := channels_problem(channels):
        return problem
    side = height
    if height != width or side % (2 ** dcgan_upsamplings(side)) or not 16 <= side <= 64:
        return f"it draws {DCGAN_SIDES}, not {height}x{width}"
    return None


class DCGANGenerator(nn.Cell):
    """The Keras DCGAN generator: Dense to 7x7x256 (for 28 pixels), then transposed convolutions
    256->128->64->C, each stride-2 one doubling the side, Tanh. Larger images start from a larger map
    (8x8 for 32 and 64 pixels), and 64 pixels take one more stride-2 layer (64->32)."""

    def __init__(self, latent_dim: int, shape: Shape = MNIST_SHAPE):
        super().__init__()
        channels, side, _ = shape
        ups = dcgan_upsamplings(side)
        self.start = side // 2 ** ups  # an attribute, read when construct is compiled
        self.project = nn.SequentialCell(nn.Dense(latent_dim, self.start ** 2 * 256), nn.ReLU(),
                                         BatchNorm1d(self.start ** 2 * 256))
        widths = [128 // 2 ** i for i in range(ups)]  # 128, 64 (, 32)
        layers = [Conv2dTranspose(256, widths[0], 5, stride=1, in_size=self.start), nn.ReLU(), nn.BatchNorm2d(widths[0])]
        for i, width in enumerate(widths[1:]):
            layers += [Conv2dTranspose(widths[i], width, 5, stride=2, in_size=self.start * 2 ** i), nn.ReLU(),
                       nn.BatchNorm2d(width)]
        layers += [Conv2dTranspose(widths[-1], channels, 5, stride=2, in_size=side // 2), nn.Tanh()]
        self.model = nn.SequentialCell(*layers)

    def construct(self, z):
        return self.model(self.project(z).view(-1, 256, self.start, self.start))


def dcgan_features(shape: Shape) -> tuple[list[nn.Cell], int]:
    """The Keras DCGAN discriminator up to its Dense: convolutions C->64->128 (stride 2, ReLU, Dropout 0.3),
    one more (128->256) at 64 pixels, so that the last map is 8x8 as at 32 pixels, flattened; and how many
    numbers that gives."""
    channels, side, _ = shape
    layers: list[nn.Cell] = []
    for i in range(dcgan_upsamplings(side)):
        width = 64 * 2 ** i
        layers += [Conv2d(channels, width, 5, stride=2, in_size=side), nn.ReLU(), Dropout(p=0.3)]
        channels, side = width, -(-side // 2)
    return [*layers, nn.Flatten()], side * side * channels


class DCGANDiscriminator(nn.Cell):
    """The Keras DCGAN discriminator: dcgan_features, then Dense to one score (Sigmoid in the loss)."""

    def __init__(self, shape: Shape = MNIST_SHAPE):
        super().__init__()
        layers, width = dcgan_features(shape)
        self.model = nn.SequentialCell(*layers, nn.Dense(width, 1))

    def construct(self, x):
        return self.model(x)


def conditional_dcgan_generator(latent_dim: int, shape: Shape, classes: int) -> nn.Cell:
    """DCGAN's generator fed the latent joined to a label embedding of `classes` numbers, as cgan's is."""
    return ConditionalGenerator([DCGANGenerator(latent_dim + classes, shape)], shape, classes)


class DCGANProjectionDiscriminator(ClassifyingProjectionDiscriminator):
    """cgan's discriminator on DCGAN's convolutional features instead of the tutorial's: the projected score and
    the classes' logits side by side, (N, 1 + classes). The features read the image as it is, not flattened."""

    feature_layers = staticmethod(dcgan_features)

    def image_features(self, x):
        return self.features(x)


# The MindSpore DCGAN tutorial (https://www.mindspore.cn/tutorials/en/master/generative/dcgan.html): its feature
# maps' base width (ngf = ndf), and the side of the images its layers draw.
TUTORIAL_DCGAN_WIDTH = 64
TUTORIAL_DCGAN_SIDE = 64


def tutorial_dcgan_conv(conv: type, c_in: int, c_out: int, stride: int, padding: int, in_size: int) -> nn.Cell:
    """One of the tutorial's 4x4 convolutions (Conv2d or Conv2dTranspose), without bias, weights N(0, 0.02)."""
    return conv(c_in, c_out, 4, stride, in_size, padding=padding, has_bias=False, weight_init=Normal(0.02))


def tutorial_dcgan_norm(width: int) -> nn.Cell:
    """The tutorial's BatchNorm, its scales drawn N(1, 0.02)."""
    return nn.BatchNorm2d(width, gamma_init=Normal(0.02, 1.0))


def tutorial_dcgan_shape_problem(shape: Shape) -> Optional[str]:
    """Why the tutorial's DCGAN cannot draw images of `shape`: its layers fix the side at 64."""
    channels, height, width = shape
    if problem := channels_problem(channels):
        return problem
    if (height, width) != (TUTORIAL_DCGAN_SIDE, TUTORIAL_DCGAN_SIDE):
        return f"it draws 64x64 images (the DCGAN tutorial's), not {height}x{width}"
    return None


class TutorialDCGANGenerator(nn.Cell):
    """The MindSpore DCGAN tutorial's generator: the latent as a 1x1 map, transposed convolutions
    nz -> 512 (4x4, stride 1) -> 256 -> 128 -> 64 (each stride 2, doubling the side), each then BatchNorm and
    ReLU, and 64 -> C (to 64x64), Tanh."""

    def __init__(self, latent_dim: int, shape: Shape):
        super().__init__()
        ngf = TUTORIAL_DCGAN_WIDTH
        layers = [tutorial_dcgan_conv(Conv2dTranspose, latent_dim, ngf * 8, 1, 0, in_size=1),
                  tutorial_dcgan_norm(ngf * 8), nn.ReLU()]
        side = 4
        for width in (ngf * 4, ngf * 2, ngf):
            layers += [tutorial_dcgan_conv(Conv2dTranspose, 2 * width, width, 2, 1, in_size=side),
                       tutorial_dcgan_norm(width), nn.ReLU()]
            side *= 2
        layers += [tutorial_dcgan_conv(Conv2dTranspose, ngf, shape[0], 2, 1, in_size=side), nn.Tanh()]
        self.model = nn.SequentialCell(*layers)

    def construct(self, z):
        return self.model(z.view(z.shape[0], -1, 1, 1))


def tutorial_dcgan_discriminator(shape: Shape) -> nn.Cell:
    """The MindSpore DCGAN tutorial's discriminator: convolutions C -> 64 -> 128 -> 256 -> 512 (4x4, stride 2,
    halving the side to 4), LeakyReLU 0.2, BatchNorm from 128 on, then 512 -> 1 over the 4x4 map: one raw score
    per image, (N, 1) (the tutorial's Sigmoid is the loss's)."""
    ndf = TUTORIAL_DCGAN_WIDTH
    layers = [tutorial_dcgan_conv(Conv2d, shape[0], ndf, 2, 1, in_size=shape[1]), nn.LeakyReLU(0.2)]
    side = shape[1] // 2
    for width in (ndf * 2, ndf * 4, ndf * 8):
        layers += [tutorial_dcgan_conv(Conv2d, width // 2, width, 2, 1, in_size=side), tutorial_dcgan_norm(width),
                   nn.LeakyReLU(0.2)]
        side //= 2
    return nn.SequentialCell(*layers, tutorial_dcgan_conv(Conv2d, ndf * 8, 1, 1, 0, in_size=side), nn.Flatten())


def toy_generator(latent_dim: int, shape: tuple[int, ...]) -> nn.Cell:
    """The 1010 lesson's generator: latent (one number) -> 3 -> 4, Sigmoid after each layer."""
    return nn.SequentialCell(nn.Dense(latent_dim, 3), nn.Sigmoid(), nn.Dense(3, shape[0]), nn.Sigmoid())


def toy_discriminator(shape: tuple[int, ...]) -> nn.Cell:
    """The 1010 lesson's discriminator: 4 -> 3 -> 1, Sigmoid after each layer (the last one in the loss)."""
    return nn.SequentialCell(nn.Dense(shape[0], 3), nn.Sigmoid(), nn.Dense(3, 1))


def any_shape(shape: tuple[int, ...]) -> Optional[str]:
    """The MLPs flatten the image, so they take any shape (their Dense layers grow with the pixels), as the
    toy GAN takes any length of pattern."""
    return None


@dataclass(frozen=True)
class ModelSpec:
    """How to build one GAN's two networks, whether they take the class label, and what they draw.

    `kind` is "digits" (trained on images, by default MNIST's, samples shaped like them) or "pattern" (the toy
    GAN: trained on four-number samples it makes itself, see data.real_patterns). The builders take the
    sample shape, and a conditional model's also the number of classes; `shape_problem` says why a shape does
    not suit the networks, or None; `sample_shape` is the shape built when no data give one, so it must suit.
    """

    generator: Callable[..., nn.Cell]      # (latent_dim, shape), and classes when conditional
    discriminator: Callable[..., nn.Cell]  # (shape), and classes when conditional
    conditional: bool = False
    kind: str = "digits"
    class_head: bool = False  # D returns its score and the digits' logits side by side (AC-GAN)
    # built on msgan.layers' convolutions: on CPU their gradient is a hand-written bprop, which cannot be
    # differentiated again (wgan-gp's gradient penalty), and their gathered patches take memory per sample
    convolutional: bool = False
    shape_problem: Callable[[Shape], Optional[str]] = any_shape
    # the side it trains at when the data do not fix one (a folder of mixed sizes), or when it cannot draw theirs
    image_side: int = 32
    sample_shape: tuple[int, ...] = MNIST_SHAPE  # one sample's shape when no data say: an MNIST digit by default


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
    "dcgan": ModelSpec(DCGANGenerator, DCGANDiscriminator, convolutional=True, shape_problem=dcgan_shape_problem),
    # cgan's conditioning on dcgan's networks, for labelled images (class subfolders, CIFAR-10, Fashion-MNIST)
    "cdcgan": ModelSpec(conditional_dcgan_generator, DCGANProjectionDiscriminator, conditional=True, class_head=True,
                        convolutional=True, shape_problem=dcgan_shape_problem),
    "dcgan64": ModelSpec(TutorialDCGANGenerator, tutorial_dcgan_discriminator, convolutional=True,
                         shape_problem=tutorial_dcgan_shape_problem, image_side=TUTORIAL_DCGAN_SIDE,
                         sample_shape=(3, TUTORIAL_DCGAN_SIDE, TUTORIAL_DCGAN_SIDE)),
    "toy1010": ModelSpec(toy_generator, toy_discriminator, kind="pattern", sample_shape=(PATTERN_SIZE,)),
}


def check_shape(model: str, shape: tuple[int, ...]) -> None:
    """Refuse, in one line, a sample shape that `model`'s networks cannot take."""
    problem = MODELS[model].shape_problem(shape)
    if problem is not None:
        channels, height, width = shape
        raise MsganError(f"'{model}' cannot train on {height}x{width} images with {channels} channel(s): {problem}; "
                         "pass --image-size with a size it draws, or pick another --model")


def class_args(model: str, classes: int) -> tuple[int, ...]:
    """The class count as a conditional model's builders take it; the others take none."""
    if not MODELS[model].conditional:
        return ()
    if classes < 2:
        raise MsganError(f"'{model}' draws the class it is asked for, and these data hold {classes} class(es): "
                         "give it labelled data (class subfolders, or an .npz with 'labels'), or pick a model "
                         "without labels, such as dcgan")
    return (classes,)


def build_generator(model: str, latent_dim: int, amp: str = "O0", shape: Optional[tuple[int, ...]] = None,
                    classes: int = DIGIT_CLASSES) -> nn.Cell:
    """A fresh generator of samples shaped `shape` (by default the model's sample_shape), of `classes` classes
    when conditional, whose parameter names match msgan checkpoints ('generator.…'), at mixed-precision level
    `amp` (see msgan.mixed_precision)."""
    shape = shape or MODELS[model].sample_shape
    check_shape(model, shape)
    extra = class_args(model, classes)
    # Dotted prefix: two networks in one compiled step need distinct parameter names, and a
    # dotted name keeps checkpoints strictly loadable into a fresh network (see checkpoints.py).
    net = mixed_precision(lambda: MODELS[model].generator(latent_dim, shape, *extra), amp, "generator.")
    key_dropout_streams(net)
    return net


def build_discriminator(model: str, amp: str = "O0", spectral_norm: bool = False,
                        shape: Optional[tuple[int, ...]] = None, classes: int = DIGIT_CLASSES) -> nn.Cell:
    """A fresh discriminator of samples shaped `shape` (by default the model's sample_shape), of `classes`
    classes when conditional, whose parameter names start with 'discriminator.', its layers spectrally
    normalised when asked (see layers.spectral_normalize)."""
    shape = shape or MODELS[model].sample_shape
    check_shape(model, shape)
    extra = class_args(model, classes)

    def build() -> nn.Cell:
        net = MODELS[model].discriminator(shape, *extra)
        return spectral_normalize(net) if spectral_norm else net

    net = mixed_precision(build, amp, "discriminator.")
    key_dropout_streams(net)
    return net
