"""The LSTM's per-time-step kernels: one call per step forward and one backward, writing into preallocated arrays.

A time loop that launches dozens of small kernels per step spends a GPU step on launches, so
the whole element-wise work of one LSTM step is one kernel here, on every library that can
fuse it: a CuPy ``ElementwiseKernel``, and on PyTorch one custom op (``torch.ops.xpnet``)
whose body writes through ``out=``. NumPy runs the same arithmetic through ``out=`` into the
caller's arrays, so a warm step allocates nothing. Any other namespace (array-api-strict)
runs the reference below, written on the Array API standard alone; every override is tested
equal to it.

Gates are in the book's order ``f, g, i, o`` along the last axis of ``(N, 4H)`` arrays.
``sigmoid(z)`` is computed as ``0.5 * tanh(0.5 * z) + 0.5`` everywhere (no overflow).
Arguments may be strided views (a time step ``A[:, t, :]`` of an ``(N, T, 4H)`` buffer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import get_namespace

__all__ = [
    "lstm_cell_forward",
    "lstm_cell_backward",
    "matmul_into",
    "has_lstm_sequence",
    "lstm_sequence_forward",
    "lstm_sequence_backward",
    "library_rnn",
    "library_rnn_enabled",
]


# --- reference (the Array API standard) -----------------------------------------------------------------


def _sigmoid(xp: Any, z: Any) -> Any:
    return 0.5 * xp.tanh(0.5 * z) + 0.5


def lstm_cell_forward_reference(a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
    """One LSTM step from its pre-activations ``a + hw`` ``(N, 4H)``.

    Writes the activated gates ``[sigmoid f, tanh g, sigmoid i, sigmoid o]`` into ``gates``
    ``(N, 4H)``, ``c = f * c_prev + g * i`` into ``c`` ``(N, H)`` and ``h = o * tanh(c)`` into
    ``h`` ``(N, H)``. ``a`` is the input projection ``x @ Wx + b`` of the step, ``hw`` the
    recurrent one ``h_prev @ Wh``. All arrays share one floating dtype.
    """
    xp = get_namespace(a, hw, c_prev, gates)
    H = c.shape[-1]
    z = a + hw
    f, g = _sigmoid(xp, z[:, :H]), xp.tanh(z[:, H : 2 * H])
    i, o = _sigmoid(xp, z[:, 2 * H : 3 * H]), _sigmoid(xp, z[:, 3 * H :])
    gates[...] = xp.concat([f, g, i, o], axis=1)
    c[...] = f * c_prev + g * i
    h[...] = o * xp.tanh(c)


def lstm_cell_backward_reference(dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
    """Gradient through one LSTM step, given what :func:`lstm_cell_forward` stored.

    ``dh_up`` ``(N, H)`` is the gradient of ``h`` from the layer above, ``dh_rec`` ``(N, H)``
    the one from the next step (``da_next @ Wh.T``), ``dc`` ``(N, H)`` the gradient of ``c``
    from the next step. Writes the gradient of the pre-activations into ``da`` ``(N, 4H)`` and
    replaces ``dc`` with the gradient of ``c_prev``. ``dh_rec`` may be overwritten (scratch).
    """
    xp = get_namespace(dh_up, dh_rec, dc, gates)
    H = c.shape[-1]
    f, g, i, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    dht = dh_up + dh_rec
    tc = xp.tanh(c)
    ds = dc + dht * o * (1.0 - tc * tc)
    da[...] = xp.concat(
        [ds * c_prev * f * (1.0 - f), ds * i * (1.0 - g * g), ds * g * i * (1.0 - i), dht * tc * o * (1.0 - o)],
        axis=1,
    )
    dc[...] = ds * f


def matmul_into_reference(out: Any, a: Any, b: Any) -> None:
    """``out[...] = a @ b``."""
    out[...] = a @ b


# --- NumPy: the same arithmetic through out=, nothing allocated ---------------------------------------

_CONSTANTS: dict[tuple[int, Any], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _constants(H: int, dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scale, shift)`` ``(4H,)`` and a ``1`` ``(1,)`` of ``dtype``, made once: ``tanh(z * scale) * scale + shift``
    is sigmoid on the gates f, i, o and tanh on g; the ``1`` spares a scalar conversion per call."""
    key = (H, np.dtype(dtype))
    if key not in _CONSTANTS:
        scale = np.full(4 * H, 0.5, dtype=dtype)
        scale[H : 2 * H] = 1.0
        shift = np.full(4 * H, 0.5, dtype=dtype)
        shift[H : 2 * H] = 0.0
        _CONSTANTS[key] = (scale, shift, np.ones(1, dtype=dtype))
    return _CONSTANTS[key]


