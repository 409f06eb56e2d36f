"""The anchors xpnet is measured against, on identical pre-drawn batches.

``InplaceNumpyMLP``: the fastest plain NumPy step we could write (buffers allocated once, in place,
``out=``): the speed to match on a CPU. ``LeanNumpy*``: hand-written NumPy, book style, no framework.
``BookTwoLayerNet``: the book's ch5 network as its code behaves (float64 weights meeting
float32 data, boolean-mask writes in ReLU, a fresh one-hot subtraction per step).
``Torch*``: PyTorch eager, ``torch.nn`` + ``torch.optim``.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np


def softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


class LeanNumpyMLP:
    """Affine-ReLU-...-Affine-softmax-CE with SGD, in plain NumPy, in the params' dtype."""

    def __init__(self, weights: list[np.ndarray], lr: float = 0.1):
        self.W = [w.copy() for w in weights]
        self.b = [np.zeros(w.shape[1], dtype=w.dtype) for w in weights]
        self.lr = lr

    def step(self, x, t_onehot):
        acts = [x]
        for W, b in zip(self.W[:-1], self.b[:-1]):
            acts.append(np.maximum(acts[-1] @ W + b, 0))
        y = softmax(acts[-1] @ self.W[-1] + self.b[-1])
        n = x.shape[0]
        loss = -np.sum(t_onehot * np.log(y + 1e-7)) / n
        d = (y - t_onehot) / n
        for i in range(len(self.W) - 1, -1, -1):
            dW, db = acts[i].T @ d, d.sum(axis=0)
            if i:
                d = (d @ self.W[i].T) * (acts[i] > 0)
            self.W[i] -= self.lr * dW
            self.b[i] -= self.lr * db
        return loss


class InplaceNumpyMLP:
    """The fastest plain NumPy step we could write: every buffer allocated once, every operation in
    place or through ``out=``, the SGD update scaled into the gradient buffer. The honest floor for
    a NumPy framework (``LeanNumpyMLP`` is the readable hand-written version)."""

    def __init__(self, weights: list[np.ndarray], lr: float = 0.1):
        self.W = [w.copy() for w in weights]
        self.b = [np.zeros(w.shape[1], dtype=w.dtype) for w in weights]
        self.dW = [np.empty_like(w) for w in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.lr = lr
        self._n = None

    def _buffers(self, n: int, dtype) -> None:
        self._n = n
        self.acts = [np.empty((n, w.shape[1]), dtype=dtype) for w in self.W]
        self.deltas = [np.empty((n, w.shape[0]), dtype=dtype) for w in self.W[1:]]
        self.pos = [np.empty((n, w.shape[1]), dtype=bool) for w in self.W[:-1]]
        self.rowmax = np.empty((n, 1), dtype=dtype)
        self.picked = np.empty(n, dtype=dtype)

    def step(self, x, t_onehot):
        n = x.shape[0]
        if self._n != n:
            self._buffers(n, x.dtype)
        a = x
        last = len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            out = self.acts[i]
            np.matmul(a, W, out=out)
            out += b
            if i < last:
                np.maximum(out, 0, out=out)
                np.greater(out, 0, out=self.pos[i])
            a = out
        y = a  # softmax in place
        np.max(y, axis=1, keepdims=True, out=self.rowmax)
        y -= self.rowmax
        np.exp(y, out=y)
        np.sum(y, axis=1, keepdims=True, out=self.rowmax)
        y /= self.rowmax
        np.einsum("ij,ij->i", y, t_onehot, out=self.picked)
        self.picked += 1e-7
        np.log(self.picked, out=self.picked)
        loss = -self.picked.sum() / n
        y -= t_onehot  # y becomes the gradient of the logits
        y *= 1.0 / n
        d = y
        for i in range(last, -1, -1):
            inp = self.acts[i - 1] if i else x
            np.matmul(inp.T, d, out=self.dW[i])
            np.add.reduce(d, axis=0, out=self.db[i])
            if i:
                dh = self.deltas[i - 1]
                np.matmul(d, self.W[i].T, out=dh)
                dh *= self.pos[i - 1]
                d = dh
            self.dW[i] *= self.lr
            self.W[i] -= self.dW[i]
            self.db[i] *= self.lr
            self.b[i] -= self.db[i]
        return loss


class _BookRelu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0  # boolean-mask write
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class _BookAffine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)  # computed for every layer, the first included
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


def _book_softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)  # exp taken twice, as in the book


