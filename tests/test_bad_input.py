"""Every bad invocation gives exactly one error line that names the fix, a non-zero exit, and loses nothing."""
import contextlib
import dataclasses
import json
import os
import resource
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

import msgan
from conftest import idx_bytes, run_script, write_mnist
from msgan.cli import eval_main, export_main, infer_main
from msgan.config import TrainConfig, check_unedited, trained_settings
from msgan.device import is_available
from msgan.errors import MsganError


def snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_one_error_line(result, *phrases: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


@pytest.fixture()
def bad_data(tmp_path) -> dict[str, Path]:
    """Data folders that are broken in one way each."""
    folders = {}
    write_mnist(tmp_path / "magic", n=10)
    raw = bytearray((tmp_path / "magic" / "train-images-idx3-ubyte").read_bytes())
    raw[0:4] = (1234).to_bytes(4, "big")
    (tmp_path / "magic" / "train-images-idx3-ubyte").write_bytes(bytes(raw))
    folders["magic"] = tmp_path / "magic"
    write_mnist(tmp_path / "gz", n=10, gz=True)
    images = tmp_path / "gz" / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:-40])  # a download cut short
    folders["gz"] = tmp_path / "gz"
    write_mnist(tmp_path / "size", n=10)
    small = np.zeros((10, 20, 20), dtype=np.uint8)
    (tmp_path / "size" / "train-images-idx3-ubyte").write_bytes(idx_bytes(small, 2051))
    folders["size"] = tmp_path / "size"
    return folders


