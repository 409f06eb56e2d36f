"""Book 2's recurrent layers (``common/time_layers.py``): ``RNN``, ``LSTM``, ``GRU`` and their ``Time*`` versions.

The ``Time*`` layers take sequences ``xs`` of shape ``(N, T, D)`` (batch, time, features)
and follow the layer protocol of :mod:`xpnet.layers`. Unlike the book, which keeps a list
of ``T`` single-step layer objects, they keep each step's state in preallocated
``(N, T, ...)`` arrays, and do everything that does not depend on the previous step outside
the time loop: the input projection ``xs @ Wx + b`` is one ``(N*T, D) @ (D, G)`` product
before the loop, and the weight gradients ``dWx``, ``dWh``, ``db`` and the input gradient
are single products after the backward loop. Only ``h @ Wh`` and the element-wise gate
arithmetic run once per step.

``TimeLSTM`` runs each time step as one call of :func:`xpnet.backend.lstm_step_forward` (``h @ Wh``
and the gates' element-wise work: one kernel on CuPy for hidden sizes up to ``FUSED_STEP_MAX_H``,
a matrix product plus one fused element-wise kernel elsewhere) and one of ``lstm_step_backward``,
with every array of the loop in a workspace that warm steps reuse. On PyTorch the
whole sequence goes to ``torch.lstm`` instead (cuDNN on CUDA), unless switched off with
``library_rnn(False)``; both are tested equal.

``stateful=True`` carries the last hidden (and cell) state into the next ``forward``
(truncated BPTT: no gradient flows back across calls); ``set_state``/``reset_state`` as
in the book.
"""

from __future__ import annotations

from typing import Any

from ..backend import (
    array_device,
    get_namespace,
    kernels_for,
    lstm_sequence,
    lstm_step_backward,
    lstm_step_forward,
    matmul_into,
)
from .base import Layer, like_weights, slot, store_grad, store_matmul, store_sum, zeros_like_all
from .functions import sigmoid

__all__ = ["RNN", "TimeRNN", "LSTM", "TimeLSTM", "GRU", "TimeGRU"]


def _check_seq(xs: Any, Wx: Any, layer: str) -> None:
    if xs.ndim != 3 or xs.shape[2] != Wx.shape[0]:
        raise ValueError(
            f"{layer}: xs must have shape (N, T, {Wx.shape[0]}) for Wx of shape {tuple(Wx.shape)}; "
            f"got {tuple(xs.shape)}"
        )


def _flat(xp: Any, a: Any) -> Any:
    """``(N, T, K)`` as ``(N*T, K)``."""
    return xp.reshape(a, (a.shape[0] * a.shape[1], a.shape[2]))


def _shifted(xp: Any, first: Any, seq: Any) -> Any:
    """The sequence one step late: ``(first, seq[:, 0], ..., seq[:, T-2])`` of shape ``(N, T, K)``."""
    return xp.concat([first[:, None, :], seq[:, : seq.shape[1] - 1, :]], axis=1)


def _input_projection(xp: Any, xs: Any, Wx: Any, b: Any) -> Any:
    """``xs @ Wx + b`` for every time step at once: ``(N, T, D)`` -> ``(N, T, G)``."""
    N, T, _ = xs.shape
    return xp.reshape(_flat(xp, xs) @ Wx + b, (N, T, Wx.shape[1]))


def _store_seq_grads(layer: Layer, xp: Any, xs: Any, dA: Any, hprev: Any, input_grad: bool, out: Any = None) -> Any:
    """``dWx``, ``dWh``, ``db`` of a recurrence ``a_t = x_t @ Wx + h_{t-1} @ Wh + b`` from all ``da_t`` at once;
    returns ``dxs`` (written into ``out`` ``(N, T, D)`` when given) or ``None`` without ``input_grad``."""
    Wx = layer.params[0]
    dA2 = _flat(xp, dA)
    store_matmul(layer.grads, 0, _flat(xp, xs).T, dA2)
    store_matmul(layer.grads, 1, _flat(xp, hprev).T, dA2)
    store_sum(layer.grads, 2, dA2)
    if not input_grad:
        return None
    if out is None:
        return xp.reshape(dA2 @ Wx.T, (xs.shape[0], xs.shape[1], Wx.shape[0]))
    matmul_into(_flat(xp, out), dA2, Wx.T)
    return out


