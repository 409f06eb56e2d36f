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
from ._step_kernels import StepKernels


class Kernels(StepKernels):
    """The reference kernels, on the Array API standard only. Libraries subclass it and override methods.

    The kernels of the training step (layers' fused forward/backward passes, optimizer updates, graph
    capture) are inherited from :class:`~._step_kernels.StepKernels`; their cases are in tests/test_lean.py."""

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

    def index_add(self, dst: Any, idx: Any, src: Any, store: Any = None) -> Any:
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

    def lstm_cell_forward(self, a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
        xp = get_namespace(a, hw, c_prev, gates)
        H = c.shape[-1]
        z = a + hw
        f, g = _sigmoid(xp, z[:, :H]), xp.tanh(z[:, H : 2 * H])
        i, o = _sigmoid(xp, z[:, 2 * H : 3 * H]), _sigmoid(xp, z[:, 3 * H :])
        gates[...] = xp.concat([f, g, i, o], axis=1)
        c[...] = f * c_prev + g * i
        h[...] = o * xp.tanh(c)

    def lstm_cell_backward(self, dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
        xp = get_namespace(dh_up, dh_rec, dc, gates)
        H = c.shape[-1]
        f, g, i, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
        dht = dh_up + dh_rec
        tc = xp.tanh(c)
        ds = dc + dht * o * (1.0 - tc * tc)
        dfgio = [ds * c_prev * f * (1.0 - f), ds * i * (1.0 - g * g), ds * g * i * (1.0 - i), dht * tc * o * (1.0 - o)]
        da[...] = xp.concat(dfgio, axis=1)
        dc[...] = ds * f

    def lstm_step_forward(self, a: Any, h_prev: Any, Wh: Any, c_prev: Any, gates: Any, c: Any, h: Any, hw: Any) -> None:
        self.matmul_into(hw, h_prev, Wh)
        self.lstm_cell_forward(a, hw, c_prev, gates, c, h)

    def lstm_step_backward(
        self, dh_up: Any, da_next: Any, Wh: Any, dh: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any
    ) -> None:
        if da_next is None:
            dh[...] = 0.0
        else:
            self.matmul_into(dh, da_next, Wh.T)
        self.lstm_cell_backward(dh_up, dh, dc, gates, c, c_prev, da)

    def lstm_sequence(self, xs: Any, Wx: Any, Wh: Any, b: Any, h0: Any, c0: Any) -> Any:
        return None  # the standard has no whole-sequence op: the caller runs its time loop

    def clip_by_global_norm(self, grads: list[Any], max_norm: float) -> None:
        xp = get_namespace(*grads)
        total = xp.sum(grads[0] * grads[0])
        for g in grads[1:]:
            total = total + xp.sum(g * g)
        rate = xp.minimum(max_norm / (xp.sqrt(total) + 1e-6), 1.0)
        for g in grads:
            g *= xp.astype(rate, g.dtype, copy=False)


def _sigmoid(xp: Any, z: Any) -> Any:
    return 0.5 * xp.tanh(0.5 * z) + 0.5  # no overflow for large |z|; the overrides compute the same


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


def index_add(dst: Any, idx: Any, src: Any, store: Any = None) -> Any:
    """``dst[idx[i], ...] += src[i, ...]`` for every ``i``, in place, adding up repeated indices; returns ``dst``.

    ``dst`` is ``(V, ...)``, ``idx`` integer ``(M,)`` with ids in ``[0, V)`` and ``src`` ``(M, ...)``
    (other shapes raise ``ValueError``; ids outside the range are not checked, since that would read
    them back, and behave differently per library). The standard has no
    scatter-add (``array_api_extra.at(...).add`` loses repeated indices), so each library's own
    is used: NumPy ``np.add.at`` (computed by rounds of fancy ``+=``, which is faster), CuPy
    ``cupy.add.at``, torch ``index_add_``; any other namespace gets sorted running sums for integers and
    one-hot products, ``V`` x block at a time, for floats: both only need the standard. ``store`` (a caller's
    dict, optional): NumPy gathers the rows through buffers kept there (a warm call allocates only the ids'
    bookkeeping).

    >>> import numpy as np
    >>> from xpnet.backend import index_add
    >>> dW = np.zeros((3, 2))
    >>> index_add(dW, np.array([0, 2, 0]), np.ones((3, 2))).tolist()  # row 0 is named twice: it gets both
    [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
    """
    if idx.ndim != 1 or tuple(src.shape) != (idx.shape[0], *dst.shape[1:]):
        raise ValueError(
            f"index_add: ids of shape {tuple(idx.shape)} and rows of shape {tuple(src.shape)} do not fit "
            f"a destination of shape {tuple(dst.shape)}: expected ids (M,) and rows (M, *{tuple(dst.shape[1:])})"
        )
    if idx.shape[0] == 0:
        return dst
    kernels_for(dst).index_add(dst, idx, src, store)
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


def lstm_cell_forward(a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
    """One LSTM time step's element-wise work, fused into one kernel where the library allows (CuPy: one
    ``ElementwiseKernel``; torch: one custom op; NumPy: ``out=`` into the given arrays, nothing allocated).

    From the pre-activations ``a + hw`` ``(N, 4H)`` (``a = x @ Wx + b`` of the step, ``hw = h_prev @ Wh``),
    gates in the book's order f, g, i, o, writes the activated gates ``[sigmoid f, tanh g, sigmoid i,
    sigmoid o]`` into ``gates`` ``(N, 4H)``, ``c = f * c_prev + g * i`` into ``c`` ``(N, H)`` and
    ``h = o * tanh(c)`` into ``h`` ``(N, H)``. One floating dtype; arguments may be strided views.
    """
    kernels_for(gates).lstm_cell_forward(a, hw, c_prev, gates, c, h)


def lstm_cell_backward(dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
    """The gradient through one LSTM step (what :func:`lstm_cell_forward` stored), fused like it.

    ``dh_up`` ``(N, H)``: the gradient of ``h`` from the layer above; ``dh_rec`` ``(N, H)``: from the
    next step (``da_next @ Wh.T``), used as scratch; ``dc`` ``(N, H)``: the gradient of ``c`` from the
    next step, replaced by that of ``c_prev``. Writes the gradient of the pre-activations into ``da`` ``(N, 4H)``.
    """
    kernels_for(gates).lstm_cell_backward(dh_up, dh_rec, dc, gates, c, c_prev, da)


#: Class counts up to this one run softmax-with-loss as one kernel over the rows (one thread per row: its maximum,
#: exponentials, sum, label and loss term), then the mean; more classes take the library's row reductions.
FUSED_XENT_MAX_C = 1024

#: Hidden sizes up to this one run a whole LSTM time step (``h_prev @ Wh`` with the gates) as one kernel where the
#: library has one (CuPy; the torch op that stands for it): each thread computes its unit's four dot products, which
#: beats a matrix product plus an element-wise kernel while launches dominate; larger layers take the two kernels.
FUSED_STEP_MAX_H = 256


def lstm_step_forward(a: Any, h_prev: Any, Wh: Any, c_prev: Any, gates: Any, c: Any, h: Any, hw: Any) -> None:
    """One whole LSTM time step: ``hw = h_prev @ Wh`` (``(N, H)`` by ``(H, 4H)``), then :func:`lstm_cell_forward`
    (``a``, ``c_prev``, ``gates``, ``c``, ``h`` as there). ``hw`` ``(N, 4H)`` is scratch. One kernel on CuPy for
    ``H <= FUSED_STEP_MAX_H`` (the product computed by the gate kernel itself; one op on torch), else two."""
    kernels_for(gates).lstm_step_forward(a, h_prev, Wh, c_prev, gates, c, h, hw)


def lstm_step_backward(
    dh_up: Any, da_next: Any, Wh: Any, dh: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any
) -> None:
    """One whole LSTM time step backward: the gradient reaching ``h`` from the next step, ``da_next @ Wh.T``
    (``None`` at the last step: zeros), then :func:`lstm_cell_backward` (``dh_up``, ``dc``, ``gates``, ``c``,
    ``c_prev``, ``da`` as there). ``dh`` ``(N, H)`` is scratch. Fused like :func:`lstm_step_forward`; the caller
    computes the gradient of the first step's ``h_prev`` (``da_0 @ Wh.T``) after its loop."""
    kernels_for(gates).lstm_step_backward(dh_up, da_next, Wh, dh, dc, gates, c, c_prev, da)


_LIBRARY_RNN = [True]


class library_rnn:  # noqa: N801 - a context manager, used like a function
    """``with library_rnn(False):`` keeps :func:`lstm_sequence` from handing sequences to the library's own LSTM op,
    so ``TimeLSTM`` runs the portable time loop (the path CuPy and NumPy take); ``True`` (the default) allows it."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = bool(enabled)

    def __enter__(self) -> None:
        _LIBRARY_RNN.append(self.enabled)

    def __exit__(self, *exc: Any) -> None:
        _LIBRARY_RNN.pop()


def lstm_sequence(xs: Any, Wx: Any, Wh: Any, b: Any, h0: Any, c0: Any) -> Any:
    """A whole LSTM sequence by the library's own op (PyTorch: ``torch.lstm``, cuDNN on CUDA), or ``None`` where the
    library has none or :class:`library_rnn` switched it off (the caller runs its time loop).

    ``xs`` ``(N, T, D)``; ``Wx`` ``(D, 4H)``, ``Wh`` ``(H, 4H)``, ``b`` ``(4H,)`` in the book's layout
    and gate order; ``h0``, ``c0`` ``(N, H)``, or ``None`` for zeros. Returns ``(hs, h_T, c_T, backward)``:
    ``hs`` ``(N, T, H)``, the last states ``(N, H)``, and ``backward(dhs)`` giving ``(dWx, dWh, db, dh0, dxs)``.
    """
    if not _LIBRARY_RNN[-1]:
        return None
    return kernels_for(xs).lstm_sequence(xs, Wx, Wh, b, h0, c0)


def clip_by_global_norm(grads: list[Any], max_norm: float) -> None:
    """Scale every array in ``grads`` in place by ``min(1, max_norm / (norm + 1e-6))``, ``norm`` their joint L2 norm.

    The factor stays on the device (nothing is read back). torch: ``_foreach_norm`` and
    ``_foreach_mul_`` (a few kernels for any number of arrays); NumPy: dot products and
    in-place scaling (nothing allocated); elsewhere one reduction and one scaling per array.
    ``grads`` share one floating dtype; an empty list does nothing.
    """
    if grads:
        kernels_for(grads[0]).clip_by_global_norm(list(grads), max_norm)
