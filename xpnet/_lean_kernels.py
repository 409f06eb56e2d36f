"""Fused kernels of the lean training step: a reference on the Array API standard, overridden per library.

Each kernel is a method of :class:`LeanKernels` (the reference: standard calls only, allocating
its results) and may be overridden by the library's subclass (:class:`NumpyLean`, :class:`TorchLean`,
:class:`CupyLean`): fewer kernels (torch's ``addmm``, ``threshold_backward``, ``log_softmax``, fused
optimizer updates; CuPy's ``ElementwiseKernel``) and results written into caller-owned buffers
(``out=``) so a warm step allocates nothing. Every override is tested equal to the reference.

``store`` arguments are dicts owned by the caller (a layer), in which a library keeps the buffers
its results are written into (:meth:`LeanKernels.buffer`); with ``store=None`` (inference) or on the
reference, results are new arrays. A result in a buffer is overwritten by the next call with the
same store. :func:`lean` picks the kernels of an array's library.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat
import numpy as np

from .backend import device, get_namespace

__all__ = ["LeanKernels", "lean", "LOSS_EPS"]

#: The book's guard inside the cross-entropy's log (``functions.LOG_EPS``).
LOSS_EPS = 1e-7


class LeanKernels:
    """The reference: standard Array API calls; ``out`` buffers are ignored (results are new arrays)."""

    #: whether :meth:`buffer` gives persistent buffers (libraries that write through ``out=``)
    writes_out = False
    #: whether :meth:`softmax_xent` itself refuses labels outside ``[0, C)`` on the host (else the caller checks)
    checks_labels = False

    def buffer(self, store: dict | None, name: str, shape: tuple, like: Any, dtype: Any = None) -> Any:
        """``store[name]``, an array of ``shape`` (``like``'s dtype unless given) on ``like``'s device, made once;
        ``None`` on the reference (it writes no ``out=``) or without a store."""
        if not self.writes_out or store is None:
            return None
        dtype = like.dtype if dtype is None else dtype
        b = store.get(name)
        if b is None or tuple(b.shape) != tuple(shape) or b.dtype != dtype or type(b) is not type(like):
            b = store[name] = get_namespace(like).empty(shape, dtype=dtype, device=device(like))
        return b

    def scratch(self, x: Any) -> Any:
        """A scratch array shaped like ``x`` for kernels that need one (NumPy's ``out=`` chains), else ``None``."""
        return None

    # --- parameter updates (one call per flat buffer) ---

    def axpy(self, y: Any, a: float, x: Any, scratch: Any = None) -> None:
        """``y += a * x`` in place."""
        y += a * x

    def adam(self, p: Any, g: Any, m: Any, v: Any, lr_t: float, b1: float, b2: float, eps: float, scratch: Any) -> None:
        """One Adam step in place: ``m += (1-b1)(g-m)``, ``v += (1-b2)(g*g-v)``, ``p -= lr_t m / (sqrt(v)+eps)``."""
        m += (1 - b1) * (g - m)
        v += (1 - b2) * (g * g - v)
        p -= lr_t * m / (get_namespace(v).sqrt(v) + eps)

    # --- layers ---

    def matmul_into(self, out: Any, a: Any, b: Any) -> None:
        """``out[...] = a @ b``."""
        out[...] = a @ b

    def sum_into(self, out: Any, a: Any) -> None:
        """``out[...] = sum(a, axis=0)``."""
        out[...] = get_namespace(a).sum(a, axis=0)

    def affine(self, x: Any, W: Any, b: Any, store: dict | None = None) -> Any:
        """``x @ W + b`` for ``x`` ``(N, D)``, ``W`` ``(D, H)``, ``b`` ``(H,)`` (all of one dtype)."""
        return x @ W + b

    def relu(self, x: Any, store: dict | None = None) -> Any:
        """``max(x, 0)``."""
        return get_namespace(x).maximum(x, 0.0)

    def relu_backward(self, dout: Any, y: Any, store: dict | None = None) -> Any:
        """``dout`` where the ReLU's output ``y`` is positive, 0 elsewhere."""
        xp = get_namespace(dout, y)
        return dout * xp.astype(y > 0, dout.dtype)

    def softmax_xent(self, x: Any, t: Any, store: dict) -> tuple[Any, Any]:
        """Softmax of scores ``x`` ``(N, C)`` and the mean cross-entropy ``-sum(log(y[n, t_n] + 1e-7)) / N``
        against integer labels ``t`` ``(N,)`` (ids in ``[0, C)``; not checked here).

        Returns ``(loss, saved)``: the loss a new 0-d array, ``saved`` what :meth:`softmax_xent_backward`
        needs (may live in ``store``'s buffers). :meth:`softmax_of` reads the probabilities from it.
        """
        xp = get_namespace(x, t)
        z = x - xp.max(x, axis=-1, keepdims=True)
        e = xp.exp(z)
        y = e / xp.sum(e, axis=-1, keepdims=True)
        mask = xp.astype(t[:, None] == xp.arange(x.shape[-1], dtype=t.dtype, device=device(t)), y.dtype)
        loss = -xp.sum(mask * xp.log(y + LOSS_EPS)) / x.shape[0]
        return loss, (y, mask)

    def softmax_of(self, saved: Any) -> Any:
        """The probabilities ``(N, C)`` kept by :meth:`softmax_xent`."""
        return saved[0]

    def softmax_xent_backward(self, saved: Any, dout: Any, store: dict) -> Any:
        """``(y - onehot(t)) * dout / N``: the gradient of :meth:`softmax_xent` with respect to ``x`` (as the book)."""
        y, mask = saved
        return (y - mask) * (dout / y.shape[0])

    def take_rows(self, W: Any, idx: Any) -> Any:
        """``W[idx[i], ...]`` for integer ids ``idx`` ``(M,)`` in ``[0, len(W))``: ``(M, ...)``."""
        return get_namespace(W, idx).take(W, idx, axis=0)

    def sigmoid_xent_first(self, score: Any, store: Any) -> tuple[Any, Any]:
        """Binary cross-entropy of ``sigmoid(score)`` ``(N, K)`` against label 1 in column 0 and 0 in the others
        (negative sampling: the target, then the negatives), summed over the columns and averaged over the rows,
        with the book's 1e-7 inside each log. Returns ``(loss, saved)``."""
        from .functions import sigmoid

        xp = get_namespace(score)
        y = sigmoid(score)
        label = xp.astype(xp.arange(score.shape[1], device=device(y)) == 0, y.dtype)
        loss = -xp.sum(label * xp.log(y + LOSS_EPS) + (1.0 - label) * xp.log(1.0 - y + LOSS_EPS)) / score.shape[0]
        return loss, (y, label)

    def sigmoid_xent_first_backward(self, saved: Any, dout: Any, store: Any) -> Any:
        """``(sigmoid(score) - label) * dout / N``: the gradient of :meth:`sigmoid_xent_first` (as the book)."""
        y, label = saved
        return (y - label) * (dout / y.shape[0])

    def batchnorm_train(
        self, x: Any, gamma: Any, beta: Any, running: tuple[Any, Any], momentum: float, eps: float, store: Any
    ) -> tuple[Any, Any]:
        """Batch normalisation of ``x`` ``(N, D)`` by its own statistics: ``gamma * (x - mean) / sqrt(var + eps)
        + beta``; the running mean and (biased) variance ``running`` ``(D,)`` move towards the batch's in place
        (``r = momentum * r + (1 - momentum) * batch``). Returns ``(out, saved)`` for :meth:`batchnorm_backward`."""
        xp = get_namespace(x, gamma)
        mu = xp.mean(x, axis=0)
        xc = x - mu
        var = xp.mean(xc * xc, axis=0)
        std = xp.sqrt(var + eps)
        xn = xc / std
        for r, batch in zip(running, (mu, var)):
            r *= momentum
            r += (1 - momentum) * batch
        return gamma * xn + beta, (xc, xn, std)

    def batchnorm_backward(self, dout: Any, gamma: Any, saved: Any, dgamma: Any, dbeta: Any, store: Any) -> Any:
        """Gradients of :meth:`batchnorm_train`: ``dgamma`` and ``dbeta`` ``(D,)`` written in place, ``dx`` returned."""
        xp = get_namespace(dout, gamma)
        xc, xn, std = saved
        N = dout.shape[0]
        self.sum_into(dbeta, dout)
        self.sum_into(dgamma, xn * dout)
        dxn = gamma * dout
        dxc = dxn / std
        dvar = -0.5 * xp.sum((dxn * xc) / (std * std), axis=0) / std
        dxc = dxc + (2.0 / N) * xc * dvar
        return dxc - xp.sum(dxc, axis=0) / N

    def dropout_mask(self, u: Any, ratio: float, store: Any) -> Any:
        """``1.0`` where the uniform numbers ``u`` exceed ``ratio``, else ``0.0``, in ``u``'s dtype."""
        xp = get_namespace(u)
        return xp.astype(u > ratio, u.dtype)

    def multiply(self, a: Any, b: Any, store: Any, name: str) -> Any:
        """``a * b`` (same shapes), into buffer ``name`` of ``store`` where the library writes ``out=``."""
        return a * b

    def im2col(self, x: Any, fh: int, fw: int, stride: int, pad: int, store: Any) -> Any:
        """Patches of ``x`` ``(N, C, H, W)`` as rows ``(N*OH*OW, C*fh*fw)`` (:func:`xpnet.util.im2col`'s layout)."""
        from .util import im2col

        return im2col(x, fh, fw, stride, pad)

    def maxpool(self, x: Any, ph: int, pw: int, stride: int, pad: int, store: Any) -> tuple[Any, Any]:
        """Max over ``ph x pw`` windows of ``x`` ``(N, C, H, W)`` (padding never wins); ``(out, saved)``."""
        from .util import conv_output_size, pad_images

        xp = get_namespace(x)
        N, C, H, W = x.shape
        keys = _windows(ph, pw, stride, conv_output_size(H, ph, stride, pad), conv_output_size(W, pw, stride, pad))
        img = pad_images(x, pad, -float("inf"))
        out = img[keys[0]]
        for key in keys[1:]:
            out = xp.maximum(out, img[key])
        return out, (img, out, keys, tuple(x.shape), pad, stride < ph or stride < pw)

    def maxpool_backward(self, dout: Any, saved: Any, store: Any) -> Any:
        """Each window's gradient to its first maximal cell; returns ``dx`` shaped like the pooled input."""
        img, out, keys, (N, C, H, W), pad, overlap = saved
        xp = get_namespace(dout)
        dx = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dout.dtype, device=device(dout))
        rest = dout
        for k, key in enumerate(keys):
            take = rest * xp.astype(img[key] == out, rest.dtype)  # (much faster than where)
            if overlap:
                dx[key] += take
            else:  # each cell belongs to one window at most
                dx[key] = take
            if k + 1 < len(keys):
                rest = rest - take  # what no earlier cell took
        return dx[:, :, pad : pad + H, pad : pad + W]

    # --- CUDA graphs ---

    def capture_step(self, step: Any, like: Any) -> Any:
        """``step`` (a function of no arguments whose arrays all live at fixed addresses) recorded once as a
        graph of ``like``'s device, returned as a function that replays it; raises :class:`CaptureRefusedError`
        where the library or device cannot (the reference: always)."""
        raise CaptureRefusedError("this backend runs on the host: there is no graph to capture")


def _windows(ph: int, pw: int, s: int, oh: int, ow: int) -> list[tuple]:
    """Index of each pooling-window cell's strided view: ``img[key]`` is ``(N, C, OH, OW)``."""
    return [
        (slice(None), slice(None), slice(i, i + s * (oh - 1) + 1, s), slice(j, j + s * (ow - 1) + 1, s))
        for i in range(ph)
        for j in range(pw)
    ]


class CaptureRefusedError(RuntimeError):
    """A step cannot be captured as a graph here (CPU backend, library without capture, capture failed)."""


class NumpyLean(LeanKernels):
    """NumPy: every result written through ``out=`` into caller-owned buffers (no allocation when warm)."""

    writes_out = True

    def scratch(self, x: Any) -> Any:
        return np.empty_like(x)

    def axpy(self, y: Any, a: float, x: Any, scratch: Any = None) -> None:
        if scratch is None:
            y += a * x
            return
        np.multiply(x, a, out=scratch)
        y += scratch

    def adam(self, p: Any, g: Any, m: Any, v: Any, lr_t: float, b1: float, b2: float, eps: float, scratch: Any) -> None:
        if scratch is None:
            return super().adam(p, g, m, v, lr_t, b1, b2, eps, scratch)
        t = scratch
        np.subtract(g, m, out=t)
        t *= 1 - b1
        m += t
        np.multiply(g, g, out=t)
        t -= v
        t *= 1 - b2
        v += t
        np.sqrt(v, out=t)
        t += eps
        np.divide(m, t, out=t)
        t *= lr_t
        p -= t

    def matmul_into(self, out: Any, a: Any, b: Any) -> None:
        np.matmul(a, b, out=out)

    def sum_into(self, out: Any, a: Any) -> None:
        np.add.reduce(a, axis=0, out=out)

    def rows(self, store: dict, name: str, v: Any, shape: tuple) -> Any:
        """``v`` broadcast to ``shape`` in buffer ``name`` (NumPy's broadcasting ufuncs allocate a temporary
        of the output's size; a broadcasting copy into a buffer, then a same-shape ufunc, allocate nothing)."""
        r = self.buffer(store, name, shape, v)
        np.copyto(r, v)
        return r

    def affine(self, x: Any, W: Any, b: Any, store: dict | None = None) -> Any:
        shape = (x.shape[0], W.shape[1])
        out = np.matmul(x, W, out=self.buffer(store, "out", shape, x))
        if store is None:
            out += b
        else:
            out += self.rows(store, "bias", b, shape)
        return out

    def relu(self, x: Any, store: dict | None = None) -> Any:
        return np.maximum(x, 0.0, out=self.buffer(store, "out", x.shape, x), dtype=x.dtype)

    def relu_backward(self, dout: Any, y: Any, store: dict | None = None) -> Any:
        out = np.sign(y, out=self.buffer(store, "dx", y.shape, dout))  # y >= 0: its sign is the 0/1 mask
        out *= dout
        return out

    def multiply(self, a: Any, b: Any, store: Any, name: str) -> Any:
        return np.multiply(a, b, out=self.buffer(store, name, a.shape, a))

    def im2col(self, x: Any, fh: int, fw: int, stride: int, pad: int, store: Any) -> Any:
        """One strided view of the (padded) images, copied once into the buffer."""
        if store is None or not self._floating(x):
            return super().im2col(x, fh, fw, stride, pad, store)
        N, C, H, W = x.shape
        if pad:
            img = self.buffer(store, "padded", (N, C, H + 2 * pad, W + 2 * pad), x)
            img[...] = 0
            img[:, :, pad : pad + H, pad : pad + W] = x
            x = img
        oh, ow = (x.shape[2] - fh) // stride + 1, (x.shape[3] - fw) // stride + 1
        sn, sc, sh, sw = x.strides
        view = self._strided(x, (N, oh, ow, C, fh, fw), (sn, sh * stride, sw * stride, sc, sh, sw))
        col = self.buffer(store, "col", (N * oh * ow, C * fh * fw), x)
        self._copy(col.reshape(N, oh, ow, C, fh, fw), view)
        return col

    @staticmethod
    def _floating(x: Any) -> bool:
        return x.dtype.kind == "f"

    @staticmethod
    def _strided(x: Any, shape: tuple, strides: tuple) -> Any:
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)

    @staticmethod
    def _copy(dst: Any, src: Any) -> None:
        np.copyto(dst, src)

    def dropout_mask(self, u: Any, ratio: float, store: Any) -> Any:
        m = self.buffer(store, "mask", u.shape, u)
        if m is None:
            return super().dropout_mask(u, ratio, store)
        np.greater(u, ratio, out=m)
        return m

    def softmax_xent(self, x: Any, t: Any, store: dict) -> tuple[Any, Any]:
        N, C = x.shape
        y = self.buffer(store, "y", (N, C), x)
        row = self.buffer(store, "row", (N, 1), x)
        col = self.buffer(store, "col", (N,), x)
        flat = self.buffer(store, "flat", (N,), t, np.intp)
        np.maximum.reduce(x, axis=1, keepdims=True, out=row)
        np.subtract(x, self.rows(store, "wide", row, (N, C)), out=y)
        np.exp(y, out=y)
        np.add.reduce(y, axis=1, keepdims=True, out=row)
        y /= self.rows(store, "wide", row, (N, C))
        rows = store.get("rows")
        if rows is None or rows.shape[0] != N or rows[-1] != (N - 1) * C:
            rows = store["rows"] = np.arange(N, dtype=np.intp) * C
        np.add(rows, t, out=flat, casting="unsafe")  # index of each label's probability in y.ravel()
        np.take(y.reshape(-1), flat, out=col)
        col += LOSS_EPS
        np.log(col, out=col)
        loss = np.empty((), dtype=x.dtype)  # new each step: callers keep losses (the trainer reads them later)
        np.add.reduce(col, out=loss)
        loss *= -1.0 / N
        return loss, (y, flat)

    def softmax_xent_backward(self, saved: Any, dout: Any, store: dict) -> Any:
        y, flat = saved
        dx = self.buffer(store, "dx", y.shape, y)
        col = self.buffer(store, "col", (y.shape[0],), y)
        np.copyto(dx, y)
        np.take(y.reshape(-1), flat, out=col)
        col -= 1.0
        np.put(dx.reshape(-1), flat, col)
        dx *= dout / y.shape[0]
        return dx


