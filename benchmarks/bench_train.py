"""Training speed of msgan against the MindSpore tutorial as written and (where torch is installed) PyTorch.

    python benchmarks/bench_train.py [--models mlp dcgan] [--batches 64 256 1024] [--torch-python PYTHON]

Every figure comes from its own child process, all in one run on one machine, and is reported as a ratio
to the tutorial's step measured in the same run, and as a fraction of this machine's GEMM throughput
(MindSpore's ops.matmul on the model's largest layer at that batch, also measured here). Prints a
Markdown table and writes the figures as JSON (--json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parent.parent
MODELS = ("mlp", "dcgan")
# mlp adds the tutorial's batch of 128, the default run's
BATCHES = {"mlp": (64, 128, 256, 1024), "dcgan": (64, 256, 1024)}
# Per (model, case): seconds of steady-state measurement to aim for; a case measures at least 2 steps.
MEASURE_SECONDS = {"mlp": 4.0, "dcgan": 8.0}
CASES = ("gemm", "tutorial", "step", "loop", "train", "torch")
# dcgan at batch 1024 takes about 10 s a step, 35-40 s to compile and 11-12 GB: its loop figure alone
# keeps the whole benchmark under 10 minutes.
SKIP = {("dcgan", 1024): ("step", "train")}


# ---------------------------------------------------------------- child side: one measurement each

def timed_rate(run: Callable[[int], None], step_seconds: float, budget: float) -> float:
    """Steps/s of `run(count)`, with `count` chosen so that the measurement lasts about `budget` seconds."""
    count = max(2, int(budget / max(step_seconds, 1e-4)))
    start = time.perf_counter()
    run(count)
    return count / (time.perf_counter() - start)


def synthetic(model: str, n: int):
    """n images in [-1, 1] and labels, as the digit models train on."""
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (n, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, n).astype(np.int32)


def case_gemm(model: str, batch: int) -> dict[str, Any]:
    """GFLOP/s of ops.matmul on the model's largest layer at this batch: `count` products summed in a
    loop inside one compiled call, as the training loop runs its steps (the sum adds 1/k of the work)."""
    import mindspore as ms
    import numpy as np
    from mindspore import Tensor, ops

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    m, k, n = (batch, 1024, 784) if model == "mlp" else (batch * 49, 6400, 128)  # dcgan: 256->128 k5 on 7x7
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((m, k)).astype(np.float32))
    w = Tensor(rng.standard_normal((k, n)).astype(np.float32))

    @ms.jit
    def products(x, w, count):
        total = ops.zeros((m, n), ms.float32)
        i = 0 * count
        while i < count:
            total = total + ops.matmul(x, w)
            i = i + 1
        return total

    products(x, w, Tensor(1, ms.int32)).asnumpy()
    start = time.perf_counter()
    products(x, w, Tensor(1, ms.int32)).asnumpy()
    seconds = time.perf_counter() - start

    def run(count):
        products(x, w, Tensor(count, ms.int32)).asnumpy()
    return {"gflops": 2 * m * k * n * timed_rate(run, seconds, 2.0) / 1e9, "shape": [m, k, n]}


def case_tutorial(model: str, batch: int) -> dict[str, Any]:
    """The tutorial's PyNative step as written."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import tutorial_gan

    probe = tutorial_gan.steps_per_second(batch, 2, warmup=1)
    return {"steps_per_s": tutorial_gan.steps_per_second(batch, max(2, int(MEASURE_SECONDS[model] * probe)))}


def compiled_networks(model: str, batch: int):
    from msgan.config import resolve
    from msgan.device import select_device
    from msgan.step import build_networks

    select_device("CPU")
    cfg = resolve({"model": model, "batch_size": batch})
    return cfg, build_networks(cfg)


