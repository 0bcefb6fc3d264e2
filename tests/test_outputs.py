"""A real tiny train.py run, then infer.py on it: every output there, with the right content; a conditional
generator's digits and labels, and --raw for a run that keeps G's moving average."""
import csv
import os
import shutil

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import run_script
from msgan.checkpoints import load_generator
from msgan.cli import infer_main
from msgan.config import resolve
from msgan.data import epoch_order, load_digits, to_model_range, to_uint8
from msgan.losses import LOSSES
from msgan.inference import InferRequest, class_labels, class_rows
from msgan.models import build_discriminator, build_generator
from msgan.checkpoints import load_into, read_checkpoint
from msgan.streams import SAMPLE_LABELS, stream
from msgan.visuals import FRAME, heat_strip, make_grid, plain_log_labels, save_gif, save_png

RECIPE = resolve({})  # the default recipe, which tiny_run trains for 2 epochs on 640 digits
STEPS_PER_EPOCH = 640 // RECIPE.batch_size


def test_run_folder_has_every_output(tiny_run):
    """Both networks and G's moving average each epoch, and the last epoch scored (the recipe scores every
    --eval-every epochs and after the last) with its generator kept as the best so far."""
    names = sorted(p.relative_to(tiny_run).as_posix() for p in tiny_run.rglob("*") if p.is_file())
    assert RECIPE.ema > 0 and RECIPE.eval_every > 0
    assert names == [
        "checkpoints/Discriminator1.ckpt", "checkpoints/Discriminator2.ckpt",
        "checkpoints/Generator1.ckpt", "checkpoints/Generator1_ema.ckpt", "checkpoints/Generator2.ckpt",
        "checkpoints/Generator2_ema.ckpt", "checkpoints/Generator_best.ckpt", "checkpoints/resume.ckpt",
        "config.yaml", "discriminator.png", "images/epoch001.png", "images/epoch002.png", "images/real.png",
        "loss.png", "losses.csv", "metrics.csv", "metrics.png", "progress.gif",
    ]
    umask = os.umask(0)
    os.umask(umask)
    modes = {name: (tiny_run / name).stat().st_mode & 0o777 for name in names}
    assert modes == dict.fromkeys(names, 0o666 & ~umask)  # as open() makes them: `rm -r` asks nothing


def test_checkpoints_load_strictly_with_their_epoch(tiny_run):
    info = load_generator(build_generator("mlp", 100), tiny_run / "checkpoints/Generator2.ckpt", "mlp")
    assert (info.epoch, info.step) == (2, 2 * STEPS_PER_EPOCH)
    params, info = read_checkpoint(tiny_run / "checkpoints/Discriminator1.ckpt")
    load_into(build_discriminator("mlp"), params, "D")
    assert (info.network, info.epoch) == ("discriminator", 1)


def test_losses_csv_has_every_step(tiny_run):
    with open(tiny_run / "losses.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "step", "loss_d", "loss_g", "d_real", "d_fake", "acc_real", "acc_fake"]
    assert [int(r["step"]) for r in rows] == list(range(1, 2 * STEPS_PER_EPOCH + 1))
    assert [int(r["epoch"]) for r in rows] == [1] * STEPS_PER_EPOCH + [2] * STEPS_PER_EPOCH
    probabilities = LOSSES[RECIPE.loss].probability  # else D's mean raw scores
    for r in rows:
        assert float(r["loss_d"]) > 0 and float(r["loss_g"]) > 0
        assert np.isfinite([float(r["d_real"]), float(r["d_fake"])]).all()
        if probabilities:
            assert 0 < float(r["d_real"]) < 1 and 0 < float(r["d_fake"]) < 1


def test_real_png_shows_the_first_samples_the_run_trains_on(tiny_run):
    samples = to_model_range(load_digits("embedded", limit=640).images)
    first = epoch_order(640, RECIPE.seed, 0)[:RECIPE.grid_size ** 2]
    np.testing.assert_array_equal(np.asarray(Image.open(tiny_run / "images" / "real.png")),
                                  make_grid(to_uint8(samples[first]), RECIPE.grid_size))


def test_pictures(tiny_run):
    grid = Image.open(tiny_run / "images/epoch002.png")
    assert grid.size == (10 * 30 + 2, 10 * 30 + 2) and grid.mode == "L"
    gif = Image.open(tiny_run / "progress.gif")
    assert gif.n_frames == 2
    plot = Image.open(tiny_run / "loss.png")
    assert plot.size == (800, 400)
    assert len(set(np.asarray(plot.convert("L")).ravel().tolist())) > 10  # something was drawn


def test_config_records_settings_and_versions(tiny_run):
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    assert config["epochs"] == 2 and config["limit"] == 640 and config["model"] == "mlp"
    assert config["lr"] == RECIPE.lr and config["batch_size"] == RECIPE.batch_size and config["ema"] == RECIPE.ema
    assert set(config["versions"]) == {"msgan", "mindspore", "python"}


def test_infer_is_deterministic_and_writes_mnist_style_samples(tiny_run, tmp_path):
    outs = []
    for name in ("a", "b"):
        result = run_script("infer.py", "--run", str(tiny_run), "--num", "300", "--seed", "5",
                            "--batch-size", "128", "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        outs.append(tmp_path / name)
    a, b = (np.load(o / "samples.npy") for o in outs)
    assert a.shape == (300, 28, 28) and a.dtype == np.uint8
    assert (outs[0] / "samples.npy").read_bytes() == (outs[1] / "samples.npy").read_bytes()
    assert Image.open(outs[0] / "grid.png").size == (18 * 30 + 2, 17 * 30 + 2)


def test_infer_png_and_ckpt_flag(tiny_run, tmp_path):
    result = run_script("infer.py", "--ckpt", str(tiny_run / "checkpoints/Generator1.ckpt"),
                        "--num", "3", "--png", "--out", str(tmp_path / "p"))
    assert result.returncode == 0, result.stderr
    samples = np.load(tmp_path / "p" / "samples.npy")
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "p" / f"sample_{i}.png")), samples[i])


