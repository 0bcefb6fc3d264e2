"""Shared helpers: small real MNIST files written by the tests, and running the entry scripts."""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

ms.set_context(mode=ms.GRAPH_MODE)
ms.set_device("CPU")


def lone_step_inputs(batch: int) -> tuple[ms.Tensor, ms.Tensor]:
    """The last two inputs of a train_step called on its own: the gradient penalty's interpolation weights
    (one half each) and `update_g` (True: G is updated too)."""
    return ms.Tensor(np.full(batch, 0.5, np.float32)), ms.Tensor(True)


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An MNIST idx file: big-endian magic, dimensions, then unsigned bytes."""
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, n: int = 32, gz: bool = False, dotted: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Write n random 28x28 'digits' and labels as idx files; return what was written."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    sep = "." if dotted else "-"
    for name, data, magic in ((f"train-images{sep}idx3-ubyte", images, 2051), (f"train-labels{sep}idx1-ubyte", labels, 2049)):
        raw = idx_bytes(data, magic)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return images, labels


def run_script(script: str, *args: str, cwd: Path | None = None, timeout: int = 300,
               **popen) -> subprocess.CompletedProcess:
    """Run train.py or infer.py as a user would, in a fresh process (`popen`: more subprocess.run options)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, **popen)


@pytest.fixture(scope="session", autouse=True)
def image_cache(tmp_path_factory) -> Path:
    """Decoded image folders are cached here, never in the user's ~/.cache (the scripts the tests start inherit it)."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ["MSGAN_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One real 2-epoch training run on 640 embedded digits, shared by the tests that read its outputs."""
    out = tmp_path_factory.mktemp("runs") / "T"
    result = run_script("train.py", "--epochs", "2", "--limit", "640", "--out", str(out), "--device", "CPU")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def ema_cgan_run(tmp_path_factory) -> Path:
    """A 2-epoch cgan run on 640 embedded digits that keeps G's moving average (Generator2_ema.ckpt beside
    Generator2.ckpt), shared by the tests of conditional sampling and of --raw; they never write into it."""
    out = tmp_path_factory.mktemp("runs") / "cgan-ema"
    result = run_script("train.py", "--model", "cgan", "--epochs", "2", "--limit", "640", "--ema", "0.999",
                        "--out", str(out), "--device", "CPU")
    assert result.returncode == 0, result.stderr
    return out
