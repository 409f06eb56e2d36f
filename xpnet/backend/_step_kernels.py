"""The kernels of the lean training step, on the standard: :class:`StepKernels`, the base of ``Kernels``.

Every method is the reference (standard calls only, allocating its results), overridden in the
library files (``numpy.py``, ``cupy.py``, ``torch.py``) where the library does it in fewer kernels
(torch's ``addmm``, ``threshold_backward``, ``log_softmax`` + ``nll_loss``, fused optimizer
updates; CuPy's ``ElementwiseKernel``) or without allocating (``out=`` into buffers). Their cases
are in ``tests/test_lean.py`` (each override equal to the reference on every backend).

``store`` arguments are dicts owned by the caller (a layer), in which a library keeps the buffers
its results are written into (:meth:`StepKernels.buffer`); with ``store=None`` (inference) or on
the reference, results are new arrays. A result in a buffer is overwritten by the next call with
the same store. Callers reach the kernels of an array's library with ``kernels_for(x)``.
"""

from __future__ import annotations

from typing import Any

from ._inputs import array_device, get_namespace

#: The book's guard inside the cross-entropy's log (``functions.LOG_EPS``).
LOSS_EPS = 1e-7


class StepKernels:
    """The reference step kernels: standard Array API calls; ``store`` buffers are not used."""

    #: whether :meth:`buffer` gives persistent buffers (libraries that write through ``out=``)
    writes_out = False
    #: whether :meth:`softmax_xent` itself refuses labels outside ``[0, C)`` on the host (else the caller checks)
    checks_labels = False

    def buffer(self, store: dict | None, name: str, shape: tuple, like: Any, dtype: Any = None) -> Any:
        """``store[name]``, an array of ``shape`` (``like``'s dtype unless given) on ``like``'s device, made once;
        ``None`` on the reference (it writes no ``out=``) or without a store."""
        if store is None or not self.writes_out:
            return None
        b = store.get(name)
        if dtype is None:
            dtype = like.dtype
        if b is None or b.shape != tuple(shape) or b.dtype != dtype or type(b) is not type(like):
            b = store[name] = get_namespace(like).empty(shape, dtype=dtype, device=array_device(like))
        return b

    def axpy(self, y: Any, a: float, x: Any, scratch: Any = None) -> None:
        """``y += a * x`` in place."""
        y += a * x

    def affine(self, x: Any, W: Any, b: Any, store: dict | None = None) -> Any:
        """``x @ W + b`` for ``x`` ``(N, D)``, ``W`` ``(D, H)``, ``b`` ``(H,)`` (all of one dtype)."""
        return x @ W + b

    def affine_backward(self, x: Any, dout: Any, W: Any, dW: Any, db: Any, store: Any, input_grad: bool = True) -> Any:
        """Affine's backward pass for ``x`` ``(N, D)``, ``dout`` ``(N, H)``, ``W`` ``(D, H)``, all of one dtype:
        ``dW[...] = x.T @ dout`` and ``db[...] = sum(dout, axis=0)`` in place; returns ``dx = dout @ W.T`` (in
        ``store``'s buffer where the library has one), ``None`` without ``input_grad``. Made of the library's
        ``matmul_into`` and ``sum_into`` (:class:`~._kernels.Kernels`), so the products write straight into the
        buffers on every library; NumPy's override only saves the calls."""
        self.matmul_into(dW, x.T, dout)
        self.sum_into(db, dout)
        if not input_grad:
            return None
        dx = self.buffer(store, "dx", (dout.shape[0], W.shape[0]), dout)
        if dx is None:
            return dout @ W.T
        self.matmul_into(dx, dout, W.T)
        return dx

    def relu(self, x: Any, store: dict | None = None) -> Any:
        """``max(x, 0)``."""
        return get_namespace(x).maximum(x, 0.0)

    def relu_backward(self, dout: Any, y: Any, store: dict | None = None) -> Any:
        """``dout`` where the ReLU's output ``y`` is positive, 0 elsewhere."""
        xp = get_namespace(dout, y)
        return dout * xp.astype(y > 0, dout.dtype)

    def softmax_xent(self, x: Any, t: Any, store: dict) -> tuple[Any, Any]:
        """Softmax of scores ``x`` ``(N, C)`` and the mean cross-entropy ``-sum(log(y[n, t_n] + 1e-7)) / N``
        against integer labels ``t`` ``(N,)`` (ids in ``[0, C)``; not checked here), or ``(N, C)`` labels read as
        the book reads them: ``t_n = argmax(t[n])`` (one-hot labels).

        Returns ``(loss, saved)``: the loss a new 0-d array, ``saved`` what :meth:`softmax_xent_backward`
        needs (may live in ``store``'s buffers). :meth:`softmax_of` reads the probabilities from it.
        """
        xp = get_namespace(x, t)
        if t.ndim == 2:
            t = xp.argmax(t, axis=-1)
        z = x - xp.max(x, axis=-1, keepdims=True)
        e = xp.exp(z)
        y = e / xp.sum(e, axis=-1, keepdims=True)
        mask = xp.astype(t[:, None] == xp.arange(x.shape[-1], dtype=t.dtype, device=array_device(t)), y.dtype)
        loss = -xp.sum(mask * xp.log(y + LOSS_EPS)) / x.shape[0]
        return loss, (y, mask)

    def softmax_of(self, saved: Any) -> Any:
        """The probabilities ``(N, C)`` kept by :meth:`softmax_xent`."""
        return saved[0]

    def softmax_xent_backward(self, saved: Any, dout: Any, store: dict) -> Any:
        """``(y - onehot(t)) * dout / N``: the gradient of :meth:`softmax_xent` with respect to ``x`` (as the book)."""
        y, mask = saved
        return (y - mask) * (dout / y.shape[0])

    def softmax_xent_ignoring(self, x: Any, t: Any, ignore_label: int, store: Any) -> tuple[Any, Any]:
        """Softmax cross-entropy of scores ``x`` ``(M, V)`` against integer labels ``t`` ``(M,)``, averaged over the
        rows whose label is not ``ignore_label`` (book 2's ``TimeSoftmaxWithLoss``, no 1e-7 guard: the log-softmax
        at the label straight from the shifted scores). Any other label outside ``[0, V)`` makes the loss and its
        gradient NaN, alike on every backend and without a host read (the trainers refuse such ids up front).
        Returns ``(loss, saved)``; ``x`` is not changed."""
        xp = get_namespace(x, t)
        ignored = t == ignore_label
        inside = (t >= 0) & (t < x.shape[1])
        keep = xp.astype(~ignored, x.dtype)
        count = xp.maximum(xp.sum(keep), 1.0)
        keep = xp.where(inside | ignored, keep, xp.full_like(keep, float("nan")))
        t = xp.where(inside, t, xp.zeros_like(t))  # a valid index for the gather below
        e = x - xp.max(x, axis=1, keepdims=True)  # a new (M, V) array, reused for exp and the gradient
        picked = xp.take_along_axis(e, t[:, None], axis=1)[:, 0]
        e = self.exp_inplace(e)
        s = xp.sum(e, axis=1)
        logp = picked - xp.log(s)
        return -xp.sum(logp * keep) / count, (e, s, t, keep, count)

    def softmax_xent_ignoring_backward(self, saved: Any, dout: Any, store: Any) -> Any:
        """``dx`` ``(M, V)`` of :meth:`softmax_xent_ignoring`; may be written over its saved softmax buffer (call
        once per forward)."""
        e, s, t, keep, count = saved
        w = keep * (dout / count)  # each row's weight in the mean loss (0 where ignored)
        dx = e
        dx *= (w / s)[:, None]  # softmax * weight, in one pass
        return self.add_at_labels(dx, t, -w)

    def take_rows(self, W: Any, idx: Any, store: Any = None) -> Any:
        """``W[idx[i], ...]`` for integer ids ``idx`` ``(M,)`` in ``[0, len(W))``: ``(M, ...)`` (into ``store``'s
        buffer where the library writes ``out=``)."""
        return get_namespace(W, idx).take(W, idx, axis=0)

    def sigmoid_xent_first(self, score: Any, store: Any) -> tuple[Any, Any]:
        """Binary cross-entropy of ``sigmoid(score)`` ``(N, K)`` against label 1 in column 0 and 0 in the others
        (negative sampling: the target, then the negatives), summed over the columns and averaged over the rows,
        with the book's 1e-7 inside each log. Returns ``(loss, saved)``."""
        from ..functions import sigmoid

        xp = get_namespace(score)
        y = sigmoid(score)
        label = xp.astype(xp.arange(score.shape[1], device=array_device(y)) == 0, y.dtype)
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
        from ..util import im2col

        return im2col(x, fh, fw, stride, pad)

    def strided_im2col(self, x: Any, fh: int, fw: int, stride: int, pad: int, store: Any) -> Any:
        """im2col as one strided view of the (padded) images copied once into a buffer, for libraries with
        ``as_strided`` (their ``strided``/``copy_into``); the reference without a store or for integer images."""
        if store is None or x.dtype.kind != "f":
            return StepKernels.im2col(self, x, fh, fw, stride, pad, store)
        N, C, H, W = x.shape
        if pad:
            img = self.buffer(store, "padded", (N, C, H + 2 * pad, W + 2 * pad), x)
            img[...] = 0
            img[:, :, pad : pad + H, pad : pad + W] = x
            x = img
        oh, ow = (x.shape[2] - fh) // stride + 1, (x.shape[3] - fw) // stride + 1
        sn, sc, sh, sw = x.strides
        view = self.strided(x, (N, oh, ow, C, fh, fw), (sn, sh * stride, sw * stride, sc, sh, sw))
        col = self.buffer(store, "col", (N * oh * ow, C * fh * fw), x)
        self.copy_into(col.reshape(N, oh, ow, C, fh, fw), view)
        return col

    def strided(self, x: Any, shape: tuple, strides: tuple) -> Any:
        """A read-only view of ``x`` with ``shape`` and byte ``strides`` (libraries with ``as_strided``)."""
        raise NotImplementedError

    def copy_into(self, dst: Any, src: Any) -> None:
        """``dst[...] = src``."""
        dst[...] = src

    def channel_rows(self, dout: Any, store: Any) -> Any:
        """``dout`` ``(N, C, H, W)`` as rows ``(N*H*W, C)`` (a convolution's output gradient, channels last)."""
        xp = get_namespace(dout)
        return xp.reshape(xp.permute_dims(dout, (0, 2, 3, 1)), (-1, dout.shape[1]))

    def maxpool(self, x: Any, ph: int, pw: int, stride: int, pad: int, store: Any) -> tuple[Any, Any]:
        """Max over ``ph x pw`` windows of ``x`` ``(N, C, H, W)`` (padding never wins); ``(out, saved)``."""
        from ..util import conv_output_size, pad_images

        xp = get_namespace(x)
        N, C, H, W = x.shape
        keys = windows(ph, pw, stride, conv_output_size(H, ph, stride, pad), conv_output_size(W, pw, stride, pad))
        img = pad_images(x, pad, -float("inf"))
        out = img[keys[0]]
        for key in keys[1:]:
            out = xp.maximum(out, img[key])
        return out, (img, out, keys, tuple(x.shape), pad, stride < ph or stride < pw)

    def maxpool_backward(self, dout: Any, saved: Any, store: Any) -> Any:
        """Each window's gradient to its first maximal cell; returns ``dx`` shaped like the pooled input."""
        img, out, keys, (N, C, H, W), pad, overlap = saved
        xp = get_namespace(dout)
        dx = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dout.dtype, device=array_device(dout))
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

    def capture_step(self, step: Any, like: Any) -> Any:
        """``step`` (a function of no arguments whose arrays all live at fixed addresses) recorded once as a
        graph of ``like``'s device, returned as a function that replays it; raises :class:`CaptureRefusedError`
        where the library or device cannot (the reference: always)."""
        raise CaptureRefusedError("this backend runs on the host: there is no graph to capture")


def windows(ph: int, pw: int, s: int, oh: int, ow: int) -> list[tuple]:
    """Index of each pooling-window cell's strided view: ``img[key]`` is ``(N, C, OH, OW)``."""
    return [
        (slice(None), slice(None), slice(i, i + s * (oh - 1) + 1, s), slice(j, j + s * (ow - 1) + 1, s))
        for i in range(ph)
        for j in range(pw)
    ]


class CaptureRefusedError(RuntimeError):
    """A step cannot be captured as a graph here (CPU backend, library without capture, capture failed)."""
