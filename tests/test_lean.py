"""The lean step: fused kernels equal to their reference, the flat store, a warm step that allocates nothing."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from helpers import assert_close

import xpnet
from xpnet.backend import Kernels, kernels_for
from xpnet.models import MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from xpnet.models.flat import FlatStore, flat_buffer_of, store_of
from xpnet.optimizers import SGD, Adam, Momentum

REF = Kernels()
rng = np.random.default_rng(7)


def _arrays(backend, *shapes):
    return [backend.asarray(rng.standard_normal(s)) for s in shapes]


def _tol(backend):
    single = backend.dtype == "float32"
    return {"rtol": 1e-5 if single else 1e-12, "atol": 1e-6 if single else 1e-13}


def test_affine_relu_kernels_equal_the_reference(backend):
    x, W, b, dout = _arrays(backend, (6, 5), (5, 4), (4,), (6, 4))
    k = kernels_for(x)
    for store in (None, {}):
        y = k.affine(x, W, b, store)
        assert_close(y, REF.affine(x, W, b), **_tol(backend))
        r = k.relu(y, store)
        assert_close(r, REF.relu(y), **_tol(backend))
        assert_close(k.relu_backward(dout, r, store), REF.relu_backward(dout, r), **_tol(backend))


@pytest.mark.parametrize("input_grad", [True, False])
def test_affine_backward_equals_the_reference(backend, input_grad):
    """The gradients land in the buffers given (the same objects), dx equals the reference's, twice (buffers reused)."""
    x, W, dout = _arrays(backend, (6, 5), (5, 4), (6, 4))
    xp = xpnet.get_namespace(x)
    k = kernels_for(x)
    store: dict = {}
    for _ in range(2):
        dW, db, rW, rb = (xp.zeros(s, dtype=x.dtype, device=xpnet.backend.array_device(x)) for s in ((5, 4), (4,)) * 2)
        dx = k.affine_backward(x, dout, W, dW, db, store, input_grad)
        ref = REF.affine_backward(x, dout, W, rW, rb, None, input_grad)
        assert_close(dW, rW, **_tol(backend))
        assert_close(db, rb, **_tol(backend))
        assert_close(rW, xp.matmul(xp.permute_dims(x, (1, 0)), dout), **_tol(backend))
        if input_grad:
            assert_close(dx, ref, **_tol(backend))
            assert_close(ref, xp.matmul(dout, xp.permute_dims(W, (1, 0))), **_tol(backend))
        else:
            assert dx is None and ref is None


def test_matmul_and_sum_into_equal_the_reference(backend):
    a, b, out, ref = _arrays(backend, (6, 5), (6, 3), (5, 3), (5, 3))
    k = kernels_for(a)
    k.matmul_into(out, a.T, b)
    REF.matmul_into(ref, a.T, b)
    assert_close(out, ref, **_tol(backend))
    s, t = _arrays(backend, (6,), (6,))  # the sum over b.T's 3 rows
    k.sum_into(s, b.T)
    REF.sum_into(t, b.T)
    assert_close(s, t, **_tol(backend))


@pytest.mark.parametrize("labels", ["int64", "int32", "one-hot", "scores"])
@pytest.mark.parametrize("scale", [1.0, 40.0])  # 40: saturated rows, where the 1e-7 guard decides the loss
@pytest.mark.parametrize("shape", [(7, 5), (3, 40)])  # NumPy: short rows reduced over a transposed copy, long directly
def test_softmax_cross_entropy_equals_the_reference(backend, scale, labels, shape):
    """Integer labels, and (N, C) labels read by their row's argmax (one-hot, or any scores: the book's reading)."""
    N, C = shape
    x = backend.asarray(scale * rng.standard_normal(shape))
    ids = rng.integers(0, C, N)
    if labels in ("int64", "int32"):
        t = backend.asarray(ids, dtype=labels)
    else:
        t = backend.asarray(np.eye(C)[ids] if labels == "one-hot" else rng.standard_normal(shape), dtype=backend.dtype)
    k = kernels_for(x)
    store: dict = {}
    for _ in range(2):  # the second call reuses the buffers
        loss, saved = k.softmax_xent(x, t, store)
        ref_loss, ref_saved = REF.softmax_xent(x, t, {})
        assert_close(loss, ref_loss, **_tol(backend))
        assert_close(k.softmax_of(saved), REF.softmax_of(ref_saved), **_tol(backend))
        for dout in (1, 0.5, backend.asarray(0.5, dtype=backend.dtype)):  # a number, or a 0-d array
            dx = k.softmax_xent_backward(saved, dout, store)
            assert_close(dx, REF.softmax_xent_backward(ref_saved, dout, {}), **_tol(backend))


