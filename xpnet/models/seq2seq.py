"""Book 2's sequence-to-sequence models (chapters 7-8): ``Encoder``, ``Decoder``, ``Seq2seq``, ``PeekyDecoder``,
``PeekySeq2seq``, ``AttentionEncoder``, ``AttentionDecoder``, ``AttentionSeq2seq``, and ``eval_seq2seq``.

Questions ``xs`` are character ids ``(N, Tq)``; answers ``ts`` ``(N, Ta)`` start with the
separator ``_`` that the decoder is fed first (the book's teacher forcing: the decoder reads
``ts[:, :-1]`` and learns ``ts[:, 1:]``). ``generate(xs, start_id, sample_size)`` decodes
greedily (argmax) on the device and returns the book's list of ids for one question;
``generate_batch`` does the same for ``N`` questions at once and returns an ``(N, sample_size)``
array, which is how :func:`seq2seq_accuracy` scores a whole test set quickly.
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import array_device, asnumpy, get_namespace, is_array, randn, zeros
from ..layers.attention import TimeAttention
from ..layers.functions import check_labels
from ..layers.time_layers import TimeAffine, TimeEmbedding, TimeLSTM, TimeSoftmaxWithLoss
from .base import BaseModel, as_ids
from .rnnlm import check_generate_ids

__all__ = [
    "Encoder",
    "Decoder",
    "Seq2seq",
    "PeekyDecoder",
    "PeekySeq2seq",
    "AttentionEncoder",
    "AttentionDecoder",
    "AttentionSeq2seq",
    "eval_seq2seq",
    "seq2seq_accuracy",
]


def _lstm(D: int, H: int, dtype: Any, stateful: bool) -> TimeLSTM:
    return TimeLSTM(
        randn((D, 4 * H), dtype=dtype) * (1 / math.sqrt(D)),
        randn((H, 4 * H), dtype=dtype) * (1 / math.sqrt(H)),
        zeros((4 * H,), dtype=dtype),
        stateful=stateful,
    )


def _embed(V: int, D: int, dtype: Any) -> TimeEmbedding:
    return TimeEmbedding(randn((V, D), dtype=dtype) * 0.01)


def _affine(H: int, V: int, dtype: Any) -> TimeAffine:
    return TimeAffine(randn((H, V), dtype=dtype) * (1 / math.sqrt(H)), zeros((V,), dtype=dtype))


class Encoder(BaseModel):
    """``TimeEmbedding`` -> ``TimeLSTM``; ``forward(xs)`` returns the last hidden state ``(N, H)``."""

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, *, dtype: Any = None) -> None:
        self.embed = _embed(vocab_size, wordvec_size, dtype)
        self.lstm = _lstm(wordvec_size, hidden_size, dtype, stateful=False)
        self.params = self.embed.params + self.lstm.params
        self.grads = self.embed.grads + self.lstm.grads
        self.hs = None

    def forward(self, xs: Any) -> Any:
        hs = self.lstm.forward(self.embed.forward(as_ids(xs, self.params[0])))
        self.hs = hs
        return hs[:, hs.shape[1] - 1, :]

    def backward(self, dh: Any) -> None:
        xp = get_namespace(dh)
        dhs = xp.zeros_like(self.hs)
        dhs[:, dhs.shape[1] - 1, :] = dh
        self.embed.backward(self.lstm.backward(dhs))


class Decoder(BaseModel):
    """``TimeEmbedding`` -> stateful ``TimeLSTM`` started from the encoder's state -> ``TimeAffine``."""

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, *, dtype: Any = None) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = _embed(V, D, dtype)
        self.lstm = _lstm(D, H, dtype, stateful=True)
        self.affine = _affine(H, V, dtype)
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.affine):
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, xs: Any, h: Any) -> Any:
        """Scores ``(N, T, V)`` for decoder inputs ``xs`` ``(N, T)`` from the encoder's state ``h`` ``(N, H)``."""
        self.lstm.set_state(h)
        return self.affine.forward(self.lstm.forward(self.embed.forward(xs)))

    def backward(self, dscore: Any) -> Any:
        """Returns ``dh`` ``(N, H)``, the gradient of the encoder's state."""
        self.embed.backward(self.lstm.backward(self.affine.backward(dscore)))
        return self.lstm.dh

    def _step(self, x: Any, h: Any) -> Any:
        return self.affine.forward(self.lstm.forward(self.embed.forward(x)))

    def generate_batch(self, h: Any, start_id: Any, sample_size: int) -> Any:
        """Greedy decoding of ``sample_size`` ids per row from states ``h`` ``(N, H)``: an ``(N, sample_size)`` array"""
        xp = get_namespace(h)
        self.lstm.set_state(h)
        N = h.shape[0]
        x = _start(xp, start_id, N, self.params[0])
        out = []
        for _ in range(sample_size):
            score = self._step(x, h)
            x = xp.astype(xp.argmax(score[:, 0, :], axis=1), xp.int64)[:, None]
            out.append(x)
        return xp.concat(out, axis=1)

    def generate(self, h: Any, start_id: Any, sample_size: int) -> list[int]:
        """The book's ``generate``: ``sample_size`` ids for one state ``h`` ``(1, H)``, as a list."""
        return [int(i) for i in asnumpy(self.generate_batch(h, start_id, sample_size))[0]]


