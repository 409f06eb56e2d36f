"""Activation and loss functions of book 1, chapters 3-4, on any Array API backend."""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..backend import array_device, asarray, asnumpy, get_namespace, is_array, on_host, one_hot

__all__ = [
    "identity_function",
    "step_function",
    "sigmoid",
    "sigmoid_grad",
    "relu",
    "relu_grad",
    "softmax",
    "sum_squared_error",
    "mean_squared_error",
    "cross_entropy_error",
    "softmax_loss",
    "LOG_EPS",
    "BN_EPS",
]

#: The book's guard inside ``log`` in every cross-entropy: ``log(y + LOG_EPS)``.
LOG_EPS = 1e-7
#: The book's guard inside batch normalisation's square root: ``sqrt(var + BN_EPS)``.
BN_EPS = 10e-7


def _arr(x: Any) -> Any:
    # The book calls these functions on Python floats and lists too.
    return x if is_array(x) else asarray(x, dtype="float64")


def identity_function(x: Any) -> Any:
    """Returns ``x`` unchanged (the output activation of a regression network)."""
    return x


def step_function(x: Any) -> Any:
    """1 where ``x > 0``, else 0, as int64 (the book's ``np.int``, removed from NumPy, meant this)."""
    x = _arr(x)
    xp = get_namespace(x)
    return xp.astype(x > 0, xp.int64)


def sigmoid(x: Any) -> Any:
    """Logistic function ``1 / (1 + exp(-x))``, computed without overflow for large ``|x|``."""
    x = _arr(x)
    xp = get_namespace(x)
    e = xp.exp(-xp.abs(x))  # never overflows: e is in (0, 1]
    up = xp.astype(x >= 0, x.dtype)  # 1/(1+e) for x >= 0, e/(1+e) below; cheaper than where()
    return (e + up * (1.0 - e)) / (1.0 + e)


def sigmoid_grad(x: Any) -> Any:
    """Derivative of :func:`sigmoid` at ``x``."""
    y = sigmoid(x)
    return (1.0 - y) * y


def relu(x: Any) -> Any:
    """``max(x, 0)`` element-wise."""
    x = _arr(x)
    xp = get_namespace(x)
    return xp.maximum(x, 0.0)


def relu_grad(x: Any) -> Any:
    """Derivative of :func:`relu`: 1 where ``x > 0``, 0 elsewhere (0 at ``x = 0``, like the ``Relu`` layer)."""
    x = _arr(x)
    xp = get_namespace(x)
    return xp.astype(x > 0, x.dtype)


def softmax(x: Any) -> Any:
    """Softmax over the last axis of ``x`` (shape ``(C,)`` or ``(N, C)``), shifted by the max for stability."""
    x = _arr(x)
    xp = get_namespace(x)
    x = x - xp.max(x, axis=-1, keepdims=True)
    e = xp.exp(x)
    return e / xp.sum(e, axis=-1, keepdims=True)


def sum_squared_error(y: Any, t: Any) -> Any:
    """``0.5 * sum((y - t)**2)`` over all elements, as in the book (no division by the batch size)."""
    y = _arr(y)
    xp = get_namespace(y)
    t = t if is_array(t) else xp.asarray(t, dtype=y.dtype, device=array_device(y))
    return 0.5 * xp.sum((y - t) ** 2)


mean_squared_error = sum_squared_error


def check_labels(
    t: Any, n_classes: int, *, sync: bool = False, ignore: int | None = None, what: str = "labels"
) -> None:
    """Raise ``ValueError`` when integer labels (or word ids) fall outside ``[0, n_classes)``.

    ``ignore``: a value let through wherever it stands (book 2's padding label ``-1``); ``what``
    names the array in the message (``"word ids"``, ``"corpus"``, ...). A non-integer ``t`` is refused.
    Skipped for arrays on an accelerator unless ``sync=True``: reading them back would stall
    the device every step. The trainers and book 2's entry points (``fit``, ``eval_perplexity``,
    ``generate``) check once per corpus or call, with ``sync=True``: one reduction, one read.
    """
    xp = get_namespace(t)
    if not xp.isdtype(t.dtype, "integral"):
        raise ValueError(f"{what} must be integers, got dtype {t.dtype} (shape {tuple(t.shape)})")
    if (not sync and not on_host(t)) or math.prod(t.shape) == 0:
        return
    if ignore is not None:
        t = xp.where(t == ignore, xp.zeros_like(t), t)
    lo, hi = (int(v) for v in asnumpy(xp.stack([xp.min(t), xp.max(t)])))
    if lo < 0 or hi >= n_classes:
        let = f" (or {ignore})" if ignore is not None else ""
        of = f"{n_classes} classes" if what == "labels" else f"a vocabulary of {n_classes}"
        raise ValueError(f"{what} must lie in [0, {n_classes}){let} for {of}; got values from {lo} to {hi}")


