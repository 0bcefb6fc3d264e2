"""msgan.sources: CIFAR-10 binaries, .npy/.npz arrays, image folders and the Fashion-MNIST download, each from
small files the test writes itself (never the network)."""
from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from msgan import sources
from msgan.errors import MsganError
from msgan.sources import download_fashion_mnist, read_array, read_cifar10, read_fashion_mnist, read_folder


def shape_image(seed: int, size: tuple[int, int] = (64, 64), mode: str = "RGB") -> Image.Image:
    """A coloured ellipse on a coloured background."""
    rng = np.random.default_rng(seed)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    img = Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 256, 3)))
    w, h = size
    ImageDraw.Draw(img).ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=colour)
    return img.convert(mode)


def colour_folder(root: Path) -> Path:
    """Two classes, PNG and JPEG, mostly 64x64, some other sizes and one greyscale."""
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            shape_image(i).save(root / cls / f"{i}.png")
            shape_image(10 + i).save(root / cls / f"{i}.jpg", quality=90)
    shape_image(50, (80, 40)).save(root / "cats" / "wide.png")
    shape_image(51, (30, 50)).save(root / "dogs" / "tall.jpg")
    shape_image(52, mode="L").save(root / "dogs" / "grey.png")
    return root


def grey_folder(root: Path, count: int = 5) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        shape_image(i, mode="L").save(root / f"{i}.png")
    return root


def test_colour_folder_with_classes(tmp_path, capsys):
    root = colour_folder(tmp_path / "shapes")
    found = read_folder(root, 32, tmp_path / "cache")
    assert found.images.shape == (19, 32, 32, 3) and found.images.dtype == np.uint8
    assert isinstance(found.images, np.memmap)  # decoded into a disk-backed array, not a list held in memory
    assert not list((tmp_path / "cache").glob(".tmp-*"))  # the scratch file is unlinked at once
    assert found.classes == ("cats", "dogs")
    assert found.labels.dtype == np.int32 and list(np.bincount(found.labels)) == [9, 10]
    out = capsys.readouterr().out
    assert "resized 19 of 19" in out and "converted 1 of 19" in out


def test_grey_folder_is_greyscale_and_unlabelled(tmp_path):
    found = read_folder(grey_folder(tmp_path / "grey"), 16, tmp_path / "cache")
    assert found.images.shape == (5, 16, 16) and found.classes == () and not found.labels.any()


def test_images_in_root_mean_unlabelled(tmp_path):
    root = grey_folder(tmp_path / "g")
    grey_folder(root / "a", 2)
    grey_folder(root / "b", 2)
    found = read_folder(root, 8, tmp_path / "cache")
    assert len(found) == 9 and found.classes == ()


def test_alpha_is_composited_on_white(tmp_path):
    root = tmp_path / "alpha"
    root.mkdir()
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(root / "clear.png")
    found = read_folder(root, 8, tmp_path / "cache")
    assert (found.images == 255).all()