def test_metrics_png_labels_its_log_axis_with_plain_numbers():
    assert [plain_log_labels(v, 0) for v in (20, 30, 50, 100, 700, 2000)] == ["20", "", "50", "100", "", "2000"]


def test_heat_strip_draws_one_grey_cell_per_number():
    strip = heat_strip(np.array([[0.0, 1.0], [0.5, 2.0]]), total_rows=3, cell=4)
    assert strip.shape == (3 * 6 + 2, 2 * 6 + 2)
    assert strip[2, 2] == 0 and strip[2, 8] == 255 and strip[8, 2] == 128 and strip[8, 8] == 255  # clipped to 1
    assert (strip[14:18, 2:6] == 40).all()  # the third row is still to come: frame grey


def infer_in_process(capsys, *args: str) -> str:
    """infer.py's summary line, run in this process (no MindSpore start-up per call)."""
    assert infer_main([*args, "--device", "CPU"]) == 0
    return capsys.readouterr().out


def test_a_run_with_a_moving_average_draws_from_it_unless_raw(ema_cgan_run, tmp_path, capsys):
    checkpoints = ema_cgan_run / "checkpoints"
    common = ["--num", "20", "--digit", "4"]
    line = infer_in_process(capsys, "--run", str(ema_cgan_run), *common, "--out", str(tmp_path / "average"))
    assert f"from {checkpoints / 'Generator2_ema.ckpt'} ('cgan', epoch 2, moving-average weights (decay 0.999)" in line
    line = infer_in_process(capsys, "--run", str(ema_cgan_run), "--raw", *common, "--out", str(tmp_path / "raw"))
    assert f"from {checkpoints / 'Generator2.ckpt'} ('cgan', epoch 2, trained weights" in line
    infer_in_process(capsys, "--ckpt", str(checkpoints / "Generator2.ckpt"), *common, "--out", str(tmp_path / "ckpt"))
    (tmp_path / "copied").mkdir()  # out of its run folder, with no config.yaml: the checkpoint names its model
    shutil.copy(checkpoints / "Generator2.ckpt", tmp_path / "copied")
    loose = tmp_path / "copied" / "Generator2.ckpt"
    infer_in_process(capsys, "--ckpt", str(loose), *common, "--out", str(tmp_path / "loose"))
    average, raw, ckpt, loose = (np.load(tmp_path / name / "samples.npy")
                                 for name in ("average", "raw", "ckpt", "loose"))
    np.testing.assert_array_equal(raw, ckpt)
    np.testing.assert_array_equal(raw, loose)
    assert not np.array_equal(average, raw)
    assert (np.load(tmp_path / "raw" / "labels.npy") == 4).all()


def test_a_conditional_run_without_digit_draws_random_digits_and_says_which(ema_cgan_run, tmp_path, capsys):
    for name, seed in (("a", "4"), ("b", "4"), ("c", "5")):
        line = infer_in_process(capsys, "--run", str(ema_cgan_run), "--num", "30", "--seed", seed,
                                "--out", str(tmp_path / name))
        assert "labels.npy holds the class of each" in line
    labels = np.load(tmp_path / "a" / "labels.npy")
    assert labels.dtype == np.int32 and labels.shape == (30,)
    np.testing.assert_array_equal(labels, stream(4, SAMPLE_LABELS).integers(0, 10, 30))
    assert len(set(labels.tolist())) > 5  # random digits, not one
    assert (tmp_path / "a" / "samples.npy").read_bytes() == (tmp_path / "b" / "samples.npy").read_bytes()
    assert not np.array_equal(labels, np.load(tmp_path / "c" / "labels.npy"))


