"""`from xpnet import np`: NumPy for the learner's own code, following the selected backend."""

import numpy
import pytest
from helpers import assert_close, assert_on

import xpnet
from xpnet import np


def test_numpy_backend_is_numpy_itself():
    assert np.random is numpy.random
    assert np.nditer is numpy.nditer
    assert np.zeros is numpy.zeros
    with pytest.raises(AttributeError, match="int"):
        np.int  # noqa: B018 - seed 001's np.int is gone from NumPy itself


def test_resolved_at_attribute_access():
    """The backend is looked up on each access: a set_backend after the import takes effect."""
    import xpnet.np as np2

    assert np2 is np
    with xpnet.use_backend("array_api_strict", "device1"):
        z = np.zeros(3)
        assert xpnet.backend.backend_name(z) == "array_api_strict"
        assert xpnet.backend.array_device(z) == xpnet.active_device()
    assert isinstance(np.zeros(3), numpy.ndarray)


def test_module_protocol_is_not_numpys():
    assert not hasattr(np, "__path__")  # `import xpnet.np.random` must not search NumPy's package
    assert "randn" in dir(np.random) and "zeros" in dir(np)


def test_creation_on_the_active_device_with_numpys_dtypes(backend):
    xp = backend.xp
    cases = [
        (np.zeros(3), "float64"),
        (np.ones((2, 2)), "float64"),
        (np.empty(4), "float64"),
        (np.zeros(3, dtype=int), "int64"),
        (np.zeros(3, np.float32), "float32"),
        (np.full((2,), 3), "int64"),
        (np.full((2,), 0.5), "float64"),
        (np.full((2,), True), "bool"),
        (np.arange(3), "int64"),
        (np.arange(0, 1, 0.25), "float64"),
        (np.linspace(0, 1, 5), "float64"),
        (np.eye(3), "float64"),
        (np.array([0.0, 1.0, 2.0]), "float64"),
        (np.array([0, 0, 1]), "int64"),
        (np.asarray(2.5), "float64"),
        (np.random.randn(2, 3), "float64"),
        (np.random.rand(2), "float64"),
        (np.random.choice(10, 4), "int64"),
    ]
    for a, dtype in cases:
        if backend.name != "cupy":  # CuPy is NumPy's work-alike: same rules, own device
            assert_on(backend, a)
        assert xpnet.backend.dtype_name(a) == dtype, (a, dtype)
    assert xp.isdtype(np.zeros_like(np.zeros(2, dtype="float32")).dtype, "real floating")


@pytest.mark.parametrize("draw", ["randn", "rand", "choice", "permutation", "randint", "normal", "uniform"])
def test_random_follows_numpys_global_seed(backend, draw):
    """np.random.seed(n) then a draw gives NumPy's numbers on numpy, torch and array_api_strict."""
    if backend.name == "cupy":
        pytest.skip("cupy.random is CuPy's own generator")
    args = {
        "randn": (2, 3),
        "rand": (4,),
        "choice": (10, 5),
        "permutation": (6,),
        "randint": (0, 9, 5),
        "normal": (1.0, 2.0, 3),
        "uniform": (0.0, 1.0, 3),
    }[draw]
    numpy.random.seed(1211)
    expected = getattr(numpy.random, draw)(*args)
    np.random.seed(1211)
    got = getattr(np.random, draw)(*args)
    assert_on(backend, got)
    numpy.testing.assert_array_equal(xpnet.asnumpy(got), expected)


def test_random_permutation_of_an_array_stays_on_its_device(backend):
    x = np.arange(12).reshape(6, 2) if backend.name in ("numpy", "cupy") else np.reshape(np.arange(12), (6, 2))
    p = xpnet.asnumpy(np.random.permutation(x))
    assert sorted(p[:, 0].tolist()) == [0, 2, 4, 6, 8, 10]
    numpy.testing.assert_array_equal(p[:, 1], p[:, 0] + 1)


@pytest.mark.parametrize(
    "sa, sb", [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((2, 2, 3), (4, 3, 5))]
)
def test_dot_follows_numpys_rules(backend, sa, sb):
    r = numpy.random.default_rng(0)
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    got = np.dot(np.asarray(a), np.asarray(b))
    assert_close(got, numpy.dot(a, b), rtol=1e-12)


def test_counting_with_booleans_like_numpy(backend):
    y = np.asarray([1, 2, 3, 1])
    t = np.asarray([1, 0, 3, 1])
    assert int(np.sum(y == t)) == 3
    assert float(np.mean(y == t)) == 0.75
    assert float(np.sum(y == t) / float(y.shape[0])) == 0.75  # the seeds' accuracy line


def test_what_the_standard_lacks_says_so(backend):
    if backend.name in ("numpy", "cupy"):
        pytest.skip("NumPy and CuPy have nditer")
    with pytest.raises(AttributeError, match=rf"on the {backend.name} backend is the Array API standard.*'nditer'"):
        np.nditer  # noqa: B018


