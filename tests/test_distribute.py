"""Data-parallel training, for real: scripts/run_distribute_train.sh starts 2 CPU workers with msrun on
localhost, and they must train what one process trains on their concatenated batch.

The model is mlp-small, which has neither BatchNorm (each worker normalises by its own slice's
statistics, so a BatchNorm model differs from one process by design) nor Dropout (whose sharded masks
are checked exactly below, in-process). 256 digits in global batches of 2 x 32 make 4 steps an epoch.
"""
from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Optional

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from conftest import REPO, run_script
from msgan.layers import Dropout, shard_dropout_streams

WORKERS, BATCH = 2, 32
RUN = ["--model", "mlp-small", "--limit", "256", "--device", "CPU"]
LR = 2e-4  # mlp-small's recipe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(logs: Optional[str], *args: str, workers: int = WORKERS) -> tuple[list[str], dict[str, str]]:
    """(command, environment) of `bash scripts/run_distribute_train.sh 2 ARGS`, as a user runs it, with this
    interpreter's msrun first on PATH, a free port, and the workers' logs in `logs` (None: in the run folder)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MSGAN_MASTER_PORT": str(free_port())}
    env.pop("MSGAN_LOG_DIR", None)
    if logs is not None:
        env["MSGAN_LOG_DIR"] = logs
    return ["bash", str(REPO / "scripts" / "run_distribute_train.sh"), str(workers), *args], env


def distribute(cwd: Path, logs: Optional[str], *args: str, workers: int = WORKERS) -> subprocess.CompletedProcess:
    """Run the script to its end."""
    command, env = launch(logs, *args, workers=workers)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def worker_digests(logs: Path) -> list[str]:
    """The weights' SHA-256 that each worker printed when it finished."""
    found = []
    for rank in range(WORKERS):
        text = (logs / f"worker_{rank}.log").read_text()
        found += re.findall(r"Weights sha256 ([0-9a-f]{16})", text)
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A distributed run of 1 epoch resumed to 2 (no --out: the workers must make one folder between
    them), and one process trained for 2 epochs on the global batch."""
    root = tmp_path_factory.mktemp("distribute")
    first = distribute(root, None, *RUN, "--batch-size", str(BATCH), "--epochs", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    folders = list((root / "runs").iterdir())
    second = distribute(root, "logs2", "--resume", str(folders[0]), "--epochs", "2")
    assert second.returncode == 0, second.stdout + second.stderr
    single = run_script("train.py", *RUN, "--batch-size", str(WORKERS * BATCH), "--epochs", "2",
                        "--out", str(root / "single"))
    assert single.returncode == 0, single.stderr
    return {"root": root, "distributed": folders[0], "single": root / "single", "output": first.stdout}


def run_logs(runs) -> Path:
    """The workers' logs of the first distributed run, which the script moved into its run folder."""
    (logs,) = (runs["distributed"] / "msrun_logs").iterdir()
    return logs


def test_the_workers_write_one_run_folder_and_show_worker_0(runs):
    assert [p.name for p in (runs["root"] / "runs").iterdir()] == [runs["distributed"].name]
    assert sorted(p.name for p in runs["root"].iterdir()) == ["logs2", "runs", "single"]  # no msrun_logs/ here
    assert {"worker_0.log", "worker_1.log", "scheduler.log"} <= {p.name for p in run_logs(runs).iterdir()}
    assert "on 2 CPU workers" in runs["output"] and "a global batch of 2 x 32" in runs["output"]
    assert "worker 1 of 2 done" not in runs["output"]  # worker 1's log stays in the logs
    # MindSpore's own log lines, which worker 0 prints as it exits, stay in its log: the summary ends the output
    assert re.search(r"^\[(INFO|WARNING|ERROR)\] ", (run_logs(runs) / "worker_0.log").read_text(), re.M)
    assert not re.search(r"^\[(INFO|WARNING|ERROR)\] ", runs["output"], re.M)
    assert runs["output"].rstrip().splitlines()[-1].startswith("Sample from it: python infer.py --run ")


def test_every_worker_ends_with_the_same_weights(runs):
    for logs in (run_logs(runs), runs["root"] / "logs2"):
        digests = worker_digests(logs)
        assert len(digests) == WORKERS and len(set(digests)) == 1, digests


def weights(run: Path, network: str, epoch: int) -> dict[str, np.ndarray]:
    return {name: p.asnumpy() for name, p in ms.load_checkpoint(str(run / "checkpoints" / f"{network}{epoch}.ckpt")).items()
            if name.startswith(network.lower())}


