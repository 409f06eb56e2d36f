"""NumPy's softmax with loss, its helpers: rows reduced fast, the buffers, and whether a lent buffer is still held.

Used by :class:`~.numpy.NumpyKernels` (``softmax_xent`` and ``softmax_xent_ignoring``).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

# Rows of scores at most this long, when there are more rows than columns, are reduced (maximum, sum) over a
# transposed copy: NumPy reduces along a short row slowly. Measured: a (100, 10) row maximum takes 7 us directly and
# 1.8 us as a copy plus a reduction down the columns; (700, 13), seq2seq's scores, 51 us against 5.7 us.
SHORT_ROW = 32


def short_rows(M: int, V: int) -> bool:
    """Whether ``(M, V)`` scores are reduced over a transposed copy (see ``SHORT_ROW``)."""
    return V <= SHORT_ROW and M > V


def row_reduce(op: Any, x: Any, out: Any, xt: Any) -> Any:
    """``op.reduce(x, axis=1)`` into ``out`` ``(M,)`` for ``x`` ``(M, V)``; over a transposed copy in ``xt``
    ``(V, M)`` when given (a reduction down contiguous columns), directly otherwise."""
    if xt is None:
        return op.reduce(x, axis=1, out=out)
    xt[...] = x.T  # (not np.copyto: its __array_function__ dispatcher is a Python call per step)
    return op.reduce(xt, axis=0, out=out)


def _refs(store: dict, name: str) -> int:
    return sys.getrefcount(store[name])


# references to an array only ``store`` holds, as ``_refs`` counts them (calibrated: interpreters count differently)
_ONLY_IN_STORE = _refs({"a": np.empty(0)}, "a")


def held_elsewhere(store: dict, name: str) -> bool:
    """Whether ``store[name]`` is referenced outside ``store``: a gradient returned over it (or a view of it) kept."""
    return name in store and _refs(store, name) > _ONLY_IN_STORE


def xent_buffers(N: int, C: int, dtype: Any, label_dtype: Any) -> tuple:
    """The buffers of ``NumpyKernels.softmax_xent`` for ``(N, C)`` scores: ``(y, y's flat view, a wide (N, C)
    scratch, a row (N, 1), a column (N,), the labels' flat indices, the rows' start indices, the weights -1/N of
    the mean, dx, dx's flat view, a transposed (C, N) scratch for short rows (else None), the row's (N,) view, their
    key)``. The tuple is also what backward is given (``y`` first, as ``softmax_of`` reads it)."""
    y, dx, row = np.empty((N, C), dtype=dtype), np.empty((N, C), dtype=dtype), np.empty((N, 1), dtype=dtype)
    return (
        y,
        y.reshape(-1),
        np.empty((N, C), dtype=dtype),
        row,
        np.empty(N, dtype=dtype),
        np.empty(N, dtype=np.intp),
        np.arange(N, dtype=np.intp) * C,
        np.full(N, -1.0 / N, dtype=dtype),
        dx,
        dx.reshape(-1),
        np.empty((C, N), dtype=dtype) if short_rows(N, C) else None,
        row.reshape(N),
        (N, C, dtype, label_dtype),
    )
