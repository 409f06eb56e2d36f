"""Book 2's recurrent layers: gradients against central differences on every backend, and the book's behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, layer_gradient_check
from rnn_helpers import one_torch_thread, sampled_gradient_check  # noqa: F401

import xpnet
from xpnet.time_layers import (
    GRU,
    LSTM,
    RNN,
    TimeAffine,
    TimeBiLSTM,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSigmoidWithLoss,
    TimeSoftmaxWithLoss,
)

N, T, D, H = 2, 3, 3, 2


def rand(case, *shape, seed=0, scale=1.0):
    return case.asarray(np.random.default_rng(seed).standard_normal(shape) * scale)


def weights(case, gates, seed=1):
    G = gates * H
    return [rand(case, D, G, seed=seed), rand(case, H, G, seed=seed + 1), rand(case, G, seed=seed + 2)]


def numeric_check(case, loss, analytic, arrays, rtol=1e-6, atol=1e-8):
    """``analytic[i]`` (computed beforehand) against central differences of the scalar ``loss()`` in ``arrays[i]``."""
    for g, a in zip(analytic, arrays):
        assert_close(g, xpnet.numerical_gradient(lambda _: loss(), a), rtol=rtol, atol=atol)


def copy(case, a):
    return case.xp.asarray(a, copy=True)


@pytest.mark.parametrize("cls,gates", [(RNN, 1), (GRU, 3)])
def test_single_step_rnn_and_gru_gradients(backend64, cls, gates):
    layer = cls(*weights(backend64, gates))
    x, h = rand(backend64, N, D, seed=5), rand(backend64, N, H, seed=6)
    dh = rand(backend64, N, H, seed=7)
    xp = backend64.xp
    layer.forward(x, h)
    dx, dh_prev = layer.backward(dh)
    analytic = [dx, dh_prev, *(copy(backend64, g) for g in layer.grads)]
    numeric_check(backend64, lambda: xp.sum(layer.forward(x, h) * dh), analytic, [x, h, *layer.params])


def test_single_step_lstm_gradients(backend64):
    layer = LSTM(*weights(backend64, 4))
    x, h, c = rand(backend64, N, D, seed=5), rand(backend64, N, H, seed=6), rand(backend64, N, H, seed=7)
    dh, dc = rand(backend64, N, H, seed=8), rand(backend64, N, H, seed=9)
    xp = backend64.xp

    def loss():
        hn, cn = layer.forward(x, h, c)
        return xp.sum(hn * dh) + xp.sum(cn * dc)

    loss()
    grads = layer.backward(dh, dc)
    analytic = [*grads, *(copy(backend64, g) for g in layer.grads)]
    numeric_check(backend64, loss, analytic, [x, h, c, *layer.params])


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda c: TimeRNN(*weights(c, 1)), id="TimeRNN"),
        pytest.param(lambda c: TimeLSTM(*weights(c, 4)), id="TimeLSTM"),
        pytest.param(lambda c: TimeGRU(*weights(c, 3)), id="TimeGRU"),
        pytest.param(lambda c: TimeBiLSTM(*weights(c, 4), *weights(c, 4, seed=11)), id="TimeBiLSTM"),
        pytest.param(lambda c: TimeAffine(rand(c, D, 4, seed=1), rand(c, 4, seed=2)), id="TimeAffine"),
    ],
)
def test_time_layer_gradients(backend64, make):
    layer = make(backend64)
    xs = rand(backend64, N, T, D, seed=4)
    if isinstance(layer, TimeBiLSTM):  # 6 parameters: a sample of each keeps array_api_strict fast
        xp = backend64.xp
        out = layer.forward(xs)
        dout = rand(backend64, *out.shape, seed=3)
        dxs = layer.backward(dout)
        analytic = [dxs, *(copy(backend64, g) for g in layer.grads)]
        sampled_gradient_check(lambda: xp.sum(layer.forward(xs) * dout), analytic, [xs, *layer.params], k=6)
        return
    layer_gradient_check(layer, xs)


@pytest.mark.parametrize("cls,gates", [(TimeRNN, 1), (TimeLSTM, 4), (TimeGRU, 3)])
def test_stateful_layers_carry_the_state_across_calls(backend64, cls, gates):
    """Two calls on a stateful layer: the second starts from the first's last state (a constant for its gradient)."""
    layer = cls(*weights(backend64, gates), stateful=True)
    xs1, xs2 = rand(backend64, N, T, D, seed=4), rand(backend64, N, T, D, seed=5)
    layer.forward(xs1)
    h1, c1 = copy(backend64, layer.h), None if layer.c is None else copy(backend64, layer.c)

    def second(xs):
        layer.set_state(h1, c1)
        return layer.forward(xs)

    layer_gradient_check(layer, xs2, forward=second)
    # The same as one non-stateful call over both halves, read at the second half.
    whole = cls(*layer.params)
    both = whole.forward(backend64.xp.concat([xs1, xs2], axis=1))
    assert_close(second(xs2), both[:, T:, :], rtol=1e-12, atol=1e-12)
    layer.reset_state()
    assert layer.h is None and layer.c is None