# --- single steps (the book's RNN, LSTM, GRU) ----------------------------------------------


class _Cell(Layer):
    """One step of a recurrent layer: ``params`` are ``Wx``, ``Wh``, ``b``; ``cache`` holds what backward needs."""

    def __init__(self, Wx: Any, Wh: Any, b: Any) -> None:
        self.params = [Wx, Wh, b]
        self.grads = zeros_like_all(self.params)
        self.cache = None


class RNN(_Cell):
    """One RNN step ``h_next = tanh(x @ Wx + h_prev @ Wh + b)``; ``Wx`` ``(D, H)``, ``Wh`` ``(H, H)``, ``b`` ``(H,)``.

    ``forward(x, h_prev)`` with ``x`` ``(N, D)`` and ``h_prev`` ``(N, H)``; ``backward(dh_next)``
    returns ``(dx, dh_prev)``.
    """

    def forward(self, x: Any, h_prev: Any) -> Any:  # type: ignore[override]
        Wx, Wh, b = self.params
        xp = get_namespace(x, h_prev, Wx)
        x = like_weights(xp, x, Wx, "RNN")
        h_next = xp.tanh(x @ Wx + h_prev @ Wh + b)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next: Any, *, input_grad: bool = True) -> tuple[Any, Any]:  # type: ignore[override]
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dt = dh_next * (1.0 - h_next * h_next)
        store_matmul(self.grads, 0, x.T, dt)
        store_matmul(self.grads, 1, h_prev.T, dt)
        store_sum(self.grads, 2, dt)
        return dt @ Wx.T, dt @ Wh.T


class LSTM(_Cell):
    """One LSTM step; ``Wx`` ``(D, 4H)``, ``Wh`` ``(H, 4H)``, ``b`` ``(4H,)``, gates in the book's order f, g, i, o.

    ``forward(x, h_prev, c_prev)`` returns ``(h_next, c_next)``; ``backward(dh_next, dc_next)``
    returns ``(dx, dh_prev, dc_prev)``.
    """

    def forward(self, x: Any, h_prev: Any, c_prev: Any) -> tuple[Any, Any]:  # type: ignore[override]
        Wx, Wh, b = self.params
        xp = get_namespace(x, h_prev, c_prev, Wx)
        x = like_weights(xp, x, Wx, "LSTM")
        H = Wh.shape[0]
        a = x @ Wx + h_prev @ Wh + b
        f, g = sigmoid(a[:, :H]), xp.tanh(a[:, H : 2 * H])
        i, o = sigmoid(a[:, 2 * H : 3 * H]), sigmoid(a[:, 3 * H :])
        c_next = f * c_prev + g * i
        tc = xp.tanh(c_next)
        h_next = o * tc
        self.cache = (x, h_prev, c_prev, f, g, i, o, tc)
        return h_next, c_next

    def backward(self, dh_next: Any, dc_next: Any, *, input_grad: bool = True) -> tuple[Any, Any, Any]:  # type: ignore[override]
        Wx, Wh, _ = self.params
        x, h_prev, c_prev, f, g, i, o, tc = self.cache
        xp = get_namespace(dh_next, Wx)
        ds = dc_next + dh_next * o * (1.0 - tc * tc)
        df = ds * c_prev * f * (1.0 - f)
        dg = ds * i * (1.0 - g * g)
        di = ds * g * i * (1.0 - i)
        do = dh_next * tc * o * (1.0 - o)
        da = xp.concat([df, dg, di, do], axis=1)
        store_matmul(self.grads, 0, x.T, da)
        store_matmul(self.grads, 1, h_prev.T, da)
        store_sum(self.grads, 2, da)
        return da @ Wx.T, da @ Wh.T, ds * f


