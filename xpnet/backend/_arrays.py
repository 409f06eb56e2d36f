"""Creating arrays on the active backend and moving arrays between libraries.

New arrays (:func:`asarray`, :func:`zeros`, :func:`randn`) are born on the active backend's
device; :func:`asnumpy` brings any array to the host and :func:`to_backend` moves one to another
backend, between two accelerators through DLPack where the libraries allow it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._context import _active, _Backend, _resolve
from ._inputs import _dtype, backend_name, float_dtype, is_array, on_host
from ._random import host_rng
from ._registry import library_of


def asarray(obj: Any, dtype: Any = None, *, device: Any = None) -> Any:
    """Convert ``obj`` to an array of the active backend; ``dtype`` may be a name such as ``"float64"``.

    Arrays of another backend are moved through the host; arrays of the active backend
    keep their device unless ``device`` is given.
    """
    b = _active()
    xp = b.xp
    if is_array(obj):
        src = backend_name(obj)
        if src == b.name:
            return xp.asarray(obj, dtype=_dtype(xp, dtype), device=device)
        obj = _move(obj, b, device if device is not None else b.device)
    return xp.asarray(obj, dtype=_dtype(xp, dtype), device=device if device is not None else b.device)


def _move(x: Any, target: _Backend, dev: Any) -> Any:
    """``x`` of another backend made importable by ``target``: through DLPack when both sides are on an
    accelerator (CuPy <-> CUDA torch, no host round trip), else as a host NumPy array."""
    if not on_host(x) and getattr(dev, "type", dev) != "cpu":
        moved = target.lib.import_from_device(target.xp, x, dev)
        if moved is not None:
            return moved
    return asnumpy(x)


def asnumpy(x: Any) -> np.ndarray:
    """Any array (or scalar, or list) as a ``numpy.ndarray`` on the host."""
    if isinstance(x, np.ndarray):
        return x
    lib = library_of(x)
    return np.asarray(x) if lib is None else lib.to_numpy(x)


def to_backend(x: Any, name: str | None = None, device: Any = None) -> Any:
    """Move ``x`` to backend ``name`` (default: the active one), keeping its dtype."""
    target = _resolve(name, device) if name is not None else _active()
    if device is not None and name is None:
        target = _resolve(target.name, device)
    if backend_name(x) == target.name:
        # target.device is the resolved device object ("device1" -> array_api_strict.Device("device1"))
        return target.xp.asarray(x, device=target.device) if device is not None else x
    return target.xp.asarray(_move(x, target, target.device), device=target.device)


def randn(shape: tuple[int, ...], *, dtype: Any = None, rng: Any = None) -> Any:
    """Standard-normal array drawn on the host (float64), then created on the active backend."""
    b = _active()
    draw = host_rng(rng).standard_normal(shape)
    return b.xp.asarray(draw, dtype=float_dtype(b.xp, dtype), device=b.device)


def zeros(shape: tuple[int, ...] | int, *, dtype: Any = None) -> Any:
    """Zeros of the default (or given) float dtype on the active backend."""
    b = _active()
    return b.xp.zeros(shape, dtype=float_dtype(b.xp, dtype), device=b.device)
