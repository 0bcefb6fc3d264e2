"""Sample-quality metrics as pure NumPy functions: FID, IS, mode coverage, and precision and recall.

They work on a judge's outputs (msgan.classifier, msgan.judge): penultimate-layer features for FID and
precision/recall, class probabilities for IS and mode coverage; `scores` gathers them all. Everything is
computed in float64.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

MODE_SHARE = 0.01  # a class counts as drawn when it receives at least this share of the predictions
NEIGHBOURS = 3     # k of the k-nearest-neighbour manifolds (Kynkäänniemi et al. 2019)


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (rows are samples) in float64."""
    x = np.asarray(features, dtype=np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """The square root of a symmetric positive semi-definite matrix; rounding's tiny negative eigenvalues become 0."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||² + Tr(cov1 + cov2 - 2 (cov1 cov2)^½), the Fréchet distance between two Gaussians.

    Tr((cov1 cov2)^½) is taken as Tr((s cov2 s)^½) with s = cov1^½: the same eigenvalues, but of a symmetric
    PSD matrix, so near-singular covariances (few samples, dead features) give no complex numbers or NaNs.
    """
    s = _sqrt_psd(np.asarray(cov1, dtype=np.float64))
    cross = np.trace(_sqrt_psd(s @ np.asarray(cov2, dtype=np.float64) @ s))
    diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
    return float(max(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * cross, 0.0))


def fid(features: np.ndarray, reference: np.ndarray) -> float:
    """The Fréchet distance between the Gaussians fitted to two feature sets."""
    return frechet_distance(*gaussian(features), *gaussian(reference))


def inception_score(probs: np.ndarray) -> float:
    """exp E_x[KL(p(y|x) || p(y))]: from 1 (every sample the same class mix) to the number of classes
    (every sample one confident class, all classes equally often)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    marginal = p.mean(axis=0)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


def class_shares(probs: np.ndarray) -> np.ndarray:
    """The share of the samples predicted as each class (their most probable one); the shares sum to 1."""
    return np.bincount(np.argmax(probs, axis=1), minlength=probs.shape[1]) / len(probs)


def class_agreement(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each class c, the share of the samples labelled c that are predicted as c (per-class accuracy, or
    how often a conditional generator draws what it is asked for); NaN for a class no sample is labelled."""
    classes = probs.shape[1]
    labels = np.asarray(labels)
    hits = np.bincount(labels[np.argmax(probs, axis=1) == labels], minlength=classes)
    asked = np.bincount(labels, minlength=classes)
    return np.divide(hits, asked, out=np.full(classes, np.nan), where=asked > 0)


def mode_coverage(probs: np.ndarray) -> tuple[int, float]:
    """(classes that receive at least MODE_SHARE of the predictions, KL divergence of the predicted class
    histogram from uniform): 10 and 0 for ten balanced digits, 1 and ln 10 for a single one."""
    share = class_shares(probs)
    drawn = share[share > 0]
    return int(np.sum(share >= MODE_SHARE)), float(np.sum(drawn * np.log(drawn * len(share))))


def manifold_radii(x: np.ndarray, k: int = NEIGHBOURS, chunk: int = 1024) -> np.ndarray:
    """Each sample's distance to its k-th nearest neighbour in its own set: the balls of its manifold."""
    x = np.asarray(x, dtype=np.float64)
    radii = np.empty(len(x))
    for start in range(0, len(x), chunk):
        d = _distances(x[start:start + chunk], x)
        radii[start:start + chunk] = np.partition(d, k, axis=1)[:, k]  # column 0 is the row itself
    return radii


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(squared, 0, None))


def _inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int) -> float:
    """The share of `points` that fall inside at least one ball (centre, radius)."""
    hits = 0
    for start in range(0, len(points), chunk):
        hits += int(np.any(_distances(points[start:start + chunk], centres) <= radii[None, :], axis=1).sum())
    return hits / len(points)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = NEIGHBOURS, chunk: int = 1024,
                     real_radii: Optional[np.ndarray] = None) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): precision is the share of fake samples inside
    the real manifold (the union of balls reaching each real sample's k-th neighbour), recall the share of
    real samples inside the fake manifold. Precision says "looks real", recall "covers everything".
    `real_radii` (manifold_radii of `real`) saves recomputing them for a fixed reference."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if real_radii is None:
        real_radii = manifold_radii(real, k, chunk)
    precision = _inside(fake, real, real_radii, chunk)
    recall = _inside(real, fake, manifold_radii(fake, k, chunk), chunk)
    return precision, recall


def scores(features: np.ndarray, probs: np.ndarray, reference: np.ndarray, reference_radii: np.ndarray,
           labels: Optional[np.ndarray] = None) -> dict[str, Any]:
    """Every score of one set of samples against a reference, rounded for JSON: FID, IS, modes, KL from uniform,
    precision and recall, and the share judged to be each class (class_shares, with their least and greatest).

    With `labels`, the class each sample was asked (or is known) to be, also digit_agreement: for each class,
    the share of those labelled with it that are judged to be it (null for a class none is labelled with), and
    its least, min_digit_agreement. The key names are the digit judge's, which every metrics.jsonl already uses.
    """
    modes, kl = mode_coverage(probs)
    precision, recall = precision_recall(reference, features, real_radii=reference_radii)
    shares = per_class(class_shares(probs))
    result = {"fid": round(fid(features, reference), 4), "is": round(inception_score(probs), 4),
              "modes": modes, "kl_uniform": round(kl, 4), "precision": round(precision, 4),
              "recall": round(recall, 4),
              "class_shares": shares, "min_class_share": min(shares), "max_class_share": max(shares)}
    if labels is not None:
        agreement = per_class(class_agreement(probs, labels))
        result.update(digit_agreement=agreement, min_digit_agreement=min(a for a in agreement if a is not None))
    return result


def per_class(values: np.ndarray) -> list[Optional[float]]:
    """One value per class rounded to 4 places; NaN (a class without samples) becomes None, JSON's null."""
    return [None if np.isnan(v) else round(float(v), 4) for v in values]
