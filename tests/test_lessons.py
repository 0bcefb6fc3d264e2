"""Each lesson model trains through train.py --model NAME and samples through infer.py --run."""
import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import run_script

LESSONS = ["mlp-small", "mlp-keras", "cgan", "dcgan"]


@pytest.fixture(scope="module")
def lesson_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("lessons")
    for model in LESSONS:
        result = run_script("train.py", "--model", model, "--epochs", "1", "--limit", "256", "--batch-size", "64",
                            "--grid-size", "10", "--out", str(root / model))
        assert result.returncode == 0, result.stderr
    return root


@pytest.mark.parametrize("model", LESSONS)
def test_lesson_trains_with_its_recipe_and_samples_from_the_run(model, lesson_runs, tmp_path):
    run = lesson_runs / model
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"] == model and config["config"].endswith(f"configs/{model}.yaml")
    assert config["epochs"] == 1 and config["batch_size"] == 64  # the flags won over the recipe
    assert (run / "checkpoints" / "Generator0.ckpt").is_file() and (run / "images" / "epoch000.png").is_file()
    extra = ["--digit", "3"] if model == "cgan" else []
    result = run_script("infer.py", "--run", str(run), "--num", "12", "--out", str(tmp_path / "s"), *extra)
    assert result.returncode == 0, result.stderr
    samples = np.load(tmp_path / "s" / "samples.npy")
    assert samples.shape == (12, 28, 28) and samples.dtype == np.uint8


def test_cgan_digit_all_is_one_row_per_digit_and_deterministic(lesson_runs, tmp_path):
    outs = []
    for name in ("a", "b"):
        result = run_script("infer.py", "--run", str(lesson_runs / "cgan"), "--digit", "all", "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        outs.append(tmp_path / name)
    assert (outs[0] / "samples.npy").read_bytes() == (outs[1] / "samples.npy").read_bytes()
    assert np.load(outs[0] / "samples.npy").shape == (100, 28, 28)
    assert Image.open(outs[0] / "grid.png").size == (10 * 30 + 2, 10 * 30 + 2)


def test_cgan_draws_the_digit_asked_for(lesson_runs, tmp_path):
    """Same noise, different digit: the label reaches the generator."""
    samples = {}
    for digit in ("1", "7"):
        out = tmp_path / digit
        assert run_script("infer.py", "--run", str(lesson_runs / "cgan"), "--digit", digit, "--num", "8",
                          "--out", str(out)).returncode == 0
        samples[digit] = np.load(out / "samples.npy")
    assert not np.array_equal(samples["1"], samples["7"])


def test_digit_flag_is_checked(lesson_runs):
    result = run_script("infer.py", "--run", str(lesson_runs / "cgan"))
    assert result.returncode == 2 and "needs --digit 0-9 or --digit all" in result.stderr
    result = run_script("infer.py", "--run", str(lesson_runs / "mlp-small"), "--digit", "3")
    assert result.returncode == 2 and "--digit needs a conditional model" in result.stderr
