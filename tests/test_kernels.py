"""The kernels of ``xpnet.backend`` on every backend: the reference (``Kernels``, the standard only) against
NumPy, each library's overrides against the reference, and the rule that only the backend names a library."""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import assert_close, assert_on

import xpnet
from xpnet import backend as B
from xpnet.backend import Kernels, kernels_for

KERNELS = sorted(name for name, value in vars(Kernels).items() if callable(value) and not name.startswith("_"))
# with the training step's kernels Kernels inherits from StepKernels (their cases: tests/test_lean.py)
REFERENCE_NAMES = {name for name in dir(Kernels) if not name.startswith("_") and callable(getattr(Kernels, name))}


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def on(backend: Any, a: np.ndarray) -> Any:
    """A copy of ``a`` on ``backend`` (NumPy and torch would share ``a``'s memory, which the kernels write)."""
    return backend.asarray(a.copy())


def ints(values: Any, backend: Any) -> Any:
    return backend.asarray(np.asarray(values, dtype=np.int64), dtype="int64")


# Each case runs one kernel through ``k`` (a Kernels, or the public functions: module xpnet.backend) on fresh
# inputs of ``backend`` and returns (results on the backend, the same computed by NumPy on the host).


def case_matmul_into(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    a, b = rand(4, 3), rand(3, 5, seed=1)
    out = on(backend, np.zeros((4, 5)))
    k.matmul_into(out, on(backend, a), on(backend, b))
    return [out], [a @ b]


def case_sum_into(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    a = rand(6, 4)
    out = on(backend, np.zeros(4))
    k.sum_into(out, on(backend, a))
    return [out], [a.sum(axis=0)]


def adam_steps(backend: Any, k: Any, scratch: Callable[[Any], Any]) -> tuple[list[Any], list[np.ndarray]]:
    """Two Adam steps of a (3, 4) parameter through ``k.adam_update`` (the second reuses the scratch)."""
    p, m, v = rand(3, 4), rand(3, 4, seed=1) * 0.1, rand(3, 4, seed=2) ** 2
    args = (0.01, 0.9, 0.999, 1e-7)
    arrays = [on(backend, a) for a in (p, m, v)]
    buf = scratch(arrays[0])
    for i in range(2):
        g = rand(3, 4, seed=3 + i)
        k.adam_update(arrays[0], on(backend, g), arrays[1], arrays[2], *args, scratch=buf)
        lr_t, b1, b2, eps = args
        m = m + (1 - b1) * (g - m)
        v = v + (1 - b2) * (g * g - v)
        p = p - lr_t * m / (np.sqrt(v) + eps)
    return arrays, [p, m, v]


def case_adam_update(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    return adam_steps(backend, k, lambda p: None)


def case_out_buffer(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    """The buffer is ``None`` or an array like its input, and Adam through it gives the same numbers."""

    def scratch(p: Any) -> Any:
        buf = k.out_buffer(p)
        if buf is not None:
            assert_on(backend, buf)
            assert tuple(buf.shape) == tuple(p.shape) and buf.dtype == p.dtype and buf is not p
        return buf

    return adam_steps(backend, k, scratch)


def case_index_add(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    idx = [3, 1, 3, 3, 0, 1] + [6] * 12  # repeats, and one id more often than NumPy's rounds of fancy +=
    src, start = rand(len(idx), 3), rand(7, 3, seed=1)
    dst = on(backend, start)
    expected = start.copy()
    np.add.at(expected, idx, src)
    got = k.index_add(dst, ints(idx, backend), on(backend, src))
    return [dst, got], [expected, expected]


def case_one_hot(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    t = [[2, 0, 3], [1, 3, 3]]
    got = k.one_hot(ints(t, backend), 4, getattr(backend.xp, backend.dtype))
    assert xpnet.backend.dtype_name(got) == backend.dtype
    return [got], [np.eye(4)[t]]


def case_exp_inplace(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    x = rand(3, 4)
    return [k.exp_inplace(on(backend, x))], [np.exp(x)]


def case_add_at_labels(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    start, t, values = rand(4, 5), [0, 4, 4, 2], np.array([1.0, 2.0, 3.0, 4.0])
    dst = on(backend, start)
    k.add_at_labels(dst, ints(t, backend), -1.0)  # a number
    got = k.add_at_labels(dst, ints(t, backend), on(backend, values))  # one value per row
    expected = start.copy()
    expected[np.arange(4), t] += values - 1.0
    return [dst, got], [expected, expected]


def case_clip_by_global_norm(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    """One set of gradients over the limit (scaled down), one under it (left alone)."""
    big, small = [rand(3, 4), rand(5, seed=1) * 3], [rand(2, 2, seed=2) * 0.01]
    out, expected = [], []
    for grads, max_norm in ((big, 1.0), (small, 1.0)):
        arrays = [on(backend, g) for g in grads]
        k.clip_by_global_norm(arrays, max_norm)
        norm = np.sqrt(sum((g * g).sum() for g in grads))
        out += arrays
        expected += [g * min(1.0, max_norm / (norm + 1e-6)) for g in grads]
    return out, expected


def _sig(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def book_lstm_step(a: np.ndarray, hw: np.ndarray, c_prev: np.ndarray) -> list[np.ndarray]:
    """Book 2's LSTM step in NumPy: activated gates (f, g, i, o), c, h."""
    H = c_prev.shape[1]
    z = a + hw
    f, g, i, o = _sig(z[:, :H]), np.tanh(z[:, H : 2 * H]), _sig(z[:, 2 * H : 3 * H]), _sig(z[:, 3 * H :])
    c = f * c_prev + g * i
    return [np.concatenate([f, g, i, o], axis=1), c, o * np.tanh(c)]


def book_lstm_step_backward(dh_up, dh_rec, dc, gates, c, c_prev) -> list[np.ndarray]:
    """Book 2's LSTM backward step in NumPy: da (f, g, i, o), dc_prev."""
    H = c.shape[1]
    f, g, i, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
    dht, tc = dh_up + dh_rec, np.tanh(c)
    ds = dc + dht * o * (1 - tc**2)
    da = [ds * c_prev * f * (1 - f), ds * i * (1 - g**2), ds * g * i * (1 - i), dht * tc * o * (1 - o)]
    return [np.concatenate(da, axis=1), ds * f]


def step_of(backend: Any, a: np.ndarray) -> Any:
    """``a`` ``(N, W)`` as the time step ``[:, 1, :]`` of an ``(N, 3, W)`` array: strided, as TimeLSTM passes it."""
    big = np.zeros((a.shape[0], 3, a.shape[1]))
    big[:, 1, :] = a
    return on(backend, big)[:, 1, :]


def case_lstm_cell_forward(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    N, H = 3, 4
    a, hw, c_prev = rand(N, 4 * H) * 2, rand(N, 4 * H, seed=1), rand(N, H, seed=2)
    gates, c, h = (step_of(backend, np.zeros((N, w))) for w in (4 * H, H, H))
    k.lstm_cell_forward(step_of(backend, a), on(backend, hw), step_of(backend, c_prev), gates, c, h)
    return [gates, c, h], book_lstm_step(a, hw, c_prev)


def case_lstm_cell_backward(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    N, H = 3, 4
    gates = book_lstm_step(rand(N, 4 * H) * 2, rand(N, 4 * H, seed=1), rand(N, H, seed=2))[0]
    dh_up, dh_rec, dc, c, c_prev = (rand(N, H, seed=s) for s in range(3, 8))
    da, dc_on = step_of(backend, np.zeros((N, 4 * H))), on(backend, dc)
    args = (step_of(backend, dh_up), on(backend, dh_rec), dc_on, on(backend, gates), on(backend, c))
    k.lstm_cell_backward(*args, step_of(backend, c_prev), da)
    return [da, dc_on], book_lstm_step_backward(dh_up, dh_rec, dc, gates, c, c_prev)


def case_lstm_step_forward(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    """The whole step: ``h_prev @ Wh`` computed by the kernel (fused on CuPy and torch up to FUSED_STEP_MAX_H)."""
    N, H = 3, 4
    a, h_prev, Wh, c_prev = rand(N, 4 * H) * 2, rand(N, H, seed=1), rand(H, 4 * H, seed=2), rand(N, H, seed=3)
    gates, c, h = (step_of(backend, np.zeros((N, w))) for w in (4 * H, H, H))
    hw = on(backend, np.zeros((N, 4 * H)))
    args = (step_of(backend, a), step_of(backend, h_prev), on(backend, Wh), step_of(backend, c_prev))
    k.lstm_step_forward(*args, gates, c, h, hw)
    return [gates, c, h], book_lstm_step(a, h_prev @ Wh, c_prev)


def case_lstm_step_backward(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    """A middle step (``da_next @ Wh.T`` from the step after it) and the last one (``da_next`` None: zeros)."""
    N, H = 3, 4
    gates = book_lstm_step(rand(N, 4 * H) * 2, rand(N, 4 * H, seed=1), rand(N, H, seed=2))[0]
    dh_up, dc, c, c_prev = (rand(N, H, seed=s) for s in range(3, 7))
    da_next, Wh = rand(N, 4 * H, seed=7), rand(H, 4 * H, seed=8)
    out, expected = [], []
    for nxt in (da_next, None):
        da, dc_on, dh = step_of(backend, np.zeros((N, 4 * H))), on(backend, dc), on(backend, np.zeros((N, H)))
        dn = None if nxt is None else step_of(backend, nxt)
        args = (step_of(backend, dh_up), dn, on(backend, Wh), dh, dc_on, on(backend, gates), on(backend, c))
        k.lstm_step_backward(*args, step_of(backend, c_prev), da)
        out += [da, dc_on]
        rec = np.zeros((N, H)) if nxt is None else nxt @ Wh.T
        expected += book_lstm_step_backward(dh_up, rec, dc, gates, c, c_prev)
    return out, expected


def book_lstm_sequence(xs, Wx, Wh, b, h0, c0, dhs) -> list[np.ndarray]:
    """hs, h_T, c_T and (dWx, dWh, db, dh0, dxs) of an LSTM over ``xs`` in NumPy, step by step as in book 2."""
    T = xs.shape[1]
    h, c, steps = h0, c0, []
    for t in range(T):
        gates, c_next, h_next = book_lstm_step(xs[:, t] @ Wx + b, h @ Wh, c)
        steps.append((h, c, gates, c_next))
        h, c = h_next, c_next
    hs = np.stack([s[0] for s in steps[1:]] + [h], axis=1)
    dWx, dWh, db, dxs = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b), np.zeros_like(xs)
    dh_rec, dc = np.zeros_like(h0), np.zeros_like(c0)
    for t in range(T - 1, -1, -1):
        h_prev, c_prev, gates, c_t = steps[t]
        da, dc = book_lstm_step_backward(dhs[:, t], dh_rec, dc, gates, c_t, c_prev)
        dWx += xs[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dxs[:, t] = da @ Wx.T
        dh_rec = da @ Wh.T
    return [hs, h, c, dWx, dWh, db, dh_rec, dxs]


def case_lstm_sequence(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    """The library's whole-sequence op where it has one, else the time loop through ``k``'s step kernels."""
    N, T, D, H = 2, 5, 3, 4
    xs, Wx, Wh = rand(N, T, D), rand(D, 4 * H, seed=1) * 0.5, rand(H, 4 * H, seed=2) * 0.5
    b, h0, c0, dhs = rand(4 * H, seed=3), rand(N, H, seed=4), rand(N, H, seed=5), rand(N, T, H, seed=6)
    args = [on(backend, a) for a in (xs, Wx, Wh, b, h0, c0)]
    expected = book_lstm_sequence(xs, Wx, Wh, b, h0, c0, dhs)
    seq = k.lstm_sequence(*args)
    if seq is not None:
        hs, hT, cT, backward = seq
        return [hs, hT, cT, *backward(on(backend, dhs))], expected
    x, Wx_, Wh_, b_, h, c = args
    A, G, C, HS = (on(backend, np.zeros(s)) for s in ((T, N, 4 * H), (T, N, 4 * H), (T, N, H), (T, N, H)))
    hw, dh, dc = on(backend, np.zeros((N, 4 * H))), on(backend, np.zeros((N, H))), on(backend, np.zeros((N, H)))
    prev = [(h, c)]
    for t in range(T):
        k.matmul_into(hw, prev[-1][0], Wh_)
        k.lstm_cell_forward(x[:, t, :] @ Wx_ + b_, hw, prev[-1][1], G[t, ...], C[t, ...], HS[t, ...])
        prev.append((HS[t, ...], C[t, ...]))
    xp = backend.xp
    dA = on(backend, np.zeros((T, N, 4 * H)))
    for t in range(T - 1, -1, -1):
        k.lstm_cell_backward(on(backend, dhs[:, t]), dh, dc, G[t, ...], C[t, ...], prev[t][1], dA[t, ...])
        k.matmul_into(dh, dA[t, ...], xp.permute_dims(Wh_, (1, 0)))
    hprev = xp.stack([p[0] for p in prev[:T]], axis=0)
    dWx = xp.sum(xp.permute_dims(x, (1, 2, 0)) @ dA, axis=0)
    dWh = xp.sum(xp.permute_dims(hprev, (0, 2, 1)) @ dA, axis=0)
    dxs = xp.permute_dims(dA @ xp.permute_dims(Wx_, (1, 0)), (1, 0, 2))
    hs = xp.permute_dims(HS, (1, 0, 2))
    return [hs, HS[T - 1, ...], C[T - 1, ...], dWx, dWh, xp.sum(dA, axis=(0, 1)), dh, dxs], expected


CASES = {name[len("case_") :]: fn for name, fn in globals().items() if name.startswith("case_")}


def test_every_kernel_has_a_case():
    assert sorted(CASES) == KERNELS
    assert set(KERNELS) <= set(B.__all__)


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_equals_the_reference_on_every_backend(backend, name):
    reference, expected = CASES[name](backend, Kernels())
    own, _ = CASES[name](backend, kernels_for(backend.asarray(np.zeros(1))))
    public, _ = CASES[name](backend, B)
    for ref, exp, mine, pub in zip(reference, expected, own, public):
        assert_on(backend, ref)
        assert_on(backend, mine)
        assert xpnet.backend.dtype_name(mine) == xpnet.backend.dtype_name(ref)
        assert_close(ref, exp, rtol=backend.rtol, atol=backend.atol)  # the reference is right
        assert_close(mine, ref, rtol=backend.rtol, atol=backend.atol)  # and the library's own kernel equals it
        assert_close(pub, mine, rtol=0, atol=0)  # the public function is the library's own kernel


def test_overrides_override_reference_kernels():
    """A library's kernel class only overrides kernels the reference has (a misspelt override would never run)."""
    from xpnet.backend._registry import LIBRARIES, library

    for name in LIBRARIES:
        kernels = library(name).kernels
        assert isinstance(kernels, Kernels)
        own = {n for n, v in vars(type(kernels)).items() if callable(v) and not n.startswith("_")}
        assert own <= REFERENCE_NAMES, (name, own - REFERENCE_NAMES)


def test_kernels_dispatch_by_the_array_library():
    assert type(kernels_for(np.zeros(1))).__name__ == "NumpyKernels"
    strict = pytest.importorskip("array_api_strict")
    assert type(kernels_for(strict.zeros(1))) is Kernels  # array_api_strict runs the reference


ROOT = pathlib.Path(xpnet.__file__).parent
NAMES_A_LIBRARY = re.compile(
    r"^\s*(import|from)\s+(cupy|cupyx|torch)\b|is_cupy_array|is_torch_array|import_module\(\s*['\"](cupy|torch)"
)
# The NCCL communicator (and CUDA-aware MPI next to it) reduces CuPy buffers itself.
ALLOWED = {"training/distributed.py": re.compile(r"^\s*(import cupy|from cupy\.cuda import nccl)\s*$")}


def test_no_module_outside_the_backend_names_a_library():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "backend":
            continue
        allowed = ALLOWED.get(str(rel))
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if NAMES_A_LIBRARY.search(line) and not (allowed and allowed.match(line)):
                found.append(f"xpnet/{rel}:{n}: {line.strip()}")
    assert not found, "only xpnet/backend/ may name cupy or torch:\n" + "\n".join(found)


def test_the_library_check_catches_an_import():
    assert NAMES_A_LIBRARY.search("    import torch") and NAMES_A_LIBRARY.search("from cupy.cuda import nccl")
    assert NAMES_A_LIBRARY.search("if array_api_compat.is_torch_array(x):")
    assert not NAMES_A_LIBRARY.search('if backend_name(x) == "torch":')