def test_time_lstm_is_the_books_loop_of_lstm_steps(backend):
    Wx, Wh, b = weights(backend, 4)
    xs = rand(backend, N, T, D, seed=4)
    dhs = rand(backend, N, T, H, seed=5)
    xp = backend.xp
    time = TimeLSTM(Wx, Wh, b)
    hs = time.forward(xs)
    dxs = time.backward(dhs)
    steps = [LSTM(Wx, Wh, b) for _ in range(T)]
    h = c = xp.zeros((N, H), dtype=Wx.dtype, device=xpnet.backend.array_device(Wx))
    outs = []
    for t, step in enumerate(steps):
        h, c = step.forward(xs[:, t, :], h, c)
        outs.append(h)
    assert_close(hs, xp.stack(outs, axis=1), rtol=backend.rtol, atol=backend.atol)
    dh = dc = xp.zeros((N, H), dtype=Wx.dtype, device=xpnet.backend.array_device(Wx))
    dx = [None] * T
    dW = [xp.zeros_like(p) for p in time.params]
    for t in reversed(range(T)):
        dx[t], dh, dc = steps[t].backward(dhs[:, t, :] + dh, dc)
        dW = [a + g for a, g in zip(dW, steps[t].grads)]
    assert_close(dxs, xp.stack(dx, axis=1), rtol=backend.rtol, atol=backend.atol)
    for a, g in zip(dW, time.grads):
        assert_close(g, a, rtol=backend.rtol, atol=backend.atol)
    assert_close(time.dh, dh, rtol=backend.rtol, atol=backend.atol)


def test_time_embedding_gradient_adds_repeated_ids(backend64):
    W = rand(backend64, 5, 3, seed=1)
    ids = backend64.asarray(np.array([[1, 4, 1], [0, 1, 3]]), dtype="int64")
    layer = TimeEmbedding(W)
    xp = backend64.xp
    dout = rand(backend64, 2, 3, 3, seed=2)
    out = layer.forward(ids)
    assert tuple(out.shape) == (2, 3, 3)
    layer.backward(dout)
    numeric_check(backend64, lambda: xp.sum(layer.forward(ids) * dout), [copy(backend64, layer.grads[0])], [W])


def test_time_softmax_with_loss_ignores_labels(backend64):
    V = 4
    xs = rand(backend64, N, T, V, seed=1)
    t_host = np.array([[0, 3, -1], [2, -1, 1]])
    ts = backend64.asarray(t_host, dtype="int64")
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    x = xpnet.asnumpy(xs)
    p = np.exp(x) / np.exp(x).sum(axis=2, keepdims=True)
    keep = t_host != -1
    expected = -np.log(p[keep, t_host[keep]]).mean()
    assert abs(float(loss) - expected) < 1e-12
    dx = layer.backward()
    assert np.all(xpnet.asnumpy(dx)[~keep] == 0.0)
    numeric_check(backend64, lambda: layer.forward(xs, ts), [dx], [xs])


