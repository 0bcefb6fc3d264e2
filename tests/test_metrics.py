"""The quality metrics against their closed forms and limiting cases."""
import math

import numpy as np
import pytest

from msgan.metrics import (class_agreement, class_shares, fid, frechet_distance, inception_score, mode_coverage,
                           precision_recall)


def test_fid_of_a_set_against_itself_is_zero():
    x = np.random.default_rng(0).standard_normal((500, 16))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    # diagonal covariances commute: Tr((C1 C2)^½) = Σ σ1 σ2, so FID = |Δμ|² + Σ (σ1 - σ2)²
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-12)


def test_fid_of_samples_approaches_the_gaussians_distance():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((20000, 4))
    b = rng.standard_normal((20000, 4)) * 2.0 + 1.0  # σ 2, μ 1 in every dimension: 4 · (1 + 1) = 8
    assert fid(a, b) == pytest.approx(8.0, rel=0.03)


def test_fid_is_finite_for_near_singular_covariances():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((20, 64))  # fewer samples than dimensions: a singular covariance
    a[:, :8] = 0.0                     # and dead features
    b = rng.standard_normal((30, 64))
    value = fid(a, b)
    assert math.isfinite(value) and value > 0


def test_inception_score_runs_from_one_to_the_number_of_classes():
    confident_and_balanced = np.eye(10)[np.arange(1000) % 10]
    assert inception_score(confident_and_balanced) == pytest.approx(10.0, rel=1e-6)
    assert inception_score(np.full((1000, 10), 0.1)) == pytest.approx(1.0)
    one_class = np.eye(10)[np.zeros(1000, dtype=int)]
    assert inception_score(one_class) == pytest.approx(1.0)


def test_one_class_only_is_one_mode_and_ln10_from_uniform():
    probs = np.eye(10)[np.full(500, 4)] * 0.9 + 0.01
    assert mode_coverage(probs) == (1, pytest.approx(math.log(10)))
    balanced = np.eye(10)[np.arange(1000) % 10]
    assert mode_coverage(balanced) == (10, pytest.approx(0.0, abs=1e-12))
    rare = np.eye(10)[np.r_[np.zeros(995, dtype=int), np.ones(5, dtype=int)]]  # digit 1 at 0.5%: not a mode
    assert mode_coverage(rare)[0] == 1


def test_precision_and_recall_of_a_set_against_itself_are_one():
    x = np.random.default_rng(3).standard_normal((300, 8))
    assert precision_recall(x, x, chunk=64) == (1.0, 1.0)


def test_precision_and_recall_separate_looking_real_from_covering_everything():
    rng = np.random.default_rng(4)
    real = rng.standard_normal((600, 2))
    collapsed = real[:600] * 0.05  # every fake near the middle of the real data: real-looking, little coverage
    precision, recall = precision_recall(real, collapsed, chunk=100)
    assert precision > 0.95 and recall < 0.3
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)


def test_class_shares_and_agreement_by_hand():
    """Six samples of three classes: predicted 0, 0, 1, 2, 2, 2 (the most probable class of each row), labelled
    0, 1, 1, 2, 2, 0. Shares 2/6, 1/6, 3/6; of the labelled 0s one of two is predicted 0, of the 1s one of two,
    of the 2s both."""
    probs = np.array([[.6, .3, .1], [.5, .4, .1], [.2, .7, .1], [.1, .2, .7], [.3, .3, .4], [.0, .1, .9]])
    np.testing.assert_allclose(class_shares(probs), [2 / 6, 1 / 6, 3 / 6])
    np.testing.assert_allclose(class_agreement(probs, np.array([0, 1, 1, 2, 2, 0])), [0.5, 0.5, 1.0])
    none_labelled_2 = class_agreement(probs, np.array([0, 1, 1, 1, 0, 0]))
    np.testing.assert_allclose(none_labelled_2[:2], [1 / 3, 1 / 3])
    assert np.isnan(none_labelled_2[2])
