"""The pages made from the repository's own files when the site is built (under ``docs/generated/``):

* ``notebooks/``: examples/*.ipynb with their second cell, ``QUICK = False``, set to ``QUICK = True`` (what
  ``tests/test_notebooks.py`` does); myst-nb executes them, so their outputs and figures are this build's;
* ``examples/``: the example gallery, one page per ``examples/*.py`` (its docstring and its code);
* ``benchmarks/``: one bar chart per benchmark case, bars per contender, from ``benchmarks/results/*.json``, and
  ``plots.md`` that shows them;
* ``kernels.md``: which backend overrides which kernel of ``xpnet.backend.Kernels`` (the design page shows it);
* ``_static/mathjax/tex-svg.js``: MathJax served from the site itself (from the ``mathjax`` package of the
  ``django-static-mathjax`` wheel).
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

QUICK_CELL = "QUICK = False"
QUICK_SITE = "QUICK = True  # the site runs the notebook at its quick size; False for the full run"


def notebooks(root: Path, out: Path) -> list[str]:
    """Copy examples/*.ipynb into ``out`` at their quick size; return their stems."""
    out.mkdir(parents=True, exist_ok=True)
    stems = []
    for path in sorted((root / "examples").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        source = "".join(code[1]["source"])
        if not source.startswith(QUICK_CELL):
            raise RuntimeError(f"{path}: the second code cell should start with {QUICK_CELL!r}, not {source!r}")
        code[1]["source"] = [QUICK_SITE]
        (out / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        stems.append(path.stem)
    return stems


def gallery(root: Path, out: Path) -> None:
    """One page per example script (its docstring, how to run it, its code) and an index page."""
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for path in sorted((root / "examples").glob("*.py")):
        if path.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first, _, rest = doc.partition("\n")
        if not first:
            raise RuntimeError(f"{path}: an example needs a docstring (its first line is the gallery's caption)")
        rel = path.relative_to(root).as_posix()
        title = path.name
        page = [
            title,
            "=" * len(title),
            "",
            f"``{rel}``: {first}",
            "",
            rest.strip(),
            "",
            ".. code-block:: bash",
            "",
            f"   python {rel} --quick      # a short run; --backend torch (or cupy, array_api_strict) switches",
            "",
            f".. literalinclude:: ../../../{rel}",
            "   :language: python",
            "   :linenos:",
            "",
        ]
        (out / f"{path.stem}.rst").write_text("\n".join(page), encoding="utf-8")
        entries.append((path.stem, rel, first))
    index = [
        "Example scripts",
        "===============",
        "",
        "One script per experiment of the seed notebooks and per chapter of book 2. Each takes ``--backend`` "
        "(``numpy``, ``torch``, ``cupy``, ``array_api_strict``) and ``--quick`` for a short run; they are run by the "
        "test suite (``tests/test_examples.py``) at that size.",
        "",
    ]
    index += [f"* :doc:`{stem}`: {first}" for stem, _, first in entries]
    index += ["", ".. toctree::", "   :hidden:", ""] + [f"   {stem}" for stem, _, _ in entries] + [""]
    (out / "index.rst").write_text("\n".join(index), encoding="utf-8")


# -- benchmark plots -------------------------------------------------------------------------------------------

# keys of a result file that are about the run, not a case
META = {"machine", "meta", "backend", "device", "rounds", "quick"}
# numbers in a case that are not a contender's figure (ratios, sizes, targets, breakdowns)
NOT_CONTENDERS = {
    "ratio",
    "meets",
    "params",
    "comm_share",
    "samples_per_s",
    "weak_scaling_efficiency",
    "numpy_step_bytes",
    "xpnet_fused",
}


def cases(data: dict, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, float]]]:
    """Every case of a result file, by its path: a dict with two or more contenders' numbers (contender -> figure).

    A case's other entries (ratios, labels, per-op breakdowns) are left out; a dict with fewer than two
    contenders is searched for cases inside it.
    """
    found = []
    for key, value in data.items():
        if key in META or not isinstance(value, dict):
            continue
        figures = {
            k: float(v)
            for k, v in value.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in NOT_CONTENDERS
        }
        if len(figures) >= 2:
            found.append(((*prefix, key), figures))
        else:
            found.extend(cases(value, (*prefix, key)))
    return found


def unit(stem: str, names: list[str]) -> tuple[str, float, str]:
    """(axis label, scale, suffix) of a case's figures: kernel counts, microseconds or seconds (shown in ms)."""
    if all(n.endswith("_us") for n in names):
        return "host time per step (µs, lower is better)", 1.0, " µs"
    if stem.startswith("kernels"):
        return "kernels launched per step (lower is better)", 1.0, ""
    return "median time per step (ms, lower is better)", 1e3, " ms"


def plot_case(title: str, times: dict[str, float], path: Path, stem: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(times)
    label, scale, suffix = unit(stem, names)
    values = [times[n] * scale for n in names]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(names) + 1.0), dpi=100)
    bars = ax.barh(names, values, color=["C0" if n.startswith("xpnet") else "C7" for n in names])
    ax.invert_yaxis()
    if max(values) / min(values) > 30:
        ax.set_xscale("log")
    ax.bar_label(bars, labels=[f"{v:.3g}{suffix}" for v in values], padding=3, fontsize=8)
    ax.set_xlabel(label)
    ax.set_title(title, fontsize=10)
    ax.margins(x=0.25)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def benchmark_plots(root: Path, out: Path) -> None:
    """One PNG per case of every benchmarks/results/*.json and ``plots.md`` that shows them, file by file."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    lines = []
    for path in sorted((root / "benchmarks" / "results").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        machine = data.get("machine") or data.get("meta") or {}
        about = ", ".join(f"{k} {machine[k]}" for k in ("date", "cpus", "numpy", "torch") if k in machine)
        lines += [f"### `{path.relative_to(root).as_posix()}`", "", f"{about}." if about else "", ""]
        for keys, times in cases(data):
            name = f"{path.stem}--{'--'.join(keys)}".replace("=", "-").replace(",", "-")
            title = f"{path.stem}: {' / '.join(keys)}"
            plot_case(title, times, out / f"{name}.png", path.stem)
            lines += [f"```{{image}} /generated/benchmarks/{name}.png", f":alt: {title}", "```", ""]
    (out / "plots.md").write_text("\n".join(lines), encoding="utf-8")


def kernels_table(out: Path) -> None:
    """``kernels.md``: one row per kernel of ``xpnet.backend.Kernels``, one column per backend, read from the package.

    A backend's file ``xpnet/backend/<name>.py`` holds ``LIBRARY``, whose ``kernels`` is the reference
    (``Kernels`` itself) or the library's subclass; a method the subclass defines is an override.
    """
    import importlib

    from xpnet_api import plain_roles

    import xpnet.backend as backend

    reference = backend.Kernels
    kernels = [n for n, v in vars(reference).items() if callable(v) and not n.startswith("_")]
    columns = []
    for name in backend.BACKENDS:
        library = importlib.import_module(f"{backend.__name__}.{name}").LIBRARY
        columns.append((name, type(library.kernels) if library.kernels is not None else reference))
    rows = ["| kernel | what it does | " + " | ".join(f"`{n}`" for n, _ in columns) + " |"]
    rows.append("|---|---|" + "---|" * len(columns))
    for kernel in kernels:
        doc = " ".join((getattr(backend, kernel).__doc__ or "").strip().split("\n\n")[0].split())
        doc = plain_roles(doc)  # a Markdown table: reST roles would show as written
        cells = ["own" if kernel in vars(cls) and cls is not reference else "reference" for _, cls in columns]
        rows.append(f"| `{kernel}` | {doc} | " + " | ".join(cells) + " |")
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")


def mathjax(out: Path) -> None:
    import mathjax as package  # the django-static-mathjax wheel: MathJax 3 as package data

    source = Path(package.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg.js"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out / "tex-svg.js")


def _generate(app, config) -> None:
    src = Path(app.srcdir)
    root = src.parent
    gen = src / "generated"
    notebooks(root, gen / "notebooks")
    gallery(root, gen / "examples")
    benchmark_plots(root, gen / "benchmarks")
    kernels_table(gen / "kernels.md")
    mathjax(gen / "_static" / "mathjax")


def setup(app):
    app.connect("config-inited", _generate)  # before html_static_path is checked
    return {"parallel_read_safe": True, "parallel_write_safe": True}
