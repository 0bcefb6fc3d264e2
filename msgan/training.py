"""The GAN training step, written once for any generator/discriminator pair, and the training loop."""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from msgan.checkpoints import STATE, assign_state, read_checkpoint_extras
from msgan.config import TrainConfig, check_ranges, resumed
from msgan.console import Progress, format_seconds
from msgan.data import TrainingSet, batches, digit_set, load_digits, pattern_set
from msgan.device import select_device
from msgan.errors import MsganError, StoppedBySignal
from msgan.files import remove_leftovers
from msgan.layers import shard_dropout_streams
from msgan.models import MODELS, build_discriminator, build_generator
from msgan.parallel import (SINGLE, Workers, agree, gradient_mean, launched_by_msrun, start_workers, value_mean,
                            weights_digest)
from msgan.precision import LossScaling, loss_scaling
from msgan.recorders import RunRecorder, new_recorder
from msgan.runs import (Position, RunFolder, create_run_folder, epoch_checkpoints, read_config, write_config,
                        write_csv)
from msgan.sampling import FIXED_NOISE, STEP_NOISE, latents

StepFn = Callable[[Tensor, Tensor, Tensor], Tensor]
LoopFn = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]
LOSSES = {"bce": nn.BCELoss, "mse": nn.MSELoss}


def prefix_optimizer_state(optimizer: nn.Optimizer, prefix: str) -> None:
    """Prefix an optimizer's own state (step, learning rate, beta powers, moments), not the weights it updates.

    Two optimizers in one graph must not both own a 'global_step'. The tutorial calls
    optimizer.update_parameters_name, which also renames the network's weights (to names such as
    'optim_ggeneratormodel.0.weight') so that its checkpoints no longer load into a fresh network.
    """
    weights = {id(p) for p in optimizer.parameters}
    for param in optimizer.get_parameters():
        if id(param) not in weights:
            param.name = prefix + param.name


def make_optimizer(net: nn.Cell, cfg: TrainConfig) -> nn.Optimizer:
    """The recipe's optimizer over one network's trainable weights."""
    if cfg.optimizer == "sgd":
        return nn.SGD(net.trainable_params(), learning_rate=cfg.lr)
    return nn.Adam(net.trainable_params(), learning_rate=cfg.lr, beta1=cfg.beta1, beta2=cfg.beta2)


def make_optimizers(generator: nn.Cell, discriminator: nn.Cell, cfg: TrainConfig) -> tuple[nn.Optimizer, nn.Optimizer]:
    """One optimizer per network, with distinct state names so that one graph can hold both."""
    opt_g, opt_d = make_optimizer(generator, cfg), make_optimizer(discriminator, cfg)
    prefix_optimizer_state(opt_g, "optim_g.")
    prefix_optimizer_state(opt_d, "optim_d.")
    return opt_g, opt_d


