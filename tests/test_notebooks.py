"""The example notebooks (examples/*.ipynb) run in a real Jupyter kernel at their QUICK size.

`nox -s notebooks` installs nbclient, ipykernel, nbformat and ipywidgets; elsewhere the kernel tests skip.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import xpnet

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
NEEDS_DATA = {"loss_curves", "learning_with_numerical_gradients", "backprop_experiments"}
# notebooks light enough to run on a second backend too: only their first cell changes
OTHER_BACKEND = {"layers_and_spiral": 'xpnet.set_backend("array_api_strict", "device1")'}
BACKEND_LINE = 'xpnet.set_backend("numpy")'


def test_notebooks_match_their_generator():
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "_make_notebooks.py"), "--check"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert {p.stem for p in NOTEBOOKS} >= NEEDS_DATA | set(OTHER_BACKEND)


def run_notebook(path: Path, monkeypatch: pytest.MonkeyPatch, backend_line: str = BACKEND_LINE):
    nbclient = pytest.importorskip("nbclient", reason="nbclient not installed (nox -s notebooks installs it)")
    nbformat = pytest.importorskip("nbformat", reason="nbformat not installed (nox -s notebooks installs it)")
    pytest.importorskip("ipykernel", reason="ipykernel not installed (nox -s notebooks installs it)")
    if path.stem in NEEDS_DATA and xpnet.datasets.find_dataset("fashion-mnist") is None:
        pytest.skip("needs Fashion-MNIST: apt-get install dataset-fashion-mnist")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "outputs are stripped"
    assert BACKEND_LINE in code[0].source  # the one line to change between backends
    assert code[1].source.startswith("QUICK = False")
    code[0].source = code[0].source.replace(BACKEND_LINE, backend_line)
    code[1].source = "QUICK = True"
    # the kernel imports this checkout's xpnet; figures go to the notebook (inline), not to a file backend
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    client.execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def has_progress_bar(outputs) -> bool:
    widget = any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    text = any(o.get("name") == "stderr" and "it/s]" in o.get("text", "") for o in outputs)
    return widget or text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_a_kernel(path, monkeypatch):
    outputs = run_notebook(path, monkeypatch)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "figures show inline"
    if "trange" in path.read_text(encoding="utf-8"):
        assert has_progress_bar(outputs)
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            return
        # with ipywidgets installed, tqdm.auto picks its notebook front end (a widget), not a text bar
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


@pytest.mark.parametrize("name", sorted(OTHER_BACKEND))
def test_notebook_on_another_backend_changes_only_the_first_cell(name, monkeypatch):
    outputs = run_notebook(EXAMPLES / f"{name}.ipynb", monkeypatch, OTHER_BACKEND[name])
    assert any("image/png" in o.get("data", {}) for o in outputs)