def _book_cross_entropy(y, t):
    if y.ndim == 1:
        t, y = t.reshape(1, t.size), y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class _BookSoftmaxWithLoss:
    def forward(self, x, t):
        self.t, self.y = t, _book_softmax(x)
        return _book_cross_entropy(self.y, self.t)

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            return (self.y - self.t) / batch_size
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx / batch_size


class BookTwoLayerNet:
    """Book 1, ch5 TwoLayerNet as its code runs, and the seeds' training-loop step: gradient by
    backprop, SGD update, then ``network.loss`` again for the loss list. The weights are float64
    (``np.random.randn``) and meet float32 data; ReLU uses boolean-mask writes.
    """

    def __init__(self, W1, W2, lr=0.1):
        self.params = {
            "W1": W1.astype(np.float64),
            "b1": np.zeros(W1.shape[1]),
            "W2": W2.astype(np.float64),
            "b2": np.zeros(W2.shape[1]),
        }
        self.layers = OrderedDict()
        self.layers["Affine1"] = _BookAffine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = _BookRelu()
        self.layers["Affine2"] = _BookAffine(self.params["W2"], self.params["b2"])
        self.last_layer = _BookSoftmaxWithLoss()
        self.lr = lr

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        return {
            "W1": self.layers["Affine1"].dW,
            "b1": self.layers["Affine1"].db,
            "W2": self.layers["Affine2"].dW,
            "b2": self.layers["Affine2"].db,
        }

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def step(self, x, t):
        grad = self.gradient(x, t)
        for key in ("W1", "b1", "W2", "b2"):
            self.params[key] -= self.lr * grad[key]
        return self.loss(x, t)


def book_epoch(net: BookTwoLayerNet, x_train, t_train, x_test, t_test, batch_size=100, seed=0):
    """One epoch of the book's ``train_neuralnet.py`` loop: ``np.random.choice`` batches, a step
    (gradient, update, loss again), and accuracy on the full train and test sets at the epoch's
    start, plus once at the end (as xpnet's ``Trainer`` does)."""
    np.random.seed(seed)
    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / batch_size, 1)
    train_loss_list, acc = [], []
    for i in range(int(iter_per_epoch)):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        train_loss_list.append(net.step(x_batch, t_batch))
        if i % iter_per_epoch == 0:
            acc.append((net.accuracy(x_train, t_train), net.accuracy(x_test, t_test)))
    acc.append((net.accuracy(x_train, t_train), net.accuracy(x_test, t_test)))
    return train_loss_list, acc


def matmul_floor_step(weights, x, d_out):
    """Only the matrix products of a two-layer step (forward, both weight gradients, the hidden
    layer's input gradient): the part of every NumPy step that BLAS decides."""
    W1, W2 = weights
    h = x @ W1
    h @ W2
    d_h = d_out @ W2.T
    return x.T @ d_h, h.T @ d_out


def lean_conv_step(params, x, t_onehot, lr=0.1):
    """SimpleConvNet forward+backward+SGD in plain NumPy (im2col with stride tricks, book style)."""
    W1, b1, W2, b2, W3, b3 = params
    n, c, h, w = x.shape
    fn, _, fh, fw = W1.shape
    oh, ow = h - fh + 1, w - fw + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (fh, fw), axis=(2, 3))  # (n, c, oh, ow, fh, fw)
    col = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, -1)
    conv = (col @ W1.reshape(fn, -1).T + b1).reshape(n, oh, ow, fn).transpose(0, 3, 1, 2)
    r1 = np.maximum(conv, 0)
    tiles = r1.reshape(n, fn, oh // 2, 2, ow // 2, 2)
    pool = tiles.max(axis=(3, 5))
    flat = pool.reshape(n, -1)
    a2 = flat @ W2 + b2
    r2 = np.maximum(a2, 0)
    y = softmax(r2 @ W3 + b3)
    d3 = (y - t_onehot) / n
    dW3, db3 = r2.T @ d3, d3.sum(0)
    d2 = (d3 @ W3.T) * (a2 > 0)
    dW2, db2 = flat.T @ d2, d2.sum(0)
    dpool = (d2 @ W2.T).reshape(pool.shape)
    dtiles = (tiles == pool[:, :, :, None, :, None]) * dpool[:, :, :, None, :, None]
    dconv = dtiles.reshape(r1.shape) * (conv > 0)
    dflat = dconv.transpose(0, 2, 3, 1).reshape(-1, fn)
    dW1, db1 = (col.T @ dflat).T.reshape(W1.shape), dflat.sum(0)
    for p, g in zip(params, (dW1, db1, dW2, db2, dW3, db3)):
        p -= lr * g
