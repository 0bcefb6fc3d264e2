"""Sample quality of a recipe over several seeds, with the protocol that makes the figures comparable.

    python benchmarks/quality.py [--model NAME | --config FILE] [--seeds 0 1 2] [--num 10000]
                                 [--out runs/quality-NAME-TIME] [--raw] [-- more train.py flags …]

For each seed S, `python train.py --model NAME --seed S --out OUT/seedS --device CPU [flags]` trains in a
process of its own, timed from its start to its exit, and then `python eval.py --run OUT/seedS --num N --seed 0`
(with --raw: the trained weights rather than their moving average) scores its generator in another. Both
processes' output goes to OUT/seedS.log. The protocol (samples, reference, real floor, judge, seeds, the train
command, the machine) and a Markdown table, one row per seed and a last row of mean ± sample standard deviation,
are printed; OUT/quality.json holds all of it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from bench_train import machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # msgan is importable from here on
import msgan  # noqa: E402
from msgan.classifier import CLASSIFIER_CKPT  # noqa: E402
from msgan.errors import OneLineErrorParser, run_reporting_errors  # noqa: E402
from msgan.errors import MsganError  # noqa: E402

# (eval.py's key, the column's heading, its format); min_digit_agreement only for conditional models
COLUMNS = (("fid", "FID", ".2f"), ("is", "IS", ".3f"), ("precision", "precision", ".3f"),
           ("recall", "recall", ".3f"), ("modes", "modes", ".1f"), ("min_class_share", "min class share", ".3f"),
           ("max_class_share", "max class share", ".3f"), ("min_digit_agreement", "min digit agreement", ".3f"),
           ("wall_s", "wall time (s)", ".1f"))
CONDITIONAL_ONLY = "min_digit_agreement"
EVAL_SEED = 0  # every run is scored on the same latents


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """The benchmark's flags, and the train.py flags after `--`."""
    argv = list(argv)
    split = argv.index("--") if "--" in argv else len(argv)
    mine, extra = argv[:split], argv[split + 1:]
    p = OneLineErrorParser(prog="benchmarks/quality.py", description=__doc__.splitlines()[0])
    recipe = p.add_mutually_exclusive_group()
    recipe.add_argument("--model", help="the model whose recipe trains (default: train.py's default model)")
    recipe.add_argument("--config", help="a recipe file to train from")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one training run per seed")
    p.add_argument("--num", type=int, default=10_000, help="digits eval.py scores per run")
    p.add_argument("--out", help="a new or empty folder (default runs/quality-NAME-TIME)")
    p.add_argument("--raw", action="store_true", help="score the trained weights, not their moving average")
    return p.parse_args(mine), extra


def output_folder(out: Optional[str], name: str) -> Path:
    """--out (new or empty), or a new runs/quality-NAME-TIME."""
    folder = Path(out) if out else Path("runs") / f"quality-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise MsganError(f"{folder} already exists and is not empty: pass a new --out")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def train_command(recipe: list[str], seed: int | str, run: Path, extra: list[str]) -> list[str]:
    """train.py's arguments for one seed (`seed` may be a placeholder, for the protocol)."""
    return ["train.py", *recipe, "--seed", str(seed), "--out", str(run), "--device", "CPU", *extra]


def run_logged(args: list[str], log: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Run `python ARGS` from the repository's scripts, its stderr appended to `log`; (the result with its
    stdout, seconds from process start to exit). A failure is one error line that names the log."""
    with log.open("a", encoding="utf-8") as stream:
        stream.write(f"$ python {shlex.join(args)}\n")
        stream.flush()
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(REPO / args[0]), *args[1:]], stdout=subprocess.PIPE,
                                stderr=stream, text=True)
        seconds = time.perf_counter() - started
        stream.write(result.stdout)
    if result.returncode != 0:
        raise MsganError(f"{args[0]} exited with status {result.returncode}: see {log}")
    return result, seconds


def measure_seed(seed: int, recipe: list[str], extra: list[str], out: Path, num: int, raw: bool) -> dict[str, Any]:
    """Train one seed (timed) and score it: eval.py's JSON line plus the seed, wall time and train command."""
    run, log = out / f"seed{seed}", out / f"seed{seed}.log"
    command = train_command(recipe, seed, run, extra)
    print(f"seed {seed}: training …", file=sys.stderr, flush=True)
    _, wall = run_logged(command, log)
    print(f"seed {seed}: trained in {wall:.1f} s; scoring {num} digits …", file=sys.stderr, flush=True)
    scored, _ = run_logged(["eval.py", "--run", str(run), "--num", str(num), "--seed", str(EVAL_SEED),
                            *(["--raw"] if raw else [])], log)
    # eval.py's own "seed" (of its latents) is the protocol's eval_seed; here "seed" is the run's
    return {**json.loads(scored.stdout.strip().splitlines()[-1]), "seed": seed, "wall_s": round(wall, 2),
            "train_command": shlex.join(["python", *command])}


