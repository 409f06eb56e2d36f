"""The kernels the Array API standard lacks (scatter-add, writes into a given buffer, in-place updates).

How the table works
-------------------
:class:`Kernels` holds every kernel ONCE, written on the standard only: the reference, correct
on any Array API library (array_api_strict runs it, on both of its devices). Each library's file
(``numpy.py``, ``cupy.py``, ``torch.py``) subclasses it and overrides the kernels its library
does faster (``out=``, ``np.add.at``, ``index_add_``, ...), with the same results. A public
function (:func:`index_add`, ...) checks its arguments once, then dispatches by the type of its
first array: :func:`kernels_for` is one dict lookup after the first call with that type.

Adding a kernel
---------------
1. Write the reference as a method of :class:`Kernels`, on the standard only (``get_namespace``
   of the inputs, no library names); its arguments are already checked.
2. Add the public function at the end of this file, ``return kernels_for(x).name(x, ...)``, with
   the docstring (shapes, dtypes, what is written in place), and export it from ``__init__.py``.
3. Override the method in ``numpy.py`` / ``cupy.py`` / ``torch.py`` where the library has
   something faster; a library without an override runs the reference.
4. Add a case to ``tests/test_kernels.py`` (``CASES``): the test fails for a kernel without one,
   and checks the reference against NumPy and every override against the reference, on every backend.
"""

from __future__ import annotations

from typing import Any

from ._inputs import array_device, get_namespace
from ._registry import library_of


