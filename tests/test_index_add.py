"""``xpnet.backend.index_add`` (scatter-add) and the ``Embedding`` layer, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, assert_on

import xpnet
from xpnet.backend import index_add
from xpnet.layers import Embedding


def reference(V, idx, src):
    out = np.zeros((V, *src.shape[1:]))
    np.add.at(out, idx, src)
    return out


def ids(backend, idx):
    return xpnet.asarray(np.asarray(idx, dtype=np.int64))


@pytest.mark.parametrize(
    "idx",
    [
        [3, 1, 3, 3, 0, 1],  # repetition
        [2] * 50,  # one id, far more often than the rounds of fancy additions
        list(range(7)),  # all distinct
        np.random.default_rng(1).integers(0, 7, 200).tolist(),  # heavy repetition, random order
    ],
    ids=["repeats", "one-id", "distinct", "random"],
)
@pytest.mark.parametrize("width", [None, 4])
def test_index_add_matches_np_add_at(backend, idx, width):
    r = np.random.default_rng(0)
    shape = (len(idx),) if width is None else (len(idx), width)
    src = r.standard_normal(shape)
    start = r.standard_normal((7, *shape[1:]))
    dst = backend.asarray(start.copy())  # numpy would share memory with start
    out = index_add(dst, ids(backend, idx), backend.asarray(src))
    assert out is dst
    assert_on(backend, dst)
    assert_close(dst, start + reference(7, idx, src), rtol=backend.rtol * 10, atol=backend.atol * 10)


def test_index_add_empty_index_changes_nothing(backend):
    dst = backend.asarray(np.ones((5, 3)))
    index_add(dst, ids(backend, []), backend.asarray(np.zeros((0, 3))))
    assert_close(dst, np.ones((5, 3)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_index_add_keeps_the_dtype(backend, dtype):
    dst = backend.asarray(np.zeros((4, 2)), dtype)
    index_add(dst, ids(backend, [1, 1, 3]), backend.asarray(np.ones((3, 2)), dtype))
    assert xpnet.backend.dtype_name(dst) == dtype
    assert_close(dst, [[0, 0], [2, 2], [0, 0], [1, 1]])


def test_index_add_numpy_negative_ids_wrap_like_add_at():
    dst = np.zeros((4, 2))
    index_add(dst, np.array([-1, 3, 0, -4]), np.ones((4, 2)))
    assert_close(dst, reference(4, [-1, 3, 0, -4], np.ones((4, 2))))


def test_index_add_standard_fallback_chunks(monkeypatch):
    """The one-hot path, forced into several blocks, still adds up every repeat."""
    import array_api_strict as xps

    monkeypatch.setattr(xpnet.backend.Kernels, "index_add_block", 14)  # 2 ids per block at V=7
    idx = [3, 1, 3, 3, 0, 1, 6]
    src = np.arange(14.0).reshape(7, 2)
    dst = xps.zeros((7, 2), dtype=xps.float64)
    index_add(dst, xps.asarray(idx), xps.asarray(src))
    assert_close(dst, reference(7, idx, src))


def test_embedding_forward_gathers_rows(backend):
    W = np.arange(12.0).reshape(4, 3)
    layer = Embedding(backend.asarray(W))
    out = layer.forward(ids(backend, [[0, 3], [3, 1]]))
    assert tuple(out.shape) == (2, 2, 3)
    assert_close(out, W[[[0, 3], [3, 1]]])


def test_embedding_gradient(backend64):
    W = backend64.asarray(np.random.default_rng(0).standard_normal((6, 3)))
    layer = Embedding(W)
    idx = ids(backend64, [[0, 5, 5], [2, 0, 5]])
    # the ids have no gradient: check W's through the layer's params only
    out = layer.forward(idx)
    dout = backend64.asarray(np.random.default_rng(3).standard_normal(tuple(out.shape)))
    assert layer.backward(dout) is None
    f = lambda _: backend64.xp.sum(layer.forward(idx) * dout)  # noqa: E731
    assert_close(layer.grads[0], xpnet.numerical_gradient(f, W), rtol=1e-6, atol=1e-8)


def test_embedding_refuses_float_ids(backend):
    layer = Embedding(backend.asarray(np.ones((3, 2))))
    with pytest.raises(TypeError, match="integers"):
        layer.forward(backend.asarray([0.0, 1.0]))


@pytest.mark.parametrize("width", [None, 3])
def test_index_add_integers_on_the_standard_alone(width):
    """Integer counts take sorted running sums on the standard (exact, no ``M x V`` one-hot)."""
    import array_api_strict as xps

    r = np.random.default_rng(2)
    idx = r.integers(0, 9, 300)
    shape = (300,) if width is None else (300, width)
    src = r.integers(-5, 5, shape)
    start = r.integers(0, 3, (9, *shape[1:]))
    for dtype in (xps.int32, xps.int64):
        dst = xps.asarray(start, dtype=dtype, device=xps.Device("device1"), copy=True)
        index_add(dst, xps.asarray(idx, device=dst.device), xps.asarray(src, dtype=dtype, device=dst.device))
        assert dst.dtype == dtype and dst.device == xps.Device("device1")
        np.testing.assert_array_equal(xpnet.asnumpy(dst), start + reference(9, idx, src))