def test_axpy_and_adam_equal_the_reference(backend):
    p, g, m, v = _arrays(backend, (9,), (9,), (9,), (9,))
    v = v * v
    xp = xpnet.get_namespace(p)
    k = kernels_for(p)
    copies = [xp.asarray(a, copy=True) for a in (p, g, m, v)]
    k.axpy(p, -0.3, g, k.out_buffer(p))
    REF.axpy(copies[0], -0.3, copies[1])
    assert_close(p, copies[0], **_tol(backend))
    k.adam_update(p, g, m, v, 0.01, 0.9, 0.999, 1e-7, k.out_buffer(p))
    REF.adam_update(*copies, 0.01, 0.9, 0.999, 1e-7, None)
    for a, b in zip((p, m, v), (copies[0], copies[2], copies[3])):
        assert_close(a, b, **_tol(backend))


def test_softmax_with_loss_refuses_labels_out_of_range(backend):
    if not xpnet.backend.on_host(xpnet.backend.zeros(1)):
        pytest.skip("labels on an accelerator are checked once by the Trainer, not per step")
    layer = xpnet.layers.SoftmaxWithLoss()
    x = backend.asarray(rng.standard_normal((3, 4)))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        layer.forward(x, xpnet.asarray(np.array([0, 4, 1])))


# --- the flat store ---------------------------------------------------------------------


def test_flat_store_holds_views_and_book_code_writes_through(backend):
    net = TwoLayerNet(6, 5, 3, dtype=backend.dtype)
    x, t = backend.asarray(rng.standard_normal((4, 6))), xpnet.asarray(rng.integers(0, 3, 4))
    before = {k: xpnet.asnumpy(v).copy() for k, v in net.params.items()}
    store = store_of(net.params)
    assert store.covers([net.params[k] for k in net.params], [net.params.grad(k) for k in net.params])
    assert net.layers["Affine1"].W is net.params["W1"] is store.params[0]
    for k, v in before.items():
        assert_close(net.params[k], v)
    grad = net.gradient(x, t)
    assert grad["W2"] is store.grads[2]
    net.params["W1"] -= 0.1 * grad["W1"]  # the book's update: in place, on the view
    (group,) = store.groups
    assert_close(group.param[:30], (before["W1"] - 0.1 * xpnet.asnumpy(grad["W1"])).reshape(-1), rtol=1e-6)
    assert flat_buffer_of([grad[k] for k in net.params]) is group.grad


def test_rebinding_a_parameter_is_adopted_by_the_store(backend):
    net = TwoLayerNet(6, 5, 3, dtype=backend.dtype)
    store = store_of(net.params)
    new = backend.asarray(np.ones((6, 5)))
    net.params["W1"] = new
    assert store_of(net.params) is store
    assert net.params["W1"] is store.params[0] and net.params["W1"] is not new
    assert_close(store.groups[0].param[:30], np.ones(30))


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: Momentum(0.1), lambda: Adam(0.01)])
def test_one_pass_update_equals_the_per_parameter_update(backend, make):
    x, t = backend.asarray(rng.standard_normal((8, 6))), xpnet.asarray(rng.integers(0, 3, 8))
    nets, opts = [], []
    for _ in range(2):
        xpnet.seed(3)
        nets.append(TwoLayerNet(6, 5, 3, weight_init_std=0.5, dtype=backend.dtype))
        opts.append(make())
    for _ in range(3):
        for i, (net, opt) in enumerate(zip(nets, opts)):
            grads = net.gradient(x, t)
            if i == 0:
                opt.update(net.params, grads)  # one pass over the flat buffer
            else:  # a plain dict: no store, one update per parameter
                opt.update(dict(net.params.items()), dict(grads))
    assert store_of(nets[0].params).groups[0].param is not None
    for k in nets[0].params:
        assert_close(nets[0].params[k], nets[1].params[k], **_tol(backend))
    state = getattr(opts[0], "m", getattr(opts[0], "v", None))
    if state is not None:  # per-parameter state stays reachable as views of the flat state
        assert tuple(state["W1"].shape) == (6, 5)


