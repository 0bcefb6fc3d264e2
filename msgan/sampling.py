"""Latent noise and running a generator in eval mode, shared by training pictures and infer.py."""
from __future__ import annotations

from typing import Optional

import numpy as np
from mindspore import Tensor, nn

from msgan.data import to_uint8

# Separate random streams of one seed, so that e.g. the sample grid's noise does not depend
# on how many training steps came before it.
STEP_NOISE, FIXED_NOISE = 1, 2


def latents(count: int, latent_dim: int, seed: int, *stream: int, distribution: str = "normal") -> np.ndarray:
    """Latent vectors, standard normal or uniform on [0, 1], a pure function of (seed, stream)."""
    rng = np.random.default_rng([seed, *stream])
    if distribution == "uniform":
        return rng.random((count, latent_dim), dtype=np.float32)
    return rng.standard_normal((count, latent_dim), dtype=np.float32)


def generate(generator: nn.Cell, z: np.ndarray, labels: Optional[np.ndarray] = None,
             batch_size: int = 256) -> np.ndarray:
    """uint8 digits (N, 28, 28) from latents `z` (and labels, for a conditional generator), in batches,
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
    return to_uint8(np.concatenate(chunks))
