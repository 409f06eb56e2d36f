"""The one table of backends, :class:`Library` (the contract each backend's file fulfils) and the backend errors.

``LIBRARIES`` maps a backend name to the file (a module of this package) that knows its
library: how to import it and reach its Array API namespace, which arrays are its own, where
they live and how they reach the host, its random generators on a device, and its
:class:`~xpnet.backend.Kernels`. Nothing else in xpnet names a library; everything asks the
:class:`Library` of an array (:func:`library_of`) or of a backend name (:func:`library`).

A library file imports its library only when a backend is resolved or one of its arrays is
met, never on import, so that ``import xpnet`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

# backend name -> module of xpnet.backend that implements it (the order is the one error messages list)
LIBRARIES = {
    "numpy": "numpy",
    "cupy": "cupy",
    "torch": "torch",
    "array_api_strict": "array_api_strict",
}


class BackendUnavailableError(RuntimeError):
    """A known backend cannot be used here (package missing, no CUDA device, ...)."""


class BackendMismatchError(TypeError):
    """Arrays of two different backends met in one computation."""


class Library:
    """What a backend's file provides (one instance, ``LIBRARY``, per file); the defaults suit a host library.

    Subclasses set ``name``, ``install`` and ``kernels`` and implement :meth:`owns` and :meth:`resolve`;
    the other methods are overridden where the library differs from the defaults.
    """

    name: str = ""
    install: str = ""  # the pip command that error messages name
    kernels: Any = None  # a Kernels (the reference on the standard, or this library's subclass of it)
    dlpack_between_devices = False  # its arrays can be made from another library's on an accelerator by DLPack

    def owns(self, x: Any) -> bool:
        """True when ``x`` is an array of this library (checked without importing it)."""
        raise NotImplementedError

    def resolve(self, device: Any) -> tuple[Any, Any]:
        """``(namespace, device object)`` where new arrays are born for ``set_backend(name, device)``.

        Raises :class:`~xpnet.backend.BackendUnavailableError` naming ``install`` when the library cannot run.
        """
        raise NotImplementedError

    def wrap_namespace(self, xp: Any) -> Any:
        """The namespace xpnet hands out for ``xp`` (array-api-compat's), e.g. with faster or fixed functions."""
        return xp

    def on_host(self, x: Any) -> bool:
        """True when reading ``x`` back costs no device synchronisation."""
        return True

    def to_numpy(self, x: Any) -> np.ndarray:
        """``x`` as a host ``numpy.ndarray``."""
        return np.asarray(x)

    def import_from_device(self, xp: Any, x: Any, device: Any) -> Any:
        """``x``, an array of another library off the host, as one of this library on ``device`` without a
        round trip through the host (DLPack between two accelerators), or ``None`` where that cannot be done."""
        if not self.dlpack_between_devices:
            return None
        try:
            return xp.from_dlpack(x)
        except Exception:  # noqa: BLE001 - an exporter or device pair without DLPack support: go through the host
            return None

    def import_library(self, module: str, namespace: str, what: str) -> tuple[Any, Any]:
        """``(module, its Array API namespace)`` imported, or :class:`BackendUnavailableError` saying it needs
        ``what`` and how to install it."""
        try:
            return importlib.import_module(module), importlib.import_module(namespace)
        except ImportError as e:
            raise BackendUnavailableError(f"backend {self.name!r} needs {what}: {self.install}") from e

    def draws_on_device(self, x: Any) -> bool:
        """True when random numbers shaped like ``x`` are drawn where ``x`` lives (:meth:`device_rng`)."""
        return False

    def device_rng(self, x: Any, seed: int) -> Any:
        """A new generator on ``x``'s device, seeded with ``seed`` (only where :meth:`draws_on_device`)."""
        raise NotImplementedError

    def uniform_like(self, x: Any, generator: Any) -> Any:
        """Uniform [0, 1) numbers shaped like ``x`` and of its dtype, drawn by ``generator`` on ``x``'s device."""
        raise NotImplementedError

    def numpy_module(self) -> Any:
        """The library's module when it is a NumPy work-alike (``numpy``, ``cupy``), else ``None``."""
        return None

    def __repr__(self) -> str:
        return f"Library({self.name!r})"


_LOADED: dict[str, Library] = {}
_BY_TYPE: dict[type, Library | None] = {}


def library(name: str) -> Library:
    """The :class:`Library` of backend ``name`` (a key of ``LIBRARIES``)."""
    lib = _LOADED.get(name)
    if lib is None:
        lib = importlib.import_module(f"{__package__}.{LIBRARIES[name]}").LIBRARY
        _LOADED[name] = lib
    return lib


def library_of(x: Any) -> Library | None:
    """The :class:`Library` whose array ``x`` is, or ``None`` (scalars, lists, another library's arrays).

    One dict lookup by ``type(x)`` once a type has been seen.
    """
    t = type(x)
    try:
        return _BY_TYPE[t]
    except KeyError:
        pass
    found = None
    for name in LIBRARIES:
        lib = library(name)
        if lib.owns(x):
            found = lib
            break
    _BY_TYPE[t] = found
    return found
