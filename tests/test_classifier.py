"""The shipped digit classifier: its recorded accuracy holds on the embedded split, its features are
deterministic, and the metrics built on it tell real digits from noise and from a collapsed generator. And a
judge trained on other data (python -m msgan.classifier --data): it learns, it keeps its shape, classes and
real floor, and it refuses what it cannot judge in one line."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, write_mnist
from msgan.checkpoints import read_checkpoint_extras
from msgan.checkpoints import load_into
from msgan.classifier import (CLASSIFIER_CKPT, REFERENCE_FEATURES, REFERENCE_RADII, Classifier, accuracy, judge,
                              load_classifier, load_classifier_and_reference, main, shift, split, subset)
from msgan.data import load_embedded
from msgan.errors import MsganError
from msgan.judge import load_judge, shipped_judge
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
    held, trained = map(int, re.search(r"on (\d+) images \((\d+) trained on", result.stdout).groups())
    assert held + trained == 200 and 30 <= held <= 50  # a fifth of each digit held out
    lines = result.stdout.splitlines()  # it says what it does, and how each epoch went
    assert lines[0].startswith(f"msgan: training a judge on {trained} of 200 images of 1x28x28 in 10 classes")
    assert re.fullmatch(r"epoch 1/1: loss \d+\.\d{4} \(last batch\), \d+ s", lines[1]), lines
    net = load_classifier(out)
    _, info, extras = read_checkpoint_extras(out)
    assert info.network == "classifier" and 0 <= extras["held_out_accuracy"] <= 1
    assert extras[REFERENCE_FEATURES].shape == (trained, 64) and extras[REFERENCE_RADII].shape == (trained,)
    features, probs = judge(net, np.zeros((3, 28, 28), dtype=np.uint8))
    assert features.shape == (3, 64) and np.allclose(probs.sum(axis=1), 1)


def test_the_general_network_for_digits_is_the_shipped_one():
    """For (1, 28, 28) and 10 classes the network of any shape is the shipped checkpoint's, name for name and
    shape for shape, so the shipped weights load into it strictly."""
    params, _, _ = read_checkpoint_extras(CLASSIFIER_CKPT)
    net = Classifier((1, 28, 28), 10)
    assert {p.name: tuple(p.shape) for p in net.get_parameters()} == {n: tuple(p.shape) for n, p in params.items()}
    load_into(net, params, str(CLASSIFIER_CKPT))
    judge_ = load_judge()
    assert judge_ is shipped_judge() and judge_.shape == (1, 28, 28) and judge_.classes == tuple("0123456789")
    assert judge_.source == "shipped digit classifier" and "training split (4,000)" in judge_.reference_about


def test_other_shapes_and_class_counts():
    """Colour, and non-square samples (which take the native kernels)."""
    for images, classes in ((np.zeros((2, 16, 16, 3), np.uint8), 3), (np.zeros((2, 20, 12), np.uint8), 4)):
        shape = (3, 16, 16) if images.ndim == 4 else (1, 20, 12)
        for matmul in (None, False):
            features, probs = judge(Classifier(shape, classes, matmul=matmul), images)
            assert features.shape == (2, 64) and probs.shape == (2, classes)


def test_the_split_holds_out_a_fifth_of_each_of_k_classes():
    labels = np.repeat(np.arange(3), [10, 20, 30])
    train, held = split(labels, seed=0, classes=3)
    assert np.bincount(labels[held]).tolist() == [2, 4, 6] and len(train) + len(held) == 60


def test_shift_moves_colour_images_as_a_whole():
    image = np.zeros((1, 16, 16, 3), dtype=np.uint8)
    image[0, 8, 8] = (10, 20, 30)
    moved = shift(np.repeat(image, 50, axis=0), np.random.default_rng(0))
    assert moved.shape == (50, 16, 16, 3)
    n, ys, xs = np.nonzero(moved[..., 2] == 30)
    assert len(n) == 50 and set(ys.tolist()) <= set(range(6, 11)) and set(xs.tolist()) <= set(range(6, 11))
    assert (moved[n, ys, xs] == (10, 20, 30)).all()


def colours(path, per_class: int = 60, labelled: bool = True):
    """An .npz of solid red, green and blue 16x16 pictures with noise: three classes easily told apart."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), per_class)
    images = rng.integers(0, 60, (len(labels), 16, 16, 3))
    images[np.arange(len(labels)), :, :, labels] += 180
    arrays = {"images": images.astype(np.uint8), **({"labels": labels} if labelled else {})}
    np.savez(path, **arrays)
    return arrays


