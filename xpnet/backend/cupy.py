"""The ``"cupy"`` backend: CuPy arrays on a CUDA GPU.

Its namespace is array-api-compat's CuPy with creation functions that honour ``device=``
(:class:`DeviceCreatingNamespace`); random numbers are drawn on the GPU by ``cupy.random``;
arrays come from CUDA torch through DLPack; the kernels write through ``out=`` and scatter-add
with ``cupy.add.at`` (:class:`CupyKernels`). CuPy is imported when the backend is resolved.
"""

from __future__ import annotations

import importlib
from typing import Any

import array_api_compat
import numpy as np

from ._kernels import Kernels
from ._registry import BackendUnavailableError, Library


class DeviceCreatingNamespace:
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


def _cupy() -> Any:
    return importlib.import_module("cupy")


class CupyKernels(Kernels):
    """CuPy's kernels: ``out=`` instead of temporaries, ``cupy.add.at`` for scatter-add."""

    def matmul_into(self, out: Any, a: Any, b: Any) -> None:
        _cupy().matmul(a, b, out=out)

    def sum_into(self, out: Any, a: Any) -> None:
        a.sum(axis=0, out=out)

    def index_add(self, dst: Any, idx: Any, src: Any) -> Any:
        _cupy().add.at(dst, idx, src)  # CuPy >= 12 (cupyx.scatter_add warns that it is deprecated)
        return dst

    def exp_inplace(self, x: Any) -> Any:
        return _cupy().exp(x, out=x)

    def add_at_labels(self, dst: Any, t: Any, value: Any) -> Any:
        dst[_cupy().arange(dst.shape[0]), t] += value
        return dst


class CupyLibrary(Library):
    name = "cupy"
    install = "pip install 'xpnet[cuda12]' (or 'xpnet[cuda13]' for CUDA 13)"
    kernels = CupyKernels()
    dlpack_between_devices = True
    _namespace: DeviceCreatingNamespace | None = None

    def owns(self, x: Any) -> bool:
        return array_api_compat.is_cupy_array(x)

    def resolve(self, device: Any) -> tuple[Any, Any]:
        cupy, xp = self.import_library("cupy", "array_api_compat.cupy", "CuPy, which is not installed")
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # CUDA driver missing or broken
            raise BackendUnavailableError(f"backend 'cupy' found no usable CUDA device ({e}); {self.install}") from e
        if count == 0:
            raise BackendUnavailableError(f"backend 'cupy' found no CUDA device; {self.install}")
        if device is None:
            dev = cupy.cuda.Device()  # the current device: under NCCL each rank has made its own GPU current
        else:
            text = str(device)
            try:
                dev = cupy.cuda.Device(int(text.split(":", 1)[1] if text.startswith("cuda:") else text))
            except ValueError:
                raise ValueError(f"backend 'cupy': device must be a GPU number or 'cuda:N', not {device!r}") from None
        return self.wrap_namespace(xp), dev

    def wrap_namespace(self, xp: Any) -> Any:
        if self._namespace is None:
            CupyLibrary._namespace = DeviceCreatingNamespace(xp)
        return self._namespace

    def on_host(self, x: Any) -> bool:
        return False

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.get()

    def draws_on_device(self, x: Any) -> bool:
        return True

    def device_rng(self, x: Any, seed: int) -> Any:
        return _cupy().random.default_rng(seed)

    def uniform_like(self, x: Any, generator: Any) -> Any:
        with x.device:
            return generator.random(x.shape, dtype=x.dtype)

    def numpy_module(self) -> Any:
        return _cupy()


LIBRARY = CupyLibrary()
