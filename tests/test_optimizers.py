import numpy as np
import pytest
from helpers import assert_close

import xpnet
from xpnet.optimizers import OPTIMIZERS, SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop


def reference(name, w, g, steps):
    """The book's update rules (book 1, common/optimizer.py, Nesterov as corrected in 2021), in NumPy."""
    w, v, h, m = w.copy(), np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for it in range(1, steps + 1):
        if name == "sgd":
            w -= 0.01 * g
        elif name == "momentum":
            v = 0.9 * v - 0.01 * g
            w += v
        elif name == "nesterov":
            v = 0.9 * v - 0.01 * g
            w += 0.9 * 0.9 * v
            w -= 1.9 * 0.01 * g
        elif name == "adagrad":
            h += g * g
            w -= 0.01 * g / (np.sqrt(h) + 1e-7)
        elif name == "rmsprop":
            h = 0.99 * h + 0.01 * g * g
            w -= 0.01 * g / (np.sqrt(h) + 1e-7)
        elif name == "adam":
            lr_t = 0.001 * np.sqrt(1 - 0.999**it) / (1 - 0.9**it)
            m += 0.1 * (g - m)
            h += 0.001 * (g * g - h)
            w -= lr_t * m / (np.sqrt(h) + 1e-7)
    return w


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_update_rules_match_the_book_dict_and_list(backend, name):
    r = np.random.default_rng(0)
    w0, g0 = r.standard_normal((3, 2)), r.standard_normal((3, 2))
    expected = reference(name, w0, g0, 3)
    params = {"W": backend.asarray(w0.copy())}  # asarray may share NumPy memory, like np.asarray
    as_list = [backend.asarray(w0.copy())]
    opt_d, opt_l = OPTIMIZERS[name](), OPTIMIZERS[name]()
    for _ in range(3):
        opt_d.update(params, {"W": backend.asarray(g0)})
        opt_l.update(as_list, [backend.asarray(g0)])
    assert_close(params["W"], expected, rtol=backend.rtol * 10, atol=backend.atol * 10)
    assert_close(as_list[0], expected, rtol=backend.rtol * 10, atol=backend.atol * 10)


def test_updates_are_in_place_so_layers_see_them(backend):
    W = backend.asarray(np.ones((2, 2)))
    layer = xpnet.layers.Affine(W, backend.asarray(np.zeros(2)))
    SGD(lr=0.5).update(layer.params, [backend.asarray(np.ones((2, 2))), backend.asarray(np.ones(2))])
    assert xpnet.asnumpy(layer.W).tolist() == [[0.5, 0.5], [0.5, 0.5]]


def test_book_defaults():
    assert SGD().lr == 0.01 and Momentum().momentum == 0.9 and Nesterov().lr == 0.01
    assert AdaGrad().lr == 0.01 and RMSprop().decay_rate == 0.99
    a = Adam()
    assert (a.lr, a.beta1, a.beta2) == (0.001, 0.9, 0.999)


@pytest.mark.parametrize("lr", [0, -0.1])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="learning rate must be positive"):
        SGD(lr=lr)


def test_one_loop_with_hooks(backend):
    """Weight decay and clipping are hooks of the one Optimizer loop, for any optimizer."""
    from xpnet.optimizers import OPTIMIZERS, ClipGrads, Optimizer, WeightDecay

    w0 = np.array([[1.0, -2.0], [0.5, 3.0]])
    g0 = np.array([[3.0, 0.0], [0.0, 4.0]])  # norm 5
    for name, cls in OPTIMIZERS.items():
        assert issubclass(cls, Optimizer), name
        opt = cls(lr=0.1)
        opt.add_hook(WeightDecay(0.5))
        opt.add_hook(ClipGrads(1.0))
        params, grads = [backend.asarray(w0.copy())], [backend.asarray(g0.copy())]
        opt.update(params, grads)
        expected = (g0 + 0.5 * w0) / (np.linalg.norm(g0 + 0.5 * w0) + 1e-6)  # the book: max_norm / (norm + 1e-6)
        assert_close(grads[0], expected, rtol=backend.rtol, atol=backend.atol)
        ref = cls(lr=0.1)
        ref_params = [backend.asarray(w0.copy())]
        ref.update(ref_params, [backend.asarray(expected.copy())])
        assert_close(params[0], ref_params[0], rtol=backend.rtol, atol=backend.atol)


def test_cupy_wheel_follows_the_driver():
    pytest.importorskip("nox", reason="noxfile.py needs nox (the nox sessions do not install it into their venvs)")
    import noxfile

    assert noxfile.cupy_wheel(13) == "cupy-cuda13x"
    assert noxfile.cupy_wheel(12) == "cupy-cuda12x"
    assert noxfile.cupy_wheel(None) == "cupy-cuda12x"


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_python_numbers_as_parameters(name):
    """Book 1's ch06/optimizer_compare_naive.py: ``params['x'] = -7.0``, gradients Python floats; the book's
    optimizers rebind the dict's entries, so the numbers move."""
    expected = reference(name, np.array([-7.0, 2.0]), np.array([-0.7, 4.0]), 3)
    params, opt = {"x": -7.0, "y": 2.0}, OPTIMIZERS[name]()
    for _ in range(3):
        opt.update(params, {"x": -0.7, "y": 4.0})
    assert all(type(params[k]) is float for k in params)
    assert_close(np.array([params["x"], params["y"]]), expected, rtol=1e-12)


def test_the_update_uses_the_gradients_it_is_given(backend):
    """A network's flat store is checked against the arrays passed: the update follows the gradients given, whether
    they are the store's views (one pass), a layer's slot rebound since (its array is not what was passed), or new
    arrays (one parameter at a time)."""
    net = xpnet.TwoLayerNet(4, 3, 2, dtype=backend.dtype, rng=0)
    x = backend.asarray(np.random.default_rng(1).random((5, 4)))
    t = backend.asarray(np.eye(2)[[0, 1, 1, 0, 1]])
    opt = SGD(lr=0.5)
    for case in ("views", "rebound slot", "new arrays", "reordered, slot rebound", "an extra key, slot rebound"):
        grads = net.gradient(x, t)
        given = {k: xpnet.asnumpy(g).copy() for k, g in grads.items()}
        before = {k: xpnet.asnumpy(p).copy() for k, p in net.params.items()}
        if "rebound" in case:
            layer, i = net.params.owner("W1")
            layer.grads[i] = backend.asarray(np.full(tuple(layer.grads[i].shape), 100.0))
        if case == "new arrays":
            grads = {k: backend.asarray(v.copy()) for k, v in given.items()}
        elif case.startswith("reordered"):  # the one-pass check reads a dict in its order: the long way orders it
            grads = dict(reversed(list(grads.items())))
        elif case.startswith("an extra key"):
            grads = dict(grads, extra=grads["b1"])
        opt.update(net.params, grads)
        for k in before:
            assert_close(net.params[k], before[k] - 0.5 * given[k], rtol=backend.rtol, atol=backend.atol)


def test_a_misnamed_gradient_is_refused_even_when_its_array_is_right():
    net = xpnet.TwoLayerNet(4, 3, 2, rng=0)
    grads = net.gradient(np.random.default_rng(1).random((5, 4)), np.array([0, 1, 1, 0, 1]))
    grads["bias2"] = grads.pop("b2")  # the same arrays, in the same order, one name wrong
    with pytest.raises(KeyError, match="b2"):
        SGD(lr=0.5).update(net.params, grads)
