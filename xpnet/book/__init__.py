"""Run a script of either book's repository unchanged, on xpnet: ``xpnet book ch05/train_neuralnet.py``.

The script runs as ``__main__`` from its own folder (its ``sys.path.append(os.pardir)`` and its relative file
names work as in the book), with its folder first on ``sys.path``. Its ``common.*`` and ``dataset.*`` imports
resolve to xpnet's modules (:mod:`xpnet.book.modules`; a repository's own ``common/`` is shadowed): book 1's
names or book 2's, told from the repository (book 2's ``common/`` has ``time_layers.py``). Which data set stands
in for MNIST is the caller's choice (``mnist="fashion-mnist"``).

On the GPU (``backend="cupy"``, or book 2's own ``config.GPU = True``) xpnet's layers run on CuPy and the book's
files -- only they -- get CuPy for ``import numpy as np``; what they plot or pickle is brought to the host
first. Other backends are refused: the scripts use NumPy idioms (``x.astype('f')``, ``x.copy()``, ``len(x)``,
list indices, ``np.c_``) that torch tensors and the standard's arrays lack; CuPy has every one of them.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import runpy
import sys
import types
from pathlib import Path
from typing import Any

from .. import backend as backends
from ..data.datasets import DatasetError
from .hooks import BookFinder, ImportHook, in_repository
from .modules import BOOK1, BOOK2, PACKAGES, chapter_of, which_book

__all__ = ["BACKENDS", "BookError", "Run", "run"]

BACKENDS = ("numpy", "cupy")
#: NumPy's names that the book's files use on the GPU too: settings of the host's printing, not array functions.
HOST_ONLY = frozenset({"set_printoptions", "get_printoptions", "printoptions"})


class BookError(Exception):
    """Why a script could not run, in one line: its file, the backend, its data, or its own import."""


class Run:
    """One run of ``script``: where its repository is, which book, and whether it is on the GPU yet.

    ``gpu`` names what the GPU is (``("cupy", None)``; the tests give ``("array_api_strict", "device1")``).
    """

    def __init__(self, script: Path, *, on_gpu: bool, book: int | None, mnist: str, gpu: tuple) -> None:
        self.script = script
        self.folder = script.parent
        self.root = self.folder.parent
        self.root_real = os.path.realpath(self.root)
        self.book = book if book is not None else which_book(self.root, self.folder)
        self.table = BOOK1 if self.book == 1 else BOOK2
        self.packages = PACKAGES
        self.mnist, self.target = mnist, gpu
        self.gpu, self._np = False, None
        self.stack = contextlib.ExitStack()
        if on_gpu:
            self.go_to_gpu()
        else:  # NumPy's default float64, as the book's own np.random.randn gives
            self.stack.enter_context(backends.use_backend("numpy", dtype="float64"))

    def go_to_gpu(self) -> None:
        """From here on new arrays are born on the GPU and the book's files import its ``numpy``."""
        name, device = self.target
        try:
            self.stack.enter_context(backends.use_backend(name, device, dtype="float64"))
        except backends.BackendUnavailableError as e:
            raise BookError(f"{self.script.name} asks for the GPU, but {e}") from None
        self.gpu = True

    def numpy(self) -> Any:
        """What the book's files get for ``numpy``: NumPy itself, or on the GPU :mod:`xpnet.np` (CuPy there) with
        NumPy's print settings, which CuPy lacks (``np.set_printoptions`` in book 2's ch02)."""
        import numpy

        if not self.gpu:
            return numpy
        from .. import np

        if self._np is None:
            self._np = types.ModuleType("numpy", "xpnet.np for the book's files, with NumPy's print settings")
            self._np.__getattr__ = lambda name: getattr(numpy if name in HOST_ONLY else np, name)
        return self._np

    def import_module(self, name: str) -> Any:
        return importlib.import_module(name)

    def like_model(self, model: Any, *arrays: Any) -> list[Any]:
        """``arrays`` where ``model``'s weights are: the book's scripts hand host data to a model on the GPU."""
        W = model.params[0] if isinstance(model.params, list) else next(iter(model.params.values()))
        name, device = backends.backend_name(W), backends.array_device(W)
        out = []
        for a in arrays:
            same = backends.is_array(a) and backends.backend_name(a) == name and backends.array_device(a) == device
            out.append(a if same else backends.to_backend(a, name, device))
        return out


