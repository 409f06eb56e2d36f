"""The LSTM's fused step kernels (xpnet/_rnn_kernels.py) equal their reference on every backend, and the recurrent
training step stays on the device and, on NumPy, allocates nothing once warm."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from helpers import assert_close
from test_no_sync import no_host_sync

import xpnet
from xpnet import _rnn_kernels as k
from xpnet.book2 import BetterRnnlm, Rnnlm, RnnlmGen, TimeLSTM, clip_grads
from xpnet.optimizers import SGD

N, T, H = 3, 4, 5


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def book_forward(a, hw, c_prev):
    """Book 2's LSTM step in float64 NumPy (sigmoid as 1 / (1 + exp(-z)))."""
    z = a + hw
    f, g, i, o = _sig(z[:, :H]), np.tanh(z[:, H : 2 * H]), _sig(z[:, 2 * H : 3 * H]), _sig(z[:, 3 * H :])
    c = f * c_prev + g * i
    return np.concatenate([f, g, i, o], axis=1), c, o * np.tanh(c)


def book_backward(dh_up, dh_rec, dc, gates, c, c_prev):
    f, g, i, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
    dht = dh_up + dh_rec
    tc = np.tanh(c)
    ds = dc + dht * o * (1 - tc**2)
    da = np.concatenate(
        [ds * c_prev * f * (1 - f), ds * i * (1 - g**2), ds * g * i * (1 - i), dht * tc * o * (1 - o)], 1
    )
    return da, ds * f


def _step_views(backend, r, width):
    """A time step ``[:, 1, :]`` of an ``(N, T, width)`` array (strided, as the layer passes them) and its host copy."""
    host = r.standard_normal((N, T, width)) * 2
    return backend.asarray(host)[:, 1, :], host[:, 1, :]


@pytest.mark.parametrize("impl", ["dispatched", "reference"])
def test_lstm_cell_forward_equals_the_book(backend, impl):
    r = np.random.default_rng(0)
    (a, a_h), (hw, hw_h), (c_prev, cp_h) = (_step_views(backend, r, w) for w in (4 * H, 4 * H, H))
    gates, c, h = (backend.asarray(np.zeros((N, T, w)))[:, 2, :] for w in (4 * H, H, H))
    fn = k.lstm_cell_forward if impl == "dispatched" else k.lstm_cell_forward_reference
    fn(a, hw, c_prev, gates, c, h)
    for got, want in zip((gates, c, h), book_forward(a_h, hw_h, cp_h)):
        assert_close(got, want, rtol=backend.rtol, atol=backend.atol)


@pytest.mark.parametrize("impl", ["dispatched", "reference"])
def test_lstm_cell_backward_equals_the_book(backend, impl):
    r = np.random.default_rng(1)
    gates_h = np.concatenate([_sig(r.standard_normal((N, H))), np.tanh(r.standard_normal((N, H)))], 1)
    gates_h = np.concatenate([gates_h, _sig(r.standard_normal((N, 2 * H)))], 1)
    (dh_up, dh_h), (c, c_h), (c_prev, cp_h) = (_step_views(backend, r, H) for _ in range(3))
    dh_rec_h, dc_h = r.standard_normal((N, H)), r.standard_normal((N, H))
    dh_rec, dc, gates = (backend.asarray(v.copy()) for v in (dh_rec_h, dc_h, gates_h))  # written in place
    da = backend.asarray(np.zeros((N, T, 4 * H)))[:, 3, :]
    fn = k.lstm_cell_backward if impl == "dispatched" else k.lstm_cell_backward_reference
    fn(dh_up, dh_rec, dc, gates, c, c_prev, da)
    want_da, want_dc = book_backward(dh_h, dh_rec_h, dc_h, gates_h, c_h, cp_h)
    assert_close(da, want_da, rtol=backend.rtol, atol=backend.atol)
    assert_close(dc, want_dc, rtol=backend.rtol, atol=backend.atol)


