"""Every random stream that msgan draws from a seed, in one place.

A stream is numpy.random.default_rng([seed, STREAM, *more]): each use has its own number, so that e.g.
the sample grid's noise does not depend on how many training steps came before it, and no two uses
ever draw the same numbers. Add a new use here with a number of its own.
"""
from __future__ import annotations

import numpy as np

STEP_NOISE = 1          # the latents of every training step, per epoch
FIXED_NOISE = 2         # the latents behind each epoch's sample grid
PATTERNS = 3            # the toy 1010 GAN's real samples
CLASSIFIER_SPLIT = 4    # the judge's train / held-out split (the shipped weights were trained with it)
CLASSIFIER_SHIFT = 5    # the judge's training augmentation, per epoch
EVAL_NOISE = 6          # the digits scored during training
EPOCH_ORDER = 7         # the shuffled order of every epoch
PENALTY_MIX = 8         # WGAN-GP's interpolation weights between real and fake, per epoch
STANDING_STATS = 9      # the latents that re-estimate an averaged generator's BatchNorm statistics
SAMPLE_LABELS = 10      # the digits a conditional generator draws when infer.py is not told which
SAMPLES = ()            # infer.py's and eval.py's latents: default_rng([seed]), so --seed S is that stream
# The judge's batches keep the stream its shipped weights were trained with, default_rng([seed, epoch]), so
# that `python -m msgan.classifier` still trains it as it was trained.
CLASSIFIER_ORDER = ()


def stream(seed: int, *key: int) -> np.random.Generator:
    """The generator of stream `key` (one of the numbers above, then e.g. the epoch) of `seed`."""
    return np.random.default_rng([seed, *key])


def tutorial_normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """float32 normal numbers as the MindSpore GAN tutorial draws its 25 fixed latents, np.random.seed(seed) then
    np.random.normal(size=shape): NumPy's legacy generator, outside msgan's streams, so that --grid-seed 2323
    gives the tutorial's own latents. (The tutorial then reorders them with Python's unseeded random.shuffle,
    which no seed can replay: the same latents, perhaps in another order.)"""
    return np.random.RandomState(seed).normal(size=shape).astype(np.float32)