def _start(xp: Any, start_id: Any, N: int, like: Any) -> Any:
    """The first decoder input ``(N, 1)``: ``start_id`` may be an int or an id array (book: ``correct[0]``)."""
    if hasattr(start_id, "shape"):
        start = xp.reshape(xp.astype(as_ids(start_id, like), xp.int64), (-1, 1))
        return start if start.shape[0] == N else xp.broadcast_to(start, (N, 1))
    return xp.full((N, 1), int(start_id), dtype=xp.int64, device=array_device(like))


def _check_question_ids(model: Any, xs: Any, start: Any) -> None:
    """Questions ``xs`` and ``start`` (an int, or ids such as the answers whose first column starts decoding) in
    ``[0, vocab_size)``: one reduction and one read each, once per call (models without ``vocab_size``: skipped)."""
    V = getattr(model, "vocab_size", None)
    if V is None:
        return
    check_labels(xs, V, sync=True, what="generate: the questions' word ids")
    if hasattr(start, "shape"):
        check_labels(as_ids(start, model.params[0]), V, sync=True, what="generate: start_id")
    else:
        check_generate_ids(start, None, V)


class PeekyDecoder(Decoder):
    """The decoder that "peeks" (book 2, 7.4.2): the encoder state ``h`` is concatenated to the LSTM's input and
    to the affine layer's input at every step. ``Wx`` is ``(H + D, 4H)``, the affine ``W`` ``(H + H, V)``."""

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, *, dtype: Any = None) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = _embed(V, D, dtype)
        self.lstm = _lstm(H + D, H, dtype, stateful=True)
        self.affine = _affine(H + H, V, dtype)
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.affine):
            self.params += layer.params
            self.grads += layer.grads
        self.cache = None

    def _peek(self, xp: Any, h: Any, out: Any) -> Any:
        hs = xp.broadcast_to(h[:, None, :], (out.shape[0], out.shape[1], h.shape[1]))
        return xp.concat([hs, out], axis=2)

    def forward(self, xs: Any, h: Any) -> Any:
        self.lstm.set_state(h)
        self.cache = h.shape[1]
        return self._step(xs, h)

    def _step(self, x: Any, h: Any) -> Any:
        xp = get_namespace(h)
        out = self.lstm.forward(self._peek(xp, h, self.embed.forward(x)))
        return self.affine.forward(self._peek(xp, h, out))

    def backward(self, dscore: Any) -> Any:
        xp = get_namespace(dscore)
        H = self.cache
        dout = self.affine.backward(dscore)
        dhs0, dout = dout[:, :, :H], dout[:, :, H:]
        dout = self.lstm.backward(dout)
        dhs1, dembed = dout[:, :, :H], dout[:, :, H:]
        self.embed.backward(dembed)
        return self.lstm.dh + xp.sum(dhs0 + dhs1, axis=1)


