import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import idx_bytes, write_mnist
from msgan.data import (batches, download_mnist, interleave_classes, load_digits, load_embedded, pattern_set, real_patterns,
                        to_model_range, to_uint8)
from msgan.errors import MsganError


def test_embedded_digits_are_real_mnist_with_labels():
    digits = load_embedded()
    assert digits.images.shape == (5000, 28, 28) and digits.images.dtype == np.uint8
    assert sorted(set(digits.labels.tolist())) == list(range(10))
    # the file is sorted by label; msgan interleaves the classes so that --limit takes every digit
    assert digits.labels[:20].tolist() == list(range(10)) * 2
    assert np.bincount(digits.labels[:640], minlength=10).min() >= 60
    # MNIST digits: dark background, bright strokes in the middle
    assert digits.images[:, :3, :].mean() < 1 and digits.images[:, 10:18, 10:18].mean() > 60


@pytest.mark.parametrize("layout", ["plain", "gz", "tutorial", "dotted-names"])
def test_idx_files_in_every_layout(tmp_path, layout):
    folder = tmp_path / "MNIST_Data" / "train" if layout == "tutorial" else tmp_path
    images, labels = write_mnist(folder, n=20, gz=layout == "gz", dotted=layout == "dotted-names")
    digits = load_digits(str(tmp_path))
    np.testing.assert_array_equal(digits.images, images)
    np.testing.assert_array_equal(digits.labels, labels)


def test_interleave_classes_is_a_stable_round_robin():
    labels = np.array([2, 2, 2, 0, 0, 1])
    assert interleave_classes(labels).tolist() == [3, 5, 0, 4, 1, 2]


def test_limit_takes_the_first_images(tmp_path):
    images, _ = write_mnist(tmp_path, n=20)
    np.testing.assert_array_equal(load_digits(str(tmp_path), limit=7).images, images[:7])


def corrupt(tmp_path, kind):
    write_mnist(tmp_path, n=10)
    path = tmp_path / "train-images-idx3-ubyte"
    if kind == "magic":
        raw = bytearray(path.read_bytes())
        raw[2:4] = b"\x09\x09"
        path.write_bytes(bytes(raw))
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    elif kind == "truncated-gz":
        path.unlink()
        (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((10, 28, 28)), 2051))[:-30])
    elif kind == "wrong-size":
        path.write_bytes(idx_bytes(np.zeros((10, 32, 32)), 2051))
    elif kind == "count-mismatch":
        (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(9), 2049))
    elif kind == "missing":
        path.unlink()


@pytest.mark.parametrize("kind, message", [
    ("magic", "not an MNIST idx file"),
    ("truncated", "truncated or damaged"),
    ("truncated-gz", "not a readable gzip file"),
    ("wrong-size", "32x32 images"),
    ("count-mismatch", "10 images but .* 9 labels"),
    ("missing", "no MNIST training files"),
])
def test_bad_files_are_named_with_the_fix(tmp_path, kind, message):
    corrupt(tmp_path, kind)
    with pytest.raises(MsganError, match=message):
        load_digits(str(tmp_path))


def test_pixels_scaled_to_tanh_range_and_back():
    images = np.array([[[0, 255] * 14] * 28], dtype=np.uint8)
    scaled = to_model_range(images)
    assert scaled.shape == (1, 1, 28, 28) and scaled.min() == -1 and scaled.max() == 1
    np.testing.assert_array_equal(to_uint8(scaled), images)


def test_batches_shuffle_per_epoch_from_the_seed_and_drop_the_last_partial_batch():
    epoch0 = [b.tolist() for b in batches(10, 3, seed=7, epoch=0)]
    assert len(epoch0) == 3 and all(len(b) == 3 for b in epoch0)
    assert epoch0 == [b.tolist() for b in batches(10, 3, seed=7, epoch=0)]  # replayable
    assert epoch0 != [b.tolist() for b in batches(10, 3, seed=7, epoch=1)]  # reshuffled
    assert epoch0 != [b.tolist() for b in batches(10, 3, seed=8, epoch=0)]
    assert len(set(sum(epoch0, []))) == 9