def case_step(model: str, batch: int) -> dict[str, Any]:
    """msgan's compiled step, one call (and one fetch of the losses) per step, batches already on the device."""
    import mindspore as ms
    import numpy as np
    from mindspore import Tensor

    cfg, nets = compiled_networks(model, batch)
    step = ms.jit(nets.train_step)
    images, labels = synthetic(model, batch)
    z = np.random.default_rng(1).standard_normal((batch, cfg.latent_dim)).astype(np.float32)
    inputs = (Tensor(images), Tensor(z), Tensor(labels), Tensor(np.full(batch, 0.5, np.float32)), Tensor(True))
    start = time.perf_counter()
    step(*inputs).asnumpy()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    step(*inputs).asnumpy()
    seconds = time.perf_counter() - start

    def run(count):
        for _ in range(count):
            step(*inputs).asnumpy()
    rate = timed_rate(run, seconds, MEASURE_SECONDS[model])
    return {"steps_per_s": rate, "compile_s": compile_s - 1 / rate}


def case_loop(model: str, batch: int) -> dict[str, Any]:
    """msgan's compiled loop (make_train_loop): many steps per call, data gathered on the device."""
    import mindspore as ms
    import numpy as np
    from mindspore import Tensor

    from msgan.data import batches
    from msgan.sampling import latents

    cfg, nets = compiled_networks(model, batch)
    steps = 8
    images, labels = synthetic(model, steps * batch)
    order = Tensor(batches(len(images), batch, 0, 0).astype(np.int32))
    noise = Tensor(latents(steps * batch, cfg.latent_dim, 0).reshape(steps, batch, cfg.latent_dim))
    inputs = (Tensor(images), Tensor(labels), order, noise, Tensor(np.full((steps, batch), 0.5, np.float32)))

    def call(count):
        nets.train_steps(*inputs, Tensor(0, ms.int32), Tensor(count, ms.int32)).asnumpy()

    start = time.perf_counter()
    call(1)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    call(1)
    seconds = time.perf_counter() - start

    def run(count):
        for _ in range(count // steps):
            call(steps)
        if count % steps:
            call(count % steps)
    rate = timed_rate(run, seconds, MEASURE_SECONDS[model])
    return {"steps_per_s": rate, "compile_s": compile_s - 1 / rate}


def case_train(model: str, batch: int) -> dict[str, Any]:
    """msgan's whole training loop (train.py) on the embedded digits: steady-state epochs, with the data
    pipeline, logging and every per-epoch output; their shares of the epoch are timed inside the run."""
    import msgan.training as training
    from msgan.config import resolve
    from msgan.recorders import RunRecorder

    epoch_seconds, output_seconds, state_seconds, data_shares, pending = [], [], [], [], []

    def timed(fn: Callable, into: Optional[list] = None) -> Callable:
        def wrapped(*args, **kwargs):
            start = time.perf_counter()
            result = fn(*args, **kwargs)
            (into if into is not None else pending).append(time.perf_counter() - start)
            return result
        return wrapped

    # the data pipeline: each epoch's order and noise, and every host-to-device copy
    training.batches, training.latents, training.Tensor = (timed(training.batches), timed(training.latents),
                                                           timed(training.Tensor))
    # per-epoch outputs: the files of the epoch (checkpoints, picture, losses.csv, GIF and plot when due), and
    # the resume state apart, since the issue's outputs are the first and the state is msgan's own addition
    RunRecorder.save_epoch = timed(RunRecorder.save_epoch, output_seconds)
    RunRecorder.save_state = timed(RunRecorder.save_state, state_seconds)
    done = training.Progress.epoch_done

    def epoch_done(self, epoch, summary, seconds):
        epoch_seconds.append(seconds)
        data_shares.append(sum(pending) / seconds)
        pending.clear()
        done(self, epoch, summary, seconds)
    training.Progress.epoch_done = epoch_done

    limit = {"mlp": 5000, "dcgan": min(5000, 8 * batch)}[model]  # dcgan: 8 steps an epoch keep it short
    epochs = 8 if model == "mlp" else 3  # the median of 7 epochs: every 30 s one also redraws the GIF and plot
    with tempfile.TemporaryDirectory() as tmp:
        flags = {"model": model, "batch_size": batch, "epochs": epochs, "device": "CPU", "out": f"{tmp}/run",
                 "limit": limit}
        start = time.perf_counter()
        training.train(resolve(flags))
        total = time.perf_counter() - start
    steady = epoch_seconds[1:]  # the first epoch compiles
    steps = limit // batch
    return {"steps_per_s": steps / statistics.median(steady), "epoch_s": statistics.median(steady),
            "outputs_share": statistics.median(o / e for o, e in zip(output_seconds[1:], steady)),
            "state_share": statistics.median(o / e for o, e in zip(state_seconds[1:], steady)),
            "data_share": statistics.median(data_shares[1:]),
            "first_epoch_s": epoch_seconds[0], "total_s": total, "epochs": epochs, "steps_per_epoch": steps}


def case_torch(model: str, batch: int) -> dict[str, Any]:
    """The same MLP GAN step in PyTorch eager (the usual PyTorch GAN loop)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import torch
    import torch_gan

    probe = torch_gan.steps_per_second(batch, 2, warmup=1)
    rate = torch_gan.steps_per_second(batch, max(2, int(MEASURE_SECONDS[model] * probe)))
    return {"steps_per_s": rate, "torch": torch.__version__, "threads": torch.get_num_threads()}


def child(case: str, model: str, batch: int) -> None:
    sys.path.insert(0, str(REPO))
    result = globals()[f"case_{case}"](model, batch)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- parent side: run, tabulate, save

def measure(case: str, model: str, batch: int, python: str, timeout: float) -> Optional[dict[str, Any]]:
    """Run one case in a fresh process; None (with the reason on stderr) when it fails or is skipped."""
    command = [python, __file__, "--child", case, model, str(batch)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "GLOG_v": "3"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:
        print(f"  {case} {model} {batch}: over {timeout:.0f} s, skipped", file=sys.stderr)
        return None
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    print(f"  {case} {model} {batch}: failed ({last})", file=sys.stderr)
    return None


def forward_flops(model: str) -> tuple[float, float]:
    """Multiply-add FLOPs of one sample's forward pass through G and D (Dense and convolution layers)."""
    sys.path.insert(0, str(REPO))
    from mindspore import nn

    from msgan.layers import Conv2d, Conv2dTranspose
    from msgan.models import build_discriminator, build_generator

    def flops(net) -> float:
        total = 0.0
        for _, cell in net.cells_and_names():
            if isinstance(cell, nn.Dense):
                total += 2 * cell.in_channels * cell.out_channels
            elif isinstance(cell, (Conv2d, Conv2dTranspose)):  # every tap of every low-resolution pixel
                side = min(cell.gather_matmul.in_size, cell.gather_matmul.out_size)
                total += 2 * cell.in_channels * cell.out_channels * cell.kernel_size[0] ** 2 * side ** 2
        return total
    return flops(build_generator(model, 100)), flops(build_discriminator(model))


def step_flops(model: str, batch: int, per_sample: tuple[float, float]) -> float:
    """One train step's matmul FLOPs: G forward and backward (3x), D forward on real, fake and fake again,
    backward for D's update on both batches (4x) and for G's on the fake one (1x)."""
    g, d = per_sample
    return batch * (3 * g + 8 * d)


def machine() -> dict[str, Any]:
    import mindspore
    import numpy

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "mindspore": mindspore.__version__, "numpy": numpy.__version__, "date": time.strftime("%Y-%m-%d")}


