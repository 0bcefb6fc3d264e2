"""The judge of sample quality: a small MindSpore CNN that classifies the images of one dataset.

Its penultimate layer (64 numbers) gives the features for FID and precision/recall, and its class
probabilities give IS and mode coverage (msgan.metrics). The shipped weights in msgan/assets classify the
MNIST digits; they come from

    python -m msgan.classifier

which trains on the embedded digits with a fixed, seeded split (400 of each digit to train on, 100 held
out) and prints the held-out accuracy. `--data DIR` trains a judge of any labelled dataset that msgan reads
(msgan.datasets) with the same split (a fifth of each class held out), and saves beside its weights what
every later score needs: the sample shape, the class names, the training split's features (the reference)
and the held-out split's scores (the real floor), so that scoring never reads the data again.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence, TypeVar

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from msgan.checkpoints import checkpoint_info, load_into, read_checkpoint_extras, save_network
from msgan.data import DIGIT_CLASSES, DIGIT_NAMES, MNIST_SHAPE, batches, picture_shape, to_model_range
from msgan.datasets import DATASETS, EMBEDDED, fit_side, load_images, shape_of
from msgan.errors import MsganError, OneLineErrorParser, run_reporting_errors
from msgan.layers import Conv2d
from msgan.metrics import manifold_radii, scores
from msgan.sources import Images
from msgan.streams import CLASSIFIER_ORDER, CLASSIFIER_SHIFT, CLASSIFIER_SPLIT, stream

CLASSIFIER_CKPT = Path(__file__).resolve().parent / "assets" / "digit_classifier.ckpt"
CUSTOM_CKPT = "judge.ckpt"  # --out's default for any --data but the embedded digits, in the current folder
CLASSIFIER = "classifier"
REFERENCE_FEATURES, REFERENCE_RADII = "reference_features", "reference_radii"
# Saved by this version beside the weights; a checkpoint without them is a digit classifier (the shipped one
# predates them), and its floor is the held-out embedded digits (msgan.judge).
SAMPLE_SHAPE, CLASS_NAMES, REFERENCE_ABOUT, REAL_FLOOR = "sample_shape", "classes", "reference_about", "real_floor"
HELD_OUT_SHARE = 0.2      # of each class: 100 of each embedded digit's 500
EPOCHS, BATCH, LR, SHIFT = 20, 64, 1e-3, 2
FOLDER_SIDE = 32          # the side a folder of mixed sizes is decoded at without --image-size
TRAIN_A_JUDGE = "train one with `python -m msgan.classifier --data DIR`"
Shape = tuple[int, int, int]
Data = TypeVar("Data")    # msgan.sources.Images or msgan.data.Digits: images and labels of the same length


class Classifier(nn.Cell):
    """Two strided 5x5 convolutions (C->32->64), a 64-unit layer whose output is the feature vector, then one
    logit per class, for samples of `shape` (C, H, W). For the digits' (1, 28, 28) and 10 classes it is the
    network of the shipped checkpoint, parameter for parameter.

    construct returns (features, logits), so that one compiled call serves both training and judging.
    `matmul` chooses the convolutions' kernels as msgan.layers.Conv2d does (by default, matrix multiplies on CPU);
    non-square samples always use the native kernels, since the matrix multiplies take square inputs only.
    """

    def __init__(self, shape: Shape = MNIST_SHAPE, classes: int = DIGIT_CLASSES, matmul: Optional[bool] = None):
        super().__init__()
        channels, height, width = shape
        matmul = False if height != width else matmul
        self.body = nn.SequentialCell(
            Conv2d(channels, 32, 5, stride=2, in_size=height, matmul=matmul), nn.ReLU(),
            Conv2d(32, 64, 5, stride=2, in_size=math.ceil(height / 2), matmul=matmul), nn.ReLU(),
            nn.Flatten(), nn.Dense(64 * math.ceil(height / 4) * math.ceil(width / 4), 64), nn.ReLU(),
        )
        self.head = nn.Dense(64, classes)

    def construct(self, x):
        features = self.body(x)
        return features, self.head(features)


def split(labels: np.ndarray, seed: int, classes: int = DIGIT_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices: HELD_OUT_SHARE of each of the `classes`, chosen by the seed, is held out."""
    rng = stream(seed, CLASSIFIER_SPLIT)
    held = []
    for label in range(classes):
        members = rng.permutation(np.flatnonzero(labels == label))
        held.extend(members[:round(HELD_OUT_SHARE * len(members))])
    held = np.sort(np.array(held, dtype=np.int64))
    return np.setdiff1d(np.arange(len(labels)), held), held


def subset(data: Data, index: np.ndarray) -> Data:
    """The images and labels at `index`, the rest as it was."""
    return dataclasses.replace(data, images=data.images[index], labels=data.labels[index])


