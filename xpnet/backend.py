"""Backend selection, array creation and the few things the Array API standard lacks.

The selected backend only decides where *new* arrays are born (weights, loaded data).
Every computation takes its namespace from its inputs. Two families of names keep the
two questions apart:

* of the **inputs**: :func:`get_namespace` ``(*arrays)``, :func:`array_device` ``(x)``
  (``device`` is its short alias, used inside the library), :func:`backend_name` ``(x)``;
* of the **active backend**: :func:`get_backend`, :func:`active_namespace`,
  :func:`active_device` (``namespace`` and ``get_device`` are their older names).

The configuration (backend and device, default dtype, random generator) lives in one
context: :func:`set_backend` for the process, :func:`use_backend` for a block.
Random numbers are drawn on the host with NumPy and then moved, so one seed gives the
same weights on every backend; accelerators draw their own (dropout masks) from
generators seeded by the same seed.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "BACKENDS",
    "BackendMismatchError",
    "BackendUnavailableError",
    # the active backend
    "set_backend",
    "use_backend",
    "get_backend",
    "active_namespace",
    "active_device",
    "namespace",
    "get_device",
    "backend_status",
    "available_backends",
    "set_default_dtype",
    "get_default_dtype",
    "seed",
    "host_rng",
    # the inputs
    "get_namespace",
    "array_device",
    "device",
    "backend_name",
    "is_array",
    "on_host",
    "dtype_name",
    # creation and conversion
    "asarray",
    "asnumpy",
    "to_backend",
    "float_dtype",
    "randn",
    "zeros",
    "random_like",
    "one_hot",
    # what the standard lacks
    "index_add",
    "adam_update",
    "out_buffer",
    "matmul_into",
    "sum_into",
]

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
        return _Backend(name, _numpy_namespace(), "cpu")
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
    if device is None:
        dev = cupy.cuda.Device()  # the current device: under NCCL each rank has made its own GPU current
    else:
        text = str(device)
        try:
            dev = cupy.cuda.Device(int(text.split(":", 1)[1] if text.startswith("cuda:") else text))
        except ValueError:
            raise ValueError(f"backend 'cupy': device must be a GPU number or 'cuda:N', not {device!r}") from None
    return _Backend(name, _device_creating(xp), dev)


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


@contextlib.contextmanager
def use_backend(name: str, device: Any = None, *, dtype: str | None = None) -> Iterator[None]:
    """Context manager: inside the block new arrays are born on ``name`` (and in ``dtype`` if given).

    The block has its own copy of the configuration: :func:`set_default_dtype` and
    :func:`seed` called inside it end with it. The random generator is shared with the
    enclosing context until :func:`seed` replaces it in the block.
    """
    outer = _config()
    if dtype is not None:
        _check_dtype(dtype)
    token = _current.set(_Config(_resolve(name, device), dtype or outer.dtype, outer.rng))
    try:
        yield
    finally:
        _current.reset(token)


def active_namespace() -> Any:
    """The Array API namespace of the active backend (where new arrays are born)."""
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
    """
    c = _config()
    c.rng = np.random.default_rng(n)
    c.device_rngs = {}


def host_rng(rng: int | np.random.Generator | None = None) -> np.random.Generator:
    """A NumPy generator: ``rng`` itself, a new one seeded with it, or xpnet's current one."""
    if rng is None:
        return _config().rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


# --- namespaces of inputs ----------------------------------------------------------

_NS_CACHE: dict[type, Any] = {}


# Libraries array_api_compat may probe when it inspects an array: their first import must be
# complete before it looks (another thread may be importing one right now).
_PROBED = ("torch", "cupy", "jax", "dask", "sparse", "ndonnx")