class TorchLean(LeanKernels):
    """PyTorch: one aten kernel where the reference takes several, results through ``out=``."""

    writes_out = True
    checks_labels = True  # nll_loss refuses them on the CPU (on a GPU the caller would not check either)

    def axpy(self, y: Any, a: float, x: Any, scratch: Any = None) -> None:
        y.add_(x, alpha=a)

    def adam(self, p: Any, g: Any, m: Any, v: Any, lr_t: float, b1: float, b2: float, eps: float, scratch: Any) -> None:
        import torch

        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = torch.sqrt(v).add_(eps)
        p.addcdiv_(m, denom, value=-lr_t)

    def matmul_into(self, out: Any, a: Any, b: Any) -> None:
        import torch

        torch.matmul(a, b, out=out)

    def sum_into(self, out: Any, a: Any) -> None:
        import torch

        torch.sum(a, dim=0, out=out)

    def affine(self, x: Any, W: Any, b: Any, store: dict | None = None) -> Any:
        import torch

        out = self.buffer(store, "out", (x.shape[0], W.shape[1]), x)
        return torch.addmm(b, x, W) if out is None else torch.addmm(b, x, W, out=out)

    def relu(self, x: Any, store: dict | None = None) -> Any:
        import torch

        out = self.buffer(store, "out", x.shape, x)
        return torch.relu(x) if out is None else torch.clamp_min(x, 0.0, out=out)

    def relu_backward(self, dout: Any, y: Any, store: dict | None = None) -> Any:
        import torch

        out = self.buffer(store, "dx", y.shape, dout)
        if out is None:
            return torch.ops.aten.threshold_backward(dout, y, 0)
        return torch.ops.aten.threshold_backward.grad_input(dout, y, 0, grad_input=out)

    def softmax_xent(self, x: Any, t: Any, store: dict) -> tuple[Any, Any]:
        import torch

        aten = torch.ops.aten
        if t.dtype != torch.int64:
            t = t.to(torch.int64)
        logp = aten._log_softmax(x, 1, False)
        floor = store.get("floor")
        if floor is None or floor.dtype != x.dtype or floor.device != x.device:
            floor = store["floor"] = torch.tensor(math.log(LOSS_EPS), dtype=x.dtype, device=x.device)
        # log(y + eps) = logaddexp(log y, log eps); nll_loss: -mean of each row's label entry
        guarded = torch.logaddexp(logp, floor)
        try:
            loss, total = aten.nll_loss_forward(guarded, t, None, 1, _IGNORE)
        except (IndexError, RuntimeError):  # a label out of range (checked by the kernel on the host)
            from .functions import check_labels

            check_labels(t, x.shape[1], sync=True)  # raises the ValueError naming the range
            raise
        return loss, (logp, t, total)

    def softmax_of(self, saved: Any) -> Any:
        return saved[0].exp()

    def softmax_xent_backward(self, saved: Any, dout: Any, store: dict) -> Any:
        import torch

        aten = torch.ops.aten
        logp, t, total = saved
        if isinstance(dout, (int, float)):
            key = ("dout", float(dout))
            g = store.get(key)
            if g is None or g.dtype != logp.dtype or g.device != logp.device:
                g = store[key] = torch.tensor(float(dout), dtype=logp.dtype, device=logp.device)
            dout = g
        # nll_loss_backward: -dout/N at each row's label, 0 elsewhere; the log-softmax's backward adds y * dout/N
        onehot = aten.nll_loss_backward(dout, logp, t, None, 1, _IGNORE, total)
        return aten._log_softmax_backward_data(onehot, logp, 1, logp.dtype)

    def multiply(self, a: Any, b: Any, store: Any, name: str) -> Any:
        import torch

        out = self.buffer(store, name, a.shape, a)
        return a * b if out is None else torch.mul(a, b, out=out)

    def dropout_mask(self, u: Any, ratio: float, store: Any) -> Any:
        import torch

        m = self.buffer(store, "mask", u.shape, u)
        return (u > ratio).to(u.dtype) if m is None else torch.gt(u, ratio, out=m)

    def im2col(self, x: Any, fh: int, fw: int, stride: int, pad: int, store: Any) -> Any:
        import torch

        if not x.is_floating_point():
            return super().im2col(x, fh, fw, stride, pad, store)
        if pad:
            x = torch.constant_pad_nd(x, [pad] * 4, 0.0)
        N, C, H, W = x.shape
        oh, ow = (H - fh) // stride + 1, (W - fw) // stride + 1
        sn, sc, sh, sw = x.stride()
        view = x.as_strided((N, oh, ow, C, fh, fw), (sn, sh * stride, sw * stride, sc, sh, sw))
        col = self.buffer(store, "col", (N * oh * ow, C * fh * fw), x)
        if col is None:
            return view.reshape(N * oh * ow, C * fh * fw)
        col.view(N, oh, ow, C, fh, fw).copy_(view)
        return col

    def maxpool(self, x: Any, ph: int, pw: int, stride: int, pad: int, store: Any) -> tuple[Any, Any]:
        import torch

        if 2 * pad > min(ph, pw) or not x.is_floating_point():  # torch pools with at most half a window of padding
            return super().maxpool(x, ph, pw, stride, pad, store)
        out, idx = torch.ops.aten.max_pool2d_with_indices(x, [ph, pw], [stride, stride], [pad, pad])
        return out, ("torch", x, idx, (ph, pw, stride, pad))

    def maxpool_backward(self, dout: Any, saved: Any, store: Any) -> Any:
        import torch

        if saved[0] != "torch":
            return super().maxpool_backward(dout, saved, store)
        _, x, idx, (ph, pw, s, pad) = saved
        return torch.ops.aten.max_pool2d_with_indices_backward(
            dout, x, [ph, pw], [s, s], [pad, pad], [1, 1], False, idx
        )

    def _constant(self, store: Any, key: tuple, like: Any, make: Any) -> Any:
        """``make()`` (a host NumPy array) as a tensor like ``like``, made once per key, dtype and device."""
        import torch

        full = (*key, like.dtype, like.device)
        c = store.get(full) if store is not None else None
        if c is None:
            c = torch.as_tensor(make(), dtype=like.dtype, device=like.device)
            if store is not None:
                store[full] = c
        return c

    def take_rows(self, W: Any, idx: Any) -> Any:
        import torch

        return torch.index_select(W, 0, idx)  # (array-api-compat's take also wraps negative ids: 3 more kernels)

    def sigmoid_xent_first(self, score: Any, store: Any) -> tuple[Any, Any]:
        import torch

        N, K = score.shape
        y = torch.sigmoid(score)
        first = np.arange(K) == 0
        base = self._constant(store, ("base", K), y, lambda: np.where(first, 0.0, 1.0))
        sign = self._constant(store, ("sign", K), y, lambda: np.where(first, 1.0, -1.0))
        weight = self._constant(store, ("weight", N * K), y, lambda: np.full(N * K, -1.0 / N))
        # log(y + eps) in column 0, log(1 - y + eps) elsewhere (eps added last, as the reference: it decides near 1)
        q = torch.addcmul(base, sign, y).add_(LOSS_EPS).log_()
        return torch.dot(q.view(-1), weight), (y, store)

    def sigmoid_xent_first_backward(self, saved: Any, dout: Any, store: Any) -> Any:
        import torch

        y, consts = saved
        N, K = y.shape
        if not isinstance(dout, (int, float)):
            return (y - self._constant(consts, ("label", K), y, lambda: np.arange(K) == 0)) * (dout / N)
        c = dout / N
        shift = self._constant(consts, ("shift", K, c), y, lambda: np.where(np.arange(K) == 0, -c, 0.0))
        return torch.add(shift, y, alpha=c)

    def batchnorm_train(
        self, x: Any, gamma: Any, beta: Any, running: tuple[Any, Any], momentum: float, eps: float, store: Any
    ) -> tuple[Any, Any]:
        import torch

        var, mu = torch.var_mean(x, 0, correction=0)
        torch._foreach_lerp_(list(running), [mu, var], 1 - momentum)
        out, mean, invstd = torch.ops.aten.native_batch_norm(x, gamma, beta, None, None, True, 0.0, eps)
        return out, (x, mean, invstd, eps)

    def batchnorm_backward(self, dout: Any, gamma: Any, saved: Any, dgamma: Any, dbeta: Any, store: Any) -> Any:
        import torch

        x, mean, invstd, eps = saved
        dx = self.buffer(store, "dx", x.shape, x)
        if dx is None:
            dx = torch.empty_like(x)
        torch.ops.aten.native_batch_norm_backward.out(
            dout, x, gamma, None, None, mean, invstd, True, eps, [True, True, True], out0=dx, out1=dgamma, out2=dbeta
        )
        return dx

    def capture_step(self, step: Any, like: Any) -> Any:
        import torch

        if like.device.type != "cuda":
            raise CaptureRefusedError(f"torch on {like.device.type}: CUDA graphs need a CUDA device")
        try:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):  # its own side stream and memory pool (graph temporaries stay private)
                step()
        except Exception as e:  # noqa: BLE001 - any refusal (an op that syncs, an allocation pattern) falls back
            raise CaptureRefusedError(f"torch refused to capture the step: {e}") from e
        return graph.replay


