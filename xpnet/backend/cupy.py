"""The ``"cupy"`` backend: CuPy arrays on a CUDA GPU.

Its namespace is array-api-compat's CuPy with creation functions that honour ``device=``
(:class:`DeviceCreatingNamespace`); random numbers are drawn on the GPU by ``cupy.random``;
arrays come from CUDA torch through DLPack; the kernels write through ``out=`` and scatter-add
with ``cupy.add.at`` (:class:`CupyKernels`). CuPy is imported when the backend is resolved.
"""

from __future__ import annotations

import importlib
from typing import Any

import array_api_compat
import numpy as np

from ._kernels import FUSED_STEP_MAX_H, FUSED_XENT_MAX_C, Kernels
from ._registry import BackendUnavailableError, Library
from ._step_kernels import CaptureRefusedError


class DeviceCreatingNamespace:
    """A CuPy namespace whose creation functions honour ``device=``.

    array-api-compat's CuPy ``zeros``, ``full``, ``arange``, ... ignore ``device=`` and create
    on the *current* GPU; after ``set_backend("cupy", 1)`` biases and buffers would land on
    GPU 0. Here they run with the requested device made current. Other names are taken
    from the namespace once and cached on the instance (no per-call indirection).
    """

    _CREATION = (
        "zeros",
        "ones",
        "empty",
        "full",
        "arange",
        "eye",
        "linspace",
        "zeros_like",
        "ones_like",
        "empty_like",
        "full_like",
        "asarray",
        "from_dlpack",
        "tril",
        "triu",
    )

    def __init__(self, xp: Any) -> None:
        self._xp = xp
        for name in self._CREATION:
            if hasattr(xp, name):
                setattr(self, name, self._on_device(getattr(xp, name)))

    @staticmethod
    def _on_device(fn: Any) -> Any:
        def create(*args: Any, device: Any = None, **kwargs: Any) -> Any:
            if device is None:
                return fn(*args, **kwargs)
            with device:  # a cupy.cuda.Device is a context manager that makes itself current
                return fn(*args, **kwargs)

        create.__name__ = getattr(fn, "__name__", "create")
        return create

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._xp, name)
        setattr(self, name, value)
        return value


def _cupy() -> Any:
    return importlib.import_module("cupy")


