"""The judge of sample quality: a classifier with the features of the real images that every score is measured
against (eval.py, and training's --eval-every). The shipped one classifies digits; `python -m msgan.classifier
--data DIR` trains one for any labelled dataset, and load_judge(path) loads it.

Every score compares a set of images with the same reference, the classifier's training split (for the
shipped judge, 4,000 real embedded digits). The real-data floor is the held-out split scored the same way,
which is as good as a generator can be expected to get: the shipped judge scores its 1,000 held-out embedded
digits when asked, a trained judge carries the floor it scored at training time. FID depends on the number of
samples (it is biased upwards for small sets), so compare scores of equal size.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from msgan.classifier import (CLASSIFIER_CKPT, REAL_FLOOR, REFERENCE_ABOUT, REFERENCE_FEATURES, REFERENCE_RADII,
                              Classifier, Shape, judge, load_classifier_and_reference, recorded_classes,
                              recorded_shape, split, subset)
from msgan.data import DIGIT_NAMES, MNIST_SHAPE, Digits, load_embedded, picture_shape
from msgan.errors import MsganError
from msgan.metrics import scores

REFERENCE = "embedded digits, the classifier's training split (4,000)"
FLOOR = "embedded digits, the classifier's held-out split (1,000)"
SHIPPED = "shipped digit classifier"


@dataclass
class Judge:
    """The classifier and the reference features every score is measured against, with what it judges."""

    net: Classifier
    reference: np.ndarray
    reference_radii: np.ndarray  # its k-NN manifold
    shape: Shape = MNIST_SHAPE   # (C, H, W) of the samples it takes
    classes: tuple[str, ...] = DIGIT_NAMES
    source: str = SHIPPED        # the checkpoint it came from, for messages and records
    reference_about: str = REFERENCE
    floor: Optional[dict[str, Any]] = None  # the real floor; None until the shipped judge's is first scored

    @property
    def held_out(self) -> Digits:
        """The shipped judge's held-out embedded digits, the real floor it scores."""
        return held_out_digits()

    def check_fits(self, shape: tuple, what: str) -> None:
        """Refuse samples of another (C, H, W) than the judge's in one line, rather than in MindSpore's error."""
        if tuple(shape) != tuple(self.shape):
            raise MsganError(f"{what} are {describe(shape)} but the judge ({self.source}) takes {describe(self.shape)}"
                             f": train a matching one with `python -m msgan.classifier --data DIR --image-size "
                             f"{shape[-1]}` on data of that shape and pass it")

    def real_floor(self) -> dict[str, Any]:
        """{"source": what the floor is, **its scores}: the held-out real images scored as samples are. The
        shipped judge scores its held-out digits once (about a second), a trained judge kept its own."""
        if self.floor is None:
            held = self.held_out
            self.floor = {"source": FLOOR, **self.score(held.images, held.labels)}
        return dict(self.floor)

    def score(self, images: np.ndarray, labels: Optional[np.ndarray] = None) -> dict[str, Any]:
        """FID, IS, modes, KL from uniform, precision and recall of uint8 images, grey (N, H, W) or colour
        (N, H, W, 3), and the share of them judged to be each class (class_shares, one per class, with their least
        and greatest); with `labels`, also digit_agreement and min_digit_agreement (see msgan.metrics.scores)."""
        self.check_fits(picture_shape(images), "the scored images")
        return scores(*judge(self.net, images), self.reference, self.reference_radii, labels)


def describe(shape: tuple) -> str:
    """'3x32x32 (channels x height x width)'."""
    return f"{'x'.join(map(str, shape))} (channels x height x width)"


def load_judge(path: Optional[str] = None) -> Judge:
    """The judge in the checkpoint at `path` (written by `python -m msgan.classifier --data DIR`), or the shipped
    digit judge without one; each is loaded once. A missing, damaged or foreign file is one line with the fix."""
    return shipped_judge() if path is None else judge_at(str(Path(path).expanduser().resolve()))


@functools.lru_cache(maxsize=None)
def judge_at(path: str) -> Judge:
    return judge_in(Path(path), path)


@functools.lru_cache(maxsize=1)
def shipped_judge() -> Judge:
    """The shipped classifier with the features of its training split, saved beside its weights."""
    return judge_in(CLASSIFIER_CKPT, SHIPPED)


def judge_in(path: Path, source: str) -> Judge:
    """The judge a classifier checkpoint holds; one that predates the records is the digit judge."""
    net, extras = load_classifier_and_reference(path)
    floor = json.loads(extras[REAL_FLOOR]) if REAL_FLOOR in extras else None
    return Judge(net, extras[REFERENCE_FEATURES].astype(np.float64), extras[REFERENCE_RADII],
                 recorded_shape(extras), recorded_classes(extras), source, extras.get(REFERENCE_ABOUT, REFERENCE),
                 floor)


@functools.lru_cache(maxsize=1)
def held_out_digits() -> Digits:
    digits = load_embedded()
    return subset(digits, split(digits.labels, seed=0)[1])