class Seq2seq(BaseModel):
    """``Encoder`` + ``Decoder`` + ``TimeSoftmaxWithLoss`` (book 2, 7.3): ``Seq2seq(vocab_size, wordvec_size,
    hidden_size)``; ``forward(xs, ts)`` returns the mean loss, ``generate(xs, start_id, sample_size)`` a list."""

    encoder_cls: Any = Encoder
    decoder_cls: Any = Decoder

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, *, dtype: Any = None) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.encoder = self.encoder_cls(V, D, H, dtype=dtype)
        self.decoder = self.decoder_cls(V, D, H, dtype=dtype)
        self.softmax = TimeSoftmaxWithLoss()
        self.vocab_size = V
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads

    def forward(self, xs: Any, ts: Any) -> Any:
        W = self.params[0]
        xs, ts = as_ids(xs, W), as_ids(ts, W)
        T = ts.shape[1]
        h = self.encoder.forward(xs)
        score = self.decoder.forward(ts[:, : T - 1], h)
        return self.softmax.forward(score, ts[:, 1:])

    def backward(self, dout: Any = 1) -> None:
        self.encoder.backward(self.decoder.backward(self.softmax.backward(dout)))

    def generate_batch(self, xs: Any, start_id: Any, sample_size: int) -> Any:
        """Greedy answers ``(N, sample_size)`` (on the device) for questions ``xs`` ``(N, Tq)``; nothing is read back
        (an int ``start_id`` is checked on the host; :meth:`generate` and :func:`seq2seq_accuracy` check the ids)."""
        if not hasattr(start_id, "shape"):
            check_generate_ids(start_id, None, self.vocab_size)
        return self.decoder.generate_batch(self.encoder.forward(as_ids(xs, self.params[0])), start_id, sample_size)

    def generate(self, xs: Any, start_id: Any, sample_size: int) -> list[int]:
        """The book's ``generate``: the answer ids to one question ``xs`` ``(1, Tq)`` as a list (the question's ids
        and ``start_id`` checked against the vocabulary first)."""
        xs = as_ids(xs, self.params[0])
        _check_question_ids(self, xs, start_id)
        return [int(i) for i in asnumpy(self.generate_batch(xs, start_id, sample_size))[0]]


class PeekySeq2seq(Seq2seq):
    """``Encoder`` + ``PeekyDecoder`` (book 2, 7.4.2)."""

    decoder_cls = PeekyDecoder


# --- attention (chapter 8) -------------------------------------------------------------------


class AttentionEncoder(Encoder):
    """The encoder whose ``forward(xs)`` returns every hidden state ``(N, T, H)``; ``backward(dhs)`` takes them all."""

    def forward(self, xs: Any) -> Any:
        self.hs = self.lstm.forward(self.embed.forward(as_ids(xs, self.params[0])))
        return self.hs

    def backward(self, dhs: Any) -> None:
        self.embed.backward(self.lstm.backward(dhs))


class AttentionDecoder(Decoder):
    """Embedding -> LSTM (from the encoder's last state) -> ``TimeAttention`` over the encoder's states; the context
    and the LSTM's output, concatenated ``(N, T, 2H)``, go to the affine layer ``W`` ``(2H, V)`` (book 2, 8.2)."""

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, *, dtype: Any = None) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = _embed(V, D, dtype)
        self.lstm = _lstm(D, H, dtype, stateful=True)
        self.attention = TimeAttention()
        self.affine = _affine(2 * H, V, dtype)
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.affine):
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, xs: Any, enc_hs: Any) -> Any:
        self.lstm.set_state(enc_hs[:, enc_hs.shape[1] - 1, :])
        return self._step(xs, enc_hs)

    def _step(self, x: Any, enc_hs: Any) -> Any:
        xp = get_namespace(enc_hs)
        dec_hs = self.lstm.forward(self.embed.forward(x))
        c = self.attention.forward(enc_hs, dec_hs)
        return self.affine.forward(xp.concat([c, dec_hs], axis=2))

    def backward(self, dscore: Any) -> Any:
        """Returns ``denc_hs`` ``(N, Te, H)``."""
        dout = self.affine.backward(dscore)
        H = dout.shape[2] // 2
        dc, ddec_hs0 = dout[:, :, :H], dout[:, :, H:]
        denc_hs, ddec_hs1 = self.attention.backward(dc)
        self.embed.backward(self.lstm.backward(ddec_hs0 + ddec_hs1))
        T = denc_hs.shape[1]
        denc_hs[:, T - 1, :] = denc_hs[:, T - 1, :] + self.lstm.dh
        return denc_hs

    def generate_batch(self, enc_hs: Any, start_id: Any, sample_size: int) -> Any:
        xp = get_namespace(enc_hs)
        self.lstm.set_state(enc_hs[:, enc_hs.shape[1] - 1, :])
        x = _start(xp, start_id, enc_hs.shape[0], self.params[0])
        out = []
        for _ in range(sample_size):
            score = self._step(x, enc_hs)
            x = xp.astype(xp.argmax(score[:, 0, :], axis=1), xp.int64)[:, None]
            out.append(x)
        return xp.concat(out, axis=1)


