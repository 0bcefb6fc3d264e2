"""msgan.shapes: the circles, squares and triangles dataset, and its command line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from msgan.shapes import SHAPES, main, make_shapes
from msgan.sources import read_folder


def pngs(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.png"))


def test_count_classes_mode_and_size(tmp_path):
    make_shapes(tmp_path / "s", 10, size=32)
    files = pngs(tmp_path / "s")
    assert len(files) == 10
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == list(SHAPES)
    assert [sum(f.parts[0] == s for f in files) for s in SHAPES] == [4, 3, 3]
    for f in files:
        with Image.open(tmp_path / "s" / f) as img:
            assert (img.mode, img.size) == ("RGB", (32, 32))


def test_same_seed_same_files_other_seed_differs(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        make_shapes(tmp_path / name, 6, seed=seed)
    read = lambda name: [(tmp_path / name / f).read_bytes() for f in pngs(tmp_path / name)]
    assert read("a") == read("b")
    assert read("a") != read("c")


def test_each_image_is_one_bright_shape_of_its_class_on_dark(tmp_path):
    """Two colours, a bright one on a dark one; the bright pixels fill their bounding box by about 1 for a
    square, pi/4 for a circle and 1/2 for a triangle, which tells the classes apart."""
    make_shapes(tmp_path, 60, size=64, seed=1)
    fills = {"circle": (0.70, 0.86), "square": (0.99, 1.0), "triangle": (0.42, 0.62)}
    for f in pngs(tmp_path):
        pixels = np.asarray(Image.open(tmp_path / f))
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) == 2
        bright = pixels.max(axis=2) > 128
        ys, xs = np.nonzero(bright)
        h, w = np.ptp(ys) + 1, np.ptp(xs) + 1
        assert 0.3 * 64 <= min(h, w) and max(h, w) <= 0.8 * 64
        low, high = fills[f.parts[0]]
        assert low <= bright.sum() / (h * w) <= high, (f, bright.sum() / (h * w))


def test_read_folder_sees_the_classes(tmp_path):
    make_shapes(tmp_path / "s", 9)
    found = read_folder(tmp_path / "s", 64, tmp_path / "cache")
    assert found.images.shape == (9, 64, 64, 3)
    assert found.classes == ("circle", "square", "triangle")
    assert sorted(found.labels.tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_cli_writes_and_says_how_to_train(tmp_path, capsys):
    assert main([str(tmp_path / "s"), "--count", "5", "--size", "16"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "5" in out[0] and f"python train.py --data {tmp_path / 's'} --model dcgan64" in out[0]
    assert len(pngs(tmp_path / "s")) == 5


def test_cli_refuses_in_one_line(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    for argv in ([str(tmp_path / "full")], [str(tmp_path / "a"), "--count", "0"],
                 [str(tmp_path / "b"), "--size", "7"]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["x.txt"]