def test_dispatched_kernels_equal_the_reference_exactly_enough(backend):
    """Override and reference side by side on the same arrays (the book's formula aside)."""
    r = np.random.default_rng(2)
    a, hw, c_prev = (backend.asarray(r.standard_normal((N, w))) for w in (4 * H, 4 * H, H))
    outs = [[backend.asarray(np.zeros((N, w))) for w in (4 * H, H, H)] for _ in range(2)]
    k.lstm_cell_forward(a, hw, c_prev, *outs[0])
    k.lstm_cell_forward_reference(a, hw, c_prev, *outs[1])
    for x, y in zip(*outs):
        assert_close(x, y, rtol=backend.rtol, atol=backend.atol)
    gates, c = outs[0][0], outs[0][1]
    dh_up, dh_rec, dc = (r.standard_normal((N, H)) for _ in range(3))
    res = []
    for fn in (k.lstm_cell_backward, k.lstm_cell_backward_reference):
        d = [backend.asarray(v.copy()) for v in (dh_rec, dc)]
        da = backend.asarray(np.zeros((N, 4 * H)))
        fn(backend.asarray(dh_up), d[0], d[1], gates, c, c_prev, da)
        res.append((da, d[1]))
    for x, y in zip(*res):
        assert_close(x, y, rtol=backend.rtol, atol=backend.atol)


def test_matmul_into(backend):
    r = np.random.default_rng(3)
    a, b = r.standard_normal((4, 3)), r.standard_normal((3, 6))
    for fn in (k.matmul_into, k.matmul_into_reference):
        out = backend.asarray(np.zeros((4, 6)))
        fn(out, backend.asarray(a), backend.asarray(b))
        assert_close(out, a @ b, rtol=backend.rtol, atol=backend.atol)


def test_a_fused_step_is_one_op_on_torch():
    torch = pytest.importorskip("torch")
    from benchmarks.kernels import KernelCounter

    a, hw = torch.randn(2, 8), torch.randn(2, 8)
    c_prev, gates, c, h = torch.randn(2, 2), torch.empty(2, 8), torch.empty(2, 2), torch.empty(2, 2)
    with KernelCounter() as counter:
        k.lstm_cell_forward(a, hw, c_prev, gates, c, h)
    assert dict(counter.counts) == {"xpnet::lstm_cell_forward": 1}


def test_time_lstm_reuses_its_workspace_and_keeps_nothing_on_numpy():
    """A warm step makes no array: the workspace is reused, nothing is retained, and the transient peak (NumPy's
    ufunc buffers for strided operands, freed within each call) stays below one ``(N, T, 4H)`` array."""
    with xpnet.use_backend("numpy", dtype="float32"):
        r = np.random.default_rng(4)
        D, Hh, n, t = 16, 64, 32, 6
        shapes = ((D, 4 * Hh), (Hh, 4 * Hh), (4 * Hh,))
        layer = TimeLSTM(*(xpnet.asarray(r.standard_normal(s) * 0.1) for s in shapes), stateful=True)
        xs, dhs = xpnet.asarray(r.standard_normal((n, t, D))), xpnet.asarray(r.standard_normal((n, t, Hh)))
        for _ in range(2):
            layer.forward(xs)
            layer.backward(dhs)
        work = dict(layer.work)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            layer.forward(xs)
            layer.backward(dhs)
            after, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert all(layer.work[name] is arr for name, arr in work.items())
        assert after - before < 1024, f"a warm TimeLSTM step kept {after - before} bytes"
        assert peak - before < n * t * 4 * Hh * 8, f"a warm TimeLSTM step peaked at {peak - before} bytes"


def test_carried_state_runs_on_across_forwards(backend):
    """``h``/``c`` are views of the workspace; the next forward starts from them before overwriting them."""
    r = np.random.default_rng(5)
    ws = [r.standard_normal(s) * 0.5 for s in ((3, 8), (2, 8), (8,))]
    xs = r.standard_normal((2, 5, 3))
    halves = TimeLSTM(*(backend.asarray(w) for w in ws), stateful=True)
    whole = TimeLSTM(*(backend.asarray(w) for w in ws), stateful=True)
    want = xpnet.asnumpy(whole.forward(backend.asarray(xs))).copy()
    first = xpnet.asnumpy(halves.forward(backend.asarray(xs[:, :2]))).copy()
    second = xpnet.asnumpy(halves.forward(backend.asarray(xs[:, 2:]))).copy()
    assert_close(np.concatenate([first, second], axis=1), want, rtol=backend.rtol, atol=backend.atol)
    assert_close(halves.h, whole.h, rtol=backend.rtol, atol=backend.atol)
    assert_close(halves.c, whole.c, rtol=backend.rtol, atol=backend.atol)


