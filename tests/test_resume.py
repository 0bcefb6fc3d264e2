"""A stopped run, resumed, ends exactly where the uninterrupted run ends: after a clean stop at an epoch's
end, after Ctrl-C in the middle of an epoch, and after SIGKILL at an arbitrary moment.

'Exactly' means bit for bit, on CPU: every weight, BatchNorm statistic and Adam moment, the step
counts, losses.csv and the progress GIF. This holds because each epoch's data order and noise are
functions of (seed, epoch) alone and the resume state holds everything else; the compiled step is
deterministic on CPU given the same inputs, Dropout included (msgan.layers.Dropout).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import mindspore as ms
import numpy as np
import pytest
from PIL import Image

import msgan.training
import msgan.step
from conftest import REPO, run_script
from msgan.errors import MsganError, StoppedBySignal
from msgan.training import resume, train
from msgan.config import resolve

# Each model's run and its epochs. mlp on 640 digits in batches of 64 takes 10 steps an epoch, so that
# a stop can land inside an epoch; cgan adds the labels, a digit head and --eval-every's metrics.csv (scored
# after epoch 1, then continued by the resumed run after epoch 2), and
# toy1010 its own samples and heat-map strip. The others cover every loss (the recipes' least squares in mlp
# and cgan), Dropout (mlp-keras), G's moving average (with and without BatchNorm), spectral normalisation and
# D updates without G's (--n-critic 3 leaves the last step of each 10-step epoch to D alone).
TINY = ["--limit", "640", "--batch-size", "64", "--device", "CPU"]
RUNS = {
    "mlp": (["--limit", "640", "--batch-size", "64", "--device", "CPU", "--eval-every", "0"], 4),
    "cgan": (["--model", "cgan", "--limit", "640", "--batch-size", "64", "--device", "CPU",
              "--eval-every", "1", "--eval-samples", "300"], 2),
    "toy1010": (["--model", "toy1010", "--device", "CPU"], 2),
    "hinge": (["--model", "mlp-keras", *TINY, "--loss", "hinge", "--spectral-norm", "--ema", "0.9"], 2),
    "wgan-gp": (["--model", "mlp-small", *TINY, "--loss", "wgan-gp", "--n-critic", "3", "--ema", "0.9"], 2),
    "bce": (["--model", "cgan-acgan", *TINY, "--loss", "bce"], 2),
    "saturating": (["--model", "cgan-projection", *TINY, "--loss", "saturating", "--ema", "0.9"], 2),
}
MLP_RUN, EPOCHS = RUNS["mlp"]


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> Callable[[str], Path]:
    """reference_of(model): the uninterrupted run that every resumed run of that model must reproduce."""
    made = {}

    def reference_of(model: str) -> Path:
        if model not in made:
            args, epochs = RUNS[model]
            out = tmp_path_factory.mktemp("reference") / model
            result = run_script("train.py", *args, "--epochs", str(epochs), "--out", str(out))
            assert result.returncode == 0, result.stderr
            made[model] = out
        return made[model]
    return reference_of


@pytest.fixture(scope="module")
def reference(references) -> Path:
    return references("mlp")


def state(run: Path) -> dict:
    """The run's resume state: arrays, and the metadata strings as they are."""
    contents = ms.load_checkpoint(str(run / "checkpoints" / "resume.ckpt"))
    return {k: v.asnumpy() if hasattr(v, "asnumpy") else v for k, v in contents.items()}


def assert_same_run(run: Path, reference: Path, epochs: int = EPOCHS) -> None:
    """Same final state (weights, optimizers, position, history), same losses.csv, same GIF frames."""
    got, want = state(run), state(reference)
    assert got.keys() == want.keys()
    assert {"optim_g.global_step", "optim_d.global_step"} <= got.keys()  # the optimizers' state is in it
    assert got["optim_d.global_step"].item() == got["msgan_step"].item()  # D learns every step (G: 1 in n_critic)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    for name in ("losses.csv", "metrics.csv"):
        if (reference / name).exists():
            assert (run / name).read_text() == (reference / name).read_text()
    for name in (f"Generator{epochs}.ckpt", f"Discriminator{epochs}.ckpt"):
        assert ms.load_checkpoint(str(run / "checkpoints" / name)).keys()  # readable, CRC checked
    average = f"checkpoints/Generator{epochs}_ema.ckpt"  # with its re-estimated BatchNorm statistics
    if (reference / average).exists():
        got, want = ms.load_checkpoint(str(run / average)), ms.load_checkpoint(str(reference / average))
        assert got.keys() == want.keys()
        for key in want:
            if hasattr(want[key], "asnumpy"):
                np.testing.assert_array_equal(got[key].asnumpy(), want[key].asnumpy(), err_msg=key)
    with Image.open(run / "progress.gif") as gif, Image.open(reference / "progress.gif") as ref:
        assert gif.n_frames == ref.n_frames == epochs
        for frame in range(epochs):
            gif.seek(frame)
            ref.seek(frame)
            assert np.array_equal(np.asarray(gif.convert("L")), np.asarray(ref.convert("L"))), frame
    assert not list(run.rglob(".tmp-*"))


