"""Book 2's ``common/time_layers.py``: the recurrent layers of :mod:`xpnet.layers.recurrent` and the other
``Time*`` layers.

``TimeEmbedding``, ``TimeAffine``, ``TimeSoftmaxWithLoss``, ``TimeDropout``, ``TimeBiLSTM``,
``TimeSigmoidWithLoss`` take sequences ``(N, T, ...)`` and follow the layer protocol of :mod:`xpnet.layers.base`.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_namespace, kernels_for, random_like
from .base import Layer, like_weights, slot, store_matmul, store_sum, zeros_like_all
from .core import SigmoidWithLoss
from .embedding import Embedding
from .normalization import Dropout
from .recurrent import *  # noqa: F403 - book 2's time_layers.py holds RNN ... TimeGRU too
from .recurrent import TimeLSTM, _flat
from .recurrent import __all__ as _RECURRENT

__all__ = [
    *_RECURRENT,
    "TimeEmbedding",
    "TimeAffine",
    "TimeSoftmaxWithLoss",
    "TimeDropout",
    "TimeBiLSTM",
    "TimeSigmoidWithLoss",
]


class TimeEmbedding(Embedding):
    """Book 2's ``TimeEmbedding(W)``: word ids ``xs`` ``(N, T)`` -> ``(N, T, D)`` rows of ``W`` ``(V, D)``."""


class TimeAffine(Layer):
    """``x @ W + b`` at every time step: ``(N, T, D)`` -> ``(N, T, M)`` with ``W`` ``(D, M)``, ``b`` ``(M,)``."""

    W, b = slot("W", "params", 0), slot("b", "params", 1)

    def __init__(self, W: Any, b: Any) -> None:
        self.params = [W, b]
        self.grads = zeros_like_all(self.params)
        self.x = None
        self._bufs: dict = {}

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        W, b = self.params
        xp = get_namespace(x, W)
        if x.ndim != 3 or x.shape[2] != W.shape[0]:
            raise ValueError(f"TimeAffine: x must have shape (N, T, {W.shape[0]}), got {tuple(x.shape)}")
        self.x = x = like_weights(xp, x, W, "TimeAffine")
        N, T, _ = x.shape
        if b.dtype != W.dtype:
            out = _flat(xp, x) @ W + b  # mixed precision (a rebound bias): the standard's promotion
        else:  # while training, into this layer's buffer where the library writes out= (nothing new per step)
            out = kernels_for(x).affine(_flat(xp, x), W, b, self._bufs if train_flg else None)
        return xp.reshape(out, (N, T, W.shape[1]))

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        W = self.params[0]
        xp = get_namespace(dout, W)
        d2 = _flat(xp, dout)
        store_matmul(self.grads, 0, _flat(xp, self.x).T, d2)
        store_sum(self.grads, 1, d2)
        if not input_grad:
            return None
        k = kernels_for(d2)
        dx = k.buffer(self._bufs, "dx", (d2.shape[0], W.shape[0]), d2)
        if dx is None or dx.dtype != W.dtype:
            return xp.reshape(d2 @ W.T, self.x.shape)
        k.matmul_into(dx, d2, W.T)
        return xp.reshape(dx, self.x.shape)


class TimeSoftmaxWithLoss(Layer):
    """Softmax and cross-entropy at every time step, averaged over the positions whose label is not ``ignore_label``.

    ``forward(xs, ts)``: scores ``xs`` ``(N, T, V)`` and integer labels ``ts`` ``(N, T)`` (or one-hot
    ``(N, T, V)``); returns the mean loss as a 0-d array. Labels equal to ``ignore_label``
    (the book's padding, -1) count neither in the loss nor in the mean; any other label outside
    ``[0, V)`` makes the loss NaN (no host read here: the trainers refuse such ids up front).
    """

    def __init__(self, ignore_label: int = -1) -> None:
        super().__init__()
        self.ignore_label = ignore_label
        self.cache = self.loss = self.shape = None
        self._bufs: dict = {}

    def forward(self, xs: Any, ts: Any) -> Any:  # type: ignore[override]
        xp = get_namespace(xs, ts)
        N, T, V = xs.shape
        if ts.ndim == 3:
            ts = xp.argmax(ts, axis=2)
        if tuple(ts.shape) != (N, T) or not xp.isdtype(ts.dtype, "integral"):
            raise ValueError(
                f"TimeSoftmaxWithLoss: labels of shape {tuple(ts.shape)} and dtype {ts.dtype} do not fit scores "
                f"of shape {tuple(xs.shape)}: give integer labels of shape ({N}, {T})"
            )
        self.loss, self.cache = kernels_for(xs).softmax_xent_ignoring(
            xp.reshape(xs, (N * T, V)), xp.reshape(ts, (N * T,)), self.ignore_label, self._bufs
        )
        self.shape = xs.shape
        return self.loss

    def backward(self, dout: Any = 1) -> Any:
        """``dxs`` ``(N, T, V)``; call once per ``forward`` (on NumPy: a buffer that the next ``backward`` reuses)."""
        dx = kernels_for(self.cache[1]).softmax_xent_ignoring_backward(self.cache, dout, self._bufs)
        self.cache = None
        return get_namespace(dx).reshape(dx, self.shape)