def get_namespace(*arrays: Any) -> Any:
    """The Array API namespace shared by ``arrays`` (Python scalars and ``None`` are ignored).

    Raises :class:`BackendMismatchError` naming both backends when arrays of two libraries meet.
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
            if array_api_compat.is_cupy_namespace(xp):
                xp = _device_creating(xp)
            elif array_api_compat.is_numpy_namespace(xp):
                xp = _numpy_namespace()
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


def array_device(x: Any) -> Any:
    """The device an array lives on."""
    return array_api_compat.device(x)


device = array_device
namespace = active_namespace
get_device = active_device


class _FastNumpy:
    """array-api-compat's NumPy namespace with ``sum`` and ``max`` taken straight from the ufuncs'
    ``reduce`` (the same results; ``np.sum`` and ``np.max`` add a Python wrapper that costs more than
    the reduction of a small batch). Other names are cached from the namespace on first use."""

    def __init__(self, xp: Any) -> None:
        self._xp = xp

    @staticmethod
    def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        return np.add.reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)

    @staticmethod
    def max(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        return np.maximum.reduce(x, axis=axis, keepdims=keepdims)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._xp, name)
        setattr(self, name, value)
        return value


_NUMPY: _FastNumpy | None = None


def _numpy_namespace() -> _FastNumpy:
    global _NUMPY
    if _NUMPY is None:
        import array_api_compat.numpy

        _NUMPY = _FastNumpy(array_api_compat.numpy)
    return _NUMPY


class _device_creating:  # noqa: N801 - it stands in for a namespace module
    """A CuPy namespace whose creation functions honour ``device=``.

    array-api-compat's CuPy ``zeros``, ``full``, ``arange``, ... ignore ``device=`` and create
    on the *current* GPU; after ``set_backend("cupy", 1)`` biases and buffers would land on
    GPU 0. Here they run with the requested device made current. Other names are taken
    from the namespace once and cached on the instance (no per-call indirection).
    """

    _CREATION = (
        "zeros",
        "ones",
        "empty",
        "full",
        "arange",
        "eye",
        "linspace",
        "zeros_like",
        "ones_like",
        "empty_like",
        "full_like",
        "asarray",
        "from_dlpack",
        "tril",
        "triu",
    )

    def __init__(self, xp: Any) -> None:
        self._xp = xp
        for name in self._CREATION:
            if hasattr(xp, name):
                setattr(self, name, self._on_device(getattr(xp, name)))

    @staticmethod
    def _on_device(fn: Any) -> Any:
        def create(*args: Any, device: Any = None, **kwargs: Any) -> Any:
            if device is None:
                return fn(*args, **kwargs)
            with device:  # a cupy.cuda.Device is a context manager that makes itself current
                return fn(*args, **kwargs)

        create.__name__ = getattr(fn, "__name__", "create")
        return create

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._xp, name)
        setattr(self, name, value)
        return value


def is_array(x: Any) -> bool:
    if type(x) is np.ndarray:  # the common case, without array_api_compat's checks
        return True
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
    return _dtype(xp, dtype if dtype is not None else _config().dtype)


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
    """``x`` of another backend made importable by ``target``: through DLPack when both sides are on a
    GPU (CuPy <-> CUDA torch, no host round trip), else as a host NumPy array."""
    if not on_host(x) and target.name in ("cupy", "torch") and not _is_cpu(dev):
        try:
            return target.xp.from_dlpack(x)
        except Exception:  # noqa: BLE001 - an exporter or device pair without DLPack support: go through the host
            pass
    return asnumpy(x)


def _is_cpu(dev: Any) -> bool:
    return getattr(dev, "type", dev) == "cpu"


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


def random_like(x: Any, rng: Any = None) -> Any:
    """Uniform [0, 1) numbers shaped like ``x``, on ``x``'s device and of its dtype.

    The one place besides :func:`randn` that makes random numbers: GPU backends draw
    on the device (no host transfer in the training step) from a generator of that device
    seeded from ``rng`` (or xpnet's generator, so :func:`seed` makes them reproducible);
    the others draw on the host.
    """
    if array_api_compat.is_cupy_array(x):
        with x.device:
            return _device_rng(x, rng).random(x.shape, dtype=x.dtype)
    if array_api_compat.is_torch_array(x) and x.device.type != "cpu":
        import torch

        return torch.rand(x.shape, dtype=x.dtype, device=x.device, generator=_device_rng(x, rng))
    xp = get_namespace(x)
    return xp.asarray(host_rng(rng).random(x.shape), dtype=x.dtype, device=device(x))


def _device_rng(x: Any, rng: Any) -> Any:
    """The generator of ``x``'s accelerator, seeded once from the host generator ``rng`` (or xpnet's)."""
    host = host_rng(rng)
    c = _config()
    key = (backend_name(x), str(device(x)), id(host))
    cached = c.device_rngs.get(key)
    # the cache holds the host generator too: an id is only that generator's while it lives
    g = cached[1] if cached is not None and cached[0] is host else None
    if g is None:
        s = int(host.integers(2**62))
        if array_api_compat.is_cupy_array(x):
            import cupy

            g = cupy.random.default_rng(s)
        else:
            import torch

            g = torch.Generator(device=x.device)
            g.manual_seed(s)
        c.device_rngs[key] = (host, g)
    return g


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


def out_buffer(x: Any) -> Any:
    """A scratch array shaped like ``x`` where the library computes through ``out=`` (NumPy), else ``None``."""
    return np.empty_like(x) if type(x) is np.ndarray else None


def adam_update(
    param: Any, grad: Any, m: Any, v: Any, lr_t: float, beta1: float, beta2: float, eps: float, scratch: Any = None
) -> None:
    """One Adam step in place: ``m += (1-b1)(g-m)``, ``v += (1-b2)(g*g-v)``, ``param -= lr_t m / (sqrt(v)+eps)``.

    NumPy computes it through ``out=`` into ``scratch`` (from :func:`out_buffer`): no temporary
    arrays, which for large embeddings is most of the step. Other libraries (or no ``scratch``)
    use the standard expressions.
    """
    if scratch is not None and type(param) is np.ndarray and type(grad) is np.ndarray:
        t = scratch
        np.subtract(grad, m, out=t)
        t *= 1 - beta1
        m += t
        np.multiply(grad, grad, out=t)
        t -= v
        t *= 1 - beta2
        v += t
        np.sqrt(v, out=t)
        t += eps
        np.divide(m, t, out=t)
        t *= lr_t
        param -= t
        return
    m += (1 - beta1) * (grad - m)
    v += (1 - beta2) * (grad * grad - v)
    param -= lr_t * m / (get_namespace(v).sqrt(v) + eps)


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

    ``dst`` is ``(V, ...)``, ``idx`` integer ``(M,)`` with ids in ``[0, V)`` and ``src`` ``(M, ...)``
    (other shapes raise ``ValueError``; ids outside the range are not checked, since that would read
    them back, and behave differently per library). The standard has no
    scatter-add (``array_api_extra.at(...).add`` loses repeated indices), so each library's own
    is used: NumPy ``np.add.at`` (computed by rounds of fancy ``+=``, which is faster), CuPy
    ``cupyx.scatter_add``, torch ``index_add_``; any other namespace gets sorted running sums for integers
    and one-hot products, ``V`` x block at a time, for floats: both only need the standard.
    """
    if idx.ndim != 1 or tuple(src.shape) != (idx.shape[0], *dst.shape[1:]):
        raise ValueError(
            f"index_add: ids of shape {tuple(idx.shape)} and rows of shape {tuple(src.shape)} do not fit "
            f"a destination of shape {tuple(dst.shape)}: expected ids (M,) and rows (M, *{tuple(dst.shape[1:])})"
        )
    if idx.shape[0] == 0:
        return dst
    if type(dst) is np.ndarray:
        _index_add_numpy(dst, idx, src)
    elif array_api_compat.is_cupy_array(dst):
        import cupy

        cupy.add.at(dst, idx, src)  # CuPy >= 12 (cupyx.scatter_add warns that it is deprecated)
    elif array_api_compat.is_torch_array(dst):
        dst.index_add_(0, idx, src)
    elif get_namespace(dst).isdtype(dst.dtype, "integral"):
        _index_add_sorted(get_namespace(dst, idx, src), dst, idx, src)
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