class CupyKernels(Kernels):
    """CuPy's kernels: ``out=`` instead of temporaries, ``cupy.add.at`` for scatter-add."""

    def matmul_into(self, out: Any, a: Any, b: Any) -> None:
        _cupy().matmul(a, b, out=out)

    def sum_into(self, out: Any, a: Any) -> None:
        a.sum(axis=0, out=out)

    def index_add(self, dst: Any, idx: Any, src: Any, store: Any = None) -> Any:
        _cupy().add.at(dst, idx, src)  # CuPy >= 12 (cupyx.scatter_add warns that it is deprecated)
        return dst

    def exp_inplace(self, x: Any) -> Any:
        return _cupy().exp(x, out=x)

    def add_at_labels(self, dst: Any, t: Any, value: Any) -> Any:
        dst[_cupy().arange(dst.shape[0]), t] += value
        return dst

    writes_out = True  # the layers' buffers: a warm step allocates nothing (what stream capture needs)
    _kernels: dict[str, Any] = {}  # the ElementwiseKernels, compiled on first use

    def affine(self, x: Any, W: Any, b: Any, store: dict | None = None) -> Any:
        cupy = _cupy()

        out = cupy.matmul(x, W, out=self.buffer(store, "out", (x.shape[0], W.shape[1]), x))
        out += b
        return out

    def relu(self, x: Any, store: dict | None = None) -> Any:
        cupy = _cupy()

        return cupy.maximum(x, x.dtype.type(0), out=self.buffer(store, "out", x.shape, x))

    @classmethod
    def _kernel(cls, name: str, params: str, result: str, body: str) -> Any:
        k = cls._kernels.get(name)
        if k is None:
            cupy = _cupy()

            k = cls._kernels[name] = cupy.ElementwiseKernel(params, result, body, f"xpnet_{name}")
        return k

    def strided(self, x: Any, shape: tuple, strides: tuple) -> Any:
        cupy = _cupy()

        return cupy.lib.stride_tricks.as_strided(x, shape, strides)

    def im2col(self, x: Any, fh: int, fw: int, stride: int, pad: int, store: Any) -> Any:
        return self.strided_im2col(x, fh, fw, stride, pad, store)

    def multiply(self, a: Any, b: Any, store: Any, name: str) -> Any:
        return _cupy().multiply(a, b, out=self.buffer(store, name, a.shape, a))

    def axpy(self, y: Any, a: float, x: Any, scratch: Any = None) -> None:
        self._kernel("axpy", "T x, T a", "T y", "y += a * x")(x, y.dtype.type(a), y)

    def adam_update(
        self, p: Any, g: Any, m: Any, v: Any, lr_t: float, b1: float, b2: float, eps: float, scratch: Any
    ) -> None:
        k = self._kernel(
            "adam",
            "T g, T c1, T c2, T lr, T eps",
            "T p, T m, T v",
            "m += c1 * (g - m); v += c2 * (g * g - v); p -= lr * m / (sqrt(v) + eps)",
        )
        t = p.dtype.type
        k(g, t(1 - b1), t(1 - b2), t(lr_t), t(eps), p, m, v)

    def relu_backward(self, dout: Any, y: Any, store: dict | None = None) -> Any:
        k = self._kernel("relu_backward", "T dout, T y", "T dx", "dx = y > 0 ? dout : (T)0")
        out = self.buffer(store, "dx", y.shape, dout)
        return k(dout, y, out) if out is not None else k(dout, y)

    def capture_step(self, step: Any, like: Any) -> Any:
        """Stream capture with a private memory pool: the graph's temporaries are never handed to arrays made
        between replays. One real step first fills the pool (so the capture itself allocates nothing new)."""
        cupy = _cupy()

        pool = cupy.cuda.MemoryPool()
        stream = cupy.cuda.Stream(non_blocking=True)
        stream.wait_event(cupy.cuda.get_current_stream().record())
        try:
            with cupy.cuda.using_allocator(pool.malloc), stream:
                step()
                stream.begin_capture()
                try:
                    step()
                finally:
                    graph = stream.end_capture()
        except Exception as e:  # noqa: BLE001 - a refusal (an allocation, a host sync) falls back
            raise CaptureRefusedError(f"CuPy refused to capture the step: {e}") from e
        cupy.cuda.get_current_stream().wait_event(stream.record())

        def replay() -> None:
            graph.launch(stream=cupy.cuda.get_current_stream())  # ordered with the batch copies around it

        replay.pool = pool  # type: ignore[attr-defined] - the graph's memory lives as long as its replay
        return replay

    def softmax_xent(self, x: Any, t: Any, store: dict) -> tuple[Any, Any]:
        """One kernel over the rows (softmax into ``y``, each row's label and ``-log(y[label] + 1e-7)``), then one
        for the mean. A label outside ``[0, C)`` makes its term NaN (the layer checks labels on the host first; on a
        device the trainer checks them once: the reference's mask would silently drop such a row)."""
        cupy = _cupy()

        N, C = x.shape
        if C > FUSED_XENT_MAX_C or x.dtype.char not in "fd":
            return super().softmax_xent(x, t, store)
        y = self.buffer(store, "y", (N, C), x)
        term = self.buffer(store, "term", (N,), x)
        label = self.buffer(store, "label", (N,), x, cupy.int64)
        if t.ndim == 2:  # the book's reading of (N, C) labels: the row's first largest entry
            _xent_kernel("rows_2d")(x, t, C, y, term, label)
        else:
            _xent_kernel("rows")(x, t, C, y, term, label)
        return _xent_kernel("mean")(term), (y, label)

    def softmax_xent_backward(self, saved: Any, dout: Any, store: dict) -> Any:
        y, label = saved
        if not isinstance(label, _cupy().ndarray) or label.ndim != 1:  # the reference's (y, mask)
            return super().softmax_xent_backward(saved, dout, store)
        dx = self.buffer(store, "dx", y.shape, y)
        scale = dout / y.shape[0]
        if not isinstance(scale, (int, float)):  # a 0-d array: in y's dtype, as the kernel's T
            scale = scale.astype(y.dtype, copy=False)
        return _xent_kernel("grad")(y, label, scale, y.shape[1], dx)

    def lstm_cell_forward(self, a: Any, hw: Any, c_prev: Any, gates: Any, c: Any, h: Any) -> None:
        _lstm_kernel("forward")(a, hw, c_prev, c.shape[-1], gates, c, h)

    def lstm_cell_backward(self, dh_up: Any, dh_rec: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any) -> None:
        _lstm_kernel("backward")(dh_up, dh_rec, gates, c, c_prev, c.shape[-1], da, dc)

    def lstm_step_forward(self, a: Any, h_prev: Any, Wh: Any, c_prev: Any, gates: Any, c: Any, h: Any, hw: Any) -> None:
        H = c.shape[-1]
        if H > FUSED_STEP_MAX_H:  # cuBLAS's product, then the gate kernel
            return super().lstm_step_forward(a, h_prev, Wh, c_prev, gates, c, h, hw)
        _lstm_kernel("step_forward")(a, h_prev, Wh, c_prev, H, gates, c, h)

    def lstm_step_backward(
        self, dh_up: Any, da_next: Any, Wh: Any, dh: Any, dc: Any, gates: Any, c: Any, c_prev: Any, da: Any
    ) -> None:
        H = c.shape[-1]
        if H > FUSED_STEP_MAX_H:
            return super().lstm_step_backward(dh_up, da_next, Wh, dh, dc, gates, c, c_prev, da)
        has_next = da_next is not None  # the last step reads no da_next (gates stand in for the raw argument)
        nxt = da_next if has_next else gates
        _lstm_kernel("step_backward")(dh_up, nxt, Wh, gates, c, c_prev, H, int(has_next), da, dc)


