import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xpnet
from xpnet.util import col2im, conv_output_size, im2col


def test_conv_output_size_is_int_and_checked():
    assert conv_output_size(28, 5) == 24 and isinstance(conv_output_size(28, 5), int)
    assert conv_output_size(7, 3, stride=2, pad=1) == 4
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(2, 5)
    with pytest.raises(ValueError, match="stride"):
        conv_output_size(5, 3, stride=0)


def test_im2col_shape_and_layout(backend):
    x = backend.asarray(np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5))
    col = im2col(x, 2, 3, stride=1, pad=0)
    assert tuple(col.shape) == (2 * 3 * 3, 3 * 2 * 3)
    first = xpnet.asnumpy(x)[0, :, 0:2, 0:3].reshape(-1)
    np.testing.assert_array_equal(xpnet.asnumpy(col)[0], first)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    fh=st.integers(1, 4),
    fw=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    seed=st.integers(0, 1000),
)
def test_col2im_is_the_adjoint_of_im2col(n, c, h, w, fh, fw, stride, pad, seed):
    """<im2col(x), y> == <x, col2im(y)> for odd sizes, strides and padding."""
    if h + 2 * pad < fh or w + 2 * pad < fw:
        return
    r = np.random.default_rng(seed)
    x = xpnet.asarray(r.standard_normal((n, c, h, w)), dtype="float64")
    col = im2col(x, fh, fw, stride, pad)
    y = xpnet.asarray(r.standard_normal(tuple(col.shape)), dtype="float64")
    lhs = float(np.sum(xpnet.asnumpy(col) * xpnet.asnumpy(y)))
    rhs = float(np.sum(xpnet.asnumpy(x) * xpnet.asnumpy(col2im(y, (n, c, h, w), fh, fw, stride, pad))))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


def test_adjoint_on_every_backend(backend64):
    r = np.random.default_rng(1)
    x = backend64.asarray(r.standard_normal((2, 2, 5, 6)))
    col = im2col(x, 3, 2, 2, 1)
    y = backend64.asarray(r.standard_normal(tuple(col.shape)))
    back = col2im(y, (2, 2, 5, 6), 3, 2, 2, 1)
    assert xpnet.backend.array_device(back) == xpnet.active_device()
    lhs = np.sum(xpnet.asnumpy(col) * xpnet.asnumpy(y))
    assert lhs == pytest.approx(np.sum(xpnet.asnumpy(x) * xpnet.asnumpy(back)), rel=1e-10)


def test_im2col_says_how_much_memory_it_needs(monkeypatch):
    monkeypatch.setattr(xpnet.util, "IM2COL_LIMIT_BYTES", 1 << 20)
    x = xpnet.asarray(np.zeros((100, 1, 28, 28)), dtype="float32")
    assert tuple(im2col(x[:2, ...], 5, 5).shape) == (2 * 576, 25)
    with pytest.raises(MemoryError, match=r"\(100, 1, 28, 28\) with 5x5 filters needs 5 MiB.*smaller batches"):
        im2col(x, 5, 5)


@pytest.mark.parametrize("dtype", ["uint8", "int64", "bool"])
def test_im2col_of_integer_images_gives_floats(backend, dtype):
    """Raw pixels (uint8) used to raise from finfo; the book's im2col returns floats for them."""
    raw = np.arange(2 * 1 * 4 * 4).reshape(2, 1, 4, 4) % 7
    x = xpnet.asarray(raw.astype(dtype))
    col = im2col(x, 3, 3, stride=1, pad=1)
    assert xpnet.backend.dtype_name(col) == xpnet.get_default_dtype()
    expected = im2col(xpnet.asarray(raw.astype(dtype).astype(xpnet.get_default_dtype())), 3, 3, stride=1, pad=1)
    np.testing.assert_array_equal(xpnet.asnumpy(col), xpnet.asnumpy(expected))


def test_smooth_curve_matches_the_books_padding():
    r = np.random.default_rng(0)
    x = r.random(40)
    window = np.kaiser(11, 2) / np.kaiser(11, 2).sum()
    s = np.concatenate([x[10:0:-1], x, x[-1:-11:-1]])  # book 1 common/util.py's mirror
    expected = np.convolve(window, s, mode="valid")[5:-5]
    out = xpnet.util.smooth_curve(list(x))
    assert out.shape == (40,)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert xpnet.util.smooth_curve([1.0, 2.0]).tolist() == [1.0, 2.0]  # too short to smooth


def test_shuffle_dataset_keeps_pairs(backend):
    x = backend.asarray(np.arange(12.0).reshape(6, 2))
    t = xpnet.asarray(np.arange(6))
    xs, ts = xpnet.util.shuffle_dataset(x, t, rng=1)
    xs, ts = xpnet.asnumpy(xs), xpnet.asnumpy(ts)
    assert sorted(ts.tolist()) == list(range(6)) and ts.tolist() != list(range(6))
    np.testing.assert_array_equal(xs[:, 0], 2 * ts)
    with pytest.raises(ValueError, match=r"same length.*\(6, 2\) and \(5,\)"):
        xpnet.util.shuffle_dataset(x, t[:5])
