"""A training run's life: start or resume it, the epoch loop over the compiled steps (msgan.step), each
epoch's outputs, and stopping it safely on a request, a NaN or a full disk."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import mindspore as ms
import numpy as np
from mindspore import Tensor

import msgan
from msgan.checkpoints import STATE, assign_state, read_checkpoint_extras
from msgan.config import TrainConfig, check_ranges, check_unedited, resumed
from msgan.console import Progress, format_seconds
from msgan.data import MNIST_SHAPE, TrainingSet, batches
from msgan.device import select_device
from msgan.errors import MsganError
from msgan.files import remove_leftovers
from msgan.judge import load_judge
from msgan.models import MODELS
from msgan.parallel import (SINGLE, Workers, agree, msrun_worker_count, start_workers, tell_launcher,
                            weights_digest)
from msgan.recorders import RunRecorder, new_recorder
from msgan.runs import Position, RunFolder, create_run_folder, epoch_checkpoints, read_config, write_config, write_csv
from msgan.sampling import latents
from msgan.step import Networks, build_networks
from msgan.training_data import check_same_data, training_set
from msgan.stopping import StopRequests
from msgan.streams import FIXED_NOISE, PENALTY_MIX, STEP_NOISE, stream, tutorial_normal


def with_judge(cfg: TrainConfig) -> TrainConfig:
    """The settings with --eval-every checked: refused when --judge cannot score the run's samples, and left off,
    with a note, when no judge is given and the samples are no digits (the recipes score digits)."""
    if not cfg.eval_every or MODELS[cfg.model].kind != "digits":
        return cfg
    if cfg.judge is None and cfg.sample_shape != MNIST_SHAPE:
        print(f"msgan: not scoring the samples (--eval-every {cfg.eval_every}): msgan's judge knows MNIST digits only; "
              "train one on these data with `python -m msgan.classifier --data DIR` and pass --judge FILE",
              flush=True)
        return replace(cfg, eval_every=0)
    load_judge(cfg.judge).check_fits(cfg.sample_shape, f"--eval-every on '{cfg.model}' samples")
    return cfg


def worker_folder(cfg: TrainConfig, workers: Workers) -> RunFolder:
    """The run folder: made by the first worker; the others only name it in their messages."""
    if workers.writes:
        return create_run_folder(cfg.out, cfg.model)
    return RunFolder(Path(cfg.out or "runs").expanduser())


def describe(cfg: TrainConfig, device: str, workers: Workers) -> str:
    """How the run trains: the device, the execution mode and, when distributed, the workers."""
    mode = "PyNative" if cfg.pynative else "compiled graph"
    if workers.size == 1:
        return f"{device}, {mode}"
    return (f"{workers.size} {device} workers ({mode}; this is worker {workers.rank}), "
            f"a global batch of {workers.size} x {cfg.batch_size}")


def train(cfg: TrainConfig) -> RunFolder:
    """Train a GAN as `cfg` says and leave a complete, resumable run folder after every epoch."""
    check_ranges(cfg)
    device = select_device(cfg.device, pynative=cfg.pynative)
    workers = start_workers(cfg.distribute)
    data = training_set(cfg, workers)
    cfg = replace(cfg, shape=list(data.samples.shape[1:]), classes=list(data.classes))
    cfg = with_judge(cfg)
    run = worker_folder(cfg, workers)
    if workers.writes:
        write_config(run, cfg)
    print(f"msgan: training '{cfg.model}' on {data.source} on {describe(cfg, device, workers)}; "
          f"run folder {run.root}", flush=True)
    fit(cfg, run, data, build_networks(cfg, workers), Position(), history={}, workers=workers)
    return run


def resume_target(target: str) -> tuple[RunFolder, Optional[int]]:
    """The run folder that --resume names, and the epoch when it names one epoch's checkpoint."""
    path = Path(target).expanduser()
    if path.is_dir():
        return RunFolder(path), None
    if path.parent.name == "checkpoints":
        run = RunFolder(path.parent.parent)
        if path.name == run.resume_state.name:
            return run, None
        for network in ("Generator", "Discriminator"):
            for epoch, found in epoch_checkpoints(run.root, network).items():
                if found.name == path.name:
                    return run, epoch
    raise MsganError(f"--resume {target}: not a run folder nor a checkpoint in one: "
                     "pass a folder that train.py made, such as runs/mlp-…")


