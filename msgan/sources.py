"""Image datasets read into one in-memory form: CIFAR-10 binary batches, .npy/.npz arrays, folders of image
files (decoded once with Pillow and cached), and the Fashion-MNIST download. Pure NumPy and Pillow: nothing
here imports MindSpore, so reading data never waits on the framework.

Every bad input is one MsganError line naming the problem and the fix."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from msgan.data import load_idx_folder
from msgan.errors import MsganError
from msgan.files import atomic_path

CIFAR_RECORD = 1 + 3 * 32 * 32  # one label byte, then 1024 red, 1024 green, 1024 blue bytes
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# The official MD5s (also listed by torchvision's FashionMNIST.resources).
FASHION_FILES = (("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
CACHE_VERSION = 1  # bump when decoding changes, so that old caches are never mistaken for new ones
# Single-band modes (with or without alpha): a folder of only these is read as greyscale.
GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
WHITE = (255, 255, 255, 255)
MAX_CLASSES = 10_000  # a conditional model learns a vector per class


@dataclass
class Images:
    """A dataset in memory: uint8 images (N, H, W) greyscale or (N, H, W, 3) colour, int32 labels (zeros when
    unlabelled), the class names in label order (() when unlabelled), and where it came from, for messages."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.images)


# ---------------------------------------------------------------------------------------------- CIFAR-10

def cifar_batches(root: Path) -> list[Path]:
    """data_batch_1.bin .. data_batch_5.bin (those present) in `root` or `root/cifar-10-batches-bin`."""
    for folder in (root, root / "cifar-10-batches-bin"):
        found = [folder / f"data_batch_{i}.bin" for i in range(1, 6) if (folder / f"data_batch_{i}.bin").is_file()]
        if found:
            return found
    raise MsganError(f"no CIFAR-10 binary batches (data_batch_1.bin .. data_batch_5.bin) in {root} or "
                     f"{root / 'cifar-10-batches-bin'}: download and unpack cifar-10-binary.tar.gz "
                     "(the binary version, not the Python one)")


def cifar_classes(folder: Path) -> tuple[str, ...]:
    """The class names from batches.meta.txt beside the batches, else the standard ten."""
    meta = folder / "batches.meta.txt"
    if meta.is_file():
        names = tuple(line.strip() for line in meta.read_text(encoding="utf-8", errors="replace").splitlines()
                      if line.strip())
        if len(names) == 10:
            return names
    return CIFAR_CLASSES


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch as (N, 32, 32, 3) uint8 images and their labels."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise MsganError(f"cannot read {path} ({err.strerror or err}): check its permissions") from err
    if len(raw) == 0 or len(raw) % CIFAR_RECORD:
        raise MsganError(f"{path} holds {len(raw)} bytes, not a whole number of {CIFAR_RECORD}-byte CIFAR-10 "
                         "records: the file is truncated or not a CIFAR-10 binary batch, download it again")
    records = raw.reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].astype(np.int32)
    if labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise MsganError(f"{path} record {bad} has label {labels[bad]}, CIFAR-10 labels are 0-9: the file is "
                         "damaged or from another dataset (CIFAR-100?), download CIFAR-10 again")
    # The planes are stored channel by channel: (N, 3, 32, 32) -> (N, 32, 32, 3)
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_cifar10(root: Path) -> Images:
    """The CIFAR-10 training set from its binary batches. Only the binary version is read: the Python version is
    pickled, and unpickling a downloaded file runs whatever code it holds."""
    root = Path(root)
    paths = cifar_batches(root)
    parts = [read_cifar_batch(path) for path in paths]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return Images(images, labels, cifar_classes(paths[0].parent), f"{paths[0].parent.name} in {paths[0].parent.parent}")


# ------------------------------------------------------------------------------------------ .npy / .npz