def test_digit_all_draws_num_digits_one_grid_row_per_digit(ema_cgan_run, tmp_path, capsys):
    """25 digits: three of 0-4, two of 5-9; the rows of 5-9 end in a tile of the frame's colour."""
    infer_in_process(capsys, "--run", str(ema_cgan_run), "--digit", "all", "--num", "25", "--out", str(tmp_path / "s"))
    labels = np.load(tmp_path / "s" / "labels.npy")
    np.testing.assert_array_equal(labels, [d for d in range(10) for _ in range(3 if d < 5 else 2)])
    grid = np.asarray(Image.open(tmp_path / "s" / "grid.png"))
    assert grid.shape == (10 * 30 + 2, 3 * 30 + 2)
    samples = np.load(tmp_path / "s" / "samples.npy")
    np.testing.assert_array_equal(grid[2 + 4 * 30:2 + 4 * 30 + 28, 2 + 2 * 30:2 + 2 * 30 + 28], samples[14])  # digit 4
    assert (grid[2 + 5 * 30:2 + 5 * 30 + 28, 2 + 2 * 30:2 + 2 * 30 + 28] == FRAME).all()  # digit 5 has two
    np.testing.assert_array_equal(grid[2 + 5 * 30:2 + 5 * 30 + 28, 2:30], samples[15])


def test_the_same_infer_command_twice_writes_a_second_folder(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"  # the run's settings and one checkpoint, so that samples/ goes into this copy
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(tiny_run / "config.yaml", run)
    shutil.copy(tiny_run / "checkpoints" / "Generator2.ckpt", run / "checkpoints")
    for _ in range(2):
        infer_in_process(capsys, "--ckpt", str(run / "checkpoints" / "Generator2.ckpt"), "--num", "4")
    first, second = run / "samples" / "Generator2-seed0-n4", run / "samples" / "Generator2-seed0-n4-2"
    assert sorted(p.name for p in (run / "samples").iterdir()) == [first.name, second.name]
    assert (first / "samples.npy").read_bytes() == (second / "samples.npy").read_bytes()


def test_grid_png_draws_at_most_ten_thousand(tiny_run, tmp_path, capsys):
    line = infer_in_process(capsys, "--run", str(tiny_run), "--num", "10001", "--out", str(tmp_path / "s"))
    assert "grid.png shows 10,000 of them" in line
    assert np.load(tmp_path / "s" / "samples.npy").shape == (10001, 28, 28)
    assert Image.open(tmp_path / "s" / "grid.png").size == (100 * 30 + 2, 100 * 30 + 2)
    labels = np.repeat(np.arange(10), 3)  # --digit all: the first `most` of each digit, one row each
    tiles, columns = class_rows(np.arange(30 * 4, dtype=np.uint8).reshape(30, 2, 2), labels, 10, most=2)
    assert columns == 2 and (tiles[2:4, 0, 0] == [12, 16]).all()  # digit 1's first two samples, 3 and 4


@pytest.mark.parametrize("num", [100, 7])
def test_digit_all_labels_and_rows(num):
    """100 draws ten rows of ten, as --digit all always did; 7 draws one each of 0-6 and leaves rows 7-9 empty."""
    labels = class_labels(InferRequest(digit="all", num=num), tuple("0123456789"))
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), [num // 10 + (d < num % 10) for d in range(10)])
    assert np.all(np.diff(labels) >= 0)
    samples = np.arange(num * 4, dtype=np.uint8).reshape(num, 2, 2)
    tiles, columns = class_rows(samples, labels, 10)
    if num == 100:
        assert columns == 10 and (labels == np.repeat(np.arange(10), 10)).all()
        np.testing.assert_array_equal(make_grid(tiles, columns), make_grid(samples, 10))
    else:
        assert columns == 1 and (tiles[:7] == samples).all() and (tiles[7:] == FRAME).all()


def test_colour_images_keep_their_colours_through_range_grid_png_and_gif(tmp_path):
    """Colour (N, H, W, 3) uint8 -> the models' (N, 3, H, W) range and back, unchanged; grids, PNGs and
    the GIF stay in colour, and greyscale stays (N, H, W)."""
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    model_range = to_model_range(colour)
    assert model_range.shape == (5, 3, 6, 7) and model_range.min() >= -1 and model_range.max() <= 1
    np.testing.assert_array_equal(to_uint8(model_range), colour)
    grey = rng.integers(0, 256, (5, 6, 7), dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8(to_model_range(grey)), grey)
    grid = make_grid(colour, columns=3)
    assert grid.shape == (2 * 8 + 2, 3 * 9 + 2, 3)
    np.testing.assert_array_equal(grid[2:8, 11:18], colour[1])
    assert (grid[10:16, 20:27] == FRAME).all()  # the sixth place of the grid is empty
    frames = []
    for i, images in enumerate((colour, colour[::-1])):
        frames.append(tmp_path / f"epoch{i}.png")
        save_png(make_grid(images, columns=3), frames[-1])
    np.testing.assert_array_equal(np.asarray(Image.open(frames[0])), grid)
    save_gif(frames, tmp_path / "progress.gif")
    with Image.open(tmp_path / "progress.gif") as gif:
        first = np.asarray(gif.convert("RGB"))
    assert first.shape == grid.shape and np.abs(first.astype(int) - grid).mean() < 40  # a palette of 256 colours
    assert not (first[..., 0] == first[..., 1]).all()  # not drawn in grey
