"""The quick-start notebook, executed headless from top to bottom on CPU with tiny settings: it trains, shows
its pictures, draws from the checkpoint and runs the exported graph, so it cannot go stale unnoticed."""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import REPO

NOTEBOOK = REPO / "notebooks" / "msgan_quickstart.ipynb"
LESSONS = REPO / "notebooks" / "lessons.ipynb"


def read_notebook(path: Path = NOTEBOOK) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = [cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(cells) == 1, "the notebook needs exactly one cell tagged 'parameters'"
    return cells[0]


def assigned_names(source: str) -> set[str]:
    return {target.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def cell_with(nb: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    """The one code cell whose source contains `text`."""
    cells = [cell for cell in nb.cells if cell.cell_type == "code" and text in cell.source]
    assert len(cells) == 1, f"{len(cells)} code cells contain {text!r}"
    return cells[0]


def image_types(cell: nbformat.NotebookNode) -> list[str]:
    """The image mime types the cell displayed, each with data behind it."""
    return [mime for output in cell.get("outputs", []) for mime, data in output.get("data", {}).items()
            if mime.startswith("image/") and data]


def text_of(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.output_type == "stream")


@pytest.mark.parametrize("path, parameters", [
    (NOTEBOOK, {"INSTALL", "EPOCHS", "LIMIT", "DEVICE", "RUN"}),
    (LESSONS, {"EPOCHS", "TOY_EPOCHS", "LIMIT", "DCGAN_LIMIT", "DEVICE", "RUNS"}),
], ids=["quickstart", "lessons"])
def test_committed_notebook_is_clean(path, parameters):
    """No outputs or execution counts in the repository, and plain assignments in the parameters cell."""
    nb = read_notebook(path)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    assert assigned_names(parameters_cell(nb).source) == parameters


def execute(nb: nbformat.NotebookNode, **parameters) -> None:
    """Run the notebook as Jupyter would, from notebooks/, with the parameters cell replaced by `parameters`."""
    parameters_cell(nb).source = "".join(f"{name} = {value!r}\n" for name, value in parameters.items())
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()


def test_lessons_notebook_runs_headless(tmp_path):
    """Every lesson trains (tiny settings) and shows its pictures; the numbers it prints come from the runs."""
    nb = read_notebook(LESSONS)
    runs = tmp_path / "lessons"
    execute(nb, EPOCHS=1, TOY_EPOCHS=2, LIMIT=640, DCGAN_LIMIT=128, DEVICE="CPU", RUNS=str(runs))
    assert sorted(p.name for p in runs.iterdir()) == [
        "keras-dcgan", "keras-mlp", "pytorch-mlp", "theory-bce", "theory-saturating", "toy-d-alone", "toy-gan",
        "tutorial"]
    assert image_types(cell_with(nb, '"real.png"')) == ["image/png"] * 2
    assert image_types(cell_with(nb, 'TUTORIAL / "loss.png"')) == ["image/png"] * 2
    for text in ('"mlp-small"', '"dcgan"', 'configs/toy1010-d-alone.yaml'):
        assert image_types(cell_with(nb, text)) == ["image/png"], text
    assert image_types(cell_with(nb, '"mlp-keras"')) == ["image/png"]
    assert "last epoch: D accuracy" in text_of(cell_with(nb, '"mlp-keras"'))
    assert "D scores real patterns" in text_of(cell_with(nb, 'configs/toy1010-d-alone.yaml'))
    assert image_types(cell_with(nb, '"toy1010", "--epochs"')) == ["image/png"] * 2
    assert "mean output" in text_of(cell_with(nb, '"toy1010", "--epochs"'))
    theory = text_of(cell_with(nb, "first epoch's mean D(G(z))"))
    assert theory.count("first epoch's mean D(G(z))") == 2
    scores = [json.loads(line) for line in text_of(cell_with(nb, '"eval.py"')).splitlines() if line.startswith("{")]
    assert [Path(score["source"]).parts[-3] for score in scores] == ["theory-saturating", "theory-bce"]
    assert all(score["num"] == 2000 and 0 <= score["modes"] <= 10 for score in scores)


def test_notebook_runs_headless(tmp_path):
    nb = read_notebook()
    base = tmp_path / "nb-run"
    (base / "checkpoints").mkdir(parents=True)
    (base / "checkpoints" / "mine.txt").write_text("not the notebook's")  # a folder already there: kept as it is
    execute(nb, INSTALL=False, EPOCHS=2, LIMIT=640, DEVICE="CPU", RUN=str(base))

    assert f"Python: {sys.executable}\n" in text_of(cell_with(nb, "from msgan.notebook import")), "the kernel is not this Python"
    assert "msgan will run on CPU" in text_of(cell_with(nb, "select_device(DEVICE)"))
    assert [p.name for p in (base / "checkpoints").iterdir()] == ["mine.txt"]
    run = tmp_path / "nb-run-2"
    for epoch in (1, 2):
        for network in ("Generator", "Discriminator"):
            assert (run / "checkpoints" / f"{network}{epoch}.ckpt").stat().st_size > 0
    assert (run / "samples" / "Generator2_ema-seed1-n64" / "grid.png").is_file()  # G's moving average
    assert (run / "export" / "Generator2_ema-batch64.mindir").stat().st_size > 0

    assert image_types(cell_with(nb, 'glob("epoch*.png")')) == ["image/png"]
    assert image_types(cell_with(nb, "progress.gif")) == ["image/gif"]
    assert image_types(cell_with(nb, "loss.png")) == ["image/png"]
    assert image_types(cell_with(nb, '"infer.py"')) == ["image/png"]
    graph = cell_with(nb, "GraphCell")
    assert image_types(graph) == ["image/png"]
    printed = text_of(graph)
    assert "graph output: (64, 1, 28, 28) float32" in printed, printed
    assert "largest difference from infer.py's samples: 0 of 255" in printed, printed


def test_a_failing_command_stops_the_notebook(tmp_path):
    """train.py's error line shows in the cell, the cell raises, and nothing after it runs."""
    nb = read_notebook()
    with pytest.raises(CellExecutionError, match="CalledProcessError"):
        execute(nb, INSTALL=False, EPOCHS=0, LIMIT=640, DEVICE="CPU", RUN=str(tmp_path / "bad"))
    assert "error: --epochs must be at least 1" in text_of(cell_with(nb, 'run(sys.executable, "train.py"'))
    assert cell_with(nb, "progress.gif").outputs == []
    assert not (tmp_path / "bad").exists()


def test_interrupting_the_kernel_stops_training_as_ctrl_c_does(tmp_path):
    """The kernel's interrupt reaches train.py once, as a Ctrl-C: it saves the run, then the cell stops."""
    nb = read_notebook()
    run = tmp_path / "stopped"
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(NOTEBOOK.parent))
    printed: list[str] = []

    def interrupt_after_first_epoch(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
            if "epoch 1/500 done" in printed[-1]:
                km.interrupt_kernel()

    try:
        for source in (f"INSTALL = False\nEPOCHS = 500\nLIMIT = 640\nDEVICE = 'CPU'\nRUN = {str(run)!r}\n",
                       cell_with(nb, "from msgan.notebook import").source, cell_with(nb, "select_device(DEVICE)").source):
            assert kc.execute_interactive(source, timeout=120, output_hook=lambda msg: None)["content"]["status"] == "ok"
        reply = kc.execute_interactive(cell_with(nb, 'run(sys.executable, "train.py"').source, timeout=120,
                                       output_hook=interrupt_after_first_epoch)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    text = "".join(printed)
    assert text.count("msgan: stop requested") == 1, text
    assert f"the run is saved. Resume it with: python train.py --resume {run}" in text, text
    assert (run / "checkpoints" / "resume.ckpt").is_file()