class GRU(_Cell):
    """One GRU step (book 2, appendix C); ``Wx`` ``(D, 3H)``, ``Wh`` ``(H, 3H)``, ``b`` ``(3H,)`` in the order z, r, h.

    ``z = sigmoid(x Wxz + h Whz + bz)``, ``r = sigmoid(x Wxr + h Whr + br)``,
    ``h~ = tanh(x Wxh + (r*h) Whh + bh)``, ``h_next = (1 - z) * h + z * h~``.
    ``forward(x, h_prev)`` returns ``h_next``; ``backward(dh_next)`` returns ``(dx, dh_prev)``.
    """

    def forward(self, x: Any, h_prev: Any) -> Any:  # type: ignore[override]
        Wx, Wh, b = self.params
        xp = get_namespace(x, h_prev, Wx)
        x = like_weights(xp, x, Wx, "GRU")
        H = Wh.shape[0]
        ax = x @ Wx + b
        zr = sigmoid(ax[:, : 2 * H] + h_prev @ Wh[:, : 2 * H])
        z, r = zr[:, :H], zr[:, H:]
        hh = xp.tanh(ax[:, 2 * H :] + (r * h_prev) @ Wh[:, 2 * H :])
        self.cache = (x, h_prev, z, r, hh)
        return h_prev + z * (hh - h_prev)

    def backward(self, dh_next: Any, *, input_grad: bool = True) -> tuple[Any, Any]:  # type: ignore[override]
        Wx, Wh, _ = self.params
        x, h_prev, z, r, hh = self.cache
        xp = get_namespace(dh_next, Wx)
        H = Wh.shape[0]
        dt = dh_next * z * (1.0 - hh * hh)
        drh = dt @ Wh[:, 2 * H :].T
        dz = dh_next * (hh - h_prev) * z * (1.0 - z)
        dr = drh * h_prev * r * (1.0 - r)
        dzr = xp.concat([dz, dr], axis=1)
        dh_prev = dh_next * (1.0 - z) + drh * r + dzr @ Wh[:, : 2 * H].T
        da = xp.concat([dzr, dt], axis=1)
        store_matmul(self.grads, 0, x.T, da)
        store_grad(self.grads, 1, xp.concat([h_prev.T @ dzr, (r * h_prev).T @ dt], axis=1))
        store_sum(self.grads, 2, da)
        return da @ Wx.T, dh_prev


# --- whole sequences -------------------------------------------------------------------------


class _Recurrent(Layer):
    """What ``TimeRNN``, ``TimeLSTM`` and ``TimeGRU`` share: parameters, state, ``set_state``/``reset_state``."""

    Wx, Wh, b = slot("Wx", "params", 0), slot("Wh", "params", 1), slot("b", "params", 2)
    n_states = 1

    def __init__(self, Wx: Any, Wh: Any, b: Any, stateful: bool = False) -> None:
        self.params = [Wx, Wh, b]
        self.grads = zeros_like_all(self.params)
        self.stateful = stateful
        self.h = self.c = None
        self.dh = None
        self.cache = None

    def _inputs(self, xs: Any, layer: str) -> tuple[Any, Any, list[Any]]:
        """The namespace, ``xs`` checked and in the weights' dtype, and the parameters, for ``forward``."""
        Wx = self.params[0]
        xp = get_namespace(xs, Wx)
        _check_seq(xs, Wx, layer)
        return xp, like_weights(xp, xs, Wx, layer), self.params

    def set_state(self, h: Any, c: Any = None) -> None:
        """Start the next ``forward`` from hidden state ``h`` ``(N, H)`` (and cell state ``c`` for the LSTM)."""
        self.h = h
        if self.n_states == 2:
            self.c = c

    def reset_state(self) -> None:
        self.h = self.c = None

    def _initial(self, xp: Any, xs: Any, state: Any) -> Any:
        Wh = self.params[1]
        N, H = xs.shape[0], Wh.shape[0]
        if self.stateful and state is not None:
            if tuple(state.shape) != (N, H):
                name = type(self).__name__
                raise ValueError(f"{name}: the carried state of shape {tuple(state.shape)} meets a batch of {N}")
            return state
        return xp.zeros((N, H), dtype=Wh.dtype, device=array_device(xs))


