"""Parameter update rules of book 1, chapter 6, with the book's defaults.

``update(params, grads)`` takes dicts (book 1: ``{"W1": ..., ...}``) or lists (book 2's
``model.params`` / ``model.grads``) and updates the arrays in place, so layers that hold
the same arrays see the new values.

Every optimizer is one :class:`Optimizer` loop and an ``update_one`` rule, as in DeZero.
Hooks (:class:`WeightDecay`, :class:`ClipGrads`, or any callable) run on the gradients
before the rule; per-parameter state (``v``, ``h``, ``m``) is created on first use.

Every rule is element-wise, so when the parameters are views into a flat store
(:mod:`xpnet.models.flat`: a model's ``params`` offers one) the rule runs once per flat buffer, that is
once per dtype, instead of once per parameter; its state is then flat too, and each parameter's
state (``opt.m["W1"]``) is a view into it. SGD and Adam run one fused kernel per buffer where the
library has one (``kernels_for(x).axpy``/``adam_update``) and allocate nothing when warm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..backend import asarray, clip_by_global_norm, get_namespace, kernels_for
from ..models.flat import FlatGroup, store_of

__all__ = [
    "Optimizer",
    "SGD",
    "Momentum",
    "Nesterov",
    "AdaGrad",
    "RMSprop",
    "Adam",
    "WeightDecay",
    "ClipGrads",
    "OPTIMIZERS",
]


#: The book's guard against division by zero in AdaGrad, RMSprop and Adam.
OPT_EPS = 1e-7


def _check_lr(lr: float) -> float:
    if not lr > 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    return lr


class Optimizer:
    """The loop every optimizer shares: hooks on the gradients, then ``update_one`` per parameter.

    ``params`` and ``grads`` are dicts with the same keys or lists of the same length. A hook
    is called as ``hook(params, grads, keys)`` and may change the gradients in place.
    """

    def __init__(self, lr: float) -> None:
        self.lr = _check_lr(lr)
        self.hooks: list[Callable[[Any, Any, list], None]] = []
        self._scratch: dict = {}  # scratch arrays of the kernels that need one (NumPy), by key

    def add_hook(self, hook: Callable[[Any, Any, list], None]) -> None:
        self.hooks.append(hook)

    def update(self, params: Any, grads: Any) -> None:
        if self.hooks:
            keys = _keys(params)
            for hook in self.hooks:
                hook(params, grads, keys)
        self.prepare()
        store = getattr(params, "last_store", None)  # a model's flat store (ParamDict, ParamList), unchecked
        if store is not None:
            arrays = getattr(params, "arrays", None)
            if arrays is not None:  # a network's ParamDict lists its arrays; a dict of gradients: its values in order,
                ps = arrays()  # under the same names (in another order: the long way, which orders them)
                gs = list(grads.values()) if isinstance(grads, dict) and grads.keys() == params.keys() else None
            else:  # book 2's lists, as they are
                ps, gs = params, grads
            if gs is not None and store.covers(ps, gs):
                for group in store.groups:  # the rule once per flat buffer, that is once per dtype
                    self.update_one(group, group.param, group.grad)
                return
        self._update_each(params, grads)

    def _update_each(self, params: Any, grads: Any) -> None:
        """The long way: the arrays in the order of ``params``' keys; one pass per flat buffer if they are its views
        (a parameter rebound since is first taken back into its view), else the parameters one by one."""
        keys = _keys(params)
        gs = [grads[k] for k in keys]
        store = getattr(params, "last_store", None)
        if store is None or not store.covers([params[k] for k in keys], gs):
            store = store_of(params)  # (a ParamDict checks its slots, or makes its store now)
        if store is not None and store.covers([params[k] for k in keys], gs):
            for group in store.groups:
                group.names = [keys[i] for i in group.index]  # (what keys per-parameter state: the caller's names)
                self.update_one(group, group.param, group.grad)
            return
        for key in keys:
            param = params[key]
            if isinstance(param, (int, float)):  # book 1's ch06 optimizer_compare_naive: numbers, rebound as the book
                box = asarray(float(param), dtype="float64")
                self.update_one(key, box, asarray(grads[key], dtype="float64"))
                params[key] = float(box)
            else:
                self.update_one(key, param, grads[key])

    def prepare(self) -> None:
        """Once per update, before the parameters (Adam's step count)."""

    def update_one(self, key: Any, param: Any, grad: Any) -> None:
        """Update ``param`` in place from ``grad``."""
        raise NotImplementedError

    def state(self, store: dict, key: Any, like: Any) -> Any:
        """``store[key]``, created as zeros shaped like ``like`` on first use.

        For a flat group (``key``) the state is one flat array, and each member parameter's key maps to
        its view; a parameter's state made before (per-parameter updates) is carried over.
        """
        s = store.get(key)
        if s is None:
            s = store[key] = get_namespace(like).zeros_like(like)
            if isinstance(key, FlatGroup):
                for name, view in zip(key.names, key.views(s)):
                    old = store.get(name)
                    if old is not None and tuple(old.shape) == tuple(view.shape):
                        view[...] = old
                    store[name] = view
        return s

    def scratch(self, key: Any, like: Any) -> Any:
        """A scratch array for ``key``'s kernels where the library needs one (NumPy), else ``None``; made once."""
        s = self._scratch.get(key)
        if s is None and key not in self._scratch:
            s = self._scratch[key] = kernels_for(like).out_buffer(like)
        return s


def _keys(params: Any) -> list:
    """The keys of ``params``: a dict's (or ParamDict's) names, a list's positions."""
    return list(params.keys()) if hasattr(params, "keys") else list(range(len(params)))


class WeightDecay:
    """Hook: ``grad += rate * param`` for every parameter (L2 decay folded into the gradients)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def __call__(self, params: Any, grads: Any, keys: Any) -> None:
        for key in keys:
            grads[key] += self.rate * params[key]


def clip_grads(grads: list[Any], max_norm: float) -> None:
    """Scale every gradient in place so that their joint L2 norm is at most ``max_norm`` (book 2, 5.5.3).

    The book reads the norm back to decide in Python whether to scale; here the factor
    ``min(1, max_norm / (norm + 1e-6))`` stays an array and every gradient is multiplied by
    it, so no value leaves the device.
    """
    if not max_norm > 0:  # a Python number: no read; a negative norm would turn clipping into gradient ascent
        raise ValueError(f"clip_grads: max_norm must be positive, got {max_norm}")
    clip_by_global_norm([g for g in grads if g is not None], max_norm)


class ClipGrads:
    """Hook: scale every gradient so their joint L2 norm is at most ``max_norm`` (no host read)."""

    def __init__(self, max_norm: float) -> None:
        self.max_norm = max_norm

    def __call__(self, params: Any, grads: Any, keys: Any) -> None:
        clip_grads([grads[key] for key in keys], self.max_norm)


class SGD(Optimizer):
    """Stochastic gradient descent: ``W -= lr * dW``.

    >>> import numpy as np
    >>> from xpnet.optimizers import SGD
    >>> params = {"W": np.ones((2, 2))}
    >>> SGD(lr=0.1).update(params, {"W": np.full((2, 2), 5.0)})  # in place: W -= lr * dW
    >>> params["W"].tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def update_one(self, key: Any, param: Any, grad: Any) -> None:
        kernels_for(param).axpy(param, -self.lr, grad, self.scratch(key, param))


class Momentum(Optimizer):
    """Momentum SGD: ``v = momentum * v - lr * dW; W += v``."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = momentum
        self.v: dict = {}

    def update_one(self, key: Any, param: Any, grad: Any) -> None:
        v = self.state(self.v, key, param)
        v *= self.momentum
        v -= self.lr * grad
        param += v


class Nesterov(Momentum):
    """Nesterov's accelerated gradient, in the order of book 1's 2021 correction."""

    def update_one(self, key: Any, param: Any, grad: Any) -> None:
        v = self.state(self.v, key, param)
        v *= self.momentum
        v -= self.lr * grad
        param += self.momentum * self.momentum * v
        param -= (1 + self.momentum) * self.lr * grad


class AdaGrad(Optimizer):
    """AdaGrad: per-parameter learning rates shrinking with the sum of squared gradients."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)
        self.h: dict = {}

    def update_one(self, key: Any, param: Any, grad: Any) -> None:
        h = self.state(self.h, key, param)
        h += grad * grad
        param -= self.lr * grad / (get_namespace(h).sqrt(h) + OPT_EPS)


class RMSprop(Optimizer):
    """RMSprop: AdaGrad with an exponentially decaying sum (``decay_rate``)."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        super().__init__(lr)
        self.decay_rate = decay_rate
        self.h: dict = {}

    def update_one(self, key: Any, param: Any, grad: Any) -> None:
        h = self.state(self.h, key, param)
        h *= self.decay_rate
        h += (1 - self.decay_rate) * grad * grad
        param -= self.lr * grad / (get_namespace(h).sqrt(h) + OPT_EPS)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with the book's bias-corrected step size."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__(lr)
        self.beta1, self.beta2 = beta1, beta2
        self.iter = 0
        self.m: dict = {}
        self.v: dict = {}
        self._lr_t = lr

    def prepare(self) -> None:
        self.iter += 1
        self._lr_t = self.lr * (1.0 - self.beta2**self.iter) ** 0.5 / (1.0 - self.beta1**self.iter)

    def update_one(self, key: Any, param: Any, grad: Any) -> None:
        m, v = self.state(self.m, key, param), self.state(self.v, key, param)
        k = kernels_for(param)
        k.adam_update(param, grad, m, v, self._lr_t, self.beta1, self.beta2, OPT_EPS, self.scratch(key, param))


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}
