"""Book 1's layers (chapter 5) and book 2's graph nodes (chapter 1): activations, ``Affine``, the loss
layers, ``MatMul``, ``Repeat``, ``Sum``.

Every class follows the protocol of :mod:`xpnet.layers.base`; nothing here stores a
namespace.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_namespace, kernels_for
from .base import Layer, bias_like, like_weights, require_batch, slot, store_matmul, store_sum, zeros_like_all
from .functions import LOG_EPS, check_labels, cross_entropy_of_mask, label_mask, sigmoid, softmax

__all__ = [
    "MulLayer",
    "AddLayer",
    "Relu",
    "Sigmoid",
    "Affine",
    "Softmax",
    "SoftmaxWithLoss",
    "SigmoidWithLoss",
    "MatMul",
    "Repeat",
    "Sum",
]


class MulLayer:
    """Multiplication node ``out = x * y`` (book 1, 5.4)."""

    def __init__(self) -> None:
        self.x = self.y = None

    def forward(self, x: Any, y: Any) -> Any:
        self.x, self.y = x, y
        return x * y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        return dout * self.y, dout * self.x


class AddLayer:
    """Addition node ``out = x + y`` (book 1, 5.4)."""

    def forward(self, x: Any, y: Any) -> Any:
        return x + y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        return dout * 1, dout * 1


class Relu(Layer):
    """``max(x, 0)``; the gradient at ``x = 0`` is 0.

    ``out`` keeps the output: the backward pass lets ``dout`` through where it is positive (one
    kernel where the library has one). ``mask`` is the book's boolean ``x <= 0``. While training
    the results go to buffers the layer owns (no allocation when warm, where the library has ``out=``).
    """

    elementwise = True

    def __init__(self) -> None:
        super().__init__()
        self.out = None
        self._bufs: dict = {}

    @property
    def mask(self) -> Any:
        return self.out <= 0

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        self.out = kernels_for(x).relu(x, self._bufs if train_flg else None)
        return self.out

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        return kernels_for(dout).relu_backward(dout, self.out, self._bufs)

    def forward_many(self, z: Any, train_flg: bool = False) -> Any:
        return get_namespace(z).maximum(z, 0.0)


class Sigmoid(Layer):
    """Logistic activation; ``backward`` uses the stored output: ``dout * (1 - out) * out``."""

    elementwise = True

    def __init__(self) -> None:
        super().__init__()
        self.out = None

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        return dout * (1.0 - self.out) * self.out

    def forward_many(self, z: Any, train_flg: bool = False) -> Any:
        return sigmoid(z)


class Affine(Layer):
    """Fully connected layer ``out = x @ W + b``.

    ``W`` has shape ``(D, H)`` and ``b`` shape ``(H,)``. ``x`` has shape ``(N, D)`` or
    ``(N, d1, d2, ...)`` with ``d1*d2*... == D`` (flattened here, restored in ``backward``).
    """

    linear = "affine"
    W, b = slot("W", "params", 0), slot("b", "params", 1)
    dW, db = slot("dW", "grads", 0), slot("db", "grads", 1)

    def __init__(self, W: Any, b: Any) -> None:
        self.params = [W, bias_like(W, b, W.shape[1])]
        self.grads = zeros_like_all(self.params)
        self.x = None
        self.original_x_shape = None
        self._bufs: dict = {}

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        W, b = self.params
        self.original_x_shape = x.shape
        if type(x) is not type(W) or x.ndim != 2 or x.dtype != W.dtype:  # (a 2-D batch of the weights' kind passes)
            xp = get_namespace(x, W)  # arrays of two backends are refused here, naming both
            require_batch(x, W.shape[0], "Affine")
            if x.ndim != 2:
                x = xp.reshape(x, (x.shape[0], -1))
            x = like_weights(xp, x, W, "Affine")
        if x.shape[1] != W.shape[0]:
            raise ValueError(
                f"Affine: input of shape {tuple(self.original_x_shape)} has {x.shape[1]} features, "
                f"but W of shape {tuple(W.shape)} expects {W.shape[0]}"
            )
        self.x = x
        if b.dtype != W.dtype:
            return x @ W + b  # mixed precision (a rebound bias): the standard's promotion
        return kernels_for(x).affine(x, W, b, self._bufs if train_flg else None)

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        """Gradients of ``W`` and ``b`` into ``grads``; returns ``dx`` (``None`` with ``input_grad=False``,
        which a network's first layer uses to skip a matrix product nobody reads)."""
        W, b = self.params
        if type(dout) is not type(W):
            get_namespace(dout, W)  # arrays of two backends are refused here, naming both
        k = kernels_for(dout)
        dW, db = self.grads
        dtype = W.dtype
        if (  # the buffers fit (as they do when nothing was rebound): one kernel writes them
            dout.dtype == dtype
            and dW is not None
            and db is not None
            and dW.dtype == dtype
            and db.dtype == dtype
            and dW.shape == W.shape
            and db.shape == b.shape
        ):
            dx = k.affine_backward(self.x, dout, W, dW, db, self._bufs, input_grad)
        else:
            store_matmul(self.grads, 0, self.x.T, dout, k)
            store_sum(self.grads, 1, dout, k)
            dx = dout @ W.T if input_grad else None
        if dx is None or dx.shape == self.original_x_shape:
            return dx
        return get_namespace(dx).reshape(dx, self.original_x_shape)


class Softmax(Layer):
    """Softmax over the last axis, as a layer."""

    def __init__(self) -> None:
        super().__init__()
        self.out = None

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        self.out = softmax(x)
        return self.out

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        y = self.out
        return y * (dout - get_namespace(y).sum(dout * y, axis=-1, keepdims=True))


class SoftmaxWithLoss(Layer):
    """Softmax followed by the cross-entropy loss; ``t`` is one-hot ``(N, C)`` or integer labels ``(N,)``.

    Labels of shape ``(N, C)`` that are not one-hot are read as the book's ``cross_entropy_error``
    reads them in ``forward``: row ``n`` counts as class ``argmax(t[n])``. The book's ``backward``
    then returns ``(y - t) / N``, which is not the gradient of that loss; here ``backward`` returns
    ``(y - onehot(argmax(t))) / N``, the gradient of the loss ``forward`` returned (the same as
    the book's for one-hot labels). ``SoftmaxWithLoss(soft=True)`` takes such labels as soft
    labels instead: loss ``-sum(t * log(y + LOG_EPS)) / N``, gradient ``(y - t) / N`` (exact when
    every row of ``t`` sums to 1).
    """

    def __init__(self, *, soft: bool = False) -> None:
        super().__init__()
        self.soft = soft
        self.loss = self.t = None
        self._mask = self._saved = None
        self._bufs: dict = {}

    def forward(self, x: Any, t: Any) -> Any:
        if type(t) is not type(x):
            get_namespace(x, t)  # arrays of two backends are refused here, naming both
        self.t = t
        if self.soft or x.ndim != 2 or x.shape[0] == 0:
            return self._forward_masked(x, t)
        k = kernels_for(x)
        if t.ndim == 2:
            if tuple(t.shape) != tuple(x.shape):
                return self._forward_masked(x, t)  # label_mask names the misfit
            # the kernel reads (N, C) labels as the book does: the row's largest entry is the class
        elif t.ndim != 1 or t.shape[0] != x.shape[0] or not get_namespace(t).isdtype(t.dtype, "integral"):
            return self._forward_masked(x, t)
        elif not k.checks_labels:
            check_labels(t, x.shape[-1])
        self.loss, self._saved = k.softmax_xent(x, t, self._bufs)
        self._mask = None
        return self.loss

    def _forward_masked(self, x: Any, t: Any) -> Any:
        """Soft labels, one sample ``(C,)``, or labels that do not fit (``label_mask`` raises): softmax, mask, loss."""
        y = softmax(x)
        self._mask = label_mask(y, t, soft=self.soft)
        self._saved = y
        self.loss = cross_entropy_of_mask(y, self._mask)
        return self.loss

    @property
    def y(self) -> Any:
        """The softmax of the last ``forward``'s scores (probabilities, shaped like them)."""
        if self._mask is not None or self._saved is None:
            return self._saved
        return kernels_for(self._saved[0]).softmax_of(self._saved)

    def backward(self, dout: Any = 1) -> Any:
        if self._mask is not None:
            y = self._saved
            return (y - self._mask) * (dout / y.shape[0])
        return kernels_for(self._saved[0]).softmax_xent_backward(self._saved, dout, self._bufs)


class SigmoidWithLoss(Layer):
    """Sigmoid followed by binary cross-entropy (book 2); ``t`` holds 0/1 labels of shape ``(N,)``."""

    def __init__(self) -> None:
        super().__init__()
        self.loss = self.y = self.t = None

    def forward(self, x: Any, t: Any) -> Any:
        xp = get_namespace(x, t)
        self.t = t
        self.y = sigmoid(x)
        tf = xp.astype(t, self.y.dtype)
        self.loss = -xp.sum(tf * xp.log(self.y + LOG_EPS) + (1.0 - tf) * xp.log(1.0 - self.y + LOG_EPS)) / x.shape[0]
        return self.loss

    def backward(self, dout: Any = 1) -> Any:
        xp = get_namespace(self.y)
        return (self.y - xp.astype(self.t, self.y.dtype)) * (dout / self.y.shape[0])


class MatMul(Layer):
    """Book 2's MatMul node ``out = x @ W`` with ``W`` of shape ``(D, H)``."""

    W = slot("W", "params", 0)
    dW = slot("dW", "grads", 0)

    def __init__(self, W: Any) -> None:
        self.params = [W]
        self.grads = zeros_like_all(self.params)
        self.x = None

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        W = self.params[0]
        if x.shape[-1] != W.shape[0]:
            raise ValueError(f"MatMul: input of shape {tuple(x.shape)} does not fit W of shape {tuple(W.shape)}")
        self.x = x = like_weights(get_namespace(x, W), x, W, "MatMul")
        return x @ W

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        W = self.params[0]
        store_matmul(self.grads, 0, self.x.T, dout)
        return dout @ W.T if input_grad else None


class Repeat(Layer):
    """Book 2's Repeat node: ``x`` of shape ``(1, D)`` copied ``n`` times into ``(n, D)``."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        return get_namespace(x).repeat(x, self.n, axis=0)

    def forward_many(self, z: Any, train_flg: bool = False) -> Any:
        return get_namespace(z).repeat(z, self.n, axis=1)  # the batch axis of every copy

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        return get_namespace(dout).sum(dout, axis=0, keepdims=True)


class Sum(Layer):
    """Book 2's Sum node: ``x`` of shape ``(N, D)`` summed into ``(1, D)``."""

    def __init__(self) -> None:
        super().__init__()
        self.n = None

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        self.n = x.shape[0]
        return get_namespace(x).sum(x, axis=0, keepdims=True)

    def forward_many(self, z: Any, train_flg: bool = False) -> Any:
        return get_namespace(z).sum(z, axis=1, keepdims=True)  # the batch axis of every copy

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        return get_namespace(dout).repeat(dout, self.n, axis=0)
