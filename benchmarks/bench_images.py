"""What training on your own images costs: decoding a folder once, reading it back from the cache, the data
pipeline's share of an epoch, and seconds per epoch per 1,000 images for dcgan at 32 pixels and dcgan64 at 64.

    python benchmarks/bench_images.py [--count 1000] [--epochs 2]

It writes `--count` generated colour shapes (msgan.shapes, 64x64 PNGs) into a temporary folder and runs every
figure in its own process: the decode and the cache hit through msgan.datasets, and `train.py` itself for the
epochs (the last epoch's time as train.py prints it, per-epoch outputs included, so compiling is left out).
The pipeline's share is what the training loop spends on data each epoch outside the compiled steps: the
epoch's shuffled order and noise (training.epoch_inputs), against the epoch. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = (("dcgan", 32, 64), ("dcgan64", 64, 128))  # model, side, batch (the recipes' batches)


def child(code: str, env: dict[str, str]) -> str:
    """Run `code` in a fresh Python with msgan importable; the last line it prints."""
    result = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(REPO)}, capture_output=True,
                            text=True, check=True)
    return (result.stdout.strip().splitlines() or [""])[-1]


def load_seconds(data: Path, side: int, env: dict[str, str]) -> float:
    """Seconds to read the folder through msgan.datasets at `side` (a decode when the cache is cold)."""
    return float(child(f"import time; from msgan.datasets import load_images; t = time.perf_counter(); "
                       f"load_images({str(data)!r}, folder_side={side}); print(time.perf_counter() - t)", env))


def pipeline_seconds(count: int, batch: int, env: dict[str, str]) -> float:
    """Seconds a training epoch spends on its inputs outside the compiled steps (order, noise, mix)."""
    return float(child(
        "import time; from msgan.config import resolve; from msgan.parallel import SINGLE; "
        f"from msgan.training import epoch_inputs; cfg = resolve({{'model': 'dcgan', 'batch_size': {batch}}}); "
        f"epoch_inputs(cfg, {count}, 0, SINGLE); t = time.perf_counter(); "
        f"[epoch_inputs(cfg, {count}, e, SINGLE) for e in range(1, 6)]; print((time.perf_counter() - t) / 5)", env))


def epoch_seconds(data: Path, model: str, side: int, epochs: int, out: Path, env: dict[str, str]) -> float:
    """The last epoch's seconds as train.py prints them."""
    result = subprocess.run([sys.executable, str(REPO / "train.py"), "--data", str(data), "--model", model,
                             "--image-size", str(side), "--epochs", str(epochs), "--out", str(out)],
                            env=env, capture_output=True, text=True, check=True)
    return float(re.findall(r"epoch \d+/\d+ done in ([\d.]+) s", result.stdout)[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="generated images (default 1000)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run; the last is timed (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MSGAN_CACHE": str(Path(tmp) / "cache")}
        data = Path(tmp) / "shapes"
        child(f"from pathlib import Path; from msgan.shapes import make_shapes; "
              f"make_shapes(Path({str(data)!r}), {args.count}, 64)", env)
        print(f"{args.count} generated 64x64 PNGs, {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}\n")
        print("| model | side | batch | decode (once) s | cache hit s | epoch s | s per epoch per 1,000 images | "
              "data pipeline per epoch s | its share |")
        print("|---|---|---|---|---|---|---|---|---|")
        for model, side, batch in RUNS:
            decode, hit = load_seconds(data, side, env), load_seconds(data, side, env)
            epoch = epoch_seconds(data, model, side, args.epochs, Path(tmp) / model, env)
            pipeline = pipeline_seconds(args.count, batch, env)
            print(f"| `{model}` | {side} | {batch} | {decode:.2f} | {hit:.3f} | {epoch:.1f} | "
                  f"{epoch * 1000 / args.count:.1f} | {pipeline:.4f} | {100 * pipeline / epoch:.2f}% |", flush=True)


if __name__ == "__main__":
    main()
