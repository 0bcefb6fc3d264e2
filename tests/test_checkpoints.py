import sys
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from msgan.checkpoints import (DISCRIMINATOR, GENERATOR, checkpoint_info, load_generator, read_checkpoint,
                               save_network)
from msgan.errors import MsganError
from msgan.models import build_discriminator, build_generator
from msgan.step import make_optimizers, make_train_step
from conftest import REPO, lone_step_inputs
from msgan.cli import eval_main, export_main, infer_main
from msgan.config import TrainConfig


def trained_generator(steps: int = 3):
    """A generator whose weights and BatchNorm statistics have moved away from initialisation."""
    ms.set_seed(1)
    g, d = build_generator("mlp", 100), build_discriminator("mlp")
    step = make_train_step(g, d, *make_optimizers(g, d, TrainConfig()))
    rng = np.random.default_rng(0)
    for _ in range(steps):
        step(Tensor(rng.uniform(-1, 1, (16, 1, 28, 28)).astype(np.float32)),
             Tensor(rng.standard_normal((16, 100), dtype=np.float32)), Tensor(np.zeros(16, np.int32)),
             *lone_step_inputs(16))
    return g, d


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    g, d = trained_generator()
    folder = tmp_path_factory.mktemp("ckpt")
    save_network(g, folder / "Generator0.ckpt", checkpoint_info(0, 3, GENERATOR, "mlp", "h"))
    save_network(d, folder / "Discriminator0.ckpt", checkpoint_info(0, 3, DISCRIMINATOR, "mlp", "h"))
    return g, folder


def test_strict_round_trip_into_a_fresh_network(saved):
    g, folder = saved
    fresh = build_generator("mlp", 100)
    info = load_generator(fresh, folder / "Generator0.ckpt", "mlp")
    assert (info.network, info.model, info.epoch, info.step) == ("generator", "mlp", 0, 3)
    original = {p.name: p.asnumpy() for p in g.get_parameters()}
    loaded = {p.name: p.asnumpy() for p in fresh.get_parameters()}
    assert original.keys() == loaded.keys()
    for name in original:
        np.testing.assert_array_equal(original[name], loaded[name], err_msg=name)
    assert np.abs(original["generator.model.3.moving_mean"]).sum() > 0  # BN statistics really were trained
    z = Tensor(np.random.default_rng(5).standard_normal((8, 100), dtype=np.float32))
    g.set_train(False)
    fresh.set_train(False)
    np.testing.assert_array_equal(g(z).asnumpy(), fresh(z).asnumpy())


def test_checkpoint_keys_are_exactly_the_network_names(saved):
    _, folder = saved
    params, _ = read_checkpoint(folder / "Generator0.ckpt")
    assert set(params) == {p.name for p in build_generator("mlp", 100).get_parameters()}