def test_a_flat_store_needs_one_gradient_per_parameter():
    with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
        FlatStore([np.zeros(2), np.zeros(3)], [np.zeros(2)])


# --- a capturable step on NumPy ----------------------------------------------------------


def _step(net, opt, x, t):
    def step():
        grads = net.gradient(x, t)
        opt.update(net.params, grads)

    return step


def _warm_step_peak(step) -> int:
    for _ in range(3):
        step()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


# The smallest batch-sized array of these steps is 100 x 32 float32 = 12,800 bytes; what a warm step may
# still allocate is Python objects (views, tuples, the 0-d loss the trainer keeps): about 2 KiB.
ALLOC_BOUND = 4096


@pytest.mark.parametrize("opt", [SGD, Adam])
def test_a_warm_numpy_step_allocates_nothing(opt):
    xpnet.seed(0)
    net = TwoLayerNet(784, 50, 32)
    x = rng.standard_normal((100, 784)).astype(np.float32)
    t = rng.integers(0, 32, 100)
    assert _warm_step_peak(_step(net, opt(), x, t)) < ALLOC_BOUND


def test_a_warm_numpy_conv_step_allocates_nothing():
    xpnet.seed(0)
    net = SimpleConvNet((1, 12, 12), {"filter_num": 8, "filter_size": 3}, 32, 10, 0.1)
    x = rng.standard_normal((50, 1, 12, 12)).astype(np.float32)
    t = rng.integers(0, 10, 50)
    assert _warm_step_peak(_step(net, SGD(0.1), x, t)) < ALLOC_BOUND


def test_pooling_kernels_equal_the_reference(backend):
    (x,) = _arrays(backend, (3, 2, 6, 6))
    xp = xpnet.get_namespace(x)
    x = xp.round(x * 2.0)  # ties inside windows: the first maximal cell takes the gradient
    (dout,) = _arrays(backend, (3, 2, 3, 3))
    k = kernels_for(x)
    store: dict = {}
    for _ in range(2):
        out, saved = k.maxpool(x, 2, 2, 2, 0, store)
        ref, ref_saved = REF.maxpool(x, 2, 2, 2, 0, None)
        assert_close(out, ref)
        assert_close(k.maxpool_backward(dout, saved, store), REF.maxpool_backward(dout, ref_saved, None))
    rows = k.channel_rows(dout, store)
    assert_close(rows, REF.channel_rows(dout, None))
    col = k.im2col(x, 3, 3, 1, 1, store)
    assert_close(col, REF.im2col(x, 3, 3, 1, 1, None))


def test_a_warm_numpy_step_keeps_every_buffer_address():
    xpnet.seed(0)
    net = TwoLayerNet(20, 8, 4)
    x, t = rng.standard_normal((16, 20)).astype(np.float32), rng.integers(0, 4, 16)
    step = _step(net, Adam(), x, t)
    step()

    def addresses():
        arrays = [*net.params.values(), *(net.params.grad(k) for k in net.params)]
        for layer in [*net.layers.values(), net.last_layer]:
            arrays += [a for a in getattr(layer, "_bufs", {}).values() if isinstance(a, np.ndarray)]
        return [a.__array_interface__["data"][0] for a in arrays]

    first = addresses()
    step()
    step()
    assert addresses() == first


@pytest.mark.parametrize("name", ["TwoLayerNet", "MultiLayerNetExtend", "SimpleConvNet"])
def test_training_still_learns_with_the_lean_step(backend, name):
    xpnet.seed(0)
    if name == "SimpleConvNet":
        net = SimpleConvNet((1, 6, 6), {"filter_num": 3, "filter_size": 3}, 8, 3, 0.3, dtype=backend.dtype)
        x = backend.asarray(rng.standard_normal((12, 1, 6, 6)))
    elif name == "MultiLayerNetExtend":
        kw = {"use_batchnorm": True, "use_dropout": True, "dropout_ration": 0.1}
        net = MultiLayerNetExtend(6, [8, 8], 3, dtype=backend.dtype, **kw)
        x = backend.asarray(rng.standard_normal((12, 6)))
    else:
        net = TwoLayerNet(6, 8, 3, weight_init_std=0.3, dtype=backend.dtype)
        x = backend.asarray(rng.standard_normal((12, 6)))
    t = xpnet.asarray(np.arange(12) % 3)
    opt = Adam(0.05)
    first = float(net.loss(x, t, train_flg=True))
    for _ in range(60):
        opt.update(net.params, net.gradient(x, t))
    last = sum(float(net.loss(x, t, train_flg=True)) for _ in range(5)) / 5  # dropout: an average
    assert last < 0.5 * first