def saved_settings(run: RunFolder, target: str) -> dict[str, Any]:
    """The settings in a run's config.yaml, refusing a folder that is not a run this msgan can continue."""
    saved = read_config(run.root)
    if saved is None:
        raise MsganError(f"--resume {target}: {run.root} is not a run folder (it has no config.yaml): "
                         "pass a folder that train.py made, such as runs/mlp-…")
    trained_by = str((saved.get("versions") or {}).get("msgan", ""))
    if trained_by.startswith("0.1."):
        raise MsganError(f"{run.root} was trained by msgan {trained_by}, which named its files by epochs counted "
                         f"from 0, and this msgan {msgan.__version__} cannot continue it: its checkpoints still "
                         "load in infer.py, eval.py and export.py; to train further, start a new run")
    return saved


def resume_state(run: RunFolder, cfg: TrainConfig, target: str, epoch: Optional[int]) -> tuple[dict, Position, dict]:
    """The resume state's (parameters, position, history), refusing one that does not continue `cfg`'s run
    from the checkpoint named (`epoch`, counted from 1, when --resume names one)."""
    if not run.resume_state.is_file():
        raise MsganError(f"{run.root} has no resume state ({run.resume_state.name}): it stopped before the end of "
                         "its first epoch, or an older msgan trained it; start a new run")
    params, info, history = read_checkpoint_extras(run.resume_state)
    at = Position(info.epoch, info.batch, info.step)
    if info.network != STATE:
        raise MsganError(f"{run.resume_state} is not a resume state: restore the run's own resume.ckpt")
    check_unedited(cfg, history["settings"], run.config)
    if epoch is not None and (at.epoch, at.batch) != (epoch, 0):  # the checkpoint's name counts epochs from 1
        raise MsganError(f"{Path(target).name} is not where the run stopped: its resume state, which alone holds "
                         f"the optimizers, is at step {at.step}; pass --resume {run.root} to continue from there")
    if at.epoch >= cfg.epochs:  # the epoch at.epoch is the next one to train, or the one in progress
        raise MsganError(f"{run.root} has already trained {at.epoch} epochs of {cfg.epochs}: "
                         f"pass --epochs with a larger total to train it further")
    return params, at, history


def check_worker_count(run: RunFolder, cfg: TrainConfig, trained_on: int) -> None:
    """Refuse to resume on another number of workers, before any worker joins the others: a worker that
    leaves the group after joining it kept msrun waiting about 35 s, then ended in a C++ traceback."""
    launched = msrun_worker_count()
    if cfg.distribute and not launched:
        raise MsganError(f"{run.root} trained on {trained_on} workers: resume it with {resume_command(run, trained_on)}")
    size = launched if cfg.distribute else 1
    if size != trained_on:
        raise MsganError(f"{run.root} trained on {trained_on} worker(s), and this is {size}: a resumed run "
                         f"keeps its global batch; resume it with {resume_command(run, trained_on)}")


def resume(target: str, flags: dict[str, Any]) -> RunFolder:
    """Continue a stopped run exactly where its resume state left it; refuse anything that would change the run."""
    run, epoch = resume_target(target)
    cfg = resumed(saved_settings(run, target), flags, str(run.root))
    check_ranges(cfg)
    params, at, history = resume_state(run, cfg, target, epoch)
    check_worker_count(run, cfg, int(history.get("workers", 1)))
    device = select_device(cfg.device, pynative=cfg.pynative)
    workers = start_workers(cfg.distribute)
    data = training_set(cfg, workers)
    check_same_data(cfg, data, run, history)
    nets = build_networks(cfg, workers)
    assign_state(nets.state_parameters(), params, str(run.resume_state))
    if workers.writes:
        remove_leftovers(run.root)  # temporary files of a write that a killed process never finished
        write_config(run, cfg)  # the new total of epochs, --keep-last and device
    print(f"msgan: resuming '{cfg.model}' in {run.root} at epoch {at.epoch + 1}, step {at.step}, on "
          f"{describe(cfg, device, workers)}", flush=True)
    fit(cfg, run, data, nets, at, history, workers)
    return run


