import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import assert_on

import xpnet
from xpnet.backend import BackendMismatchError, BackendUnavailableError, backend_name


def test_unknown_backend_lists_choices():
    with pytest.raises(ValueError, match="numpy, cupy, torch, array_api_strict"):
        xpnet.set_backend("tensorflow")


def test_unusable_backend_names_cause_and_install_command():
    if "cupy" in xpnet.available_backends():
        pytest.skip("CuPy works here")
    with pytest.raises(BackendUnavailableError, match=r"cupy.*pip install"):
        xpnet.set_backend("cupy")
    assert xpnet.get_backend() == "numpy"  # a failed switch changes nothing


def test_use_backend_restores(backend):
    with xpnet.use_backend("numpy"):
        assert xpnet.get_backend() == "numpy"
    assert xpnet.get_backend() == backend.name


def test_new_arrays_follow_backend(backend):
    a = xpnet.asarray([1.0, 2.0], dtype="float64")
    assert_on(backend, a)
    assert xpnet.asnumpy(a).tolist() == [1.0, 2.0]
    net = xpnet.TwoLayerNet(3, 2, 2)
    for p in net.params.values():
        assert_on(backend, p)
        assert "float32" in str(p.dtype)


def test_seed_gives_identical_weights_on_every_backend(backend):
    xpnet.seed(42)
    w = xpnet.asnumpy(xpnet.TwoLayerNet(4, 3, 2).params["W1"])
    with xpnet.use_backend("numpy"):
        xpnet.seed(42)
        ref = xpnet.asnumpy(xpnet.TwoLayerNet(4, 3, 2).params["W1"])
    np.testing.assert_array_equal(w, ref)


def test_arrays_keep_working_after_a_switch(backend):
    x = xpnet.asarray([[1.0, -2.0]], dtype="float64")
    net = xpnet.TwoLayerNet(2, 3, 2, dtype="float64")
    with xpnet.use_backend("numpy"):
        y = net.predict(x)  # computation follows the inputs, not the active backend
    assert_on(backend, y)


def test_mixed_backends_name_both(backend):
    if backend.name == "numpy":
        pytest.skip("needs a second backend")
    a = xpnet.asarray([[1.0, 2.0]])
    with xpnet.use_backend("numpy"):
        W = xpnet.asarray([[1.0], [2.0]])
    layer = xpnet.layers.Affine(W, xpnet.asarray([0.0]))
    with pytest.raises(BackendMismatchError, match=rf"(numpy and {backend.name}|{backend.name} and numpy)"):
        layer.forward(a)


def test_to_backend_and_asnumpy_round_trip(backend):
    with xpnet.use_backend("numpy"):
        a = xpnet.asarray(np.arange(6.0).reshape(2, 3))
    b = xpnet.to_backend(a)
    assert backend_name(b) == backend.name
    np.testing.assert_array_equal(xpnet.asnumpy(b), np.arange(6.0).reshape(2, 3))
    assert isinstance(xpnet.asnumpy(b), np.ndarray)


def test_default_dtype():
    assert xpnet.get_default_dtype() == "float32"
    xpnet.set_default_dtype("float64")
    assert "float64" in str(xpnet.TwoLayerNet(2, 2, 2).params["W1"].dtype)
    with pytest.raises(ValueError, match="float32"):
        xpnet.set_default_dtype("int8")


def test_asarray_dtype_names():
    assert xpnet.asarray([1, 2], dtype="float64").dtype == np.float64
    with pytest.raises(ValueError, match="unknown dtype"):
        xpnet.asarray([1], dtype="float13")


def test_available_backends_includes_numpy():
    assert "numpy" in xpnet.available_backends()


def test_env_var_sets_default_backend():
    code = "import xpnet; print(xpnet.get_backend())"
    env = {**os.environ, "XPNET_BACKEND": "array_api_strict"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "array_api_strict"


def test_random_like_stays_on_device(backend):
    x = backend.asarray(np.zeros((3, 4)))
    r = xpnet.backend.random_like(x)
    assert_on(backend, r)
    values = xpnet.asnumpy(r)
    assert values.shape == (3, 4) and (values >= 0).all() and (values < 1).all()


def test_one_hot(backend):
    t = xpnet.asarray([2, 0, 1])
    oh = xpnet.backend.one_hot(t, 3, xpnet.namespace().float64)
    np.testing.assert_array_equal(xpnet.asnumpy(oh), np.eye(3)[[2, 0, 1]])
