"""A labelled colour dataset made offline in seconds: one filled circle, square or triangle per PNG, in class
subfolders, for trying "train on your own images" (`python -m msgan.shapes OUT [--count N] [--size S] [--seed K]`)."""
from __future__ import annotations

import argparse
import colorsys
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw

from msgan.errors import MsganError, OneLineErrorParser, run_reporting_errors

SHAPES = ("circle", "square", "triangle")  # sorted, so msgan's folder reader labels them 0, 1, 2


def _colour(rng: np.random.Generator, value: tuple[float, float], saturation: tuple[float, float]) -> tuple:
    """A random hue at a brightness and saturation drawn from the given ranges, as 8-bit RGB."""
    rgb = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(*saturation), rng.uniform(*value))
    return tuple(int(round(c * 255)) for c in rgb)


def draw_shape(shape: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One `shape` of a bright colour, 35-75% of the side and wholly inside, on a plain dark background."""
    image = Image.new("RGB", (size, size), _colour(rng, (0.05, 0.3), (0.3, 1.0)))
    side = int(rng.integers(round(0.35 * size), round(0.75 * size) + 1))
    x0, y0 = (int(v) for v in rng.integers(0, size - side + 1, 2))
    x1, y1 = x0 + side - 1, y0 + side - 1
    fill = _colour(rng, (0.85, 1.0), (0.5, 1.0))
    draw = ImageDraw.Draw(image)
    if shape == "circle":
        draw.ellipse((x0, y0, x1, y1), fill=fill)
    elif shape == "square":
        draw.rectangle((x0, y0, x1, y1), fill=fill)
    else:
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=fill)
    return image


def make_shapes(root: Path, count: int, size: int = 64, seed: int = 0) -> None:
    """Write `count` PNGs of `size` pixels into root/circle, root/square and root/triangle (the classes take
    turns, so they are balanced), the same files for the same seed. Refuses a non-empty root."""
    root = Path(root)
    if count < 1:
        raise MsganError(f"--count must be at least 1, got {count}")
    if size < 8:
        raise MsganError(f"--size must be at least 8 pixels, got {size}")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise MsganError(f"{root} already exists and is not empty: give a new or empty folder")
    for shape in SHAPES:
        (root / shape).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    width = max(5, len(str(count - 1)))
    for i in range(count):
        shape = SHAPES[i % len(SHAPES)]
        draw_shape(shape, size, rng).save(root / shape / f"{i:0{width}d}.png")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line; errors are one line on stderr and exit status 2."""
    p = OneLineErrorParser(prog="python -m msgan.shapes",
                           description="Write a labelled dataset of circles, squares and triangles as PNG files.")
    p.add_argument("out", help="a new (or empty) folder; the images go into its circle, square, triangle subfolders")
    p.add_argument("--count", type=int, default=2000, help="how many images (default 2000)")
    p.add_argument("--size", type=int, default=64, help="side in pixels (default 64)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same files (default 0)")
    args = p.parse_args(argv)

    def task() -> None:
        make_shapes(Path(args.out), args.count, args.size, args.seed)
        print(f"wrote {args.count} {args.size}x{args.size} PNGs to {args.out}/{{{','.join(SHAPES)}}}; "
              f"train on them with: python train.py --data {args.out} --model dcgan64")

    return run_reporting_errors(task)


if __name__ == "__main__":
    sys.exit(main())
