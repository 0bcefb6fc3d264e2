"""The datasets msgan trains on, in one registry: what each one is, how `--data` is recognised as it, how it
is read (msgan.data for MNIST, msgan.sources for the others) and, for some, downloaded. Adding a dataset is one
entry in DATASETS.

Every dataset is read into msgan.sources.Images (uint8 pictures, labels, class names); `fit_side` then
center-crops and resizes them to the side the run trains at. Nothing here imports MindSpore.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image

from msgan.data import DIGIT_NAMES, download_mnist, find_idx_files, load_digits, picture_shape
from msgan.errors import MsganError
from msgan.sources import (FASHION_FILES, Images, cifar_batches, download_fashion_mnist, read_array, read_cifar10,
                           read_fashion_mnist, read_folder, square_resize)

EMBEDDED = "embedded"
ARRAY_SUFFIXES = (".npy", ".npz")


def cache_dir() -> Path:
    """Where decoded image folders are kept: $MSGAN_CACHE, or ~/.cache/msgan."""
    return Path(os.environ.get("MSGAN_CACHE") or Path.home() / ".cache" / "msgan").expanduser()


def read_mnist(path: Path, folder_side: int) -> Images:
    """MNIST from idx files, or the embedded digits for the path 'embedded'."""
    digits = load_digits(str(path))
    return Images(digits.images, digits.labels, DIGIT_NAMES, digits.source)


def finds(finder: Callable[[Path], object]) -> Callable[[Path], bool]:
    """A recogniser from a function that finds a dataset's files in a folder, or refuses when they are not there."""
    def recognise(path: Path) -> bool:
        try:
            finder(path)
            return True
        except MsganError:
            return False
    return recognise


has_idx_files, has_cifar_batches = finds(find_idx_files), finds(cifar_batches)


def is_fashion(path: Path) -> bool:
    """Idx files whose labels are Fashion-MNIST's own download (its MD5): the same format as MNIST's."""
    try:
        labels = find_idx_files(path)[1]
    except MsganError:
        return False
    name, md5 = FASHION_FILES[1]
    return labels.name == name and hashlib.md5(labels.read_bytes()).hexdigest() == md5


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: what --data holds for it, a test that recognises it, its reader (given the side that a folder
    of mixed sizes is decoded at) and its download, if it has one."""

    about: str
    recognise: Callable[[Path], bool]
    read: Callable[[Path, int], Images]
    download: Optional[Callable[[Path], None]] = None


# In the order --data is recognised: the first whose test passes is the dataset.
DATASETS: dict[str, DatasetSpec] = {
    "fashion-mnist": DatasetSpec("Fashion-MNIST idx files (--download fetches them, checked by MD5)", is_fashion,
                                 lambda path, side: read_fashion_mnist(path), download_fashion_mnist),
    "mnist": DatasetSpec("MNIST idx files, or 'embedded' (--download fetches the tutorial's MNIST_Data.zip)",
                         has_idx_files, read_mnist, download_mnist),
    "cifar10": DatasetSpec("CIFAR-10's binary batches (cifar-10-batches-bin; never the pickled version)",
                           has_cifar_batches, lambda path, side: read_cifar10(path)),
    "array": DatasetSpec("a .npy of uint8 images, or an .npz with 'images' (and 'labels')",
                         lambda path: path.is_file() and path.suffix in ARRAY_SUFFIXES,
                         lambda path, side: read_array(path)),
    "folder": DatasetSpec("a folder of image files, searched recursively; class subfolders become labels",
                          Path.is_dir, lambda path, side: read_folder(path, side, cache_dir())),
}
KNOWN = "MNIST or Fashion-MNIST idx files, cifar-10-batches-bin, images, or a .npy/.npz file"


def recognise(data: str, dataset: Optional[str]) -> str:
    """The dataset's name: `dataset` when given (its reader then says, in one line, what the files lack), else
    the first that recognises `data`."""
    path = Path(data).expanduser()
    if data == EMBEDDED:
        if dataset not in (None, "mnist"):
            raise MsganError(f"--data embedded holds MNIST digits, not {dataset}: pass --data with the {dataset} files")
        return "mnist"
    if not path.exists():
        raise MsganError(f"data folder {path} does not exist: give a folder of {KNOWN}, add --download, "
                         "or use --data embedded")
    if dataset is not None:
        return dataset
    found = next((name for name, spec in DATASETS.items() if spec.recognise(path)), None)
    if found is None:
        raise MsganError(f"--data {path} is a file: give the folder that holds it and the other images or MNIST "
                         f"idx files (--data {path.parent}), a .npy or .npz file, or use --data embedded")
    return found


def load_images(data: str, dataset: Optional[str] = None, download: bool = False, folder_side: int = 32,
                limit: Optional[int] = None) -> tuple[str, Images]:
    """(name, images) of the dataset that `data` holds (or that `dataset` names), downloaded into it first when
    asked; a folder of images is decoded at `folder_side`. With `limit`, its first `limit` images."""
    if download:
        name = dataset or "mnist"
        fetch = DATASETS[name].download
        if fetch is None:
            raise MsganError(f"--download fetches {', '.join(n for n, s in DATASETS.items() if s.download)}, not "
                             f"{name}: put the files in a folder yourself and pass it with --data")
        if data == EMBEDDED:
            raise MsganError("--download needs a folder to download into: add --data DIR (e.g. --data .)")
        fetch(Path(data).expanduser())
    name = recognise(data, dataset)
    images = DATASETS[name].read(Path(data).expanduser(), folder_side)  # read_mnist takes 'embedded' too
    if limit is not None:
        if limit < 1:
            raise MsganError(f"--limit must be at least 1, got {limit}")
        images = Images(images.images[:limit], images.labels[:limit], images.classes,
                        f"{images.source}, first {limit}")
    return name, images


def shape_of(images: Images) -> tuple[int, int, int]:
    """(channels, height, width) of one image, as the models take it."""
    return picture_shape(images.images)


def fit_side(images: Images, side: int) -> Images:
    """The images center-cropped to a square and resized (bicubic) to side x side; unchanged when they are."""
    _, height, width = shape_of(images)
    if height == width == side:
        return images
    resized = np.stack([square_resize(Image.fromarray(picture), side) for picture in images.images])
    print(f"msgan: {len(images):,} images of {height}x{width} center-cropped and resized to {side}x{side} "
          "(--image-size)", flush=True)
    return Images(resized, images.labels, images.classes, images.source)
