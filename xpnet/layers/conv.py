"""Book 1's convolution layers (chapter 7): ``Convolution`` and ``Pooling``, through :func:`im2col`."""

from __future__ import annotations

from typing import Any

from ..backend import array_device, get_namespace
from .base import Layer, bias_like, like_weights, slot, store_grad, store_sum, zeros_like_all
from .util import col2im, conv_output_size, im2col, pad_images

__all__ = ["Convolution", "Pooling"]


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
        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = xp.reshape(W, (FN, -1)).T
        out = col @ col_W + b
        self.x, self.col, self.col_W = x, col, col_W
        return xp.permute_dims(xp.reshape(out, (N, out_h, out_w, FN)), (0, 3, 1, 2))

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        """Gradients of ``W`` and ``b`` into ``grads``; returns ``dx`` unless ``input_grad=False``."""
        W = self.params[0]
        xp = get_namespace(dout, W)
        FN, C, FH, FW = W.shape
        dout = xp.reshape(xp.permute_dims(dout, (0, 2, 3, 1)), (-1, FN))
        store_sum(self.grads, 1, dout)
        store_grad(self.grads, 0, xp.reshape((self.col.T @ dout).T, (FN, C, FH, FW)))
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
        self.x_shape = self._img = self._out = None

    def _windows(self, oh: int, ow: int) -> list[tuple]:
        """Index of each window cell's strided view: ``img[key]`` is ``(N, C, OH, OW)``."""
        s = self.stride
        return [
            (slice(None), slice(None), slice(i, i + s * (oh - 1) + 1, s), slice(j, j + s * (ow - 1) + 1, s))
            for i in range(self.pool_h)
            for j in range(self.pool_w)
        ]

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        xp = get_namespace(x)
        N, C, H, W = x.shape
        oh = conv_output_size(H, self.pool_h, self.stride, self.pad)
        ow = conv_output_size(W, self.pool_w, self.stride, self.pad)
        img = pad_images(x, self.pad, -float("inf"))
        first, *others = self._windows(oh, ow)
        out = img[first]
        for key in others:
            out = xp.maximum(out, img[key])
        self.x_shape, self._img, self._out = x.shape, img, out
        return out

    @property
    def arg_max(self) -> Any:
        """The book's ``arg_max``: index (row-major in the window) of each window's first maximal cell."""
        xp = get_namespace(self._out)
        arg = xp.zeros(self._out.shape, dtype=xp.int32, device=array_device(self._out))
        for k, key in reversed(list(enumerate(self._windows(*self._out.shape[2:])))):
            arg = xp.where(self._img[key] == self._out, k, arg)
        return arg

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        """Each window's gradient goes to its first maximal cell: ``rest`` is what no earlier cell took."""
        xp = get_namespace(dout)
        N, C, H, W = self.x_shape
        pad = self.pad
        dx = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dout.dtype, device=array_device(dout))
        keys = self._windows(dout.shape[2], dout.shape[3])
        overlap = self.stride < self.pool_h or self.stride < self.pool_w
        rest = dout
        for k, key in enumerate(keys):
            take = rest * xp.astype(self._img[key] == self._out, rest.dtype)  # (much faster than where)
            if overlap:
                dx[key] += take
            else:  # each cell belongs to one window at most
                dx[key] = take
            if k + 1 < len(keys):
                rest = rest - take
        return dx[:, :, pad : pad + H, pad : pad + W]