class AttentionSeq2seq(Seq2seq):
    """``AttentionEncoder`` + ``AttentionDecoder`` (book 2, 8.2); the weights of the last decoding are in
    ``decoder.attention.attention_weights``."""

    encoder_cls = AttentionEncoder
    decoder_cls = AttentionDecoder


# --- evaluation ------------------------------------------------------------------------------


def eval_seq2seq(
    model: Any, question: Any, correct: Any, id_to_char: dict, verbose: bool = False, is_reverse: bool = False
) -> int:
    """Book 2's ``eval_seq2seq``: 1 when the greedy answer to ``question`` ``(1, Tq)`` equals ``correct`` ``(1, Ta)``
    (whose first id, the separator, starts the decoding), else 0; ``verbose`` prints Q / T / the guess."""
    correct_ids = [int(i) for i in asnumpy(correct).reshape(-1)]
    start_id, correct_ids = correct_ids[0], correct_ids[1:]
    guess = _host_ids(model.generate(question, start_id, len(correct_ids)))
    q = "".join(id_to_char[int(c)] for c in asnumpy(question).reshape(-1))
    c = "".join(id_to_char[i] for i in correct_ids)
    g = "".join(id_to_char[i] for i in guess)
    if verbose:
        if is_reverse:
            q = q[::-1]
        mark = "O" if g == c else "X"
        print(f"Q {q}\nT {c}\n{mark} {g}\n---")
    return 1 if g == c else 0


def _host_ids(ids: Any) -> list[int]:
    """Ids as Python ints, read back once: an id array, or a list of ints or of 0-d arrays (book 2's ``generate``
    appends ``argmax`` results; a torch tensor hashes by identity and a CuPy 0-d array not at all)."""
    if is_array(ids):
        return [int(i) for i in asnumpy(ids).reshape(-1)]
    ids = list(ids)
    if ids and all(is_array(i) for i in ids):
        xp = get_namespace(*ids)
        return [int(i) for i in asnumpy(xp.stack([xp.reshape(i, ()) for i in ids]))]
    return [int(i) for i in ids]


def seq2seq_accuracy(model: Any, questions: Any, answers: Any, batch_size: int = 1000) -> float:
    """The fraction of ``questions`` ``(N, Tq)`` whose greedy answer equals ``answers[:, 1:]`` (``answers`` ``(N, Ta)``
    start with the separator), decoded ``batch_size`` questions at a time: ``eval_seq2seq`` for a whole set."""
    W = model.params[0]
    xp = get_namespace(W)
    questions, answers = as_ids(questions, W), as_ids(answers, W)
    _check_question_ids(model, questions, answers)
    n, T = answers.shape
    right = None
    for s in range(0, n, batch_size):
        stop = min(s + batch_size, n)
        q, a = questions[s:stop, ...], answers[s:stop, ...]
        guess = model.generate_batch(q, a[:, :1], T - 1)
        ok = xp.sum(xp.astype(xp.all(guess == xp.astype(a[:, 1:], guess.dtype), axis=1), xp.int64))
        right = ok if right is None else right + ok
    return float(right) / n if n else float("nan")
