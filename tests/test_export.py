"""export.py writes the generator as MINDIR with a JSON sidecar; the graph, loaded without msgan's model code,
draws what the checkpoint draws, and infer.py --mindir writes what infer.py --ckpt writes; export.py --run exports
a run's moving average unless --raw."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from conftest import REPO, run_script
from msgan import __version__
from msgan.checkpoints import GENERATOR, checkpoint_info, save_network
from msgan.cli import infer_main
from msgan.config import resolve
from msgan.export import ExportRequest, export_generator
from msgan.inference import GraphInfo, load_trained_generator
from msgan.models import build_generator
from msgan.sampling import generate, latents


def save_fresh(cfg, folder: Path) -> Path:
    """A freshly initialised generator's checkpoint, outside any run folder."""
    path = folder / "Generator0.ckpt"
    save_network(build_generator(cfg.model, cfg.latent_dim), path,
                 checkpoint_info(0, 1, GENERATOR, cfg.model, cfg.recipe_hash()))
    return path


def assert_same_samples(from_graph: np.ndarray, from_ckpt: np.ndarray, batch: int) -> None:
    """infer.py --mindir against infer.py --ckpt --batch-size `batch`: their calls of `batch` rows agree to the bit.
    The graph runs the last, shorter chunk padded to `batch` rows, the checkpoint as it is (6 rows of 70, say), and on
    CPU a MatMul over another number of rows may differ in the last float bit (about 2e-7 measured), which can move
    a uint8 pixel by one grey level."""
    full = len(from_ckpt) // batch * batch
    assert from_graph.shape == from_ckpt.shape and from_graph.dtype == from_ckpt.dtype
    np.testing.assert_array_equal(from_graph[:full], from_ckpt[:full])
    assert np.abs(from_graph[full:].astype(np.int16) - from_ckpt[full:]).max(initial=0) <= 1


@pytest.fixture(scope="module")
def exported_run(tiny_run, tmp_path_factory):
    """A copy of the shared run (whose folder must keep exactly what train.py wrote), exported by export.py --batch 16:
    (the run, export.py's result)."""
    run = tmp_path_factory.mktemp("exported") / "run"
    shutil.copytree(tiny_run, run)
    return run, run_script("export.py", "--run", str(run), "--batch", "16")


def test_exported_run_draws_what_its_checkpoint_draws(exported_run):
    """export.py --run takes the run's latest generator: G's moving average, which the default recipe keeps."""
    run, result = exported_run
    assert result.returncode == 0, result.stderr
    path = run / "export" / "Generator2_ema-batch16.mindir"
    assert path.stat().st_mode & 0o200  # writable, as ms.export alone does not leave it
    assert f"exported to {path}, described in Generator2_ema-batch16.json" in result.stdout
    assert json.loads(path.with_suffix(".json").read_text()) == {
        "model": "mlp", "latent_dim": 100, "latent": "normal", "batch": 16, "conditional": False, "kind": "digits",
        "checkpoint": str(run / "checkpoints" / "Generator2_ema.ckpt"), "epoch": 2, "msgan_version": __version__,
        "shape": [1, 28, 28], "classes": [str(d) for d in range(10)]}
    graph = nn.GraphCell(ms.load(str(path)))
    cfg = resolve({"model": "mlp"})
    z = latents(16, cfg.latent_dim, seed=3)
    generator, _ = load_trained_generator(run / "checkpoints" / "Generator2_ema.ckpt", cfg)
    np.testing.assert_array_equal(graph(Tensor(z)).asnumpy(), generate(generator, z))


def test_the_zoo_infer_script_takes_a_graph(exported_run, tmp_path):
    run, _ = exported_run
    graph = run / "export" / "Generator2_ema-batch16.mindir"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the script runs `python`
    result = subprocess.run(["bash", str(REPO / "scripts" / "run_infer.sh"), str(graph), "--num", "4",
                             "--out", str(tmp_path / "s")], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO), "PATH": path})
    assert result.returncode == 0, result.stderr
    assert f"samples from {graph} ('mlp' graph of batch 16" in result.stdout
    assert np.load(tmp_path / "s" / "samples.npy").shape == (4, 28, 28)


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