class TimeRNN(_Recurrent):
    """``T`` RNN steps over ``xs`` ``(N, T, D)``; returns ``hs`` ``(N, T, H)``; ``backward(dhs)`` returns ``dxs``."""

    def forward(self, xs: Any, train_flg: bool = False) -> Any:
        xp, xs, (Wx, Wh, b) = self._inputs(xs, "TimeRNN")
        N, T, _ = xs.shape
        A = _input_projection(xp, xs, Wx, b)
        h0 = h = self._initial(xp, xs, self.h)
        hs = xp.empty((N, T, Wh.shape[0]), dtype=Wh.dtype, device=array_device(xs))
        for t in range(T):
            h = xp.tanh(A[:, t, :] + h @ Wh)
            hs[:, t, :] = h
        self.h = h
        self.cache = (xs, h0, hs)
        return hs

    def backward(self, dhs: Any, *, input_grad: bool = True) -> Any:
        Wx, Wh, _ = self.params
        xs, h0, hs = self.cache
        xp = get_namespace(dhs, Wh)
        N, T, H = hs.shape
        deriv = 1.0 - hs * hs
        D = deriv * dhs  # the part of each step's (1 - h^2) dL/dh_t that comes from above, for all t at once
        dA = xp.empty_like(hs)
        dh = xp.zeros((N, H), dtype=hs.dtype, device=array_device(hs))
        for t in range(T - 1, -1, -1):
            dt = D[:, t, :] + dh * deriv[:, t, :]
            dA[:, t, :] = dt
            dh = dt @ Wh.T
        self.dh = dh
        return _store_seq_grads(self, xp, xs, dA, _shifted(xp, h0, hs), input_grad)


