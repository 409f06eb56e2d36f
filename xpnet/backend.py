"""Backend selection, array creation and the few things the Array API standard lacks.

The selected backend only decides where *new* arrays are born (weights, loaded data).
Every computation takes its namespace from its inputs through :func:`get_namespace`.
Random numbers are drawn on the host with NumPy and then moved, so one seed gives the
same weights on every backend.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import array_api_compat
import numpy as np

BACKENDS = ("numpy", "cupy", "torch", "array_api_strict")

_INSTALL_HINTS = {
    "numpy": "pip install numpy",
    "cupy": "pip install 'xpnet[cuda12]' (or 'xpnet[cuda13]' for CUDA 13)",
    "torch": "pip install 'xpnet[torch]'",
    "array_api_strict": "pip install array-api-strict",
}


class BackendUnavailableError(RuntimeError):
    """A known backend cannot be used here (package missing, no CUDA device, ...)."""


class BackendMismatchError(TypeError):
    """Arrays of two different backends met in one computation."""


class _Backend:
    """A resolved backend: its name, its Array API namespace and the device new arrays go to."""

    __slots__ = ("name", "xp", "device")

    def __init__(self, name: str, xp: Any, device: Any) -> None:
        self.name, self.xp, self.device = name, xp, device

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"


def _resolve(name: str, device: Any = None) -> _Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    hint = _INSTALL_HINTS[name]
    if name == "numpy":
        import array_api_compat.numpy as xp

        return _Backend(name, xp, "cpu")
    if name == "array_api_strict":
        try:
            xp = importlib.import_module("array_api_strict")
        except ImportError as e:
            raise BackendUnavailableError(f"backend 'array_api_strict' needs array-api-strict: {hint}") from e
        if isinstance(device, str):
            device = xp.Device(device)
        return _Backend(name, xp, device if device is not None else xp.Device("CPU_DEVICE"))
    if name == "torch":
        try:
            torch = importlib.import_module("torch")
            import array_api_compat.torch as xp
        except ImportError as e:
            raise BackendUnavailableError(f"backend 'torch' needs PyTorch, which is not installed: {hint}") from e
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return _Backend(name, xp, torch.device(device))
    # cupy
    try:
        cupy = importlib.import_module("cupy")
        import array_api_compat.cupy as xp
    except ImportError as e:
        raise BackendUnavailableError(f"backend 'cupy' needs CuPy, which is not installed: {hint}") from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDA driver missing or broken
        raise BackendUnavailableError(f"backend 'cupy' found no usable CUDA device ({e}); {hint}") from e
    if count == 0:
        raise BackendUnavailableError(f"backend 'cupy' found no CUDA device; {hint}")
    return _Backend(name, xp, cupy.cuda.Device(0 if device is None else int(device)))


_current: ContextVar[_Backend | None] = ContextVar("xpnet_backend", default=None)
_default: _Backend | None = None
_default_dtype = "float32"
_rng = np.random.default_rng()


def _active() -> _Backend:
    b = _current.get()
    if b is not None:
        return b
    global _default
    if _default is None:
        _default = _resolve(os.environ.get("XPNET_BACKEND", "numpy"))
    return _default


def set_backend(name: str, device: Any = None) -> None:
    """Select where new arrays are created: ``"numpy"``, ``"cupy"``, ``"torch"`` or ``"array_api_strict"``.

    ``device`` optionally names the device (``"cuda:1"`` for torch, ``"device1"`` for
    array_api_strict, an ordinal for cupy). Raises ``ValueError`` for an unknown name and
    :class:`BackendUnavailableError` when the backend cannot run here.
    """
    global _default
    _default = _resolve(name, device)
    _current.set(None)


def get_backend() -> str:
    """Name of the active backend."""
    return _active().name


def get_device() -> Any:
    """Device on which the active backend creates new arrays."""
    return _active().device


@contextlib.contextmanager
def use_backend(name: str, device: Any = None) -> Iterator[None]:
    """Context manager: create new arrays on ``name`` inside the block, then restore."""
    token = _current.set(_resolve(name, device))
    try:
        yield
    finally:
        _current.reset(token)


def namespace() -> Any:
    """The Array API namespace of the active backend."""
    return _active().xp


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


def set_default_dtype(dtype: str) -> None:
    """Set the floating dtype of new parameters and loaded data: ``"float32"`` (default) or ``"float64"``."""
    global _default_dtype
    if dtype not in ("float32", "float64"):
        raise ValueError(f"default dtype must be 'float32' or 'float64', not {dtype!r}")
    _default_dtype = dtype


def get_default_dtype() -> str:
    """Name of the default floating dtype."""
    return _default_dtype


def seed(n: int | None) -> None:
    """Seed xpnet's host random generator: the same seed gives the same weights on every backend."""
    global _rng
    _rng = np.random.default_rng(n)


