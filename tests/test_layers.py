import numpy as np
import pytest
from helpers import assert_close, assert_on, layer_gradient_check
from hypothesis import given, settings
from hypothesis import strategies as st

import xpnet
from xpnet import layers as L

rng = np.random.default_rng(0)


def randn(case, *shape):
    return case.asarray(rng.standard_normal(shape))


def test_mul_add_layers_book_apples(backend):
    """Book 1, 5.4: two apples at 100 each, tax 1.1 -> 220; gradients 2.2, 110, 200."""
    mul_apple, mul_tax = L.MulLayer(), L.MulLayer()
    price = mul_tax.forward(mul_apple.forward(100.0, 2.0), 1.1)
    assert price == pytest.approx(220.0)
    dprice, dtax = mul_tax.backward(1.0)
    dapple, dnum = mul_apple.backward(dprice)
    assert (dapple, dnum, dtax) == pytest.approx((2.2, 110.0, 200.0))
    add = L.AddLayer()
    assert add.forward(1.0, 2.0) == 3.0 and add.backward(5.0) == (5.0, 5.0)


@pytest.mark.parametrize("make", [L.Relu, L.Sigmoid, L.Softmax], ids=lambda c: c.__name__)
def test_activation_layers_gradient(backend64, make):
    layer_gradient_check(make(), randn(backend64, 4, 5))


def test_relu_gradient_is_zero_at_zero(backend):
    layer = L.Relu()
    layer.forward(backend.asarray([0.0, 1.0, -1.0]))
    assert xpnet.asnumpy(layer.backward(backend.asarray([1.0, 1.0, 1.0]))).tolist() == [0.0, 1.0, 0.0]


def test_affine_gradient_and_book_attributes(backend64):
    W, b = randn(backend64, 6, 3), randn(backend64, 3)
    layer = L.Affine(W, b)
    layer_gradient_check(layer, randn(backend64, 4, 2, 3))  # N-d input is flattened, dx gets its shape back
    assert layer.W is W and layer.params[0] is W
    assert layer.dW is layer.grads[0] and tuple(layer.dW.shape) == (6, 3)
    assert tuple(layer.backward(randn(backend64, 4, 3)).shape) == (4, 2, 3)


def test_affine_wrong_feature_count_names_shapes(backend):
    layer = L.Affine(randn(backend, 784, 50), randn(backend, 50))
    with pytest.raises(ValueError, match=r"\(100, 783\).*783 features.*\(784, 50\).*784"):
        layer.forward(randn(backend, 100, 783))


def test_affine_grads_written_in_place_for_book2_models(backend64):
    layer = L.Affine(randn(backend64, 3, 2), randn(backend64, 2))
    grads = list(layer.grads)  # book 2's models collect these once: `self.grads += layer.grads`
    layer.forward(randn(backend64, 4, 3))
    layer.backward(randn(backend64, 4, 2))
    assert_close(grads[0], layer.dW)
    assert float(backend64.xp.sum(backend64.xp.abs(grads[0]))) > 0


def test_matmul_repeat_sum_nodes(backend64):
    layer_gradient_check(L.MatMul(randn(backend64, 3, 4)), randn(backend64, 5, 3))
    layer_gradient_check(L.Repeat(7), randn(backend64, 1, 8))
    layer_gradient_check(L.Sum(), randn(backend64, 7, 8))
    assert tuple(L.Repeat(7).forward(randn(backend64, 1, 8)).shape) == (7, 8)


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss_gradient(backend64, one_hot):
    labels = rng.integers(0, 4, 5)
    t = backend64.asarray(np.eye(4)[labels]) if one_hot else xpnet.asarray(labels)
    layer = L.SoftmaxWithLoss()
    x = randn(backend64, 5, 4)
    loss = layer.forward(x, t)
    dx = layer.backward(2.0)  # honours dout
    num = xpnet.numerical_gradient(lambda _: 2.0 * L.SoftmaxWithLoss().forward(x, t), x)
    assert_close(dx, num, rtol=1e-4, atol=1e-7)  # the 1e-7 inside the log differs from exact backprop
    assert_on(backend64, loss)


def test_sigmoid_with_loss_gradient(backend64):
    t = xpnet.asarray(rng.integers(0, 2, 6))
    x = randn(backend64, 6)
    layer = L.SigmoidWithLoss()
    layer.forward(x, t)
    dx = layer.backward(1.0)
    assert_close(dx, xpnet.numerical_gradient(lambda _: L.SigmoidWithLoss().forward(x, t), x), rtol=1e-4, atol=1e-7)


def test_dropout_gradient(backend64):
    layer = L.Dropout(0.4)

    def forward(x):
        xpnet.seed(7)  # the same mask on every call (numpy draws it on the host)
        return layer.forward(x, train_flg=True)

    if backend64.name in ("numpy", "array_api_strict", "torch"):
        layer_gradient_check(layer, randn(backend64, 5, 6), forward=forward)


