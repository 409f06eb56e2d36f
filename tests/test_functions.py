import numpy as np
import pytest
from helpers import assert_close, assert_on
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import xpnet
from xpnet import functions as F

T = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
Y1 = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
Y2 = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]


def test_seed_loss_values(backend):
    """Seed 003: MSE 0.0975 / 0.5975 and cross-entropy 0.5108... / 2.3025..."""
    y1, y2, t = backend.asarray(Y1), backend.asarray(Y2), backend.asarray(T, dtype=backend.dtype)
    rel = 1e-12 if backend.dtype == "float64" else 1e-6
    assert float(F.sum_squared_error(y1, t)) == pytest.approx(0.0975, rel=rel)
    assert float(F.mean_squared_error(y2, t)) == pytest.approx(0.5975, rel=rel)
    assert float(F.cross_entropy_error(y1, t)) == pytest.approx(0.510825457099338, rel=rel)
    assert float(F.cross_entropy_error(y2, t)) == pytest.approx(2.302584092994546, rel=rel)


def test_cross_entropy_label_forms_agree(backend):
    rng = np.random.default_rng(0)
    y = F.softmax(backend.asarray(rng.standard_normal((5, 4))))
    labels = rng.integers(0, 4, 5)
    a = F.cross_entropy_error(y, xpnet.asarray(labels))
    b = F.cross_entropy_error(y, backend.asarray(np.eye(4)[labels]))
    assert_close(a, b, rtol=backend.rtol)
    single = F.cross_entropy_error(y[0, ...], xpnet.asarray(labels[0]))
    assert float(single) == pytest.approx(-np.log(xpnet.asnumpy(y)[0, labels[0]] + 1e-7), rel=1e-5)


def test_a_column_of_labels_is_read_as_labels(backend):
    """Book 1's ch07/gradient_check.py gives ``T = np.array([1]).reshape((1, 1))`` for predictions ``(1, 10)``."""
    rng = np.random.default_rng(1)
    y = F.softmax(backend.asarray(rng.standard_normal((3, 4))))
    labels = rng.integers(0, 4, 3)
    column = F.cross_entropy_error(y, xpnet.asarray(labels.reshape(3, 1)))
    assert_close(column, F.cross_entropy_error(y, xpnet.asarray(labels)), rtol=backend.rtol)


def test_cross_entropy_rejects_bad_labels(backend):
    y = F.softmax(backend.asarray(np.zeros((3, 4))))
    bad = xpnet.asarray([0, 1, 4])
    if xpnet.backend.on_host(bad):
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\).*from 0 to 4"):
            F.cross_entropy_error(y, bad)
    else:  # on a device the per-call check would stall it: it is skipped, and done once on request
        F.cross_entropy_error(y, bad)
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\).*from 0 to 4"):
            F.check_labels(bad, 4, sync=True)
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3, 4\)"):
        F.cross_entropy_error(y, xpnet.asarray([0, 1]))


def test_activations(backend):
    x = backend.asarray([-2.0, 0.0, 3.0])
    assert xpnet.asnumpy(F.step_function(x)).tolist() == [0, 0, 1]
    assert xpnet.asnumpy(F.relu(x)).tolist() == [0.0, 0.0, 3.0]
    assert xpnet.asnumpy(F.relu_grad(x)).tolist() == [0.0, 0.0, 1.0]  # 0 at x = 0, like the Relu layer
    assert_close(F.sigmoid(x), 1 / (1 + np.exp([2.0, 0.0, -3.0])), rtol=backend.rtol)
    assert_close(F.sigmoid_grad(x), xpnet.asnumpy(F.sigmoid(x)) * (1 - xpnet.asnumpy(F.sigmoid(x))), rtol=backend.rtol)
    assert F.identity_function(x) is x
    assert_on(backend, F.sigmoid(x))


def test_sigmoid_does_not_overflow(backend):
    x = backend.asarray([-1000.0, 1000.0])
    assert xpnet.asnumpy(F.sigmoid(x)).tolist() == [0.0, 1.0]


def test_functions_take_python_values():
    assert xpnet.asnumpy(F.step_function(3.0)).tolist() == 1
    assert float(F.sigmoid(0.0)) == 0.5
    assert xpnet.asnumpy(F.softmax([0.0, 0.0])).tolist() == [0.5, 0.5]


def test_softmax_batch_and_shift(backend):
    x = backend.asarray([[1010.0, 1000.0, 990.0], [0.3, 2.9, 4.0]])
    y = xpnet.asnumpy(F.softmax(x))
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(y[1], np.exp([0.3, 2.9, 4.0]) / np.exp([0.3, 2.9, 4.0]).sum(), rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.floats(-50, 50)))
def test_softmax_properties(x):
    y = xpnet.asnumpy(F.softmax(xpnet.asarray(x)))
    assert np.all(y >= 0) and np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(xpnet.asnumpy(F.softmax(xpnet.asarray(x + 7.0))), y, rtol=1e-9, atol=1e-15)


def test_softmax_loss(backend):
    x = backend.asarray([[0.3, 2.9, 4.0]])
    assert_close(F.softmax_loss(x, xpnet.asarray([2])), F.cross_entropy_error(F.softmax(x), xpnet.asarray([2])))


def book_cross_entropy(y, t):
    """Book 1's common/functions.py cross_entropy_error, in NumPy (the reference of the seeds' numbers)."""
    if y.ndim == 1:
        t, y = t.reshape(1, t.size), y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    return -np.sum(np.log(y[np.arange(y.shape[0]), t] + 1e-7)) / y.shape[0]


def test_cross_entropy_of_non_one_hot_labels_follows_the_book(backend):
    """Seed 003 In [25]: t = np.random.rand(100, 10) gives the book's ~2.3 (the label is t's argmax), not 11.7."""
    r = np.random.default_rng(25)
    y_host = np.exp(r.standard_normal((100, 10)) * 0.01)
    y_host /= y_host.sum(axis=1, keepdims=True)
    t_host = r.random((100, 10))
    y, t = backend.asarray(y_host), backend.asarray(t_host)
    rel = 1e-12 if backend.dtype == "float64" else 1e-6
    book = book_cross_entropy(y_host, t_host)
    assert book == pytest.approx(2.30, abs=0.02)
    assert float(F.cross_entropy_error(y, t)) == pytest.approx(book, rel=rel)
    assert float(F.cross_entropy_error(y[0, ...], t[0, ...])) == pytest.approx(
        book_cross_entropy(y_host[0], t_host[0]), rel=rel
    )
    soft = -np.sum(t_host * np.log(y_host + 1e-7)) / 100  # the soft-label reading, by keyword
    assert soft == pytest.approx(11.5, abs=0.5)
    assert float(F.cross_entropy_error(y, t, soft=True)) == pytest.approx(soft, rel=rel)
    logits = y  # any scores will do
    assert float(F.softmax_loss(logits, t)) == pytest.approx(
        book_cross_entropy(xpnet.asnumpy(F.softmax(logits)).astype("float64"), t_host), rel=rel
    )


def test_cross_entropy_ties_take_the_first_class_like_argmax(backend):
    y = backend.asarray([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    t = backend.asarray([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])  # argmax: 0 and 0
    expected = -(np.log(0.2 + 1e-7) + np.log(0.6 + 1e-7)) / 2
    assert float(F.cross_entropy_error(y, t)) == pytest.approx(expected, rel=1e-6)