def test_broken_files_are_skipped_and_counted(tmp_path, capsys):
    root = grey_folder(tmp_path / "mixed", 3)
    shape_image(1).save(root / "whole.jpg")
    raw = (root / "whole.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(raw[: len(raw) // 2])
    (root / "notes.png").write_text("not an image")
    found = read_folder(root, 16, tmp_path / "cache")
    assert len(found) == 4
    assert "msgan: skipped 2 of 6 files that Pillow cannot read (first: " in capsys.readouterr().out


def test_all_broken_is_an_error(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    for i in range(3):
        (root / f"{i}.jpg").write_bytes(b"garbage")
    with pytest.raises(MsganError, match="none of the 3 image files"):
        read_folder(root, 16, tmp_path / "cache")


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    with pytest.raises(MsganError, match=r"no image files in .*looked for .*\.png"):
        read_folder(tmp_path / "empty", 16, tmp_path / "cache")


def test_dangling_link_is_skipped(tmp_path, capsys):
    root = grey_folder(tmp_path / "d", 2)
    os.symlink(root / "gone.png", root / "link.png")
    assert len(read_folder(root, 8, tmp_path / "cache")) == 2
    assert "skipped 1 of 3" in capsys.readouterr().out


def test_symlink_loop_finishes(tmp_path):
    root = grey_folder(tmp_path / "loop", 2)
    (root / "sub").mkdir()
    shape_image(3, mode="L").save(root / "sub" / "x.png")
    os.symlink(root, root / "sub" / "back")
    os.symlink(root / "sub", root / "again")
    found = read_folder(root, 8, tmp_path / "cache")
    assert len(found) == 3


def test_decompression_bomb_is_skipped(tmp_path, monkeypatch, capsys):
    root = grey_folder(tmp_path / "bomb", 2)
    Image.new("L", (100, 100)).save(root / "big.png")  # over twice the limit: Pillow's DecompressionBombError
    Image.new("L", (70, 70)).save(root / "warn.png")  # over the limit: only a warning, which msgan makes an error
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64 + 1)
    found = read_folder(root, 8, tmp_path / "cache")
    assert len(found) == 2
    out = capsys.readouterr().out
    assert "skipped 2 of 4" in out and "big.png" in out


def test_cache_hit_does_not_decode(tmp_path, monkeypatch):
    root = colour_folder(tmp_path / "shapes")
    first = read_folder(root, 16, tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("folder-*.npz"))) == 1

    def no_decoding(*args):
        raise AssertionError("decoded despite the cache")
    monkeypatch.setattr(sources, "decode", no_decoding)
    again = read_folder(root, 16, tmp_path / "cache")
    assert np.array_equal(first.images, again.images) and np.array_equal(first.labels, again.labels)
    assert again.classes == first.classes
    # a changed file changes the key: decoded again
    shape_image(99).save(root / "cats" / "0.png")
    with pytest.raises(AssertionError, match="despite the cache"):
        read_folder(root, 16, tmp_path / "cache")


def test_unwritable_cache_is_a_note(tmp_path, capsys):
    # a cache folder below a plain file cannot be made, even by root (a chmod 0500 folder is writable to root)
    (tmp_path / "file").write_text("x")
    found = read_folder(grey_folder(tmp_path / "g", 2), 8, tmp_path / "file" / "cache")
    assert len(found) == 2 and "could not cache" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- CIFAR-10

def cifar_records(labels: list[int]) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(0)
    planes = rng.integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
    raw = b"".join(bytes([label]) + planes[i].tobytes() for i, label in enumerate(labels))
    return raw, planes.transpose(0, 2, 3, 1)


