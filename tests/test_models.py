import os

import numpy as np
import pytest
from helpers import assert_close, assert_on

import xpnet
from xpnet import DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, SimpleNet, ThreeLayerNet, TwoLayerNet

rng = np.random.default_rng(0)

NETWORKS = {
    "two-layer-relu": lambda **kw: TwoLayerNet(6, 5, 3, weight_init_std=0.5, **kw),
    "two-layer-sigmoid": lambda **kw: TwoLayerNet(6, 5, 3, weight_init_std=0.5, activation="sigmoid", **kw),
    "three-layer": lambda **kw: ThreeLayerNet(6, 5, 4, 3, weight_init_std=0.5, **kw),
    "multi-layer-decay": lambda **kw: MultiLayerNet(6, [5, 4, 4], 3, weight_decay_lambda=0.1, **kw),
    "multi-layer-sigmoid": lambda **kw: MultiLayerNet(6, [5], 3, activation="sigmoid", weight_init_std="xavier", **kw),
    "extend-bn-dropout": lambda **kw: MultiLayerNetExtend(
        6, [5, 4], 3, use_dropout=True, dropout_ration=0.2, use_batchnorm=True, weight_decay_lambda=0.05, **kw
    ),
    "simple-conv": lambda **kw: SimpleConvNet(
        (2, 6, 5),
        {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
        hidden_size=4,
        output_size=3,
        weight_init_std=0.3,
        **kw,
    ),
    "deep-conv": lambda **kw: DeepConvNet(
        (1, 8, 8), [{"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1}] * 6, hidden_size=4, output_size=3, **kw
    ),
}


def nonzero_biases(net):
    """Zero biases put ReLU kinks exactly at 0 (a sample whose units are all dead), where
    central differences see half a slope and backprop sees none; move them off it."""
    for k in net.params:
        if k.startswith("b"):
            p = net.params[k]
            net.params[k] = p + xpnet.get_namespace(p).asarray(
                rng.uniform(0.05, 0.2, tuple(p.shape)), dtype=p.dtype, device=xpnet.backend.array_device(p)
            )
    return net


def data(case, net, n=4, one_hot=False):
    shape = (n, 2, 6, 5) if isinstance(net, SimpleConvNet) else (n, 1, 8, 8) if isinstance(net, DeepConvNet) else (n, 6)
    x = case.asarray(rng.standard_normal(shape), dtype="float64")
    labels = rng.integers(0, 3, n)
    t = case.asarray(np.eye(3)[labels], dtype="float64") if one_hot else xpnet.asarray(labels)
    return x, t


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_backprop_matches_numerical_gradient(backend64, name):
    global rng
    rng = np.random.default_rng(0)  # ReLU kinks and near-ties in max-pooling make some draws unfit
    net = nonzero_biases(NETWORKS[name](dtype="float64"))
    x, t = data(backend64, net, one_hot=name.startswith("two"))
    diffs = xpnet.gradient_check(net, x, t)
    assert set(diffs) == set(net.params)
    scale = max(float(np.abs(xpnet.asnumpy(g)).max()) for g in net.gradient(x, t).values())
    assert max(diffs.values()) < 1e-5 * max(scale, 1.0), diffs
    for g in net.numerical_gradient(x, t).values():
        assert_on(backend64, g)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_bulk_numerical_gradient_equals_book_loop(backend64, name):
    net = nonzero_biases(NETWORKS[name](dtype="float64"))
    x, t = data(backend64, net)
    net.loss(x, t, train_flg=True)  # dropout masks of a training pass, reused by both methods
    bulk = net.numerical_gradient(x, t, chunk_size=7)  # a small chunk exercises the chunking
    loop = net.numerical_gradient(x, t, method="loop")
    for k in net.params:
        assert_close(bulk[k], loop[k], rtol=0, atol=1e-8)


def test_numerical_gradient_of_float32_net_is_float32_but_evaluated_in_float64():
    net = TwoLayerNet(6, 5, 3, weight_init_std=0.5)
    net64 = TwoLayerNet(6, 5, 3, weight_init_std=0.5, dtype="float64")
    for k in net.params:
        net64.params[k] = xpnet.asarray(net.params[k], dtype="float64")
    x, t = data(xpnet, net)
    g32 = net.numerical_gradient(xpnet.asarray(x, dtype="float32"), t)
    g64 = net64.numerical_gradient(xpnet.asarray(x, dtype="float32"), t)
    for k in net.params:
        assert g32[k].dtype == np.float32
        assert_close(g32[k], g64[k], rtol=1e-6, atol=1e-8)
    assert net.params["W1"].dtype == np.float32  # the network is left as it was


def test_numerical_gradient_restores_params_and_batchnorm_state(backend64):
    net = NETWORKS["extend-bn-dropout"](dtype="float64")
    x, t = data(backend64, net)
    net.loss(x, t, train_flg=True)
    before = {k: xpnet.asnumpy(v).copy() for k, v in net.params.items()}
    running = xpnet.asnumpy(net.layers["BatchNorm1"].running_mean).copy()
    net.numerical_gradient(x, t)
    for k, v in net.params.items():
        np.testing.assert_array_equal(xpnet.asnumpy(v), before[k])
    np.testing.assert_array_equal(xpnet.asnumpy(net.layers["BatchNorm1"].running_mean), running)
    with pytest.raises(ValueError, match="method"):
        net.numerical_gradient(x, t, method="fast")


def test_rebinding_a_parameter_reaches_the_layer(backend):
    net = TwoLayerNet(4, 3, 2)
    x = backend.asarray(rng.standard_normal((2, 4)))
    net.params["W1"] = backend.asarray(np.zeros((4, 3)))
    net.params["b1"] = backend.asarray(np.ones(3))
    net.params["W2"] = backend.asarray(np.ones((3, 2)))
    assert_close(net.predict(x), np.full((2, 2), 3.0) + xpnet.asnumpy(net.params["b2"]))
    assert net.layers["Affine1"].W is net.params["W1"]
    with pytest.raises(KeyError, match="W9"):
        net.params["W9"] = net.params["W1"]


def test_book_training_loop_learns(backend):
    """Book 1, 4.5 / 5.7 loop on a separable problem: params[key] -= lr * grad[key]."""
    xpnet.seed(1)
    centers = rng.standard_normal((3, 8)) * 3
    labels = rng.integers(0, 3, 300)
    x = backend.asarray(centers[labels] + rng.standard_normal((300, 8)))
    t = xpnet.asarray(labels)
    net = TwoLayerNet(8, 10, 3, weight_init_std=0.1, dtype=backend.dtype)
    before = net.accuracy(x, t)
    for _ in range(200):
        grad = net.gradient(x, t)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= 0.1 * grad[key]
    assert net.accuracy(x, t) > max(0.9, before)
    assert_on(backend, net.params["W1"])
    assert isinstance(net.accuracy(x, t), float)


def test_accuracy_one_hot_and_labels_agree(backend):
    net = TwoLayerNet(6, 5, 3, weight_init_std=1.0, dtype=backend.dtype)
    x = backend.asarray(rng.standard_normal((50, 6)))
    labels = rng.integers(0, 3, 50)
    a = net.accuracy(x, xpnet.asarray(labels))
    assert a == net.accuracy(x, backend.asarray(np.eye(3)[labels]))
    assert a == net.accuracy(x, xpnet.asarray(labels), batch_size=7)
    with pytest.raises(ValueError, match="empty"):
        net.accuracy(x[:0, ...], xpnet.asarray(labels[:0]))


def test_wrong_feature_count_names_both_shapes(backend):
    net = TwoLayerNet(784, 50, 10, dtype=backend.dtype)
    with pytest.raises(ValueError, match=r"\(100, 783\).*\(784, 50\)"):
        net.loss(backend.asarray(np.zeros((100, 783))), xpnet.asarray(np.zeros(100, dtype=np.int64)))


def test_labels_out_of_range(backend):
    net = TwoLayerNet(4, 3, 2, dtype=backend.dtype)
    x, bad = backend.asarray(np.zeros((3, 4))), xpnet.asarray([0, 1, 2])
    if xpnet.backend.on_host(bad):
        with pytest.raises(ValueError, match=r"\[0, 2\)"):
            net.loss(x, bad)
    else:  # a device is not stalled per call to check labels: the Trainer checks them once, up front
        net.loss(x, bad)
        with pytest.raises(ValueError, match=r"\[0, 2\)"):
            xpnet.Trainer(net, x, bad, x, bad, verbose=False)


def test_bad_network_arguments():
    with pytest.raises(ValueError, match="activation"):
        TwoLayerNet(4, 3, 2, activation="tanh")
    with pytest.raises(ValueError, match="positive integers"):
        TwoLayerNet(4, 0, 2)
    with pytest.raises(ValueError, match="weight_init_std"):
        MultiLayerNet(4, [3], 2, weight_init_std="lecun")


def test_multilayer_init_scales():
    net = MultiLayerNet(1000, [500], 10, weight_init_std="relu", dtype="float64")
    assert float(np.std(xpnet.asnumpy(net.params["W1"]))) == pytest.approx(np.sqrt(2 / 1000), rel=0.02)
    net = MultiLayerNet(1000, [500], 10, weight_init_std="sigmoid", dtype="float64")
    assert float(np.std(xpnet.asnumpy(net.params["W2"]))) == pytest.approx(np.sqrt(1 / 500), rel=0.05)


def test_extend_accepts_both_spellings():
    a = MultiLayerNetExtend(4, [3], 2, use_dropout=True, dropout_ration=0.3)
    b = MultiLayerNetExtend(4, [3], 2, use_dropout=True, dropout_ratio=0.3)
    assert a.layers["Dropout1"].dropout_ratio == b.layers["Dropout1"].dropout_ratio == 0.3


def test_simple_net_seed_values(backend64):
    """Seed 003 / book 4.4.2 with the notebook's printed W."""
    W = backend64.asarray([[0.92900301, 1.5888279, 0.12853715], [-0.5857252, -0.85550412, -0.44692251]])
    net = SimpleNet(W)
    x, t = backend64.asarray([0.6, 0.9]), backend64.asarray([0.0, 0.0, 1.0])
    assert_close(net.predict(x), [0.03024913, 0.18334303, -0.32510797], rtol=1e-6)
    assert float(net.loss(x, t)) == pytest.approx(1.4083987510494458, rel=1e-7)
    dW = xpnet.numerical_gradient(lambda w: net.loss(x, t), net.W)
    assert_close(dW, [[0.20932481, 0.24395434, -0.45327916], [0.31398722, 0.36593151, -0.67991873]], rtol=1e-6)


# --- checkpoints ---------------------------------------------------------------------


def test_save_load_round_trip_across_backends(backend, tmp_path):
    with xpnet.use_backend("numpy"):
        src = MultiLayerNetExtend(6, [5], 3, use_batchnorm=True)
        src.loss(
            xpnet.asarray(rng.standard_normal((4, 6)), dtype="float32"), xpnet.asarray([0, 1, 2, 0]), train_flg=True
        )
        src.save_params(tmp_path / "net.npz")
    dst = MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, dtype=backend.dtype)
    dst.load_params(tmp_path / "net.npz")
    for k in src.params:
        np.testing.assert_array_equal(xpnet.asnumpy(dst.params[k]), xpnet.asnumpy(src.params[k]))
        assert_on(backend, dst.params[k])
    np.testing.assert_array_equal(
        xpnet.asnumpy(dst.layers["BatchNorm1"].running_mean), xpnet.asnumpy(src.layers["BatchNorm1"].running_mean)
    )
    x = backend.asarray(rng.standard_normal((3, 6)))
    with xpnet.use_backend("numpy"):
        expected = xpnet.asnumpy(src.predict(xpnet.asarray(xpnet.asnumpy(x))))
    assert_close(dst.predict(x), expected, rtol=1e-5, atol=1e-6)


def test_load_shape_mismatch_names_parameter_and_changes_nothing(tmp_path):
    TwoLayerNet(6, 5, 3).save_params(tmp_path / "a.npz")
    net = TwoLayerNet(6, 4, 3)
    before = xpnet.asnumpy(net.params["W1"]).copy()
    with pytest.raises(ValueError, match=r"'W1'.*\(6, 5\).*\(6, 4\)"):
        net.load_params(tmp_path / "a.npz")
    np.testing.assert_array_equal(xpnet.asnumpy(net.params["W1"]), before)
    with pytest.raises(ValueError, match="no parameter 'W3'"):
        ThreeLayerNet(6, 5, 3, 3).load_params(tmp_path / "a.npz")


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    net = TwoLayerNet(6, 5, 3)
    net.save_params(path)
    good = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        TwoLayerNet(6, 5, 3).save_params(path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["net.npz"]  # no temporary file left behind


def test_checkpoint_is_not_a_pickle(tmp_path):
    TwoLayerNet(6, 5, 3).save_params(tmp_path / "n.npz")
    with np.load(tmp_path / "n.npz", allow_pickle=False) as data:
        assert sorted(data.files) == ["W1", "W2", "b1", "b2"]


@pytest.mark.parametrize("case", ["large-steps", "soft-labels"])
def test_bulk_numerical_gradient_special_paths(case):
    """Perturbations too large for the series (it falls back to exp) and non-one-hot targets."""
    r = np.random.default_rng(5)
    net = nonzero_biases(TwoLayerNet(6, 5, 3, weight_init_std=1.0, dtype="float64"))
    x = xpnet.asarray(r.standard_normal((4, 6)) * (3e4 if case == "large-steps" else 1.0), dtype="float64")
    if case == "soft-labels":
        t = xpnet.asarray(r.dirichlet(np.ones(3), 4), dtype="float64")
    else:
        t = xpnet.asarray(r.integers(0, 3, 4))
    bulk, loop = net.numerical_gradient(x, t), net.numerical_gradient(x, t, method="loop")
    for k in net.params:
        scale = float(np.abs(xpnet.asnumpy(loop[k])).max())
        assert_close(bulk[k], loop[k], rtol=0, atol=1e-8 * max(scale, 1.0))


@pytest.mark.parametrize("data_dtype", ["float32", "float64", "uint8"])
def test_data_takes_the_networks_dtype(backend, data_dtype):
    """float32 data meeting float64 weights (or the reverse, or raw uint8 pixels) trains the same way on
    every backend: the weights' dtype decides, and the gradients keep it."""
    r = np.random.default_rng(0)
    other = "float32" if backend.dtype == "float64" else "float64"
    for net in (
        TwoLayerNet(6, 5, 3, dtype=other),
        SimpleConvNet((1, 6, 6), {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1}, 4, 3, dtype=other),
    ):
        shape = (4, 6) if isinstance(net, TwoLayerNet) else (4, 1, 6, 6)
        x = xpnet.asarray(r.integers(0, 4, shape).astype(data_dtype))
        t = xpnet.asarray(np.array([0, 1, 2, 1]))
        grads = net.gradient(x, t)
        assert all(xpnet.backend.dtype_name(g) == other for g in grads.values())
        same = net.loss(xpnet.asarray(xpnet.asnumpy(x).astype(other)), t)
        assert float(net.last_loss) == pytest.approx(float(same), rel=1e-6)


def test_boolean_data_is_refused_with_both_dtypes(backend):
    net = TwoLayerNet(6, 5, 3, dtype=backend.dtype)
    with pytest.raises(
        TypeError, match=rf"Affine: input of dtype .*bool.* cannot meet weights of dtype .*{backend.dtype}"
    ):
        net.predict(xpnet.asarray(np.ones((2, 6), dtype=bool)))


# --- input checks ------------------------------------------------------------------


def test_accuracy_checks_its_labels(backend):
    net = TwoLayerNet(6, 5, 3, dtype=backend.dtype)
    x = backend.asarray(rng.standard_normal((4, 6)))
    labels = np.array([0, 1, 2, 1])
    with pytest.raises(ValueError, match=r"one-hot labels of shape \(4, 4\) have 4 columns.*3 outputs"):
        net.accuracy(x, backend.asarray(np.eye(4)[labels]))
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) do not fit 4 samples"):
        net.accuracy(x, xpnet.asarray(labels[:3]))
    with pytest.raises(ValueError, match=r"labels of shape \(3, 3\) do not fit 4 samples"):
        net.accuracy(x, backend.asarray(np.eye(3)[labels[:3]]))
    with pytest.raises(ValueError, match="empty batch"):
        net.accuracy(x[:0, ...], xpnet.asarray(labels[:0]))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        net.accuracy(x, xpnet.asarray(labels), batch_size=0)
    out_of_range = xpnet.asarray(np.array([0, 1, 3, 1]))
    if xpnet.backend.on_host(out_of_range):
        with pytest.raises(ValueError, match=r"\[0, 3\)"):
            net.accuracy(x, out_of_range)
    else:  # a device array is not read back per call (functions.check_labels); the Trainer checks once
        assert 0.0 <= net.accuracy(x, out_of_range) <= 1.0


def test_predict_loss_and_accuracy_take_python_lists(backend):
    net = TwoLayerNet(2, 4, 3, weight_init_std=1.0, dtype=backend.dtype)
    x = [[0.5, -1.0], [2.0, 0.25]]
    assert_close(net.predict(x), net.predict(backend.asarray(x)))
    assert_on(backend, net.predict(x))
    assert float(net.loss(x, [0, 2])) == pytest.approx(float(net.loss(backend.asarray(x), xpnet.asarray([0, 2]))))
    assert net.accuracy(x, [0, 2]) == net.accuracy(backend.asarray(x), xpnet.asarray([0, 2]))
    with pytest.raises(TypeError, match="expected an array"):
        net.predict([[0.5, "a"], [1]])


def test_loss_of_an_empty_batch_is_an_error(backend):
    net = TwoLayerNet(6, 5, 3, dtype=backend.dtype)
    with pytest.raises(ValueError, match=r"empty batch.*\(0, 6\)"):
        net.loss(backend.asarray(np.zeros((0, 6))), xpnet.asarray(np.zeros(0, dtype=np.int64)))


@pytest.mark.parametrize("soft", [False, True])
def test_non_one_hot_labels_backprop_matches_numerical(soft):
    """Same-shaped labels that are not one-hot (seed 003's np.random.rand(100, 10)): the loss is the book's
    (argmax) or, with a soft loss layer, the soft-label one; backprop and the bulk numerical gradient agree."""
    r = np.random.default_rng(6)
    net = nonzero_biases(TwoLayerNet(6, 5, 3, weight_init_std=1.0, activation="sigmoid", dtype="float64"))
    if soft:
        net.last_layer = xpnet.layers.SoftmaxWithLoss(soft=True)
    x = xpnet.asarray(r.standard_normal((4, 6)), dtype="float64")
    t_host = r.random((4, 3))
    if soft:
        t_host /= t_host.sum(axis=1, keepdims=True)
    t = xpnet.asarray(t_host, dtype="float64")
    y = xpnet.asnumpy(xpnet.functions.softmax(net.predict(x)))
    if soft:
        expected = -np.sum(t_host * np.log(y + 1e-7)) / 4
    else:
        expected = -np.sum(np.log(y[np.arange(4), t_host.argmax(axis=1)] + 1e-7)) / 4
    assert float(net.loss(x, t)) == pytest.approx(expected, rel=1e-12)
    diffs = xpnet.gradient_check(net, x, t)
    assert max(diffs.values()) < 1e-5, diffs  # the 1e-7 inside the log: backprop leaves it out
    bulk, loop = net.numerical_gradient(x, t), net.numerical_gradient(x, t, method="loop")
    for k in net.params:
        assert_close(bulk[k], loop[k], rtol=0, atol=1e-9)


def test_an_integer_rng_seeds_one_stream_for_every_weight():
    """rng=0 used to restart the stream for each weight: W2 repeated the first numbers of W1."""
    net = TwoLayerNet(20, 5, 3, weight_init_std=1.0, rng=0)
    W1, W2 = xpnet.asnumpy(net.params["W1"]).ravel(), xpnet.asnumpy(net.params["W2"]).ravel()
    assert not np.allclose(W1[: W2.size], W2)
    again = TwoLayerNet(20, 5, 3, weight_init_std=1.0, rng=0)  # still reproducible
    np.testing.assert_array_equal(xpnet.asnumpy(again.params["W2"]), xpnet.asnumpy(net.params["W2"]))
    deep = MultiLayerNet(5, [5, 5], 5, rng=0)
    assert not np.allclose(xpnet.asnumpy(deep.params["W2"]), xpnet.asnumpy(deep.params["W3"]))