class TimeDropout(Dropout):
    """Inverted dropout on sequences (book 2): while training, each unit is kept with probability ``1 - ratio`` and
    scaled by ``1 / (1 - ratio)``; at test time the input passes unchanged.

    Like the book, the ``train_flg`` attribute (default ``True``) decides; ``forward(xs, train_flg)``
    overrides it for one call when given.
    """

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        super().__init__(dropout_ratio)
        self.train_flg = True

    def forward(self, xs: Any, train_flg: bool | None = None) -> Any:
        if train_flg is None:
            train_flg = self.train_flg
        if not train_flg:
            self.mask = None
            return xs
        xp = get_namespace(xs)
        self.mask = xp.astype(random_like(xs) > self.dropout_ratio, xs.dtype) * (1.0 / (1.0 - self.dropout_ratio))
        return xs * self.mask

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        return dout if self.mask is None else dout * self.mask

    def forward_many(self, z: Any, train_flg: bool = False) -> Any:
        if not train_flg:
            return z
        if self.mask is None or tuple(self.mask.shape) != tuple(z.shape[1:]):
            self.forward(z[0, ...], True)
        return z * self.mask


class TimeBiLSTM(Layer):
    """Bidirectional LSTM (book 2, 8.5.2): one ``TimeLSTM`` reads ``xs`` forwards, another backwards; their
    ``(N, T, H)`` outputs are concatenated into ``(N, T, 2H)``.

    ``TimeBiLSTM(Wx1, Wh1, b1, Wx2, Wh2, b2, stateful=False)``; ``params`` are the forward
    LSTM's three then the backward one's.
    """

    def __init__(self, Wx1: Any, Wh1: Any, b1: Any, Wx2: Any, Wh2: Any, b2: Any, stateful: bool = False) -> None:
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1, stateful)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2, stateful)
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads

    def _sync_grads(self) -> None:
        # The sub-layers may rebind a gradient (shape change); keep this layer's list pointing at theirs.
        self.grads[:] = self.forward_lstm.grads + self.backward_lstm.grads

    def forward(self, xs: Any, train_flg: bool = False) -> Any:
        xp = get_namespace(xs)
        o1 = self.forward_lstm.forward(xs)
        o2 = self.backward_lstm.forward(xp.flip(xs, axis=1))
        return xp.concat([o1, xp.flip(o2, axis=1)], axis=2)

    def backward(self, dhs: Any, *, input_grad: bool = True) -> Any:
        xp = get_namespace(dhs)
        H = dhs.shape[2] // 2
        dx1 = self.forward_lstm.backward(dhs[..., :H])
        dx2 = self.backward_lstm.backward(xp.flip(dhs[..., H:], axis=1))
        self._sync_grads()
        return dx1 + xp.flip(dx2, axis=1)

    def set_state(self, h: Any, c: Any = None) -> None:
        self.forward_lstm.set_state(h, c)

    def reset_state(self) -> None:
        self.forward_lstm.reset_state()
        self.backward_lstm.reset_state()


class TimeSigmoidWithLoss(Layer):
    """Sigmoid and binary cross-entropy at every position: scores ``xs`` ``(N, T)``, 0/1 labels ``ts`` ``(N, T)``;
    the loss is the mean over all ``N*T`` positions."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = SigmoidWithLoss()
        self.xs_shape = None

    def forward(self, xs: Any, ts: Any) -> Any:  # type: ignore[override]
        xp = get_namespace(xs, ts)
        if tuple(ts.shape) != tuple(xs.shape):
            raise ValueError(f"TimeSigmoidWithLoss: labels of shape {tuple(ts.shape)} for scores {tuple(xs.shape)}")
        self.xs_shape = xs.shape
        return self.layer.forward(xp.reshape(xs, (-1,)), xp.reshape(ts, (-1,)))

    def backward(self, dout: Any = 1) -> Any:
        dx = self.layer.backward(dout)
        return get_namespace(dx).reshape(dx, self.xs_shape)