# One thread per (n, j) of the (N, H) state; the (N, 4H) gate arrays are raw, read at the C-order element index
# n * 4H + k * H + j of their logical shape (CuPy's raw indexing follows their strides: time-step views work).
# Each kernel is a head (the pre-activations zf, zg, zi, zo, or the gradient rec reaching h from the next step) and
# one of the two shared tails (the gates, c and h; the gradient of the pre-activations and of c_prev).
_UNIT = "const ptrdiff_t n = i / H, j = i % H, r = n * 4 * H + j;\n"
_GATES = """
const T f = tanh(zf * (T)0.5) * (T)0.5 + (T)0.5, g = tanh(zg);
const T ig = tanh(zi * (T)0.5) * (T)0.5 + (T)0.5, o = tanh(zo * (T)0.5) * (T)0.5 + (T)0.5;
gates[r] = f; gates[r + H] = g; gates[r + 2 * H] = ig; gates[r + 3 * H] = o;
c = f * c_prev + g * ig;
h = o * tanh(c);
"""
_GATES_BACKWARD = """
const T f = gates[r], g = gates[r + H], ig = gates[r + 2 * H], o = gates[r + 3 * H];
const T dht = dh_up + rec, tc = tanh(c);
const T ds = dc + dht * o * ((T)1 - tc * tc);
da[r] = ds * c_prev * f * ((T)1 - f);
da[r + H] = ds * ig * ((T)1 - g * g);
da[r + 2 * H] = ds * g * ig * ((T)1 - ig);
da[r + 3 * H] = dht * tc * o * ((T)1 - o);
dc = ds * f;
"""
_LSTM_FORWARD = (
    _UNIT
    + """
const T zf = a[r] + hw[r], zg = a[r + H] + hw[r + H];
const T zi = a[r + 2 * H] + hw[r + 2 * H], zo = a[r + 3 * H] + hw[r + 3 * H];
"""
    + _GATES
)
_LSTM_BACKWARD = _UNIT + "const T rec = dh_rec;\n" + _GATES_BACKWARD
# The whole time step in one kernel (H <= FUSED_STEP_MAX_H): each thread computes its unit's four pre-activations
# from h_prev (N, H) and Wh (H, 4H) itself; backward, the gradient reaching h from the next step (da_next @ Wh.T,
# row n, column j) the same way.
_STEP_FORWARD = (
    _UNIT
    + """
T zf = a[r], zg = a[r + H], zi = a[r + 2 * H], zo = a[r + 3 * H];
for (ptrdiff_t k = 0; k < H; ++k) {
    const T hk = hp[n * H + k];
    const ptrdiff_t w = k * 4 * H + j;
    zf += hk * Wh[w]; zg += hk * Wh[w + H]; zi += hk * Wh[w + 2 * H]; zo += hk * Wh[w + 3 * H];
}
"""
    + _GATES
)
_STEP_BACKWARD = (
    _UNIT
    + """
T rec = (T)0;
if (has_next) {
    for (ptrdiff_t m = 0; m < 4 * H; ++m) rec += dan[n * 4 * H + m] * Wh[j * 4 * H + m];
}
"""
    + _GATES_BACKWARD
)
_LSTM_SIGNATURES = {
    "forward": ("raw T a, raw T hw, T c_prev, int64 H", "raw T gates, T c, T h", _LSTM_FORWARD),
    "backward": (
        "T dh_up, T dh_rec, raw T gates, T c, T c_prev, int64 H",
        "raw T da, T dc",
        _LSTM_BACKWARD,
    ),
    "step_forward": ("raw T a, raw T hp, raw T Wh, T c_prev, int64 H", "raw T gates, T c, T h", _STEP_FORWARD),
    "step_backward": (
        "T dh_up, raw T dan, raw T Wh, raw T gates, T c, T c_prev, int64 H, int64 has_next",
        "raw T da, T dc",
        _STEP_BACKWARD,
    ),
}
_LSTM_KERNELS: dict[str, Any] = {}


def _lstm_kernel(which: str) -> Any:
    if which not in _LSTM_KERNELS:
        params, results, body = _LSTM_SIGNATURES[which]
        _LSTM_KERNELS[which] = _cupy().ElementwiseKernel(params, results, body, f"xpnet_lstm_{which}")
    return _LSTM_KERNELS[which]


