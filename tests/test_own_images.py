"""Training on your own images, end to end, on files the tests write: a folder of generated colour shapes at
64x64, a tiny CIFAR-10 binary, Fashion-style idx files and an .npz. Each run is tiny: its outputs' shapes,
colours and files are what is checked, not the quality of its pictures."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import write_mnist
from msgan.checkpoints import read_checkpoint
from msgan.cli import eval_main, export_main, infer_main, train_main
from msgan.shapes import make_shapes
from msgan.sources import FASHION_CLASSES


def train_in_process(capsys, *args: str) -> str:
    """train.py's output, run in this process; the run must succeed."""
    code = train_main([*args, "--device", "CPU"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def refused(capsys, main, *args: str) -> str:
    """The one line a script prints when it refuses its input, without a traceback."""
    assert main([*args, "--device", "CPU"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "shapes"
    make_shapes(root, count=24, size=64, seed=0)
    return root


@pytest.fixture(scope="module")
def shapes_run(shapes, tmp_path_factory) -> Path:
    """dcgan64, the DCGAN tutorial's networks, for one epoch on the 64x64 colour shapes."""
    out = tmp_path_factory.mktemp("runs") / "dcgan64"
    assert train_main(["--data", str(shapes), "--model", "dcgan64", "--epochs", "1", "--batch-size", "8",
                       "--out", str(out), "--device", "CPU"]) == 0
    return out


def test_dcgan64_on_a_colour_folder_leaves_every_output_in_colour(shapes_run):
    saved = yaml.safe_load((shapes_run / "config.yaml").read_text())
    assert saved["shape"] == [3, 64, 64] and saved["classes"] == ["circle", "square", "triangle"]
    real = np.asarray(Image.open(shapes_run / "images/real.png")).astype(int)
    assert real.shape == (3 * 66 + 2, 10 * 66 + 2, 3)  # the 24 shapes, ten 64-pixel tiles a row, framed
    assert np.abs(real[..., 0] - real[..., 1]).max() > 100  # in colour, not grey stored as RGB
    assert Image.open(shapes_run / "images/epoch001.png").mode == "RGB"
    gif = Image.open(shapes_run / "progress.gif")
    assert gif.convert("RGB").size == Image.open(shapes_run / "images/epoch001.png").size
    params, info = read_checkpoint(shapes_run / "checkpoints/Generator1.ckpt")
    assert info.model == "dcgan64" and any(tuple(p.shape) == (64, 3, 4, 4) for p in params.values())
    assert (shapes_run / "losses.csv").read_text().count("\n") == 1 + 24 // 8
    assert (shapes_run / "checkpoints/resume.ckpt").is_file()


def test_infer_writes_colour_samples_and_one_png_each(shapes_run, tmp_path, capsys):
    assert infer_main(["--run", str(shapes_run), "--num", "5", "--out", str(tmp_path / "s"),
                       "--png-dir", str(tmp_path / "pngs"), "--device", "CPU"]) == 0
    assert "one PNG per sample in" in capsys.readouterr().out
    samples = np.load(tmp_path / "s" / "samples.npy")
    assert samples.shape == (5, 64, 64, 3) and samples.dtype == np.uint8
    pngs = sorted((tmp_path / "pngs").iterdir())
    assert [p.name for p in pngs] == [f"sample_{i}.png" for i in range(5)]
    np.testing.assert_array_equal(np.asarray(Image.open(pngs[3])), samples[3])
    assert Image.open(tmp_path / "s" / "grid.png").mode == "RGB"


def test_export_and_mindir_inference_draw_the_same_colour_samples(shapes_run, tmp_path, capsys):
    graph = tmp_path / "g.mindir"
    assert export_main(["--run", str(shapes_run), "--batch-size", "4", "--out", str(graph), "--device", "CPU"]) == 0
    assert "images (3x64x64)" in capsys.readouterr().out
    assert json.loads(graph.with_suffix(".json").read_text())["shape"] == [3, 64, 64]
    for source, out in ((["--mindir", str(graph)], "m"), (["--run", str(shapes_run)], "c")):
        assert infer_main([*source, "--num", "6", "--out", str(tmp_path / out), "--device", "CPU"]) == 0
    from_graph, from_ckpt = (np.load(tmp_path / o / "samples.npy").astype(int) for o in ("m", "c"))
    assert from_graph.shape == (6, 64, 64, 3) and np.abs(from_graph - from_ckpt).max() <= 1


def test_eval_needs_a_judge_for_other_data_and_scores_with_a_trained_one(shapes, shapes_run, tmp_path, capsys):
    line = refused(capsys, eval_main, "--run", str(shapes_run), "--num", "20")
    assert "python -m msgan.classifier --data" in line
    from msgan.classifier import main as classifier_main

    judge = tmp_path / "judge.ckpt"
    assert classifier_main(["--data", str(shapes), "--image-size", "64", "--epochs", "1", "--out", str(judge)]) == 0
    capsys.readouterr()
    assert eval_main(["--run", str(shapes_run), "--num", "20", "--judge", str(judge), "--device", "CPU"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert np.isfinite(scores["fid"]) and len(scores["class_shares"]) == 3
    assert scores["real_floor"]["fid"] < scores["fid"]  # real shapes look more like shapes than one epoch's


def test_resume_on_colour_data_is_exact(shapes, tmp_path, capsys):
    common = ["--data", str(shapes), "--model", "mlp-small", "--batch-size", "8", "--image-size", "24"]
    train_in_process(capsys, *common, "--epochs", "2", "--out", str(tmp_path / "whole"))
    train_in_process(capsys, *common, "--epochs", "1", "--out", str(tmp_path / "parts"))
    train_in_process(capsys, "--resume", str(tmp_path / "parts"), "--epochs", "2")
    for name in ("losses.csv", "images/epoch002.png"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "parts" / name).read_bytes(), name
    saved = yaml.safe_load((tmp_path / "parts" / "config.yaml").read_text())
    assert saved["shape"] == [3, 24, 24]


def test_resume_refuses_other_images(shapes, tmp_path, capsys):
    train_in_process(capsys, "--data", str(shapes), "--model", "mlp-small", "--epochs", "1", "--batch-size", "8",
                     "--image-size", "16", "--out", str(tmp_path / "run"))
    make_shapes(tmp_path / "fewer", count=16, size=64, seed=0)
    config = tmp_path / "run" / "config.yaml"
    config.write_text(config.read_text().replace(str(shapes), str(tmp_path / "fewer")))  # data may move, not change
    line = refused(capsys, train_main, "--resume", str(tmp_path / "run"), "--epochs", "2")
    assert "now hold 16" in line and "resume with the same data" in line


def write_cifar(root: Path, count: int = 24) -> Path:
    """A tiny CIFAR-10 binary batch: `count` random records with labels cycling 0-9."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    records = rng.integers(0, 256, (count, 1 + 3 * 32 * 32), dtype=np.uint8)
    records[:, 0] = np.arange(count) % 10
    (folder / "data_batch_1.bin").write_bytes(records.tobytes())
    return root


def test_a_conditional_conv_gan_on_cifar_binary(tmp_path, capsys):
    data = write_cifar(tmp_path / "cifar")
    out = train_in_process(capsys, "--data", str(data), "--model", "cdcgan", "--epochs", "1", "--batch-size", "8",
                           "--out", str(tmp_path / "run"))
    assert "24 32x32 colour images in 10 classes" in out
    assert infer_main(["--run", str(tmp_path / "run"), "--digit", "cat", "--num", "3",
                       "--out", str(tmp_path / "cats"), "--device", "CPU"]) == 0
    assert np.load(tmp_path / "cats" / "samples.npy").shape == (3, 32, 32, 3)
    assert list(np.load(tmp_path / "cats" / "labels.npy")) == [3, 3, 3]  # CIFAR-10's 'cat' is class 3
    graph = tmp_path / "g.mindir"
    assert export_main(["--run", str(tmp_path / "run"), "--batch-size", "2", "--out", str(graph),
                        "--device", "CPU"]) == 0
    assert infer_main(["--mindir", str(graph), "--digit", "cat", "--num", "3", "--out", str(tmp_path / "graph"),
                       "--device", "CPU"]) == 0
    from_graph = np.load(tmp_path / "graph" / "samples.npy").astype(int)
    assert np.abs(from_graph - np.load(tmp_path / "cats" / "samples.npy")).max() <= 1


def test_fashion_idx_files_keep_their_class_names(tmp_path, capsys):
    write_mnist(tmp_path / "fashion", n=32)
    train_in_process(capsys, "--data", str(tmp_path / "fashion"), "--dataset", "fashion-mnist", "--model", "cgan",
                     "--epochs", "1", "--batch-size", "16", "--out", str(tmp_path / "run"))
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["classes"] == list(FASHION_CLASSES) and saved["shape"] == [1, 28, 28]
    assert infer_main(["--run", str(tmp_path / "run"), "--digit", "Sneaker", "--num", "2",
                       "--out", str(tmp_path / "s"), "--device", "CPU"]) == 0
    assert list(np.load(tmp_path / "s" / "labels.npy")) == [7, 7]


def test_an_npz_array_resized_to_the_image_size(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "a.npz", images=rng.integers(0, 256, (16, 20, 24), dtype=np.uint8),
             labels=np.arange(16) % 2)
    out = train_in_process(capsys, "--data", str(tmp_path / "a.npz"), "--model", "mlp-small", "--epochs", "1",
                           "--batch-size", "8", "--image-size", "12", "--out", str(tmp_path / "run"))
    assert "center-cropped and resized to 12x12" in out
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["shape"] == [1, 12, 12]
    assert infer_main(["--run", str(tmp_path / "run"), "--num", "2", "--out", str(tmp_path / "s"),
                       "--device", "CPU"]) == 0
    assert np.load(tmp_path / "s" / "samples.npy").shape == (2, 12, 12)


@pytest.mark.parametrize("args, message", [
    (["--model", "cgan"], "hold 0 class(es)"),
    (["--model", "dcgan64", "--image-size", "32"], "'dcgan64' cannot train on 32x32 images"),
    (["--model", "dcgan", "--image-size", "30"], "'dcgan' cannot train on 30x30"),
    (["--dataset", "cifar10"], "no CIFAR-10 binary batches"),
    (["--image-size", "0"], "--image-size must be at least 1"),
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
])
def test_bad_image_settings_are_one_line(args, message, tmp_path, capsys):
    make_shapes(tmp_path / "flat" / "any", count=4, size=16)  # one subfolder: unlabelled
    line = refused(capsys, train_main, "--data", str(tmp_path / "flat"), "--epochs", "1", "--batch-size", "2",
                   "--out", str(tmp_path / "run"), *args)
    assert message in line
    assert not (tmp_path / "run").exists()