def run(
    script: str | os.PathLike,
    args: list[str] | tuple[str, ...] = (),
    *,
    backend: str = "numpy",
    book: int | None = None,
    mnist: str = "mnist",
    gpu: tuple = ("cupy", None),
) -> None:
    """Run ``script`` (a ``.py`` file of a chapter folder of either book's repository) with ``args`` as its
    ``sys.argv[1:]``, as described in this module's docstring.

    Raises :class:`BookError` (one line) for a missing script, a backend other than ``numpy``/``cupy``, missing
    data, or the script's import of a module that lives in another chapter's folder. Anything else the script
    raises propagates; :func:`script_frames` trims the runner's frames from its traceback.
    """
    if backend not in BACKENDS:
        raise BookError(
            f"xpnet book runs the books' scripts on numpy or cupy, not {backend!r}: the scripts use NumPy idioms "
            "(x.astype('f'), x.copy(), len(x), list indices, np.c_) that torch tensors and array_api_strict arrays "
            "lack, and CuPy has"
        )
    path = Path(script).resolve()
    if not path.is_file() or path.suffix != ".py":
        raise BookError(f"no Python script {script} (give the path of a chapter's .py file, e.g. ch05/train.py)")
    with _isolated(path, [str(path), *args]):
        r = Run(path, on_gpu=backend == "cupy", book=book, mnist=mnist, gpu=gpu)
        with r.stack, ImportHook(r):
            finder = BookFinder(r)
            sys.meta_path.insert(0, finder)
            try:
                runpy.run_path(str(path), run_name="__main__")
            except ModuleNotFoundError as e:
                hint = _import_hint(r, e)
                if hint is None:
                    raise
                raise BookError(hint) from None
            except DatasetError as e:
                raise BookError(_data_hint(r, e)) from None
            finally:
                sys.meta_path.remove(finder)


@contextlib.contextmanager
def _isolated(path: Path, argv: list[str]) -> Any:
    """The script's folder as cwd and first on ``sys.path``, ``argv`` as ``sys.argv``; afterwards everything back
    (NumPy's print options and global random state too), and the modules the run imported from the repository (and
    the book's ``common``/``dataset``) forgotten."""
    import numpy

    saved = sys.argv, list(sys.path), os.getcwd(), set(sys.modules), set(sys.path_importer_cache)
    numpy_state = numpy.get_printoptions(), numpy.random.get_state()  # scripts seed and set print precision
    root = os.path.realpath(path.parent.parent)
    sys.argv = argv
    sys.path.insert(0, str(path.parent))
    os.chdir(path.parent)
    try:
        yield
    finally:
        sys.argv, sys.path[:] = saved[0], saved[1]
        os.chdir(saved[2])
        numpy.set_printoptions(**numpy_state[0])
        numpy.random.set_state(numpy_state[1])
        for entry in set(sys.path_importer_cache) - saved[4]:  # '..' was resolved against this run's folder
            del sys.path_importer_cache[entry]
        for name in set(sys.modules) - saved[3]:
            module = sys.modules[name]
            places = [getattr(module, "__file__", None) or "", *(getattr(module, "__path__", None) or [])]
            inside = any(in_repository(p, root) for p in places if p and p[0] != "<")
            if inside or name.split(".")[0] in PACKAGES:  # a chapter's namespace package (ch07) has a __path__ only
                del sys.modules[name]


def script_frames(tb: Any, script: Path) -> Any:
    """``tb`` from the script's own first frame on (the runner's frames dropped); ``tb`` when none is found."""
    t = tb
    while t is not None:
        if os.path.realpath(t.tb_frame.f_code.co_filename) == os.path.realpath(script):
            return t
        t = t.tb_next
    return tb


def _where(r: Run, tb: Any) -> str:
    """``ch07/peeky_seq2seq.py:4``: the innermost frame in the book's repository."""
    found = None
    while tb is not None:
        file = tb.tb_frame.f_code.co_filename
        if in_repository(file, r.root_real):
            found = f"{os.path.relpath(os.path.realpath(file), r.root_real)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found or r.script.name


def _import_hint(r: Run, e: ModuleNotFoundError) -> str | None:
    chapter = chapter_of(r.root, e.name or "")
    if chapter is None or chapter == os.path.relpath(r.folder, r.root):
        return None
    return (
        f"{_where(r, e.__traceback__)} imports {e.name!r}, which is {chapter}/{e.name}.py: Python finds it only "
        f"with {chapter}/ on the path, and running from {r.folder.name}/ it is not (the book's own import); "
        f"run it as: PYTHONPATH={Path(r.root, chapter)} xpnet book {r.script}"
    )


def _data_hint(r: Run, e: DatasetError) -> str:
    """xpnet's multi-line account (what, where it looked, what it tried, where to put the files) as one line."""
    lines = str(e).splitlines()
    text = lines[0]
    places = [line.strip() for line in lines if line.startswith("    ")]
    if len(lines) > 1 and lines[-1].strip().startswith("put its"):
        where = f"in {places[0]}" if places else "in the cache"
        text += "; " + lines[-1].strip().replace("in one of those directories, pass data_home=,", where + ",")
    if r.book == 1 and r.mnist == "mnist" and "mnist" in text.lower():
        text += " (or use --fashion-mnist: Fashion-MNIST in MNIST's format, `apt-get install dataset-fashion-mnist`)"
    return f"{r.script.name}: {text}"
