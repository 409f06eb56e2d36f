"""The ``"torch"`` backend: PyTorch tensors on the CPU or a CUDA device.

Its namespace is array-api-compat's torch; tensors on a GPU draw their random numbers there
from a ``torch.Generator``; they come from CuPy through DLPack; the kernels use torch's in-place
operations (:class:`TorchKernels`). PyTorch is imported when the backend is resolved.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import array_api_compat
import numpy as np

from ._kernels import FUSED_STEP_MAX_H, FUSED_XENT_MAX_C, Kernels
from ._registry import Library
from ._step_kernels import LOSS_EPS, CaptureRefusedError
from ._torch_ops import _IGNORE, log_eps, lstm_ops, xent_ops


def _torch() -> Any:
    return importlib.import_module("torch")


# ``ignore_index`` of nll_loss: no label takes it (torch's default, -100, would silently skip such labels)


class TorchKernels(Kernels):
    """torch's kernels: ``index_add_``, ``exp_``, ``index_put_``."""

    def index_add(self, dst: Any, idx: Any, src: Any, store: Any = None) -> Any:
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

    writes_out = True

    checks_labels = True  # nll_loss refuses them on the CPU (on a GPU the caller would not check either)

    def axpy(self, y: Any, a: float, x: Any, scratch: Any = None) -> None:
        y.add_(x, alpha=a)

    def adam_update(
        self, p: Any, g: Any, m: Any, v: Any, lr_t: float, b1: float, b2: float, eps: float, scratch: Any
    ) -> None:
        torch = _torch()

        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = torch.sqrt(v).add_(eps)
        p.addcdiv_(m, denom, value=-lr_t)

    def matmul_into(self, out: Any, a: Any, b: Any) -> None:
        torch = _torch()

        torch.matmul(a, b, out=out)

    def sum_into(self, out: Any, a: Any) -> None:
        torch = _torch()

        torch.sum(a, dim=0, out=out)

    def affine(self, x: Any, W: Any, b: Any, store: dict | None = None) -> Any:
        torch = _torch()

        out = self.buffer(store, "out", (x.shape[0], W.shape[1]), x)
        return torch.addmm(b, x, W) if out is None else torch.addmm(b, x, W, out=out)

    def relu(self, x: Any, store: dict | None = None) -> Any:
        torch = _torch()

        out = self.buffer(store, "out", x.shape, x)
        return torch.relu(x) if out is None else torch.clamp_min(x, 0.0, out=out)

    def relu_backward(self, dout: Any, y: Any, store: dict | None = None) -> Any:
        torch = _torch()

        out = self.buffer(store, "dx", y.shape, dout)
        if out is None:
            return torch.ops.aten.threshold_backward(dout, y, 0)
        return torch.ops.aten.threshold_backward.grad_input(dout, y, 0, grad_input=out)

    def softmax_xent(self, x: Any, t: Any, store: dict) -> tuple[Any, Any]:
        torch = _torch()

        N, C = x.shape
        if C > FUSED_XENT_MAX_C:
            return self._softmax_xent_aten(x, t, store)
        # one op over the rows, standing for CuPy's kernel (its body: log-softmax, the guard, nll_loss per row), then
        # the mean; the op keeps the log-probabilities (softmax_of and the gradient read them)
        logp = self.buffer(store, "logp", (N, C), x)
        term = self.buffer(store, "term", (N,), x)
        given = t.ndim == 1 and t.dtype == torch.int64  # used as they are; other labels go into the label buffer
        label = t if given else self.buffer(store, "label", (N,), x, torch.int64)
        with _refusing_labels(t, C):
            xent_ops().softmax_xent_rows(x, t, self._constant(store, ("floor",), x, log_eps), logp, term, label)
        return term.mean(), (logp, label, None)

    def _softmax_xent_aten(self, x: Any, t: Any, store: dict) -> tuple[Any, Any]:
        """Many classes: log-softmax, the guard, ``nll_loss`` (PyTorch's row reductions)."""
        torch = _torch()

        aten = torch.ops.aten
        if t.ndim == 2:
            t = t.argmax(1)  # the book's reading of (N, C) labels
        elif t.dtype != torch.int64:
            t = t.to(torch.int64)
        logp = aten._log_softmax(x, 1, False)
        # log(y + eps) = logaddexp(log y, log eps); nll_loss: -mean of each row's label entry
        guarded = torch.logaddexp(logp, self._constant(store, ("floor",), x, log_eps))
        with _refusing_labels(t, x.shape[1]):
            loss, total = aten.nll_loss_forward(guarded, t, None, 1, _IGNORE)
        return loss, (logp, t, total)

    def softmax_of(self, saved: Any) -> Any:
        return saved[0].exp()

    def softmax_xent_backward(self, saved: Any, dout: Any, store: dict) -> Any:
        torch = _torch()

        logp, t, total = saved
        if total is None:  # the rows' op ran: (softmax - onehot(label)) * dout / N, one op
            N = logp.shape[0]
            if isinstance(dout, (int, float)):
                scale = self._constant(store, ("scale", float(dout), N), logp, lambda: float(dout) / N)
            else:
                scale = (dout / N).to(dtype=logp.dtype, device=logp.device)
            dx = self.buffer(store, "dx", tuple(logp.shape), logp)
            xent_ops().softmax_xent_grad(logp, t, scale, dx)
            return dx
        if isinstance(dout, (int, float)):
            dout = self._constant(store, ("dout", float(dout)), logp, lambda: float(dout))
        aten = torch.ops.aten
        # nll_loss_backward: -dout/N at each row's label, 0 elsewhere; the log-softmax's backward adds y * dout/N
        onehot = aten.nll_loss_backward(dout, logp, t, None, 1, _IGNORE, total)
        return aten._log_softmax_backward_data(onehot, logp, 1, logp.dtype)

    def multiply(self, a: Any, b: Any, store: Any, name: str) -> Any:
        torch = _torch()

        out = self.buffer(store, name, a.shape, a)
        return a * b if out is None else torch.mul(a, b, out=out)

    def dropout_mask(self, u: Any, ratio: float, store: Any) -> Any:
        torch = _torch()

        m = self.buffer(store, "mask", u.shape, u)
        return (u > ratio).to(u.dtype) if m is None else torch.gt(u, ratio, out=m)

    def im2col(self, x: Any, fh: int, fw: int, stride: int, pad: int, store: Any) -> Any:
        torch = _torch()

        if not x.is_floating_point():
            return super().im2col(x, fh, fw, stride, pad, store)
        if pad:
            x = torch.constant_pad_nd(x, [pad] * 4, 0.0)
        N, C, H, W = x.shape
        oh, ow = (H - fh) // stride + 1, (W - fw) // stride + 1
        sn, sc, sh, sw = x.stride()
        view = x.as_strided((N, oh, ow, C, fh, fw), (sn, sh * stride, sw * stride, sc, sh, sw))
        col = self.buffer(store, "col", (N * oh * ow, C * fh * fw), x)
        if col is None:
            return view.reshape(N * oh * ow, C * fh * fw)
        col.view(N, oh, ow, C, fh, fw).copy_(view)
        return col

    def maxpool(self, x: Any, ph: int, pw: int, stride: int, pad: int, store: Any) -> tuple[Any, Any]:
        torch = _torch()

        if 2 * pad > min(ph, pw) or not x.is_floating_point():  # torch pools with at most half a window of padding
            return super().maxpool(x, ph, pw, stride, pad, store)
        out, idx = torch.ops.aten.max_pool2d_with_indices(x, [ph, pw], [stride, stride], [pad, pad])
        return out, ("torch", x, idx, (ph, pw, stride, pad))

    def maxpool_backward(self, dout: Any, saved: Any, store: Any) -> Any:
        torch = _torch()

        if not isinstance(saved[0], str):  # the reference's (a padding torch does not pool with)
            return super().maxpool_backward(dout, saved, store)
        _, x, idx, (ph, pw, s, pad) = saved
        return torch.ops.aten.max_pool2d_with_indices_backward(
            dout, x, [ph, pw], [s, s], [pad, pad], [1, 1], False, idx
        )

    def _constant(self, store: Any, key: tuple, like: Any, make: Any) -> Any:
        """``make()`` (a host NumPy array) as a tensor like ``like``, made once per key, dtype and device."""
        torch = _torch()

        full = (*key, like.dtype, like.device)
        c = store.get(full) if store is not None else None
        if c is None:
            c = torch.as_tensor(make(), dtype=like.dtype, device=like.device)
            if store is not None:
                store[full] = c
        return c

    def take_rows(self, W: Any, idx: Any, store: Any = None) -> Any:
        torch = _torch()

        return torch.index_select(W, 0, idx)  # (array-api-compat's take also wraps negative ids: 3 more kernels)

    def sigmoid_xent_first(self, score: Any, store: Any) -> tuple[Any, Any]:
        torch = _torch()

        N, K = score.shape
        y = torch.sigmoid(score)
        first = np.arange(K) == 0
        base = self._constant(store, ("base", K), y, lambda: np.where(first, 0.0, 1.0))
        sign = self._constant(store, ("sign", K), y, lambda: np.where(first, 1.0, -1.0))
        weight = self._constant(store, ("weight", N * K), y, lambda: np.full(N * K, -1.0 / N))
        # log(y + eps) in column 0, log(1 - y + eps) elsewhere (eps added last, as the reference: it decides near 1)
        q = torch.addcmul(base, sign, y).add_(LOSS_EPS).log_()
        return torch.dot(q.view(-1), weight), (y, store)

    def sigmoid_xent_first_backward(self, saved: Any, dout: Any, store: Any) -> Any:
        torch = _torch()

        y, consts = saved
        N, K = y.shape
        if not isinstance(dout, (int, float)):
            return (y - self._constant(consts, ("label", K), y, lambda: np.arange(K) == 0)) * (dout / N)
        c = dout / N
        shift = self._constant(consts, ("shift", K, c), y, lambda: np.where(np.arange(K) == 0, -c, 0.0))
        return torch.add(shift, y, alpha=c)

    def batchnorm_train(
        self, x: Any, gamma: Any, beta: Any, running: tuple[Any, Any], momentum: float, eps: float, store: Any
    ) -> tuple[Any, Any]:
        torch = _torch()

        var, mu = torch.var_mean(x, 0, correction=0)
        torch._foreach_lerp_(list(running), [mu, var], 1 - momentum)
        out, mean, invstd = torch.ops.aten.native_batch_norm(x, gamma, beta, None, None, True, 0.0, eps)
        return out, (x, mean, invstd, eps)

    def batchnorm_backward(self, dout: Any, gamma: Any, saved: Any, dgamma: Any, dbeta: Any, store: Any) -> Any:
        torch = _torch()

        x, mean, invstd, eps = saved
        dx = self.buffer(store, "dx", x.shape, x)
        if dx is None:
            dx = torch.empty_like(x)
        torch.ops.aten.native_batch_norm_backward.out(
            dout, x, gamma, None, None, mean, invstd, True, eps, [True, True, True], out0=dx, out1=dgamma, out2=dbeta
        )
        return dx

    def capture_step(self, step: Any, like: Any) -> Any:
        torch = _torch()

        if like.device.type != "cuda":
            raise CaptureRefusedError(f"torch on {like.device.type}: CUDA graphs need a CUDA device")
        try:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):  # its own side stream and memory pool (graph temporaries stay private)
                step()
        except Exception as e:  # noqa: BLE001 - any refusal (an op that syncs, an allocation pattern) falls back
            raise CaptureRefusedError(f"torch refused to capture the step: {e}") from e
        return graph.replay

    def clip_by_global_norm(self, grads: list[Any], max_norm: float) -> None:
        torch = _torch()
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        torch._foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp_(max=1.0))

    def lstm_cell_forward(self, a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
        lstm_ops().lstm_cell_forward(a, hw, c_prev, gates, c, h)

    def lstm_cell_backward(self, dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
        lstm_ops().lstm_cell_backward(dh_up, dh_rec, dc, gates, c, c_prev, da)

    def lstm_step_forward(self, a: Any, h_prev: Any, Wh: Any, c_prev: Any, gates: Any, c: Any, h: Any, hw: Any) -> None:
        if Wh.shape[0] > FUSED_STEP_MAX_H:  # as CuPy: a product, then the gate kernel
            return super().lstm_step_forward(a, h_prev, Wh, c_prev, gates, c, h, hw)
        lstm_ops().lstm_step_forward(a, h_prev, Wh, c_prev, gates, c, h, hw)

    def lstm_step_backward(
        self, dh_up: Any, da_next: Any, Wh: Any, dh: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any
    ) -> None:
        if Wh.shape[0] > FUSED_STEP_MAX_H:
            return super().lstm_step_backward(dh_up, da_next, Wh, dh, dc, gates, c, c_prev, da)
        lstm_ops().lstm_step_backward(dh_up, da_next, Wh, dh, dc, gates, c, c_prev, da)

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


@contextmanager
def _refusing_labels(t: Any, C: int) -> Iterator[None]:
    """``nll_loss`` refuses a label out of range on the CPU ("out of bounds"): a ``ValueError`` naming the range and the
    labels' extremes instead; any other error passes unchanged."""
    try:
        yield
    except (IndexError, RuntimeError) as e:
        if "out of bounds" not in str(e):
            raise
        torch = _torch()
        lo, hi = int(torch.min(t)), int(torch.max(t))
        raise ValueError(f"labels must lie in [0, {C}) for {C} classes; got values from {lo} to {hi}") from None


_GATE_ORDERS: dict[tuple[int, Any, Any], tuple[Any, Any, Any]] = {}


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
