"""benchmarks/quality.py on a tiny setting: one training run per seed, each scored by eval.py; the table's rows and
its mean ± std, the protocol, and OUT/quality.json agree with what the runs measured."""
import hashlib
import json
import statistics

import pytest

from conftest import REPO, run_script
from msgan import __version__
from test_bad_input import assert_one_error_line

KEYS = ("fid", "is", "precision", "recall", "modes", "min_class_share", "max_class_share", "min_digit_agreement",
        "wall_s")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """cgan (conditional, so the digit agreement column is there too), two seeds, one epoch on 640 digits."""
    out = tmp_path_factory.mktemp("quality") / "q"
    result = run_script("benchmarks/quality.py", "--model", "cgan", "--seeds", "0", "1", "--num", "500",
                        "--out", str(out), "--", "--epochs", "1", "--limit", "640")
    assert result.returncode == 0, result.stderr
    return out, result.stdout, json.loads((out / "quality.json").read_text())


def test_each_seed_is_a_run_of_its_own_scored_by_eval(bench):
    out, _, report = bench
    results = report["results"]
    assert [r["seed"] for r in results] == [0, 1]
    for r in results:
        # the recipe keeps G's moving average, which eval.py --run scores
        assert r["source"] == str(out / f"seed{r['seed']}" / "checkpoints" / "Generator1_ema.ckpt")
        assert r["num"] == 500 and len(r["digit_agreement"]) == 10 and r["wall_s"] > 0
        assert r["train_command"].endswith(f"--seed {r['seed']} --out {out}/seed{r['seed']} --device CPU "
                                           "--epochs 1 --limit 640")
    assert results[0]["fid"] != results[1]["fid"]


def test_means_and_stds_are_over_the_seeds(bench):
    _, _, report = bench
    for key in KEYS:
        values = [r[key] for r in report["results"]]
        assert report["mean"][key] == pytest.approx(statistics.fmean(values))
        assert report["std"][key] == pytest.approx(statistics.stdev(values))


def test_the_protocol_names_what_makes_the_figures_comparable(bench):
    out, _, report = bench
    protocol = report["protocol"]
    digest = hashlib.sha256((REPO / "msgan" / "assets" / "digit_classifier.ckpt").read_bytes()).hexdigest()[:12]
    assert protocol["judge"] == f"digit_classifier.ckpt sha256 {digest}, msgan {__version__}"
    assert protocol["num"] == 500 and protocol["seeds"] == [0, 1] and protocol["eval_seed"] == 0
    assert "training split" in protocol["reference"] and "held-out" in protocol["real_floor"]["source"]
    assert protocol["real_floor"]["min_digit_agreement"] > 0.8
    assert protocol["train_command"] == (f"python train.py --model cgan --seed S --out {out}/seedS --device CPU "
                                         "--epochs 1 --limit 640")
    assert protocol["machine"]["cores"] >= 1 and protocol["machine"]["cpu"] and protocol["machine"]["mindspore"]


def test_the_table_has_a_row_per_seed_and_the_mean(bench):
    _, stdout, report = bench
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    assert lines[0] == ("| seed | FID | IS | precision | recall | modes | min class share | max class share "
                        "| min digit agreement | wall time (s) |")
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert [row[0] for row in rows] == ["0", "1", "mean ± std"]
    mean, std = report["mean"]["fid"], report["std"]["fid"]
    assert rows[0][1] == f"{report['results'][0]['fid']:.2f}" and rows[2][1] == f"{mean:.2f} ± {std:.2f}"
    protocol = report["protocol"]
    for text in (f"train command, S the seed: `{protocol['train_command']}`", f"judge: {protocol['judge']}",
                 f"real floor: {protocol['real_floor']['source']}", "samples: 500 per run",
                 f"{protocol['machine']['cores']} cores, MindSpore {protocol['machine']['mindspore']}"):
        assert text in stdout


def test_a_repeated_seed_or_a_used_folder_is_one_error_line(bench):
    out, _, _ = bench
    assert_one_error_line(run_script("benchmarks/quality.py", "--seeds", "0", "0", "--out", str(out / "new")),
                          "repeats a seed")
    assert_one_error_line(run_script("benchmarks/quality.py", "--out", str(out)), "already exists and is not empty")