def test_dropout(backend64):
    layer = L.Dropout(0.3)
    x = backend64.asarray(np.ones((200, 50)))
    out = xpnet.asnumpy(layer.forward(x, train_flg=True))
    kept = (out != 0).mean()
    assert 0.6 < kept < 0.8
    dx = xpnet.asnumpy(layer.backward(backend64.asarray(np.ones((200, 50)))))
    np.testing.assert_array_equal(dx, out)
    np.testing.assert_allclose(xpnet.asnumpy(layer.forward(x, train_flg=False)), 0.7)
    with pytest.raises(ValueError, match="dropout_ratio"):
        L.Dropout(1.5)


@pytest.mark.parametrize("shape", [(6, 4), (5, 2, 2, 3)])
def test_batchnorm_gradient(backend64, shape):
    D = int(np.prod(shape[1:]))
    layer = L.BatchNormalization(randn(backend64, D), randn(backend64, D))
    layer_gradient_check(layer, randn(backend64, *shape), forward=lambda x: layer.forward(x, train_flg=True))
    out = xpnet.asnumpy(
        L.BatchNormalization(backend64.asarray(np.ones(D)), backend64.asarray(np.zeros(D))).forward(
            randn(backend64, *shape)
        )
    )
    np.testing.assert_allclose(out.reshape(shape[0], -1).mean(axis=0), 0.0, atol=1e-12)
    running = xpnet.asnumpy(layer.running_mean)
    layer.forward(randn(backend64, *shape), train_flg=False)
    np.testing.assert_array_equal(xpnet.asnumpy(layer.running_mean), running)  # inference leaves them alone


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 2)])
def test_convolution_gradient(backend64, stride, pad):
    layer = L.Convolution(randn(backend64, 3, 2, 3, 2), randn(backend64, 3), stride=stride, pad=pad)
    layer_gradient_check(layer, randn(backend64, 2, 2, 7, 6))


def test_convolution_matches_direct_sum():
    x, W, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    out = xpnet.asnumpy(L.Convolution(xpnet.asarray(W), xpnet.asarray(b), stride=2, pad=1).forward(xpnet.asarray(x)))
    xp_ = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((2, 4, 3, 3))
    for i in range(3):
        for j in range(3):
            patch = xp_[:, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 2]
            ref[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, W) + b
    np.testing.assert_allclose(out, ref, rtol=1e-12)


@pytest.mark.parametrize(
    "cls, w_shape, x_shape", [(L.Convolution, (2, 1, 3, 3), (1, 1, 5, 5)), (L.Affine, (4, 3), (2, 4))]
)
def test_a_number_as_the_bias(backend, cls, w_shape, x_shape):
    """Book 1's ch07/apply_filter.py builds ``Convolution(w, b)`` with ``b = 0``."""
    r = np.random.default_rng(0)
    W, x = backend.asarray(r.standard_normal(w_shape)), backend.asarray(r.standard_normal(x_shape))
    n = w_shape[0] if cls is L.Convolution else w_shape[1]
    expected = cls(W, backend.asarray(np.full(n, 0.5))).forward(x)
    assert_close(cls(W, 0.5).forward(x), expected, rtol=backend.rtol)
    layer = cls(W, 0)
    assert_on(backend, layer.b)
    assert tuple(layer.b.shape) == (n,)


def test_convolution_bad_input_names_shapes(backend):
    layer = L.Convolution(randn(backend, 3, 2, 3, 3), randn(backend, 3))
    with pytest.raises(ValueError, match=r"\(4, 1, 8, 8\).*\(3, 2, 3, 3\)"):
        layer.forward(randn(backend, 4, 1, 8, 8))


@pytest.mark.parametrize("pool,stride,pad", [(2, 2, 0), (3, 2, 1), (2, 1, 0)])
def test_pooling_gradient_and_values(backend64, pool, stride, pad):
    layer = L.Pooling(pool, pool, stride=stride, pad=pad)
    # distinct values 0.01 apart: no two cells of a window within the numerical step (1e-4) of each other, where the
    # central difference of a max would straddle its kink (random normals did, for some test orders)
    x = backend64.asarray(np.random.default_rng(7).permutation(2 * 3 * 7 * 5).reshape(2, 3, 7, 5) * 0.01 - 1.0)
    layer_gradient_check(layer, x)
    out = xpnet.asnumpy(layer.forward(x))
    xn = np.pad(xpnet.asnumpy(x), ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    i, j = out.shape[2] - 1, out.shape[3] - 1
    expected = xn[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool].max(axis=(2, 3))
    np.testing.assert_array_equal(out[:, :, i, j], expected)


def test_pooling_ties_send_gradient_to_first_maximum(backend):
    layer = L.Pooling(2, 2)
    layer.forward(backend.asarray(np.zeros((1, 1, 2, 2))))
    dx = xpnet.asnumpy(layer.backward(backend.asarray(np.ones((1, 1, 1, 1)))))
    assert dx.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]


