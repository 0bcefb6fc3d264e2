"""The shipped digit classifier: its recorded accuracy holds on the embedded split, its features are
deterministic, and the metrics built on it tell real digits from noise and from a collapsed generator."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, write_mnist
from msgan.checkpoints import read_checkpoint_extras
from msgan.classifier import (CLASSIFIER_CKPT, REFERENCE_FEATURES, REFERENCE_RADII, accuracy, judge, load_classifier,
                              load_classifier_and_reference, shift, split, subset)
from msgan.data import load_embedded
from msgan.metrics import fid, inception_score, manifold_radii, mode_coverage, precision_recall


@pytest.fixture(scope="module")
def embedded():
    digits = load_embedded()
    train, held = split(digits.labels, seed=0)
    return subset(digits, train), subset(digits, held)


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


def test_the_split_is_stratified_seeded_and_disjoint(embedded):
    train, held = embedded
    assert len(train) == 4000 and len(held) == 1000
    assert np.bincount(held.labels).tolist() == [100] * 10
    digits = load_embedded()
    again, held_again = split(digits.labels, seed=0)
    assert np.array_equal(subset(digits, held_again).images, held.images)
    assert not np.array_equal(split(digits.labels, seed=1)[1], held_again)
    assert not set(again) & set(held_again)


def test_shipped_weights_reach_their_recorded_held_out_accuracy(embedded, classifier):
    _, held = embedded
    _, info, extras = read_checkpoint_extras(CLASSIFIER_CKPT)
    assert CLASSIFIER_CKPT.stat().st_size < 2_500_000  # 1.0 MB of weights, 1.1 MB of reference features
    assert accuracy(classifier, held) == pytest.approx(extras["held_out_accuracy"], abs=1e-9)
    assert extras["held_out_accuracy"] >= 0.97


def test_the_saved_reference_is_the_training_split_judged(embedded, classifier):
    """Every score compares with the features of the 4,000 digits the classifier trained on, and their k-NN
    radii: saved beside the weights, they must be what the weights give."""
    train, _ = embedded
    features = judge(classifier, train.images)[0]
    _, reference = load_classifier_and_reference()
    np.testing.assert_allclose(reference[REFERENCE_FEATURES], features, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(reference[REFERENCE_RADII], manifold_radii(features), rtol=1e-5)


def test_features_are_deterministic(embedded, classifier):
    _, held = embedded
    f1, p1 = judge(classifier, held.images[:300])
    f2, p2 = judge(classifier, held.images[:300])
    f3, _ = judge(classifier, held.images[:300], batch_size=77)
    assert f1.shape == (300, 64) and p1.shape == (300, 10)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(p1, p2)
    # another batching may round differently on some CPUs (a few features in 1e-5, seen on a 2-core EPYC)
    np.testing.assert_allclose(f3, f1, rtol=1e-4, atol=1e-4)


def test_metrics_tell_real_digits_from_noise_and_from_one_repeated_class(embedded, classifier):
    train, held = embedded
    real_f, _ = judge(classifier, train.images)
    held_f, held_p = judge(classifier, held.images)
    noise = np.random.default_rng(0).integers(0, 256, (1000, 28, 28), dtype=np.uint8)
    noise_f, _ = judge(classifier, noise)
    sevens = np.repeat(held.images[held.labels == 7][:1], 1000, axis=0)
    sevens_f, sevens_p = judge(classifier, sevens)
    floor = fid(held_f, real_f)
    assert floor * 20 < fid(noise_f, real_f) and floor * 20 < fid(sevens_f, real_f)
    assert mode_coverage(held_p)[0] == 10 and inception_score(held_p) > 8
    assert mode_coverage(sevens_p)[0] == 1 and inception_score(sevens_p) == pytest.approx(1.0, abs=1e-6)
    precision, recall = precision_recall(real_f[:1000], held_f)
    assert precision > 0.8 and recall > 0.8
    assert precision_recall(real_f[:1000], sevens_f)[1] < 0.05  # one repeated digit covers nothing


def test_shift_moves_each_image_by_at_most_two_pixels():
    image = np.zeros((1, 28, 28), dtype=np.uint8)
    image[0, 14, 14] = 255
    moved = shift(np.repeat(image, 200, axis=0), np.random.default_rng(0))
    ys, xs = np.nonzero(moved[:, :, :] == 255)[1:]
    assert len(ys) == 200  # every image keeps its one bright pixel
    assert set(ys.tolist()) == set(range(12, 17)) and set(xs.tolist()) == set(range(12, 17))


def test_the_recorded_command_trains_on_a_data_folder(tmp_path):
    """`python -m msgan.classifier --data DIR` on small MNIST files the test writes: a loadable classifier that
    records its held-out accuracy (random pixels: about chance)."""
    write_mnist(tmp_path / "mnist", n=200)
    out = tmp_path / "clf.ckpt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "msgan.classifier", "--data", str(tmp_path / "mnist"),
                             "--epochs", "1", "--out", str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    held, trained = map(int, re.search(r"on (\d+) digits \((\d+) trained on", result.stdout).groups())
    assert held + trained == 200 and 30 <= held <= 50  # a fifth of each digit held out
    lines = result.stdout.splitlines()  # it says what it does, and how each epoch went
    assert lines[0].startswith(f"msgan: training the digit classifier on {trained} of 200 digits")
    assert re.fullmatch(r"epoch 1/1: loss \d+\.\d{4} \(last batch\), \d+ s", lines[1]), lines
    net = load_classifier(out)
    _, info, extras = read_checkpoint_extras(out)
    assert info.network == "classifier" and 0 <= extras["held_out_accuracy"] <= 1
    assert extras[REFERENCE_FEATURES].shape == (trained, 64) and extras[REFERENCE_RADII].shape == (trained,)
    features, probs = judge(net, np.zeros((3, 28, 28), dtype=np.uint8))
    assert features.shape == (3, 64) and np.allclose(probs.sum(axis=1), 1)
