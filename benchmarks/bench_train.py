"""Training speed of msgan against the MindSpore tutorial as written and (where torch is installed) PyTorch.

    python benchmarks/bench_train.py [--sections rates e2e sizes compile] [--models mlp dcgan dcgan64]
                                     [--torch-python PYTHON]

Every figure comes from its own child process, all in one run on one machine. Four sections:
- rates: steady-state steps/s per model, image shape and batch, as a ratio to the tutorial's step and to
  PyTorch eager measured in the same run, and as a fraction of this machine's GEMM throughput;
- e2e: 20 epochs end to end, process start to last file, `train.py` against the usual PyTorch script;
- sizes: seconds per epoch as the dataset grows (1k, 5k, 60k images);
- compile: the compiled loop's first-call time for every model at batches 64, 128 and 256.
Prints Markdown tables and writes the figures as JSON (--json).
"""
from __future__ import annotations

import argparse
import dataclasses
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
DIGIT = (1, 28, 28)
# (model, image shape, batches): the digits' rows, then colour DCGANs at 32 and 64 pixels and the tutorial's DCGAN
ROWS = (("mlp", DIGIT, (64, 128, 256, 1024)), ("dcgan", DIGIT, (64, 256, 1024)), ("dcgan", (3, 32, 32), (64,)),
        ("dcgan", (3, 64, 64), (64,)), ("dcgan64", (3, 64, 64), (64, 128)))
MODELS = tuple(dict.fromkeys(model for model, _, _ in ROWS))
# Per model: seconds of steady-state measurement to aim for; a case measures at least 2 steps.
MEASURE_SECONDS = {"mlp": 4.0, "dcgan": 8.0, "dcgan64": 8.0}
CASES = ("gemm", "tutorial", "step", "loop", "train", "torch")
# dcgan at batch 1024 takes seconds a step and gigabytes: its loop figure alone keeps the run short; the
# colour and 64-pixel rows measure the loop against PyTorch only (train.py's row runs on the digits).
SKIP = {("dcgan", 1024): ("step", "train")}
ROW_CASES = {"mlp": CASES, "dcgan": ("gemm", "step", "loop", "train", "torch")}
OTHER_CASES = ("loop", "torch")
# End to end: (model, batch, digits); dcgan on 1,000 digits keeps its 20 epochs to about two minutes.
E2E = (("mlp", 64, 5000), ("mlp", 256, 5000), ("dcgan", 64, 1000))
E2E_EPOCHS = 20
SIZES = (1000, 5000, 60000)  # images, for the tutorial's MLP at the default recipe's batch
COMPILE_BATCHES = (64, 128, 256)


def shape_name(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


# ---------------------------------------------------------------- child side: one measurement each

def timed_rate(run: Callable[[int], None], step_seconds: float, budget: float) -> float:
    """Steps/s of `run(count)`, with `count` chosen so that the measurement lasts about `budget` seconds."""
    count = max(2, int(budget / max(step_seconds, 1e-4)))
    start = time.perf_counter()
    run(count)
    return count / (time.perf_counter() - start)


def synthetic(shape: tuple[int, ...], n: int):
    """n images of `shape` in [-1, 1] and digit labels."""
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (n, *shape)).astype(np.float32), rng.integers(0, 10, n).astype(np.int32)


def case_gemm(model: str, batch: int, shape: tuple[int, ...]) -> dict[str, Any]:
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


