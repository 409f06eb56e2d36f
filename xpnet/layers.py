"""Layers of book 1 (chapters 5-7) and book 2's graph nodes, all following one protocol.

The layer protocol (every class here that subclasses :class:`Layer`; one test checks them all):

* ``params`` and ``grads``: book 2's lists of parameter arrays and their gradients, of the
  same shapes. ``backward`` writes the gradients into ``grads`` in place (book 2's models
  and optimizers hold the buffers). Book 1's names (``W``, ``b``, ``dW``, ``gamma``, ...)
  read and write the same slots.
* ``forward(x, train_flg=False)``: every layer takes ``train_flg``; only the layers whose
  behaviour differs while training (``Dropout``, ``BatchNormalization``) read it.
  Loss layers take ``forward(x, t)`` and ``backward(dout=1)`` instead; book 2's two-input layers
  (``EmbeddingDot(h, idx)``, the attention layers) take their two inputs and return the
  gradients of the differentiable ones from ``backward(dout)``.
* ``backward(dout, *, input_grad=True)``: returns ``dx``; with ``input_grad=False`` a layer
  may skip computing it (a network's first layer: nobody reads the input's gradient).
* ``buffers``: names of the attributes that hold state which is not a parameter but
  belongs in a checkpoint (``BatchNormalization``'s running mean and variance).
* ``forward_many(z, train_flg=False)``: the layer applied, without side effects on what
  ``backward`` needs, to each of P stacked copies ``z`` of shape ``(P, N, ...)``. The default
  folds the copies into the batch, which is right for every layer that treats samples
  independently; layers that couple the batch (``BatchNormalization``) or draw random
  numbers (``Dropout``) override it. ``numgrad`` asks layers through it and never by type.

Nothing here stores a namespace: every call asks its inputs.
"""

from __future__ import annotations

from typing import Any

from .backend import device, get_namespace, index_add, matmul_into, random_like, sum_into
from .functions import *  # noqa: F403 - as book 1's common/layers.py does: its `*` brings softmax, sigmoid, ...
from .functions import BN_EPS, LOG_EPS, cross_entropy_of_mask, label_mask, sigmoid, softmax
from .functions import __all__ as _FUNCTIONS
from .util import col2im, conv_output_size, im2col, pad_images

__all__ = [
    "Layer",
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
    "Dropout",
    "BatchNormalization",
    "Convolution",
    "Pooling",
    "Embedding",
    # `from common.layers import *` in book 1 also gives common.functions' names and im2col/col2im
    "im2col",
    "col2im",
    *_FUNCTIONS,
]


def _slot(name: str, kind: str, i: int) -> property:
    """A book-1 attribute (``W``, ``dW``, ...) that reads and writes slot ``i`` of ``params``/``grads``."""

    def get(self: Any) -> Any:
        return getattr(self, kind)[i]

    def set(self: Any, value: Any) -> None:
        getattr(self, kind)[i] = value

    return property(get, set, doc=f"``{kind}[{i}]``")


def _store_grad(grads: list, i: int, value: Any) -> None:
    """Write a gradient into its buffer in place (book 2 models hold the buffers), or rebind on a shape change."""
    g = grads[i]
    if g is not None and g.shape == value.shape and g.dtype == value.dtype:
        g[...] = value
    else:
        grads[i] = value


def _store_matmul(grads: list, i: int, a: Any, b: Any) -> None:
    """``grads[i] = a @ b``, computed straight into the existing buffer when it fits."""
    g = grads[i]
    if g is not None and g.shape == (a.shape[0], b.shape[1]) and a.dtype == g.dtype and b.dtype == g.dtype:
        matmul_into(g, a, b)
    else:
        grads[i] = a @ b


def _store_sum(grads: list, i: int, a: Any) -> None:
    """``grads[i] = sum(a, axis=0)``, computed straight into the existing buffer when it fits."""
    g = grads[i]
    if g is not None and g.shape == a.shape[1:] and a.dtype == g.dtype:
        sum_into(g, a)
    else:
        grads[i] = get_namespace(a).sum(a, axis=0)


def _bias(W: Any, b: Any, n: int) -> Any:
    """``b`` as an array: a Python number (book 1's ch07/apply_filter.py passes ``0``) fills ``(n,)`` like ``W``."""
    if isinstance(b, (int, float)):
        return get_namespace(W).full((n,), float(b), dtype=W.dtype, device=device(W))
    return b


