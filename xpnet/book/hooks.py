"""How a run reaches into the script's imports: a finder for ``common.*``/``dataset.*``, and what the book's files
get for ``import numpy`` and ``import pickle`` on the GPU, and what ``matplotlib.pyplot`` is handed there.

The rule: only the files of the book's repository (the script and its neighbours) are given the GPU's ``numpy``;
anything outside it (matplotlib, the standard library, xpnet) imports what it always does. Where the book's code
hands its arrays to such a package, to plot or to pickle them, they are brought to the host first.
"""

from __future__ import annotations

import builtins
import functools
import importlib.abc
import importlib.machinery
import os
import pickle
import sys
import sysconfig
import types
from pathlib import Path
from typing import Any

from .. import backend

__all__ = ["BookFinder", "ImportHook", "in_repository", "to_host"]


class BookFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the book's ``common``, ``dataset`` and their submodules in ``run``'s table, ahead of any file of the
    same name (a repository's own ``common/`` is shadowed); a name the table lacks is refused in one line."""

    def __init__(self, run: Any) -> None:
        self.run = run

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        top = fullname.split(".")[0]
        if top not in self.run.packages:
            return None
        package = "." not in fullname
        return importlib.machinery.ModuleSpec(fullname, self, is_package=package)

    def create_module(self, spec: Any) -> Any:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__
        module.__file__ = f"<xpnet book {self.run.book}: {name}>"
        if "." not in name:
            module.__path__ = []
            return
        build = self.run.table.get(name)
        if build is None:
            raise ModuleNotFoundError(
                f"xpnet book: book {self.run.book}'s {name} is not one of the modules xpnet provides "
                f"({', '.join(sorted(self.run.table))})",
                name=name,
            )
        names = build(self.run)
        vars(module).update(names)
        module.__all__ = list(names)


def _installed() -> tuple[str, ...]:
    """Where Python and installed packages live (a virtual environment may sit inside the book's repository)."""
    places = {sys.prefix, sys.base_prefix, sys.exec_prefix, *(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))}
    return tuple(os.path.realpath(p) for p in places)


def in_repository(file: str, root: str) -> bool:
    """Whether ``file`` is one of the book's files: under ``root`` (a real path), and not in an installed package
    (a virtual environment inside the repository)."""
    path = os.path.realpath(file)
    if not path.startswith(root + os.sep) or {"site-packages", "dist-packages"} & set(Path(path).parts):
        return False
    return not any(path.startswith(p + os.sep) for p in _installed() if p.startswith(root + os.sep))


def to_host(obj: Any) -> Any:
    """``obj`` with every array in it (also inside lists, tuples and dicts) as a NumPy array."""
    if backend.is_array(obj) and not backend.on_host(obj):
        return backend.asnumpy(obj)
    if isinstance(obj, (list, tuple)):
        items = [to_host(o) for o in obj]
        return type(obj)(items) if type(obj) in (list, tuple) else obj
    if isinstance(obj, dict):
        return {k: to_host(v) for k, v in obj.items()}
    return obj


def _host_calls(function: Any) -> Any:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        return function(*to_host(list(args)), **to_host(kwargs))

    return call


def _pickle_to_host() -> types.ModuleType:
    """``pickle`` for the book's files on the GPU: what they dump is on the host, as their readers expect."""
    module = types.ModuleType("pickle", pickle.__doc__)
    vars(module).update({k: v for k, v in vars(pickle).items() if not k.startswith("__")})
    module.dump, module.dumps = _host_calls(pickle.dump), _host_calls(pickle.dumps)
    return module


class ImportHook:
    """While installed (a context manager), imports made by the book's files on the GPU are answered so:
    ``numpy`` is the run's namespace, ``pickle`` dumps host arrays, and ``matplotlib.pyplot``'s functions take
    device arrays (they are patched for the run and restored after it)."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.original = builtins.__import__
        self.patched: dict[tuple[Any, str], Any] = {}
        self.pickle = _pickle_to_host()

    def __enter__(self) -> ImportHook:
        builtins.__import__ = self.hook
        return self

    def __exit__(self, *exc: Any) -> None:
        builtins.__import__ = self.original
        for (module, key), value in self.patched.items():
            setattr(module, key, value)
        self.patched.clear()

    def _from_book(self, globals: Any) -> bool:
        file = (globals or {}).get("__file__")
        if not isinstance(file, str) or (globals or {}).get("__name__", "").startswith("xpnet"):
            return False
        return in_repository(file, self.run.root_real)

    def hook(self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        module = self.original(name, globals, locals, fromlist, level)
        if level or not self.run.gpu or not self._from_book(globals):
            return module
        if name == "numpy":
            return self.run.numpy()
        if name == "pickle":
            return self.pickle
        if name.startswith("matplotlib"):
            self._patch_pyplot()
        return module

    def _patch_pyplot(self) -> None:
        import sys

        for name in ("matplotlib.pyplot", "matplotlib.pylab"):  # pylab holds its own references to pyplot's
            plt = sys.modules.get(name)
            if plt is None or any(module is plt for module, _ in self.patched):
                continue
            for key, value in list(vars(plt).items()):
                if isinstance(value, types.FunctionType) and not key.startswith("_"):
                    self.patched[plt, key] = value
                    setattr(plt, key, _host_calls(value))