@pytest.mark.parametrize("network", ["Generator", "Discriminator"])
def test_two_workers_train_what_one_process_trains_on_their_concatenated_batch(runs, network):
    """Equal within float32 rounding. The workers sum their halves' gradients and then the two halves, one
    process sums all 64 rows at once: the gradients differ by about 1e-7 relatively. Adam divides each
    gradient by its running RMS, so a weight whose gradient is near zero can see that rounding grow
    into a visible part of one step (at most lr = 2e-4). Measured over these 8 steps: at most 3.4e-5,
    about 1e-7 on average. A worker that did not average its gradients (training on its own 32 rows,
    as the model zoo's identity reducer does) is 1e-3 away on average: the bounds below tell them apart.
    """
    for epoch in (1, 2):  # epoch 2 was trained after the resume
        dist, single = weights(runs["distributed"], network, epoch), weights(runs["single"], network, epoch)
        start = weights(runs["single"], network, 1) if epoch == 2 else None
        assert dist.keys() == single.keys()
        for name in single:
            gap = np.abs(dist[name] - single[name])
            assert gap.max() < LR, (name, gap.max())
            assert gap.mean() < 1e-5, (name, gap.mean())
            if start is not None:  # the second epoch moved the weights far more than the gap
                assert np.abs(single[name] - start[name]).mean() > 50 * gap.mean(), name


def test_the_logged_losses_are_those_of_the_global_batch(runs):
    def rows(run: Path) -> np.ndarray:
        with open(run / "losses.csv") as f:
            return np.array([[float(v) for v in row] for row in list(csv.reader(f))[1:]])

    dist, single = rows(runs["distributed"]), rows(runs["single"])
    assert dist.shape == single.shape == (8, 8)  # 2 epochs of 4 steps, every step once despite the resume
    np.testing.assert_allclose(dist, single, atol=2e-4)


def test_ctrl_c_stops_every_worker_after_the_same_step_and_saves_the_run(tmp_path):
    """msrun itself would SIGKILL its workers on Ctrl-C; the script turns it into SIGTERM to each worker."""
    command, env = launch("logs", *RUN, "--batch-size", str(BATCH), "--epochs", "500", "--out", "run")
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        for line in process.stdout:  # worker 0's output, as the terminal shows it
            if line.startswith("epoch 1/500 done"):
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0 and "the run is saved" in rest
    stops = [re.findall(r"stopped on request \(Ctrl-C or SIGTERM\) after step (\d+)", (tmp_path / "logs" /
                        f"worker_{rank}.log").read_text()) for rank in range(WORKERS)]
    assert stops[0] == stops[1] and len(stops[0]) == 1, stops
    assert (tmp_path / "run" / "checkpoints" / "resume.ckpt").is_file()
    assert f"Resume it with: scripts/run_distribute_train.sh {WORKERS} --resume run" in rest


def test_a_distributed_run_resumes_only_on_as_many_workers(runs):
    result = run_script("train.py", "--resume", str(runs["distributed"]), "--epochs", "3")
    assert result.returncode != 0
    line = result.stderr.strip()
    assert line.count("\n") == 0 and f"scripts/run_distribute_train.sh 2 --resume {runs['distributed']}" in line


def test_resuming_on_another_worker_count_is_one_line_before_the_workers_join(runs, tmp_path):
    """The count is checked before the workers join each other: one line, and no wait nor C++ traceback."""
    result = distribute(tmp_path, "logs", "--resume", str(runs["distributed"]), "--epochs", "3", workers=1)
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {runs['distributed']} trained on 2 worker(s), and this is 1: a resumed run keeps "
                      f"its global batch; resume it with scripts/run_distribute_train.sh 2 --resume "
                      f"{runs['distributed']}"]
    # msrun's own stderr (its log folder's msrun_stderr.log) reports the failed worker with a traceback of msrun's
    logs = "".join(path.read_text() for path in (tmp_path / "logs").glob("*.log") if path.name != "msrun_stderr.log")
    assert "Traceback" not in logs + result.stdout + result.stderr


def test_distribute_without_msrun_is_one_line(tmp_path):
    result = run_script("train.py", *RUN, "--distribute", "--out", str(tmp_path / "x"))
    assert result.returncode != 0 and not (tmp_path / "x").exists()
    assert "scripts/run_distribute_train.sh N" in result.stderr and result.stderr.strip().count("\n") == 0


def test_sharded_dropout_masks_are_the_rows_of_the_global_batch_mask():
    """Worker r's Dropout on its slice keeps exactly the elements that one process keeps in those rows."""
    x = Tensor(np.ones((8, 300), np.float32))
    whole = Dropout(p=0.5)
    whole.set_train(True)
    expected = whole(x).asnumpy()
    for rank in range(2):
        layer = Dropout(p=0.5)
        layer.set_train(True)
        shard_dropout_streams(nn.SequentialCell([layer]), rank)
        np.testing.assert_array_equal(layer(x[4 * rank:4 * (rank + 1)]).asnumpy(), expected[4 * rank:4 * (rank + 1)])