def _lstm_cell_forward_numpy(a, hw, c_prev, gates, c, h) -> None:
    H = c.shape[-1]
    scale, shift, _ = _constants(H, gates.dtype)
    np.add(a, hw, out=gates)
    gates *= scale
    np.tanh(gates, out=gates)
    gates *= scale
    gates += shift
    f, g, i, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    np.multiply(f, c_prev, out=c)
    np.multiply(g, i, out=h)
    c += h
    np.tanh(c, out=h)
    h *= o


def _lstm_cell_backward_numpy(dh_up, dh_rec, dc, gates, c, c_prev, da) -> None:
    H = c.shape[-1]
    f, g, i, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    df, dg, di, do = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : 3 * H], da[:, 3 * H :]
    one = _constants(H, gates.dtype)[2]
    dht = dh_rec
    dht += dh_up
    np.tanh(c, out=do)  # tanh(c)
    np.multiply(do, do, out=df)
    np.subtract(one, df, out=df)
    df *= o
    df *= dht
    dc += df  # dc is now ds
    do *= dht
    np.subtract(one, o, out=dg)
    dg *= o
    do *= dg
    np.subtract(one, f, out=df)
    df *= f
    df *= c_prev
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


# --- PyTorch: each step one custom op, its body through out= ------------------------------------------

_TORCH_LIB = None


def _torch_ops() -> Any:
    """Registers ``torch.ops.xpnet.lstm_cell_forward``/``_backward`` once; returns ``torch.ops.xpnet``."""
    global _TORCH_LIB
    import torch

    if _TORCH_LIB is None:
        lib = torch.library.Library("xpnet", "FRAGMENT")
        lib.define(
            "lstm_cell_forward(Tensor a, Tensor hw, Tensor c_prev, Tensor(a!) gates, Tensor(b!) c, Tensor(d!) h) -> ()"
        )
        lib.define(
            "lstm_cell_backward(Tensor dh_up, Tensor(a!) dh_rec, Tensor(b!) dc, Tensor gates, Tensor c, "
            "Tensor c_prev, Tensor(d!) da) -> ()"
        )
        lib.impl("lstm_cell_forward", _lstm_cell_forward_torch, "CompositeExplicitAutograd")
        lib.impl("lstm_cell_backward", _lstm_cell_backward_torch, "CompositeExplicitAutograd")
        _TORCH_LIB = lib
    return torch.ops.xpnet


def _lstm_cell_forward_torch(a, hw, c_prev, gates, c, h) -> None:
    import torch

    H = c.shape[-1]
    torch.add(a, hw, out=gates)
    f, g, i, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    g.tanh_()
    for s in (f, i, o):
        s.mul_(0.5).tanh_().mul_(0.5).add_(0.5)
    torch.mul(f, c_prev, out=c)
    c.addcmul_(g, i)
    torch.tanh(c, out=h)
    h.mul_(o)


def _lstm_cell_backward_torch(dh_up, dh_rec, dc, gates, c, c_prev, da) -> None:
    import torch

    H = c.shape[-1]
    f, g, i, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    df, dg, di, do = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : 3 * H], da[:, 3 * H :]
    dht = dh_rec.add_(dh_up)
    torch.tanh(c, out=do)
    torch.mul(do, do, out=df)
    df.neg_().add_(1.0).mul_(o).mul_(dht)
    dc.add_(df)  # ds
    do.mul_(dht)
    torch.mul(o, o, out=dg)
    do.mul_(dg.neg_().add_(o))  # dht * tanh(c) * o(1-o)
    torch.mul(f, f, out=df)
    df.neg_().add_(f).mul_(c_prev).mul_(dc)
    torch.mul(i, i, out=di)
    di.neg_().add_(i).mul_(g).mul_(dc)
    torch.mul(g, g, out=dg)
    dg.neg_().add_(1.0).mul_(i).mul_(dc)
    dc.mul_(f)


# --- CuPy: one ElementwiseKernel per step ------------------------------------------------------------

_CUPY_KERNELS: dict[str, Any] = {}