def judge(net: Classifier, images: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, H, W) or (N, H, W, 3) -> (features (N, 64), class probabilities (N, K)), float64,
    eval mode."""
    net.set_train(False)
    features, probs = [], []
    for start in range(0, len(images), batch_size):
        f, logits = net(Tensor(to_model_range(images[start:start + batch_size])))
        features.append(f.asnumpy())
        probs.append(nn.Softmax()(logits).asnumpy())
    return np.concatenate(features).astype(np.float64), np.concatenate(probs).astype(np.float64)


def accuracy(net: Classifier, data: Images) -> float:
    _, probs = judge(net, data.images)
    return float(np.mean(np.argmax(probs, axis=1) == data.labels))


def train_classifier(train: Images, epochs: int = EPOCHS, seed: int = 0, log: bool = False,
                     classes: int = DIGIT_CLASSES) -> Classifier:
    """Adam on cross-entropy, shuffled full batches, compiled; with `log`, a line after every epoch. The network
    takes the training images' shape and has `classes` logits."""
    ms.set_seed(seed)
    net = Classifier(picture_shape(train.images), classes)
    batch = min(BATCH, len(train))  # a set smaller than one batch still trains, on all of it at once
    steps_per_epoch = len(train) // batch
    # the rate falls along a half cosine to LR/100 over the run
    rates = nn.cosine_decay_lr(LR / 100, LR, steps_per_epoch * epochs, steps_per_epoch, epochs)
    optimizer = nn.Adam(net.trainable_params(), learning_rate=rates)
    loss_fn = nn.CrossEntropyLoss()

    def loss(x, y):
        return loss_fn(net(x)[1], y)

    grad = ms.value_and_grad(loss, None, optimizer.parameters)

    @ms.jit
    def step(x, y):
        loss, grads = grad(x, y)
        optimizer(grads)
        return loss

    net.set_train(True)
    labels = train.labels.astype(np.int32)
    started, last = time.perf_counter(), None
    for epoch in range(epochs):
        shifted = shift(train.images, stream(seed, CLASSIFIER_SHIFT, epoch))
        for index in batches(len(train), batch, seed, epoch, CLASSIFIER_ORDER):
            last = step(Tensor(to_model_range(shifted[index])), Tensor(labels[index]))
        if log and last is not None:
            print(f"epoch {epoch + 1}/{epochs}: loss {float(last.asnumpy()):.4f} (last batch), "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    return net


def shift(images: np.ndarray, rng: np.random.Generator, most: int = SHIFT) -> np.ndarray:
    """Each image, grey (N, H, W) or colour (N, H, W, 3), moved by its own random whole-pixel offset of at most
    `most` in x and y (zeros, the digits' background, fill in). With 4,000 training digits it lifted held-out
    accuracy from 95.3% to 96.4% (a narrower network, 12 and 20 epochs); the wider layers and the cosine rate took
    it to 97.4%."""
    n, h, w = images.shape[:3]
    padded = np.pad(images, ((0, 0), (most, most), (most, most)) + ((0, 0),) * (images.ndim - 3))
    dy, dx = rng.integers(0, 2 * most + 1, (2, n))
    rows = (dy[:, None] + np.arange(h))[:, :, None]
    cols = (dx[:, None] + np.arange(w))[:, None, :]
    return padded[np.arange(n)[:, None, None], rows, cols]


def reference_of(net: Classifier, images: np.ndarray) -> dict[str, np.ndarray]:
    """What every score compares with, saved beside the weights: the features of the images the classifier
    trained on, and their k-NN manifold radii (computing them took about 3.5 s of each eval.py run)."""
    features = judge(net, images)[0]
    return {REFERENCE_FEATURES: features.astype(np.float32), REFERENCE_RADII: manifold_radii(features)}


def load_classifier(path: Path = CLASSIFIER_CKPT) -> Classifier:
    """The shipped (or a given) classifier, loaded strictly, in eval mode."""
    return load_classifier_and_reference(path)[0]


def load_classifier_and_reference(path: Path = CLASSIFIER_CKPT) -> tuple[Classifier, dict[str, Any]]:
    """The classifier, in eval mode, and what was saved beside it: its reference (see reference_of) and, from
    this version on, its sample shape, class names, what the reference is and the real floor (see
    recorded_shape, recorded_classes). Every way the file can fail to be a judge is one line with the fix."""
    params, extras = read_classifier_file(Path(path))
    # It only judges, and the native kernels' forward is the faster: 2,000 digits took 0.54 s against 1.72 s through
    # matrix multiplies on the 2-core CPU (whose gain is in the backward pass), features within 1e-5.
    net = Classifier(recorded_shape(extras), len(recorded_classes(extras)), matmul=False)
    try:
        load_into(net, params, str(path))
    except MsganError as err:
        raise MsganError(f"{path} holds weights that do not fit the judge it describes ({err}): "
                         f"{TRAIN_A_JUDGE}") from err
    net.set_train(False)
    return net, extras


def read_classifier_file(path: Path) -> tuple[dict, dict[str, Any]]:
    """(parameters, extras) of a classifier checkpoint; a missing, damaged or foreign file is one MsganError."""
    if not path.is_file():
        raise MsganError(f"judge checkpoint {path} does not exist: {TRAIN_A_JUDGE}, or leave it out to use the "
                         "shipped digit judge")
    try:
        params, info, extras = read_checkpoint_extras(path)
    except MsganError as err:
        raise MsganError(f"{path} cannot be read as a judge checkpoint ({err}): {TRAIN_A_JUDGE}") from err
    if info.network != CLASSIFIER or REFERENCE_FEATURES not in extras:
        raise MsganError(f"{path} is a {info.network} checkpoint, not a judge (a classifier checkpoint of this "
                         f"msgan): {TRAIN_A_JUDGE}")
    return params, extras


def recorded_shape(extras: dict[str, Any]) -> Shape:
    """The sample shape a classifier checkpoint was trained on; the digits' when it predates the record."""
    return tuple(int(d) for d in extras[SAMPLE_SHAPE]) if SAMPLE_SHAPE in extras else MNIST_SHAPE


def recorded_classes(extras: dict[str, Any]) -> tuple[str, ...]:
    """The class names a classifier checkpoint was trained on; the digits' when it predates the record."""
    return tuple(json.loads(extras[CLASS_NAMES])) if CLASS_NAMES in extras else DIGIT_NAMES


def class_names(images: Images) -> tuple[str, ...]:
    """The dataset's class names (an array file's are its labels' numbers); fewer than two is refused: a judge
    learns to tell the classes apart."""
    names = images.classes
    if len(names) < 2:
        raise MsganError(f"{images.source} is unlabelled or holds a single class, but a judge learns the classes "
                         "and needs labelled data: class subfolders, or an .npz with 'labels'")
    return names


def output_path(out: Optional[str], data: str) -> Path:
    """--out, else the shipped asset for the embedded digits and judge.ckpt here for any other data; an existing
    file is refused before any training, so that no judge is ever overwritten."""
    path = Path(out or (CLASSIFIER_CKPT if data == EMBEDDED else CUSTOM_CKPT)).expanduser()
    if path.exists():
        raise MsganError(f"{path} already exists and is never overwritten: pass another --out, or remove it first")
    return path


def parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(prog="python -m msgan.classifier", description=__doc__.splitlines()[0])
    p.add_argument("--data", default=EMBEDDED, help="'embedded' (default) or any labelled dataset msgan reads: "
                                                    "MNIST idx files, class subfolders of images, an .npz ...")
    p.add_argument("--dataset", choices=list(DATASETS), help="what --data holds, when it is not recognised")
    p.add_argument("--image-size", type=int, help="train on images resized to N x N (default: the data's own size; "
                                                  f"a folder of mixed sizes is decoded at {FOLDER_SIDE})")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help=f"the checkpoint to write (never overwritten); default: {CLASSIFIER_CKPT} for "
                                 f"--data embedded, else {CUSTOM_CKPT} in the current folder")
    return p


