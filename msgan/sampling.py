"""Latent noise and running a generator in eval mode, shared by training pictures and infer.py."""
from __future__ import annotations

from typing import Optional

import numpy as np
from mindspore import Tensor, nn

from msgan.streams import stream

# The toy 1010 GAN feeds its generator 0.5, the lesson's constant; "near-constant" adds this much noise.
CONSTANT_LATENT, NEAR_CONSTANT_STD = 0.5, 0.1


def latents(count: int, latent_dim: int, seed: int, *key: int, distribution: str = "normal") -> np.ndarray:
    """Latent vectors drawn from `distribution` (see TrainConfig.latent), a pure function of (seed, key):
    `key` names a stream of msgan.streams."""
    rng = stream(seed, *key)
    shape = (count, latent_dim)
    if distribution == "uniform":
        return rng.random(shape, dtype=np.float32)
    if distribution == "constant":
        return np.full(shape, CONSTANT_LATENT, dtype=np.float32)
    if distribution == "near-constant":
        return CONSTANT_LATENT + NEAR_CONSTANT_STD * rng.standard_normal(shape, dtype=np.float32)
    return rng.standard_normal(shape, dtype=np.float32)


def cycling_labels(count: int, classes: Optional[int]) -> Optional[np.ndarray]:
    """Labels 0, 1, …, classes - 1, 0, 1, … for `count` samples of a conditional generator of `classes`
    classes; None for the others (classes None)."""
    return None if classes is None else np.arange(count, dtype=np.int32) % classes


def generate(generator: nn.Cell, z: np.ndarray, labels: Optional[np.ndarray] = None,
             batch_size: int = 256) -> np.ndarray:
    """The generator's float32 output for latents `z` (and labels, for a conditional generator), in batches,
    with BatchNorm and Dropout in eval mode."""
    was_training = generator.training
    generator.set_train(False)
    try:
        chunks = []
        for i in range(0, len(z), batch_size):
            inputs = [Tensor(z[i:i + batch_size])]
            if labels is not None:
                inputs.append(Tensor(labels[i:i + batch_size].astype(np.int32)))
            chunks.append(generator(*inputs).asnumpy())
    finally:
        generator.set_train(was_training)
    return np.concatenate(chunks)
