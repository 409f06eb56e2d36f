"""The one base every model builds on: :class:`Model` (book 2's ``BaseModel``).

A model holds its parameters and their gradients (``params``, ``grads``: book 2's lists, or
book 1's name -> array mapping), computes ``forward``/``backward`` through its layers, and
saves and loads its state through :mod:`xpnet.data.checkpoint` (``.npz``, atomic, no pickle,
checked before anything is written into the model). A model states *what* its checkpoint
holds (:meth:`Model.checkpoint_state`); how it is written and read is here, once.
"""

from __future__ import annotations

import os
from typing import Any

from ..backend import array_device, asnumpy, get_namespace
from ..data.checkpoint import load_state, save_arrays

__all__ = ["Model", "BaseModel", "as_ids"]


class Model:
    """``params``/``grads``, ``forward``/``backward``, ``save_params``/``load_params``.

    The checkpoint holds :meth:`checkpoint_state`: by default ``params`` under ``param_names``
    (``"W_in"``, ...) when the model has them, else ``p0``, ``p1``, ... Loading checks and
    converts every array first (:func:`~xpnet.data.checkpoint.load_state`), then writes them
    *into* the existing arrays (:meth:`restore_state`), so shared or tied parameters stay shared
    and a failed load changes nothing.
    """

    params: Any
    grads: Any
    param_names: tuple[str, ...] = ()
    default_file: str | None = None  # None: "<ClassName>.npz", as book 2's save_params

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError

    def backward(self, *args: Any) -> Any:
        raise NotImplementedError

    # --- what the checkpoint holds (a model overrides these, never the file handling) ---

    def checkpoint_state(self) -> dict[str, Any]:
        """``name -> array`` to save; ``None`` marks an entry not computed yet (left out of the file)."""
        names = list(self.param_names) or [f"p{i}" for i in range(len(self.params))]
        return dict(zip(names, self.params))

    def checkpoint_templates(self) -> tuple[dict[str, Any], list[str]]:
        """Arrays whose shape, dtype, backend and device each entry must take, and the optional entries."""
        return self.checkpoint_state(), []

    def restore_state(self, loaded: dict[str, Any]) -> None:
        """Put checked, converted arrays in place (must not fail): written into the existing arrays."""
        state = self.checkpoint_state()
        for name, value in loaded.items():
            state[name][...] = value

    # --- the file handling, once ---

    def _checkpoint_path(self, file_name: str | os.PathLike | None) -> str:
        if file_name is not None:
            return os.fspath(file_name)
        return self.default_file or type(self).__name__ + ".npz"

    def save_params(self, file_name: str | os.PathLike | None = None, *, allow_nonfinite: bool = False) -> None:
        """Write the checkpoint state to an ``.npz`` file: atomic (a crash never leaves a broken file where a good
        one was), no pickle, any backend; NaN or inf refused (naming the array) unless ``allow_nonfinite=True``."""
        state = {k: v for k, v in self.checkpoint_state().items() if v is not None}
        save_arrays(self._checkpoint_path(file_name), state, allow_nonfinite=allow_nonfinite)

    def load_params(self, file_name: str | os.PathLike | None = None, *, allow_nonfinite: bool = False) -> None:
        """Read a file written by :meth:`save_params` (from any backend) into this model, all or nothing; NaN or
        inf refused, as :meth:`save_params` refuses to write it, unless ``allow_nonfinite=True``."""
        templates, optional = self.checkpoint_templates()
        path = self._checkpoint_path(file_name)
        self.restore_state(load_state(path, templates, optional=optional, allow_nonfinite=allow_nonfinite))


BaseModel = Model  # book 2's name (common/base_model.py)


def as_ids(xs: Any, like: Any) -> Any:
    """Word ids as an array of ``like``'s backend and device (book scripts pass NumPy arrays or lists)."""
    try:
        get_namespace(xs, like)
    except TypeError:  # a list, or another backend's array
        return get_namespace(like).asarray(asnumpy(xs), device=array_device(like))
    return xs