def _zeros_like_all(params: list) -> list:
    return [get_namespace(p).zeros_like(p) for p in params]


def _like_weights(xp: Any, x: Any, W: Any, layer: str) -> Any:
    """``x`` in the dtype of the weights it meets: the network's dtype decides, on every backend.

    (NumPy would promote float32 data and float64 weights on its own, PyTorch and
    array-api-strict refuse the mix; integer data such as raw uint8 pixels is converted too.)
    """
    if x.dtype == W.dtype:
        return x
    if not xp.isdtype(x.dtype, ("real floating", "integral")):
        raise TypeError(f"{layer}: input of dtype {x.dtype} cannot meet weights of dtype {W.dtype}")
    return xp.astype(x, W.dtype)


class Layer:
    """Base of the layers: empty ``params``/``grads``, no ``buffers``, and the default ``forward_many``.

    ``elementwise`` marks layers whose output element ``i`` depends on input element ``i``
    alone, by one function (activations): a perturbation of one column stays in that column.
    ``linear`` names the affine map a layer computes from ``params`` (``"affine"``: ``x @ W + b``;
    ``"conv"``: a convolution), so ``numgrad`` can take shortcuts without knowing the class.
    """

    buffers: tuple[str, ...] = ()
    elementwise = False
    linear: str | None = None

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        raise NotImplementedError

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        raise NotImplementedError

    def forward_many(self, z: Any, train_flg: bool = False) -> Any:
        """The layer applied to each copy in ``z`` of shape ``(P, N, ...)`` (copies folded into the batch)."""
        xp = get_namespace(z)
        P, N = z.shape[0], z.shape[1]
        out = self.forward(xp.reshape(z, (P * N, *z.shape[2:])), train_flg)
        return xp.reshape(out, (P, N, *out.shape[1:]))


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

    ``keep`` holds 1.0 where ``x > 0`` and 0.0 elsewhere (multiplying by it is the cheapest
    standard way to both apply and differentiate the ReLU); ``mask`` is the book's boolean
    ``x <= 0``.
    """

    elementwise = True

    def __init__(self) -> None:
        super().__init__()
        self.keep = None

    @property
    def mask(self) -> Any:
        return self.keep == 0.0

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        self.keep = get_namespace(x).astype(x > 0, x.dtype)
        return x * self.keep

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        return dout * self.keep

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
    W, b = _slot("W", "params", 0), _slot("b", "params", 1)
    dW, db = _slot("dW", "grads", 0), _slot("db", "grads", 1)

    def __init__(self, W: Any, b: Any) -> None:
        self.params = [W, _bias(W, b, W.shape[1])]
        self.grads = _zeros_like_all(self.params)
        self.x = None
        self.original_x_shape = None

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        W, b = self.params
        xp = get_namespace(x, W)
        self.original_x_shape = x.shape
        if x.ndim != 2:
            x = xp.reshape(x, (x.shape[0], -1))
        x = _like_weights(xp, x, W, "Affine")
        if x.shape[1] != W.shape[0]:
            raise ValueError(
                f"Affine: input of shape {tuple(self.original_x_shape)} has {x.shape[1]} features, "
                f"but W of shape {tuple(W.shape)} expects {W.shape[0]}"
            )
        self.x = x
        return x @ W + b

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        """Gradients of ``W`` and ``b`` into ``grads``; returns ``dx`` (``None`` with ``input_grad=False``,
        which a network's first layer uses to skip a matrix product nobody reads)."""
        W = self.params[0]
        xp = get_namespace(dout, W)
        _store_matmul(self.grads, 0, self.x.T, dout)
        _store_sum(self.grads, 1, dout)
        return xp.reshape(dout @ W.T, self.original_x_shape) if input_grad else None


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
        self.loss = self.y = self.t = None

    def forward(self, x: Any, t: Any) -> Any:
        get_namespace(x, t)  # arrays of two backends are refused here, naming both
        self.t = t
        self.y = softmax(x)
        self._mask = label_mask(self.y, t, soft=self.soft)
        self.loss = cross_entropy_of_mask(self.y, self._mask)
        return self.loss

    def backward(self, dout: Any = 1) -> Any:
        return (self.y - self._mask) * (dout / self.y.shape[0])


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

    W = _slot("W", "params", 0)
    dW = _slot("dW", "grads", 0)

    def __init__(self, W: Any) -> None:
        self.params = [W]
        self.grads = _zeros_like_all(self.params)
        self.x = None

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        W = self.params[0]
        if x.shape[-1] != W.shape[0]:
            raise ValueError(f"MatMul: input of shape {tuple(x.shape)} does not fit W of shape {tuple(W.shape)}")
        self.x = x = _like_weights(get_namespace(x, W), x, W, "MatMul")
        return x @ W

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        W = self.params[0]
        _store_matmul(self.grads, 0, self.x.T, dout)
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


class Dropout(Layer):
    """Drops each unit with probability ``dropout_ratio`` while training (``train_flg=True``, the
    book's default for this layer).

    At test time the output is scaled by ``1 - dropout_ratio``, as in the book.
    ``forward_many`` applies one fixed mask to every copy (the last training pass's mask
    when it fits), so a numerical gradient differentiates one well-defined network.
    """

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio}")
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x: Any, train_flg: bool = True) -> Any:
        if train_flg:
            xp = get_namespace(x)
            self.mask = xp.astype(random_like(x) > self.dropout_ratio, x.dtype)
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        return dout * self.mask

    def forward_many(self, z: Any, train_flg: bool = True) -> Any:
        if not train_flg:
            return z * (1.0 - self.dropout_ratio)
        xp = get_namespace(z)
        if self.mask is None or tuple(self.mask.shape) != tuple(z.shape[1:]):
            self.mask = xp.astype(random_like(z[0, ...]) > self.dropout_ratio, z.dtype)
        return z * xp.astype(self.mask, z.dtype)