def check_sizes(who: str, **sizes: Any) -> None:
    """``ValueError`` unless each of ``sizes`` is a positive integer (``eval_interval`` may be ``None``): a Python
    number checked before a loop divides by it (``batch_size=0`` was a ZeroDivisionError, ``-5`` a silent slice)."""
    for name, n in sizes.items():
        if n is None and name == "eval_interval":
            continue
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"{who}: {name} must be a positive integer, got {n!r}")


def label_mask(y: Any, t: Any, *, soft: bool = False) -> Any:
    """The labels ``t`` as a mask shaped and typed like ``y``: what the cross-entropy multiplies ``log(y)`` by.

    Integer labels of shape ``y.shape[:-1]`` become one-hot rows. Labels of ``y``'s own shape are
    read as the book's ``common/functions.py`` reads them: ``t.argmax(axis=-1)`` is the class (so
    one-hot labels stay as they are, and any other rows, such as ``np.random.rand(100, 10)``,
    count only at their largest entry, the first on ties). With ``soft=True`` they are taken as
    they are, as soft labels (each row a distribution over the classes).
    """
    xp = get_namespace(y, t)
    if t.shape == y.shape:
        if soft:
            return t if t.dtype == y.dtype else xp.astype(t, y.dtype)
        return one_hot(xp.argmax(t, axis=-1), y.shape[-1], y.dtype)
    n_classes = y.shape[-1]
    if t.shape == (*y.shape[:-1], 1) and n_classes != 1:  # a column of labels (book 1's ch07/gradient_check.py)
        t = xp.reshape(t, y.shape[:-1])
    if t.shape != y.shape[:-1] or not xp.isdtype(t.dtype, "integral"):
        raise ValueError(
            f"labels of shape {tuple(t.shape)} and dtype {t.dtype} do not fit predictions of shape "
            f"{tuple(y.shape)}: give one-hot labels of shape {tuple(y.shape)} or integer labels of "
            f"shape {tuple(y.shape[:-1])}"
        )
    check_labels(xp.reshape(t, (-1,)), n_classes)
    return one_hot(t, n_classes, y.dtype)


def cross_entropy_error(y: Any, t: Any, *, soft: bool = False) -> Any:
    """Mean cross-entropy ``-sum(log(y[n, t_n] + LOG_EPS)) / N`` of probabilities ``y``, as in the book.

    ``y`` has shape ``(C,)`` or ``(N, C)``; ``t`` is integer labels of shape ``()`` / ``(N,)`` or
    an array of ``y``'s shape, whose ``argmax`` along the last axis is the label (the book's
    ``t.argmax(axis=1)``: exact for one-hot labels). ``soft=True`` takes a same-shaped ``t`` as
    soft labels instead: ``-sum(t * log(y + LOG_EPS)) / N``. The 1e-7 inside the log is the
    book's guard against log(0).

    >>> import numpy as np
    >>> from xpnet.functions import cross_entropy_error
    >>> y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    >>> t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    >>> round(float(cross_entropy_error(y, t)), 4)  # book 1, 4.2.2: -log 0.6
    0.5108
    """
    y = _arr(y)
    xp = get_namespace(y)
    if not is_array(t):
        t = xp.asarray(t, device=array_device(y))
    if y.ndim == 1:
        y = xp.reshape(y, (1, -1))
        t = xp.reshape(t, (1, -1)) if t.ndim == 1 else xp.reshape(t, (1,))
    return cross_entropy_of_mask(y, label_mask(y, t, soft=soft))


def cross_entropy_of_mask(y: Any, mask: Any, axis: int = 0) -> Any:
    """``-sum(mask * log(y + LOG_EPS)) / N``: the one cross-entropy formula of xpnet.

    ``y`` holds probabilities and ``mask`` the one-hot (or soft) labels of the same shape;
    ``N`` is ``y.shape[axis]``. With ``axis=1`` and ``y`` of shape ``(P, N, C)`` it gives the
    ``(P,)`` losses of P stacked copies (the numerical gradient evaluates those).
    """
    xp = get_namespace(y)
    if axis == 0:
        return -xp.sum(mask * xp.log(y + LOG_EPS)) / y.shape[0]
    terms = xp.reshape(mask * xp.log(y + LOG_EPS), (*y.shape[:axis], -1))
    return -xp.sum(terms, axis=-1) / y.shape[axis]


def softmax_loss(X: Any, t: Any, *, soft: bool = False) -> Any:
    """Cross-entropy of ``softmax(X)`` against labels ``t`` (see :func:`cross_entropy_error`)."""
    return cross_entropy_error(softmax(X), t, soft=soft)
