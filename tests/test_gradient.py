import numpy as np
import pytest
from helpers import assert_close, assert_on

import xpnet
from xpnet import numerical_diff, numerical_gradient


def function_2(x):
    return x[0] ** 2 + x[1] ** 2


def test_numerical_diff_seed_values():
    assert numerical_diff(lambda x0: x0 * x0 + 4.0**2.0, 3.0) == pytest.approx(6.00000000000378, abs=1e-12)
    assert numerical_diff(lambda x1: 3.0**2.0 + x1 * x1, 4.0) == pytest.approx(7.999999999999119, abs=1e-12)


def test_numerical_gradient_book_points(backend64):
    for point, expected in [((3.0, 4.0), (6.0, 8.0)), ((0.0, 2.0), (0.0, 4.0)), ((3.0, 0.0), (6.0, 0.0))]:
        g = numerical_gradient(function_2, backend64.asarray(point))
        assert_on(backend64, g)
        assert_close(g, expected, rtol=1e-9, atol=1e-9)


def test_numerical_gradient_seed_000(backend64):
    """f = 1 + 2 x1 + x0 x1 x2 + x2^3 at (0, 1, 2): (2, 2, 12.00000001)."""
    g = numerical_gradient(lambda x: 1 + 2 * x[1] + x[0] * x[1] * x[2] + x[2] ** 3, backend64.asarray([0.0, 1.0, 2.0]))
    assert_close(g, [2.0, 2.0, 12.00000001], rtol=1e-9)


def test_numerical_gradient_any_shape_restores_in_place(backend64):
    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((2, 3, 2))
    W = backend64.asarray(W0)
    seen = []

    def f(_):  # reads W through the closure, like the book's lambda W: net.loss(x, t)
        seen.append(float(backend64.xp.sum(W)))
        return backend64.xp.sum(W**3)

    g = numerical_gradient(f, W)
    assert_close(g, 3 * W0**2, rtol=1e-7, atol=1e-7)
    np.testing.assert_array_equal(xpnet.asnumpy(W), W0)  # restored exactly
    assert max(seen) > W0.sum() and min(seen) < W0.sum()  # it really perturbed W in place


def test_numerical_gradient_restores_when_f_raises(backend64):
    W = backend64.asarray([1.0, 2.0])

    def f(_):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        numerical_gradient(f, W)
    assert xpnet.asnumpy(W).tolist() == [1.0, 2.0]


def test_numerical_gradient_rejects_integers(backend):
    with pytest.raises(TypeError, match="floating-point.*int64"):
        numerical_gradient(function_2, xpnet.asarray([3, 4]))


def test_numerical_gradient_warns_on_float32():
    x = xpnet.asarray([3.0, 4.0], dtype="float32")
    with pytest.warns(UserWarning, match="float32"):
        numerical_gradient(function_2, x)


def test_gradient_descent_book_values(backend64):
    x = xpnet.gradient_descent(function_2, backend64.asarray([-3.0, 4.0]), lr=0.1, step_num=100)
    assert_close(x, [-6.11110793e-10, 8.14814391e-10], rtol=1e-8)
    x = xpnet.gradient_descent(function_2, backend64.asarray([-3.0, 4.0]), lr=10.0, step_num=100)
    assert_close(x, [-2.58983747e13, -1.29524862e12], rtol=1e-8)  # blows up like the book's
    x = xpnet.gradient_descent(function_2, backend64.asarray([-3.0, 4.0]), lr=1e-10, step_num=100)
    assert_close(x, [-2.99999994, 3.99999992], rtol=1e-8)


def test_gradient_descent_history(backend64):
    init = backend64.asarray([-3.0, 4.0])
    x, hist = xpnet.gradient_descent(function_2, init, lr=0.1, step_num=20, return_history=True)
    h = xpnet.asnumpy(hist)
    assert h.shape == (20, 2)
    assert h[0].tolist() == [-3.0, 4.0]
    assert np.all(np.abs(h[1:, 0]) < np.abs(h[:-1, 0]))
    assert x is init  # updated in place, as in the book


def test_numerical_gradient_2d_is_the_gradient_at_each_row(backend64):
    """Book 1's common/gradient.py numerical_gradient_2d: f takes one point; X holds one point per row."""
    X = backend64.asarray([[3.0, 4.0], [0.0, 2.0], [3.0, 0.0]])
    g = xpnet.gradient.numerical_gradient_2d(function_2, X)
    assert_close(g, [[6.0, 8.0], [0.0, 4.0], [6.0, 0.0]], rtol=1e-7, atol=1e-7)
    assert_close(X, [[3.0, 4.0], [0.0, 2.0], [3.0, 0.0]])  # untouched
    assert_close(xpnet.gradient.numerical_gradient_2d(function_2, X[0, ...]), [6.0, 8.0], rtol=1e-7)
    assert_on(backend64, g)