def test_infer_mindir_writes_what_infer_ckpt_writes(exported_run, tmp_path, monkeypatch, capsys):
    """70 samples from a graph of batch 16: four full calls and one padded; no msgan model is built."""
    run, _ = exported_run
    graph = run / "export" / "Generator2_ema-batch16.mindir"
    monkeypatch.setattr("msgan.inference.build_generator", lambda *args: pytest.fail("--mindir built a model"))
    assert infer_main(["--mindir", str(graph), "--num", "70", "--seed", "5", "--device", "CPU"]) == 0
    monkeypatch.undo()
    samples = run / "samples" / "Generator2_ema-batch16-seed5-n70"  # inside the run, as for its checkpoints
    assert f"('mlp' graph of batch 16, epoch 2, seed 5) written to {samples}" in capsys.readouterr().out
    assert infer_main(["--ckpt", str(run / "checkpoints" / "Generator2_ema.ckpt"), "--num", "70", "--seed", "5",
                       "--batch-size", "16", "--out", str(tmp_path / "ckpt"), "--device", "CPU"]) == 0
    assert_same_samples(np.load(samples / "samples.npy"), np.load(tmp_path / "ckpt" / "samples.npy"), 16)
    assert (samples / "grid.png").is_file()


def test_infer_mindir_draws_the_digit_of_a_conditional_graph(tmp_path):
    cfg = resolve({"model": "cgan"})
    ms.set_seed(1)
    ckpt = save_fresh(cfg, tmp_path)
    graph = export_generator(ExportRequest(ckpt=str(ckpt), model="cgan", batch=4, device="CPU"))
    assert json.loads(graph.with_suffix(".json").read_text())["conditional"] is True
    common = ["--digit", "7", "--num", "10", "--png", "--device", "CPU"]
    assert infer_main(["--mindir", str(graph), "--out", str(tmp_path / "graph"), *common]) == 0
    assert infer_main(["--ckpt", str(ckpt), "--model", "cgan", "--batch-size", "4", "--out", str(tmp_path / "ckpt"),
                       *common]) == 0
    assert_same_samples(np.load(tmp_path / "graph" / "samples.npy"), np.load(tmp_path / "ckpt" / "samples.npy"), 4)
    assert sorted(p.name for p in (tmp_path / "graph").iterdir()) == sorted(p.name for p in (tmp_path / "ckpt").iterdir())


def write_graph_files(folder: Path, sidecar: str | None) -> Path:
    """A .mindir that is no graph, and beside it the given sidecar text (None: no sidecar)."""
    graph = folder / "g.mindir"
    graph.write_bytes(b"not a graph")
    if sidecar is not None:
        graph.with_suffix(".json").write_text(sidecar)
    return graph


VALID_SIDECAR = GraphInfo(model="mlp", latent_dim=100, latent="normal", batch=16, conditional=False, kind="digits",
                          checkpoint="Generator1.ckpt", epoch=1, msgan_version="0.1.0").to_json()
BAD_MINDIR_REQUESTS = {
    "missing graph": (None, ["--mindir", "{tmp}/none.mindir"], ["none.mindir does not exist"]),
    "missing sidecar": (None, ["--mindir", "{graph}"], ["g.json is missing", "export.py, which writes g.json"]),
    "sidecar not JSON": ("{", ["--mindir", "{graph}"], ["g.json is not readable JSON", "export the checkpoint again"]),
    "sidecar incomplete": ('{"model": "mlp"}', ["--mindir", "{graph}"], ["'latent_dim' is missing"]),
    "with --ckpt": (None, ["--mindir", "{graph}", "--ckpt", "G.ckpt"], ["not allowed with argument --mindir"]),
    "with --model": (VALID_SIDECAR, ["--mindir", "{graph}", "--model", "dcgan"], ["--model cannot be used with --mindir"]),
}