class BatchNormalization(Layer):
    """Batch normalisation (Ioffe & Szegedy 2015) as in book 1, 6.3.

    ``gamma`` and ``beta`` have shape ``(D,)``; ``x`` is ``(N, D)`` or ``(N, C, H, W)`` with
    ``C*H*W == D``. Training uses the batch statistics and updates the running averages
    (``momentum``); inference uses the running averages.
    """

    buffers = ("running_mean", "running_var")
    gamma, beta = _slot("gamma", "params", 0), _slot("beta", "params", 1)
    dgamma, dbeta = _slot("dgamma", "grads", 0), _slot("dbeta", "grads", 1)

    def __init__(
        self, gamma: Any, beta: Any, momentum: float = 0.9, running_mean: Any = None, running_var: Any = None
    ) -> None:
        self.params = [gamma, beta]
        self.grads = _zeros_like_all(self.params)
        self.momentum = momentum
        self.input_shape = None
        self.running_mean, self.running_var = running_mean, running_var
        self.batch_size = self.xc = self.xn = self.std = None

    def forward(self, x: Any, train_flg: bool = True) -> Any:
        self.input_shape = x.shape
        gamma, beta = self.params
        xp = get_namespace(x, gamma)
        if x.ndim != 2:
            x = xp.reshape(x, (x.shape[0], -1))
        if x.shape[1] != gamma.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: input of shape {tuple(self.input_shape)} has {x.shape[1]} features, "
                f"but gamma has shape {tuple(gamma.shape)}"
            )
        if self.running_mean is None:
            self.running_mean = xp.zeros(x.shape[1], dtype=x.dtype, device=device(x))
            self.running_var = xp.zeros(x.shape[1], dtype=x.dtype, device=device(x))
        if train_flg:
            mu, xc, var = self.batch_statistics(x)
            std = xp.sqrt(var + BN_EPS)
            xn = xc / std
            self.batch_size, self.xc, self.xn, self.std = x.shape[0], xc, xn, std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xn = (x - self.running_mean) / xp.sqrt(self.running_var + BN_EPS)
        return xp.reshape(gamma * xn + beta, self.input_shape)

    def batch_statistics(self, x: Any) -> tuple[Any, Any, Any]:
        """Mean ``(D,)``, centred input ``(N, D)`` and variance ``(D,)`` of the batch ``x`` ``(N, D)``
        (a data-parallel subclass takes them over every process's batch)."""
        xp = get_namespace(x)
        mu = xp.mean(x, axis=0)
        xc = x - mu
        return mu, xc, xp.mean(xc**2, axis=0)

    def forward_many(self, z: Any, train_flg: bool = True) -> Any:
        """Each copy normalised by its own batch statistics; the running averages are left alone."""
        if not train_flg:
            return super().forward_many(z, False)
        gamma, beta = self.params
        xp = get_namespace(z, gamma)
        P, N = z.shape[0], z.shape[1]
        zf = xp.reshape(z, (P, N, -1))
        zc = zf - xp.mean(zf, axis=1, keepdims=True)
        std = xp.sqrt(xp.mean(zc * zc, axis=1, keepdims=True) + BN_EPS)
        return xp.reshape(gamma * (zc / std) + beta, z.shape)

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        xp, dxn = self.param_grads(dout)
        dxc = dxn / self.std
        dstd = -xp.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc = dxc + (2.0 / self.batch_size) * self.xc * dvar
        dmu = xp.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size
        return xp.reshape(dx, self.input_shape)

    def param_grads(self, dout: Any) -> tuple[Any, Any]:
        """Write the gradients of ``gamma`` and ``beta``; return the namespace and ``dout * gamma`` ``(N, D)``."""
        gamma = self.params[0]
        xp = get_namespace(dout, gamma)
        if dout.ndim != 2:
            dout = xp.reshape(dout, (dout.shape[0], -1))
        _store_sum(self.grads, 1, dout)
        _store_sum(self.grads, 0, self.xn * dout)
        return xp, gamma * dout


