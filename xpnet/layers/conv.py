"""Book 1's convolution layers (chapter 7): ``Convolution`` and ``Pooling``, through :func:`im2col`."""

from __future__ import annotations

from typing import Any

from ..backend import Kernels, array_device, get_namespace, kernels_for
from .base import Layer, bias_like, like_weights, slot, store_grad, store_sum, zeros_like_all
from .util import col2im, conv_output_size

__all__ = ["Convolution", "Pooling"]

_REFERENCE = Kernels()  # the kernels on the standard (the book's arg_max reads their pooling windows)


class Convolution(Layer):
    """2-D convolution (cross-correlation, as in the book) through ``im2col``.

    ``W`` has shape ``(FN, C, FH, FW)``, ``b`` shape ``(FN,)``; ``x`` is ``(N, C, H, W)``
    and the output ``(N, FN, OH, OW)`` with ``OH = (H + 2*pad - FH) // stride + 1``.
    """

    linear = "conv"
    W, b = slot("W", "params", 0), slot("b", "params", 1)
    dW, db = slot("dW", "grads", 0), slot("db", "grads", 1)

    def __init__(self, W: Any, b: Any, stride: int = 1, pad: int = 0) -> None:
        self.params = [W, bias_like(W, b, W.shape[0])]
        self.grads = zeros_like_all(self.params)
        self.stride, self.pad = stride, pad
        self.x = self.col = self.col_W = None
        self._bufs: dict = {}

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        W, b = self.params
        xp = get_namespace(x, W)
        FN, C, FH, FW = W.shape
        if x.ndim != 4 or x.shape[1] != C:
            raise ValueError(
                f"Convolution: input of shape {tuple(x.shape)} does not fit W of shape {tuple(W.shape)}: "
                f"expected (N, {C}, H, W)"
            )
        x = like_weights(xp, x, W, "Convolution")
        N, _, H, Wd = x.shape
        out_h = conv_output_size(H, FH, self.stride, self.pad)
        out_w = conv_output_size(Wd, FW, self.stride, self.pad)
        k, store = kernels_for(x), self._bufs if train_flg else None
        col = k.im2col(x, FH, FW, self.stride, self.pad, store)
        col_W = xp.reshape(W, (FN, -1)).T
        out = k.affine(col, col_W, b, store) if b.dtype == W.dtype else col @ col_W + b
        self.x, self.col, self.col_W = x, col, col_W
        return xp.permute_dims(xp.reshape(out, (N, out_h, out_w, FN)), (0, 3, 1, 2))

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        """Gradients of ``W`` and ``b`` into ``grads``; returns ``dx`` unless ``input_grad=False``."""
        W = self.params[0]
        xp = get_namespace(dout, W)
        FN, C, FH, FW = W.shape
        k, dW = kernels_for(dout), self.grads[0]
        dout = k.channel_rows(dout, self._bufs)  # (N*OH*OW, FN)
        store_sum(self.grads, 1, dout)
        if k.writes_out and dW is not None and dW.shape == W.shape and dW.dtype == dout.dtype == self.col.dtype:
            k.matmul_into(xp.reshape(dW, (FN, -1)), dout.T, self.col)  # a view: these libraries reshape in place
        else:
            store_grad(self.grads, 0, xp.reshape(dout.T @ self.col, (FN, C, FH, FW)))
        if not input_grad:
            return None
        return col2im(dout @ self.col_W.T, self.x.shape, FH, FW, self.stride, self.pad)


class Pooling(Layer):
    """Max pooling over ``pool_h x pool_w`` windows; ``x`` is ``(N, C, H, W)``.

    Each window cell is one strided view of the (padded) input, so the max is an
    element-wise ``maximum`` of ``pool_h * pool_w`` views. Padding uses ``-inf`` so a padded
    cell never wins. As in the book, the gradient of a window goes to its first maximal
    cell (``arg_max``, the cell's index in the window).
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 2, pad: int = 0) -> None:
        super().__init__()
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad
        self.x_shape = self.x = self._saved = None
        self._bufs: dict = {}

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        self.x_shape, self.x = x.shape, x
        store = self._bufs if train_flg else None
        out, self._saved = kernels_for(x).maxpool(x, self.pool_h, self.pool_w, self.stride, self.pad, store)
        return out

    @property
    def arg_max(self) -> Any:
        """The book's ``arg_max``: index (row-major in the window) of each window's first maximal cell."""
        _, (img, out, keys, *_) = _REFERENCE.maxpool(self.x, self.pool_h, self.pool_w, self.stride, self.pad, None)
        xp = get_namespace(out)
        arg = xp.zeros(out.shape, dtype=xp.int32, device=array_device(out))
        for k, key in reversed(list(enumerate(keys))):
            arg = xp.where(img[key] == out, k, arg)
        return arg

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        """Each window's gradient goes to its first maximal cell."""
        return kernels_for(dout).maxpool_backward(dout, self._saved, self._bufs)
