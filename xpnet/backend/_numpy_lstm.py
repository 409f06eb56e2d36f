"""NumPy's LSTM cell kernels (``NumpyKernels.lstm_cell_forward``/``_backward``): one time step's element-wise work
through ``out=`` into a per-shape scratch, nothing allocated."""

from __future__ import annotations

from typing import Any

import numpy as np


def cell_forward(a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
    """In a per-shape scratch with the gates as four contiguous ``(N, H)`` blocks, copied in and out once:
    a ufunc over a column block or a time-step view of a sequence makes NumPy buffer (an allocation)."""
    w = _lstm_scratch(c.shape[0], c.shape[-1], gates.dtype)
    z, t4, (cp, cn, hn) = w["z"], w["t4"], w["nh"][:3]
    np.copyto(z, _blocks(a))
    np.copyto(t4, _blocks(hw))
    z += t4
    z *= w["scale"]  # sigmoid(z) = tanh(z/2)/2 + 1/2 on f, i, o and tanh on g: four passes over all gates
    np.tanh(z, out=z)
    z *= w["scale"]
    z += w["shift"]
    f, g, i, o = z
    np.copyto(cp, c_prev)
    np.multiply(f, cp, out=cn)
    np.multiply(g, i, out=hn)
    cn += hn
    np.tanh(cn, out=hn)
    hn *= o
    np.copyto(_blocks(gates), z)
    np.copyto(c, cn)
    np.copyto(h, hn)


def cell_backward(dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
    w = _lstm_scratch(c.shape[0], c.shape[-1], gates.dtype)
    one, (cp, cc, up) = w["one"], w["nh"][:3]
    (f, g, i, o), (df, dg, di, do) = w["z"], w["t4"]
    np.copyto(w["z"], _blocks(gates))
    np.copyto(up, dh_up)
    dht = dh_rec
    dht += up
    np.copyto(cc, c)
    np.tanh(cc, out=do)
    np.multiply(do, do, out=df)
    np.subtract(one, df, out=df)
    df *= o
    df *= dht
    dc += df  # dc is now ds = dc + dht * o * (1 - tanh(c)^2)
    do *= dht
    np.subtract(one, o, out=dg)
    dg *= o
    do *= dg  # dht * tanh(c) * o (1 - o)
    np.copyto(cp, c_prev)
    np.subtract(one, f, out=df)
    df *= f
    df *= cp
    df *= dc
    np.subtract(one, i, out=di)
    di *= i
    di *= g
    di *= dc
    np.multiply(g, g, out=dg)
    np.subtract(one, dg, out=dg)
    dg *= i
    dg *= dc
    dc *= f
    np.copyto(_blocks(da), w["t4"])


_LSTM_SCRATCH: dict[tuple[int, int, Any], dict[str, Any]] = {}


def _lstm_scratch(N: int, H: int, dtype: Any) -> dict[str, Any]:
    """The LSTM kernels' arrays for ``N`` rows of ``H`` units, made once per shape and reused by every step (of every
    layer: nothing in them outlives a call): ``z``, ``t4`` ``(4, N, H)`` (gate blocks), ``nh``: three ``(N, H)``,
    and constants of full shape (a broadcasting ufunc buffers): ``scale``, ``shift`` ``(4, N, H)``
    (``tanh(z * scale) * scale + shift`` is sigmoid on f, i, o, tanh on g) and ``one`` ``(N, H)``."""
    key = (N, H, np.dtype(dtype))
    w = _LSTM_SCRATCH.get(key)
    if w is None:
        scale = np.full((4, N, H), 0.5, dtype=dtype)
        scale[1] = 1.0
        shift = np.full((4, N, H), 0.5, dtype=dtype)
        shift[1] = 0.0
        w = _LSTM_SCRATCH[key] = {
            "z": np.empty((4, N, H), dtype=dtype),
            "t4": np.empty((4, N, H), dtype=dtype),
            "nh": [np.empty((N, H), dtype=dtype) for _ in range(3)],
            "scale": scale,
            "shift": shift,
            "one": np.ones((N, H), dtype=dtype),
        }
    return w


def _blocks(x: Any) -> Any:
    """``x`` ``(N, 4H)`` (any row stride) as the view ``(4, N, H)``: gate ``k`` is ``x[:, k*H:(k+1)*H]``."""
    N, G = x.shape
    return np.reshape(x, (N, 4, G // 4), copy=False).transpose(1, 0, 2)
