"""The ``"torch"`` backend: PyTorch tensors on the CPU or a CUDA device.

Its namespace is array-api-compat's torch; tensors on a GPU draw their random numbers there
from a ``torch.Generator``; they come from CuPy through DLPack; the kernels use torch's in-place
operations (:class:`TorchKernels`). PyTorch is imported when the backend is resolved.
"""

from __future__ import annotations

import importlib
from typing import Any

import array_api_compat
import numpy as np

from ._kernels import Kernels
from ._registry import Library


def _torch() -> Any:
    return importlib.import_module("torch")


class TorchKernels(Kernels):
    """torch's kernels: ``index_add_``, ``exp_``, ``index_put_``."""

    def index_add(self, dst: Any, idx: Any, src: Any) -> Any:
        return dst.index_add_(0, idx, src)

    def exp_inplace(self, x: Any) -> Any:
        return x.exp_()

    def add_at_labels(self, dst: Any, t: Any, value: Any) -> Any:
        torch = _torch()
        rows = torch.arange(dst.shape[0], device=dst.device)
        if isinstance(value, (int, float)):
            value = torch.full((dst.shape[0],), value, dtype=dst.dtype, device=dst.device)
        dst.index_put_((rows, t), value, accumulate=True)
        return dst


class TorchLibrary(Library):
    name = "torch"
    install = "pip install 'xpnet[torch]'"
    kernels = TorchKernels()
    dlpack_between_devices = True

    def owns(self, x: Any) -> bool:
        return array_api_compat.is_torch_array(x)

    def resolve(self, device: Any) -> tuple[Any, Any]:
        torch, xp = self.import_library("torch", "array_api_compat.torch", "PyTorch, which is not installed")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return xp, torch.device(device)

    def on_host(self, x: Any) -> bool:
        return x.device.type == "cpu"

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()

    def draws_on_device(self, x: Any) -> bool:
        return x.device.type != "cpu"

    def device_rng(self, x: Any, seed: int) -> Any:
        g = _torch().Generator(device=x.device)
        g.manual_seed(seed)
        return g

    def uniform_like(self, x: Any, generator: Any) -> Any:
        return _torch().rand(x.shape, dtype=x.dtype, device=x.device, generator=generator)


LIBRARY = TorchLibrary()