TRAIN_CASES = {
    "zero epochs": (["--epochs", "0"], ["--epochs must be at least 1"]),
    "negative epochs": (["--epochs", "-3"], ["--epochs must be at least 1"]),
    "zero batch": (["--batch-size", "0"], ["--batch-size must be at least 1"]),
    "negative batch": (["--batch-size", "-4"], ["--batch-size must be at least 1"]),
    "batch larger than data": (["--limit", "100", "--batch-size", "128"], ["larger than the 100 training images"]),
    "missing data folder": (["--data", "{tmp}/nowhere"], ["does not exist", "--download"]),
    "data file for its folder": (["--data", "{magic}/train-images-idx3-ubyte"],
                                 ["is a file: give the folder that holds it", "/magic), a .npy or .npz file, or use --data embedded"]),
    "wrong magic": (["--data", "{magic}"], ["not an MNIST idx file"]),
    "truncated gz": (["--data", "{gz}"], ["not a readable gzip file", "download it again"]),
    "wrong image size": (["--data", "{size}"], ["20x20 images, MNIST needs 28x28"]),
    "unavailable device": (["--device", "GPU"], ["GPU is not available", "--device auto"]),
    "unknown device": (["--device", "TPU"], ["unknown device 'TPU'"]),
    "unknown model": (["--model", "vae"], ["unknown model 'vae'"]),
    "unknown loss": (["--loss", "wasserstein"], ["unknown loss 'wasserstein'", "bce, saturating, mse, lsgan, hinge, wgan-gp"]),
    "zero keep-last": (["--keep-last", "0"], ["--keep-last must be at least 1"]),
    "learning rate not a number": (["--lr", "nan"], ["--lr must be a positive number, got nan"]),
    "negative D learning rate": (["--lr-d", "-0.1"], ["--lr-d must be a positive number"]),
    "zero n-critic": (["--n-critic", "0"], ["--n-critic must be at least 1"]),
    "moving average of 1": (["--ema", "1"], ["--ema must be a decay in [0, 1)", "0.999"]),
    "Adam beta1 of 1": (["--beta1", "1"], ["--beta1 must be in [0, 1), such as 0.5, got 1.0"]),
    "Adam beta2 not a number": (["--beta2", "nan"], ["--beta2 must be in [0, 1), such as 0.999, got nan"]),
    "grid too large for a picture": (["--grid-size", "1000"], ["--grid-size must be at most 100", "got 1000"]),
    "GIF of zero frames a second": (["--gif-fps", "0"], ["--gif-fps must be a positive number"]),
    "tutorial latents for uniform noise": (["--grid-seed", "2323", "--latent", "uniform"],
                                           ["--grid-seed draws the grid's latents as the tutorial does"]),
    "fewer epoch samples than a batch": (["--epoch-samples", "10"], ["--epoch-samples 10 is smaller than a batch of 64"]),
    "unknown loss plot": (["--loss-plot", "batch"], ["unknown loss_plot 'batch'; choose one of step, epoch"]),
    "negative penalty": (["--penalty-weight", "-1"], ["--penalty-weight must be 0 or more"]),
    "class weight not a number": (["--class-weight", "inf"], ["--class-weight must be 0 or more, got inf"]),
    "wgan-gp through CPU convolutions": (["--model", "dcgan", "--loss", "wgan-gp"],
                                         ["--loss wgan-gp differentiates D twice", "use --loss hinge or lsgan"]),
    "negative eval-every": (["--eval-every", "-1"], ["--eval-every must be 0 (never) or more"]),
    "zero eval-samples": (["--eval-samples", "0"], ["--eval-samples must be at least 1"]),
    "download without folder": (["--download"], ["--download needs a folder"]),
    "data for the toy GAN": (["--model", "toy1010", "--limit", "5"], ["makes its own four-number samples"]),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_train_refuses(case, tmp_path, bad_data):
    args, phrases = TRAIN_CASES[case]
    args = [a.format(tmp=tmp_path, **bad_data) for a in args]
    out = tmp_path / "run"
    if case == "unavailable device" and is_available("GPU"):
        pytest.skip("this machine has a GPU build of MindSpore")
    result = run_script("train.py", "--epochs", "1", *args, "--out", str(out))  # a later flag wins
    assert_one_error_line(result, *phrases)
    assert not out.exists()  # nothing created for a run that never started


def test_train_never_overwrites_an_existing_run(tiny_run, tmp_path):
    before = snapshot(tiny_run)
    result = run_script("train.py", "--epochs", "1", "--limit", "256", "--out", str(tiny_run))
    assert_one_error_line(result, "already exists and is not empty")
    assert snapshot(tiny_run) == before


def test_out_that_is_a_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    assert_one_error_line(run_script("train.py", "--epochs", "1", "--out", str(notes)), "is a file, not a folder")
    assert notes.read_text() == "mine"


@contextlib.contextmanager
def read_only(folder: Path):
    """Make `folder` unwritable; for root, which writes through permissions, with the immutable attribute."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield
        folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("this file system cannot make a folder read-only for root")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_read_only_output_folder(tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    with read_only(out):
        result = run_script("train.py", "--epochs", "1", "--limit", "256", "--out", str(out))
    assert_one_error_line(result, f"cannot create output folder {out}", "--out")
    assert list(out.iterdir()) == []


def limit_file_size() -> None:
    """In the child: no file may grow past 4 MB (the mlp Generator checkpoint is 6 MB), as on a full disk;
    a write past it fails with EFBIG instead of killing the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4_000_000, 4_000_000))


def test_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path):
    out = tmp_path / "run"
    result = run_script("train.py", "--epochs", "2", "--limit", "256", "--out", str(out),
                        preexec_fn=limit_file_size)
    assert_one_error_line(result, f"cannot write {out / 'checkpoints' / 'Generator1.ckpt'}", "free some disk space")
    # nothing half-written: only what was complete before the first checkpoint (the settings, the real samples)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["config.yaml",
                                                                                             "images/real.png"]


def test_a_loss_that_becomes_nan_stops_the_run(tmp_path):
    out = tmp_path / "run"
    result = run_script("train.py", "--lr", "1e30", "--epochs", "2", "--limit", "256", "--out", str(out))
    assert_one_error_line(result, "became nan at epoch 1, step 1", "nothing was saved", "lower --lr")
    assert not list((out / "checkpoints").iterdir())


