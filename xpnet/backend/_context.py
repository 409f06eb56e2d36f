"""The backend context: which backend and device new arrays are born on, their default dtype, the seed.

One :class:`_Config` per context holds them: :func:`set_backend` replaces the process-wide one,
:func:`use_backend` installs a copy for a block (a ``ContextVar``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np

from ._registry import LIBRARIES, BackendUnavailableError, Library, library

BACKENDS = tuple(LIBRARIES)


class _Backend:
    """A resolved backend: its name, its Array API namespace, the device new arrays go to, its :class:`Library`."""

    __slots__ = ("name", "xp", "device", "lib")

    def __init__(self, name: str, xp: Any, device: Any, lib: Library) -> None:
        self.name, self.xp, self.device, self.lib = name, xp, device, lib

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"


def _resolve(name: str, device: Any = None) -> _Backend:
    if name not in LIBRARIES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    lib = library(name)
    xp, dev = lib.resolve(device)
    return _Backend(name, xp, dev, lib)


class _Config:
    """Everything that decides how new arrays are born: backend (with its device), default dtype, RNG.

    One object per context: :func:`use_backend` installs a copy for its block, so
    :func:`set_default_dtype` and :func:`seed` inside the block end with it. Worker threads
    start from the process-wide default (:func:`set_backend`), not from a ``use_backend``
    block of the thread that started them (a ``ContextVar`` does not cross threads).
    """

    __slots__ = ("backend", "dtype", "rng", "device_rngs")

    def __init__(self, backend: _Backend, dtype: str, rng: np.random.Generator) -> None:
        self.backend, self.dtype, self.rng = backend, dtype, rng
        self.device_rngs: dict[Any, Any] = {}  # generators on accelerators, derived from rng


_current: ContextVar[_Config | None] = ContextVar("xpnet_config", default=None)
_default: _Config | None = None
_lock = threading.RLock()  # first imports of backends and their namespaces, from any thread


def _default_config() -> _Config:
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                backend = _resolve(os.environ.get("XPNET_BACKEND", "numpy"))
                _default = _Config(backend, "float32", np.random.default_rng())
    return _default


def _config() -> _Config:
    c = _current.get()
    return c if c is not None else _default_config()


def _active() -> _Backend:
    return _config().backend


def set_backend(name: str, device: Any = None) -> None:
    """Select where new arrays are created: ``"numpy"``, ``"cupy"``, ``"torch"`` or ``"array_api_strict"``.

    ``device`` optionally names the device (``"cuda:1"`` for torch, ``"device1"`` for
    array_api_strict, an ordinal for cupy). Raises ``ValueError`` for an unknown name and
    :class:`BackendUnavailableError` when the backend cannot run here. Applies to the whole
    process (every thread); the default dtype and the random generator are kept.

    An array keeps its library after a switch; only new arrays are born on the new backend:

    >>> import xpnet
    >>> from xpnet.backend import backend_name
    >>> xpnet.set_backend("array_api_strict")
    >>> w = xpnet.asarray([1.0, 2.0])
    >>> xpnet.set_backend("numpy")
    >>> backend_name(w), backend_name(xpnet.asarray([1.0])), backend_name(w * 2)
    ('array_api_strict', 'numpy', 'array_api_strict')
    """
    global _default
    backend = _resolve(name, device)
    base = _default_config()
    _default = _Config(backend, base.dtype, base.rng)
    _current.set(None)


def get_backend() -> str:
    """Name of the active backend."""
    return _active().name


def active_device() -> Any:
    """Device on which the active backend creates new arrays."""
    return _active().device


def active_namespace() -> Any:
    """The Array API namespace of the active backend (where new arrays are born)."""
    return _active().xp


def active_numpy_module() -> Any:
    """The active backend's library module when it is a NumPy work-alike (``numpy``, ``cupy``), else ``None``."""
    return _active().lib.numpy_module()


@contextlib.contextmanager
def use_backend(name: str, device: Any = None, *, dtype: str | None = None) -> Iterator[None]:
    """Context manager: inside the block new arrays are born on ``name`` (and in ``dtype`` if given).

    The block has its own copy of the configuration: :func:`set_default_dtype` and
    :func:`seed` called inside it end with it. The random generator is shared with the
    enclosing context until :func:`seed` replaces it in the block.

    >>> import xpnet
    >>> with xpnet.use_backend("array_api_strict", dtype="float64"):
    ...     x = xpnet.asarray([1.0, 2.0])
    >>> xpnet.backend.backend_name(x), xpnet.backend.dtype_name(x), xpnet.get_backend()
    ('array_api_strict', 'float64', 'numpy')
    """
    outer = _config()
    if dtype is not None:
        _check_dtype(dtype)
    token = _current.set(_Config(_resolve(name, device), dtype or outer.dtype, outer.rng))
    try:
        yield
    finally:
        _current.reset(token)


def backend_status() -> dict[str, str | None]:
    """Every known backend -> ``None`` when it can run here, else the reason it cannot (with the pip command)."""
    status: dict[str, str | None] = {}
    for name in BACKENDS:
        try:
            _resolve(name)
        except BackendUnavailableError as e:
            status[name] = str(e)
        else:
            status[name] = None
    return status


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine (:func:`backend_status` says why the others cannot)."""
    return [name for name, reason in backend_status().items() if reason is None]


def _check_dtype(dtype: str) -> None:
    if dtype not in ("float32", "float64"):
        raise ValueError(f"default dtype must be 'float32' or 'float64', not {dtype!r}")


def set_default_dtype(dtype: str) -> None:
    """Set the floating dtype of new parameters and loaded data: ``"float32"`` (default) or ``"float64"``.

    Inside a :func:`use_backend` block it applies to that block only.
    """
    _check_dtype(dtype)
    _config().dtype = dtype


def get_default_dtype() -> str:
    """Name of the default floating dtype."""
    return _config().dtype


def seed(n: int | None) -> None:
    """Seed xpnet's random numbers: the same seed gives the same weights on every backend.

    Weights and host draws come from one NumPy generator; generators on accelerators
    (dropout masks, negative samples on a GPU) are derived from it when first needed, so
    they are reproducible too. Inside a :func:`use_backend` block it applies to that block.

    >>> import xpnet
    >>> xpnet.seed(0)
    >>> W_numpy = xpnet.TwoLayerNet(2, 3, 2).params["W1"]
    >>> with xpnet.use_backend("array_api_strict"):
    ...     xpnet.seed(0)
    ...     W_strict = xpnet.TwoLayerNet(2, 3, 2).params["W1"]
    >>> bool((xpnet.asnumpy(W_numpy) == xpnet.asnumpy(W_strict)).all())
    True
    """
    c = _config()
    c.rng = np.random.default_rng(n)
    c.device_rngs = {}