def test_batchnorm_kernels_equal_the_reference(backend):
    x, gamma, beta, dout = _arrays(backend, (8, 5), (5,), (5,), (8, 5))
    xp = xpnet.get_namespace(x)
    k = kernels_for(x)
    runs = [[xp.zeros_like(gamma), xp.zeros_like(gamma) + 1.0] for _ in range(2)]
    out, saved = k.batchnorm_train(x, gamma, beta, tuple(runs[0]), 0.9, 1e-6, {})
    ref, ref_saved = REF.batchnorm_train(x, gamma, beta, tuple(runs[1]), 0.9, 1e-6, {})
    assert_close(out, ref, **_tol(backend))
    for a, b in zip(*runs):
        assert_close(a, b, **_tol(backend))
    grads = [xp.zeros_like(gamma) for _ in range(4)]
    dx = k.batchnorm_backward(dout, gamma, saved, grads[0], grads[1], {})
    ref_dx = REF.batchnorm_backward(dout, gamma, ref_saved, grads[2], grads[3], {})
    assert_close(dx, ref_dx, **_tol(backend))
    assert_close(grads[0], grads[2], **_tol(backend))
    assert_close(grads[1], grads[3], **_tol(backend))


def test_dropout_kernels_equal_the_reference(backend):
    u, a = _arrays(backend, (6, 4), (6, 4))
    k = kernels_for(u)
    store: dict = {}
    assert_close(k.dropout_mask(u, 0.3, store), REF.dropout_mask(u, 0.3, {}))
    assert_close(k.multiply(a, u, store, "out"), REF.multiply(a, u, {}, "out"), **_tol(backend))


@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_negative_sampling_loss_kernels_equal_the_reference(backend, scale):
    score = backend.asarray(scale * rng.standard_normal((5, 4)))
    k = kernels_for(score)
    store: dict = {}
    for _ in range(2):
        loss, saved = k.sigmoid_xent_first(score, store)
        ref_loss, ref_saved = REF.sigmoid_xent_first(score, {})
        # log(1 + eps - y) against log(1 - y + eps): a rounding apart where y is near 1
        assert_close(loss, ref_loss, rtol=1e-5 if backend.dtype == "float32" else 1e-9)
        for dout in (1, 0.25):
            ds = k.sigmoid_xent_first_backward(saved, dout, store)
            assert_close(ds, REF.sigmoid_xent_first_backward(ref_saved, dout, {}), **_tol(backend))


def test_take_rows_equals_the_reference(backend):
    (W,) = _arrays(backend, (7, 3))
    idx = xpnet.asarray(np.array([6, 0, 3, 3]))
    assert_close(kernels_for(W).take_rows(W, idx), REF.take_rows(W, idx))


def test_word2vec_weights_share_one_flat_buffer(backend):
    from xpnet.word2vec import CBOW

    corpus = np.array([0, 1, 2, 3, 1, 2, 0, 3, 2, 1])
    model = CBOW(4, 3, 1, corpus, sample_size=2, dtype=backend.dtype)
    store = store_of(model.params)
    assert store.covers(list(model.params), model.grads)
    assert model.word_vecs is model.params[0] is model.in_layer.params[0]
    assert model.ns_loss.params[0] is model.params[1] and model.ns_loss.grads[0] is model.grads[1]
    assert flat_buffer_of(model.grads) is store.groups[0].grad


# --- the recurrent language model's step ----------------------------------------------------


def _rnnlm_step(model, opt, xs, ts):
    from xpnet.book2 import clip_grads

    def step():  # as book 2's RnnlmTrainer: forward, backward, clip, update
        model.forward(xs, ts)
        model.backward()
        clip_grads(model.grads, 0.25)
        opt.update(model.params, model.grads)

    return step


