"""Parameter update rules of book 1, chapter 6, with the book's defaults.

``update(params, grads)`` takes dicts (book 1: ``{"W1": ..., ...}``) or lists (book 2's
``model.params`` / ``model.grads``) and updates the arrays in place, so layers that hold
the same arrays see the new values.
"""

from __future__ import annotations

from typing import Any

from .backend import get_namespace

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "OPTIMIZERS"]


def _keys(params: Any) -> Any:
    return list(params.keys()) if hasattr(params, "keys") else range(len(params))


def _check_lr(lr: float) -> float:
    if not lr > 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    return lr


class SGD:
    """Stochastic gradient descent: ``W -= lr * dW``."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = _check_lr(lr)

    def update(self, params: Any, grads: Any) -> None:
        for key in _keys(params):
            params[key] -= self.lr * grads[key]


class Momentum:
    """Momentum SGD: ``v = momentum * v - lr * dW; W += v``."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr, self.momentum = _check_lr(lr), momentum
        self.v: dict = {}

    def update(self, params: Any, grads: Any) -> None:
        for key in _keys(params):
            if key not in self.v:
                self.v[key] = get_namespace(params[key]).zeros_like(params[key])
            v = self.v[key]
            v *= self.momentum
            v -= self.lr * grads[key]
            params[key] += v


class Nesterov:
    """Nesterov's accelerated gradient, in the order of book 1's 2021 correction."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr, self.momentum = _check_lr(lr), momentum
        self.v: dict = {}

    def update(self, params: Any, grads: Any) -> None:
        for key in _keys(params):
            if key not in self.v:
                self.v[key] = get_namespace(params[key]).zeros_like(params[key])
            v = self.v[key]
            v *= self.momentum
            v -= self.lr * grads[key]
            params[key] += self.momentum * self.momentum * v
            params[key] -= (1 + self.momentum) * self.lr * grads[key]


class AdaGrad:
    """AdaGrad: per-parameter learning rates shrinking with the sum of squared gradients."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = _check_lr(lr)
        self.h: dict = {}

    def update(self, params: Any, grads: Any) -> None:
        for key in _keys(params):
            xp = get_namespace(params[key])
            if key not in self.h:
                self.h[key] = xp.zeros_like(params[key])
            g = grads[key]
            self.h[key] += g * g
            params[key] -= self.lr * g / (xp.sqrt(self.h[key]) + 1e-7)


class RMSprop:
    """RMSprop: AdaGrad with an exponentially decaying sum (``decay_rate``)."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        self.lr, self.decay_rate = _check_lr(lr), decay_rate
        self.h: dict = {}

    def update(self, params: Any, grads: Any) -> None:
        for key in _keys(params):
            xp = get_namespace(params[key])
            if key not in self.h:
                self.h[key] = xp.zeros_like(params[key])
            g, h = grads[key], self.h[key]
            h *= self.decay_rate
            h += (1 - self.decay_rate) * g * g
            params[key] -= self.lr * g / (xp.sqrt(h) + 1e-7)


class Adam:
    """Adam (Kingma & Ba 2015) with the book's bias-corrected step size."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr, self.beta1, self.beta2 = _check_lr(lr), beta1, beta2
        self.iter = 0
        self.m: dict = {}
        self.v: dict = {}

    def update(self, params: Any, grads: Any) -> None:
        self.iter += 1
        lr_t = self.lr * (1.0 - self.beta2**self.iter) ** 0.5 / (1.0 - self.beta1**self.iter)
        for key in _keys(params):
            xp = get_namespace(params[key])
            if key not in self.m:
                self.m[key] = xp.zeros_like(params[key])
                self.v[key] = xp.zeros_like(params[key])
            g, m, v = grads[key], self.m[key], self.v[key]
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g * g - v)
            params[key] -= lr_t * m / (xp.sqrt(v) + 1e-7)


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}