class Kernels:
    """The reference kernels, on the Array API standard only. Libraries subclass it and override methods."""

    # Elements of the one-hot block the reference index_add builds at a time (32 MiB in float64).
    index_add_block = 1 << 22

    def matmul_into(self, out: Any, a: Any, b: Any) -> None:
        out[...] = a @ b

    def sum_into(self, out: Any, a: Any) -> None:
        out[...] = get_namespace(a).sum(a, axis=0)

    def out_buffer(self, x: Any) -> Any:
        return None  # the standard has no out=: the reference kernels need no scratch

    def adam_update(
        self, param: Any, grad: Any, m: Any, v: Any, lr_t: float, beta1: float, beta2: float, eps: float, scratch: Any
    ) -> None:
        m += (1 - beta1) * (grad - m)
        v += (1 - beta2) * (grad * grad - v)
        param -= lr_t * m / (get_namespace(v).sqrt(v) + eps)

    def index_add(self, dst: Any, idx: Any, src: Any) -> Any:
        xp = get_namespace(dst, idx, src)
        if xp.isdtype(dst.dtype, "integral"):
            return _index_add_sorted(dst, idx, src)
        # floats: one-hot products, V x block at a time
        V = dst.shape[0]
        flat = xp.reshape(src, (src.shape[0], -1))
        step = max(1, self.index_add_block // max(V, 1))
        total = xp.reshape(dst, (V, -1))
        M = idx.shape[0]
        for start in range(0, M, step):
            stop = min(start + step, M)
            block = self.one_hot(idx[start:stop], V, dst.dtype)  # (m, V)
            total = total + block.T @ flat[start:stop, ...]
        dst[...] = xp.reshape(total, dst.shape)
        return dst

    def one_hot(self, t: Any, n_classes: int, dtype: Any) -> Any:
        # a comparison with arange: the standard has no integer-array writes (y[i, t] = 1)
        xp = get_namespace(t)
        classes = xp.arange(n_classes, dtype=t.dtype, device=array_device(t))
        return xp.astype(t[..., None] == classes, dtype)

    def exp_inplace(self, x: Any) -> Any:
        return get_namespace(x).exp(x)  # the standard cannot write over x: a new array

    def add_at_labels(self, dst: Any, t: Any, value: Any) -> Any:
        if not isinstance(value, (int, float)):
            value = value[:, None]
        dst += self.one_hot(t, dst.shape[1], dst.dtype) * value
        return dst


def _index_add_sorted(dst: Any, idx: Any, src: Any) -> Any:
    """The reference ``index_add`` for integers, in ``O((M + V) log M)``: the rows sorted by id, their running sums,
    and each id's sum as the difference of the running sums at its first and past its last row (exact for
    integers; one-hot products take ``M x V``, quadratic for a co-occurrence matrix)."""
    xp = get_namespace(dst, idx, src)
    V, M = dst.shape[0], idx.shape[0]
    order = xp.argsort(idx, stable=True)
    keys = xp.take(idx, order)
    rows = xp.take(xp.reshape(src, (M, -1)), order, axis=0)
    sums = xp.cumulative_sum(xp.astype(rows, xp.int64), axis=0, include_initial=True)  # (M + 1, D)
    ids = xp.arange(V, dtype=keys.dtype, device=array_device(dst))
    lo, hi = xp.searchsorted(keys, ids, side="left"), xp.searchsorted(keys, ids, side="right")
    total = xp.take(sums, hi, axis=0) - xp.take(sums, lo, axis=0)
    dst[...] = dst + xp.astype(xp.reshape(total, dst.shape), dst.dtype)
    return dst


REFERENCE = Kernels()
_BY_TYPE: dict[type, Kernels] = {}


def kernels_for(x: Any) -> Kernels:
    """The :class:`Kernels` of ``x``'s library (the reference for a library without its own)."""
    k = _BY_TYPE.get(type(x))
    if k is None:
        lib = library_of(x)
        k = lib.kernels if lib is not None else REFERENCE
        _BY_TYPE[type(x)] = k
    return k


# --- the public kernels: arguments checked here, the work done by kernels_for(first array) ---------------


def matmul_into(out: Any, a: Any, b: Any) -> None:
    """``out[...] = a @ b``, written straight into ``out`` where the library can (NumPy, CuPy: no temporary).

    ``out`` must already have the result's shape and dtype.
    """
    kernels_for(out).matmul_into(out, a, b)


def sum_into(out: Any, a: Any) -> None:
    """``out[...] = sum(a, axis=0)``, without a temporary where the library allows it."""
    kernels_for(out).sum_into(out, a)


def out_buffer(x: Any) -> Any:
    """A scratch array shaped like ``x`` where the library computes through ``out=`` (NumPy), else ``None``."""
    return kernels_for(x).out_buffer(x)


def adam_update(
    param: Any, grad: Any, m: Any, v: Any, lr_t: float, beta1: float, beta2: float, eps: float, scratch: Any = None
) -> None:
    """One Adam step in place: ``m += (1-b1)(g-m)``, ``v += (1-b2)(g*g-v)``, ``param -= lr_t m / (sqrt(v)+eps)``.

    NumPy computes it through ``out=`` into ``scratch`` (from :func:`out_buffer`): no temporary
    arrays, which for large embeddings is most of the step. Other libraries (or no ``scratch``)
    use the standard expressions.
    """
    kernels_for(param).adam_update(param, grad, m, v, lr_t, beta1, beta2, eps, scratch)


def index_add(dst: Any, idx: Any, src: Any) -> Any:
    """``dst[idx[i], ...] += src[i, ...]`` for every ``i``, in place, adding up repeated indices; returns ``dst``.

    ``dst`` is ``(V, ...)``, ``idx`` integer ``(M,)`` with ids in ``[0, V)`` and ``src`` ``(M, ...)``
    (other shapes raise ``ValueError``; ids outside the range are not checked, since that would read
    them back, and behave differently per library). The standard has no
    scatter-add (``array_api_extra.at(...).add`` loses repeated indices), so each library's own
    is used: NumPy ``np.add.at`` (computed by rounds of fancy ``+=``, which is faster), CuPy
    ``cupy.add.at``, torch ``index_add_``; any other namespace gets sorted running sums for integers and
    one-hot products, ``V`` x block at a time, for floats: both only need the standard.
    """
    if idx.ndim != 1 or tuple(src.shape) != (idx.shape[0], *dst.shape[1:]):
        raise ValueError(
            f"index_add: ids of shape {tuple(idx.shape)} and rows of shape {tuple(src.shape)} do not fit "
            f"a destination of shape {tuple(dst.shape)}: expected ids (M,) and rows (M, *{tuple(dst.shape[1:])})"
        )
    if idx.shape[0] == 0:
        return dst
    kernels_for(dst).index_add(dst, idx, src)
    return dst


def one_hot(t: Any, n_classes: int, dtype: Any) -> Any:
    """Integer labels ``t`` of any shape as one-hot ``(*t.shape, n_classes)`` of ``dtype``."""
    return kernels_for(t).one_hot(t, n_classes, dtype)


def exp_inplace(x: Any) -> Any:
    """``exp(x)`` written over ``x`` where the library can (NumPy, CuPy, torch: no new array); returns the result.

    The caller must own ``x``. Large temporaries cost more than their arithmetic on a CPU
    (a fresh (700, 10000) array is 7,000 page faults), so the vocabulary-sized softmax reuses its buffer.
    """
    return kernels_for(x).exp_inplace(x)


def add_at_labels(dst: Any, t: Any, value: Any) -> Any:
    """``dst[i, t[i]] += value[i]`` for every row ``i``, in place; returns ``dst`` (``(M, C)``, integer ``t`` ``(M,)``,
    ``value`` a number or an array ``(M,)``).

    The standard has no integer-array writes; NumPy, CuPy and torch index directly (one
    element per row), the reference adds ``value`` times a one-hot block.
    """
    return kernels_for(dst).add_at_labels(dst, t, value)