def make_train_step(generator: nn.Cell, discriminator: nn.Cell, opt_g: nn.Optimizer, opt_d: nn.Optimizer,
                    loss: str = "bce", d_loss: str = "mean", conditional: bool = False, track_fakes: bool = False,
                    compiled: bool = True, workers: Workers = SINGLE,
                    scaling: Optional[tuple[LossScaling, LossScaling]] = None) -> StepFn:
    """Build train_step(real, z, labels) -> [loss_d, loss_g, mean D(x), mean D(G(z))]: D is updated, then G.

    D's loss is the mean of its real and fake losses, or their `d_loss="sum"` (the 1010 lesson takes
    one D step on each). `labels` reach the networks only when they are `conditional`, and with
    `track_fakes` the batch mean of G's output follows the four numbers; these are Python-level
    choices, so the graph never sees the other branch.
    With several `workers`, each update uses the gradients averaged over all of them, and the
    returned numbers are their means: those of the global batch. `scaling` holds D's and G's loss
    scaling (--amp O2); by default there is none.
    """
    generator.set_train(True)  # BatchNorm normalises by batch statistics and updates its running ones
    discriminator.set_train(True)
    criterion = LOSSES[loss](reduction="mean")
    scale_d, unscale_d, update_d, _ = scaling[0] if scaling else loss_scaling("O0", "", opt_d)
    scale_g, unscale_g, update_g, _ = scaling[1] if scaling else loss_scaling("O0", "", opt_g)

    def make_fakes(z, labels):
        return generator(z, labels) if conditional else generator(z)

    def judge(x, labels):
        return discriminator(x, labels) if conditional else discriminator(x)

    def discriminator_loss(real, fake, labels):
        p_real, p_fake = judge(real, labels), judge(fake, labels)
        loss = criterion(p_real, ops.ones_like(p_real)) + criterion(p_fake, ops.zeros_like(p_fake))
        if d_loss == "mean":
            loss = loss / 2
        return scale_d(loss), (p_real.mean(), p_fake.mean())

    def generator_loss(fake, labels):
        p_fake = judge(fake, labels)
        return scale_g(criterion(p_fake, ops.ones_like(p_fake)))  # non-saturating: G maximises log D(G(z))

    # D's loss is differentiated over D's weights only; G's loss over G's output, from which ms.vjp
    # carries the gradient back into G's weights.
    grad_d = ms.value_and_grad(discriminator_loss, None, opt_d.parameters, has_aux=True)
    grad_g = ms.value_and_grad(generator_loss, 0)
    mean_grads_d, mean_grads_g = gradient_mean(opt_d.parameters, workers), gradient_mean(opt_g.parameters, workers)
    mean_over_workers = value_mean(workers)

    def train_step(real, z, labels):
        # One forward pass of G serves both updates, since G does not change before its own update
        # (PyTorch's DCGAN example reuses its fake batch the same way). Running it twice cost the
        # DCGAN step about a sixth of its time, and updated BatchNorm's running statistics twice.
        fake, pull_back = ms.vjp(make_fakes, z, labels, weights=opt_g.parameters)
        (loss_d, (d_real, d_fake)), grads = grad_d(real, ops.stop_gradient(fake), labels)
        update_d(mean_grads_d(grads))
        loss_g, grad_fake = grad_g(fake, labels)
        update_g(mean_grads_g(pull_back(grad_fake)[1]))  # [0] would be the gradients of z and labels
        stats = ops.stack([unscale_d(loss_d), unscale_g(loss_g), d_real, d_fake])
        return mean_over_workers(ops.concat((stats, fake.mean(0).reshape(-1))) if track_fakes else stats)

    return ms.jit(train_step) if compiled else train_step


def make_train_loop(train_step: StepFn, width: int, compiled: bool = True) -> LoopFn:
    """Build train_steps(samples, labels, order, noise, first, count) -> (steps, width) stats: the steps
    first .. first+count-1 of an epoch, whose batches are the rows of `order` and `noise`, run in one call.

    The loop runs inside the compiled graph and gathers each batch from the samples already on the
    device, so Python, the host-to-device copies and the graph launch cost once per call, not once
    per step. On the 2-core CPU the tutorial's MLP GAN went from 11.1 steps/s (one call per step) to
    52.8 at batch 64, and from 10.2 to 36.0 at batch 128 (benchmarks/bench_train.py); the losses are
    the same to the bit.
    `count` is a tensor, so calls of any length share one compiled graph. Row k of the result holds
    step first+k's numbers; the rows from `count` on are zero.
    """
    def train_steps(samples, labels, order, noise, first, count):
        stats = ops.zeros((order.shape[0], width), ms.float32)
        i = first
        while i < first + count:
            index = order[i]
            stats[i - first] = train_step(ops.gather(samples, index, 0), noise[i], ops.gather(labels, index, 0))
            i = i + 1
        return stats

    return ms.jit(train_steps) if compiled else train_steps


@dataclass
class Networks:
    """A run's two networks, their optimizers, the recipe's single train step over them (uncompiled; the
    loop compiles it), and the compiled loop of those steps that training calls."""

    generator: nn.Cell
    discriminator: nn.Cell
    opt_g: nn.Optimizer
    opt_d: nn.Optimizer
    train_step: StepFn
    train_steps: LoopFn
    loss_scales: list[Parameter]  # --amp O2's loss scales and their counters; none otherwise

    def state_parameters(self) -> list[Parameter]:
        """Everything an exact resume restores: weights, BatchNorm statistics, both optimizers' moments and
        steps, and the loss scales."""
        cells = (self.generator, self.discriminator, self.opt_g, self.opt_d)
        params = [p for cell in cells for p in cell.get_parameters()] + self.loss_scales
        return list({id(p): p for p in params}.values())


