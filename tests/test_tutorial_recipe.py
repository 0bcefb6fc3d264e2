"""configs/tutorial.yaml runs the MindSpore MNIST GAN tutorial as written: 10,000 samples an epoch drawn anew,
the 5x5 grid of its 25 latents from np.random.seed(2323), every epoch's checkpoints, the loss by epoch and a GIF
of every fifth epoch at 1 frame a second. Here on 640 digits, 192 an epoch, for 6 epochs."""
import numpy as np
import pytest
from PIL import Image

from conftest import REPO, run_script
from msgan.checkpoints import load_generator
from msgan.config import resolve
from msgan.data import batches, to_uint8
from msgan.models import build_generator
from msgan.parallel import SINGLE
from msgan.sampling import generate
from msgan.streams import tutorial_normal
from msgan.training import epoch_inputs
from msgan.visuals import make_grid

RECIPE = REPO / "configs" / "tutorial.yaml"


@pytest.fixture(scope="module")
def tutorial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tutorial") / "run"
    result = run_script("train.py", "--config", str(RECIPE), "--epochs", "6", "--limit", "640",
                        "--epoch-samples", "192", "--out", str(out), "--device", "CPU")
    assert result.returncode == 0, result.stderr
    return out


def test_the_recipe_is_the_tutorials():
    cfg = resolve({"config": str(RECIPE)})
    assert (cfg.model, cfg.loss, cfg.d_loss, cfg.lr, cfg.beta1, cfg.beta2, cfg.batch_size, cfg.epochs) == (
        "mlp", "bce", "sum", 0.0002, 0.5, 0.999, 64, 12)
    assert (cfg.epoch_samples, cfg.grid_size, cfg.grid_seed, cfg.keep_last, cfg.ema) == (10000, 5, 2323, None, 0.0)
    assert (cfg.gif_every, cfg.gif_fps, cfg.loss_plot) == (5, 1, "epoch")


def test_an_epoch_draws_its_samples_anew_without_repeats():
    cfg = resolve({"config": str(RECIPE), "epoch_samples": 192, "limit": 640})
    orders = [epoch_inputs(cfg, 640, epoch, SINGLE)[0].asnumpy() for epoch in (0, 1)]
    for epoch, order in enumerate(orders):
        assert order.shape == (3, 64) and len(np.unique(order)) == 192  # 192 of the 640, none twice
        np.testing.assert_array_equal(order, batches(640, 64, cfg.seed, epoch)[:3])
    assert set(orders[0].ravel()) != set(orders[1].ravel())


def test_the_grid_latents_are_the_tutorials():
    np.random.seed(2323)  # the tutorial's own lines
    theirs = np.random.normal(size=(25, 100)).astype(np.float32)
    np.testing.assert_array_equal(tutorial_normal(2323, (25, 100)), theirs)


def test_a_tutorial_run_leaves_what_the_tutorial_does(tutorial_run):
    rows = np.loadtxt(tutorial_run / "losses.csv", delimiter=",", skiprows=1)
    assert rows.shape[0] == 6 * 3  # 192 samples an epoch in batches of 64
    kept = sorted(p.name for p in (tutorial_run / "checkpoints").glob("Generator*.ckpt"))
    assert kept == [f"Generator{e}.ckpt" for e in range(1, 7)]  # every epoch's, as the tutorial saves them
    generator = build_generator("mlp", 100)
    load_generator(generator, tutorial_run / "checkpoints" / "Generator6.ckpt", "mlp")
    drawn = make_grid(to_uint8(generate(generator, tutorial_normal(2323, (25, 100)))), 5)
    np.testing.assert_array_equal(np.asarray(Image.open(tutorial_run / "images" / "epoch006.png")), drawn)
    with Image.open(tutorial_run / "progress.gif") as gif:
        assert gif.n_frames == 2  # epochs 0 and 5
        assert gif.info["duration"] == 1000  # 1 frame a second
    plot = Image.open(tutorial_run / "loss.png")
    assert plot.size == (800, 400) and len(set(np.asarray(plot.convert("L")).ravel().tolist())) > 10