def host_rng(rng: int | np.random.Generator | None = None) -> np.random.Generator:
    """A NumPy generator: ``rng`` itself, a new one seeded with it, or xpnet's global one."""
    if rng is None:
        return _rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


# --- namespaces of inputs ----------------------------------------------------------

_NS_CACHE: dict[type, Any] = {}


def get_namespace(*arrays: Any) -> Any:
    """The Array API namespace shared by ``arrays`` (Python scalars and ``None`` are ignored).

    Raises :class:`BackendMismatchError` naming both backends when arrays of two libraries meet.
    """
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
    try:
        xp = array_api_compat.array_namespace(*arrays)
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
    if array_api_compat.is_numpy_array(x):
        return "numpy"
    if array_api_compat.is_cupy_array(x):
        return "cupy"
    if array_api_compat.is_torch_array(x):
        return "torch"
    if array_api_compat.is_array_api_strict_namespace(getattr(x, "__array_namespace__", lambda: None)()):
        return "array_api_strict"
    mod = type(x).__module__.split(".")[0]
    return "python" if mod == "builtins" else mod


def device(x: Any) -> Any:
    """The device an array lives on."""
    return array_api_compat.device(x)


def is_array(x: Any) -> bool:
    return array_api_compat.is_array_api_obj(x) and not isinstance(x, (int, float, bool, complex))


def on_host(x: Any) -> bool:
    """True when reading ``x`` back costs no device synchronisation (NumPy, CPU tensors).

    array_api_strict counts as the host on its default device only: its other devices
    ("device1", ...) stand in for an accelerator, so the tests take the GPU code paths there.
    """
    if array_api_compat.is_numpy_array(x):
        return True
    if array_api_compat.is_cupy_array(x):
        return False
    if array_api_compat.is_torch_array(x):
        return x.device.type == "cpu"
    if backend_name(x) == "array_api_strict":
        import array_api_strict

        return x.device == array_api_strict.Device("CPU_DEVICE")
    return True


# --- creation and conversion ---------------------------------------------------------


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
    return _dtype(xp, dtype if dtype is not None else _default_dtype)


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
        obj = asnumpy(obj)
    return xp.asarray(obj, dtype=_dtype(xp, dtype), device=device if device is not None else b.device)


def asnumpy(x: Any) -> np.ndarray:
    """Any array (or scalar, or list) as a ``numpy.ndarray`` on the host."""
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if is_array(x) and backend_name(x) == "array_api_strict":
        return np.from_dlpack(x)
    return np.asarray(x)


def to_backend(x: Any, name: str | None = None, device: Any = None) -> Any:
    """Move ``x`` to backend ``name`` (default: the active one), keeping its dtype."""
    target = _resolve(name, device) if name is not None else _active()
    if backend_name(x) == target.name:
        return target.xp.asarray(x, device=device) if device is not None else x
    return target.xp.asarray(asnumpy(x), device=target.device)


def randn(shape: tuple[int, ...], *, dtype: Any = None, rng: Any = None) -> Any:
    """Standard-normal array drawn on the host (float64), then created on the active backend."""
    b = _active()
    draw = host_rng(rng).standard_normal(shape)
    return b.xp.asarray(draw, dtype=float_dtype(b.xp, dtype), device=b.device)


def zeros(shape: tuple[int, ...] | int, *, dtype: Any = None) -> Any:
    """Zeros of the default (or given) float dtype on the active backend."""
    b = _active()
    return b.xp.zeros(shape, dtype=float_dtype(b.xp, dtype), device=b.device)


def random_like(x: Any, rng: Any = None) -> Any:
    """Uniform [0, 1) numbers shaped like ``x``, on ``x``'s device and of its dtype.

    The one place besides :func:`randn` that makes random numbers: GPU backends draw
    on the device (no host transfer in the training step); the others draw on the host.
    """
    if array_api_compat.is_cupy_array(x):
        import cupy

        return cupy.random.random(x.shape, dtype=x.dtype)
    if array_api_compat.is_torch_array(x) and x.device.type != "cpu":
        import torch

        return torch.rand(x.shape, dtype=x.dtype, device=x.device)
    xp = get_namespace(x)
    return xp.asarray(host_rng(rng).random(x.shape), dtype=x.dtype, device=device(x))


def matmul_into(out: Any, a: Any, b: Any) -> None:
    """``out[...] = a @ b``, written straight into ``out`` where the library can (NumPy, CuPy: no temporary).

    ``out`` must already have the result's shape and dtype.
    """
    if type(out) is np.ndarray:
        np.matmul(a, b, out=out)
    elif array_api_compat.is_cupy_array(out):
        import cupy

        cupy.matmul(a, b, out=out)
    else:
        out[...] = a @ b


