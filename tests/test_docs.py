"""What the site and the release are made from: checked without Sphinx (``nox -s docs`` builds the site itself).

The generators in ``docs/_ext`` read the package, the notebooks and ``benchmarks/results``; these tests hold them to
what the site promises (every public name documented once, the notebooks at their quick size, one plot per case),
and hold README, .ci/run, pyproject and CHANGELOG to one test command and one version.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import pytest

import xpnet

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

xpnet_api = importlib.import_module("xpnet_api")
xpnet_site = importlib.import_module("xpnet_site")


@pytest.fixture(scope="module")
def api():
    return xpnet_api.collect()


def test_every_public_name_of_xpnet_and_book2_has_one_documented_home(api):
    modules, by_home, alias, _ = api
    assert modules[0] == "xpnet" and "xpnet.book2" in modules
    homes = {e.fullname for entries in by_home.values() for e in entries}
    for modname in ("xpnet", "xpnet.book2", *modules):
        module = importlib.import_module(modname)
        for name in xpnet_api.exports(module):
            obj = getattr(module, name)
            if isinstance(obj, type(xpnet)):  # a module, maybe under a book path: its page is under its own name
                assert obj.__name__ in modules, f"{modname}.{name}: a module without its page"
                continue
            assert alias[f"{modname}.{name}"] in homes, f"{modname}.{name} has no page"


def test_an_object_is_documented_once_at_the_module_its_code_lives_in(api):
    _, by_home, alias, _ = api
    pages = [e.fullname for entries in by_home.values() for e in entries]
    assert len(pages) == len(set(pages))
    home = alias["xpnet.TwoLayerNet"]
    assert home != "xpnet.TwoLayerNet" and home.endswith(".TwoLayerNet")
    assert alias["xpnet.book2.Trainer"] != alias["xpnet.Trainer"]  # book 2's trainer is another class
    assert not any(part.startswith("_") for page in pages for part in page.split("."))


def test_notebooks_are_copied_at_their_quick_size(tmp_path):
    stems = xpnet_site.notebooks(ROOT, tmp_path)
    assert stems == sorted(p.stem for p in (ROOT / "examples").glob("*.ipynb"))
    for stem in stems:
        nb = json.loads((tmp_path / f"{stem}.ipynb").read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert "".join(code[1]["source"]).startswith("QUICK = True")
        original = json.loads((ROOT / "examples" / f"{stem}.ipynb").read_text(encoding="utf-8"))
        assert len(nb["cells"]) == len(original["cells"])


def test_a_notebook_without_its_quick_cell_is_refused(tmp_path):
    examples = tmp_path / "examples"
    examples.mkdir()
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
    nb = {"cells": [dict(cell, source=["import xpnet"]), dict(cell, source=["N = 3"])], "metadata": {}}
    (examples / "x.ipynb").write_text(json.dumps(nb))
    with pytest.raises(RuntimeError, match="x.ipynb: the second code cell should start with 'QUICK = False'"):
        xpnet_site.notebooks(tmp_path, tmp_path / "out")


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks" / "results").glob("*.json")), ids=lambda p: p.stem)
def test_every_benchmark_file_gives_cases_of_positive_times(path):
    cases = xpnet_site.cases(json.loads(path.read_text(encoding="utf-8")))
    assert cases, f"{path.name}: no case found"
    for keys, times in cases:
        assert len(times) >= 2, f"{path.name} {keys}: a case compares at least two contenders"
        assert all(v > 0 for v in times.values()), (keys, times)


def test_cases_plot_contenders_not_ratios_or_breakdowns():
    data = {"meta": {}, "cases": {"net": {"params": 10, "step": 1e-3, "allreduce": 2e-4, "dp_step": 1.3e-3}}}
    assert xpnet_site.cases(data) == [(("cases", "net"), {"step": 1e-3, "allreduce": 2e-4, "dp_step": 1.3e-3})]
    counts = {"kernels": {"mlp": {"label": "a net", "xpnet": 38, "torch": 15, "ratio": 2.5, "xpnet_ops": {"mm": 5}}}}
    assert xpnet_site.cases(counts) == [(("kernels", "mlp"), {"xpnet": 38.0, "torch": 15.0})]
    assert xpnet_site.unit("kernels-cpu", ["xpnet", "torch"])[0].startswith("kernels launched")


def test_one_test_command_in_readme_and_ci():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"pip install nox && (nox -s [a-z ]+?)\s+#", readme).group(1)
    assert command in ci.splitlines(), f".ci/run does not run README's {command!r}"
    assert {"docs", "build"} <= set(command.split()[2:])


def test_the_version_is_written_once_and_released():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "xpnet.__version__"}
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {re.escape(xpnet.__version__)} \(\d{{4}}-\d\d-\d\d\)$", changelog, re.M)


def test_any_public_path_reaches_the_documented_page(api):
    _, by_home, alias, by_id = api
    pages = {e.fullname for entries in by_home.values() for e in entries}
    for path in ("xpnet.TwoLayerNet", "xpnet.functions.sigmoid", "xpnet.layers.sigmoid", "xpnet.book2.Trainer"):
        assert xpnet_api.documented(path, alias, by_id) in pages, path
    net = alias["xpnet.TwoLayerNet"]
    assert xpnet_api.documented("xpnet.TwoLayerNet.gradient", alias, by_id) == f"{net}.gradient"
    assert xpnet_api.documented("xpnet.no_such_name", alias, by_id) not in pages


def test_every_documented_class_and_function_has_a_docstring(api):
    _, by_home, _, _ = api
    bare = [
        e.fullname
        for entries in by_home.values()
        for e in entries
        if (isinstance(e.obj, type) or callable(e.obj)) and not (e.obj.__doc__ or "").strip()
    ]
    assert not bare, f"API pages without a word: {bare}"