def summary(results: list[dict[str, Any]], keys: list[str]) -> tuple[dict[str, float], dict[str, Optional[float]]]:
    """(means, sample standard deviations; None for a single seed) of each key over the seeds."""
    values = {key: [float(r[key]) for r in results] for key in keys}
    means = {key: statistics.fmean(v) for key, v in values.items()}
    stds = {key: statistics.stdev(v) if len(v) > 1 else None for key, v in values.items()}
    return means, stds


def judge_version() -> str:
    """The shipped judge's weights (a SHA-256 prefix) and the msgan that scored with them."""
    digest = hashlib.sha256(CLASSIFIER_CKPT.read_bytes()).hexdigest()[:12]
    return f"digit_classifier.ckpt sha256 {digest}, msgan {msgan.__version__}"


def protocol(args: argparse.Namespace, recipe: list[str], extra: list[str], out: Path,
             first: dict[str, Any]) -> dict[str, Any]:
    """What was measured and how, from the flags and the first seed's eval.py line."""
    floor = first["real_floor"]
    host = machine()
    template = train_command(recipe, "S", out / "seedS", extra)
    return {"num": args.num, "eval_seed": EVAL_SEED, "weights": first["weights"], "reference": first["reference"],
            "real_floor": floor, "judge": judge_version(), "seeds": args.seeds,
            "train_command": shlex.join(["python", *template]),
            "machine": {"cpu": host["cpu"], "cores": host["cores"], "mindspore": host["mindspore"]}}


def protocol_text(p: dict[str, Any]) -> str:
    """The protocol as the lines above the table."""
    floor, host = p["real_floor"], p["machine"]
    return "\n".join([
        f"- samples: {p['num']} per run, eval.py --seed {p['eval_seed']}, {p['weights']}",
        f"- reference: {p['reference']}",
        f"- real floor: {floor['source']}: FID {floor['fid']:.2f}, IS {floor['is']:.3f}, precision "
        f"{floor['precision']:.3f}, recall {floor['recall']:.3f}, "
        f"min digit agreement {floor['min_digit_agreement']:.3f}",
        f"- judge: {p['judge']}",
        f"- seeds: {' '.join(map(str, p['seeds']))}",
        f"- train command, S the seed: `{p['train_command']}`",
        f"- machine: {host['cpu']}, {host['cores']} cores, MindSpore {host['mindspore']}",
    ])


def table(results: list[dict[str, Any]], columns: list[tuple[str, str, str]], means: dict[str, float],
          stds: dict[str, Optional[float]]) -> str:
    """A Markdown table: one row per seed, then mean ± sample std."""
    def spread(key: str, spec: str) -> str:
        return format(means[key], spec) + ("" if stds[key] is None else " ± " + format(stds[key], spec))

    lines = ["| seed | " + " | ".join(head for _, head, _ in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {r['seed']} | " + " | ".join(format(r[key], spec) for key, _, spec in columns) + " |"
              for r in results]
    lines.append("| mean ± std | " + " | ".join(spread(key, spec) for key, _, spec in columns) + " |")
    return "\n".join(lines)


def benchmark(argv: Sequence[str]) -> dict[str, Any]:
    """Measure every seed, print the protocol and the table, and write OUT/quality.json."""
    args, extra = parse_args(argv)
    if args.num < 1:
        raise MsganError(f"--num must be at least 1, got {args.num}")
    if len(set(args.seeds)) != len(args.seeds):
        raise MsganError(f"--seeds {' '.join(map(str, args.seeds))} repeats a seed: give each seed once")
    recipe = ["--config", args.config] if args.config else ["--model", args.model] if args.model else []
    name = Path(args.config).stem if args.config else args.model or "default"
    out = output_folder(args.out, name)
    results = [measure_seed(seed, recipe, extra, out, args.num, args.raw) for seed in args.seeds]
    columns = [c for c in COLUMNS if c[0] != CONDITIONAL_ONLY or all(CONDITIONAL_ONLY in r for r in results)]
    means, stds = summary(results, [key for key, _, _ in columns])
    report = {"protocol": protocol(args, recipe, extra, out, results[0]), "results": results,
              "mean": means, "std": stds}
    print(protocol_text(report["protocol"]) + "\n\n" + table(results, columns, means, stds), flush=True)
    (out / "quality.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nwritten to {out / 'quality.json'}", flush=True)
    return report


if __name__ == "__main__":
    sys.exit(run_reporting_errors(lambda: benchmark(sys.argv[1:])))