class TimeLSTM(_Recurrent):
    """``T`` LSTM steps over ``xs`` ``(N, T, D)``; returns ``hs`` ``(N, T, H)``; ``backward(dhs)`` returns ``dxs``.

    ``Wx`` ``(D, 4H)``, ``Wh`` ``(H, 4H)``, ``b`` ``(4H,)``, gates in the book's order f, g, i, o.

    Each time step is one :func:`xpnet.backend.lstm_step_forward` (one kernel on CuPy up to
    ``FUSED_STEP_MAX_H`` hidden units, else ``h @ Wh`` and the fused gate kernel) and one
    ``lstm_step_backward``; ``xs @ Wx + b``, the weight gradients, ``dxs`` and the first step's
    ``dh`` are single products outside the loop. Every array of the loop lives in a workspace
    made on the first call and reused while ``(N, T)``, the dtype and the device stay the same,
    so a warm step allocates nothing here; the returned ``hs`` and ``dxs`` are workspace arrays,
    valid until the next ``forward``/``backward`` (``h``/``c``, the carried state, are views
    of them: copy them to keep them longer).
    """

    n_states = 2

    def __init__(self, Wx: Any, Wh: Any, b: Any, stateful: bool = False) -> None:
        super().__init__(Wx, Wh, b, stateful)
        self.work: dict[str, Any] | None = None

    def _workspace(self, xp: Any, xs: Any) -> dict[str, Any]:
        N, T, D = xs.shape
        H, dtype, dev = self.params[1].shape[0], self.params[1].dtype, array_device(xs)
        key = (N, T, D, H, dtype, dev)
        w = self.work
        if w is None or w["key"] != key:

            def new(*shape: int) -> Any:
                return xp.empty(shape, dtype=dtype, device=dev)

            w = self.work = {"key": key, "zero_start": False}
            w["G"], w["dA"] = new(N, T, 4 * H), new(N, T, 4 * H)
            w["hs"], w["cs"], w["hprev"] = new(N, T, H), new(N, T, H), new(N, T, H)
            w["c0"], w["hw"], w["dh"], w["dc"] = new(N, H), new(N, 4 * H), new(N, H), new(N, H)
            w["dxs"] = new(N, T, D)
        return w

    def _carried(self, xs: Any) -> tuple[Any, Any]:
        """The carried ``(h, c)`` (``None`` for zeros), checked against the batch of ``xs``."""
        if not self.stateful:
            return None, None
        N, H = xs.shape[0], self.params[1].shape[0]
        for state in (self.h, self.c):
            if state is not None and tuple(state.shape) != (N, H):
                raise ValueError(f"TimeLSTM: the carried state of shape {tuple(state.shape)} meets a batch of {N}")
        return self.h, self.c

    def _start(self, xs: Any, w: dict[str, Any]) -> None:
        """The first step's ``h`` into ``hprev[:, 0]`` and ``c`` into ``c0``: the carried state, or zeros."""
        h, c = self._carried(xs)
        carried = h is not None
        if carried:
            w["hprev"][:, 0, :] = h
            w["c0"][...] = c if c is not None else 0.0
        elif not w["zero_start"]:  # zeros stay zeros: only a carried state writes these two
            w["hprev"][:, 0, :] = 0.0
            w["c0"][...] = 0.0
        w["zero_start"] = not carried

    def forward(self, xs: Any, train_flg: bool = False) -> Any:
        xp, xs, (Wx, Wh, b) = self._inputs(xs, "TimeLSTM")
        T = xs.shape[1]
        seq = lstm_sequence(xs, Wx, Wh, b, *self._carried(xs))
        if seq is not None:  # the library's own LSTM op (PyTorch), unless library_rnn(False)
            hs, self.h, self.c, backward = seq
            self.cache = (xs, backward)
            return hs
        w = self._workspace(xp, xs)
        G, hs, cs, hw = w["G"], w["hs"], w["cs"], w["hw"]
        # xs @ Wx + b for every step at once, into the workspace's buffers where the library writes out= (NumPy)
        A = xp.reshape(kernels_for(xs).affine(_flat(xp, xs), Wx, b, w), (xs.shape[0], T, Wx.shape[1]))
        self._start(xs, w)
        h, c = w["hprev"][:, 0, :], w["c0"]
        for t in range(T):
            lstm_step_forward(A[:, t, :], h, Wh, c, G[:, t, :], cs[:, t, :], hs[:, t, :], hw)
            h, c = hs[:, t, :], cs[:, t, :]
        self.h, self.c = h, c
        self.cache = (xs, w)
        return hs

    def backward(self, dhs: Any, *, input_grad: bool = True) -> Any:
        Wh = self.params[1]
        xs, w = self.cache
        xp = get_namespace(dhs, Wh)
        if not isinstance(w, dict):  # the library's own LSTM op ran forward: w is its backward
            *grads, self.dh, dxs = w(dhs)
            for i, g in enumerate(grads):
                store_grad(self.grads, i, g)
            return dxs if input_grad else None
        T = xs.shape[1]
        G, cs, dA, dh, dc = w["G"], w["cs"], w["dA"], w["dh"], w["dc"]
        dc[...] = 0.0
        for t in range(T - 1, -1, -1):
            c_prev = cs[:, t - 1, :] if t > 0 else w["c0"]
            da_next = dA[:, t + 1, :] if t + 1 < T else None
            lstm_step_backward(dhs[:, t, :], da_next, Wh, dh, dc, G[:, t, :], cs[:, t, :], c_prev, dA[:, t, :])
        matmul_into(dh, dA[:, 0, :], Wh.T)  # the gradient of the first step's h_prev
        self.dh = dh
        hprev = w["hprev"]
        hprev[:, 1:, :] = w["hs"][:, : T - 1, :]
        return _store_seq_grads(self, xp, xs, dA, hprev, input_grad, out=w["dxs"])


