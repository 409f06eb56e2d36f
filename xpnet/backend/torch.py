"""The ``"torch"`` backend: PyTorch tensors on the CPU or a CUDA device.

Its namespace is array-api-compat's torch; tensors on a GPU draw their random numbers there
from a ``torch.Generator``; they come from CuPy through DLPack; the kernels use torch's in-place
operations (:class:`TorchKernels`). PyTorch is imported when the backend is resolved.
"""

from __future__ import annotations

import importlib
from typing import Any

import array_api_compat
import numpy as np

from ._kernels import Kernels
from ._registry import Library


def _torch() -> Any:
    return importlib.import_module("torch")


class TorchKernels(Kernels):
    """torch's kernels: ``index_add_``, ``exp_``, ``index_put_``."""

    def index_add(self, dst: Any, idx: Any, src: Any) -> Any:
        return dst.index_add_(0, idx, src)

    def exp_inplace(self, x: Any) -> Any:
        return x.exp_()

    def add_at_labels(self, dst: Any, t: Any, value: Any) -> Any:
        torch = _torch()
        rows = torch.arange(dst.shape[0], device=dst.device)
        if isinstance(value, (int, float)):
            value = torch.full((dst.shape[0],), value, dtype=dst.dtype, device=dst.device)
        dst.index_put_((rows, t), value, accumulate=True)
        return dst

    def matmul_into(self, out: Any, a: Any, b: Any) -> None:
        _torch().matmul(a, b, out=out)

    def sum_into(self, out: Any, a: Any) -> None:
        _torch().sum(a, dim=0, out=out)

    def clip_by_global_norm(self, grads: list[Any], max_norm: float) -> None:
        torch = _torch()
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        torch._foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp_(max=1.0))

    def lstm_cell_forward(self, a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
        _lstm_ops().lstm_cell_forward(a, hw, c_prev, gates, c, h)

    def lstm_cell_backward(self, dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
        _lstm_ops().lstm_cell_backward(dh_up, dh_rec, dc, gates, c, c_prev, da)

    def lstm_sequence(self, xs: Any, Wx: Any, Wh: Any, b: Any, h0: Any, c0: Any) -> Any:
        torch = _torch()
        H = Wh.shape[0]
        key = (H, xs.device, b.dtype)
        if key not in _GATE_ORDERS:  # the book's f, g, i, o -> torch's i, f, g, o, back; torch.lstm's second bias
            ar = torch.arange(H, device=xs.device)
            order = torch.cat([ar + 2 * H, ar, ar + H, ar + 3 * H])
            _GATE_ORDERS[key] = (order, torch.argsort(order), torch.zeros_like(b))
        order, back, zero_bias = _GATE_ORDERS[key]
        if h0 is None or c0 is None:
            zeros = torch.zeros((xs.shape[0], H), dtype=b.dtype, device=xs.device)
            h0, c0 = zeros if h0 is None else h0, zeros if c0 is None else c0
        # torch's layout made outside the graph as contiguous (4H, .) rows (nothing for the op to copy again)
        leaves = [torch.index_select(W.T, 0, order) for W in (Wx, Wh)] + [torch.index_select(b, 0, order)]
        leaves = [t.requires_grad_() for t in leaves] + [t.detach().requires_grad_() for t in (h0, xs)]
        w_ih, w_hh, b_ih, h0_, x = leaves
        with torch.enable_grad():
            hs, hT, cT = torch.lstm(
                x, (h0_[None], c0[None]), [w_ih, w_hh, b_ih, zero_bias], True, 1, 0.0, True, False, True
            )

        def backward(dhs: Any) -> tuple[Any, Any, Any, Any, Any]:
            dw_ih, dw_hh, db, dh0, dxs = torch.autograd.grad(hs, leaves, dhs)
            dWx, dWh, db = (torch.index_select(g, 0, back) for g in (dw_ih, dw_hh, db))
            return dWx.T, dWh.T, db, dh0, dxs

        return hs.detach(), hT[0].detach(), cT[0].detach(), backward


_GATE_ORDERS: dict[tuple[int, Any, Any], tuple[Any, Any, Any]] = {}
_LSTM_LIBRARY: list[Any] = []


def _lstm_ops() -> Any:
    """``torch.ops.xpnet`` with ``lstm_cell_forward``/``_backward`` registered (once): one op per time step each way,
    whose bodies write through ``out=`` and in-place methods into the arrays they are given."""
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
        lib.impl("lstm_cell_forward", _lstm_cell_forward, "CompositeExplicitAutograd")
        lib.impl("lstm_cell_backward", _lstm_cell_backward, "CompositeExplicitAutograd")
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


class TorchLibrary(Library):
    """PyTorch tensors on the CPU or a CUDA device, with torch's in-place kernels (``index_add_``, ...)."""

    name = "torch"
    install = "pip install 'xpnet[torch]'"
    kernels = TorchKernels()
    dlpack_between_devices = True

    def owns(self, x: Any) -> bool:
        return array_api_compat.is_torch_array(x)

    def resolve(self, device: Any) -> tuple[Any, Any]:
        torch, xp = self.import_library("torch", "array_api_compat.torch", "PyTorch, which is not installed")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return xp, torch.device(device)

    def on_host(self, x: Any) -> bool:
        return x.device.type == "cpu"

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()

    def draws_on_device(self, x: Any) -> bool:
        return x.device.type != "cpu"

    def device_rng(self, x: Any, seed: int) -> Any:
        g = _torch().Generator(device=x.device)
        g.manual_seed(seed)
        return g

    def uniform_like(self, x: Any, generator: Any) -> Any:
        return _torch().rand(x.shape, dtype=x.dtype, device=x.device, generator=generator)


LIBRARY = TorchLibrary()
