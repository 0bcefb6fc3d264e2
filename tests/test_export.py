"""export.py writes the generator as MINDIR; the graph, loaded without msgan's model code, draws what the
checkpoint draws."""
from __future__ import annotations

import shutil
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from conftest import run_script
from msgan.checkpoints import GENERATOR, checkpoint_info, save_network
from msgan.config import resolve
from msgan.export import ExportRequest, export_generator
from msgan.inference import load_trained_generator
from msgan.models import build_generator
from msgan.sampling import generate, latents


def save_fresh(cfg, folder: Path) -> Path:
    """A freshly initialised generator's checkpoint, outside any run folder."""
    path = folder / "Generator0.ckpt"
    save_network(build_generator(cfg.model, cfg.latent_dim), path,
                 checkpoint_info(0, 1, GENERATOR, cfg.model, cfg.recipe_hash()))
    return path


def test_exported_run_draws_what_its_checkpoint_draws(tiny_run, tmp_path):
    run = tmp_path / "run"  # a copy: the shared run's folder must keep exactly what train.py wrote
    shutil.copytree(tiny_run, run)
    result = run_script("export.py", "--run", str(run), "--batch", "16")
    assert result.returncode == 0, result.stderr
    path = run / "export" / "Generator1-batch16.mindir"
    assert f"exported to {path}" in result.stdout
    graph = nn.GraphCell(ms.load(str(path)))
    cfg = resolve({"model": "mlp"})
    z = latents(16, cfg.latent_dim, seed=3)
    generator, _ = load_trained_generator(run / "checkpoints" / "Generator1.ckpt", cfg)
    np.testing.assert_array_equal(graph(Tensor(z)).asnumpy(), generate(generator, z))


@pytest.mark.parametrize("model", ["cgan", "dcgan"])
def test_conditional_and_convolutional_generators_export_exactly(model, tmp_path):
    """cgan's graph takes the labels as its second input; dcgan's holds msgan's CPU convolutions."""
    cfg = resolve({"model": model})
    ms.set_seed(1)
    generator, _ = load_trained_generator(save_fresh(cfg, tmp_path), cfg)
    out = export_generator(ExportRequest(ckpt=str(tmp_path / "Generator0.ckpt"), model=model, batch=4,
                                         device="CPU"))
    assert out == tmp_path / "Generator0-batch4.mindir"
    z = latents(4, cfg.latent_dim, seed=0, distribution=cfg.latent)
    labels = np.array([0, 3, 7, 9], np.int32) if model == "cgan" else None
    inputs = [Tensor(z)] + ([Tensor(labels)] if labels is not None else [])
    np.testing.assert_array_equal(nn.GraphCell(ms.load(str(out)))(*inputs).asnumpy(),
                                  generate(generator, z, labels))


@pytest.mark.parametrize("args, message", [
    (["--format", "ONNX"], "--format ONNX: msgan exports MINDIR"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--out", "graph.onnx"], "must end in .mindir"),
])
def test_bad_export_requests_are_one_line(tiny_run, args, message):
    result = run_script("export.py", "--run", str(tiny_run), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_export_never_overwrites(tiny_run, tmp_path):
    target = tmp_path / "g.mindir"
    target.write_bytes(b"mine")
    result = run_script("export.py", "--run", str(tiny_run), "--out", str(target))
    assert result.returncode == 2 and "never overwrites" in result.stderr
    assert target.read_bytes() == b"mine"