def _index_add_sorted(xp: Any, dst: Any, idx: Any, src: Any) -> None:
    """Integer ``index_add`` on the standard alone, in ``O((M + V) log M)``: the rows sorted by id, their running
    sums, and each id's sum as the difference of the running sums at its first and past its last row (exact for
    integers; one-hot products would take ``M x V``, quadratic for a co-occurrence matrix)."""
    V, M = dst.shape[0], idx.shape[0]
    order = xp.argsort(idx, stable=True)
    keys = xp.take(idx, order)
    rows = xp.take(xp.reshape(xp.broadcast_to(src, (M, *dst.shape[1:])), (M, -1)), order, axis=0)
    sums = xp.cumulative_sum(xp.astype(rows, xp.int64), axis=0, include_initial=True)  # (M + 1, D)
    ids = xp.arange(V, dtype=keys.dtype, device=device(dst))
    lo, hi = xp.searchsorted(keys, ids, side="left"), xp.searchsorted(keys, ids, side="right")
    total = xp.take(sums, hi, axis=0) - xp.take(sums, lo, axis=0)
    dst[...] = dst + xp.astype(xp.reshape(total, dst.shape), dst.dtype)


# Rounds of distinct-id fancy additions before the rest goes to np.add.at (see _index_add_numpy).
INDEX_ADD_ROUNDS = 8


def _index_add_numpy(dst: np.ndarray, idx: np.ndarray, src: Any) -> None:
    """``np.add.at(dst, idx, src)``, faster for rows: ``np.add.at`` loops element by element.

    Ids are ranked by occurrence (the k-th time an id appears has rank k); the rows of one rank
    have distinct ids, so one fancy-indexed ``+=`` per rank adds them without losing any. Ranks
    past ``INDEX_ADD_ROUNDS`` (heavy repetition) go to ``np.add.at``. Measured in
    benchmarks/word2vec.py (V=10,000, 100-wide rows, 10,000 ids: several times faster).
    """
    idx = np.asarray(idx)
    if idx.size and idx.min() < 0:  # -1 and V-1 are one row: normalise before ranking
        idx = np.where(idx < 0, idx + dst.shape[0], idx)
    src = np.broadcast_to(src, (idx.shape[0], *dst.shape[1:]))
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    pos = np.arange(s.shape[0])
    starts = np.empty(s.shape[0], dtype=bool)
    starts[0] = True
    np.not_equal(s[1:], s[:-1], out=starts[1:])
    rank = pos - np.maximum.accumulate(np.where(starts, pos, 0))
    for k in range(min(int(rank.max()) + 1, INDEX_ADD_ROUNDS)):
        sel = order[rank == k]
        dst[idx[sel]] += src[sel]
    rest = order[rank >= INDEX_ADD_ROUNDS]
    if rest.shape[0]:
        np.add.at(dst, idx[rest], src[rest])


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