class TimeGRU(_Recurrent):
    """``T`` GRU steps over ``xs`` ``(N, T, D)``; returns ``hs`` ``(N, T, H)``; ``backward(dhs)`` returns ``dxs``.

    ``Wx`` ``(D, 3H)``, ``Wh`` ``(H, 3H)``, ``b`` ``(3H,)`` in the order z, r, h (see :class:`GRU`).
    """

    def forward(self, xs: Any, train_flg: bool = False) -> Any:
        xp, xs, (Wx, Wh, b) = self._inputs(xs, "TimeGRU")
        N, T, _ = xs.shape
        H = Wh.shape[0]
        dev = array_device(xs)
        A = _input_projection(xp, xs, Wx, b)
        Whzr, Whh = Wh[:, : 2 * H], Wh[:, 2 * H :]
        h0 = h = self._initial(xp, xs, self.h)
        ZR = xp.empty((N, T, 2 * H), dtype=Wh.dtype, device=dev)
        HH = xp.empty((N, T, H), dtype=Wh.dtype, device=dev)
        hs = xp.empty((N, T, H), dtype=Wh.dtype, device=dev)
        for t in range(T):
            a = A[:, t, :]
            zr = sigmoid(a[:, : 2 * H] + h @ Whzr)
            hh = xp.tanh(a[:, 2 * H :] + (zr[:, H:] * h) @ Whh)
            h = h + zr[:, :H] * (hh - h)
            ZR[:, t, :] = zr
            HH[:, t, :] = hh
            hs[:, t, :] = h
        self.h = h
        self.cache = (xs, h0, ZR, HH, hs)
        return hs

    def backward(self, dhs: Any, *, input_grad: bool = True) -> Any:
        Wx, Wh, _ = self.params
        xs, h0, ZR, HH, hs = self.cache
        xp = get_namespace(dhs, Wh)
        N, T, H = hs.shape
        hprev = _shifted(xp, h0, hs)
        Z, R = ZR[..., :H], ZR[..., H:]
        dzr_fac = ZR * (1.0 - ZR) * xp.concat([HH - hprev, hprev], axis=2)
        dt_fac = Z * (1.0 - HH * HH)
        WhzrT, WhhT = Wh[:, : 2 * H].T, Wh[:, 2 * H :].T
        dA = xp.empty((N, T, 3 * H), dtype=hs.dtype, device=array_device(hs))
        dh = xp.zeros((N, H), dtype=hs.dtype, device=array_device(hs))
        for t in range(T - 1, -1, -1):
            dhn = dhs[:, t, :] + dh
            dt = dhn * dt_fac[:, t, :]
            drh = dt @ WhhT
            dzr = xp.concat([dhn, drh], axis=1) * dzr_fac[:, t, :]
            dA[:, t, : 2 * H] = dzr
            dA[:, t, 2 * H :] = dt
            dh = dhn * (1.0 - Z[:, t, :]) + drh * R[:, t, :] + dzr @ WhzrT
        self.dh = dh
        dA2 = _flat(xp, dA)
        store_matmul(self.grads, 0, _flat(xp, xs).T, dA2)
        dWh = xp.concat([_flat(xp, hprev).T @ dA2[:, : 2 * H], _flat(xp, R * hprev).T @ dA2[:, 2 * H :]], axis=1)
        store_grad(self.grads, 1, dWh)
        store_sum(self.grads, 2, dA2)
        return xp.reshape(dA2 @ Wx.T, (N, T, Wx.shape[0])) if input_grad else None