def load_array(path: Path):
    """np.load without pickles; a pickled or unreadable file is one line."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        if "pickle" in str(err):
            raise MsganError(f"{path} holds a pickled object array, which msgan does not load (unpickling runs "
                             "code): save the images as a uint8 array") from err
        raise MsganError(f"{path} is not a readable .npy/.npz file ({err}): save it again with np.save") from err
    except (OSError, EOFError) as err:
        raise MsganError(f"{path} is not a readable .npy/.npz file ({err}): save it again with np.save") from err


def _member(archive, path: Path, key: str) -> np.ndarray:
    """One array of an .npz; an object array inside it is refused like a pickled .npy."""
    try:
        return archive[key]
    except ValueError as err:
        raise MsganError(f"{path} holds '{key}' as a pickled object array, which msgan does not load (unpickling "
                         "runs code): save it as a plain numeric array") from err


def check_images(images: np.ndarray, where: str) -> np.ndarray:
    """uint8 (N, H, W), (N, H, W, 1) squeezed, or (N, H, W, 3)."""
    if images.dtype != np.uint8:
        raise MsganError(f"{where} holds images of dtype {images.dtype}, expected uint8 (0-255): convert with "
                         "`(x * 255).round().astype(np.uint8)` or `x.astype(np.uint8)` before saving")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
        raise MsganError(f"{where} holds images of shape {images.shape}, expected (N, H, W), (N, H, W, 1) or "
                         "(N, H, W, 3) with channels last")
    if len(images) == 0:
        raise MsganError(f"{where} holds no images (shape {images.shape}): save a non-empty array")
    return images


def check_labels(labels: np.ndarray, count: int, where: str) -> np.ndarray:
    """Integer labels, one per image."""
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise MsganError(f"{where} holds labels of shape {labels.shape} and dtype {labels.dtype}, expected a "
                         "1-D integer array")
    if len(labels) != count:
        raise MsganError(f"{where} holds {count} images but {len(labels)} labels: save one label per image")
    if count and labels.min() < 0:
        raise MsganError(f"{where} holds a negative label ({labels.min()}): labels must be 0 or more")
    if count and labels.max() >= MAX_CLASSES:
        raise MsganError(f"{where} holds the label {labels.max()}: labels number the classes from 0, and msgan takes "
                         f"at most {MAX_CLASSES:,} classes; renumber them 0, 1, 2, …")
    return labels.astype(np.int32)


def read_array(path: Path) -> Images:
    """Images from a .npy (uint8 images alone) or an .npz (key 'images', or its only array, and optional
    integer 'labels'). Arrays are loaded with allow_pickle=False."""
    path = Path(path)
    if not path.is_file():
        raise MsganError(f"{path} does not exist: give a .npy or .npz file of uint8 images")
    data = load_array(path)
    labels: Optional[np.ndarray] = None
    if isinstance(data, np.ndarray):
        images = data
    else:
        with data:
            keys = list(data.keys())
            if "images" in keys:
                key = "images"
            elif len(keys) == 1:
                key = keys[0]
            else:
                raise MsganError(f"{path} holds arrays {keys} and none is named 'images': save the images under "
                                 "the key 'images' (np.savez(path, images=x, labels=y))")
            images = _member(data, path, key)
            if "labels" in keys and key != "labels":
                labels = _member(data, path, "labels")
    images = check_images(images, str(path))
    if labels is None:
        return Images(images, np.zeros(len(images), np.int32), (), str(path))
    labels = check_labels(labels, len(images), str(path))
    classes = tuple(str(c) for c in range(int(labels.max()) + 1)) if len(labels) else ()  # named by number
    return Images(images, labels, classes, str(path))


# -------------------------------------------------------------------------------------------- a folder

def image_extensions() -> set[str]:
    """The lower-case extensions that Pillow can open (not those it can only write, such as .pdf)."""
    return {ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def walk_images(root: Path, extensions: set[str]) -> list[Path]:
    """Every file under `root` with an image extension, relative to `root` and sorted. Symlinked folders are
    followed, but a folder whose real path was already visited is not entered again, so a link loop ends.
    Hidden files and folders (names starting with '.') are left out: they are editors' and tools' leftovers."""
    visited: set[str] = set()
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and os.path.realpath(os.path.join(folder, d)) not in visited)
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in extensions:
                found.append(Path(folder, name).relative_to(root))
    return sorted(found)


def folder_classes(relative: list[Path]) -> tuple[tuple[str, ...], np.ndarray]:
    """Class names and labels from top-level subfolders: only when images lie in two or more of them and none
    lies directly in the root; otherwise unlabelled."""
    tops = [p.parts[0] if len(p.parts) > 1 else None for p in relative]
    names = sorted({t for t in tops if t is not None})
    if None in tops or len(names) < 2:
        return (), np.zeros(len(relative), np.int32)
    index = {name: i for i, name in enumerate(names)}
    return tuple(names), np.array([index[t] for t in tops], np.int32)


def cache_key(root: Path, image_size: int, relative: list[Path]) -> str:
    """A hash of everything the decoded array depends on: the folder, the size, each file's name, length and
    modification time, and the decoding version."""
    entries = []
    for rel in relative:
        try:
            stat = (root / rel).stat()
            entries.append([rel.as_posix(), stat.st_size, stat.st_mtime_ns])
        except OSError:  # a dangling link (or a file removed since the listing): decoding skips and counts it
            entries.append([rel.as_posix(), -1, -1])
    blob = json.dumps([CACHE_VERSION, str(root.resolve()), image_size, entries])
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class _Skipped:
    """Counts the files Pillow cannot read and remembers the first, for one line at the end."""

    def __init__(self) -> None:
        self.count = 0
        self.first = ""

    def add(self, path: Path, err: BaseException) -> None:
        if not self.count:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            self.first = f"{path}: {reason}"
        self.count += 1


def _open_guarded(path: Path) -> Image.Image:
    """Image.open with a decompression bomb (over Image.MAX_IMAGE_PIXELS) raised, not merely warned about."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path)