# Softmax with loss, one thread per row n of the (N, C) scores (C <= FUSED_XENT_MAX_C): the row's maximum, the shifted
# exponentials into y and their sum, y divided by it, the label (given, or the first largest entry of a (N, C) label
# row), the term -log(y[label] + 1e-7) (NaN for a label outside [0, C)). Backward: (y - onehot(label)) * scale.
_XENT_ROW = """
const ptrdiff_t r = i * C;
T m = x[r];
for (ptrdiff_t c = 1; c < C; ++c) { const T v = x[r + c]; if (v > m) m = v; }
T s = (T)0;
for (ptrdiff_t c = 0; c < C; ++c) { const T e = exp(x[r + c] - m); y[r + c] = e; s += e; }
for (ptrdiff_t c = 0; c < C; ++c) y[r + c] = y[r + c] / s;
LABEL
label = lab;
term = (lab >= 0 && lab < C) ? -log(y[r + lab] + (T)1e-7) : (T)nan("");
"""
_XENT_LABEL_GIVEN = "const long long lab = (long long)t;"
_XENT_LABEL_ARGMAX = """long long lab = 0;
U best = t[r];
for (ptrdiff_t c = 1; c < C; ++c) { if (t[r + c] > best) { best = t[r + c]; lab = c; } }"""
_XENT_SIGNATURES = {
    "rows": ("raw T x, L t, int64 C", "raw T y, T term, int64 label", _XENT_ROW.replace("LABEL", _XENT_LABEL_GIVEN)),
    "rows_2d": (
        "raw T x, raw U t, int64 C",
        "raw T y, T term, int64 label",
        _XENT_ROW.replace("LABEL", _XENT_LABEL_ARGMAX),
    ),
    "grad": (
        "T y, raw int64 label, T scale, int64 C",
        "T dx",
        "dx = (y - ((i % C) == label[i / C] ? (T)1 : (T)0)) * scale;",
    ),
}
_XENT_KERNELS: dict[str, Any] = {}


def _xent_kernel(which: str) -> Any:
    if which not in _XENT_KERNELS:
        cupy = _cupy()
        if which == "mean":  # one launch (cupy.mean goes through CUB by default: a reduction plus a division)
            _XENT_KERNELS[which] = cupy.ReductionKernel(
                "T x", "T y", "x", "a + b", "y = a / (_in_ind.size() / _out_ind.size())", "0", "xpnet_xent_mean"
            )
        else:
            params, results, body = _XENT_SIGNATURES[which]
            _XENT_KERNELS[which] = cupy.ElementwiseKernel(params, results, body, f"xpnet_xent_{which}")
    return _XENT_KERNELS[which]


class CupyLibrary(Library):
    """CuPy on a CUDA device: creation on the chosen device, random numbers from ``cupy.random``, CuPy's kernels."""

    name = "cupy"
    install = "pip install 'xpnet[cuda12]' (or 'xpnet[cuda13]' for CUDA 13)"
    kernels = CupyKernels()
    dlpack_between_devices = True
    _namespace: DeviceCreatingNamespace | None = None

    def owns(self, x: Any) -> bool:
        return array_api_compat.is_cupy_array(x)

    def resolve(self, device: Any) -> tuple[Any, Any]:
        cupy, xp = self.import_library("cupy", "array_api_compat.cupy", "CuPy, which is not installed")
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # CUDA driver missing or broken
            raise BackendUnavailableError(f"backend 'cupy' found no usable CUDA device ({e}); {self.install}") from e
        if count == 0:
            raise BackendUnavailableError(f"backend 'cupy' found no CUDA device; {self.install}")
        if device is None:
            dev = cupy.cuda.Device()  # the current device: under NCCL each rank has made its own GPU current
        else:
            text = str(device)
            try:
                dev = cupy.cuda.Device(int(text.split(":", 1)[1] if text.startswith("cuda:") else text))
            except ValueError:
                raise ValueError(f"backend 'cupy': device must be a GPU number or 'cuda:N', not {device!r}") from None
        return self.wrap_namespace(xp), dev

    def wrap_namespace(self, xp: Any) -> Any:
        if self._namespace is None:
            CupyLibrary._namespace = DeviceCreatingNamespace(xp)
        return self._namespace

    def on_host(self, x: Any) -> bool:
        return False

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.get()

    def draws_on_device(self, x: Any) -> bool:
        return True

    def device_rng(self, x: Any, seed: int) -> Any:
        return _cupy().random.default_rng(seed)

    def uniform_like(self, x: Any, generator: Any) -> Any:
        with x.device:
            return generator.random(x.shape, dtype=x.dtype)

    def numpy_module(self) -> Any:
        return _cupy()


LIBRARY = CupyLibrary()