class Convolution(Layer):
    """2-D convolution (cross-correlation, as in the book) through ``im2col``.

    ``W`` has shape ``(FN, C, FH, FW)``, ``b`` shape ``(FN,)``; ``x`` is ``(N, C, H, W)``
    and the output ``(N, FN, OH, OW)`` with ``OH = (H + 2*pad - FH) // stride + 1``.
    """

    linear = "conv"
    W, b = _slot("W", "params", 0), _slot("b", "params", 1)
    dW, db = _slot("dW", "grads", 0), _slot("db", "grads", 1)

    def __init__(self, W: Any, b: Any, stride: int = 1, pad: int = 0) -> None:
        self.params = [W, _bias(W, b, W.shape[0])]
        self.grads = _zeros_like_all(self.params)
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
        x = _like_weights(xp, x, W, "Convolution")
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
        _store_sum(self.grads, 1, dout)
        _store_grad(self.grads, 0, xp.reshape((self.col.T @ dout).T, (FN, C, FH, FW)))
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
        arg = xp.zeros(self._out.shape, dtype=xp.int32, device=device(self._out))
        for k, key in reversed(list(enumerate(self._windows(*self._out.shape[2:])))):
            arg = xp.where(self._img[key] == self._out, k, arg)
        return arg

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        """Each window's gradient goes to its first maximal cell: ``rest`` is what no earlier cell took."""
        xp = get_namespace(dout)
        N, C, H, W = self.x_shape
        pad = self.pad
        dx = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dout.dtype, device=device(dout))
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


class Embedding(Layer):
    """Book 2's word embedding: rows ``W[idx]`` of ``W`` of shape ``(V, D)``.

    ``idx`` holds integer word ids of any shape; the output has shape ``(*idx.shape, D)``.
    ``backward`` adds each row of ``dout`` into the row of ``dW`` it came from (repeated ids
    add up: :func:`xpnet.backend.index_add`) and returns ``None`` (ids have no gradient).
    """

    W = _slot("W", "params", 0)
    dW = _slot("dW", "grads", 0)

    def __init__(self, W: Any) -> None:
        self.params = [W]
        self.grads = _zeros_like_all(self.params)
        self.idx = None

    def forward(self, idx: Any, train_flg: bool = False) -> Any:
        W = self.params[0]
        xp = get_namespace(idx, W)
        if not xp.isdtype(idx.dtype, "integral"):
            raise TypeError(f"Embedding: word ids must be integers, got dtype {idx.dtype}")
        self.idx = idx
        if idx.ndim == 1:
            return xp.take(W, idx, axis=0)
        out = xp.take(W, xp.reshape(idx, (-1,)), axis=0)
        return xp.reshape(out, (*idx.shape, W.shape[1]))

    def backward(self, dout: Any, *, input_grad: bool = True) -> None:
        dW = self.grads[0]
        xp = get_namespace(dout, dW)
        dW[...] = 0.0
        idx = self.idx if self.idx.ndim == 1 else xp.reshape(self.idx, (-1,))
        index_add(dW, idx, xp.reshape(dout, (idx.shape[0], dW.shape[1])))
        return None