def case_tutorial(model: str, batch: int, shape: tuple[int, ...]) -> dict[str, Any]:
    """The tutorial's PyNative step as written."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import tutorial_gan

    probe = tutorial_gan.steps_per_second(batch, 2, warmup=1)
    return {"steps_per_s": tutorial_gan.steps_per_second(batch, max(2, int(MEASURE_SECONDS[model] * probe)))}


def compiled_networks(model: str, batch: int, shape: tuple[int, ...]):
    from msgan.config import resolve
    from msgan.device import select_device
    from msgan.step import build_networks

    select_device("CPU")
    cfg = resolve({"model": model, "batch_size": batch})
    if shape != DIGIT and len(shape) == 3:  # as if found in a folder of such images
        cfg = dataclasses.replace(cfg, shape=list(shape))
    return cfg, build_networks(cfg)


def case_step(model: str, batch: int, shape: tuple[int, ...]) -> dict[str, Any]:
    """msgan's compiled step, one call (and one fetch of the losses) per step, batches already on the device."""
    import mindspore as ms
    import numpy as np
    from mindspore import Tensor

    cfg, nets = compiled_networks(model, batch, shape)
    step = ms.jit(nets.train_step)
    images, labels = synthetic(cfg.sample_shape, batch)
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


def case_loop(model: str, batch: int, shape: tuple[int, ...], steps: int = 8,
              budget: Optional[float] = None) -> dict[str, Any]:
    """msgan's compiled loop (make_train_loop): many steps per call, data gathered on the device."""
    import mindspore as ms
    import numpy as np
    from mindspore import Tensor

    from msgan.data import batches
    from msgan.sampling import latents

    cfg, nets = compiled_networks(model, batch, shape)
    images, labels = synthetic(cfg.sample_shape, steps * batch)
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
    rate = timed_rate(run, seconds, MEASURE_SECONDS.get(model, 4.0) if budget is None else budget)
    return {"steps_per_s": rate, "compile_s": compile_s - 1 / rate}


def case_compile(model: str, batch: int, shape: tuple[int, ...]) -> dict[str, Any]:
    """The compiled loop's first call less a later one: what a run pays once before its first step."""
    return case_loop(model, batch, shape, steps=2, budget=0.0)


def timed_training(flags: dict[str, Any], steps: int) -> dict[str, Any]:
    """msgan's whole training loop (train.py's) run with `flags`, each epoch of `steps` steps timed inside the
    run: steady-state epochs with the data pipeline, logging and every per-epoch output, and their shares."""
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
    # the resume state apart, since the outputs are the first and the state is msgan's own addition
    RunRecorder.save_epoch = timed(RunRecorder.save_epoch, output_seconds)
    RunRecorder.save_state = timed(RunRecorder.save_state, state_seconds)
    done = training.Progress.epoch_done

    def epoch_done(self, epoch, summary, seconds):
        epoch_seconds.append(seconds)
        data_shares.append(sum(pending) / seconds)
        pending.clear()
        done(self, epoch, summary, seconds)
    training.Progress.epoch_done = epoch_done

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        training.train(resolve({**flags, "device": "CPU", "out": f"{tmp}/run", "eval_every": 0}))
        total = time.perf_counter() - start
    steady = epoch_seconds[1:]  # the first epoch compiles
    return {"steps_per_s": steps / statistics.median(steady), "epoch_s": statistics.median(steady),
            "outputs_share": statistics.median(o / e for o, e in zip(output_seconds[1:], steady)),
            "state_share": statistics.median(o / e for o, e in zip(state_seconds[1:], steady)),
            "data_share": statistics.median(data_shares[1:]),
            "first_epoch_s": epoch_seconds[0], "total_s": total, "epochs": len(epoch_seconds), "steps_per_epoch": steps}