def test_cifar_binary(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    raw, expected = cifar_records([3, 0, 9])
    (folder / "data_batch_1.bin").write_bytes(raw)
    (folder / "data_batch_2.bin").write_bytes(raw[:3073])
    found = read_cifar10(tmp_path)
    assert found.images.shape == (4, 32, 32, 3)
    assert np.array_equal(found.images[:3], expected) and list(found.labels) == [3, 0, 9, 3]
    assert found.classes[0] == "airplane" and found.classes[9] == "truck"
    (folder / "batches.meta.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n\n")
    assert read_cifar10(folder).classes[3] == "c3"


def test_cifar_wrong_length_and_label(tmp_path):
    raw, _ = cifar_records([1, 2])
    (tmp_path / "data_batch_1.bin").write_bytes(raw[:-5])
    with pytest.raises(MsganError, match="holds 6141 bytes, not a whole number of 3073"):
        read_cifar10(tmp_path)
    raw, _ = cifar_records([1, 12])
    (tmp_path / "data_batch_1.bin").write_bytes(raw)
    with pytest.raises(MsganError, match="record 1 has label 12"):
        read_cifar10(tmp_path)


def test_cifar_missing(tmp_path):
    with pytest.raises(MsganError, match="no CIFAR-10 binary batches"):
        read_cifar10(tmp_path)


# ------------------------------------------------------------------------------------------ .npy / .npz

def test_npy_good(tmp_path):
    x = np.zeros((4, 8, 8, 1), np.uint8)
    np.save(tmp_path / "a.npy", x)
    assert read_array(tmp_path / "a.npy").images.shape == (4, 8, 8)
    np.save(tmp_path / "c.npy", np.zeros((2, 8, 8, 3), np.uint8))
    assert read_array(tmp_path / "c.npy").images.shape == (2, 8, 8, 3)


def test_npz_good(tmp_path):
    np.savez(tmp_path / "a.npz", images=np.zeros((3, 5, 5), np.uint8), labels=np.array([0, 2, 1]))
    found = read_array(tmp_path / "a.npz")
    assert found.labels.dtype == np.int32 and list(found.labels) == [0, 2, 1] and found.classes == ("0", "1", "2")
    np.savez(tmp_path / "only.npz", np.zeros((3, 5, 5), np.uint8))
    assert len(read_array(tmp_path / "only.npz")) == 3


@pytest.mark.parametrize("array, message", [
    (np.zeros((2, 8, 8), np.float32), "dtype float32, expected uint8"),
    (np.zeros((8, 8), np.uint8), r"shape \(8, 8\), expected"),
    (np.zeros((2, 8, 8, 4), np.uint8), r"shape \(2, 8, 8, 4\)"),
    (np.array([None, 1], dtype=object), "pickled object array"),
])
def test_npy_bad(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array, allow_pickle=True)
    with pytest.raises(MsganError, match=message):
        read_array(tmp_path / "bad.npy")


def test_npz_bad(tmp_path):
    np.savez(tmp_path / "n.npz", images=np.zeros((3, 5, 5), np.uint8), labels=np.array([0, 1]))
    with pytest.raises(MsganError, match="3 images but 2 labels"):
        read_array(tmp_path / "n.npz")
    np.savez(tmp_path / "f.npz", images=np.zeros((3, 5, 5), np.uint8), labels=np.zeros(3))
    with pytest.raises(MsganError, match="dtype float64, expected a 1-D integer"):
        read_array(tmp_path / "f.npz")
    np.savez(tmp_path / "k.npz", a=np.zeros(3), b=np.zeros(3))
    with pytest.raises(MsganError, match="none is named 'images'"):
        read_array(tmp_path / "k.npz")
    np.savez(tmp_path / "o.npz", images=np.array([None], dtype=object))
    with pytest.raises(MsganError, match="pickled object array"):
        read_array(tmp_path / "o.npz")


# ------------------------------------------------------------------------------------------ Fashion-MNIST

def fake_fashion(server: Path, count: int = 6) -> dict[str, str]:
    """Tiny idx files, gzipped, in a folder served by a file:// URL; returns their MD5s."""
    server.mkdir()
    images = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (count, 28, 28))
    images += bytes(count * 28 * 28)
    labels = (2049).to_bytes(4, "big") + count.to_bytes(4, "big") + bytes(range(count))
    md5s = {}
    for name, raw in (("train-images-idx3-ubyte.gz", images), ("train-labels-idx1-ubyte.gz", labels)):
        (server / name).write_bytes(gzip.compress(raw))
        md5s[name] = hashlib.md5((server / name).read_bytes()).hexdigest()
    return md5s


def test_fashion_download_checked(tmp_path, monkeypatch):
    md5s = fake_fashion(tmp_path / "server")
    monkeypatch.setattr(sources, "FASHION_FILES", tuple(md5s.items()))
    root = tmp_path / "data"
    download_fashion_mnist(root, (tmp_path / "server").as_uri())
    found = read_fashion_mnist(root)
    assert found.images.shape == (6, 28, 28) and list(found.labels) == list(range(6))
    assert found.classes[0] == "T-shirt/top"
    # already there: kept, nothing fetched (the server is gone)
    before = (root / "train-images-idx3-ubyte.gz").stat().st_mtime_ns
    download_fashion_mnist(root, (tmp_path / "nowhere").as_uri())
    assert (root / "train-images-idx3-ubyte.gz").stat().st_mtime_ns == before


def test_fashion_checksum_mismatch_leaves_nothing(tmp_path):
    fake_fashion(tmp_path / "server")  # the real MD5s do not match these files
    root = tmp_path / "data"
    with pytest.raises(MsganError, match="MD5 .* expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d"):
        download_fashion_mnist(root, (tmp_path / "server").as_uri())
    assert list(root.iterdir()) == []


def test_fashion_unreachable(tmp_path):
    with pytest.raises(MsganError, match="could not download"):
        download_fashion_mnist(tmp_path / "data", (tmp_path / "nowhere").as_uri())
    assert list((tmp_path / "data").iterdir()) == []