_CUPY_FORWARD = """
const ptrdiff_t n = i / H, j = i % H;
const T zf = a[{n, j}] + hw[{n, j}], zg = a[{n, H + j}] + hw[{n, H + j}];
const T zi = a[{n, 2 * H + j}] + hw[{n, 2 * H + j}], zo = a[{n, 3 * H + j}] + hw[{n, 3 * H + j}];
const T f = tanh(zf * (T)0.5) * (T)0.5 + (T)0.5, g = tanh(zg);
const T ig = tanh(zi * (T)0.5) * (T)0.5 + (T)0.5, o = tanh(zo * (T)0.5) * (T)0.5 + (T)0.5;
gates[{n, j}] = f; gates[{n, H + j}] = g; gates[{n, 2 * H + j}] = ig; gates[{n, 3 * H + j}] = o;
c = f * c_prev + g * ig;
h = o * tanh(c);
"""

_CUPY_BACKWARD = """
const ptrdiff_t n = i / H, j = i % H;
const T f = gates[{n, j}], g = gates[{n, H + j}], ig = gates[{n, 2 * H + j}], o = gates[{n, 3 * H + j}];
const T dht = dh_up + dh_rec, tc = tanh(c);
const T ds = dc + dht * o * ((T)1 - tc * tc);
da[{n, j}] = ds * c_prev * f * ((T)1 - f);
da[{n, H + j}] = ds * ig * ((T)1 - g * g);
da[{n, 2 * H + j}] = ds * g * ig * ((T)1 - ig);
da[{n, 3 * H + j}] = dht * tc * o * ((T)1 - o);
dc = ds * f;
"""


def _cupy_kernel(name: str) -> Any:
    if name not in _CUPY_KERNELS:
        import cupy

        if name == "forward":
            _CUPY_KERNELS[name] = cupy.ElementwiseKernel(
                "raw T a, raw T hw, T c_prev, int64 H", "raw T gates, T c, T h", _CUPY_FORWARD, "xpnet_lstm_forward"
            )
        else:
            _CUPY_KERNELS[name] = cupy.ElementwiseKernel(
                "T dh_up, T dh_rec, raw T gates, T c, T c_prev, int64 H",
                "raw T da, T dc",
                _CUPY_BACKWARD,
                "xpnet_lstm_backward",
            )
    return _CUPY_KERNELS[name]


def _lstm_cell_forward_cupy(a, hw, c_prev, gates, c, h) -> None:
    _cupy_kernel("forward")(a, hw, c_prev, c.shape[-1], gates, c, h)


def _lstm_cell_backward_cupy(dh_up, dh_rec, dc, gates, c, c_prev, da) -> None:
    _cupy_kernel("backward")(dh_up, dh_rec, gates, c, c_prev, c.shape[-1], da, dc)


# --- a whole sequence in one op: the library's own LSTM, where it has one (PyTorch) ----------------------

_LIBRARY_RNN = [True]


def library_rnn_enabled() -> bool:
    """Whether ``TimeLSTM`` hands whole sequences to the library's own LSTM op where it has one (PyTorch)."""
    return _LIBRARY_RNN[-1]


