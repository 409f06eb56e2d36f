"""Questions about the inputs: their namespace, backend, device, dtype, and whether they live on the host.

Every computation in xpnet asks these of its arrays (``get_namespace(x, W)`` once per call),
never the active backend. Each answer comes from the :class:`~xpnet.backend._registry.Library`
that owns the array.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import array_api_compat
import numpy as np

from ._context import _config, _lock
from ._registry import BackendMismatchError, library_of

_NS_CACHE: dict[type, Any] = {}


# Libraries array_api_compat may probe when it inspects an array: their first import must be
# complete before it looks (another thread may be importing one right now).
_PROBED = ("torch", "cupy", "jax", "dask", "sparse", "ndonnx")


def get_namespace(*arrays: Any) -> Any:
    """The Array API namespace shared by ``arrays`` (Python scalars and ``None`` are ignored).

    Raises :class:`BackendMismatchError` naming both backends when arrays of two libraries meet.

    >>> import numpy as np
    >>> import xpnet
    >>> from xpnet.backend import get_namespace
    >>> x = np.ones((2, 3))
    >>> xp = get_namespace(x, 2.0)
    >>> xp.sum(x * 2.0, axis=0).tolist()
    [4.0, 4.0, 4.0]
    >>> with xpnet.use_backend("array_api_strict"):
    ...     W = xpnet.asarray([[1.0], [1.0], [1.0]])
    >>> get_namespace(x, W)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    BackendMismatchError: arrays from different backends were mixed: array_api_strict and numpy; ...
    """
    if not arrays:
        raise TypeError("get_namespace() needs at least one array; the active backend's is xpnet.active_namespace()")
    # Fast path, taken on every layer call: all arrays of one type already seen.
    t = type(arrays[0])
    xp = _NS_CACHE.get(t)
    if xp is not None:
        for a in arrays:
            if type(a) is not t:
                break
        else:
            return xp
    arrays = tuple(a for a in arrays if a is not None and type(a) not in (int, float, bool, complex))
    if not arrays:
        raise TypeError("get_namespace() got no arrays (only Python scalars or None)")
    try:
        with _lock:
            for name in _PROBED:
                if name in sys.modules:
                    importlib.import_module(name)  # waits for a first import still running in another thread
            xp = array_api_compat.array_namespace(*arrays)
            lib = library_of(arrays[0])
            if lib is not None:
                xp = lib.wrap_namespace(xp)
    except TypeError as e:
        names = sorted({backend_name(a) for a in arrays})
        if len(names) > 1:
            raise BackendMismatchError(
                f"arrays from different backends were mixed: {' and '.join(names)}; "
                "move them to one backend first, e.g. with xpnet.to_backend(x)"
            ) from None
        raise TypeError(f"expected arrays, got {', '.join(type(a).__name__ for a in arrays)}: {e}") from None
    if len({type(a) for a in arrays}) == 1:
        _NS_CACHE[type(arrays[0])] = xp
    return xp


def backend_name(x: Any) -> str:
    """The name of the backend an array belongs to (``"python"`` for scalars and lists)."""
    lib = library_of(x)
    if lib is not None:
        return lib.name
    mod = type(x).__module__.split(".")[0]
    return "python" if mod == "builtins" else mod


def array_device(x: Any) -> Any:
    """The device an array lives on."""
    return array_api_compat.device(x)


def is_array(x: Any) -> bool:
    """True for an array of any Array API library (not for Python scalars)."""
    if type(x) is np.ndarray:  # the common case, without array_api_compat's checks
        return True
    return array_api_compat.is_array_api_obj(x) and not isinstance(x, (int, float, bool, complex))


def on_host(x: Any) -> bool:
    """True when reading ``x`` back costs no device synchronisation (NumPy, CPU tensors).

    array_api_strict counts as the host on its default device only: its other devices
    ("device1", ...) stand in for an accelerator, so the tests take the GPU code paths there.
    """
    lib = library_of(x)
    return True if lib is None else lib.on_host(x)


def dtype_name(x: Any) -> str:
    """Short dtype name (``"float32"``) for error messages."""
    return str(x.dtype).rsplit(".", 1)[-1]


def _dtype(xp: Any, dtype: Any) -> Any:
    if dtype is None:
        return None
    if isinstance(dtype, str):
        try:
            return getattr(xp, dtype)
        except AttributeError:
            raise ValueError(f"unknown dtype {dtype!r}") from None
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        return getattr(xp, np.dtype(dtype).name)
    return dtype


def float_dtype(xp: Any, dtype: Any = None) -> Any:
    """``dtype`` resolved in ``xp``, or the default float dtype when ``None``."""
    return _dtype(xp, dtype if dtype is not None else _config().dtype)
