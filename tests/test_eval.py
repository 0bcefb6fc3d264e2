"""eval.py: one JSON line per score, appended to the run's metrics.jsonl; saved samples score like the
generator that drew them; the share of each digit, and for a conditional generator (and the real floor) how often
each digit is what was asked for; a run's moving average unless --raw; bad inputs are one error line.
train.py --eval-every: metrics.csv and the best generator."""
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from msgan.cli import eval_main
from conftest import run_script
from msgan.checkpoints import read_checkpoint, read_checkpoint_extras
from msgan.classifier import accuracy, subset
from msgan.evaluation import EvalRequest, evaluate
from msgan.judge import shipped_judge
from test_bad_input import assert_one_error_line, snapshot

KEYS = {"fid", "is", "modes", "kl_uniform", "precision", "recall"}


@pytest.fixture(scope="module")
def run(tiny_run, tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("eval") / "run"
    shutil.copytree(tiny_run, copy)
    return copy


def score(*args: str) -> dict:
    result = run_script("eval.py", *args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def generator_score(run) -> dict:
    return score("--run", str(run), "--num", "500", "--seed", "3")


def test_a_run_is_scored_against_the_reference_with_the_real_floor_beside_it(run, generator_score):
    result = generator_score
    assert KEYS <= result.keys() and KEYS <= result["real_floor"].keys()
    assert result["num"] == 500 and result["model"] == "mlp" and result["epoch"] == 2
    assert "training split" in result["reference"] and "held-out" in result["real_floor"]["source"]
    assert 0 <= result["modes"] <= 10 and 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    # two epochs on 640 digits draw blurry digits: far from the real floor
    assert result["fid"] > 5 * result["real_floor"]["fid"]
    assert result["real_floor"]["modes"] == 10 and result["real_floor"]["is"] > 8
    assert [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()] == [result]
    assert result["weights"] == "moving-average weights (decay 0.995)"  # the default recipe keeps G's average


def test_the_share_of_each_digit_and_the_judges_accuracy_per_digit_on_the_floor(generator_score):
    for scores in (generator_score, generator_score["real_floor"]):
        shares = scores["class_shares"]
        assert len(shares) == 10 and sum(shares) == pytest.approx(1, abs=1e-3)
        assert (scores["min_class_share"], scores["max_class_share"]) == (min(shares), max(shares))
    assert "digit_agreement" not in generator_score  # an unconditional generator is asked for no digit
    judge_ = shipped_judge()
    held = judge_.held_out
    expected = [round(accuracy(judge_.net, subset(held, np.flatnonzero(held.labels == d))), 4) for d in range(10)]
    floor = generator_score["real_floor"]
    assert floor["digit_agreement"] == expected and floor["min_digit_agreement"] == min(expected) > 0.8


def test_saved_samples_score_like_the_generator_that_drew_them(run, generator_score, tmp_path):
    drawn = run_script("infer.py", "--run", str(run), "--num", "500", "--seed", "3", "--out", str(tmp_path / "s"))
    assert drawn.returncode == 0, drawn.stderr
    result = score("--samples", str(tmp_path / "s" / "samples.npy"))
    assert {k: result[k] for k in KEYS} == {k: generator_score[k] for k in KEYS}
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1  # only scores of the run's own generator go into its metrics.jsonl


def test_real_digits_score_the_floor():
    result = score("--real")
    scores = {k: v for k, v in result.items() if k not in ("num", "judge", "reference", "real_floor")}
    assert scores == result["real_floor"]  # digit agreement, from the held-out labels, included
    assert result["num"] == 1000


@pytest.fixture(scope="module")
def cgan_run(ema_cgan_run, tmp_path_factory) -> Path:
    """A copy of the shared cgan run with a moving average, for eval.py's metrics.jsonl to go into."""
    copy = tmp_path_factory.mktemp("eval") / "cgan"
    shutil.copytree(ema_cgan_run, copy)
    return copy


def test_a_conditional_run_is_scored_per_digit_asked_for_with_its_average_unless_raw(cgan_run, capsys):
    average, raw = (evaluate(EvalRequest(run=str(cgan_run), raw=flag, num=200, seed=1, device="CPU"))
                    for flag in (False, True))
    assert average["source"] == str(cgan_run / "checkpoints" / "Generator2_ema.ckpt")
    assert average["weights"] == "moving-average weights (decay 0.999)"
    assert raw["source"] == str(cgan_run / "checkpoints" / "Generator2.ckpt") and raw["weights"] == "trained weights"
    assert average["fid"] != raw["fid"]
    for result in (average, raw):
        agreement = result["digit_agreement"]
        assert len(agreement) == 10 and result["min_digit_agreement"] == min(agreement)
        assert all(a * 20 == pytest.approx(round(a * 20)) for a in agreement)  # 0, 1, …, 9, 0, …: 20 of each
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(line) for line in lines] == [average, raw]
    assert (cgan_run / "metrics.jsonl").read_text().splitlines() == lines


def bad_samples(kind: str, folder: Path) -> Path:
    path = folder / f"{kind.replace(' ', '_')}.npy"
    if kind == "wrong shape":
        np.save(path, np.zeros((10, 32, 32), dtype=np.uint8))
    elif kind == "NaN":
        np.save(path, np.full((10, 28, 28), np.nan, dtype=np.float32))
    elif kind == "empty":
        np.save(path, np.zeros((0, 28, 28), dtype=np.uint8))
    elif kind == "not npy":
        path.write_text("digits")
    elif kind == "floats in [0, 1]":
        np.save(path, np.random.default_rng(0).random((10, 28, 28), dtype=np.float32))
    elif kind == "floats of 0-255":
        np.save(path, np.full((10, 28, 28), 255.0, dtype=np.float32))
    return path


EVAL_CASES = {
    "wrong shape": ["shape (10, 32, 32)", "(N, 28, 28)"],
    "NaN": ["NaN or infinite"],
    "empty": ["holds no images"],
    "not npy": ["cannot read", "samples.npy"],
    "floats in [0, 1]": ["holds floats in [0, 1]", "save them as 2 * x - 1, or as uint8 pixels"],
    "floats of 0-255": ["holds floats from 255 to 255, outside [-1, 1]", "save 0-255 pixels as uint8"],
}


def test_few_digits_are_scored_with_a_warning(tmp_path, capsys):
    np.save(tmp_path / "few.npy", np.zeros((100, 28, 28), dtype=np.uint8))
    assert eval_main(["--samples", str(tmp_path / "few.npy"), "--device", "CPU"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.strip().splitlines()[-1])["num"] == 100
    assert err.strip() == ("msgan: warning: 100 samples are few for FID, which reads higher and varies more the "
                           "fewer there are: compare scores at equal --num, at least 1,000 (10,000 as in the README)")


@pytest.mark.parametrize("case", list(EVAL_CASES))
def test_eval_refuses_bad_samples(case, tmp_path):
    assert_one_error_line(run_script("eval.py", "--samples", str(bad_samples(case, tmp_path))), *EVAL_CASES[case])


def test_eval_refuses_bad_requests(run, tmp_path):
    assert_one_error_line(run_script("eval.py", "--run", str(run), "--num", "0"), "--num must be at least 1")
    toy = tmp_path / "toy"
    shutil.copytree(run, toy)
    config = toy / "config.yaml"
    config.write_text(config.read_text().replace("model: mlp", "model: toy1010"))
    before = snapshot(toy)
    assert_one_error_line(run_script("eval.py", "--run", str(toy)), "does not draw images")
    assert snapshot(toy) == before


def test_eval_every_scores_epochs_and_keeps_the_best_generator(tmp_path):
    out = tmp_path / "run"
    result = run_script("train.py", "--epochs", "3", "--limit", "640", "--eval-every", "1", "--eval-samples", "500",
                        "--out", str(out), "--device", "CPU")
    assert result.returncode == 0, result.stderr
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] and {r["num"] for r in rows} == {"500"}
    assert all(0 <= int(r["modes"]) <= 10 and float(r["fid"]) > 0 for r in rows)
    best = min(rows, key=lambda r: float(r["fid"]))
    params, info, extras = read_checkpoint_extras(out / "checkpoints" / "Generator_best.ckpt")
    assert info.network == "generator" and info.epoch == int(best["epoch"])
    assert f"{extras['fid']:.6g}" == best["fid"]
    same_epoch, _ = read_checkpoint(out / "checkpoints" / f"Generator{best['epoch']}_ema.ckpt")  # the average scored
    for name, value in same_epoch.items():
        np.testing.assert_array_equal(params[name].asnumpy(), value.asnumpy(), err_msg=name)
    with Image.open(out / "metrics.png") as plot:
        assert plot.width > 500 and plot.height > 200
    assert "Generator_best.ckpt" in result.stdout and "FID" in result.stdout