def test_mixing_on_purpose_fails_with_the_clear_error(backend):
    if backend.name == "numpy":
        pytest.skip("nothing to mix")
    host = numpy.ones((2, 2))
    with pytest.raises(TypeError):  # xpnet's BackendMismatchError, or CuPy's own refusal
        np.dot(host, np.ones((2, 2)))
    layer = xpnet.layers.Affine(np.ones((2, 3)), np.zeros(3))
    with pytest.raises(xpnet.BackendMismatchError, match="backends were mixed:.*numpy"):
        layer.forward(host)
    moved = np.asarray(host)  # the explicit way over
    assert_on(backend, moved)
    assert_on(backend, layer.forward(moved))


def test_batch_mask_meets_xpnet_network(backend):
    """The seeds' loop: a batch mask from np.random.choice picks rows of data on the device for
    xpnet.TwoLayerNet. array_api_strict allows an integer-array index only on every axis at once, so
    there x_train[batch_mask] of a 2-D array is refused and np.take (any backend) does it."""
    r = numpy.random.default_rng(0)
    x_train = xpnet.asarray(r.standard_normal((50, 6)), dtype=backend.dtype)
    t_train = xpnet.asarray(numpy.eye(3)[r.integers(0, 3, 50)], dtype=backend.dtype)
    network = xpnet.TwoLayerNet(input_size=6, hidden_size=5, output_size=3, dtype=backend.dtype)
    np.random.seed(0)
    batch_mask = np.random.choice(x_train.shape[0], 10)
    if backend.name == "array_api_strict":
        with pytest.raises(IndexError):
            x_train[batch_mask]  # noqa: B018
        x_batch, t_batch = np.take(x_train, batch_mask, axis=0), np.take(t_train, batch_mask, axis=0)
    else:
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
    assert_close(x_batch, xpnet.asnumpy(x_train)[xpnet.asnumpy(batch_mask)])
    grad = network.gradient(x_batch, t_batch)
    for key in ("W1", "b1", "W2", "b2"):
        network.params[key] -= 0.1 * grad[key]
    assert_on(backend, network.params["W1"])
    labels = np.argmax(t_train, axis=1)
    assert_close(np.take(labels, batch_mask), xpnet.asnumpy(labels)[xpnet.asnumpy(batch_mask)])
    assert 0.0 <= network.accuracy(x_train, t_train) <= 1.0


@pytest.mark.parametrize("name", ["median", "logspace", "nditer", "frombuffer", "histogram"])
def test_torch_s_own_functions_do_not_stand_in_for_numpys(backend, name):
    """torch has a ``median`` (the lower middle: 2 for [1, 2, 3, 4], NumPy 2.5) and a ``logspace`` with other
    arguments; on torch and array_api_strict only the standard's names (and xpnet's extras) are handed out."""
    if backend.name in ("numpy", "cupy"):
        assert callable(getattr(np, name))
        return
    with pytest.raises(AttributeError, match=rf"Array API standard.*no '{name}'"):
        getattr(np, name)
    assert name not in dir(np)


@pytest.mark.parametrize(
    "dtype, name",
    [("i", "int32"), ("f", "float32"), ("d", "float64"), ("float32", "float32"), ("int64", "int64"),
     (numpy.float32, "float32"), (numpy.dtype("int32"), "int32"), (int, "int64"), (float, "float64"),
     (bool, "bool")],
)  # fmt: skip
def test_numpys_dtype_codes_and_names(backend, dtype, name):
    """Book 2 writes ``np.empty((N, T, H), dtype='f')`` and ``.astype('i')``."""
    for a in (np.zeros(3, dtype=dtype), np.empty((2, 3), dtype=dtype), np.asarray([1, 0, 1], dtype=dtype)):
        assert xpnet.backend.dtype_name(a) == name
        if backend.name != "cupy":
            assert_on(backend, a)
    own = xpnet.active_namespace().float32  # the library's own dtype
    assert xpnet.backend.dtype_name(np.zeros(2, dtype=own)) == "float32"


def test_python_scalars_and_lists_like_numpy(backend):
    """Every book-2 model's ``__init__`` divides by ``np.sqrt(D)`` with an int ``D``."""
    cases = [
        (np.sqrt(100), 10.0, "float64"),
        (np.sqrt(2.25), 1.5, "float64"),
        (np.exp(0), 1.0, "float64"),
        (np.log([1.0, numpy.e]), [0.0, 1.0], "float64"),
        (np.abs(-3), 3, "int64"),
        (np.maximum([1, 5], [4, 2]), [4, 5], "int64"),
        (np.tanh(0.0), 0.0, "float64"),
    ]
    for got, value, dtype in cases:
        assert xpnet.backend.dtype_name(got if xpnet.backend.is_array(got) else numpy.asarray(got)) == dtype
        assert_close(got, numpy.asarray(value, dtype=dtype))
    x = np.asarray([1.0, 4.0])
    assert_close(np.sqrt(x), [1.0, 2.0])
    assert_close(np.maximum(x, 2.0), [2.0, 4.0])  # an array and a scalar: the standard's own rule
    W = np.random.randn(4, 3) / np.sqrt(4)
    assert tuple(W.shape) == (4, 3)
