"""Book 2's word2vec models (chapters 3 and 4): ``SimpleCBOW``, ``SimpleSkipGram``, ``EmbeddingDot``,
``UnigramSampler``, ``NegativeSamplingLoss``, ``CBOW``, ``SkipGram``.

Shared weights are declared, not detected: every model lists each weight array once in
``params``, and ``backward`` writes the *summed* gradient of all its uses into the one matching
``grads`` entry. The book instead lists one copy per use and lets its ``Trainer`` merge them with
``remove_duplicate``, which compares arrays by value on every step (a host read per pair on a
GPU). Optimizers and :class:`xpnet.trainer2.Trainer` can use ``params``/``grads`` as they are.

The chapter-4 models gather all context rows with one ``take`` and scatter their gradients with
one :func:`~xpnet.backend.index_add`, where the book keeps one ``Embedding`` (and one full
``V x H`` gradient) per context word and per negative sample.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..backend import (
    array_device,
    asarray,
    asnumpy,
    get_namespace,
    host_rng,
    index_add,
    kernels_for,
    randn,
    random_like,
)
from ..data.checkpoint import CheckpointError, load_arrays, save_arrays
from ..layers import Embedding, Layer, MatMul, SoftmaxWithLoss, like_weights
from ..layers.functions import check_labels
from .base import Model
from .flat import FlatStore, ParamList

__all__ = [
    "SimpleCBOW",
    "SimpleSkipGram",
    "EmbeddingDot",
    "UnigramSampler",
    "NegativeSamplingLoss",
    "CBOW",
    "SkipGram",
    "save_word_vectors",
    "load_word_vectors",
]


def _in_out_weights(V: int, H: int, out_shape: tuple[int, int], dtype: Any, rng: Any) -> tuple[Any, Any]:
    """``W_in`` ``(V, H)`` and ``W_out`` (``out_shape``) drawn from one stream (an int ``rng`` seeds it once)."""
    rng = host_rng(rng) if rng is not None else None
    return _weights((V, H), dtype, rng), _weights(out_shape, dtype, rng)


def _weights(shape: tuple[int, int], dtype: Any, rng: Any) -> Any:
    """``0.01 * randn(shape)`` on the active backend, as the book initialises word2vec (float32 by default)."""
    W = randn(shape, dtype=dtype, rng=rng)
    W *= 0.01
    return W


class _Model(Model):
    """``params``/``grads`` lists with each shared array once, ``word_vecs``, and ``.npz`` checkpoints."""

    param_names: tuple[str, ...] = ("W_in", "W_out")

    params: list[Any]
    grads: list[Any]


# --- chapter 3 -------------------------------------------------------------------------


class SimpleCBOW(_Model):
    """Book 2, 3.4: CBOW with one-hot inputs and a softmax over the vocabulary.

    ``forward(contexts, target)``: ``contexts`` one-hot ``(N, C, V)`` (the book: ``C = 2``),
    ``target`` one-hot ``(N, V)`` or ids ``(N,)``; returns the mean cross-entropy loss.
    ``W_in`` ``(V, H)`` is shared by the ``C`` input layers: it appears once in ``params``.
    """

    def __init__(self, vocab_size: int, hidden_size: int, *, dtype: Any = None, rng: Any = None) -> None:
        W_in, W_out = _in_out_weights(vocab_size, hidden_size, (hidden_size, vocab_size), dtype, rng)
        self.in_layer0 = MatMul(W_in)
        self.in_layer1 = MatMul(W_in)
        self.out_layer = MatMul(W_out)
        self.loss_layer = SoftmaxWithLoss()
        self.in_layers = [self.in_layer0, self.in_layer1]
        self.params = [W_in, W_out]
        self.vocab_size = vocab_size
        xp = get_namespace(W_in)
        self.grads = [xp.zeros_like(W_in), self.out_layer.grads[0]]
        self.word_vecs = W_in

    def forward(self, contexts: Any, target: Any) -> Any:
        C = contexts.shape[1]
        while len(self.in_layers) < C:  # more context words than the book's two: more layers on the same W_in
            self.in_layers.append(MatMul(self.params[0]))
        h = self.in_layers[0].forward(contexts[:, 0, ...])
        for i in range(1, C):
            h = h + self.in_layers[i].forward(contexts[:, i, ...])
        self._C = C
        score = self.out_layer.forward(h * (1.0 / C))
        return self.loss_layer.forward(score, target)

    def backward(self, dout: Any = 1) -> None:
        ds = self.loss_layer.backward(dout)
        da = self.out_layer.backward(ds) * (1.0 / self._C)
        self.grads[1] = self.out_layer.grads[0]
        dW_in = self.grads[0]
        dW_in[...] = 0.0
        for layer in self.in_layers[: self._C]:
            layer.backward(da, input_grad=False)
            dW_in += layer.grads[0]
        return None


class SimpleSkipGram(_Model):
    """Book 2, 3.5: skip-gram with one-hot inputs; predicts each of the ``C`` context words from the target.

    ``forward(contexts, target)``: ``contexts`` one-hot ``(N, C, V)`` or ids ``(N, C)``, ``target``
    one-hot ``(N, V)``; returns the sum over context positions of the mean cross-entropy.
    """

    def __init__(self, vocab_size: int, hidden_size: int, *, dtype: Any = None, rng: Any = None) -> None:
        W_in, W_out = _in_out_weights(vocab_size, hidden_size, (hidden_size, vocab_size), dtype, rng)
        self.in_layer = MatMul(W_in)
        self.out_layer = MatMul(W_out)
        self.loss_layer1 = SoftmaxWithLoss()
        self.loss_layer2 = SoftmaxWithLoss()
        self.loss_layers = [self.loss_layer1, self.loss_layer2]
        self.params = [W_in, W_out]
        self.vocab_size = vocab_size
        self.grads = [self.in_layer.grads[0], self.out_layer.grads[0]]
        self.word_vecs = W_in

    def forward(self, contexts: Any, target: Any) -> Any:
        C = contexts.shape[1]
        while len(self.loss_layers) < C:
            self.loss_layers.append(SoftmaxWithLoss())
        self._C = C
        h = self.in_layer.forward(target)
        s = self.out_layer.forward(h)
        loss = self.loss_layers[0].forward(s, contexts[:, 0, ...])
        for i in range(1, C):
            loss = loss + self.loss_layers[i].forward(s, contexts[:, i, ...])
        return loss

    def backward(self, dout: Any = 1) -> None:
        ds = self.loss_layers[0].backward(dout)
        for layer in self.loss_layers[1 : self._C]:
            ds = ds + layer.backward(dout)
        dh = self.out_layer.backward(ds)
        self.in_layer.backward(dh, input_grad=False)
        self.grads[0], self.grads[1] = self.in_layer.grads[0], self.out_layer.grads[0]
        return None


# --- chapter 4 -------------------------------------------------------------------------


class EmbeddingDot(Layer):
    """Book 2, 4.2: ``out[n] = W[idx[n]] . h[n]`` for ``h`` ``(N, H)`` and ids ``idx`` ``(N,)``; ``W`` is ``(V, H)``."""

    def __init__(self, W: Any) -> None:
        self.embed = Embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache = None

    def forward(self, h: Any, idx: Any) -> Any:
        xp = get_namespace(h, self.params[0])
        target_W = self.embed.forward(idx)
        self.cache = (h, target_W)
        return xp.sum(target_W * h, axis=1)

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        h, target_W = self.cache
        dout = dout[:, None]
        self.embed.backward(dout * h)
        return dout * target_W if input_grad else None


class UnigramSampler:
    """Negative samples drawn from the unigram distribution raised to ``power`` (book 2, 4.2.6).

    ``word_p`` (host, float64, shape ``(V,)``) is ``count ** power`` normalised, as in the book.
    ``get_negative_sample(target)`` returns int64 ids ``(N, sample_size)`` on ``target``'s device,
    by inverse-CDF sampling: uniform numbers (the backend's ``random_like``: seeded by
    ``xpnet.seed`` on the host backends, drawn on the device on CuPy/CUDA torch) are looked up with
    ``searchsorted`` in the cumulative distribution. Each row's target is excluded exactly, with
    no resampling loop: the uniform number is drawn over ``1 - p[target]`` and shifted past the
    target's interval, which samples ``p`` with the target removed and renormalised. Samples are
    drawn *with* replacement (as the book's GPU path; its CPU path draws without replacement,
    one ``np.random.choice`` call per row).
    """

    def __init__(self, corpus: Any, power: float, sample_size: int, *, rng: Any = None) -> None:
        ids = asnumpy(corpus).reshape(-1)
        if ids.size == 0 or not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0:
            raise ValueError(f"UnigramSampler: corpus must hold non-negative integer word ids, got dtype {ids.dtype}")
        counts = np.bincount(ids).astype(np.float64)
        if np.count_nonzero(counts) < 2:
            raise ValueError("UnigramSampler: the corpus needs at least two distinct words to draw negatives")
        self.vocab_size = counts.shape[0]
        self.sample_size = sample_size
        self.rng = host_rng(rng) if rng is not None else None  # one stream: an int must not reseed every draw
        p = np.power(counts, power)
        self.word_p = p / np.sum(p)
        self._tables: dict[Any, tuple[Any, Any, Any]] = {}

    def _table(self, target: Any) -> tuple[Any, Any, Any]:
        """``p``, the cumulative ``cdf`` and ``cdf - p`` on ``target``'s namespace and device (made once per device)."""
        xp = get_namespace(target)
        key = (type(target), str(array_device(target)))
        table = self._tables.get(key)
        if table is None:
            dt = xp.float64
            try:
                p = xp.asarray(self.word_p, dtype=dt, device=array_device(target))
            except Exception:  # a device without float64
                dt = xp.float32
                p = xp.asarray(self.word_p, dtype=dt, device=array_device(target))
            cdf = xp.cumulative_sum(p)
            table = self._tables[key] = (p, cdf, cdf - p)
        return table

    def get_negative_sample(self, target: Any) -> Any:
        """Ids ``(N, sample_size)`` drawn for the targets ``(N,)``; never a row's own target."""
        xp = get_namespace(target)
        p, cdf, before = self._table(target)
        N, K, V = target.shape[0], self.sample_size, self.vocab_size
        k = kernels_for(p)
        p_t = k.take_rows(p, target)[:, None]
        before_t = k.take_rows(before, target)[:, None]
        u = random_like(xp.empty((N, K), dtype=p.dtype, device=array_device(target)), self.rng)
        x = u * (cdf[V - 1] - p_t)
        x = xp.where(x >= before_t, x + p_t, x)
        s = xp.minimum(xp.searchsorted(cdf, x, side="right"), V - 1)
        # Rounding at the edge of the target's interval (probability ~ float eps) may still land on it.
        t = xp.astype(target, s.dtype)[:, None]
        return xp.where(s == t, (t + 1) % V, s)


