"""The ``"array_api_strict"`` backend: the standard and nothing else, the judge of the test matrix.

It runs the reference kernels. Its default device is the host; its other devices (``"device1"``,
...) stand in for an accelerator, so the tests take the GPU code paths there (random numbers
are still drawn on the host: it has no generator of its own).
"""

from __future__ import annotations

import importlib
from typing import Any

import array_api_compat
import numpy as np

from ._kernels import REFERENCE
from ._registry import Library


def _strict() -> Any:
    return importlib.import_module("array_api_strict")


class ArrayApiStrictLibrary(Library):
    """array-api-strict: the standard and nothing else; its ``device1`` and ``device2`` stand in for a GPU."""

    name = "array_api_strict"
    install = "pip install array-api-strict"
    kernels = REFERENCE

    def owns(self, x: Any) -> bool:
        namespace = getattr(x, "__array_namespace__", None)
        return namespace is not None and array_api_compat.is_array_api_strict_namespace(namespace())

    def resolve(self, device: Any) -> tuple[Any, Any]:
        _, xp = self.import_library("array_api_strict", "array_api_strict", "array-api-strict")
        if isinstance(device, str):
            device = xp.Device(device)
        return xp, device if device is not None else xp.Device("CPU_DEVICE")

    def on_host(self, x: Any) -> bool:
        return x.device == _strict().Device("CPU_DEVICE")

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.from_dlpack(x)


LIBRARY = ArrayApiStrictLibrary()