@pytest.fixture(scope="module")
def tutorial_checkpoints(tmp_path_factory) -> tuple[nn.Cell, Path]:
    """The tutorial's generator after three of its own train steps, saved as its code saves it (names such as
    'optim_ggeneratormodel.0.weight'), and the same weights named as without the optimizer's renaming."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from tutorial_gan import tutorial_train_step

    ms.set_seed(2)
    train_step, net_g = tutorial_train_step()
    rng = np.random.default_rng(1)
    for _ in range(3):
        train_step(Tensor(rng.uniform(-1, 1, (16, 1, 28, 28)).astype(np.float32)),
                   Tensor(rng.standard_normal((16, 100)).astype(np.float32)))
    folder = tmp_path_factory.mktemp("tutorial")
    ms.save_checkpoint(net_g, str(folder / "Generator11.ckpt"))
    unprefixed = [{"name": p.name.removeprefix("optim_g"), "data": p} for p in net_g.get_parameters()]
    (folder / "plain").mkdir()
    ms.save_checkpoint(unprefixed, str(folder / "plain" / "Generator4.ckpt"))
    return net_g, folder


@pytest.mark.parametrize("name, epoch", [("Generator11.ckpt", 12), ("plain/Generator4.ckpt", 5)],
                         ids=["optim_g prefix", "generator prefix only"])
def test_a_generator_saved_by_the_tutorial_loads_strictly_and_draws_as_it(tutorial_checkpoints, name, epoch, capsys):
    net_g, folder = tutorial_checkpoints
    keys = ms.load_checkpoint(str(folder / name)).keys()
    assert ("optim_ggeneratormodel.0.weight" in keys) == (epoch == 12) and "generatormodel.3.moving_mean" in keys
    fresh = build_generator("mlp", 100)
    info = load_generator(fresh, folder / name, "mlp")
    assert (info.network, info.model, info.epoch) == ("generator", "mlp", epoch)
    line = capsys.readouterr().out.strip()
    assert len(line.splitlines()) == 1 and "saved by the MindSpore GAN tutorial's code" in line
    z = Tensor(np.random.default_rng(5).standard_normal((8, 100)).astype(np.float32))
    net_g.set_train(False)
    fresh.set_train(False)
    np.testing.assert_array_equal(net_g(z).asnumpy(), fresh(z).asnumpy())
    assert np.abs(fresh.model[3].moving_mean.asnumpy()).sum() > 0  # the tutorial's BatchNorm statistics came along


def test_the_commands_take_a_tutorial_checkpoint(tutorial_checkpoints, tmp_path, capsys):
    """infer.py, eval.py and export.py, given the tutorial's file outside any run folder: the mlp generator."""
    _, folder = tutorial_checkpoints
    ckpt = str(folder / "Generator11.ckpt")
    assert infer_main(["--ckpt", ckpt, "--num", "8", "--out", str(tmp_path / "s"), "--device", "CPU"]) == 0
    assert "('mlp', epoch 12, trained weights" in capsys.readouterr().out
    assert np.load(tmp_path / "s" / "samples.npy").shape == (8, 28, 28)
    assert export_main(["--ckpt", ckpt, "--batch", "4", "--out", str(tmp_path / "g.mindir"), "--device", "CPU"]) == 0
    assert "exported" in capsys.readouterr().out
    assert eval_main(["--ckpt", ckpt, "--num", "100", "--device", "CPU"]) == 0
    assert '"model": "mlp", "epoch": 12' in capsys.readouterr().out


def test_tutorial_style_files_that_do_not_fit_are_refused_not_half_loaded(tutorial_checkpoints, tmp_path):
    net_g, _ = tutorial_checkpoints
    params = [{"name": p.name, "data": p} for p in net_g.get_parameters()]
    ms.save_checkpoint(params[:-1], str(tmp_path / "Generator1.ckpt"))  # the last layer's bias missing
    with pytest.raises(MsganError, match=r"does not fit this network \(missing \['generator.model.11.bias'\]"):
        load_generator(build_generator("mlp", 100), tmp_path / "Generator1.ckpt", "mlp")
    d = build_discriminator("mlp")  # the tutorial's discriminator file, or any other foreign checkpoint
    ms.save_checkpoint([{"name": "discriminatormodel." + p.name.split("model.", 1)[1], "data": p}
                        for p in d.get_parameters()], str(tmp_path / "Discriminator1.ckpt"))
    with pytest.raises(MsganError, match="not written by msgan .* nor by the MindSpore GAN tutorial"):
        load_generator(build_generator("mlp", 100), tmp_path / "Discriminator1.ckpt", "mlp")


def test_discriminator_refused_where_generator_expected(saved):
    _, folder = saved
    with pytest.raises(MsganError, match="discriminator checkpoint"):
        load_generator(build_generator("mlp", 100), folder / "Discriminator0.ckpt", "mlp")


def test_other_model_and_other_shape_refused(saved, tmp_path):
    g, folder = saved
    with pytest.raises(MsganError, match="'mlp' generator, not 'dcgan'"):
        load_generator(build_generator("mlp", 100), folder / "Generator0.ckpt", "dcgan")
    with pytest.raises(MsganError, match="does not fit this network.*shape"):
        load_generator(build_generator("mlp", 64), folder / "Generator0.ckpt", "mlp")


@pytest.mark.parametrize("damage", ["empty", "truncated", "flipped"])
def test_damaged_files_give_one_clear_error(saved, tmp_path, damage):
    _, folder = saved
    raw = bytearray((folder / "Generator0.ckpt").read_bytes())
    if damage == "empty":
        raw = bytearray()
    elif damage == "truncated":
        raw = raw[: len(raw) // 2]
    else:
        raw[len(raw) // 2: len(raw) // 2 + 16] = bytes(b ^ 0xFF for b in raw[len(raw) // 2: len(raw) // 2 + 16])
    path = tmp_path / "Generator0.ckpt"
    path.write_bytes(bytes(raw))
    with pytest.raises(MsganError, match="empty|damaged"):
        load_generator(build_generator("mlp", 100), path, "mlp")


def test_save_leaves_no_temporary_files(saved):
    _, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == ["Discriminator0.ckpt", "Generator0.ckpt"]