class NegativeSamplingLoss(Layer):
    """Book 2, 4.2.7: the target's score against 1 plus ``sample_size`` negatives' scores against 0.

    ``W`` ``(V, H)`` is the output embedding; ``forward(h, target)`` with ``h`` ``(N, H)`` and ids
    ``target`` ``(N,)`` returns the book's loss: the sum over the ``1 + sample_size`` columns of
    the mean binary cross-entropy. ``negative_sample=`` (ids ``(N, sample_size)``) fixes the
    negatives (gradient checks). One gather and one scatter-add serve all ``1 + sample_size``
    columns; ``W`` is listed once in ``params``.
    """

    def __init__(self, W: Any, corpus: Any, power: float = 0.75, sample_size: int = 5, *, rng: Any = None) -> None:
        self.sample_size = sample_size
        self.sampler = UnigramSampler(corpus, power, sample_size, rng=rng)
        self.params = [W]
        self.grads = [get_namespace(W).zeros_like(W)]
        self.cache = None
        self._bufs: dict = {}

    def forward(self, h: Any, target: Any, *, negative_sample: Any = None) -> Any:
        W = self.params[0]
        xp = get_namespace(h, target, W)
        if negative_sample is None:
            negative_sample = self.sampler.get_negative_sample(target)
        N, K1 = target.shape[0], self.sample_size + 1
        idx = xp.concat([xp.astype(target, negative_sample.dtype)[:, None], negative_sample], axis=1)  # (N, K+1)
        flat = xp.reshape(idx, (-1,))
        rows = xp.reshape(kernels_for(W).take_rows(W, flat), (N, K1, W.shape[1]))
        h = like_weights(xp, h, W, "NegativeSamplingLoss")
        score = xp.reshape(rows @ h[:, :, None], (N, K1))
        # label 1 for column 0 (the target), 0 for the negatives
        loss, saved = kernels_for(score).sigmoid_xent_first(score, self._bufs)
        self.cache = (h, rows, flat, saved)
        return loss

    def backward(self, dout: Any = 1, *, input_grad: bool = True) -> Any:
        h, rows, flat, saved = self.cache
        xp = get_namespace(h)
        N, K1, H = rows.shape
        dscore = kernels_for(h).sigmoid_xent_first_backward(saved, dout, self._bufs)  # (N, K+1)
        dW = self.grads[0]
        dW[...] = 0.0
        index_add(dW, flat, xp.reshape(dscore[:, :, None] * h[:, None, :], (N * K1, H)))
        return xp.reshape(dscore[:, None, :] @ rows, (N, H)) if input_grad else None