def resume_command(run: RunFolder, workers: int) -> str:
    """The command that continues `run`, trained on `workers` worker(s)."""
    if workers == 1:
        return f"python train.py --resume {run.root}"
    return f"scripts/run_distribute_train.sh {workers} --resume {run.root}"


# One compiled call runs about this many seconds of steps: a stop request waits for the call, and the
# launch cost (about 30 ms a call for the MLP on the 2-core CPU) is spread over the steps in it.
CALL_SECONDS = 2.0


def steps_per_call(seconds_per_step: Optional[float]) -> int:
    """How many steps the next compiled call runs: one while the speed is unknown (the first call
    compiles), then about CALL_SECONDS' worth at the speed of the last call."""
    if seconds_per_step is None:
        return 1
    return max(1, int(CALL_SECONDS / max(seconds_per_step, 1e-6)))


def check_finite(values: list[float], names: tuple[str, ...], run: RunFolder, epoch: int, step: int) -> None:
    """Stop on a loss or output that is NaN or infinite, before anything of this epoch is written."""
    if np.isfinite(values).all():
        return
    name, value = next((n, v) for n, v in zip(names, values) if not np.isfinite(v))
    kept = epoch_checkpoints(run.root, "Generator")
    last = (f"the last good checkpoints, {kept[max(kept)].name} and its Discriminator, stay the latest" if kept
            else "no epoch had finished, so nothing was saved")
    raise MsganError(f"{name} became {value} at epoch {epoch + 1}, step {step}, and training stopped ({last}): "
                     "lower --lr, or change --seed, and start a new run")


def epoch_steps(cfg: TrainConfig, samples: int, workers: Workers) -> int:
    """Full global batches an epoch takes from `samples` items, or from --epoch-samples of them."""
    return min(samples, cfg.epoch_samples or samples) // (cfg.batch_size * workers.size)


def epoch_inputs(cfg: TrainConfig, samples: int, epoch: int, workers: Workers) -> tuple[Tensor, Tensor, Tensor]:
    """The epoch's batches, as rows of sample indices (steps, batch), their noise (steps, batch, latent) and
    the gradient penalty's interpolation weights (steps, batch): this worker's slice of each global batch,
    so that the workers together train on what one process would with the global batch. With
    --epoch-samples N, the first N of the epoch's shuffled order: N samples drawn without replacement, anew
    each epoch, as GeneratorDataset(shuffle=True, num_samples=N) draws them."""
    batch = cfg.batch_size * workers.size
    order = batches(samples, batch, cfg.seed, epoch)[:epoch_steps(cfg, samples, workers)]
    noise = latents(order.size, cfg.latent_dim, cfg.seed, STEP_NOISE, epoch, distribution=cfg.latent)
    noise = noise.reshape(len(order), batch, cfg.latent_dim)
    mix = stream(cfg.seed, PENALTY_MIX, epoch).random(order.shape, dtype=np.float32)
    return tuple(Tensor(np.ascontiguousarray(workers.shard(rows))) for rows in (order.astype(np.int32), noise, mix))


def grid_latents(cfg: TrainConfig) -> np.ndarray:
    """The latents behind every epoch's picture: fixed by the seed, or drawn as the tutorial draws them."""
    count = cfg.grid_size ** 2
    if cfg.grid_seed is not None:
        return tutorial_normal(cfg.grid_seed, (count, cfg.latent_dim))
    return latents(count, cfg.latent_dim, cfg.seed, FIXED_NOISE, distribution=cfg.latent)