def sum_into(out: Any, a: Any) -> None:
    """``out[...] = sum(a, axis=0)``, without a temporary where the library allows it."""
    if type(out) is np.ndarray:
        np.add.reduce(a, axis=0, out=out)
    elif array_api_compat.is_cupy_array(out):
        a.sum(axis=0, out=out)
    else:
        out[...] = get_namespace(a).sum(a, axis=0)


# Elements of the one-hot block the standard-only index_add builds at a time (32 MiB in float64).
INDEX_ADD_BLOCK = 1 << 22


def index_add(dst: Any, idx: Any, src: Any) -> Any:
    """``dst[idx[i], ...] += src[i, ...]`` for every ``i``, in place, adding up repeated indices; returns ``dst``.

    ``dst`` is ``(V, ...)``, ``idx`` integer ``(M,)`` and ``src`` ``(M, ...)``. The standard has no
    scatter-add (``array_api_extra.at(...).add`` loses repeated indices), so each library's own
    is used: NumPy ``np.add.at``, CuPy ``cupyx.scatter_add``, torch ``index_add_``; any other
    namespace gets one-hot products, ``V`` x block at a time, which only needs the standard.
    """
    if idx.shape[0] == 0:
        return dst
    if type(dst) is np.ndarray:
        np.add.at(dst, idx, src)
    elif array_api_compat.is_cupy_array(dst):
        import cupyx

        cupyx.scatter_add(dst, idx, src)
    elif array_api_compat.is_torch_array(dst):
        dst.index_add_(0, idx, src)
    else:
        xp = get_namespace(dst, idx, src)
        V = dst.shape[0]
        flat = xp.reshape(src, (src.shape[0], -1))
        step = max(1, INDEX_ADD_BLOCK // max(V, 1))
        total = xp.reshape(dst, (V, -1))
        M = idx.shape[0]
        for start in range(0, M, step):
            stop = min(start + step, M)
            block = one_hot(idx[start:stop], V, dst.dtype)  # (m, V)
            total = total + block.T @ flat[start:stop, ...]
        dst[...] = xp.reshape(total, dst.shape)
    return dst


def one_hot(t: Any, n_classes: int, dtype: Any) -> Any:
    """Integer labels ``t`` of any shape as one-hot ``(*t.shape, n_classes)`` of ``dtype``.

    A comparison with ``arange``: the standard has no integer-array writes (``y[i, t] = 1``).
    """
    xp = get_namespace(t)
    classes = xp.arange(n_classes, dtype=t.dtype, device=device(t))
    return xp.astype(t[..., None] == classes, dtype)


def dtype_name(x: Any) -> str:
    """Short dtype name (``"float32"``) for error messages."""
    return str(x.dtype).rsplit(".", 1)[-1]


def exp_inplace(x: Any) -> Any:
    """``exp(x)`` written over ``x`` where the library can (NumPy, CuPy, torch: no new array); returns the result.

    The caller must own ``x``. Large temporaries cost more than their arithmetic on a CPU
    (a fresh (700, 10000) array is 7,000 page faults), so the vocabulary-sized softmax reuses its buffer.
    """
    if type(x) is np.ndarray:
        return np.exp(x, out=x)
    if array_api_compat.is_cupy_array(x):
        import cupy

        return cupy.exp(x, out=x)
    if array_api_compat.is_torch_array(x):
        return x.exp_()
    return get_namespace(x).exp(x)


def add_at_labels(dst: Any, t: Any, value: Any) -> Any:
    """``dst[i, t[i]] += value[i]`` for every row ``i``, in place; returns ``dst`` (``(M, C)``, integer ``t`` ``(M,)``,
    ``value`` a number or an array ``(M,)``).

    The standard has no integer-array writes; NumPy, CuPy and torch index directly (one
    element per row), any other namespace adds ``value`` times a one-hot block.
    """
    if type(dst) is np.ndarray or array_api_compat.is_cupy_array(dst):
        xp = get_namespace(dst)
        dst[xp.arange(dst.shape[0]), t] += value
    elif array_api_compat.is_torch_array(dst):
        import torch

        rows = torch.arange(dst.shape[0], device=dst.device)
        if isinstance(value, (int, float)):
            value = torch.full((dst.shape[0],), value, dtype=dst.dtype, device=dst.device)
        dst.index_put_((rows, t), value, accumulate=True)
    else:
        if not isinstance(value, (int, float)):
            value = value[:, None]
        dst += one_hot(t, dst.shape[1], dst.dtype) * value
    return dst