def copy_of(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


RESUME_FLAG_CASES = {
    "another batch size": (["--batch-size", "32"], ["trained with batch_size 64, not 32", "leave out --batch-size"]),
    "another model": (["--model", "dcgan"], ["trained with model 'mlp', not 'dcgan'"]),
    "another latent size": (["--latent-dim", "64"], ["trained with latent_dim 100, not 64"]),
    "another output folder": (["--out", "elsewhere"], ["leave out --out"]),
    "a finished run": ([], ["already trained 2 epochs of 2", "--epochs"]),
    "fewer epochs": (["--epochs", "1"], ["already trained 2 epochs of 1"]),
    "unknown flag value": (["--epochs", "3", "--device", "TPU"], ["unknown device 'TPU'"]),
}


@pytest.mark.parametrize("case", list(RESUME_FLAG_CASES))
def test_resume_refuses_flags_that_change_the_run(case, tiny_run, tmp_path):
    args, phrases = RESUME_FLAG_CASES[case]
    run = copy_of(tiny_run, tmp_path)
    before = snapshot(run)
    assert_one_error_line(run_script("train.py", "--resume", str(run), *args, cwd=tmp_path), *phrases)
    assert snapshot(run) == before


def flip_bytes(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 16] = bytes(b ^ 0xFF for b in raw[middle:middle + 16])
    path.write_bytes(bytes(raw))


RESUME_DAMAGE_CASES = {
    "zero-byte state": (lambda run: (run / "checkpoints/resume.ckpt").write_bytes(b""), "", ["is empty"]),
    "flipped bytes": (lambda run: flip_bytes(run / "checkpoints/resume.ckpt"), "", ["damaged or truncated"]),
    "no state": (lambda run: (run / "checkpoints/resume.ckpt").unlink(), "", ["has no resume state"]),
    "edited config": (lambda run: (run / "config.yaml").write_text(
        (run / "config.yaml").read_text().replace("latent_dim: 100", "latent_dim: 64")), "",
        ["says latent_dim: 64, but the run trained with latent_dim: 100", "restore that line"]),
    "edited learning rate": (lambda run: (run / "config.yaml").write_text(
        (run / "config.yaml").read_text().replace("\nlr: 0.0008", "\nlr: 0.001")), "",
        ["says lr: 0.001, but the run trained with lr: 0.0008"]),
    "trained by msgan 0.1": (lambda run: (run / "config.yaml").write_text(
        (run / "config.yaml").read_text().replace(f"msgan: {msgan.__version__}", "msgan: 0.1.0")), "",
        ["trained by msgan 0.1.0", "still load in infer.py"]),
    "an older epoch's checkpoint": (lambda run: None, "checkpoints/Generator1.ckpt",
                                    ["Generator1.ckpt is not where the run stopped", "--resume"]),
    "not a run folder": (lambda run: None, "images", ["is not a run folder"]),
}


@pytest.mark.parametrize("case", list(RESUME_DAMAGE_CASES))
def test_resume_refuses_damaged_runs(case, tiny_run, tmp_path):
    damage, inside, phrases = RESUME_DAMAGE_CASES[case]
    run = copy_of(tiny_run, tmp_path)
    damage(run)
    before = snapshot(run)
    assert_one_error_line(run_script("train.py", "--resume", str(run / inside), "--epochs", "3"), *phrases)
    assert snapshot(run) == before


def make_bad_checkpoint(kind: str, tiny_run: Path, tmp_path: Path) -> Path:
    good = tiny_run / "checkpoints" / "Generator2.ckpt"
    target = tmp_path / "ckpts" / "checkpoints" / "Generator2.ckpt"
    target.parent.mkdir(parents=True)
    if kind == "discriminator":
        shutil.copy(tiny_run / "checkpoints" / "Discriminator2.ckpt", target)
    elif kind == "empty":
        target.write_bytes(b"")
    elif kind == "truncated":
        target.write_bytes(good.read_bytes()[:100_000])
    elif kind == "flipped bytes":
        shutil.copy(good, target)
        flip_bytes(target)
    elif kind in ("other architecture", "another model"):
        shutil.copy(good, target)  # outside its run folder, so the flags decide the architecture
    return target


INFER_CASES = {
    "discriminator": ([], ["discriminator checkpoint", "Generator*.ckpt"]),
    "empty": ([], ["is empty"]),
    "truncated": ([], ["damaged or truncated"]),
    "flipped bytes": ([], ["damaged or truncated"]),
    "other architecture": (["--latent-dim", "64"], ["does not fit this network", "--latent-dim"]),
    "another model": (["--model", "dcgan"], ["holds a 'mlp' generator, not 'dcgan'", "--model mlp"]),
}


@pytest.mark.parametrize("case", list(INFER_CASES))
def test_infer_refuses_bad_checkpoints(case, tiny_run, tmp_path):
    args, phrases = INFER_CASES[case]
    ckpt = make_bad_checkpoint(case, tiny_run, tmp_path)
    result = run_script("infer.py", "--ckpt", str(ckpt), *args, "--out", str(tmp_path / "out"))
    assert_one_error_line(result, *phrases)
    assert not (tmp_path / "out").exists()


def test_infer_refuses_bad_requests(tiny_run, tmp_path):
    assert_one_error_line(run_script("infer.py", "--run", str(tiny_run), "--num", "0"), "--num must be at least 1")
    assert_one_error_line(run_script("infer.py", "--run", str(tiny_run), "--batch-size", "0"),
                          "--batch-size must be at least 1")
    assert_one_error_line(run_script("infer.py", "--run", str(tmp_path / "none")), "does not exist")
    result = run_script("infer.py", "--run", str(tiny_run), "--num", str(10 ** 12))  # petabytes
    assert_one_error_line(result, f"--num {10 ** 12} needs about", "GiB of memory", "ask for at most")
    assert not (tiny_run / "samples").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    result = run_script("infer.py", "--run", str(tiny_run), "--out", str(tmp_path / "used"))
    assert_one_error_line(result, "already exists and is not empty")
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine"


def test_paths_one_level_off(tiny_run, tmp_path, capsys):
    """RUN/checkpoints given for --run is the run; a folder given for --ckpt is named as a folder."""
    assert infer_main(["--ckpt", str(tiny_run / "checkpoints"), "--device", "cpu"]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {tiny_run / 'checkpoints'} is a folder, not a checkpoint: "
                                               "pass one of its .ckpt files, or the run folder with --run")
    assert infer_main(["--run", str(tiny_run / "checkpoints"), "--num", "4", "--out", str(tmp_path / "s"),
                       "--device", "cpu"]) == 0  # --device in any case
    assert f"from {tiny_run / 'checkpoints' / 'Generator2_ema.ckpt'}" in capsys.readouterr().out


RAW_CASES = {  # --raw picks a run's trained weights: beside any other source it is one line that says what to do
    "infer --ckpt": (infer_main, ["--ckpt", "G1.ckpt"], "not --ckpt: pass the checkpoint you want to --ckpt"),
    "infer --mindir": (infer_main, ["--mindir", "g.mindir"], "not --mindir: export the trained weights with "
                                                              "export.py --run RUN --raw"),
    "eval --ckpt": (eval_main, ["--ckpt", "G1.ckpt"], "or use --run RUN --raw"),
    "eval --samples": (eval_main, ["--samples", "s.npy"], "draw the samples with infer.py --run RUN --raw"),
    "eval --real": (eval_main, ["--real"], "not --real: leave out --raw"),
    "export --ckpt": (export_main, ["--ckpt", "G1.ckpt"], "Generator<E>.ckpt holds the trained weights"),
}


@pytest.mark.parametrize("case", list(RAW_CASES))
def test_raw_goes_with_run_only(case, tmp_path, capsys, monkeypatch):
    main, args, fix = RAW_CASES[case]
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--raw"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --raw picks a run folder's trained weights"), lines
    assert "goes with --run RUN only" in lines[0] and fix in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script", ["train.py", "infer.py", "eval.py", "export.py"])
def test_a_usage_mistake_is_one_line_too(script):
    """argparse's own errors (an unknown flag, a missing source) print one line, not the usage block."""
    for args in (["--no-such-flag"], ["--seed", "seven"]):
        assert_one_error_line(run_script(script, *args), f"see {script} --help")


def test_a_setting_newer_than_the_resume_state_must_hold_its_default(tmp_path):
    """A resume state records the settings its msgan knew; one added since is checked against its default."""
    cfg = TrainConfig()
    recorded = json.loads(trained_settings(cfg))
    del recorded["d_alone"]
    check_unedited(cfg, json.dumps(recorded), tmp_path / "config.yaml")
    with pytest.raises(MsganError, match="says d_alone: True, but the run trained with d_alone: False"):
        check_unedited(dataclasses.replace(cfg, d_alone=True), json.dumps(recorded), tmp_path / "config.yaml")
