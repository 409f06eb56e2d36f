"""The recurrent training step: TimeLSTM's fused time steps (``lstm_cell_*`` of xpnet.backend, checked against their
reference in test_kernels.py), its workspace, its carried state, PyTorch's own LSTM op as a route, no host reads."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from helpers import assert_close
from test_no_sync import no_host_sync

import xpnet
from xpnet import backend as k
from xpnet.book2 import BetterRnnlm, Rnnlm, RnnlmGen, TimeLSTM, clip_grads
from xpnet.optimizers import SGD


def test_a_fused_step_is_one_op_on_torch():
    torch = pytest.importorskip("torch")
    from benchmarks.kernels import KernelCounter

    a, hw = torch.randn(2, 8), torch.randn(2, 8)
    c_prev, gates, c, h = torch.randn(2, 2), torch.empty(2, 8), torch.empty(2, 2), torch.empty(2, 2)
    with KernelCounter() as counter:
        k.lstm_cell_forward(a, hw, c_prev, gates, c, h)
    assert dict(counter.counts) == {"xpnet::lstm_cell_forward": 1}


def test_a_whole_step_is_one_op_on_torch_up_to_the_fused_size():
    """``h_prev @ Wh`` and the gates: one op each way up to ``FUSED_STEP_MAX_H`` hidden units (one CuPy kernel),
    a product and the gate op above it (as CuPy runs them)."""
    torch = pytest.importorskip("torch")
    from benchmarks.kernels import KernelCounter

    for H, expected in (
        (3, {"xpnet::lstm_step_forward": 1, "xpnet::lstm_step_backward": 1}),
        (k.FUSED_STEP_MAX_H + 1, {"mm": 2, "xpnet::lstm_cell_forward": 1, "xpnet::lstm_cell_backward": 1}),
    ):
        N = 2
        a, Wh, gates, hw, da, dn = (torch.randn(N, 4 * H) if i != 1 else torch.randn(H, 4 * H) for i in range(6))
        h_prev, c_prev, c, h, dh_up, dh, dc = (torch.randn(N, H) for _ in range(7))
        with KernelCounter() as counter:
            k.lstm_step_forward(a, h_prev, Wh, c_prev, gates, c, h, hw)
            k.lstm_step_backward(dh_up, dn, Wh, dh, dc, gates, c, c_prev, da)
        assert dict(counter.counts) == expected


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
            route = _run_lstm(ws, xs, dhs)
        with k.library_rnn(False):
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

    ops = count_kernels(step)
    assert "xpnet::lstm_step_forward" not in ops and sum(n for op, n in ops.items() if "rnn" in op) == 2
    with k.library_rnn(False):
        loop = count_kernels(step)
    # one op per time step each way, and the first step's dh as one product after the backward loop
    assert loop["xpnet::lstm_step_forward"] == 4 and loop["xpnet::lstm_step_backward"] == 4
    assert k.lstm_sequence(*(np.zeros(s) for s in ((2, 4, 3), (3, 8), (2, 8), (8,), (2, 2), (2, 2)))) is None
