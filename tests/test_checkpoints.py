import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor

from msgan.checkpoints import (DISCRIMINATOR, GENERATOR, checkpoint_info, load_generator, read_checkpoint,
                               save_network)
from msgan.errors import MsganError
from msgan.models import build_discriminator, build_generator
from msgan.step import make_optimizers, make_train_step
from conftest import lone_step_inputs
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


def test_tutorial_style_names_are_refused_not_half_loaded(tmp_path):
    """The tutorial's renaming gives keys such as 'optim_ggeneratormodel.0.weight'; never load those silently."""
    g = build_generator("mlp", 100)
    tutorial = [{"name": "optim_g" + p.name.replace(".", "", 1), "data": p} for p in g.get_parameters()]
    ms.save_checkpoint(tutorial, str(tmp_path / "Generator11.ckpt"))
    with pytest.raises(MsganError, match="not written by msgan"):
        load_generator(build_generator("mlp", 100), tmp_path / "Generator11.ckpt", "mlp")


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