def table(rows: list[dict[str, Any]]) -> str:
    def fmt(value, spec, unit=""):
        return "—" if value is None else format(value, spec) + unit
    lines = ["| model | batch | tutorial (PyNative) | msgan step | msgan loop | msgan train.py | vs tutorial "
             "| PyTorch eager | vs PyTorch | of GEMM bound | data / outputs / state share | compile | peak memory |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['batch']} | {fmt(r['tutorial'], '.1f')} | {fmt(r['step'], '.1f')} "
            f"| {fmt(r['loop'], '.1f')} | {fmt(r['train'], '.1f')} | {fmt(r['vs_tutorial'], '.1f', 'x')} "
            f"| {fmt(r['torch'], '.1f')} | {fmt(r['vs_torch'], '.2f', 'x')} | {fmt(r['of_gemm'], '.0%')} "
            f"| {fmt(r['data_share'], '.1%')} / {fmt(r['outputs_share'], '.1%')} / {fmt(r['state_share'], '.1%')} | {fmt(r['compile_s'], '.1f', ' s')} "
            f"| {fmt(r['peak_mb'], '.0f', ' MB')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--batches", nargs="+", type=int, help="batch sizes (default: 64 128 256 1024 for mlp, "
                        "64 256 1024 for dcgan)")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="a Python that has torch, for the PyTorch reference (skipped where torch is missing)")
    parser.add_argument("--json", default="runs/bench_train.json", help="where to write the figures")
    parser.add_argument("--timeout", type=float, default=240, help="seconds allowed to one measurement")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return

    has_torch = subprocess.run([args.torch_python, "-c", "import torch"], capture_output=True).returncode == 0
    info = machine()
    print(f"msgan bench: {info['cpu']}, {info['cores']} cores, MindSpore {info['mindspore']}, numpy {info['numpy']}, "
          f"Python {info['python']}; PyTorch reference: {'yes' if has_torch else 'no (torch not installed)'}",
          flush=True)
    started = time.perf_counter()
    rows = []
    for model in args.models:
        per_sample = forward_flops(model)
        for batch in args.batches or BATCHES[model]:
            found = {}
            for case in CASES:
                if case in ("tutorial", "torch") and model != "mlp":
                    continue  # the tutorial and the PyTorch reference are the MLP GAN
                if case == "torch" and not has_torch or case in SKIP.get((model, batch), ()):
                    continue
                python = args.torch_python if case == "torch" else sys.executable
                found[case] = measure(case, model, batch, python, args.timeout)
                print(f"  {model} batch {batch} {case}: {found[case]}", flush=True)
            rate = {c: (found.get(c) or {}).get("steps_per_s") for c in CASES}
            train = found.get("train") or {}
            gemm = (found.get("gemm") or {}).get("gflops")
            flops = step_flops(model, batch, per_sample)
            rows.append({
                "model": model, "batch": batch, "step_gflop": flops / 1e9, "gemm_gflops": gemm,
                **{c: rate[c] for c in ("tutorial", "step", "loop", "train", "torch")},
                "vs_tutorial": rate["train"] / rate["tutorial"] if rate["train"] and rate["tutorial"] else None,
                "vs_torch": rate["train"] / rate["torch"] if rate["train"] and rate["torch"] else None,
                # the whole loop's share of the GEMM-bound rate (the compiled loop's where train.py was not run)
                "of_gemm": (rate["train"] or rate["loop"]) * flops / (gemm * 1e9) if rate["loop"] and gemm else None,
                "data_share": train.get("data_share"), "outputs_share": train.get("outputs_share"),
                "state_share": train.get("state_share"),
                "compile_s": (found.get("loop") or {}).get("compile_s"),
                "peak_mb": max((found[c] or {}).get("peak_rss_mb", 0) for c in ("step", "loop", "train") if c in found),
                "details": found,
            })
    print(f"\nSteps/s, {info['cpu']} ({info['cores']} cores), MindSpore {info['mindspore']}, "
          f"measured {info['date']} in {time.perf_counter() - started:.0f} s:\n")
    print(table(rows))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    print(f"\nfigures written to {out}")


if __name__ == "__main__":
    main()
