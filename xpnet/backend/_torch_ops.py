"""xpnet's own torch ops (``torch.ops.xpnet``): the fused LSTM steps and softmax with loss of ``TorchKernels``.

Each op stands for one CuPy kernel of ``backend/cupy.py``, so the kernel counts of the torch backend
(``python -m benchmarks.kernels``) are CuPy's; its body runs aten ops through ``out=`` and in-place
methods into the arrays it is given (:data:`OP_BODIES`: what torch itself launches for each).
"""

from __future__ import annotations

import importlib
import math
from typing import Any

from ._step_kernels import LOSS_EPS

#: ``ignore_index`` for ``nll_loss``: no label equals it
_IGNORE = -(2**62)


def _torch() -> Any:
    return importlib.import_module("torch")


_XENT_LIBRARY: list[Any] = []


def xent_ops() -> Any:
    """``torch.ops.xpnet`` with ``softmax_xent_rows``/``softmax_xent_grad`` registered (once): each stands for one
    CuPy kernel (``backend/cupy.py``), so the kernel counts of the torch backend are CuPy's."""
    torch = _torch()
    if not _XENT_LIBRARY:
        lib = torch.library.Library("xpnet", "FRAGMENT")
        lib.define(
            "softmax_xent_rows(Tensor x, Tensor t, Tensor floor, Tensor(a!) logp, Tensor(b!) term, "
            "Tensor(d!) label) -> ()"
        )
        lib.define("softmax_xent_grad(Tensor logp, Tensor label, Tensor scale, Tensor(a!) dx) -> ()")
        lib.impl("softmax_xent_rows", _softmax_xent_rows, "CompositeExplicitAutograd")
        lib.impl("softmax_xent_grad", _softmax_xent_grad, "CompositeExplicitAutograd")
        _XENT_LIBRARY.append(lib)
    return torch.ops.xpnet


def log_eps() -> float:
    return math.log(LOSS_EPS)


def _softmax_xent_rows(x: Any, t: Any, floor: Any, logp: Any, term: Any, label: Any) -> None:
    torch = _torch()
    if t.ndim == 2:  # the book's reading of (N, C) labels: the row's first largest entry
        torch.argmax(t.to(torch.uint8) if t.dtype == torch.bool else t, 1, out=label)
    elif label is not t:
        label.copy_(t)
    torch.log_softmax(x, 1, out=logp)
    # -log(y[label] + eps) = -logaddexp(log y, log eps) at the label: nll_loss per row
    torch.ops.aten.nll_loss.out(torch.logaddexp(logp, floor), label, None, 0, _IGNORE, out=term)


def _softmax_xent_grad(logp: Any, label: Any, scale: Any, dx: Any) -> None:
    aten = _torch().ops.aten
    # -scale at each row's label, 0 elsewhere; the log-softmax's backward adds softmax * scale
    onehot = aten.nll_loss_backward(scale.expand(logp.shape[0]), logp, label, None, 0, _IGNORE, scale)
    aten._log_softmax_backward_data.out(onehot, logp, 1, logp.dtype, out=dx)


#: The bodies of xpnet's torch ops by name: what each runs on torch itself (``benchmarks.kernels`` counts them too).
OP_BODIES = {
    "softmax_xent_rows": _softmax_xent_rows,
    "softmax_xent_grad": _softmax_xent_grad,
}

_LSTM_LIBRARY: list[Any] = []


def lstm_ops() -> Any:
    """``torch.ops.xpnet`` with ``lstm_cell_forward``/``_backward`` and ``lstm_step_forward``/``_backward`` registered
    (once): one op per time step each way, whose bodies write through ``out=`` and in-place methods into the arrays
    they are given. Each op stands for one CuPy kernel (so the kernel counts of the torch backend are CuPy's)."""
    torch = _torch()
    if not _LSTM_LIBRARY:
        lib = torch.library.Library("xpnet", "FRAGMENT")
        lib.define(
            "lstm_cell_forward(Tensor a, Tensor hw, Tensor c_prev, Tensor(a!) gates, Tensor(b!) c, Tensor(d!) h) -> ()"
        )
        lib.define(
            "lstm_cell_backward(Tensor dh_up, Tensor(a!) dh_rec, Tensor(b!) dc, Tensor gates, Tensor c, "
            "Tensor c_prev, Tensor(d!) da) -> ()"
        )
        lib.define(
            "lstm_step_forward(Tensor a, Tensor h_prev, Tensor Wh, Tensor c_prev, Tensor(a!) gates, Tensor(b!) c, "
            "Tensor(d!) h, Tensor(e!) hw) -> ()"
        )
        lib.define(
            "lstm_step_backward(Tensor dh_up, Tensor? da_next, Tensor Wh, Tensor(a!) dh, Tensor(b!) dc, "
            "Tensor gates, Tensor c, Tensor c_prev, Tensor(d!) da) -> ()"
        )
        lib.impl("lstm_cell_forward", _lstm_cell_forward, "CompositeExplicitAutograd")
        lib.impl("lstm_cell_backward", _lstm_cell_backward, "CompositeExplicitAutograd")
        lib.impl("lstm_step_forward", _lstm_step_forward, "CompositeExplicitAutograd")
        lib.impl("lstm_step_backward", _lstm_step_backward, "CompositeExplicitAutograd")
        _LSTM_LIBRARY.append(lib)
    return torch.ops.xpnet


def _lstm_cell_forward(a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
    torch = _torch()
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


def _lstm_cell_backward(dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
    torch = _torch()
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
    do.mul_(dg.neg_().add_(o))  # dht * tanh(c) * o (1 - o)
    torch.mul(f, f, out=df)
    df.neg_().add_(f).mul_(c_prev).mul_(dc)
    torch.mul(i, i, out=di)
    di.neg_().add_(i).mul_(g).mul_(dc)
    torch.mul(g, g, out=dg)
    dg.neg_().add_(1.0).mul_(i).mul_(dc)
    dc.mul_(f)


def _lstm_step_forward(a: Any, h_prev: Any, Wh: Any, c_prev: Any, gates: Any, c: Any, h: Any, hw: Any) -> None:
    _torch().mm(h_prev, Wh, out=hw)
    _lstm_cell_forward(a, hw, c_prev, gates, c, h)


def _lstm_step_backward(
    dh_up: Any, da_next: Any, Wh: Any, dh: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any
) -> None:
    if da_next is None:
        dh.zero_()
    else:
        _torch().mm(da_next, Wh.T, out=dh)
    _lstm_cell_backward(dh_up, dh, dc, gates, c, c_prev, da)


OP_BODIES.update(
    lstm_cell_forward=_lstm_cell_forward,
    lstm_cell_backward=_lstm_cell_backward,
    lstm_step_forward=_lstm_step_forward,
    lstm_step_backward=_lstm_step_backward,
)