@pytest.fixture(scope="module")
def colour_judge(tmp_path_factory):
    folder = tmp_path_factory.mktemp("colours")
    arrays = colours(folder / "colours.npz")
    out = folder / "judge.ckpt"
    assert main(["--data", str(folder / "colours.npz"), "--epochs", "4", "--out", str(out)]) == 0
    return out, arrays


def test_a_judge_trained_on_colour_images_learns_them_and_keeps_its_floor(colour_judge, capsys):
    out, arrays = colour_judge
    _, _, extras = read_checkpoint_extras(out)
    assert extras["held_out_accuracy"] >= 0.95
    judge_ = load_judge(str(out))
    assert judge_ is load_judge(str(out))  # loaded once
    assert judge_.shape == (3, 16, 16) and judge_.classes == ("0", "1", "2") and judge_.source == str(out)
    assert judge_.reference_about.endswith("the classifier's training split (144)")
    floor = judge_.real_floor()
    assert floor["source"].endswith("the classifier's held-out split (36)")
    assert len(floor["class_shares"]) == 3 and floor["min_digit_agreement"] >= 0.95
    scores = judge_.score(arrays["images"][:30], arrays["labels"][:30])
    assert len(scores["class_shares"]) == 3 and len(scores["digit_agreement"]) == 3
    assert scores["digit_agreement"][1:] == [None, None] and scores["modes"] == 1


def test_a_judge_refuses_samples_of_another_shape_in_one_line(colour_judge):
    judge_ = load_judge(str(colour_judge[0]))
    with pytest.raises(MsganError) as refused:
        judge_.check_fits((1, 28, 28), "the generator's samples")
    message = str(refused.value)
    assert "\n" not in message and "1x28x28" in message and "3x16x16" in message
    assert "python -m msgan.classifier --data DIR --image-size 28" in message
    with pytest.raises(MsganError, match="3x16x16"):
        shipped_judge().score(np.zeros((2, 16, 16, 3), np.uint8))


def one_line_refusal(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("error: ")
    return err


def test_unlabelled_data_is_refused_in_one_line(tmp_path, capsys):
    colours(tmp_path / "plain.npz", per_class=4, labelled=False)
    err = one_line_refusal(["--data", str(tmp_path / "plain.npz"), "--out", str(tmp_path / "j.ckpt")], capsys)
    assert "labelled data" in err and "'labels'" in err and not (tmp_path / "j.ckpt").exists()


def test_an_existing_out_is_never_overwritten(tmp_path, capsys):
    colours(tmp_path / "c.npz", per_class=4)
    (tmp_path / "j.ckpt").write_bytes(b"mine")
    err = one_line_refusal(["--data", str(tmp_path / "c.npz"), "--out", str(tmp_path / "j.ckpt")], capsys)
    assert "already exists" in err and (tmp_path / "j.ckpt").read_bytes() == b"mine"


def test_a_missing_or_foreign_judge_file_is_one_line_naming_the_fix(tmp_path):
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    for path in (tmp_path / "none.ckpt", tmp_path / "junk.ckpt"):
        with pytest.raises(MsganError) as refused:
            load_judge(str(path))
        assert "\n" not in str(refused.value) and "python -m msgan.classifier --data DIR" in str(refused.value)