class _NegativeSamplingModel(_Model):
    """What CBOW and SkipGram share: ``W_in`` ``(V, H)`` read by an ``Embedding``, ``W_out`` by the
    negative-sampling loss; ``params`` lists each once, ``word_vecs`` is ``W_in``."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        window_size: int,
        corpus: Any,
        *,
        sample_size: int = 5,
        power: float = 0.75,
        dtype: Any = None,
        rng: Any = None,
    ) -> None:
        check_labels(np.asarray(asnumpy(corpus)).reshape(-1), vocab_size, sync=True, what="the corpus's word ids")
        W_in, W_out = _in_out_weights(vocab_size, hidden_size, (vocab_size, hidden_size), dtype, rng)
        self.vocab_size = vocab_size
        self.window_size = window_size
        self.in_layer = Embedding(W_in)
        self.ns_loss = NegativeSamplingLoss(W_out, corpus, power=power, sample_size=sample_size, rng=rng)
        # both weights (and both gradients) as views of one buffer: the optimizer updates them in one pass
        store = FlatStore([W_in, W_out], [self.in_layer.grads[0], self.ns_loss.grads[0]])
        for layer, p, g in zip((self.in_layer, self.ns_loss), store.params, store.grads):
            layer.params[0], layer.grads[0] = p, g
        self.params = ParamList(store.params, store)
        self.grads = list(store.grads)
        self.word_vecs = store.params[0]


class CBOW(_NegativeSamplingModel):
    """Book 2, 4.3: CBOW with ``Embedding`` inputs and negative sampling (5 negatives, power 0.75).

    ``W_in`` and ``W_out`` are ``(V, H)``. ``forward(contexts, target)`` takes ids: ``contexts``
    ``(N, 2 * window_size)``, ``target`` ``(N,)``; the hidden vector is the mean of the context
    rows. ``word_vecs`` is ``W_in``.
    """

    def forward(self, contexts: Any, target: Any) -> Any:
        xp = get_namespace(contexts)
        if contexts.ndim != 2:
            raise ValueError(
                f"CBOW: contexts must be word ids of shape (N, 2 * window_size), got {tuple(contexts.shape)}"
            )
        h = xp.mean(self.in_layer.forward(contexts), axis=1)
        return self.ns_loss.forward(h, target)

    def backward(self, dout: Any = 1) -> None:
        dh = self.ns_loss.backward(dout)
        xp = get_namespace(dh)
        C = self.in_layer.idx.shape[1]
        self.in_layer.backward(xp.broadcast_to((dh * (1.0 / C))[:, None, :], (dh.shape[0], C, dh.shape[1])))
        return None


class SkipGram(_NegativeSamplingModel):
    """Book 2, 4.3: skip-gram with negative sampling: each of the ``2 * window_size`` context words is
    predicted from the target's ``W_in`` row. ``forward(contexts, target)`` takes ids ``(N, C)`` and ``(N,)``
    and returns the sum over context positions of the negative-sampling loss, as the book."""

    def forward(self, contexts: Any, target: Any) -> Any:
        xp = get_namespace(contexts)
        N, C = contexts.shape
        h = self.in_layer.forward(target)  # (N, H)
        self._C = C
        # every (row, context position) pair is one row of a single negative-sampling loss
        h_rep = xp.reshape(xp.broadcast_to(h[:, None, :], (N, C, h.shape[1])), (N * C, h.shape[1]))
        return self.ns_loss.forward(h_rep, xp.reshape(contexts, (-1,))) * C

    def backward(self, dout: Any = 1) -> None:
        xp = get_namespace(self.params[0])
        C = self._C
        dh_rep = self.ns_loss.backward(dout * C)
        dh = xp.sum(xp.reshape(dh_rep, (-1, C, dh_rep.shape[1])), axis=1)
        self.in_layer.backward(dh)
        return None


def save_word_vectors(file_name: str | os.PathLike, word_vecs: Any, id_to_word: dict[int, str]) -> None:
    """Write word vectors ``(V, H)`` and their words to an ``.npz`` file, atomically (book 2, ch04/train.py
    pickles ``word_vecs`` as float16 with both dictionaries; here the dtype is kept and no pickle is used)."""
    path = os.fspath(file_name)
    words = np.array([id_to_word[i] for i in range(len(id_to_word))], dtype=str)
    if words.shape[0] != word_vecs.shape[0]:
        raise ValueError(f"save_word_vectors: {words.shape[0]} words for {word_vecs.shape[0]} vectors")
    save_arrays(path, {"word_vecs": word_vecs, "id_to_word": words})


def load_word_vectors(
    file_name: str | os.PathLike, *, max_bytes: int = 1 << 30, allow_nonfinite: bool = False
) -> tuple[Any, dict[str, int], dict[int, str]]:
    """``word_vecs`` (on the active backend), ``word_to_id``, ``id_to_word`` from :func:`save_word_vectors`'s file.

    Read through :func:`xpnet.checkpoint.load_arrays`: the sizes the file declares are checked (against
    ``max_bytes`` and the archive) before any is read; the vectors must be real floating point ``(V, H)``,
    finite unless ``allow_nonfinite``, the words ``V`` distinct strings. Anything else is a
    ``CheckpointError`` (a ``ValueError``) naming the file.
    """
    path = os.fspath(file_name)
    arrays = load_arrays(
        path, {"word_vecs": (None, None), "id_to_word": (None, "U")}, max_bytes=max_bytes,
        allow_nonfinite=allow_nonfinite,
    )  # fmt: skip
    vecs, words = arrays["word_vecs"], arrays["id_to_word"]
    if vecs.ndim != 2 or words.ndim != 1:
        raise CheckpointError(
            path, f"word_vecs must have shape (V, H) and id_to_word (V,); got shapes {vecs.shape} and {words.shape}"
        )
    if vecs.shape[0] != words.shape[0]:
        raise CheckpointError(path, f"{vecs.shape[0]} vectors for {words.shape[0]} words")
    id_to_word = {i: str(w) for i, w in enumerate(words.tolist())}
    word_to_id = {w: i for i, w in id_to_word.items()}
    if len(word_to_id) != len(id_to_word):
        seen: set[str] = set()
        twice = next(w for w in id_to_word.values() if w in seen or seen.add(w))
        raise CheckpointError(path, f"the word {twice!r} appears twice in id_to_word (a duplicate word)")
    return asarray(vecs), word_to_id, id_to_word