@pytest.mark.parametrize("pool,stride,pad", [(2, 2, 0), (3, 2, 1), (2, 1, 0), (2, 3, 0)])
def test_pooling_with_many_ties_matches_the_books_loop(backend, pool, stride, pad):
    """Values 0..2 make ties everywhere: each window's gradient goes to its first maximal cell
    (row-major, as the book's argmax over im2col rows), summed where windows overlap."""
    r = np.random.default_rng(pool * 10 + stride)
    xn = r.integers(0, 3, (2, 2, 7, 6)).astype(float)
    layer = L.Pooling(pool, pool, stride=stride, pad=pad)
    out = layer.forward(backend.asarray(xn))
    dout = r.standard_normal(out.shape)
    dx = xpnet.asnumpy(layer.backward(backend.asarray(dout)))
    padded = np.pad(xn, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    want = np.zeros_like(padded)
    arg = np.zeros(out.shape, dtype=int)
    for n, c, i, j in np.ndindex(*out.shape):
        window = padded[n, c, i * stride : i * stride + pool, j * stride : j * stride + pool]
        k = int(np.argmax(window))  # first maximum, row-major
        arg[n, c, i, j] = k
        want[n, c, i * stride + k // pool, j * stride + k % pool] += dout[n, c, i, j]
    want = want[:, :, pad : pad + xn.shape[2], pad : pad + xn.shape[3]]
    np.testing.assert_allclose(dx, want, rtol=backend.rtol, atol=backend.atol)
    np.testing.assert_array_equal(xpnet.asnumpy(layer.arg_max), arg)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 4),
    d=st.integers(1, 5),
    h=st.integers(1, 4),
    scale=st.floats(0.1, 3.0),
    seed=st.integers(0, 2**16),
)
def test_affine_relu_chain_property(n, d, h, scale, seed):
    """Random shapes and values: Affine -> Sigmoid backprop equals the numerical gradient."""
    r = np.random.default_rng(seed)
    a = xpnet.asarray(scale * r.standard_normal((d, h)), dtype="float64")
    b = xpnet.asarray(r.standard_normal(h), dtype="float64")
    x = xpnet.asarray(scale * r.standard_normal((n, d)), dtype="float64")
    affine, act = L.Affine(a, b), L.Sigmoid()

    class Chain:
        params, grads = affine.params, affine.grads

        @staticmethod
        def forward(z):
            return act.forward(affine.forward(z))

        @staticmethod
        def backward(dout):
            return affine.backward(act.backward(dout))

    layer_gradient_check(Chain, x, rtol=1e-5, atol=1e-7)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    hw=st.tuples(st.integers(3, 7), st.integers(3, 7)),
    f=st.integers(1, 3),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_convolution_property(n, c, hw, f, stride, pad, seed):
    r = np.random.default_rng(seed)
    layer = L.Convolution(
        xpnet.asarray(r.standard_normal((2, c, f, f)), dtype="float64"),
        xpnet.asarray(r.standard_normal(2), dtype="float64"),
        stride=stride,
        pad=pad,
    )
    layer_gradient_check(layer, xpnet.asarray(r.standard_normal((n, c, *hw)), dtype="float64"))


def test_first_layer_can_skip_the_input_gradient(backend64):
    for layer, x in [
        (L.Affine(randn(backend64, 6, 3), randn(backend64, 3)), randn(backend64, 4, 6)),
        (L.Convolution(randn(backend64, 2, 1, 3, 3), randn(backend64, 2)), randn(backend64, 2, 1, 5, 5)),
    ]:
        out = layer.forward(x)
        dout = backend64.asarray(np.ones(tuple(out.shape)))
        assert layer.backward(dout, input_grad=False) is None
        dW = xpnet.asnumpy(layer.dW).copy()
        assert layer.backward(dout) is not None
        np.testing.assert_array_equal(xpnet.asnumpy(layer.dW), dW)


@pytest.mark.parametrize("soft", [False, True])
def test_softmax_with_loss_non_one_hot_labels(backend64, soft):
    """Same-shaped labels that are not one-hot: forward gives the book's value (argmax) and backward its
    gradient; with soft=True both read t as soft labels. Either way backward is the gradient of forward."""
    r = np.random.default_rng(4)
    t_host = r.random((5, 4))
    if soft:
        t_host /= t_host.sum(axis=1, keepdims=True)  # (y - t) / N is exact for rows summing to 1
    t = backend64.asarray(t_host)
    x = randn(backend64, 5, 4)
    layer = L.SoftmaxWithLoss(soft=soft)
    loss = layer.forward(x, t)
    y = xpnet.asnumpy(xpnet.functions.softmax(x))
    if soft:
        expected = -np.sum(t_host * np.log(y + 1e-7)) / 5
    else:
        expected = -np.sum(np.log(y[np.arange(5), t_host.argmax(axis=1)] + 1e-7)) / 5
    assert float(loss) == pytest.approx(expected, rel=1e-10)
    dx = layer.backward(1.0)
    num = xpnet.numerical_gradient(lambda _: L.SoftmaxWithLoss(soft=soft).forward(x, t), x)
    assert_close(dx, num, rtol=1e-4, atol=1e-7)