@pytest.mark.parametrize("model_cls", [Rnnlm, BetterRnnlm])
def test_rnnlm_step_reads_nothing_back(backend, monkeypatch, model_cls):
    model = model_cls(20, 6, 6, dtype=backend.dtype)
    r = np.random.default_rng(6)
    x = xpnet.asarray(r.integers(0, 20, (2, 7)))
    t = xpnet.asarray(r.integers(0, 20, (2, 7)))
    opt = SGD(0.1)
    for _ in range(2):
        model.forward(x, t)
        model.backward()
    with no_host_sync(backend, monkeypatch):
        model.forward(x, t)
        model.backward()
        clip_grads(model.grads, 0.25)
        opt.update(model.params, model.grads)


def test_get_state_is_a_copy_the_next_step_leaves_alone(backend):
    model = RnnlmGen(20, 6, 6, dtype=backend.dtype)
    ids = xpnet.asarray(np.array([[1, 2, 3]], dtype=np.int64))
    model.predict(ids)
    (h, c), *_ = model.get_state()
    h_then = xpnet.asnumpy(h).copy()
    model.predict(ids)
    assert_close(h, h_then)
    assert not np.allclose(xpnet.asnumpy(model.rnn_layers[0].h), h_then)


def _run_lstm(ws, xs, dhs, steps=2):
    """Outputs, input and weight gradients, state and dh of ``steps`` stateful forward/backward calls, on the host."""
    layer = TimeLSTM(*(xpnet.asarray(w.copy()) for w in ws), stateful=True)
    out = []
    for _ in range(steps):
        hs = layer.forward(xpnet.asarray(xs))
        dx = layer.backward(xpnet.asarray(dhs))
        got = [hs, dx, *layer.grads, layer.h, layer.c, layer.dh]
        out.append([xpnet.asnumpy(a).copy() for a in got])
    return out


def test_torch_own_lstm_op_equals_the_portable_loop_in_float32():
    """The torch-only route (``torch.lstm``) against the portable loop, to 1e-6 in float32, over two stateful calls."""
    pytest.importorskip("torch")
    r = np.random.default_rng(7)
    D, Hh, n, t = 5, 6, 4, 7
    ws = [(r.standard_normal(s) * 0.5).astype("f") for s in ((D, 4 * Hh), (Hh, 4 * Hh), (4 * Hh,))]
    xs, dhs = r.standard_normal((n, t, D)).astype("f"), r.standard_normal((n, t, Hh)).astype("f")
    with xpnet.use_backend("torch", dtype="float32"):
        with k.library_rnn(True):
            assert k.has_lstm_sequence(xpnet.asarray(xs))
            route = _run_lstm(ws, xs, dhs)
        with k.library_rnn(False):
            assert not k.has_lstm_sequence(xpnet.asarray(xs))
            loop = _run_lstm(ws, xs, dhs)
    for step_route, step_loop in zip(route, loop):
        for a, b in zip(step_route, step_loop):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_the_route_is_torch_only_and_can_be_switched_off():
    torch = pytest.importorskip("torch")
    from benchmarks.kernels import count_kernels

    layer = TimeLSTM(torch.randn(3, 8), torch.randn(2, 8), torch.zeros(8))
    xs, dhs = torch.randn(2, 4, 3), torch.randn(2, 4, 2)

    def step():
        layer.forward(xs)
        layer.backward(dhs)

    assert "xpnet::lstm_cell_forward" not in count_kernels(step)
    with k.library_rnn(False):
        assert count_kernels(step)["xpnet::lstm_cell_forward"] == 4
    assert not k.has_lstm_sequence(np.zeros((2, 4, 3)))
