"""GAN losses, one registry: what D minimises on its scores of real and fake samples, and what G minimises on
D's scores of its fakes.

Every discriminator outputs a raw score per sample (a logit). A loss that reads it as a probability
passes it through a sigmoid (`probability`), as the tutorial's final Sigmoid and nn.BCELoss do together;
the others read the score itself. Adding a loss is one entry in LOSSES.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mindspore as ms
from mindspore import Tensor, ops

Terms = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def bce(scores: Tensor, target: float) -> Tensor:
    """Binary cross-entropy of sigmoid(scores) against a constant target, computed from the logits."""
    return ops.binary_cross_entropy_with_logits(scores, ops.full_like(scores, target))


def bce_discriminator(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """-log D(x) and -log(1 - D(G(z))): D calls real samples real and fakes fake."""
    return bce(real, 1.0), bce(fake, 0.0)


def non_saturating_generator(fake: Tensor) -> Tensor:
    """-log D(G(z)): G maximises D's belief in its fakes; strong gradients while D rejects them."""
    return bce(fake, 1.0)


def saturating_generator(fake: Tensor) -> Tensor:
    """log(1 - D(G(z))), the minimax game's own G loss: its gradient vanishes while D confidently rejects the
    fakes, which is early in training, so G stalls (the theory lesson's warning)."""
    return -ops.softplus(fake).mean()  # log(1 - sigmoid(s)) = -softplus(s)


def mse_discriminator(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """(D(x) - 1)² and D(G(z))² on probabilities: the toy 1010 lesson's nn.MSELoss."""
    p_real, p_fake = ops.sigmoid(real), ops.sigmoid(fake)
    return ((p_real - 1) ** 2).mean(), (p_fake ** 2).mean()


def mse_generator(fake: Tensor) -> Tensor:
    return ((ops.sigmoid(fake) - 1) ** 2).mean()


def least_squares_discriminator(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """LSGAN (Mao et al. 2017): (D(x) - 1)² and D(G(z))² on the raw scores."""
    return ((real - 1) ** 2).mean(), (fake ** 2).mean()


def least_squares_generator(fake: Tensor) -> Tensor:
    return ((fake - 1) ** 2).mean()


def hinge_discriminator(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """Hinge (Lim & Ye 2017; SNGAN, BigGAN): max(0, 1 - D(x)) and max(0, 1 + D(G(z)))."""
    return ops.relu(1 - real).mean(), ops.relu(1 + fake).mean()


def critic_generator(fake: Tensor) -> Tensor:
    """-D(G(z)): G raises the critic's score of its fakes (hinge and Wasserstein)."""
    return -fake.mean()


def wasserstein_discriminator(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """The critic's estimate of the Wasserstein distance, negated: -D(x) and D(G(z))."""
    return -real.mean(), fake.mean()


@dataclass(frozen=True)
class GanLoss:
    """One loss: D's (real term, fake term) on its scores, G's loss on the fakes' scores, whether the scores
    are read as probabilities (logged as mean D(x), D(G(z)) after a sigmoid), whether D's loss adds a
    gradient penalty (WGAN-GP, see gradient_penalty), and the raw score above which D counts a sample as
    real for its accuracy: halfway between the scores its loss asks for real and fake samples."""

    discriminator: Terms
    generator: Callable[[Tensor], Tensor]
    probability: bool = False
    penalty: bool = False
    midpoint: float = 0.0  # sigmoid(0) = 1/2; hinge's targets are ±1; the Wasserstein critic's scores have no
                           # fixed midpoint, so its accuracy reads their sign only


LOSSES: dict[str, GanLoss] = {
    "bce": GanLoss(bce_discriminator, non_saturating_generator, probability=True),
    "saturating": GanLoss(bce_discriminator, saturating_generator, probability=True),
    "mse": GanLoss(mse_discriminator, mse_generator, probability=True),
    "lsgan": GanLoss(least_squares_discriminator, least_squares_generator, midpoint=0.5),
    "hinge": GanLoss(hinge_discriminator, critic_generator),
    "wgan-gp": GanLoss(wasserstein_discriminator, critic_generator, penalty=True),
}


def interpolate(real: Tensor, fake: Tensor, mix: Tensor) -> Tensor:
    """mix·real + (1 - mix)·fake, with one weight in [0, 1] per sample (mix is (N,))."""
    weight = mix.reshape((-1,) + (1,) * (real.ndim - 1))
    return weight * real + (1 - weight) * fake


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, mix: Tensor) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): mean over samples of (‖∇ critic(x̂)‖₂ - 1)², x̂ = interpolate(real, fake, mix).

    The gradient is taken per sample (each score depends on its own sample only) and differentiated
    again when D's loss is, so D is pushed towards gradients of norm 1 between the two distributions.
    """
    def total_score(x):
        return critic(x).sum()

    grads = ms.grad(total_score)(interpolate(real, fake, mix))
    norms = ops.sqrt((grads.reshape(grads.shape[0], -1) ** 2).sum(1) + 1e-12)
    return ((norms - 1) ** 2).mean()
