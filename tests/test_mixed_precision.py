"""--amp: O0 is the float32 step to the bit; O1 and O2 train on CPU in float16 with float32 weights, whose
checkpoints load into a float32 generator; a level MindSpore cannot compile for a model is one line."""
from __future__ import annotations

from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from conftest import run_script
from msgan.mixed_precision import LOSS_SCALE, loss_scaling

TINY = ["--epochs", "2", "--limit", "640", "--device", "CPU"]  # the settings of conftest's tiny_run
# The tutorial's loss and rate: the default recipe's least squares at 4x the rate overflows float16 in its first
# steps, so O2 skips them (as it should) and its numbers part from float32's at once.
GENTLE = [*TINY, "--loss", "bce", "--lr", "0.0002", "--eval-every", "0"]


def losses(run: Path) -> np.ndarray:
    return np.loadtxt(run / "losses.csv", delimiter=",", skiprows=1)


def test_amp_O0_is_the_float32_step(tiny_run, tmp_path):
    result = run_script("train.py", *TINY, "--amp", "O0", "--out", str(tmp_path / "O0"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "O0" / "losses.csv").read_bytes() == (tiny_run / "losses.csv").read_bytes()
    for name in ("Generator2.ckpt", "resume.ckpt"):
        ours = ms.load_checkpoint(str(tmp_path / "O0" / "checkpoints" / name))
        theirs = ms.load_checkpoint(str(tiny_run / "checkpoints" / name))
        assert ours.keys() == theirs.keys()
        for key, value in theirs.items():
            if hasattr(value, "asnumpy"):
                np.testing.assert_array_equal(ours[key].asnumpy(), value.asnumpy(), err_msg=key)


@pytest.fixture(scope="module")
def gentle_float32_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("O0") / "run"
    result = run_script("train.py", *GENTLE, "--amp", "O0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("level", ["O1", "o2"])  # in either case
def test_float16_levels_train_on_cpu_and_sample_in_float32(level, gentle_float32_run, tmp_path):
    out = tmp_path / level
    result = run_script("train.py", *GENTLE, "--amp", level, "--out", str(out))
    assert result.returncode == 0, result.stderr
    level = level.upper()
    assert f"amp: {level}" in (out / "config.yaml").read_text()
    ours, theirs = losses(out), losses(gentle_float32_run)
    assert np.isfinite(ours).all()
    assert not np.array_equal(ours, theirs)  # float16 products change the numbers...
    np.testing.assert_allclose(ours[:5, 2:], theirs[:5, 2:], atol=0.02)  # ...within float16's precision at first
    state = ms.load_checkpoint(str(out / "checkpoints" / "resume.ckpt"))
    weights = [v for k, v in state.items() if k.startswith("generator.") and hasattr(v, "dtype")]
    assert weights and all(w.dtype == ms.float32 for w in weights)
    if level == "O2":  # the loss scales are part of the resume state; no step overflowed here
        assert float(state["loss_scale_d.scale_value"].asnumpy()) == LOSS_SCALE
        assert int(state["loss_scale_g.counter"].asnumpy()) == 20  # 2 epochs of 10 steps (640 digits, batch 64)
    sampled = run_script("infer.py", "--run", str(out), "--num", "16", "--device", "CPU")
    assert sampled.returncode == 0, sampled.stderr  # the checkpoint loads strictly into a float32 generator


@pytest.mark.parametrize("level", ["O1", "O2"])
def test_a_level_that_does_not_compile_for_the_model_is_one_line(level, tmp_path):
    result = run_script("train.py", "--model", "dcgan", "--amp", level, "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and not (tmp_path / "x").exists()
    line = result.stderr.strip()
    assert "\n" not in line and f"--amp {level} does not compile for 'dcgan'" in line and "use --amp O0" in line


def test_O2_skips_an_update_whose_gradients_overflow_and_halves_the_loss_scale():
    net = nn.Dense(2, 1)
    scaling = loss_scaling("O2", "scale", nn.Adam(net.trainable_params(), learning_rate=0.1))
    update = ms.jit(scaling.update)
    before = net.weight.asnumpy().copy()
    update((Tensor(np.array([[np.inf, 1.0]], np.float32)), Tensor(np.zeros(1, np.float32))))
    np.testing.assert_array_equal(net.weight.asnumpy(), before)
    assert float(scaling.parameters[0].asnumpy()) == LOSS_SCALE / 2
    update((Tensor(np.array([[1.0, 1.0]], np.float32)), Tensor(np.zeros(1, np.float32))))
    assert not np.array_equal(net.weight.asnumpy(), before)
    assert int(scaling.parameters[1].asnumpy()) == 1  # one finite step towards doubling the scale again