@pytest.mark.parametrize("case", list(BAD_MINDIR_REQUESTS))
def test_bad_mindir_requests_are_one_line(case, tmp_path, capsys):
    sidecar, args, phrases = BAD_MINDIR_REQUESTS[case]
    graph = write_graph_files(tmp_path, sidecar)
    try:
        code = infer_main([a.format(tmp=tmp_path, graph=graph) for a in args])
    except SystemExit as stop:  # argparse's usage errors
        code = stop.code
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    assert all(phrase in lines[0] for phrase in phrases), lines[0]
    assert not (tmp_path / "samples").exists()


def test_truncated_mindir_is_one_line(exported_run, tmp_path):
    """In a fresh process, so that MindSpore's own log lines would show on stderr too."""
    exported = exported_run[0] / "export" / "Generator2_ema-batch16.mindir"
    graph = tmp_path / "g.mindir"
    graph.write_bytes(exported.read_bytes()[:1_000_000])
    shutil.copy(exported.with_suffix(".json"), graph.with_suffix(".json"))
    result = run_script("infer.py", "--mindir", str(graph), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {graph} cannot be loaded as a MINDIR graph (damaged or "
                                                  "truncated): export the checkpoint again with export.py"]


@pytest.mark.parametrize("args, message", [
    (["--format", "ONNX"], "--format ONNX: msgan exports MINDIR"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--batch", "0"], "--batch-size must be at least 1"),  # the old spelling of the same flag
    (["--out", "graph.onnx"], "must end in .mindir"),
])
def test_bad_export_requests_are_one_line(tiny_run, args, message):
    result = run_script("export.py", "--run", str(tiny_run), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


@pytest.mark.parametrize("existing", ["g.mindir", "g.json"])
def test_export_never_overwrites(existing, tiny_run, tmp_path):
    """Neither the graph nor its sidecar."""
    (tmp_path / existing).write_bytes(b"mine")
    result = run_script("export.py", "--run", str(tiny_run), "--out", str(tmp_path / "g.mindir"))
    assert result.returncode == 2 and f"{tmp_path / existing} already exists" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == [existing] and (tmp_path / existing).read_bytes() == b"mine"


def test_export_takes_the_average_unless_raw_and_its_graph_draws_labels_as_infer_does(ema_cgan_run, tmp_path, capsys):
    """Random digits without --digit, and --digit all --num 25, from the graph as from its checkpoint."""
    checkpoints = ema_cgan_run / "checkpoints"
    for raw, name in ((False, "Generator2_ema.ckpt"), (True, "Generator2.ckpt")):
        graph = export_generator(ExportRequest(run=str(ema_cgan_run), raw=raw, batch=8, device="CPU",
                                               out=str(tmp_path / f"{name}.mindir")))
        weights = "trained weights" if raw else "moving-average weights (decay 0.999)"
        assert f"generator of {checkpoints / name} ('cgan', epoch 2, {weights}) exported" in capsys.readouterr().out
        assert json.loads(graph.with_suffix(".json").read_text())["checkpoint"] == str(checkpoints / name)
    for label, digit in (("random", []), ("all", ["--digit", "all"])):
        common = ["--num", "25", "--seed", "2", *digit, "--device", "CPU"]
        assert infer_main(["--mindir", str(graph), "--out", str(tmp_path / label / "graph"), *common]) == 0
        assert infer_main(["--run", str(ema_cgan_run), "--raw", "--batch-size", "8",
                           "--out", str(tmp_path / label / "ckpt"), *common]) == 0
        labels = [np.load(tmp_path / label / source / "labels.npy") for source in ("graph", "ckpt")]
        np.testing.assert_array_equal(*labels)
        assert_same_samples(*(np.load(tmp_path / label / source / "samples.npy") for source in ("graph", "ckpt")), 8)
    assert np.bincount(labels[0], minlength=10).tolist() == [3] * 5 + [2] * 5