def build_networks(cfg: TrainConfig, workers: Workers = SINGLE) -> Networks:
    """Fresh networks, optimizers and the (compiled) loop of train steps, as the recipe says.

    Every worker builds the same initial weights from the seed.
    """
    ms.set_seed(cfg.seed)
    spec = MODELS[cfg.model]
    generator = build_generator(cfg.model, cfg.latent_dim, cfg.amp)
    discriminator = build_discriminator(cfg.model, cfg.amp)
    for net in (generator, discriminator):
        shard_dropout_streams(net, workers.rank)
    opt_g, opt_d = make_optimizers(generator, discriminator, cfg)
    scaling = (loss_scaling(cfg.amp, "loss_scale_d", opt_d), loss_scaling(cfg.amp, "loss_scale_g", opt_g))
    track_fakes = spec.kind == "pattern"
    train_step = make_train_step(generator, discriminator, opt_g, opt_d, loss=cfg.loss, d_loss=cfg.d_loss,
                                 conditional=spec.conditional, track_fakes=track_fakes, compiled=False,
                                 workers=workers, scaling=scaling)
    width = 4 + (spec.sample_shape[0] if track_fakes else 0)  # the four numbers, and G's mean output
    return Networks(generator, discriminator, opt_g, opt_d, train_step,
                    make_train_loop(train_step, width, compiled=not cfg.pynative),
                    scaling[0].parameters + scaling[1].parameters)


def training_set(cfg: TrainConfig, workers: Workers = SINGLE) -> TrainingSet:
    """The digits the run asked for, or the toy GAN's own four-number samples, checked against the
    global batch (--batch-size on each worker)."""
    batch = cfg.batch_size * workers.size
    if MODELS[cfg.model].kind == "pattern":
        if cfg.data != TrainConfig.data or cfg.download or cfg.limit is not None:
            raise MsganError(f"'{cfg.model}' makes its own four-number samples: leave out --data, --download and --limit")
        data = pattern_set(batch, cfg.seed)
    else:
        data = digit_set(load_digits(cfg.data, download=cfg.download, limit=cfg.limit))
    if batch > len(data):
        on_workers = f" on each of {workers.size} workers" if workers.size > 1 else ""
        raise MsganError(f"--batch-size {cfg.batch_size}{on_workers} is larger than the {len(data)} training images "
                         "allow: lower --batch-size or raise --limit")
    return data


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


def resume(target: str, flags: dict[str, Any]) -> RunFolder:
    """Continue a stopped run exactly where its resume state left it; refuse anything that would change the run."""
    run, epoch = resume_target(target)
    saved = read_config(run.root)
    if saved is None:
        raise MsganError(f"--resume {target}: {run.root} is not a run folder (it has no config.yaml): "
                         "pass a folder that train.py made, such as runs/mlp-…")
    cfg = resumed(saved, flags, str(run.root))
    check_ranges(cfg)
    if not run.resume_state.is_file():
        raise MsganError(f"{run.root} has no resume state ({run.resume_state.name}): it stopped before the end of "
                         "its first epoch, or an older msgan trained it; start a new run")
    params, info, history = read_checkpoint_extras(run.resume_state)
    at = Position(info.epoch, info.batch, info.step)
    if info.network != STATE or info.recipe_hash != cfg.recipe_hash():
        raise MsganError(f"{run.resume_state} does not belong to the settings in {run.config} "
                         "(was config.yaml edited?): restore the run's config.yaml")
    if epoch is not None and (at.epoch, at.batch) != (epoch + 1, 0):
        raise MsganError(f"{Path(target).name} is not where the run stopped: its resume state, which alone holds "
                         f"the optimizers, is at step {at.step}; pass --resume {run.root} to continue from there")
    if at.epoch >= cfg.epochs:  # the epoch at.epoch is the next one to train, or the one in progress
        raise MsganError(f"{run.root} has already trained {at.epoch} epochs of {cfg.epochs}: "
                         f"pass --epochs with a larger total to train it further")
    trained_on = int(history.get("workers", 1))  # resume states of msgan before --distribute: one worker
    if cfg.distribute and not launched_by_msrun():
        raise MsganError(f"{run.root} trained on {trained_on} workers: resume it with {resume_command(run, trained_on)}")
    device = select_device(cfg.device, pynative=cfg.pynative)
    workers = start_workers(cfg.distribute)
    if workers.size != trained_on:
        raise MsganError(f"{run.root} trained on {trained_on} worker(s), and this is {workers.size}: a resumed run "
                         f"keeps its global batch; resume it with {resume_command(run, trained_on)}")
    data = training_set(cfg, workers)
    if len(data) != history.get("samples"):
        raise MsganError(f"the training data now hold {len(data)} samples, but {run.root} trained on "
                         f"{history.get('samples')}: resume with the same data")
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


