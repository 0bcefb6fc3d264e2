"""Where a train step's time goes: MindSpore's profiler on msgan's compiled step, called once per step and
inside the compiled loop.

    python benchmarks/profile_step.py [--model mlp] [--batch 64] [--steps 10] [--shape 3x32x32]

Prints, for each way of calling, the kernel time per step by operator type (CPU).
"""
from __future__ import annotations

import argparse
import dataclasses
import csv
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def kernel_ms_by_type(folder: Path, steps: int) -> dict[str, float]:
    """Milliseconds per step of each operator type, from the profiler's CPU operator table."""
    table = next(folder.rglob("cpu_op_detail_info_*.csv"))
    totals: dict[str, float] = defaultdict(float)
    with open(table, newline="") as f:
        for row in csv.DictReader(f):
            totals[row["op_type"]] += float(row["op_total_time(ms)"]) / steps
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--shape", help="an image shape CxHxW other than the model's default, e.g. 3x32x32")
    args = parser.parse_args()

    import mindspore as ms
    import numpy as np
    from mindspore import Tensor

    from msgan.config import resolve
    from msgan.data import batches
    from msgan.device import select_device
    from msgan.models import MODELS
    from msgan.sampling import latents
    from msgan.step import build_networks

    select_device("CPU")
    cfg = resolve({"model": args.model, "batch_size": args.batch})
    if args.shape:  # as if found in a folder of such images
        cfg = dataclasses.replace(cfg, shape=[int(n) for n in args.shape.split("x")])
    nets, spec, n = build_networks(cfg), MODELS[args.model], args.steps * args.batch
    images = np.random.default_rng(0).uniform(-1, 1, (n, *cfg.sample_shape)).astype(np.float32)
    labels = np.random.default_rng(1).integers(0, 10, n).astype(np.int32)
    order = batches(n, args.batch, 0, 0).astype(np.int32)
    noise = latents(n, cfg.latent_dim, 0, distribution=cfg.latent).reshape(args.steps, args.batch, -1)
    step = ms.jit(nets.train_step)
    mix = np.full((args.steps, args.batch), 0.5, np.float32)  # the gradient penalty's weights, used by wgan-gp only
    batches_of = [(Tensor(images[i]), Tensor(z), Tensor(labels[i]), Tensor(m), Tensor(True))
                  for i, z, m in zip(order, noise, mix)]
    on_device = (Tensor(images), Tensor(labels), Tensor(order), Tensor(noise), Tensor(mix))

    def per_step():
        for inputs in batches_of:
            step(*inputs).asnumpy()

    def in_loop():
        nets.train_steps(*on_device, Tensor(0, ms.int32), Tensor(args.steps, ms.int32)).asnumpy()

    results = {}
    for name, run in (("one call per step", per_step), (f"{args.steps} steps in one call", in_loop)):
        run()  # compile and warm up
        with tempfile.TemporaryDirectory() as tmp:
            profiler = ms.Profiler(output_path=tmp)
            run()
            profiler.stop()
            profiler.analyse()
            results[name] = kernel_ms_by_type(Path(tmp), args.steps)
    print(f"\n{args.model}, batch {args.batch}: kernel ms per step by operator type (MindSpore {ms.__version__}, CPU)")
    names = list(results)
    print(f"{'operator':<24}" + "".join(f"{name:>26}" for name in names))
    kinds = sorted({k for r in results.values() for k in r}, key=lambda k: -results[names[-1]].get(k, 0))
    for kind in ["total", *kinds[:15]]:
        values = [sum(r.values()) if kind == "total" else r.get(kind, 0.0) for r in results.values()]
        print(f"{kind:<24}" + "".join(f"{v:>26.2f}" for v in values))


if __name__ == "__main__":
    main()