def labelled_images(args: argparse.Namespace) -> tuple[str, Images, tuple[str, ...]]:
    """(dataset name, images at --image-size or their own size, class names) of --data."""
    if args.image_size is not None and args.image_size < 1:
        raise MsganError(f"--image-size must be at least 1, got {args.image_size}")
    name, images = load_images(args.data, args.dataset, folder_side=args.image_size or FOLDER_SIDE)
    names = class_names(images)
    return name, fit_side(images, args.image_size) if args.image_size else images, names


def about_split(source: str, which: str, count: int) -> str:
    """What a split is, as the judge reports its reference and its real floor."""
    return f"{source}, the classifier's {which} split ({count:,})"


def train_judge(args: argparse.Namespace) -> Path:
    """Train a judge as the flags say, print its held-out accuracy and save it with its reference and its real
    floor (the held-out split scored against that reference, as eval.py scores samples)."""
    out = output_path(args.out, args.data)
    name, images, names = labelled_images(args)
    train_idx, held_idx = split(images.labels, args.seed, len(names))
    train, held = subset(images, train_idx), subset(images, held_idx)
    print(f"msgan: training a judge on {len(train)} of {len(images)} images of {'x'.join(map(str, shape_of(images)))}"
          f" in {len(names)} classes ({images.source}) for {args.epochs} epochs; {len(held)} held out", flush=True)
    ms.set_context(mode=ms.GRAPH_MODE)
    started = time.perf_counter()
    net = train_classifier(train, args.epochs, args.seed, log=True, classes=len(names))
    held_out = accuracy(net, held)
    reference = reference_of(net, train.images)
    floor = scores(*judge(net, held.images), reference[REFERENCE_FEATURES].astype(np.float64),
                   reference[REFERENCE_RADII], held.labels)
    save_network(net, out, checkpoint_info(args.epochs, 0, CLASSIFIER, name, recipe_hash=""), {
        "held_out_accuracy": np.array(held_out), **reference, SAMPLE_SHAPE: np.array(shape_of(images), np.int32),
        CLASS_NAMES: json.dumps(names), REFERENCE_ABOUT: about_split(images.source, "training", len(train)),
        REAL_FLOOR: json.dumps({"source": about_split(images.source, "held-out", len(held)), **floor})})
    print(f"held-out accuracy {held_out:.4f} on {len(held)} images ({len(train)} trained on, "
          f"{time.perf_counter() - started:.0f} s); wrote {out}")
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    return run_reporting_errors(lambda: train_judge(args))


if __name__ == "__main__":
    sys.exit(main())