def probe(path: Path) -> tuple[str, tuple[int, int]]:
    """The mode and size from a file's header, without decoding its pixels."""
    with _open_guarded(path) as img:
        return img.mode, img.size


def _to_target_mode(img: Image.Image, grey: bool) -> Image.Image:
    """Convert to L or RGB. Transparency is composited on white (a transparent background would otherwise turn
    black or show the colours hidden under it); 16-bit and float greyscale are scaled down to 0-255."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if arr.max(initial=0) > 255:  # 16-bit data: scale 0-65535 to 0-255
            arr = arr / 257.0
        img = Image.fromarray(np.clip(arr.round(), 0, 255).astype(np.uint8), "L")
    elif "A" in img.getbands() or "a" in img.getbands() or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, WHITE), rgba)
    return img.convert("L" if grey else "RGB")


def decode(path: Path, image_size: int, grey: bool) -> np.ndarray:
    """One file center-cropped to a square and resized to image_size x image_size, as uint8.

    BICUBIC rather than LANCZOS: Pillow's resize filters the whole source footprint when shrinking, so both
    avoid aliasing; bicubic is faster and rings less at edges, and the difference is invisible at GAN sizes."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            # A JPEG can be decoded at 1/2, 1/4 or 1/8 scale for free: ask for no less than twice the target
            img.draft("L" if grey else "RGB", (image_size * 2, image_size * 2))
            img.load()
            img = _to_target_mode(img, grey)
    return square_resize(img, image_size)


def square_resize(img: Image.Image, image_size: int) -> np.ndarray:
    """The image's centered square resized to image_size x image_size, as uint8."""
    w, h = img.size
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    return np.asarray(img.resize((image_size, image_size), Image.Resampling.BICUBIC, box=box), dtype=np.uint8)


def _scratch_memmap(shape: tuple[int, ...], cache_dir: Path) -> np.ndarray:
    """A uint8 array on disk for decoding into: a folder larger than memory is decoded, not refused. The file
    is unlinked at once (the mapping keeps it alive), so nothing is left behind."""
    folder = cache_dir if os.access(cache_dir, os.W_OK) else Path(tempfile.gettempdir())
    fd, name = tempfile.mkstemp(dir=folder, prefix=".tmp-decode-", suffix=".npy")
    os.close(fd)
    try:
        return np.lib.format.open_memmap(name, mode="w+", dtype=np.uint8, shape=shape)
    finally:
        os.unlink(name)


def _load_cache(path: Path) -> Optional[Images]:
    """A cache written by `_save_cache`, or None when it is absent or unreadable (then the folder is decoded)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return Images(data["images"], data["labels"].astype(np.int32),
                          tuple(str(c) for c in data["classes"]), str(data["source"]))
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _save_cache(path: Path, found: Images) -> None:
    """Write the cache atomically; a folder that cannot be written is a note, not a failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            np.savez(tmp, images=found.images, labels=found.labels,
                     classes=np.array(found.classes, dtype=str), source=np.array(found.source))
    except (MsganError, OSError) as err:
        print(f"msgan: note: could not cache the decoded images ({err}); the folder will be decoded again "
              "next time", flush=True)


def read_folder(root: Path, image_size: int, cache_dir: Path) -> Images:
    """Every image file under `root` (recursively), center-cropped and resized to image_size, decoded once and
    cached in `cache_dir/folder-<key>.npz`.

    Images in two or more top-level subfolders (and none directly in root) are labelled by subfolder, in sorted
    order. The set is greyscale (N, S, S) when every file is single-band, else RGB (N, S, S, 3); alpha is
    composited on white. Files Pillow cannot read (damaged, truncated, not images, decompression bombs) are
    skipped and counted in one printed line."""
    root, cache_dir = Path(root), Path(cache_dir)
    if image_size < 1:
        raise MsganError(f"the image size must be at least 1 pixel, got {image_size}")
    if not root.is_dir():
        raise MsganError(f"image folder {root} does not exist or is not a folder: give a folder of image files")
    extensions = image_extensions()
    relative = walk_images(root, extensions)
    if not relative:
        raise MsganError(f"no image files in {root} (looked for {', '.join(sorted(extensions))}): "
                         "point it at a folder of images")
    cache = cache_dir / f"folder-{cache_key(root, image_size, relative)}.npz"
    cached = _load_cache(cache)
    if cached is not None:
        return cached
    found = decode_folder(root, relative, image_size, cache_dir)
    _save_cache(cache, found)
    return found