def test_real_patterns_are_high_low_high_low():
    samples = real_patterns(2000, seed=1)
    assert samples.shape == (2000, 4) and samples.dtype == np.float32
    high, low = samples[:, [0, 2]], samples[:, [1, 3]]
    assert high.min() >= 0.8 and high.max() <= 1 and low.min() >= 0 and low.max() <= 0.2
    assert abs(high.mean() - 0.9) < 0.01 and abs(low.mean() - 0.1) < 0.01  # uniform over each band
    np.testing.assert_array_equal(samples, real_patterns(2000, seed=1))
    toy = pattern_set(batch_size=3, seed=1)
    assert len(toy) == 3000 and (toy.labels == 0).all()  # 1,000 steps an epoch


def tutorial_zip(path: Path, members: dict[str, bytes]) -> str:
    """A zip in the layout of the tutorial's MNIST_Data.zip (stored, not compressed, so that flipped bytes
    reach the CRC check); returns its file:// address, so --download's code runs without a network."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path.as_uri()


def mnist_members(n: int = 12) -> tuple[dict[str, bytes], np.ndarray]:
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    return {"MNIST_Data/train/train-images-idx3-ubyte": idx_bytes(images, 2051),
            "MNIST_Data/train/train-labels-idx1-ubyte": idx_bytes(labels, 2049),
            "MNIST_Data/test/t10k-labels-idx1-ubyte": idx_bytes(labels, 2049)}, images


def test_download_unpacks_the_tutorial_zip(tmp_path):
    members, images = mnist_members()
    url = tutorial_zip(tmp_path / "MNIST_Data.zip", members)
    root = tmp_path / "data"
    root.mkdir()
    download_mnist(root, url)
    np.testing.assert_array_equal(load_digits(str(root)).images, images)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == sorted(members)
    download_mnist(root, (tmp_path / "gone.zip").as_uri())  # files there: nothing is fetched


def test_download_refuses_members_outside_the_folder(tmp_path):
    members, _ = mnist_members()
    url = tutorial_zip(tmp_path / "evil.zip", {**members, "MNIST_Data/../../outside.txt": b"x"})
    root = tmp_path / "data"
    root.mkdir()
    with pytest.raises(MsganError, match="would land outside"):
        download_mnist(root, url)
    assert not (tmp_path / "outside.txt").exists() and not any(root.iterdir())


def test_download_refuses_a_damaged_archive(tmp_path):
    members, _ = mnist_members()
    archive = tmp_path / "MNIST_Data.zip"
    tutorial_zip(archive, members)
    raw = bytearray(archive.read_bytes())
    raw[200:216] = bytes(b ^ 0xFF for b in raw[200:216])  # inside the first member's data
    archive.write_bytes(bytes(raw))
    root = tmp_path / "data"
    root.mkdir()
    with pytest.raises(MsganError, match="is damaged .* fails its CRC check"):
        download_mnist(root, archive.as_uri())
    assert not any(root.iterdir())


def test_download_never_overwrites_the_users_files(tmp_path):
    members, _ = mnist_members()
    url = tutorial_zip(tmp_path / "MNIST_Data.zip", members)
    mine = tmp_path / "data" / "MNIST_Data" / "train" / "train-images-idx3-ubyte"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own file")  # the labels are missing, so msgan would download
    with pytest.raises(MsganError, match="already exists and msgan never overwrites"):
        download_mnist(tmp_path / "data", url)
    assert mine.read_bytes() == b"my own file"
    assert [p.name for p in mine.parent.iterdir()] == [mine.name]


def test_download_failure_is_one_clear_error(tmp_path):
    with pytest.raises(MsganError, match="could not download .*unpack MNIST_Data.zip into"):
        download_mnist(tmp_path, (tmp_path / "missing.zip").as_uri())
    with pytest.raises(MsganError, match="could not download"):  # offline, into a folder it would make
        download_mnist(tmp_path / "new" / "data", (tmp_path / "missing.zip").as_uri())
    assert not (tmp_path / "new").exists()  # the failure leaves no empty folder behind
    assert not any(tmp_path.iterdir())
