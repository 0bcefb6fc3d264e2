"""Each lesson model trains through train.py --model NAME and samples through infer.py --run."""
import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import run_script
from msgan import recorders
from msgan.checkpoints import read_checkpoint
from msgan.config import resolve
from msgan.runs import RunFolder

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
    assert (run / "checkpoints" / "Generator1.ckpt").is_file() and (run / "images" / "epoch001.png").is_file()
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
    result = run_script("infer.py", "--run", str(lesson_runs / "cgan"), "--digit", "12")
    assert result.returncode == 2 and "--digit must be a class number 0-9, a class name (0, 1, 2, 3, 4, 5, 6, 7, 8, 9) or 'all', got '12'" in result.stderr
    result = run_script("infer.py", "--run", str(lesson_runs / "mlp-small"), "--digit", "3")
    assert result.returncode == 2 and "--digit needs a conditional model" in result.stderr


PATTERN = np.array([1.0, 0.0, 1.0, 0.0])


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """The toy GAN's full recipe: 10,000 steps, about 15 s."""
    out = tmp_path_factory.mktemp("toy") / "run"
    result = run_script("train.py", "--model", "toy1010", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def cell_values(strip: np.ndarray, row: int) -> np.ndarray:
    """The grey levels (0..1) of one row of a heat-map strip, read at the centre of each 28-pixel cell."""
    return strip[2 + row * 30 + 14, [2 + c * 30 + 14 for c in range(4)]] / 255


def test_toy1010_learns_the_1010_pattern(toy_run):
    rows = np.loadtxt(toy_run / "losses.csv", delimiter=",", skiprows=1)
    assert rows.shape == (10_000, 12)  # epoch, step, 2 losses, 2 outputs and 2 accuracies of D, G's 4 outputs
    assert np.abs(rows[0, 8:] - PATTERN).max() > 0.3  # it starts far from the pattern…
    assert np.abs(rows[-1, 8:] - PATTERN).max() < 0.15  # …and learns it
    strip = np.asarray(Image.open(toy_run / "images" / "epoch010.png"))
    assert strip.shape == (10 * 30 + 2, 4 * 30 + 2)  # one row every 1,000 steps
    assert np.abs(cell_values(strip, 9) - PATTERN).max() < 0.15
    first = np.asarray(Image.open(toy_run / "images" / "epoch001.png"))
    assert first.shape == strip.shape and (cell_values(first, 9) == 40 / 255).all()  # rows to come are empty
    real = np.asarray(Image.open(toy_run / "images" / "real.png"))  # real samples: U(.8, 1), U(0, .2), …
    assert real.shape == (100 * 30 + 2, 4 * 30 + 2) and np.abs(cell_values(real, 99) - PATTERN).max() <= 0.2
    assert Image.open(toy_run / "progress.gif").n_frames == 10
    assert Image.open(toy_run / "outputs.png").size == (800, 400)


def test_toy1010_samples_from_its_run(toy_run, tmp_path):
    result = run_script("infer.py", "--run", str(toy_run), "--num", "5", "--png", "--out", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    samples = np.load(tmp_path / "s" / "samples.npy")
    assert samples.shape == (5, 4) and samples.dtype == np.float32
    assert np.abs(samples - PATTERN).max() < 0.15
    assert "mean output [0.9" in result.stdout
    assert Image.open(tmp_path / "s" / "grid.png").size == (4 * 30 + 2, 5 * 30 + 2)
    assert Image.open(tmp_path / "s" / "sample_4.png").size == (4 * 30 + 2, 32)


def test_toy1010_loss_plot_shows_d_per_call(monkeypatch, tmp_path):
    """The toy's recipe sums D's two calls into one loss; loss.png halves it, as the lesson plots each call."""
    drawn = {}
    monkeypatch.setattr(recorders, "plot_losses",
                        lambda loss_d, loss_g, steps, path, name, d_label: drawn.update(d=loss_d, label=d_label))
    cfg = resolve({"model": "toy1010"})
    assert cfg.d_loss == "sum"
    recorders.PatternRecorder(RunFolder(tmp_path), cfg, None, 2, None).plot_losses(np.array([0.5, 0.4]), None)
    np.testing.assert_allclose(drawn["d"], [0.25, 0.2])
    assert drawn["label"] == "D (per call)"


def test_d_alone_recipe_teaches_d_the_pattern_against_noise_and_leaves_g_untrained(tmp_path):
    """The toy lesson's first experiment (configs/toy1010-d-alone.yaml), 3 of its 10 epochs."""
    out = tmp_path / "d-alone"
    result = run_script("train.py", "--config", "configs/toy1010-d-alone.yaml", "--epochs", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = np.loadtxt(out / "losses.csv", delimiter=",", skiprows=1)
    assert abs(rows[:100, 2].mean() / 2 - 0.25) < 0.02  # D's loss per call starts at (1/2)², as in the lesson
    last = rows[rows[:, 0] == 3]
    assert (last[:, 6] + last[:, 7]).mean() / 2 > 0.9  # by the third epoch D tells real patterns from noise
    assert last[:, 4].mean() > last[:, 5].mean()  # and scores them higher
    first, third = (read_checkpoint(out / "checkpoints" / f"Generator{e}.ckpt")[0] for e in (1, 3))
    assert all(np.array_equal(first[k].asnumpy(), third[k].asnumpy()) for k in first)  # G never learnt
    plot = np.asarray(Image.open(out / "discriminator.png").convert("RGB")).reshape(-1, 3)
    for colour in ((44, 160, 44), (214, 39, 40)):  # D(x) and D(noise) are drawn, in matplotlib's green and red
        assert (np.abs(plot.astype(int) - colour).sum(1) < 30).sum() > 200


def test_d_alone_loss_plot_by_epoch_draws_d_only(tmp_path):
    """--d-alone with --loss-plot epoch: G learns nothing, so loss.png holds D's loss alone."""
    cfg = resolve({"config": "configs/toy1010-d-alone.yaml", "loss_plot": "epoch"})
    recorders.PatternRecorder(RunFolder(tmp_path), cfg, None, 2, None).plot_losses(np.array([0.5, 0.4, 0.3, 0.2]), None)
    assert Image.open(tmp_path / "loss.png").size == (800, 400)