def decode_folder(root: Path, relative: list[Path], image_size: int, cache_dir: Path) -> Images:
    """Probe every file's header, then decode the readable ones in order into a disk-backed array."""
    classes, labels = folder_classes(relative)
    skipped = _Skipped()
    readable: list[int] = []
    modes: list[str] = []
    sizes: list[tuple[int, int]] = []
    for i, rel in enumerate(relative):
        try:
            mode, size = probe(root / rel)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            skipped.add(root / rel, err)
            continue
        readable.append(i)
        modes.append(mode)
        sizes.append(size)
    grey = bool(modes) and all(m in GREY_MODES for m in modes)
    shape = (len(readable), image_size, image_size) + (() if grey else (3,))
    images = _scratch_memmap(shape, cache_dir) if readable else np.zeros(shape, np.uint8)
    kept: list[int] = []
    for i in readable:
        try:
            images[len(kept)] = decode(root / relative[i], image_size, grey)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            skipped.add(root / relative[i], err)
            continue
        kept.append(i)
    if skipped.count:
        print(f"msgan: skipped {skipped.count} of {len(relative)} files that Pillow cannot read "
              f"(first: {skipped.first}); the other {len(relative) - skipped.count} are used: replace or remove "
              "those files to use them all", flush=True)
    if not kept:
        raise MsganError(f"none of the {len(relative)} image files in {root} can be read by Pillow "
                         f"(first: {skipped.first}): check that they are images and not damaged")
    _note_conversions(modes, sizes, readable, kept, image_size, grey)
    return Images(images[:len(kept)], labels[kept], classes, str(root))


def _note_conversions(modes: list[str], sizes: list[tuple[int, int]], readable: list[int], kept: list[int],
                      image_size: int, grey: bool) -> None:
    """One line counting the images that were resized or converted, so a mixed folder is no surprise."""
    keep = set(kept)
    pairs = [(m, s) for i, m, s in zip(readable, modes, sizes) if i in keep]
    target = "L" if grey else "RGB"
    resized = sum(1 for _, s in pairs if s != (image_size, image_size))
    converted = sum(1 for m, _ in pairs if m != target)
    notes = []
    if resized:
        notes.append(f"resized {resized} of {len(pairs)} images to {image_size}x{image_size} "
                     "(center-cropped to a square first)")
    if converted:
        notes.append(f"converted {converted} of {len(pairs)} from other modes to {target}")
    if notes:
        print(f"msgan: {'; '.join(notes)}", flush=True)


# ------------------------------------------------------------------------------------------ Fashion-MNIST

def _fetch_checked(url: str, target: Path, md5: str) -> None:
    """Download `url` to `target` atomically, checking its MD5; a failed or wrong download leaves nothing."""
    with atomic_path(target) as tmp:
        digest = hashlib.md5()
        try:
            with open(tmp, "wb") as f, urllib.request.urlopen(url, timeout=60) as response:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    f.write(chunk)
        except (OSError, ValueError) as err:  # URLError and socket timeouts are OSErrors
            raise MsganError(f"could not download {url} ({getattr(err, 'reason', err)}): check the network, "
                             f"or put {target.name} into {target.parent} yourself") from err
        if digest.hexdigest() != md5:
            raise MsganError(f"{url} downloaded with MD5 {digest.hexdigest()}, expected {md5}: the download is "
                             "damaged or the file changed, try again")


def download_fashion_mnist(root: Path, url: str = FASHION_URL) -> None:
    """Fetch the Fashion-MNIST training images and labels (.gz idx files) into `root`, checking their MD5s.
    Files already there are kept as they are: msgan never overwrites your files."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MsganError(f"cannot create data folder {root} ({err.strerror}): pass a folder you can write to") from err
    base = url if url.endswith("/") else url + "/"
    for name, md5 in FASHION_FILES:
        target = root / name
        if target.exists():
            continue
        print(f"msgan: downloading {base}{name} into {root}", flush=True)
        _fetch_checked(base + name, target, md5)


def read_fashion_mnist(root: Path) -> Images:
    """Fashion-MNIST from idx files, read by msgan.data's MNIST reader (the formats are the same)."""
    digits = load_idx_folder(Path(root))
    return Images(digits.images, digits.labels, FASHION_CLASSES, f"Fashion-MNIST in {root}")

