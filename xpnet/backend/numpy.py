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

from . import _numpy_lstm
from ._kernels import Kernels
from ._numpy_rows import held_elsewhere, row_reduce, short_rows, xent_buffers
from ._registry import Library
from ._step_kernels import LOSS_EPS, windows

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


# Elements of bias rows added at a time by NumpyKernels.affine (a block, not the whole output, is copied).
ROWS_BLOCK = 1 << 16


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

    def index_add(self, dst: Any, idx: Any, src: Any, store: Any = None) -> Any:
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
        if store is not None and src.dtype == dst.dtype and dst.ndim == 2 and idx.dtype == np.int64:
            return self._index_add_buffered(dst, idx, src, store)
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

    def _index_add_buffered(self, dst: Any, idx: Any, src: Any, store: dict) -> Any:
        """:meth:`index_add`'s rounds (the same sums in the same order) through ``store``'s buffers: ids sorted by
        ``id * M + position`` in place (the stable order), each round's rows gathered with ``np.take(out=)``."""
        M = idx.shape[0]
        pos = store.get("index_add_pos")
        if pos is None or pos.shape[0] != M:
            pos = store["index_add_pos"] = np.arange(M, dtype=np.int64)
        key, order, s, rank = (self.buffer(store, f"index_add_{n}", (M,), idx) for n in ("key", "order", "s", "rank"))
        np.multiply(idx, M, out=key)
        key += pos
        key.sort()
        np.remainder(key, M, out=order)
        np.floor_divide(key, M, out=s)
        starts = self.buffer(store, "index_add_starts", (M,), idx, bool)
        starts[0] = True
        np.not_equal(s[1:], s[:-1], out=starts[1:])
        np.copyto(rank, starts)
        rank *= pos  # where(starts, pos, 0)
        np.maximum.accumulate(rank, out=rank)
        np.subtract(pos, rank, out=rank)
        top = int(rank.max())
        np.multiply(rank, M, out=key)  # the positions grouped by rank: rank * M + position, sorted
        key += order
        key.sort()
        np.remainder(key, M, out=order)
        rows, got = (self.buffer(store, f"index_add_{n}", src.shape, src) for n in ("rows", "got"))
        for k in range(min(top, INDEX_ADD_ROUNDS) + 1):
            last = k == INDEX_ADD_ROUNDS
            lo = int(np.searchsorted(key, k * M))
            hi = M if last else int(np.searchsorted(key, (k + 1) * M))
            n = hi - lo
            np.take(idx, order[lo:hi], out=s[:n], mode="wrap")  # the round's ids (distinct within a round)
            np.take(src, order[lo:hi], axis=0, out=rows[:n], mode="wrap")  # (mode="raise" would buffer)
            if last:  # heavy repetition: the rest at once
                np.add.at(dst, s[:n], rows[:n])
                break
            np.take(dst, s[:n], axis=0, out=got[:n], mode="wrap")
            got[:n] += rows[:n]
            dst[s[:n]] = got[:n]
        return dst

    def exp_inplace(self, x: Any) -> Any:
        return np.exp(x, out=x)

    def add_at_labels(self, dst: Any, t: Any, value: Any) -> Any:
        dst[np.arange(dst.shape[0]), t] += value
        return dst

    writes_out = True

    def axpy(self, y: Any, a: float, x: Any, scratch: Any = None) -> None:
        if scratch is None:
            y += a * x
            return
        np.multiply(x, a, out=scratch)
        y += scratch

    def _by_row(self, op: Any, x: Any, col: Any, out: Any, store: dict) -> Any:
        """``op(x, col[:, None], out=out)`` for ``x`` ``(M, V)`` and ``col`` ``(M,)`` or ``(M, 1)``, nothing allocated:
        rows of at least ``np.getbufsize()`` elements are iterated unbuffered, so the broadcast is direct (one pass);
        shorter rows would make the ufunc buffer them, so ``col`` is copied into a block of rows at a time."""
        M, V = x.shape
        col = np.reshape(col, (M, 1))
        if np.getbufsize() <= V:
            return op(x, col, out=out)
        k = max(1, min(M, ROWS_BLOCK // max(V, 1)))
        block = self.buffer(store, "by_row", (k, V), x)
        for i in range(0, M, k):
            j = min(i + k, M)
            np.copyto(block[: j - i], col[i:j])
            op(x[i:j], block[: j - i], out=out[i:j])
        return out

    def affine(self, x: Any, W: Any, b: Any, store: dict | None = None) -> Any:
        if store is None:
            out = x @ W
            out += b
            return out
        # b copied into a block of rows, then same-shape adds block by block: a broadcasting add would allocate, and
        # b copied into every row is one more pass over an output as large as the RNNLM's (N T, V) scores
        n, m = x.shape[0], W.shape[1]
        bufs = store.get("affine")
        if bufs is None or bufs[0].shape != (n, m) or bufs[0].dtype != x.dtype:
            k = max(1, min(n, ROWS_BLOCK // max(m, 1)))
            bufs = store["affine"] = (np.empty((n, m), dtype=x.dtype), np.empty((k, m), dtype=x.dtype))
        out, rows = bufs
        np.matmul(x, W, out=out)
        rows[...] = b
        k = rows.shape[0]
        if k == n:
            out += rows
            return out
        for i in range(0, n - k + 1, k):
            out[i : i + k] += rows
        if n % k:
            out[n - n % k :] += rows[: n % k]
        return out

    def affine_backward(self, x: Any, dout: Any, W: Any, dW: Any, db: Any, store: Any, input_grad: bool = True) -> Any:
        np.matmul(x.T, dout, out=dW)
        np.add.reduce(dout, axis=0, out=db)
        if not input_grad:
            return None
        dx = self.buffer(store, "dx", (dout.shape[0], W.shape[0]), dout)
        return np.matmul(dout, W.T, out=dx)

    def relu(self, x: Any, store: dict | None = None) -> Any:
        out = self.buffer(store, "out", x.shape, x)
        if out is not None and not x.flags.c_contiguous:  # a strided input would make the ufunc buffer it
            np.copyto(out, x)
            x = out
        return np.maximum(x, 0.0, out=out, dtype=x.dtype)

    def channel_rows(self, dout: Any, store: Any) -> Any:
        N, C, H, W = dout.shape
        rows = self.buffer(store, "rows", (N * H * W, C), dout)
        if rows is None:
            return super().channel_rows(dout, store)
        np.copyto(rows.reshape(N, H, W, C), dout.transpose(0, 2, 3, 1))
        return rows

    def maxpool(self, x: Any, ph: int, pw: int, stride: int, pad: int, store: Any) -> tuple[Any, Any]:
        """Each window cell's strided view copied into one buffer, then a same-shape ``maximum`` (NumPy buffers a
        strided ufunc input: an allocation)."""
        if store is None or pad or x.dtype.kind != "f":
            return super().maxpool(x, ph, pw, stride, pad, store)
        N, C, H, W = x.shape
        oh, ow = (H - ph) // stride + 1, (W - pw) // stride + 1
        keys = windows(ph, pw, stride, oh, ow)
        out = self.buffer(store, "out", (N, C, oh, ow), x)
        cell = self.buffer(store, "cell", (N, C, oh, ow), x)
        np.copyto(out, x[keys[0]])
        for key in keys[1:]:
            np.copyto(cell, x[key])
            np.maximum(out, cell, out=out)
        return out, ("numpy", x, out, keys, stride < ph or stride < pw)

    def maxpool_backward(self, dout: Any, saved: Any, store: Any) -> Any:
        if not isinstance(saved[0], str):  # the reference's (forward without a store)
            return super().maxpool_backward(dout, saved, store)
        _, x, out, keys, overlap = saved
        dx = self.buffer(store, "dx", x.shape, dout)
        rest, take = self.buffer(store, "rest", dout.shape, dout), self.buffer(store, "take", dout.shape, dout)
        cell, hit = self.buffer(store, "cell", dout.shape, dout), self.buffer(store, "hit", dout.shape, dout, bool)
        dx.fill(0)
        np.copyto(rest, dout)
        for k, key in enumerate(keys):  # each window's gradient to its first maximal cell
            np.copyto(cell, x[key])  # (a strided or mixed-dtype ufunc operand would be buffered: an allocation)
            np.equal(cell, out, out=hit)
            np.copyto(cell, hit)
            np.multiply(rest, cell, out=take)
            if overlap:
                dx[key] += take
            else:
                dx[key] = take
            if k + 1 < len(keys):
                rest -= take  # what no earlier cell took
        return dx

    def take_rows(self, W: Any, idx: Any, store: Any = None) -> Any:
        out = self.buffer(store, "rows", (idx.shape[0], *W.shape[1:]), W)
        if out is None or not idx.shape[0] or idx.min() < -W.shape[0] or idx.max() >= W.shape[0]:
            return np.take(W, idx, axis=0)  # (out of range: take's own IndexError)
        return np.take(W, idx, axis=0, out=out, mode="wrap")  # mode="raise" would buffer the result

    def softmax_xent_ignoring(self, x: Any, t: Any, ignore_label: int, store: Any) -> tuple[Any, Any]:
        """The reference's arithmetic in the same order, through ``out=`` into ``store``'s buffers: the labels'
        entries are read and written by flat index (``np.take``/``np.put``), so nothing of the batch's size is new."""
        if store is None or type(x) is not np.ndarray or x.shape[0] == 0:
            return super().softmax_xent_ignoring(x, t, ignore_label, store)
        M, V = x.shape
        ignored, inside, bad = (self.buffer(store, n, (M,), t, bool) for n in ("ignored", "inside", "bad"))
        np.equal(t, ignore_label, out=ignored)
        np.greater_equal(t, 0, out=inside)
        np.logical_and(inside, np.less(t, V, out=bad), out=inside)
        keep = self.buffer(store, "keep", (M,), x)
        np.copyto(keep, np.logical_not(ignored, out=bad))
        count = np.maximum(np.add.reduce(keep), 1.0)
        np.logical_not(np.logical_or(inside, ignored, out=bad), out=bad)
        np.copyto(keep, np.nan, where=bad)  # a label neither a word nor ignored: NaN, as the reference
        flat = self.buffer(store, "flat", (M,), t)  # row * V + label (0 outside [0, V))
        np.copyto(flat, inside)
        flat *= t
        rows = store.get("row_starts")
        if rows is None or rows.shape[0] != M or rows.dtype != t.dtype or int(rows[-1]) != (M - 1) * V:
            rows = store["row_starts"] = np.arange(0, M * V, V, dtype=t.dtype)
        flat += rows
        # backward turns the softmax buffer into the gradient it returns; forward writes that buffer again unless the
        # gradient is still held (a numerical check's forwards keep it intact), then a second one: a training step,
        # whose gradient is consumed at once, keeps using one buffer (alternating two is ~5 % slower)
        name = store.get("lent", "e0")
        if held_elsewhere(store, name):
            name = "e1" if name == "e0" else "e0"
        e = self.buffer(store, name, (M, V), x)
        m = self.buffer(store, "max", (M,), x)
        xt = self.buffer(store, "xt", (V, M), x) if short_rows(M, V) else None
        row_reduce(np.maximum, x, m, xt)
        self._by_row(np.subtract, x, m, e, store)
        picked = np.take(e.reshape(-1), flat, out=self.buffer(store, "picked", (M,), x), mode="wrap")
        np.exp(e, out=e)
        s = row_reduce(np.add, e, self.buffer(store, "s", (M,), x), xt)
        logp = self.buffer(store, "logp", (M,), x)
        np.log(s, out=logp)
        np.subtract(picked, logp, out=logp)
        logp *= keep
        return -np.add.reduce(logp) / count, ("numpy", e, s, flat, keep, count, name)

    def softmax_xent_ignoring_backward(self, saved: Any, dout: Any, store: Any) -> Any:
        if saved[0] != "numpy":
            return super().softmax_xent_ignoring_backward(saved, dout, store)
        _, e, s, flat, keep, count, name = saved
        M, V = e.shape
        w = self.buffer(store, "w", (M,), e)
        np.multiply(keep, dout / count, out=w)
        r = self.buffer(store, "r", (M,), e)
        np.divide(w, s, out=r)
        dx = self._by_row(np.multiply, e, r, e, store)  # softmax * weight, over the forward's buffer
        store["lent"] = name
        at = np.take(dx.reshape(-1), flat, out=self.buffer(store, "at", (M,), e), mode="wrap")
        at -= w
        np.put(dx.reshape(-1), flat, at)
        return dx

    def relu_backward(self, dout: Any, y: Any, store: dict | None = None) -> Any:
        out = np.sign(y, out=self.buffer(store, "dx", y.shape, dout))  # y >= 0: its sign is the 0/1 mask
        out *= dout
        return out

    def multiply(self, a: Any, b: Any, store: Any, name: str) -> Any:
        return np.multiply(a, b, out=self.buffer(store, name, a.shape, a))

    def im2col(self, x: Any, fh: int, fw: int, stride: int, pad: int, store: Any) -> Any:
        return self.strided_im2col(x, fh, fw, stride, pad, store)

    def strided(self, x: Any, shape: tuple, strides: tuple) -> Any:
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)

    def copy_into(self, dst: Any, src: Any) -> None:
        np.copyto(dst, src)

    def dropout_mask(self, u: Any, ratio: float, store: Any) -> Any:
        m = self.buffer(store, "mask", u.shape, u)
        if m is None:
            return super().dropout_mask(u, ratio, store)
        np.greater(u, ratio, out=m)
        return m

    def softmax_xent(self, x: Any, t: Any, store: dict) -> tuple[Any, Any]:
        N, C = x.shape
        b = store.get("xent")
        if b is None or b[-1] != (N, C, x.dtype, t.dtype):
            b = store["xent"] = xent_buffers(N, C, x.dtype, t.dtype)
        y, y_flat, wide, row, col, flat, starts, weights, _, _, xt, row_flat, _ = b
        row_reduce(np.maximum, x, row_flat, xt)
        wide[...] = row  # the row maxima into every column: a broadcasting ufunc would buffer (allocate)
        np.subtract(x, wide, out=y)
        np.exp(y, out=y)
        row_reduce(np.add, y, row_flat, xt)
        wide[...] = row
        y /= wide
        if t.ndim == 2:  # the book's reading of (N, C) labels: the row's largest entry is the class
            t = t.argmax(axis=1, out=flat)
            flat += starts  # index of each label's probability in y.ravel()
        else:
            np.add(starts, t, out=flat, casting="unsafe")
        y_flat.take(flat, out=col, mode="wrap")  # ids checked before (mode="raise" would buffer the result)
        col += LOSS_EPS
        np.log(col, out=col)
        loss = np.empty((), dtype=x.dtype)  # new each step: callers keep losses (the trainer reads them later)
        col.dot(weights, out=loss)  # -sum(log(y_t + eps)) / N (the method: np.dot's dispatcher is a Python call)
        return loss, b

    def softmax_xent_backward(self, saved: Any, dout: Any, store: dict) -> Any:
        y, _, _, _, col, flat, _, _, dx, dx_flat, _, _, _ = saved
        scale = dout / y.shape[0]
        np.multiply(y, scale, out=dx)
        dx_flat.take(flat, out=col, mode="wrap")
        col -= scale
        dx_flat.put(flat, col, mode="wrap")
        return dx

    def lstm_cell_forward(self, a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
        _numpy_lstm.cell_forward(a, hw, c_prev, gates, c, h)

    def lstm_cell_backward(self, dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
        _numpy_lstm.cell_backward(dh_up, dh_rec, dc, gates, c, c_prev, da)

    def clip_by_global_norm(self, grads: list[Any], max_norm: float) -> None:
        total = 0.0
        for g in grads:
            flat = g.reshape(-1)  # a view of a contiguous gradient: vdot makes no g * g
            total += float(np.vdot(flat, flat))
        rate = min(max_norm / (math.sqrt(total) + 1e-6), 1.0)
        for g in grads:
            g *= rate


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