@pytest.mark.parametrize("V", [5, np.getbufsize() + 3])  # NumPy broadcasts rows this long directly
def test_time_softmax_gradient_stays_until_the_next_backward(backend, V):
    # NumPy computes the gradient over the forward's softmax buffer: forwards in between must leave it alone,
    # and a layer reused for many steps must give each step's own gradient
    xs1, xs2 = rand(backend, N, T, V, seed=1), rand(backend, N, T, V, seed=2)
    ts = backend.asarray(np.array([[0, 4, -1], [2, 1, 3]]), dtype="int64")

    def fresh(xs):
        one = TimeSoftmaxWithLoss()
        one.forward(xs, ts)
        return xpnet.asnumpy(one.backward())

    layer = TimeSoftmaxWithLoss()
    for _ in range(3):
        layer.forward(xs1, ts)
        dx1 = layer.backward()
        kept = xpnet.asnumpy(dx1).copy()
        layer.forward(xs2, ts)
        layer.forward(xs1, ts)
        assert_close(dx1, kept, rtol=0, atol=0)
        assert_close(dx1, fresh(xs1), rtol=backend.rtol, atol=backend.atol)
        layer.forward(xs2, ts)
        assert_close(layer.backward(), fresh(xs2), rtol=backend.rtol, atol=backend.atol)


def test_time_softmax_keeps_one_buffer_while_its_gradients_are_consumed():
    """NumPy: a training loop's gradient is used and dropped before the next forward, so the softmax buffer is reused
    (one (N T, V) buffer, not two alternating); a gradient still held makes the next forward write a second one."""
    xs = np.random.default_rng(1).standard_normal((N, T, 5))
    ts = np.array([[0, 4, -1], [2, 1, 3]])
    layer = TimeSoftmaxWithLoss()
    for _ in range(3):
        layer.forward(xs, ts)
        layer.backward().sum()  # used, not kept
    assert "e1" not in layer._bufs
    layer.forward(xs, ts)
    kept = layer.backward()
    layer.forward(xs, ts)
    assert "e1" in layer._bufs and not np.shares_memory(kept, layer._bufs["e1"])


def test_time_softmax_with_loss_refuses_bad_labels(backend):
    layer = TimeSoftmaxWithLoss()
    with pytest.raises(ValueError, match=r"labels of shape \(2, 2\)"):
        layer.forward(rand(backend, N, T, 4), backend.asarray(np.zeros((2, 2)), dtype="int64"))


def test_time_sigmoid_with_loss_gradient(backend64):
    xs = rand(backend64, N, T, seed=1)
    ts = backend64.asarray(np.array([[0, 1, 1], [1, 0, 0]]), dtype="int64")
    layer = TimeSigmoidWithLoss()
    layer.forward(xs, ts)
    dx = layer.backward()
    assert tuple(dx.shape) == (N, T)
    numeric_check(backend64, lambda: layer.forward(xs, ts), [dx], [xs])


def test_time_dropout_follows_the_books_train_flg(backend):
    layer = TimeDropout(0.5)
    xs = backend.asarray(np.ones((4, 5, 6)))
    out = xpnet.asnumpy(layer.forward(xs))  # train_flg attribute defaults to True, as in the book
    assert set(np.unique(out)) <= {0.0, 2.0} and 0 < (out == 0).sum() < out.size
    assert_close(layer.backward(xs), out)
    layer.train_flg = False
    assert_close(layer.forward(xs), xs)
    layer.train_flg = True
    assert_close(layer.forward(xs, train_flg=False), xs)


def test_time_lstm_refuses_a_wrong_shape(backend):
    layer = TimeLSTM(*weights(backend, 4))
    with pytest.raises(ValueError, match=r"\(N, T, 3\)"):
        layer.forward(rand(backend, N, D))


def test_add_at_labels_and_exp_inplace(backend):
    from xpnet.backend import add_at_labels, exp_inplace

    a = np.random.default_rng(0).standard_normal((4, 5))
    t = np.array([0, 4, 4, 2])
    got = add_at_labels(backend.asarray(a.copy()), backend.asarray(t, dtype="int64"), -1.0)
    expected = a.copy()
    expected[np.arange(4), t] -= 1.0
    assert_close(got, expected, rtol=backend.rtol, atol=backend.atol)
    assert_close(exp_inplace(backend.asarray(a.copy())), np.exp(a), rtol=backend.rtol, atol=backend.atol)


def test_add_at_labels_per_row_values(backend):
    from xpnet.backend import add_at_labels

    a = np.zeros((3, 4))
    got = add_at_labels(backend.asarray(a.copy()), backend.asarray(np.array([1, 1, 3]), dtype="int64"),
                        backend.asarray(np.array([1.0, 2.0, 3.0])))  # fmt: skip
    assert_close(got, [[0, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 3]])