def _rnnlm_arrays(model):
    arrays = [*model.params, *model.grads]
    for layer in [*model.layers, model.loss_layer]:
        for store in (getattr(layer, "_bufs", None), getattr(layer, "work", None)):
            arrays += [a for a in (store or {}).values() if isinstance(a, np.ndarray)]
    return arrays


# What a warm Rnnlm step may still allocate: Python objects and the word ids' bookkeeping of the embedding's
# scatter-add (an in-place sort's scratch, one fancy row write); its smallest batch-sized array is 280,000 bytes.
RNN_ALLOC_BOUND = 8192


def test_a_warm_numpy_rnnlm_step_allocates_nothing_and_keeps_its_addresses():
    from xpnet.rnnlm import Rnnlm

    xpnet.seed(0)
    model = Rnnlm(1000, 100, 100)
    xs, ts = rng.integers(0, 1000, (20, 35)), rng.integers(0, 1000, (20, 35))
    step = _rnnlm_step(model, SGD(20.0), xs, ts)
    assert _warm_step_peak(step) < RNN_ALLOC_BOUND
    arrays = _rnnlm_arrays(model)
    assert len(arrays) > 30  # the workspace, the layers' buffers, the flat store's views
    first = [a.__array_interface__["data"][0] for a in arrays]
    del arrays  # held here, the softmax buffer would count as a gradient still in use (forward then writes another)
    step()
    assert [a.__array_interface__["data"][0] for a in _rnnlm_arrays(model)] == first


def test_rnnlm_params_are_views_of_one_flat_buffer_and_the_tie_stays_one_array(backend):
    from xpnet.rnnlm import BetterRnnlm, Rnnlm

    for model in (Rnnlm(12, 4, 5, dtype=backend.dtype), BetterRnnlm(12, 4, 4, dtype=backend.dtype)):
        store = store_of(model.params)
        assert store.covers(list(model.params), model.grads)
        assert flat_buffer_of(model.grads) is store.groups[0].grad
        held = [p for layer in model.layers for p in layer.params]
        assert len(held) == len(model.params) and all(a is b for a, b in zip(held, model.params))  # the views
    embed = model.layers[0]
    assert embed.params[0] is model.params[0]
    xs = xpnet.asarray(rng.integers(0, 12, (2, 3)))
    before = xpnet.asnumpy(model.predict(xs)).copy()
    model.params[0][...] = 0.0  # written through the flat buffer: the tied output layer sees it too
    assert_close(model.predict(xs), np.broadcast_to(xpnet.asnumpy(model.params[-1]), before.shape))


@pytest.mark.parametrize("repeat", [1, 3, 12])  # 12: past the rounds, the rest by np.add.at
def test_buffered_scatter_add_equals_np_add_at(repeat):
    from xpnet.backend import index_add

    idx = np.concatenate([rng.integers(0, 9, 40), np.full(repeat, 4)])
    src = rng.standard_normal((idx.shape[0], 3)).astype(np.float32)
    want = np.zeros((9, 3), np.float32)
    np.add.at(want, idx, src)
    store: dict = {}
    for _ in range(2):  # the second call reuses the buffers
        got = np.zeros((9, 3), np.float32)
        index_add(got, idx, src, store)
        assert_close(got, want, rtol=1e-6)
    assert "index_add_rows" in store


@pytest.mark.parametrize("V", [5, 40])  # NumPy: rows of 5 reduced over a transposed copy, of 40 directly
def test_softmax_xent_ignoring_equals_the_reference(backend, V):
    x = backend.asarray(3.0 * rng.standard_normal((6, V)))
    t = xpnet.asarray(np.array([0, 4, -1, 2, -1, 3]))
    k = kernels_for(x)
    store: dict = {}
    for dout in (1, 0.5):  # the second pass reuses the buffers
        loss, saved = k.softmax_xent_ignoring(x, t, -1, store)
        ref_loss, ref_saved = REF.softmax_xent_ignoring(x, t, -1, {})
        assert_close(loss, ref_loss, **_tol(backend))
        dx = k.softmax_xent_ignoring_backward(saved, dout, store)
        assert_close(dx, REF.softmax_xent_ignoring_backward(ref_saved, dout, {}), **_tol(backend))
        assert not np.any(xpnet.asnumpy(dx)[[2, 4]])