class library_rnn:  # noqa: N801 - used as a context manager, like a function
    """``with library_rnn(False):`` runs ``TimeLSTM`` on the portable time loop (the path CuPy and NumPy take) even
    where the library has its own LSTM op; ``library_rnn(True)`` (the default) lets PyTorch run the sequence."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = bool(enabled)

    def __enter__(self) -> None:
        _LIBRARY_RNN.append(self.enabled)

    def __exit__(self, *exc: Any) -> None:
        _LIBRARY_RNN.pop()


def _torch_gate_order(H: int, like: Any) -> tuple[Any, Any]:
    """Row indices taking the book's gate order f, g, i, o to PyTorch's i, f, g, o, and back."""
    import torch

    ar = torch.arange(H, device=like.device)
    to_torch = torch.cat([ar + 2 * H, ar, ar + H, ar + 3 * H])
    return to_torch, torch.argsort(to_torch)


_ORDERS: dict[tuple[int, Any, Any], tuple[Any, Any, Any]] = {}


def _lstm_sequence_forward_torch(xs, Wx, Wh, b, h0, c0):
    import torch

    H = Wh.shape[0]
    key = (H, xs.device, b.dtype)
    if key not in _ORDERS:  # the gate orders, and the zero second bias torch.lstm takes beside b
        _ORDERS[key] = (*_torch_gate_order(H, xs), torch.zeros_like(b))
    order, back, zero_bias = _ORDERS[key]
    # PyTorch's layout made outside the graph (contiguous (4H, .) rows: nothing for the op to copy again);
    # backward takes the gradients back to the book's layout itself
    leaves = [torch.index_select(W.T, 0, order) for W in (Wx, Wh)] + [torch.index_select(b, 0, order)]
    leaves = [t.requires_grad_() for t in leaves] + [t.detach().requires_grad_() for t in (h0, xs)]
    w_ih, w_hh, b_ih, h0_, x = leaves
    with torch.enable_grad():
        hs, hT, cT = torch.lstm(
            x, (h0_[None], c0[None]), [w_ih, w_hh, b_ih, zero_bias], True, 1, 0.0, True, False, True
        )
    return hs.detach(), hT[0].detach(), cT[0].detach(), (hs, leaves, back)


def _lstm_sequence_backward_torch(ctx, dhs):
    import torch

    hs, inputs, back = ctx
    dw_ih, dw_hh, db, dh0, dxs = torch.autograd.grad(hs, inputs, dhs)
    dWx, dWh, db = (torch.index_select(g, 0, back) for g in (dw_ih, dw_hh, db))
    return dWx.T, dWh.T, db, dh0, dxs


def has_lstm_sequence(xs: Any) -> bool:
    """Whether :func:`lstm_sequence_forward` can run ``xs``'s library's own LSTM op (and it is not switched off)."""
    return library_rnn_enabled() and _library(xs) == "torch"


def lstm_sequence_forward(xs: Any, Wx: Any, Wh: Any, b: Any, h0: Any, c0: Any) -> Any:
    """The whole LSTM sequence by the library's own op, where :func:`has_lstm_sequence`.

    ``xs`` ``(N, T, D)``, weights in the book's layout and gate order, initial states ``h0``,
    ``c0`` ``(N, H)``. Returns ``(hs (N, T, H), h_T, c_T, ctx)``; ``ctx`` goes to
    :func:`lstm_sequence_backward`. On PyTorch this is ``torch.lstm`` (cuDNN on CUDA, oneDNN on
    the CPU), its backward by autograd; tested equal to the portable loop.
    """
    return _lstm_sequence_forward_torch(xs, Wx, Wh, b, h0, c0)


def lstm_sequence_backward(ctx: Any, dhs: Any) -> tuple[Any, Any, Any, Any, Any]:
    """``(dWx, dWh, db, dh0, dxs)`` of the sequence :func:`lstm_sequence_forward` ran, given ``dhs`` ``(N, T, H)``."""
    return _lstm_sequence_backward_torch(ctx, dhs)


# --- dispatch by the arrays' library ------------------------------------------------------------------


def _library(x: Any) -> str:
    if type(x) is np.ndarray:
        return "numpy"
    module = type(x).__module__.split(".")[0]
    return module if module in ("torch", "cupy") else "reference"


def lstm_cell_forward(a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
    """One fused LSTM step forward; see :func:`lstm_cell_forward_reference` for the arguments."""
    lib = _library(gates)
    if lib == "numpy":
        _lstm_cell_forward_numpy(a, hw, c_prev, gates, c, h)
    elif lib == "torch":
        _torch_ops().lstm_cell_forward(a, hw, c_prev, gates, c, h)
    elif lib == "cupy":
        _lstm_cell_forward_cupy(a, hw, c_prev, gates, c, h)
    else:
        lstm_cell_forward_reference(a, hw, c_prev, gates, c, h)


def lstm_cell_backward(dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
    """One fused LSTM step backward; see :func:`lstm_cell_backward_reference` for the arguments."""
    lib = _library(gates)
    if lib == "numpy":
        _lstm_cell_backward_numpy(dh_up, dh_rec, dc, gates, c, c_prev, da)
    elif lib == "torch":
        _torch_ops().lstm_cell_backward(dh_up, dh_rec, dc, gates, c, c_prev, da)
    elif lib == "cupy":
        _lstm_cell_backward_cupy(dh_up, dh_rec, dc, gates, c, c_prev, da)
    else:
        lstm_cell_backward_reference(dh_up, dh_rec, dc, gates, c, c_prev, da)


def matmul_into(out: Any, a: Any, b: Any) -> None:
    """``out[...] = a @ b`` written straight into ``out`` (one kernel, no temporary) where the library allows."""
    lib = _library(out)
    if lib == "numpy":
        np.matmul(a, b, out=out)
    elif lib == "torch":
        import torch

        torch.matmul(a, b, out=out)
    elif lib == "cupy":
        import cupy

        cupy.matmul(a, b, out=out)
    else:
        matmul_into_reference(out, a, b)