def case_train(model: str, batch: int, shape: tuple[int, ...]) -> dict[str, Any]:
    """train.py's loop on the embedded digits (dcgan: 8 steps an epoch, to keep it short)."""
    limit = {"mlp": 5000, "dcgan": min(5000, 8 * batch)}[model]
    epochs = 8 if model == "mlp" else 3  # the median of 7 epochs: every 30 s one also redraws the GIF and plot
    return timed_training({"model": model, "batch_size": batch, "epochs": epochs, "limit": limit}, limit // batch)


def case_size(model: str, batch: int, shape: tuple[int, ...]) -> dict[str, Any]:
    """train.py's epoch on a dataset of shape[0] images: the 5,000 digits repeated, saved as an .npy."""
    import numpy as np

    from msgan.data import load_embedded

    n = shape[0]
    digits = load_embedded().images
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "digits.npy"
        np.save(path, np.resize(digits, (n, *digits.shape[1:])))
        return {**timed_training({"model": model, "batch_size": batch, "epochs": 4, "data": str(path)}, n // batch),
                "images": n}


def case_torch(model: str, batch: int, shape: tuple[int, ...]) -> dict[str, Any]:
    """The same GAN step in PyTorch eager (benchmarks/torch_gan.py: the usual PyTorch GAN loop)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import torch
    import torch_gan

    probe = torch_gan.steps_per_second(batch, 2, 1, model, shape)
    rate = torch_gan.steps_per_second(batch, max(2, int(MEASURE_SECONDS[model] * probe)), 2, model, shape)
    return {"steps_per_s": rate, "torch": torch.__version__, "threads": torch.get_num_threads()}


def child(case: str, model: str, batch: int, shape: tuple[int, ...]) -> None:
    sys.path.insert(0, str(REPO))
    result = globals()[f"case_{case}"](model, batch, shape)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- parent side: run, tabulate, save

def run_timed(command: list[str], timeout: float) -> tuple[Optional[subprocess.CompletedProcess], float]:
    """A fresh process and its wall time, start to exit; None when it ran over `timeout`."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "GLOG_v": "3"}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:
        return None, timeout
    return done, time.perf_counter() - start


def measure(case: str, model: str, batch: int, shape: tuple[int, ...], python: str,
            timeout: float) -> Optional[dict[str, Any]]:
    """Run one case in a fresh process; None (with the reason on stderr) when it fails or is skipped."""
    command = [python, __file__, "--child", case, model, str(batch), shape_name(shape)]
    done, _ = run_timed(command, timeout)
    if done is None:
        print(f"  {case} {model} {batch}: over {timeout:.0f} s, skipped", file=sys.stderr)
        return None
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    print(f"  {case} {model} {batch}: failed ({last})", file=sys.stderr)
    return None


def forward_flops(model: str, shape: tuple[int, ...]) -> tuple[float, float]:
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
    return flops(build_generator(model, 100, shape=shape)), flops(build_discriminator(model, shape=shape))


def step_flops(batch: int, per_sample: tuple[float, float]) -> float:
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


def fmt(value, spec, unit=""):
    return "—" if value is None else format(value, spec) + unit


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a and b else None


def rates_row(model: str, shape: tuple[int, ...], batch: int, found: dict[str, Any]) -> dict[str, Any]:
    rate = {c: (found.get(c) or {}).get("steps_per_s") for c in CASES}
    train = found.get("train") or {}
    gemm = (found.get("gemm") or {}).get("gflops")
    flops = step_flops(batch, forward_flops(model, shape))
    best = rate["train"] or rate["loop"]  # train.py's rate where it was measured, else the compiled loop's
    return {
        "model": model, "shape": list(shape), "batch": batch, "step_gflop": flops / 1e9, "gemm_gflops": gemm,
        **{c: rate[c] for c in ("tutorial", "step", "loop", "train", "torch")},
        "vs_tutorial": ratio(rate["train"], rate["tutorial"]), "vs_torch": ratio(best, rate["torch"]),
        "of_gemm": best * flops / (gemm * 1e9) if best and gemm else None,
        "data_share": train.get("data_share"), "outputs_share": train.get("outputs_share"),
        "state_share": train.get("state_share"), "compile_s": (found.get("loop") or {}).get("compile_s"),
        "peak_mb": max([(found[c] or {}).get("peak_rss_mb", 0) for c in ("step", "loop", "train") if c in found] or [0]),
        "torch_peak_mb": (found.get("torch") or {}).get("peak_rss_mb"), "details": found,
    }


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def rates_table(rows: list[dict[str, Any]]) -> str:
    header = ["model", "image", "batch", "tutorial (PyNative)", "msgan step", "msgan loop", "msgan train.py",
              "vs tutorial", "PyTorch eager", "vs PyTorch", "of GEMM bound", "data / outputs / state share", "compile",
              "peak memory (PyTorch)"]
    return markdown(header, [
        [r["model"], shape_name(r["shape"]), str(r["batch"]), fmt(r["tutorial"], ".1f"), fmt(r["step"], ".1f"),
         fmt(r["loop"], ".2f"), fmt(r["train"], ".2f"), fmt(r["vs_tutorial"], ".1f", "x"), fmt(r["torch"], ".2f"),
         fmt(r["vs_torch"], ".2f", "x"), fmt(r["of_gemm"], ".0%"),
         f"{fmt(r['data_share'], '.1%')} / {fmt(r['outputs_share'], '.1%')} / {fmt(r['state_share'], '.1%')}",
         fmt(r["compile_s"], ".1f", " s"),
         f"{fmt(r['peak_mb'] or None, '.0f', ' MB')} ({fmt(r['torch_peak_mb'], '.0f', ' MB')})"] for r in rows])


def run_rates(models: list[str], batches: Optional[list[int]], args, has_torch: bool) -> list[dict[str, Any]]:
    rows = []
    for model, shape, default_batches in ROWS:
        if model not in models:
            continue
        cases = ROW_CASES.get(model, OTHER_CASES) if shape == DIGIT else OTHER_CASES
        for batch in batches or default_batches:
            found = {}
            for case in cases:
                if case == "torch" and not has_torch or case in SKIP.get((model, batch), ()):
                    continue
                python = args.torch_python if case == "torch" else sys.executable
                found[case] = measure(case, model, batch, shape, python, args.timeout)
                print(f"  {model} {shape_name(shape)} batch {batch} {case}: {found[case]}", flush=True)
            rows.append(rates_row(model, shape, batch, found))
    return rows


def end_to_end(model: str, batch: int, limit: int, args, has_torch: bool) -> dict[str, Any]:
    """Wall seconds of 20 epochs from process start to exit: `python train.py` (its recipe, its files) and
    the PyTorch script (torch_gan.train: same layers, loss, batch and digits, a checkpoint of each net per epoch)."""
    sys.path.insert(0, str(REPO))
    from msgan.data import embedded_csv

    row: dict[str, Any] = {"model": model, "batch": batch, "images": limit, "epochs": E2E_EPOCHS}
    with tempfile.TemporaryDirectory() as tmp:
        done, row["msgan_s"] = run_timed(
            [sys.executable, str(REPO / "train.py"), "--model", model, "--batch-size", str(batch), "--epochs",
             str(E2E_EPOCHS), "--limit", str(limit), "--eval-every", "0", "--device", "CPU", "--out", f"{tmp}/run"],
            args.timeout * 4)
        if done is None or done.returncode:
            row["msgan_s"] = None
        if has_torch:
            done, row["torch_s"] = run_timed(
                [args.torch_python, str(REPO / "benchmarks" / "torch_gan.py"), "--train", model, str(batch),
                 str(E2E_EPOCHS), str(embedded_csv()), str(limit), f"{tmp}/torch"], args.timeout * 4)
            if done is None or done.returncode:
                row["torch_s"] = None
    row["vs_torch"] = ratio(row.get("torch_s"), row["msgan_s"])
    print(f"  end to end: {row}", flush=True)
    return row


def e2e_table(rows: list[dict[str, Any]]) -> str:
    return markdown(["model", "batch", "images", "epochs", "msgan train.py", "PyTorch script", "vs PyTorch"], [
        [r["model"], str(r["batch"]), str(r["images"]), str(r["epochs"]), fmt(r["msgan_s"], ".1f", " s"),
         fmt(r.get("torch_s"), ".1f", " s"), fmt(r["vs_torch"], ".2f", "x")] for r in rows])


def sizes_table(rows: list[dict[str, Any]]) -> str:
    return markdown(["images", "steps an epoch", "seconds an epoch", "ms per step", "seconds per 1,000 images"], [
        [f"{r['images']:,}", str(r["steps_per_epoch"]), f"{r['epoch_s']:.2f}", f"{1000 / r['steps_per_s']:.1f}",
         f"{1000 * r['epoch_s'] / r['images']:.3f}"] for r in rows])


def compile_table(rows: list[dict[str, Any]]) -> str:
    batches = sorted({r["batch"] for r in rows})
    cells = {(r["model"], r["batch"]): r["compile_s"] for r in rows}
    models = dict.fromkeys(r["model"] for r in rows)
    return markdown(["model", *(f"batch {b}" for b in batches)],
                    [[m, *(fmt(cells.get((m, b)), ".1f", " s") for b in batches)] for m in models])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=["rates", "e2e", "sizes", "compile"],
                        choices=["rates", "e2e", "sizes", "compile"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS,
                        help="the rates section's models")
    parser.add_argument("--batches", nargs="+", type=int, help="the rates section's batch sizes (default: each row's)")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="a Python that has torch, for the PyTorch reference (skipped where torch is missing)")
    parser.add_argument("--json", default="runs/bench_train.json", help="where to write the figures")
    parser.add_argument("--timeout", type=float, default=240, help="seconds allowed to one measurement")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), tuple(int(n) for n in args.child[3].split("x")))
        return

    has_torch = subprocess.run([args.torch_python, "-c", "import torch"], capture_output=True).returncode == 0
    info = machine()
    print(f"msgan bench: {info['cpu']}, {info['cores']} cores, MindSpore {info['mindspore']}, numpy {info['numpy']}, "
          f"Python {info['python']}; PyTorch reference: {'yes' if has_torch else 'no (torch not installed)'}",
          flush=True)
    started = time.perf_counter()
    figures: dict[str, Any] = {"machine": info}
    tables = []
    if "rates" in args.sections:
        figures["rows"] = run_rates(args.models, args.batches, args, has_torch)
        tables.append(("Steps/s", rates_table(figures["rows"])))
    if "e2e" in args.sections:
        figures["e2e"] = [end_to_end(m, b, n, args, has_torch) for m, b, n in E2E]
        tables.append((f"{E2E_EPOCHS} epochs end to end (process start to exit)", e2e_table(figures["e2e"])))
    if "sizes" in args.sections:
        figures["sizes"] = [r for n in SIZES if (r := measure("size", "mlp", 64, (n,), sys.executable, args.timeout * 2))]
        tables.append(("mlp (the default recipe), batch 64: seconds an epoch against the dataset's size",
                       sizes_table(figures["sizes"])))
    if "compile" in args.sections:
        sys.path.insert(0, str(REPO))
        from msgan.models import MODELS as ALL_MODELS

        figures["compile"] = []
        for model, spec in ALL_MODELS.items():
            for batch in COMPILE_BATCHES:
                found = measure("compile", model, batch, spec.sample_shape, sys.executable, args.timeout)
                figures["compile"].append({"model": model, "batch": batch,
                                           "compile_s": (found or {}).get("compile_s")})
                print(f"  compile {model} batch {batch}: {found}", flush=True)
        tables.append(("The compiled loop's compile time (its first call less a later one)",
                       compile_table(figures["compile"])))
    print(f"\n{info['cpu']} ({info['cores']} cores), MindSpore {info['mindspore']}, measured {info['date']} in "
          f"{time.perf_counter() - started:.0f} s:")
    for title, text in tables:
        print(f"\n{title}:\n\n{text}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1))
    print(f"\nfigures written to {out}")


if __name__ == "__main__":
    main()
