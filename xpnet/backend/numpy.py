"""The ``"numpy"`` backend: NumPy arrays on the host, with NumPy's faster kernels.

Its namespace is array-api-compat's NumPy with ``sum`` and ``max`` taken from the ufuncs
(:class:`FastNumpy`); its kernels write through ``out=`` and scatter-add by rounds of fancy
indexing (:class:`NumpyKernels`).
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from ._kernels import Kernels
from ._registry import Library

# Rounds of distinct-id fancy additions before the rest goes to np.add.at (see NumpyKernels.index_add).
INDEX_ADD_ROUNDS = 8


class FastNumpy:
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


class NumpyKernels(Kernels):
    """NumPy's kernels: ``out=`` instead of temporaries, ``np.add.at`` made fast for rows."""

    def matmul_into(self, out: Any, a: Any, b: Any) -> None:
        np.matmul(a, b, out=out)

    def sum_into(self, out: Any, a: Any) -> None:
        np.add.reduce(a, axis=0, out=out)

    def out_buffer(self, x: Any) -> Any:
        return np.empty_like(x)

    def adam_update(
        self, param: Any, grad: Any, m: Any, v: Any, lr_t: float, beta1: float, beta2: float, eps: float, scratch: Any
    ) -> None:
        if scratch is None or type(grad) is not np.ndarray:
            super().adam_update(param, grad, m, v, lr_t, beta1, beta2, eps, scratch)
            return
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

    def index_add(self, dst: Any, idx: Any, src: Any) -> Any:
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
        return dst

    def exp_inplace(self, x: Any) -> Any:
        return np.exp(x, out=x)

    def add_at_labels(self, dst: Any, t: Any, value: Any) -> Any:
        dst[np.arange(dst.shape[0]), t] += value
        return dst


class NumpyLibrary(Library):
    name = "numpy"
    install = "pip install numpy"
    kernels = NumpyKernels()
    _namespace: FastNumpy | None = None

    def owns(self, x: Any) -> bool:
        return array_api_compat.is_numpy_array(x)

    def namespace(self) -> FastNumpy:
        if self._namespace is None:
            import array_api_compat.numpy

            NumpyLibrary._namespace = FastNumpy(array_api_compat.numpy)
        return self._namespace

    def resolve(self, device: Any) -> tuple[Any, Any]:
        return self.namespace(), "cpu"

    def wrap_namespace(self, xp: Any) -> Any:
        return self.namespace()

    def to_numpy(self, x: Any) -> np.ndarray:
        return x if isinstance(x, np.ndarray) else np.asarray(x)

    def numpy_module(self) -> Any:
        return np


LIBRARY = NumpyLibrary()
