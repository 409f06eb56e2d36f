"""Book 2's chapter-4 CBOW training step as the book's code does it, in plain NumPy (the speed baseline).

Written for the benchmark from the structure of the book's ``common/layers.py`` (``Embedding``,
``SigmoidWithLoss``), ``ch04/negative_sampling_layer.py`` (``EmbeddingDot``, ``UnigramSampler`` on
the CPU, ``NegativeSamplingLoss``), ``ch04/cbow.py``, ``common/optimizer.py`` (``Adam``) and
``common/trainer.py`` (``remove_duplicate`` every step): one ``Embedding`` and one full ``V x H``
gradient per context word and per sample, ``np.add.at``, one ``np.random.choice`` per row.
Not part of xpnet.
"""

from __future__ import annotations

import numpy as np

from benchmarks.book_common import Adam, Embedding, remove_duplicate  # noqa: F401


def _cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class SigmoidWithLoss:
    def __init__(self):
        self.loss = self.y = self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = 1 / (1 + np.exp(-x))
        self.loss = _cross_entropy_error(np.c_[1 - self.y, self.y], self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        return (self.y - self.t) * dout / batch_size


class EmbeddingDot:
    def __init__(self, W):
        self.embed = Embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache = None

    def forward(self, h, idx):
        target_W = self.embed.forward(idx)
        out = np.sum(target_W * h, axis=1)
        self.cache = (h, target_W)
        return out

    def backward(self, dout):
        h, target_W = self.cache
        dout = dout.reshape(dout.shape[0], 1)
        self.embed.backward(dout * h)
        return dout * target_W


class UnigramSampler:
    def __init__(self, corpus, power, sample_size, rng):
        self.sample_size = sample_size
        counts = np.bincount(corpus)
        self.vocab_size = counts.shape[0]
        self.word_p = np.power(counts.astype(np.float64), power)
        self.word_p /= np.sum(self.word_p)
        self.rng = rng

    def get_negative_sample(self, target):
        batch_size = target.shape[0]
        negative_sample = np.zeros((batch_size, self.sample_size), dtype=np.int32)
        for i in range(batch_size):
            p = self.word_p.copy()
            p[target[i]] = 0
            p /= p.sum()
            negative_sample[i, :] = self.rng.choice(self.vocab_size, size=self.sample_size, replace=False, p=p)
        return negative_sample


class NegativeSamplingLoss:
    def __init__(self, W, corpus, power=0.75, sample_size=5, rng=None):
        self.sample_size = sample_size
        self.sampler = UnigramSampler(corpus, power, sample_size, rng)
        self.loss_layers = [SigmoidWithLoss() for _ in range(sample_size + 1)]
        self.embed_dot_layers = [EmbeddingDot(W) for _ in range(sample_size + 1)]
        self.params, self.grads = [], []
        for layer in self.embed_dot_layers:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, h, target):
        batch_size = target.shape[0]
        negative_sample = self.sampler.get_negative_sample(target)
        score = self.embed_dot_layers[0].forward(h, target)
        loss = self.loss_layers[0].forward(score, np.ones(batch_size, dtype=np.int32))
        negative_label = np.zeros(batch_size, dtype=np.int32)
        for i in range(self.sample_size):
            score = self.embed_dot_layers[1 + i].forward(h, negative_sample[:, i])
            loss += self.loss_layers[1 + i].forward(score, negative_label)
        return loss

    def backward(self, dout=1):
        dh = 0
        for l0, l1 in zip(self.loss_layers, self.embed_dot_layers):
            dh += l1.backward(l0.backward(dout))
        return dh


class CBOW:
    def __init__(self, W_in, W_out, window_size, corpus, rng):
        self.in_layers = [Embedding(W_in) for _ in range(2 * window_size)]
        self.ns_loss = NegativeSamplingLoss(W_out, corpus, power=0.75, sample_size=5, rng=rng)
        self.params, self.grads = [], []
        for layer in [*self.in_layers, self.ns_loss]:
            self.params += layer.params
            self.grads += layer.grads
        self.word_vecs = W_in

    def forward(self, contexts, target):
        h = 0
        for i, layer in enumerate(self.in_layers):
            h += layer.forward(contexts[:, i])
        h *= 1 / len(self.in_layers)
        return self.ns_loss.forward(h, target)

    def backward(self, dout=1):
        dout = self.ns_loss.backward(dout)
        dout *= 1 / len(self.in_layers)
        for layer in self.in_layers:
            layer.backward(dout)


def book_cbow_step(model: CBOW, optimizer: Adam):
    """One iteration of the book's ``Trainer.fit`` loop body on a batch."""

    def step(contexts, target):
        loss = model.forward(contexts, target)
        model.backward()
        params, grads = remove_duplicate(model.params, model.grads)
        optimizer.update(params, grads)
        return loss

    return step
