"""The ``"numpy"`` backend: NumPy arrays on the host, with NumPy's faster kernels.

Its namespace is array-api-compat's NumPy with ``sum`` and ``max`` taken from the ufuncs
(:class:`FastNumpy`); its kernels write through ``out=`` and scatter-add by rounds of fancy
indexing (:class:`NumpyKernels`).
"""

from __future__ import annotations

import math
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

    def lstm_cell_forward(self, a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
        H = c.shape[-1]
        scale, shift, _ = _lstm_constants(H, gates.dtype)
        np.add(a, hw, out=gates)
        gates *= scale  # sigmoid(z) = tanh(z/2)/2 + 1/2 on f, i, o and tanh on g: four passes over all gates
        np.tanh(gates, out=gates)
        gates *= scale
        gates += shift
        f, g, i, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
        np.multiply(f, c_prev, out=c)
        np.multiply(g, i, out=h)
        c += h
        np.tanh(c, out=h)
        h *= o

    def lstm_cell_backward(self, dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
        H = c.shape[-1]
        one = _lstm_constants(H, gates.dtype)[2]
        f, g, i, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
        df, dg, di, do = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : 3 * H], da[:, 3 * H :]
        dht = dh_rec
        dht += dh_up
        np.tanh(c, out=do)
        np.multiply(do, do, out=df)
        np.subtract(one, df, out=df)
        df *= o
        df *= dht
        dc += df  # dc is now ds = dc + dht * o * (1 - tanh(c)^2)
        do *= dht
        np.subtract(one, o, out=dg)
        dg *= o
        do *= dg  # dht * tanh(c) * o (1 - o)
        np.subtract(one, f, out=df)
        df *= f
        df *= c_prev
        df *= dc
        np.subtract(one, i, out=di)
        di *= i
        di *= g
        di *= dc
        np.multiply(g, g, out=dg)
        np.subtract(one, dg, out=dg)
        dg *= i
        dg *= dc
        dc *= f

    def clip_by_global_norm(self, grads: list[Any], max_norm: float) -> None:
        total = 0.0
        for g in grads:
            flat = g.reshape(-1)  # a view of a contiguous gradient: vdot makes no g * g
            total += float(np.vdot(flat, flat))
        rate = min(max_norm / (math.sqrt(total) + 1e-6), 1.0)
        for g in grads:
            g *= rate


_LSTM_CONSTANTS: dict[tuple[int, Any], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _lstm_constants(H: int, dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``scale``, ``shift`` ``(4H,)`` (``tanh(z * scale) * scale + shift`` is sigmoid on f, i, o, tanh on g) and a ``1``
    ``(1,)``, of ``dtype``, made once: no scalar becomes an array inside the time loop."""
    key = (H, np.dtype(dtype))
    if key not in _LSTM_CONSTANTS:
        scale = np.full(4 * H, 0.5, dtype=dtype)
        scale[H : 2 * H] = 1.0
        shift = np.full(4 * H, 0.5, dtype=dtype)
        shift[H : 2 * H] = 0.0
        _LSTM_CONSTANTS[key] = (scale, shift, np.ones(1, dtype=dtype))
    return _LSTM_CONSTANTS[key]


class NumpyLibrary(Library):
    """NumPy on the host: the default backend, with NumPy's faster kernels (``out=``, fancy ``+=``)."""

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