# ``ignore_index`` of nll_loss: no label takes it (torch's default, -100, would silently skip such labels)
_IGNORE = -(2**62)


class CupyLean(NumpyLean):
    """CuPy: NumPy's ``out=`` paths (CuPy has the same signatures) and fused elementwise kernels."""

    _kernels: dict[str, Any] = {}

    def scratch(self, x: Any) -> Any:
        return None

    def matmul_into(self, out: Any, a: Any, b: Any) -> None:
        import cupy

        cupy.matmul(a, b, out=out)

    def sum_into(self, out: Any, a: Any) -> None:
        a.sum(axis=0, out=out)

    def affine(self, x: Any, W: Any, b: Any, store: dict | None = None) -> Any:
        import cupy

        out = cupy.matmul(x, W, out=self.buffer(store, "out", (x.shape[0], W.shape[1]), x))
        out += b
        return out

    def relu(self, x: Any, store: dict | None = None) -> Any:
        import cupy

        return cupy.maximum(x, x.dtype.type(0), out=self.buffer(store, "out", x.shape, x))

    @classmethod
    def _kernel(cls, name: str, params: str, result: str, body: str) -> Any:
        k = cls._kernels.get(name)
        if k is None:
            import cupy

            k = cls._kernels[name] = cupy.ElementwiseKernel(params, result, body, f"xpnet_{name}")
        return k

    @staticmethod
    def _strided(x: Any, shape: tuple, strides: tuple) -> Any:
        import cupy

        return cupy.lib.stride_tricks.as_strided(x, shape, strides)

    @staticmethod
    def _copy(dst: Any, src: Any) -> None:
        dst[...] = src

    def axpy(self, y: Any, a: float, x: Any, scratch: Any = None) -> None:
        self._kernel("axpy", "T x, T a", "T y", "y += a * x")(x, y.dtype.type(a), y)

    def adam(self, p: Any, g: Any, m: Any, v: Any, lr_t: float, b1: float, b2: float, eps: float, scratch: Any) -> None:
        k = self._kernel(
            "adam",
            "T g, T c1, T c2, T lr, T eps",
            "T p, T m, T v",
            "m += c1 * (g - m); v += c2 * (g * g - v); p -= lr * m / (sqrt(v) + eps)",
        )
        t = p.dtype.type
        k(g, t(1 - b1), t(1 - b2), t(lr_t), t(eps), p, m, v)

    def relu_backward(self, dout: Any, y: Any, store: dict | None = None) -> Any:
        k = self._kernel("relu_backward", "T dout, T y", "T dx", "dx = y > 0 ? dout : (T)0")
        out = self.buffer(store, "dx", y.shape, dout)
        return k(dout, y, out) if out is not None else k(dout, y)

    def softmax_xent(self, x: Any, t: Any, store: dict) -> tuple[Any, Any]:
        return LeanKernels.softmax_xent(self, x, t, store)

    def softmax_xent_backward(self, saved: Any, dout: Any, store: dict) -> Any:
        return LeanKernels.softmax_xent_backward(self, saved, dout, store)

    def capture_step(self, step: Any, like: Any) -> Any:
        """Stream capture with a private memory pool: the graph's temporaries are never handed to arrays made
        between replays. One real step first fills the pool (so the capture itself allocates nothing new)."""
        import cupy

        pool = cupy.cuda.MemoryPool()
        stream = cupy.cuda.Stream(non_blocking=True)
        stream.wait_event(cupy.cuda.get_current_stream().record())
        try:
            with cupy.cuda.using_allocator(pool.malloc), stream:
                step()
                stream.begin_capture()
                try:
                    step()
                finally:
                    graph = stream.end_capture()
        except Exception as e:  # noqa: BLE001 - a refusal (an allocation, a host sync) falls back
            raise CaptureRefusedError(f"CuPy refused to capture the step: {e}") from e
        cupy.cuda.get_current_stream().wait_event(stream.record())

        def replay() -> None:
            graph.launch(stream=cupy.cuda.get_current_stream())  # ordered with the batch copies around it

        replay.pool = pool  # type: ignore[attr-defined] - the graph's memory lives as long as its replay
        return replay


_REFERENCE = LeanKernels()
_BY_TYPE: dict[type, LeanKernels] = {np.ndarray: NumpyLean()}


def lean(x: Any) -> LeanKernels:
    """The lean kernels of ``x``'s library (the reference for a library without overrides)."""
    t = type(x)
    k = _BY_TYPE.get(t)
    if k is None:
        if array_api_compat.is_torch_array(x):
            k = TorchLean()
        elif array_api_compat.is_cupy_array(x):
            k = CupyLean()
        else:
            k = _REFERENCE
        _BY_TYPE[t] = k
    return k
