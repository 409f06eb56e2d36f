"""The anchors xpnet is measured against, on identical pre-drawn batches.

``LeanNumpy*``: hand-written NumPy, book style, no framework: the speed to match on a CPU.
``BookTwoLayerNet``: the book's ch5 network as its code behaves (float64 weights meeting
float32 data, boolean-mask writes in ReLU, a fresh one-hot subtraction per step).
``Torch*``: PyTorch eager, ``torch.nn`` + ``torch.optim``.
"""

from __future__ import annotations

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


class BookTwoLayerNet:
    """Book 1, ch5 TwoLayerNet + SGD as the book's code runs it (float64 weights, mask writes)."""

    def __init__(self, W1, W2, lr=0.1):
        self.params = {"W1": W1.astype(np.float64), "b1": np.zeros(W1.shape[1]),
                       "W2": W2.astype(np.float64), "b2": np.zeros(W2.shape[1])}  # fmt: skip
        self.lr = lr

    def step(self, x, t):
        p = self.params
        a1 = np.dot(x, p["W1"]) + p["b1"]
        mask = a1 <= 0
        z1 = a1.copy()
        z1[mask] = 0
        a2 = np.dot(z1, p["W2"]) + p["b2"]
        y = softmax(a2)
        n = x.shape[0]
        loss = -np.sum(t * np.log(y + 1e-7)) / n
        dx = (y - t) / n
        grads = {"W2": np.dot(z1.T, dx), "b2": np.sum(dx, axis=0)}
        dz1 = np.dot(dx, p["W2"].T)
        dz1[mask] = 0
        grads["W1"], grads["b1"] = np.dot(x.T, dz1), np.sum(dz1, axis=0)
        for key in ("W1", "b1", "W2", "b2"):
            p[key] -= self.lr * grads[key]
        return loss


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
