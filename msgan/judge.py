"""The judge of sample quality: the shipped digit classifier with the features of the real digits that every
score is measured against (eval.py, and training's --eval-every).

Every score compares a set of digits with the same reference, the classifier's training split of the
embedded digits (4,000 real digits). The real-data floor is the 1,000 held-out real digits scored the
same way, which is as good as a generator can be expected to get. FID depends on the number of samples
(it is biased upwards for small sets), so compare scores of equal size.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from msgan.classifier import (REFERENCE_FEATURES, REFERENCE_RADII, DigitClassifier, judge,
                              load_classifier_and_reference, split, subset)
from msgan.data import Digits, load_embedded
from msgan.metrics import class_agreement, class_shares, fid, inception_score, mode_coverage, precision_recall

REFERENCE = "embedded digits, the classifier's training split (4,000)"
FLOOR = "embedded digits, the classifier's held-out split (1,000)"


@dataclass
class Judge:
    """The classifier and the reference features every score is measured against."""

    net: DigitClassifier
    reference: np.ndarray
    reference_radii: np.ndarray  # its k-NN manifold

    @property
    def held_out(self) -> Digits:
        """The real digits the classifier never saw: the floor."""
        return held_out_digits()

    def score(self, images: np.ndarray, labels: Optional[np.ndarray] = None) -> dict[str, Any]:
        """FID, IS, modes, KL from uniform, precision and recall of uint8 digits (N, 28, 28), and the share
        of them judged to be each digit (class_shares, with their least and greatest).

        With `labels`, the digit each one was asked (or is known) to be, also digit_agreement: for each digit,
        the share of those labelled with it that are judged to be it (null for a digit none is labelled
        with), and its least, min_digit_agreement.
        """
        features, probs = judge(self.net, images)
        modes, kl = mode_coverage(probs)
        precision, recall = precision_recall(self.reference, features, real_radii=self.reference_radii)
        shares = per_digit(class_shares(probs))
        scores = {"fid": round(fid(features, self.reference), 4), "is": round(inception_score(probs), 4),
                  "modes": modes, "kl_uniform": round(kl, 4), "precision": round(precision, 4),
                  "recall": round(recall, 4),
                  "class_shares": shares, "min_class_share": min(shares), "max_class_share": max(shares)}
        if labels is not None:
            agreement = per_digit(class_agreement(probs, labels))
            scores.update(digit_agreement=agreement,
                          min_digit_agreement=min(a for a in agreement if a is not None))
        return scores


def per_digit(values: np.ndarray) -> list[Optional[float]]:
    """Ten values rounded to 4 places; NaN (a digit without samples) becomes None, JSON's null."""
    return [None if np.isnan(v) else round(float(v), 4) for v in values]


@functools.lru_cache(maxsize=1)
def shipped_judge() -> Judge:
    """The shipped classifier with the features of its training split, saved beside its weights."""
    net, reference = load_classifier_and_reference()
    return Judge(net, reference[REFERENCE_FEATURES].astype(np.float64), reference[REFERENCE_RADII])


@functools.lru_cache(maxsize=1)
def held_out_digits() -> Digits:
    digits = load_embedded()
    return subset(digits, split(digits.labels, seed=0)[1])