def fit(cfg: TrainConfig, run: RunFolder, data: TrainingSet, nets: Networks, start: Position,
        history: dict[str, np.ndarray], workers: Workers = SINGLE) -> None:
    """The epoch loop from `start`: shuffle, step, log, and save each epoch's outputs and the resume state.

    Each epoch's order and noise are functions of (seed, epoch) alone, so a resumed run replays them
    and skips the batches already done. The steps run in compiled calls of several steps each
    (steps_per_call); a stop request is answered when the current call returns. With several
    workers, they agree on each call's length and on stopping, and only the first one writes.
    """
    fixed_z = grid_latents(cfg)
    steps_per_epoch = epoch_steps(cfg, len(data), workers)
    recorder = new_recorder(run, cfg, nets, steps_per_epoch, fixed_z)
    recorder.restore(history)
    if workers.writes:
        tell_launcher(run.root)
    if workers.writes and start == Position():
        recorder.save_real(data.samples)
    facts = {"samples": len(data), "workers": workers.size}  # what a resume must find unchanged
    progress = Progress(steps_per_epoch * cfg.epochs, cfg.epochs, done=start.step)
    at = start
    samples, labels = Tensor(data.samples), Tensor(data.labels)  # on the device once, for the whole run
    seconds_per_step: Optional[float] = None
    with StopRequests(resume_command(run, workers.size)) as stop, progress:
        for epoch in range(start.epoch, cfg.epochs):
            started = time.perf_counter()
            order, noise, mix = epoch_inputs(cfg, len(data), epoch, workers)
            while at.batch < steps_per_epoch:
                count = min(steps_per_call(seconds_per_step), steps_per_epoch - at.batch)
                called = time.perf_counter()
                rows = nets.train_steps(samples, labels, order, noise, mix, Tensor(at.batch, ms.int32),
                                        Tensor(count, ms.int32)).asnumpy()[:count].tolist()
                for values in rows:  # loss_d, loss_g, D(x), D(G(z)) (and the toy GAN's four outputs)
                    check_finite(values, recorder.columns[2:], run, epoch, at.step + 1)
                    at = Position(epoch, at.batch + 1, at.step + 1)
                    recorder.record(epoch, at.step, values)
                progress.update(epoch, at.step, values[0], values[1])
                stopping, seconds_per_step = agree(workers, stop.requested(), (time.perf_counter() - called) / count)
                if stopping and at.batch < steps_per_epoch:
                    if workers.writes:
                        save_stopped(recorder, nets, at, facts)
                    raise stop.stopped(at)
            at = Position(epoch + 1, 0, at.step)
            if workers.writes:
                save_epoch_end(recorder, nets, at, facts)
            progress.epoch_done(epoch, recorder.epoch_summary(epoch), time.perf_counter() - started)
            if agree(workers, stop.requested(), 0.0)[0] and epoch < cfg.epochs - 1:
                if workers.writes:
                    recorder.redraw(epoch)
                raise stop.stopped(at)
    print(finished(recorder, progress.elapsed(), workers, nets), flush=True)


def finished(recorder: RunRecorder, seconds: float, workers: Workers, nets: Networks) -> str:
    """The message at the end of training: the run folder's files and, when distributed, the weights' digest."""
    run, took = recorder.run, format_seconds(seconds)
    digest = weights_digest([nets.generator, nets.discriminator]) if workers.size > 1 else ""
    if not workers.writes:
        return (f"msgan: worker {workers.rank} of {workers.size} done in {took}; worker 0 wrote the run folder. "
                f"Weights sha256 {digest}")
    files = "".join(f"  {line}\n" for line in recorder.summary())
    same = f"Weights sha256 {digest} (every worker prints its own)\n" if workers.size > 1 else ""
    return (f"msgan: done in {took}. Run folder {run.root}:\n{files}{same}"
            f"Sample from it: python infer.py --run {run.root}")


def save_stopped(recorder: RunRecorder, nets: Networks, at: Position, facts: dict[str, int]) -> None:
    """A run stopped inside an epoch: the resume state, the losses so far, and the last finished epoch's plots."""
    recorder.save_state(nets.state_parameters(), at, facts)
    write_csv(recorder.run.losses_csv, recorder.rows, recorder.columns)
    if at.epoch > 0:
        recorder.redraw(at.epoch - 1)


def save_epoch_end(recorder: RunRecorder, nets: Networks, at: Position, facts: dict[str, int]) -> None:
    """A finished epoch's files, then the resume state; a failed write says how to go on."""
    try:
        recorder.save_epoch(at.epoch - 1, at.step)
        recorder.save_state(nets.state_parameters(), at, facts)
    except MsganError as err:
        if not recorder.run.resume_state.exists():
            raise
        raise MsganError(f"{err}; then continue the run from its last saved epoch with: "
                         f"{resume_command(recorder.run, facts['workers'])}") from err
