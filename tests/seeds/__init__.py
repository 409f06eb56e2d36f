"""The five seed notebooks' code cells, transcribed with only their imports changed, and a runner.

Each ``seedNNN`` module lists its notebook's code cells as :class:`Cell` objects, in order:
the cell's text as the notebook has it, with ``import numpy as np`` become ``from xpnet import
np``, ``from common.X import ...`` become ``from xpnet.X import ...`` and the MNIST loader
become Fashion-MNIST's. Anything else a test changes is declared in ``edits`` (smaller sizes
to fit the test budget, or a fix of the notebook's own bug, with the reason), never typed into
the text. Cells marked ``test_only`` are checks the tests add between the notebook's cells.

:func:`run` executes the cells in order in one namespace, as a Jupyter kernel does, and
compares what each cell printed (and the value of its last expression, as ``Out[n]``) with
what the notebook shows, numbers to 1e-6.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy

import xpnet


@dataclass(frozen=True)
class Cell:
    label: str
    source: str
    #: what the notebook printed, then its ``Out[n]``; ``None`` where it drew unseeded random numbers
    out: str | None = None
    #: why the Array API standard namespace does not suffice ("" when it does: the cell also runs
    #: on torch and array_api_strict)
    beyond_standard: str = ""
    #: why PyTorch's tensors cannot run it although the standard would ("" when they can): torch's
    #: ``x.size`` is a method, not the standard's attribute
    not_torch: str = ""
    #: why only NumPy runs it ("" when CuPy can too): np.nditer, or matplotlib reading the arrays
    host_only: str = ""
    #: ``(the notebook's text, the test's text, why)`` replacements applied before running
    edits: tuple[tuple[str, str, str], ...] = ()
    #: the notebook's own bug: the cell raises this exception type
    raises: type[BaseException] | None = None
    #: the data set it loads ("fashion-mnist" in place of the notebooks' MNIST, or "cifar10"); the
    #: cell and those after it that use its results are skipped where it is not installed
    data: str = ""
    #: a check added by the test, not a cell of the notebook
    test_only: bool = False


NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def same_output(got: str, expected: str, rtol: float = 1e-6) -> bool:
    """The same text, numbers equal to ``rtol`` (the notebook's figures are rounded for printing)."""
    g, e = got.split(), expected.split()  # the text exports lose trailing blanks
    if len(g) != len(e):
        return False
    for a, b in zip(g, e):
        if a == b:
            continue
        na, nb = NUMBER.findall(a), NUMBER.findall(b)
        if NUMBER.sub("#", a) != NUMBER.sub("#", b) or len(na) != len(nb):
            return False
        for x, y in zip(na, nb):
            x, y = float(x), float(y)
            if abs(x - y) > rtol * max(abs(x), abs(y)) + 1e-12:
                return False
    return True


def execute(source: str, namespace: dict, label: str) -> str:
    """Run one cell; returns what it printed plus the repr of its last expression (as ``Out[n]``)."""
    tree = ast.parse(source, filename=label)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(tree, f"<{label}>", "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), f"<{label}>", "eval"), namespace)
            if value is not None:
                print(repr(value))
    return buf.getvalue()


@functools.lru_cache(maxsize=4)
def _cached_fashion(backend: str, device: str, normalize: bool, flatten: bool, one_hot_label: bool) -> Any:
    # float64 data: NumPy's dot of the loader's float32 images with the notebooks' float64 weights
    # (np.random.randn) takes a path without BLAS, ten times slower than float64 with float64
    dtype = xpnet.get_default_dtype()
    xpnet.set_default_dtype("float64")
    try:
        return _LOAD_FASHION(normalize=normalize, flatten=flatten, one_hot_label=one_hot_label)
    finally:
        xpnet.set_default_dtype(dtype)


_LOAD_FASHION = xpnet.datasets.load_fashion_mnist


def cached_fashion(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False) -> Any:
    """xpnet.datasets.load_fashion_mnist, loaded once per backend and arguments (the cells only read it), in float64."""
    return _cached_fashion(xpnet.get_backend(), str(xpnet.active_device()), normalize, flatten, one_hot_label)


def run(cells: list[Cell], *, standard_only: bool = False, compare: bool = True) -> dict:
    """Execute ``cells`` in order in one namespace; returns the namespace.

    ``standard_only`` leaves out the cells that need NumPy beyond the standard (and those that
    load data); ``compare`` checks each cell's output against the notebook's.
    """
    import matplotlib

    matplotlib.use("Agg")  # figures render off screen; `plt.show()` is then a no-op
    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": "__main__"}
    original = xpnet.datasets.load_fashion_mnist
    xpnet.datasets.load_fashion_mnist = cached_fashion
    try:
        for cell in cells:
            if standard_only and (cell.beyond_standard or cell.data):
                continue
            if cell.not_torch and xpnet.get_backend() == "torch":
                continue
            if cell.host_only and xpnet.get_backend() != "numpy":
                continue
            source = cell.source
            for old, new, _why in cell.edits:
                assert old in source, f"{cell.label}: edit target {old!r} not in the cell"
                source = source.replace(old, new)
            # the notebooks ran on NumPy 1.x, which prints scalars as 1.5 rather than np.float64(1.5)
            with numpy.printoptions(legacy="1.25"), warnings.catch_warnings():
                warnings.filterwarnings("ignore", "FigureCanvasAgg is non-interactive", UserWarning)
                if cell.raises is not None:
                    try:
                        execute(source, namespace, cell.label)
                    except cell.raises:
                        continue
                    raise AssertionError(f"{cell.label}: expected the notebook's {cell.raises.__name__}")
                got = execute(source, namespace, cell.label)
            if compare and cell.out is not None:
                assert same_output(got, cell.out), f"{cell.label} printed:\n{got}\nthe notebook:\n{cell.out}"
    finally:
        xpnet.datasets.load_fashion_mnist = original
        plt.close("all")
    return namespace
