"""Numerical differentiation (book 1, chapter 4) and the gradient check of chapter 5."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from typing import Any

from ..backend import array_device, asnumpy, dtype_name, get_namespace, is_array

__all__ = ["numerical_diff", "numerical_gradient", "numerical_gradient_2d", "gradient_descent", "gradient_check"]

H = 1e-4  # the book's step; large enough to survive float64 rounding, too small for float32


def numerical_diff(f: Callable[[Any], Any], x: Any) -> Any:
    """Central difference ``(f(x + h) - f(x - h)) / 2h`` with the book's ``h = 1e-4``."""
    return (f(x + H) - f(x - H)) / (2 * H)


def numerical_gradient(f: Callable[[Any], Any], x: Any) -> Any:
    """Gradient of the scalar function ``f`` at ``x`` by central differences, one element at a time.

    ``x`` may have any shape and live on any backend. Each element is perturbed **in place**
    (``f`` may ignore its argument and read ``x`` through a closure, as in the book's
    ``lambda W: net.loss(x, t)``) and restored exactly afterwards. Returns an array shaped
    and typed like ``x``. Integer arrays are refused; non-float64 arrays give a warning,
    since ``h = 1e-4`` is mostly lost to float32 rounding.

    >>> import numpy as np
    >>> from xpnet import numerical_gradient
    >>> def f(x):
    ...     return x[0] ** 2 + x[1] ** 2
    >>> numerical_gradient(f, np.array([3.0, 4.0])).round(6).tolist()  # book 1, 4.4: (6, 8) at (3, 4)
    [6.0, 8.0]
    """
    if not is_array(x):
        raise TypeError(f"numerical_gradient needs an array for x, got {type(x).__name__}")
    xp = get_namespace(x)
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(
            f"numerical_gradient needs a floating-point x, got {dtype_name(x)}: x + h would be "
            "rounded back to x; convert it first, e.g. xpnet.asarray(x, dtype='float64')"
        )
    if x.dtype != xp.float64:
        warnings.warn(
            f"numerical_gradient on {dtype_name(x)} data: h = 1e-4 is largely lost to rounding; "
            "use float64 for accurate gradients",
            UserWarning,
            stacklevel=2,
        )
    original = xp.asarray(x, copy=True)
    diffs = []
    try:
        for idx in itertools.product(*map(range, x.shape)):
            x[idx] = original[idx] + H
            fxh1 = f(x)
            x[idx] = original[idx] - H
            fxh2 = f(x)
            x[idx] = original[idx]
            diffs.append((fxh1 - fxh2) / (2 * H))
    finally:
        x[...] = original  # restore even when f raised
    if all(isinstance(d, (int, float)) for d in diffs):
        grad = xp.asarray(diffs, dtype=x.dtype, device=array_device(x))
    else:
        grad = xp.stack([xp.asarray(d, dtype=x.dtype, device=array_device(x)) for d in diffs])
    return xp.reshape(grad, x.shape)


def numerical_gradient_2d(f: Callable[[Any], Any], X: Any) -> Any:
    """The gradient of ``f`` at each row of ``X`` (book 1's ``common/gradient.py``; chapter 4's arrow plot).

    ``X`` of shape ``(N, D)`` holds N points; ``f`` takes one point of shape ``(D,)``. Returns
    ``(N, D)``: row ``i`` is ``numerical_gradient(f, X[i])``. A 1-D ``X`` is a single point.
    """
    if not is_array(X):
        raise TypeError(f"numerical_gradient_2d needs an array for X, got {type(X).__name__}")
    if X.ndim == 1:
        return numerical_gradient(f, X)
    xp = get_namespace(X)
    rows = []
    for i in range(X.shape[0]):
        row = xp.asarray(X[i, ...], copy=True)
        rows.append(numerical_gradient(f, row))
    if not rows:
        return xp.zeros(X.shape, dtype=X.dtype, device=array_device(X))
    return xp.stack(rows)


def gradient_descent(
    f: Callable[[Any], Any],
    init_x: Any,
    lr: float = 0.01,
    step_num: int = 100,
    *,
    return_history: bool = False,
) -> Any:
    """Minimise ``f`` by ``step_num`` steps of ``x -= lr * numerical_gradient(f, x)``.

    Like the book, ``init_x`` is updated in place and returned. With ``return_history=True``
    returns ``(x, history)`` where ``history`` has shape ``(step_num, *x.shape)`` and holds
    ``x`` before each step (the book's ``x_history``), for plotting the path.
    """
    x = init_x
    xp = get_namespace(x)
    history = []
    for _ in range(step_num):
        if return_history:
            history.append(xp.asarray(x, copy=True))
        grad = numerical_gradient(f, x)
        x -= lr * grad
    if return_history:
        hist = xp.stack(history) if history else xp.zeros((0, *x.shape), dtype=x.dtype, device=array_device(x))
        return x, hist
    return x


def gradient_check(network: Any, x: Any, t: Any, *, reduction: str = "max") -> dict[str, float]:
    """Compare backprop with the numerical gradient for every parameter of ``network``.

    Returns ``{name: difference}``: the largest (``reduction="max"``) or mean (``"mean"``, the
    book's choice) absolute difference between ``network.gradient(x, t)`` and
    ``network.numerical_gradient(x, t)`` (the bulk float64 evaluation). Dropout layers keep
    the masks of the backprop pass for the numerical one, so both differentiate the same loss.
    """
    if reduction not in ("max", "mean"):
        raise ValueError(f"reduction must be 'max' or 'mean', not {reduction!r}")
    grad_backprop = {k: asnumpy(g).copy() for k, g in network.gradient(x, t).items()}
    grad_numerical = network.numerical_gradient(x, t)
    out = {}
    for key, g in grad_numerical.items():
        diff = abs(grad_backprop[key].astype("float64") - asnumpy(g).astype("float64"))
        out[key] = float(diff.max() if reduction == "max" else diff.mean()) if diff.size else 0.0
    return out
