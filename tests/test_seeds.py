"""The seed notebooks' own code, with only the imports changed to xpnet."""

import numpy as np
from helpers import assert_on

import xpnet
from xpnet.datasets import load_spiral
from xpnet.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss
from xpnet.optimizers import SGD


class Book2TwoLayerNet:
    """Book 2, ch1/two_layer_net.py as seed 001 writes it: layers collected, params/grads lists concatenated once."""

    def __init__(self, input_size, hidden_size, output_size, dtype):
        I, H, O = input_size, hidden_size, output_size
        W1 = 0.01 * xpnet.backend.randn((I, H), dtype=dtype)
        b1 = xpnet.backend.zeros(H, dtype=dtype)
        W2 = 0.01 * xpnet.backend.randn((H, O), dtype=dtype)
        b2 = xpnet.backend.zeros(O, dtype=dtype)
        self.layers = [Affine(W1, b1), Sigmoid(), Affine(W2, b2)]
        self.loss_layer = SoftmaxWithLoss()
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def forward(self, x, t):
        return self.loss_layer.forward(self.predict(x), t)

    def backward(self, dout=1):
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


def test_book2_spiral_training_loop(backend):
    """Seed 001 / book 2 ch1/train_custom_loop.py: the grads lists collected once stay live."""
    xpnet.seed(1)
    x, t = load_spiral()
    x = xpnet.asarray(x, dtype=backend.dtype)
    t = xpnet.asarray(t, dtype=backend.dtype)
    model = Book2TwoLayerNet(2, 10, 3, backend.dtype)
    optimizer = SGD(lr=1.0)
    xp = xpnet.get_namespace(x)
    rng = np.random.default_rng(0)
    first = last = None
    for _epoch in range(150):
        idx = xpnet.asarray(rng.permutation(300))
        xs, ts = xp.take(x, idx, axis=0), xp.take(t, idx, axis=0)
        total = 0.0
        for i in range(10):
            loss = model.forward(xs[i * 30 : (i + 1) * 30, ...], ts[i * 30 : (i + 1) * 30, ...])
            model.backward()
            optimizer.update(model.params, model.grads)
            total += float(loss)
        first = total / 10 if first is None else first
        last = total / 10
    assert first > 1.0 and last < 0.6  # the book's curve: from ~1.1 down below ~0.6 by epoch 150
    assert_on(backend, model.params[0])


def test_book1_seed_network_with_xpnet_layers(backend):
    """Seed 004 defines its own TwoLayerNet from `common.layers`; with xpnet.layers it trains unchanged."""
    from collections import OrderedDict

    class TwoLayerNet:
        def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
            self.params = {
                "W1": weight_init_std * xpnet.backend.randn((input_size, hidden_size), dtype=backend.dtype),
                "b1": xpnet.backend.zeros(hidden_size, dtype=backend.dtype),
                "W2": weight_init_std * xpnet.backend.randn((hidden_size, output_size), dtype=backend.dtype),
                "b2": xpnet.backend.zeros(output_size, dtype=backend.dtype),
            }
            self.layers = OrderedDict()
            self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
            self.layers["Relu1"] = Relu()
            self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
            self.lastLayer = SoftmaxWithLoss()

        def loss(self, x, t):
            for layer in self.layers.values():
                x = layer.forward(x)
            return self.lastLayer.forward(x, t)

        def gradient(self, x, t):
            self.loss(x, t)
            dout = self.lastLayer.backward(1)
            for layer in reversed(list(self.layers.values())):
                dout = layer.backward(dout)
            return {
                "W1": self.layers["Affine1"].dW,
                "b1": self.layers["Affine1"].db,
                "W2": self.layers["Affine2"].dW,
                "b2": self.layers["Affine2"].db,
            }

    xpnet.seed(0)
    r = np.random.default_rng(0)
    centers = r.standard_normal((3, 8)) * 3
    labels = r.integers(0, 3, 200)
    x = backend.asarray(centers[labels] + r.standard_normal((200, 8)))
    t = backend.asarray(np.eye(3)[labels])
    network = TwoLayerNet(8, 10, 3, weight_init_std=0.1)
    before = float(network.loss(x, t))
    for _ in range(100):
        grad = network.gradient(x, t)
        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= 0.1 * grad[key]  # in place: the layers hold the same arrays
    assert float(network.loss(x, t)) < 0.5 * before
