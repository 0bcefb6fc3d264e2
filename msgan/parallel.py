"""Data-parallel training over the workers that MindSpore's launcher, msrun, starts
(scripts/run_distribute_train.sh): each worker trains on its own slice of every batch, and the
gradients are averaged over all workers before each update, so that every worker holds the same weights.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from msgan.errors import MsganError

LAUNCH_HINT = "run scripts/run_distribute_train.sh N [flags], which starts N workers with msrun"


@dataclass(frozen=True)
class Workers:
    """This process's place among the workers of one run: `rank` of `size` (0 of 1 when not distributed)."""

    rank: int = 0
    size: int = 1

    @property
    def writes(self) -> bool:
        """Only the first worker writes the run folder: the others hold the same weights."""
        return self.rank == 0

    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This worker's slice of each row of a global batch laid out along axis 1 (order or noise)."""
        width = rows.shape[1] // self.size
        return rows[:, self.rank * width:(self.rank + 1) * width]


SINGLE = Workers()


def launched_by_msrun() -> bool:
    """Whether msrun started this process: it sets the scheduler's address and the worker count."""
    return "MS_SCHED_HOST" in os.environ and "MS_WORKER_NUM" in os.environ


def tell_launcher(run_root: Path) -> None:
    """Write the run folder's path where scripts/run_distribute_train.sh asked (MSGAN_RUN_FILE), so that it
    moves the workers' logs into the run folder once msrun has finished."""
    path = os.environ.get("MSGAN_RUN_FILE")
    if path:
        Path(path).write_text(str(run_root.resolve()), encoding="utf-8")


def msrun_worker_count() -> int:
    """The number of workers msrun started, 0 when it did not start this process."""
    return int(os.environ["MS_WORKER_NUM"]) if launched_by_msrun() else 0


def start_workers(distribute: bool) -> Workers:
    """Join the other workers (--distribute) and set data-parallel mode; a plain run is one worker."""
    if not distribute:
        return SINGLE
    if not launched_by_msrun():
        raise MsganError(f"--distribute needs workers started by MindSpore's launcher: {LAUNCH_HINT}")
    from mindspore.communication import get_group_size, get_rank, init

    init()
    workers = Workers(get_rank(), get_group_size())
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                 device_num=workers.size)
    return workers


def unchanged(x):
    """The identity: one worker's gradient mean, and the loss scaling of --amp O0 and O1 (a def, not a
    lambda: compiled graphs cannot hold lambdas)."""
    return x


def gradient_mean(parameters: list, workers: Workers) -> Callable:
    """The mean of each gradient over all workers (an identity for one worker).

    `mean=True` and `degree` are given explicitly: the model zoo's GAN builds an identity reducer
    and so never averages its workers' gradients.
    """
    if workers.size == 1:
        return unchanged
    return nn.DistributedGradReducer(parameters, mean=True, degree=workers.size)


def value_mean(workers: Workers) -> Callable[[Tensor], Tensor]:
    """The element-wise mean of a tensor over all workers (an identity for one worker): the logged
    losses of a distributed step are those of its whole global batch."""
    if workers.size == 1:
        return unchanged
    total = ops.AllReduce()

    def mean(x):
        return total(x) / workers.size

    return mean


def agree(workers: Workers, stop: bool, seconds_per_step: float) -> tuple[bool, float]:
    """(whether any worker was asked to stop, worker 0's seconds per step), the same on every worker, so
    that all of them make the same choices between compiled calls: a worker that ran a different number
    of steps would wait for the others' gradients until the cluster timed out.

    One AllReduce sum (the only reduction MindSpore 2.10 has on CPU) of the stop flags and of worker 0's
    time, which the others send as zeros: adding zeros is exact.
    """
    if workers.size == 1:
        return stop, seconds_per_step
    mine = [float(stop), seconds_per_step if workers.rank == 0 else 0.0]
    total = ops.AllReduce()(Tensor(np.array(mine, np.float32))).asnumpy()
    return bool(total[0] > 0), float(total[1])


def weights_digest(cells: list[nn.Cell]) -> str:
    """A short SHA-256 of the cells' trainable weights, which every worker prints when it finishes: equal
    digests show that the workers hold the same weights. (BatchNorm's running statistics are left out:
    each worker follows its own slice of the batch.)"""
    digest = hashlib.sha256()
    for cell in cells:
        for param in cell.trainable_params():
            digest.update(param.name.encode())
            digest.update(param.asnumpy().tobytes())
    return digest.hexdigest()[:16]
