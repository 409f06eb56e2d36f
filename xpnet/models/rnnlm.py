"""Book 2's recurrent language models (chapters 5-6): ``SimpleRnnlm``, ``Rnnlm``, ``BetterRnnlm``, their generators,
``eval_perplexity`` and the ``.npz`` checkpoints of book 2's ``BaseModel``.

Word ids are integer arrays ``(N, T)``; scores are ``(N, T, V)``. Every model keeps book 2's
``params``/``grads`` lists (each parameter listed once) and the methods ``predict``,
``forward(xs, ts)``, ``backward(dout=1)`` and ``reset_state``.

``BetterRnnlm`` ties its embedding matrix ``W`` ``(V, D)`` to the output layer, which uses
``W.T``. The tie is declared when the model is built: ``W`` is one entry of ``params``, and
``backward`` adds the output layer's gradient to the embedding's, so no pair of parameters
is ever compared by value (the book's ``remove_duplicate`` compares every pair on every step).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import array_device, asnumpy, get_namespace, kernels_for, matmul_into, randn, random_like, zeros
from ..layers import Layer, like_weights, store_matmul, store_sum
from ..layers.functions import check_labels, check_sizes, softmax
from ..layers.time_layers import TimeAffine, TimeDropout, TimeEmbedding, TimeLSTM, TimeRNN, TimeSoftmaxWithLoss
from .base import BaseModel, as_ids
from .flat import FlatStore, ParamList

__all__ = [
    "BaseModel",
    "SimpleRnnlm",
    "Rnnlm",
    "BetterRnnlm",
    "RnnlmGen",
    "BetterRnnlmGen",
    "eval_perplexity",
    "sample_ids",
    "markov_corpus",
]


def _init(shape: tuple[int, ...], scale: float, dtype: Any) -> Any:
    return randn(shape, dtype=dtype) * scale


class _LanguageModel(BaseModel):
    """``predict``/``forward``/``backward`` over ``self.layers`` and ``self.loss_layer`` (book 2's Rnnlm)."""

    layers: list[Layer]
    loss_layer: TimeSoftmaxWithLoss
    rnn_layers: list[Any]

    def _collect(self) -> None:
        """``params``/``grads``: every layer's, as views into one flat buffer per dtype (:mod:`xpnet.models.flat`),
        put back into the layers' lists, so an optimizer updates them in one pass and a tied array stays one."""
        slots = [(layer, j) for layer in self.layers for j in range(len(layer.params))]
        store = FlatStore([layer.params[j] for layer, j in slots], [layer.grads[j] for layer, j in slots])
        for (layer, j), p, g in zip(slots, store.params, store.grads):
            layer.params[j], layer.grads[j] = p, g
        self.params = ParamList(store.params, store)
        self.grads = list(store.grads)

    def predict(self, xs: Any, train_flg: bool = False) -> Any:
        """Scores ``(N, T, V)`` for word ids ``xs`` ``(N, T)``."""
        W = self.params[0]
        xs = as_ids(xs, W)
        if xs.ndim != 2:
            raise ValueError(
                f"{type(self).__name__}.predict: word ids must have shape (N, T) (N streams of T words), "
                f"got shape {tuple(xs.shape)}"
            )
        for layer in self.layers:
            xs = layer.forward(xs, train_flg)
        return xs

    def forward(self, xs: Any, ts: Any, train_flg: bool = True) -> Any:
        """Mean cross-entropy (0-d array) of next-word targets ``ts`` ``(N, T)`` given ``xs`` ``(N, T)``."""
        score = self.predict(xs, train_flg)
        return self.loss_layer.forward(score, as_ids(ts, score))

    def backward(self, dout: Any = 1) -> Any:
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def reset_state(self) -> None:
        for layer in self.rnn_layers:
            layer.reset_state()


class SimpleRnnlm(_LanguageModel):
    """Chapter 5: ``TimeEmbedding`` -> ``TimeRNN`` (stateful) -> ``TimeAffine`` -> ``TimeSoftmaxWithLoss``."""

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, *, dtype: Any = None) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.layers = [
            TimeEmbedding(_init((V, D), 0.01, dtype)),
            TimeRNN(
                _init((D, H), 1 / math.sqrt(D), dtype),
                _init((H, H), 1 / math.sqrt(H), dtype),
                zeros((H,), dtype=dtype),
                stateful=True,
            ),  # fmt: skip
            TimeAffine(_init((H, V), 1 / math.sqrt(H), dtype), zeros((V,), dtype=dtype)),
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.vocab_size = V
        self.rnn_layer = self.layers[1]
        self.rnn_layers = [self.rnn_layer]
        self._collect()

    def predict(self, xs: Any, train_flg: bool = False) -> Any:
        return super().predict(xs, train_flg)


class Rnnlm(_LanguageModel):
    """Chapter 6: ``TimeEmbedding`` -> ``TimeLSTM`` (stateful) -> ``TimeAffine`` -> ``TimeSoftmaxWithLoss``.

    ``Rnnlm(vocab_size=10000, wordvec_size=100, hidden_size=100)``, as in the book.
    """

    def __init__(
        self, vocab_size: int = 10000, wordvec_size: int = 100, hidden_size: int = 100, *, dtype: Any = None
    ) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.layers = [
            TimeEmbedding(_init((V, D), 0.01, dtype)),
            TimeLSTM(
                _init((D, 4 * H), 1 / math.sqrt(D), dtype),
                _init((H, 4 * H), 1 / math.sqrt(H), dtype),
                zeros((4 * H,), dtype=dtype),
                stateful=True,
            ),  # fmt: skip
            TimeAffine(_init((H, V), 1 / math.sqrt(H), dtype), zeros((V,), dtype=dtype)),
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.vocab_size = V
        self.lstm_layer = self.layers[1]
        self.rnn_layers = [self.lstm_layer]
        self._collect()


class TiedTimeAffine(Layer):
    """``x @ W.T + b`` at every step, with ``W`` ``(V, D)`` owned by an embedding (weight tying, book 2, 6.5.3).

    Only ``b`` is this layer's parameter; ``W``'s gradient ``dout.T @ x`` ``(V, D)`` goes to
    ``dW``, and the model adds it to the embedding's gradient.
    """

    def __init__(self, embedding: TimeEmbedding, b: Any) -> None:
        self.embedding = embedding
        self.params = [b]
        self.grads = [get_namespace(b).zeros_like(b)]
        self.dW = None
        self.x = None
        self._bufs: dict = {}

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        W, b = self.embedding.params[0], self.params[0]
        xp = get_namespace(x, W)
        self.x = x = like_weights(xp, x, W, "TiedTimeAffine")
        N, T, D = x.shape
        x2 = xp.reshape(x, (N * T, D))
        if b.dtype != W.dtype:
            out = x2 @ W.T + b  # mixed precision (a rebound bias): the standard's promotion
        else:  # while training, into this layer's buffer where the library writes out= (as TimeAffine)
            out = kernels_for(x2).affine(x2, W.T, b, self._bufs if train_flg else None)
        return xp.reshape(out, (N, T, W.shape[0]))

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        W = self.embedding.params[0]
        xp = get_namespace(dout, W)
        N, T, V = dout.shape
        d2 = xp.reshape(dout, (N * T, V))
        holder = [self.dW]
        store_matmul(holder, 0, d2.T, xp.reshape(self.x, (N * T, W.shape[1])))
        self.dW = holder[0]
        store_sum(self.grads, 0, d2)
        if not input_grad:
            return None
        dx = kernels_for(d2).buffer(self._bufs, "dx", (N * T, W.shape[1]), d2)
        if dx is None or dx.dtype != W.dtype:
            return xp.reshape(d2 @ W, self.x.shape)
        matmul_into(dx, d2, W)
        return xp.reshape(dx, self.x.shape)


class BetterRnnlm(_LanguageModel):
    """Chapter 6's improved model: two stateful ``TimeLSTM`` layers, ``TimeDropout`` between all layers, and the
    output layer tied to the embedding (``W`` listed once in ``params``; its gradient is the sum of both uses).

    ``BetterRnnlm(vocab_size=10000, wordvec_size=650, hidden_size=650, dropout_ratio=0.5)``; the
    tie needs ``wordvec_size == hidden_size``.
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 650,
        hidden_size: int = 650,
        dropout_ratio: float = 0.5,
        *,
        dtype: Any = None,
    ) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        if D != H:
            raise ValueError(
                f"BetterRnnlm ties the embedding to the output: wordvec_size {D} must equal hidden_size {H}"
            )
        embed = TimeEmbedding(_init((V, D), 0.01, dtype))

        def lstm(d: int) -> TimeLSTM:
            return TimeLSTM(
                _init((d, 4 * H), 1 / math.sqrt(d), dtype),
                _init((H, 4 * H), 1 / math.sqrt(H), dtype),
                zeros((4 * H,), dtype=dtype),
                stateful=True,
            )

        self.affine = TiedTimeAffine(embed, zeros((V,), dtype=dtype))
        self.layers = [
            embed,
            TimeDropout(dropout_ratio),
            lstm(D),
            TimeDropout(dropout_ratio),
            lstm(H),
            TimeDropout(dropout_ratio),
            self.affine,
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.vocab_size = V
        self.lstm_layers = [self.layers[2], self.layers[4]]
        self.drop_layers = [self.layers[1], self.layers[3], self.layers[5]]
        self.rnn_layers = self.lstm_layers
        self._collect()

    def predict(self, xs: Any, train_flg: bool = False) -> Any:
        for layer in self.drop_layers:
            layer.train_flg = train_flg
        return super().predict(xs, train_flg)

    def backward(self, dout: Any = 1) -> Any:
        dout = super().backward(dout)
        # The tie: the embedding's gradient (written by its backward, last) plus the output layer's.
        dW = self.layers[0].grads[0]
        dW += self.affine.dW
        return dout


# --- generation --------------------------------------------------------------------------


def sample_ids(p: Any, u: Any) -> Any:
    """Indices drawn from the rows of probabilities ``p`` ``(..., V)`` by uniform numbers ``u`` ``(...)`` in [0, 1).

    Inverse CDF on the device: the first index whose cumulative probability exceeds ``u``
    (``searchsorted`` on ``cumulative_sum``); indices with probability 0 are never drawn.
    Returns integer indices of shape ``u.shape``.
    """
    xp = get_namespace(p, u)
    V = p.shape[-1]
    cdf = xp.cumulative_sum(xp.reshape(p, (-1, V)), axis=1)
    flat_u = xp.reshape(u, (-1,)) * cdf[:, V - 1]  # scaled by the row total: rows need not sum to exactly 1
    rows = [xp.searchsorted(cdf[i, :], flat_u[i : i + 1], side="right") for i in range(cdf.shape[0])]
    idx = xp.minimum(xp.concat(rows), V - 1)
    return xp.reshape(idx, u.shape)


def _copy(x: Any) -> Any:
    return None if x is None else get_namespace(x).asarray(x, copy=True)


def check_generate_ids(start_id: Any, skip_ids: Sequence[int] | None, V: int) -> None:
    """``generate``'s ids, checked on the host before anything runs: each a word of ``[0, V)``, and a word left to
    draw (Python ints: no device read)."""
    if isinstance(start_id, bool) or not isinstance(start_id, (int, np.integer)) or not 0 <= start_id < V:
        raise ValueError(f"generate: start_id must be a word id in [0, {V}), got {start_id!r}")
    skips = [int(i) for i in skip_ids] if skip_ids else []
    bad = [i for i in skips if not 0 <= i < V]
    if bad:
        raise ValueError(f"generate: skip_ids must be word ids in [0, {V}), got {bad[:5]}")
    if len(set(skips)) >= V:
        raise ValueError(f"generate: skip_ids name every one of the {V} words: nothing is left to draw")


class _Generator:
    """``generate``, ``get_state``/``set_state`` for a language model with ``rnn_layers`` (book 2's RnnlmGen)."""

    def generate(self, start_id: int, skip_ids: Sequence[int] | None = None, sample_size: int = 100) -> list[int]:
        """``sample_size`` word ids starting with ``start_id``, each drawn from the model's next-word distribution.

        Words in ``skip_ids`` are never drawn (the book redraws until it gets another word, which
        is the same as drawing from the distribution without them). Sampling happens on the
        device from uniform numbers of xpnet's random helpers (seeded by :func:`xpnet.seed`);
        the ids come back to the host once, at the end.
        """
        W = self.params[0]
        xp = get_namespace(W)
        dev = array_device(W)
        V = W.shape[0]
        check_generate_ids(start_id, skip_ids, V)
        keep = xp.ones((V,), dtype=W.dtype, device=dev)
        if skip_ids:
            skip = xp.asarray(np.asarray(list(skip_ids), dtype=np.int64), device=dev)
            hit = xp.any(skip[:, None] == xp.arange(V, dtype=skip.dtype, device=dev), axis=0)
            keep = keep - xp.astype(hit, W.dtype)
        x = xp.asarray(np.array([[start_id]], dtype=np.int64), device=dev)
        out = [x[0, :]]
        while len(out) < sample_size:
            score = self.predict(x)
            p = softmax(xp.reshape(score, (V,))) * keep
            x = xp.reshape(xp.astype(sample_ids(p, random_like(p[:1])), xp.int64), (1, 1))
            out.append(x[0, :])
        return [int(i) for i in asnumpy(xp.concat(out))]

    def get_state(self) -> list[tuple[Any, Any]]:
        """Copies of each recurrent layer's ``(h, c)`` (the layers' own are views of buffers the next step reuses)."""
        return [tuple(_copy(s) for s in (layer.h, layer.c)) for layer in self.rnn_layers]

    def set_state(self, states: Sequence[tuple[Any, Any]]) -> None:
        for layer, (h, c) in zip(self.rnn_layers, states):
            layer.set_state(h, c)


class RnnlmGen(_Generator, Rnnlm):
    """``Rnnlm`` that writes text: ``generate(start_id, skip_ids=None, sample_size=100)``."""


class BetterRnnlmGen(_Generator, BetterRnnlm):
    """``BetterRnnlm`` that writes text: ``generate(start_id, skip_ids=None, sample_size=100)``."""


# --- evaluation ----------------------------------------------------------------------------


def eval_perplexity(model: Any, corpus: Any, batch_size: int = 10, time_size: int = 35) -> float:
    """Perplexity ``exp(mean loss)`` of ``model`` on ``corpus`` (word ids ``(L,)``), as book 2's ``eval_perplexity``.

    The corpus is cut into ``batch_size`` streams read ``time_size`` words at a time, like the
    book (whose model state carries on: call ``model.reset_state()`` first). Batches are
    gathered with ``take`` on the device; the losses are read back once, at the end.
    """
    check_sizes("eval_perplexity", batch_size=batch_size, time_size=time_size)
    W = model.params[0]
    xp = get_namespace(W)
    corpus = as_ids(corpus, W)
    size = corpus.shape[0]
    check_labels(corpus, W.shape[0], sync=True, what="eval_perplexity: the corpus's word ids")
    max_iters = (size - 1) // (batch_size * time_size)
    if max_iters < 1:
        raise ValueError(
            f"eval_perplexity: a corpus of {size} words is shorter than one batch of {batch_size} x {time_size} + 1"
        )
    jump = (size - 1) // batch_size
    dev = array_device(corpus)
    grid = (
        xp.arange(batch_size, dtype=corpus.dtype, device=dev)[:, None] * jump
        + xp.arange(time_size, dtype=corpus.dtype, device=dev)[None, :]
    )
    # decided once from the signature: catching a TypeError would also swallow one raised inside forward,
    # after a stateful model had already moved its state
    takes_flag = "train_flg" in inspect.signature(model.forward).parameters
    total = None
    for it in range(max_iters):
        idx = (grid + it * time_size) % size
        xs = xp.take(corpus, xp.reshape(idx, (-1,)))
        ts = xp.take(corpus, xp.reshape((idx + 1) % size, (-1,)))
        xs, ts = xp.reshape(xs, (batch_size, time_size)), xp.reshape(ts, (batch_size, time_size))
        loss = model.forward(xs, ts, train_flg=False) if takes_flag else model.forward(xs, ts)
        total = loss if total is None else total + loss
    mean = float(total) / max_iters
    return math.inf if mean > 709 else math.exp(mean)  # exp overflows a float beyond 709.78: a diverged model


# --- a corpus whose perplexity is known ---------------------------------------------------


def markov_corpus(n: int, n_states: int = 10, seed: int = 0, *, concentration: float = 0.3) -> tuple[np.ndarray, float]:
    """``n`` word ids (NumPy int64) sampled from a random Markov chain of ``n_states`` states, and the chain's true
    perplexity ``exp(entropy rate)`` under its stationary distribution: the best a language model can reach.

    The transition matrix's rows are drawn from a Dirichlet distribution (``concentration``;
    smaller is more predictable) with ``seed``; the text is drawn with ``seed + 1``.
    """
    r = np.random.default_rng(seed)
    P = r.dirichlet(np.full(n_states, concentration), size=n_states)
    w, v = np.linalg.eig(P.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1))])
    pi = pi / pi.sum()
    logs = np.log(np.where(P > 0, P, 1.0))
    true_ppl = float(np.exp(-np.sum(pi[:, None] * P * logs)))
    cdf = np.cumsum(P, axis=1)
    u = np.random.default_rng(seed + 1).random(n)
    out, s = np.empty(n, dtype=np.int64), 0
    for i in range(n):
        s = min(int(np.searchsorted(cdf[s], u[i], side="right")), n_states - 1)
        out[i] = s
    return out, true_ppl