@pytest.mark.parametrize("model", list(RUNS))
def test_resume_after_the_end_of_a_shorter_run(model, references, tmp_path):
    args, epochs = RUNS[model]
    out = tmp_path / "A"
    assert run_script("train.py", *args, "--epochs", str(epochs // 2), "--out", str(out)).returncode == 0
    result = run_script("train.py", "--resume", str(out), "--epochs", str(epochs))
    assert result.returncode == 0, result.stderr
    trained = args[args.index("--model") + 1] if "--model" in args else "mlp"
    assert f"resuming '{trained}' in {out} at epoch {epochs // 2 + 1}" in result.stdout
    assert_same_run(out, references(model), epochs)
    assert f"epochs: {epochs}" in (out / "config.yaml").read_text()  # --epochs with --resume is the new total


def start_training(out: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, str(REPO / "train.py"), *MLP_RUN, "--epochs", str(EPOCHS),
                             "--out", str(out), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_stop_request_saves_and_prints_the_resume_command(signum, reference, tmp_path):
    out = tmp_path / "C"
    process = start_training(out)
    wait_for(out / "checkpoints" / "Generator1.ckpt", process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "the run is saved" in lines[0], stderr
    command = re.search(r"Resume it with: (python train.py --resume \S+)$", lines[0]).group(1)
    assert command == f"python train.py --resume {out}"
    result = run_script("train.py", *command.split()[2:])  # the printed command, word for word
    assert result.returncode == 0, result.stderr
    assert_same_run(out, reference)


def test_sigkill_at_any_moment_leaves_a_resumable_run(reference, tmp_path):
    out = tmp_path / "K"
    process = start_training(out, "--keep-last", "2")
    wait_for(out / "checkpoints" / "Generator2.ckpt", process)  # killed while epoch 2's files are written
    process.kill()
    process.wait()
    result = run_script("train.py", "--resume", str(out))
    assert result.returncode == 0, result.stderr
    assert_same_run(out, reference)
    kept = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert kept == ["Discriminator3.ckpt", "Discriminator4.ckpt", "Generator3.ckpt", "Generator3_ema.ckpt",
                    "Generator4.ckpt", "Generator4_ema.ckpt", "resume.ckpt"]


def with_calls_of_three(monkeypatch, change: Callable[[int, int, np.ndarray], np.ndarray]) -> None:
    """Make every compiled call run three steps (an epoch of 10 is then 3+3+3+1), and pass each call's
    first global step, its step count and its result through `change`."""
    build, done = msgan.step.make_train_loop, [0]

    def make_changed_loop(*args, **kwargs):
        loop = build(*args, **kwargs)

        def changed(*inputs):
            count = int(inputs[-1])
            out = change(done[0] + 1, count, loop(*inputs).asnumpy())
            done[0] += count
            return ms.Tensor(out)
        return changed

    monkeypatch.setattr(msgan.training, "steps_per_call", lambda seconds_per_step: 3)
    monkeypatch.setattr(msgan.step, "make_train_loop", make_changed_loop)


def test_stop_inside_an_epoch_resumes_from_that_batch(reference, tmp_path, monkeypatch):
    """A real SIGINT arrives during the call that runs steps 11-13, the first three batches of epoch 2:
    the run saves after step 13, and the resumed run skips exactly the batches already done."""
    def interrupt(first: int, count: int, out: np.ndarray) -> np.ndarray:
        if first <= 13 < first + count:
            os.kill(os.getpid(), signal.SIGINT)
        return out

    out = tmp_path / "M"
    flags = {"limit": 640, "batch_size": 64, "device": "CPU", "eval_every": 0, "epochs": EPOCHS, "out": str(out)}
    with_calls_of_three(monkeypatch, interrupt)
    with pytest.raises(StoppedBySignal, match="after step 13, in epoch 2"):
        train(resolve(flags))
    saved = state(out)
    assert (int(saved["msgan_epoch"]), int(saved["msgan_batch"]), int(saved["msgan_step"])) == (1, 3, 13)
    assert (out / "losses.csv").read_text().count("\n") == 1 + 13
    monkeypatch.undo()
    resume(str(out), {})
    assert_same_run(out, reference)


def test_nan_stops_the_run_and_the_last_good_epoch_stays_the_latest(tmp_path, monkeypatch):
    """Step 15, in epoch 2, reports NaN: nothing of epoch 2 is written, and resume.ckpt, losses.csv and the
    newest checkpoints stay those of epoch 1."""
    def diverge(first: int, count: int, out: np.ndarray) -> np.ndarray:
        if first <= 15 < first + count:
            out[15 - first] = np.nan
        return out

    out = tmp_path / "N"
    flags = {"limit": 640, "batch_size": 64, "device": "CPU", "eval_every": 0, "epochs": EPOCHS, "out": str(out)}
    with_calls_of_three(monkeypatch, diverge)
    with pytest.raises(MsganError, match=r"loss_d became nan at epoch 2, step 15.*Generator1.ckpt .* stay the latest"):
        train(resolve(flags))
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "Discriminator1.ckpt", "Generator1.ckpt", "Generator1_ema.ckpt", "resume.ckpt"]
    assert int(state(out)["msgan_step"]) == 10
    assert (out / "losses.csv").read_text().count("\n") == 1 + 10
    assert sorted(p.name for p in (out / "images").iterdir()) == ["epoch001.png", "real.png"]
