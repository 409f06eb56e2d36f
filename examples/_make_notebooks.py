"""Writes the example notebooks (examples/*.ipynb) from the cells below, without outputs.

    python examples/_make_notebooks.py           # (re)write the notebooks
    python examples/_make_notebooks.py --check   # exit 1 when a notebook differs from what this writes

One notebook per seed notebook. In each, the first code cell picks the backend (the only line to
change to run it on a GPU) and the second says ``QUICK = False`` (the tests set it to ``True`` for a
short run). Loops show a progress bar (``tqdm.auto``: a widget in Jupyter), figures show inline.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).parent


def md(text: str) -> tuple[str, str]:
    return ("markdown", textwrap.dedent(text).strip())


def code(text: str) -> tuple[str, str]:
    return ("code", textwrap.dedent(text).strip())


SETUP = [
    code(
        """
        import xpnet

        xpnet.set_backend("numpy")  # or "cupy", "torch", "array_api_strict": the only line to change
        """
    ),
    code("QUICK = False  # True: a few iterations only (the tests run the notebooks so)"),
]

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "loss_curves.ipynb": [
        md(
            """
            # Seed 000: a numerical gradient, and the loss curves of Figure 4-11

            Chapter 4's `TwoLayerNet` (sigmoid) trained by numerical gradients, mini-batch 10 vs 100.
            The notebook this comes from gave up ("takes very long"); xpnet's bulk numerical gradient
            takes minutes for the 1,000 iterations.
            """
        ),
        *SETUP,
        code(
            """
            %matplotlib inline
            from tqdm.auto import trange

            from xpnet import np
            from xpnet.datasets import load_fashion_mnist
            """
        ),
        md(
            """
            The gradient of $f(x_0,x_1,x_2) = 1 + 2x_1 + x_0x_1x_2 + x_2^3$ at $(0, 1, 2)$:
            $(x_1x_2,\\ 2 + x_0x_2,\\ x_0x_1 + 3x_2^2) = (2, 2, 12)$.
            """
        ),
        code(
            """
            def f(x):
                return 1 + 2 * x[1] + x[0] * x[1] * x[2] + x[2] ** 3


            xpnet.numerical_gradient(f, np.array([0.0, 1.0, 2.0]))
            """
        ),
        code(
            """
            (x_train, t_train), (x_test, t_test) = load_fashion_mnist(normalize=True, one_hot_label=True)
            iters_num = 3 if QUICK else 1000
            train_size = x_train.shape[0]
            curves = {}
            for batch_size in (10, 100):
                network = xpnet.TwoLayerNet(784, 50, 10, activation="sigmoid", rng=0)
                losses = []
                for _ in trange(iters_num, desc=f"batch {batch_size}"):
                    batch_mask = np.random.choice(train_size, batch_size)
                    x_batch = np.take(x_train, batch_mask, axis=0)  # x_train[batch_mask] except on array_api_strict
                    t_batch = np.take(t_train, batch_mask, axis=0)
                    grad = network.numerical_gradient(x_batch, t_batch)
                    for key in ("W1", "b1", "W2", "b2"):
                        network.params[key] -= 0.1 * grad[key]
                    losses.append(float(network.loss(x_batch, t_batch)))
                curves[f"batch {batch_size}"] = losses
            """
        ),
        code(
            """
            xpnet.plot.loss_curve(curves, title="numerical-gradient training")
            """
        ),
    ],
    "layers_and_spiral.ipynb": [
        md(
            """
            # Seed 001: computational-graph nodes, book 2's layers, and the spiral
            """
        ),
        *SETUP,
        code(
            """
            %matplotlib inline
            from tqdm.auto import trange

            from xpnet import np
            from xpnet.datasets import load_spiral
            from xpnet.layers import Affine, Repeat, Sigmoid, SoftmaxWithLoss
            from xpnet.optimizers import SGD
            """
        ),
        md(
            """
            The Repeat node copies a row N times; its backward pass sums the N gradients.
            The Sum node is the other way round.
            """
        ),
        code(
            """
            D, N = 8, 7
            x = np.random.randn(1, D)
            repeat = Repeat(N)
            y = repeat.forward(x)
            dy = np.random.randn(N, D)
            repeat.backward(dy) - np.sum(dy, axis=0, keepdims=True)  # zeros
            """
        ),
        md(
            """
            Book 2's two-layer network on the spiral: layers with `params`/`grads` lists, SGD updates them in place.
            """
        ),
        code(
            """
            x, t = load_spiral()
            hidden = 10
            layers = [
                Affine(0.01 * np.random.randn(2, hidden), np.zeros(hidden)),
                Sigmoid(),
                Affine(0.01 * np.random.randn(hidden, 3), np.zeros(3)),
            ]
            loss_layer = SoftmaxWithLoss()
            params = [p for layer in layers for p in layer.params]
            grads = [g for layer in layers for g in layer.grads]
            optimizer = SGD(lr=1.0)
            max_epoch = 30 if QUICK else 300
            losses = []
            for _ in trange(max_epoch):
                idx = np.random.permutation(x.shape[0])
                xs, ts = np.take(x, idx, axis=0), np.take(t, idx, axis=0)
                for i in range(10):
                    h = xs[i * 30 : (i + 1) * 30, ...]
                    for layer in layers:
                        h = layer.forward(h)
                    loss = loss_layer.forward(h, ts[i * 30 : (i + 1) * 30, ...])
                    dout = loss_layer.backward()
                    for layer in reversed(layers):
                        dout = layer.backward(dout)
                    optimizer.update(params, grads)
                    losses.append(float(loss))
            xpnet.plot.loss_curve(losses, title="spiral")
            """
        ),
        md(
            """
            The same network as `xpnet.TwoLayerNet(activation="sigmoid")`, and its decision boundary:
            """
        ),
        code(
            """
            net = xpnet.TwoLayerNet(2, 10, 3, activation="sigmoid", rng=0)
            for _ in trange(max_epoch):
                idx = np.random.permutation(x.shape[0])
                for i in range(10):
                    batch = idx[i * 30 : (i + 1) * 30]
                    SGD(lr=1.0).update(net.params, net.gradient(np.take(x, batch, axis=0), np.take(t, batch, axis=0)))
            print("train accuracy", net.accuracy(x, t))
            xpnet.plot.decision_boundary(net, x, t)
            """
        ),
    ],
    "gradient_descent.ipynb": [
        md(
            """
            # Seed 002: gradient descent with learning rates 0.1, 10 and 1e-10; simpleNet's gradient
            """
        ),
        *SETUP,
        code(
            """
            %matplotlib inline
            from xpnet import np
            from xpnet.functions import cross_entropy_error, softmax
            from xpnet.gradient import gradient_descent, numerical_gradient
            """
        ),
        code(
            """
            def function_2(x):
                return x[0] ** 2 + x[1] ** 2


            step_num = 20 if QUICK else 100
            for lr in (0.1, 10.0, 1e-10):
                init_x = np.array([-3.0, 4.0])
                x, history = gradient_descent(function_2, init_x, lr=lr, step_num=step_num, return_history=True)
                print(f"lr = {lr}: x = {x}")
                display(xpnet.plot.gradient_descent_path(function_2, history, title=f"lr = {lr}"))
            """
        ),
        md(
            """
            The learner's own `simpleNet` (book 1, 4.4.2), its NumPy code unchanged:
            """
        ),
        code(
            """
            class simpleNet:  # noqa: N801 - the book's name
                def __init__(self):
                    self.W = np.random.randn(2, 3)

                def predict(self, x):
                    return np.dot(x, self.W)

                def loss(self, x, t):
                    z = self.predict(x)
                    y = softmax(z)
                    return cross_entropy_error(y, t)


            net = simpleNet()
            x = np.array([0.6, 0.9])
            t = np.array([0, 0, 1])
            dW = numerical_gradient(lambda w: net.loss(x, t), net.W)
            print(dW)
            """
        ),
    ],
    "learning_with_numerical_gradients.ipynb": [
        md(
            """
            # Seed 003: losses, numerical gradients, and chapter 4's TwoLayerNet written by hand

            The network class is the learner's own NumPy code; `from xpnet import np` runs it on the
            backend chosen in the first cell.
            """
        ),
        *SETUP,
        code(
            """
            %matplotlib inline
            from tqdm.auto import trange

            from xpnet import np
            from xpnet.datasets import load_fashion_mnist
            from xpnet.functions import cross_entropy_error, mean_squared_error, sigmoid, softmax
            from xpnet.gradient import numerical_gradient
            """
        ),
        code(
            """
            t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=np.float64)
            y1 = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
            y2 = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
            print("MSE:", float(mean_squared_error(y1, t)), float(mean_squared_error(y2, t)))
            print("cross-entropy:", float(cross_entropy_error(y1, t)), float(cross_entropy_error(y2, t)))
            """
        ),
        code(
            """
            class TwoLayerNet:
                def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
                    self.params = {}
                    self.params["W1"] = weight_init_std * np.random.randn(input_size, hidden_size)
                    self.params["b1"] = np.zeros(hidden_size)
                    self.params["W2"] = weight_init_std * np.random.randn(hidden_size, output_size)
                    self.params["b2"] = np.zeros(output_size)

                def predict(self, x):
                    W1, W2 = self.params["W1"], self.params["W2"]
                    b1, b2 = self.params["b1"], self.params["b2"]
                    a1 = np.dot(x, W1) + b1
                    z1 = sigmoid(a1)
                    a2 = np.dot(z1, W2) + b2
                    return softmax(a2)

                def loss(self, x, t):
                    return cross_entropy_error(self.predict(x), t)

                def accuracy(self, x, t):
                    y = np.argmax(self.predict(x), axis=1)
                    t = np.argmax(t, axis=1)
                    return float(np.sum(y == t) / float(x.shape[0]))

                def numerical_gradient(self, x, t):
                    def loss_W(W):  # noqa: N802 - the book's name
                        return self.loss(x, t)

                    return {key: numerical_gradient(loss_W, self.params[key]) for key in ("W1", "b1", "W2", "b2")}
            """
        ),
        md(
            """
            The element-by-element numerical gradient costs two forward passes per weight: a small network
            here (the seed's 784-50-10 one needs 79,520 passes per step;
            `xpnet.TwoLayerNet(..., activation="sigmoid").numerical_gradient` does those in bulk).
            """
        ),
        code(
            """
            (x_train, t_train), (x_test, t_test) = load_fashion_mnist(normalize=True, one_hot_label=True)
            x_train, t_train = x_train[:10000, ...], t_train[:10000, ...]
            network = TwoLayerNet(input_size=784, hidden_size=3, output_size=10, weight_init_std=0.1)
            iters_num = 2 if QUICK else 100
            train_loss_list = []
            for _ in trange(iters_num):
                batch_mask = np.random.choice(x_train.shape[0], 100)
                x_batch = np.take(x_train, batch_mask, axis=0)  # x_train[batch_mask] except on array_api_strict
                t_batch = np.take(t_train, batch_mask, axis=0)
                grad = network.numerical_gradient(x_batch, t_batch)
                for key in ("W1", "b1", "W2", "b2"):
                    network.params[key] -= 0.5 * grad[key]
                train_loss_list.append(float(network.loss(x_batch, t_batch)))
            print("test accuracy", network.accuracy(x_test, t_test))
            xpnet.plot.loss_curve(train_loss_list, window=10)
            """
        ),
    ],
    "backprop_experiments.ipynb": [
        md(
            """
            # Seed 004: backpropagation on Fashion-MNIST: learning rates, ReLU vs Sigmoid, three layers
            """
        ),
        *SETUP,
        code(
            """
            %matplotlib inline
            import time

            from tqdm.auto import trange

            from xpnet import np
            from xpnet.datasets import load_fashion_mnist
            """
        ),
        code(
            """
            (x_train, t_train), (x_test, t_test) = load_fashion_mnist(normalize=True, one_hot_label=True)
            train_size = x_train.shape[0]
            iters_num = 100 if QUICK else 10000


            def train(network, learning_rate=0.1, batch_size=100):
                losses = []
                for _ in trange(iters_num, leave=False):
                    batch_mask = np.random.choice(train_size, batch_size)
                    x_batch = np.take(x_train, batch_mask, axis=0)
                    t_batch = np.take(t_train, batch_mask, axis=0)
                    grad = network.gradient(x_batch, t_batch)
                    for key in network.params:
                        network.params[key] -= learning_rate * grad[key]
                    losses.append(network.last_loss)  # a 0-d array: no device read per step
                return [float(v) for v in losses], network.accuracy(x_test, t_test)
            """
        ),
        code(
            """
            curves = {}
            runs = {
                "ReLU, lr 0.1": (xpnet.TwoLayerNet(784, 50, 10, rng=0), 0.1),
                "ReLU, lr 0.01": (xpnet.TwoLayerNet(784, 50, 10, rng=0), 0.01),
                "Sigmoid, lr 0.1": (xpnet.TwoLayerNet(784, 50, 10, activation="sigmoid", rng=0), 0.1),
                "ThreeLayerNet(100, 50)": (xpnet.ThreeLayerNet(784, 100, 50, 10, rng=0), 0.1),
            }
            for name, (network, lr) in runs.items():
                start = time.perf_counter()
                curves[name], acc = train(network, lr)
                print(f"{name}: test accuracy {acc:.4f} ({time.perf_counter() - start:.1f} s)")
            xpnet.plot.loss_curve(curves, window=50)
            """
        ),
        md(
            """
            Numerical gradient vs backpropagation for one mini-batch:
            """
        ),
        code(
            """
            network = xpnet.TwoLayerNet(784, 50, 10, rng=0)
            x_batch, t_batch = x_train[:100, ...], t_train[:100, ...]
            start = time.perf_counter()
            network.gradient(x_batch, t_batch)
            backprop = time.perf_counter() - start
            start = time.perf_counter()
            network.numerical_gradient(x_batch, t_batch)
            numerical = time.perf_counter() - start
            print(f"backprop {backprop * 1e3:.1f} ms, numerical {numerical:.2f} s")
            xpnet.gradient_check(network, x_batch, t_batch)
            """
        ),
    ],
}


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def notebook(cells: list[tuple[str, str]]) -> dict:
    """An nbformat 4.5 notebook without outputs; cell ids are numbered so that reruns write the same file."""
    out = []
    for i, (kind, source) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"cell-{i}", "metadata": {}, "source": _lines(source)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {
        "cells": out,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render(name: str) -> str:
    return json.dumps(notebook(NOTEBOOKS[name]), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in NOTEBOOKS:
        path = HERE / name
        text = render(name)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python examples/_make_notebooks.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