class StopRequests:
    """The first Ctrl-C or SIGTERM asks training to stop after the current compiled call, so that it can save;
    a second one stops at once (the files on disk stay whole: every write is atomic).

    The two are one request: once a compiled graph has run, MindSpore 2.10's runtime answers SIGINT
    by raising SIGTERM (measured on CPU), so the handler cannot tell which one the user sent.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, resume_with: str):
        self.resume_with = resume_with  # the command that continues the run
        self.signum: Optional[int] = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread
            self.previous = {s: signal.signal(s, self._request) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _request(self, signum: int, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        print("\nmsgan: stop requested: finishing the current steps and saving the run "
              "(press Ctrl-C again to stop at once)", flush=True)

    def requested(self) -> bool:
        return self.signum is not None

    def stopped(self, at: Position) -> StoppedBySignal:
        """The exception that ends a stopped run, with the command that resumes it."""
        epoch = at.epoch + 1 if at.batch else at.epoch  # counted from 1: the epoch of the last step taken
        return StoppedBySignal(f"stopped on request (Ctrl-C or SIGTERM) after step {at.step}, in epoch {epoch}; "
                               f"the run is saved. Resume it with: {self.resume_with}", self.signum)


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


def epoch_inputs(cfg: TrainConfig, samples: int, epoch: int, workers: Workers) -> tuple[Tensor, Tensor]:
    """The epoch's batches, as rows of sample indices (steps, batch), and their noise (steps, batch, latent):
    this worker's slice of each global batch, so that the workers together train on what one process
    would with the global batch."""
    batch = cfg.batch_size * workers.size
    order = batches(samples, batch, cfg.seed, epoch)
    noise = latents(order.size, cfg.latent_dim, cfg.seed, STEP_NOISE, epoch, distribution=cfg.latent)
    noise = noise.reshape(len(order), batch, cfg.latent_dim)
    return (Tensor(np.ascontiguousarray(workers.shard(order)).astype(np.int32)),
            Tensor(np.ascontiguousarray(workers.shard(noise))))


def fit(cfg: TrainConfig, run: RunFolder, data: TrainingSet, nets: Networks, start: Position,
        history: dict[str, np.ndarray], workers: Workers = SINGLE) -> None:
    """The epoch loop from `start`: shuffle, step, log, and save each epoch's outputs and the resume state.

    Each epoch's order and noise are functions of (seed, epoch) alone, so a resumed run replays them
    and skips the batches already done. The steps run in compiled calls of several steps each
    (steps_per_call); a stop request is answered when the current call returns. With several
    workers, they agree on each call's length and on stopping, and only the first one writes.
    """
    fixed_z = latents(cfg.grid_size ** 2, cfg.latent_dim, cfg.seed, FIXED_NOISE, distribution=cfg.latent)
    steps_per_epoch = len(data) // (cfg.batch_size * workers.size)
    recorder = new_recorder(run, cfg, nets.generator, nets.discriminator, steps_per_epoch, fixed_z)
    recorder.restore(history)
    facts = {"samples": len(data), "workers": workers.size}  # what a resume must find unchanged
    progress = Progress(steps_per_epoch * cfg.epochs, cfg.epochs, done=start.step)
    at = start
    samples, labels = Tensor(data.samples), Tensor(data.labels)  # on the device once, for the whole run
    seconds_per_step: Optional[float] = None
    with StopRequests(resume_command(run, workers.size)) as stop, progress:
        for epoch in range(start.epoch, cfg.epochs):
            started = time.perf_counter()
            order, noise = epoch_inputs(cfg, len(data), epoch, workers)
            while at.batch < steps_per_epoch:
                count = min(steps_per_call(seconds_per_step), steps_per_epoch - at.batch)
                called = time.perf_counter()
                rows = nets.train_steps(samples, labels, order, noise, Tensor(at.batch, ms.int32),
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
