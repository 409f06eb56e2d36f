"""Plain NumPy transcription of book 2's AttentionSeq2seq training step, for the benchmark.

Written for xpnet from the structure the book publishes: ``ch08/attention_layer.py`` (``AttentionWeight``
and ``WeightSum`` joined in ``Attention``; ``TimeAttention`` makes one ``Attention`` per decoder time step and
loops over them, forward and backward), ``ch08/attention_seq2seq.py`` (``AttentionEncoder`` returns every hidden
state; ``AttentionDecoder`` starts its stateful LSTM from the encoder's last state and feeds ``concat(c, h)`` to
its affine layer), ``ch07/seq2seq.py``'s teacher forcing (the decoder reads ``ts[:, :-1]`` and predicts
``ts[:, 1:]``), and ``common/optimizer.py``'s ``Adam``. The time layers (``TimeEmbedding``, ``TimeLSTM``,
``TimeAffine``, ``TimeSoftmaxWithLoss``) are the ones of benchmarks/book_rnnlm.py (``common/time_layers.py``).

The step is ``common/trainer.py``'s ``Trainer.fit`` iteration without ``remove_duplicate`` (this model
shares no weights) and, by default, without clipping, as the other contenders of benchmarks/rnnlm.py do
(``ch08/train.py`` itself passes ``max_grad=5.0``: give it to ``step`` to time that). float32 throughout.
"""

from __future__ import annotations

import numpy as np

from benchmarks.book_common import Adam  # noqa: F401
from benchmarks.book_rnnlm import TimeAffine, TimeEmbedding, TimeSoftmaxWithLoss, clip_grads, softmax
from benchmarks.book_rnnlm import TimeLSTM as _TimeLSTM


class TimeLSTM(_TimeLSTM):
    """book_rnnlm's TimeLSTM plus the book's ``set_state`` (the decoder starts from the encoder's last state)."""

    def set_state(self, h, c=None):
        self.h, self.c = h, c


class Softmax:
    """common/layers.py's Softmax over the last axis of a 2-D array."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = softmax(x)
        return self.out

    def backward(self, dout):
        dx = self.out * dout
        dx -= self.out * np.sum(dx, axis=1, keepdims=True)
        return dx


class WeightSum:
    """c = sum_t a[n, t] hs[n, t, :]: hs (N, T, H), a (N, T) -> c (N, H)."""

    def __init__(self):
        self.cache = None

    def forward(self, hs, a):
        N, T, H = hs.shape
        ar = a.reshape(N, T, 1)
        self.cache = (hs, ar)
        return np.sum(hs * ar, axis=1)

    def backward(self, dc):
        hs, ar = self.cache
        N, T, H = hs.shape
        dt = dc.reshape(N, 1, H).repeat(T, axis=1)  # the book repeats explicitly (the sum's backward)
        dhs = dt * ar
        da = np.sum(dt * hs, axis=2)
        return dhs, da


class AttentionWeight:
    """a = softmax_t(hs[n, t, :] . h[n, :]): hs (N, T, H), h (N, H) -> a (N, T)."""

    def __init__(self):
        self.softmax = Softmax()
        self.cache = None

    def forward(self, hs, h):
        N, T, H = hs.shape
        hr = h.reshape(N, 1, H)
        s = np.sum(hs * hr, axis=2)
        self.cache = (hs, hr)
        return self.softmax.forward(s)

    def backward(self, da):
        hs, hr = self.cache
        N, T, H = hs.shape
        ds = self.softmax.backward(da)
        dt = ds.reshape(N, T, 1).repeat(H, axis=2)
        dhs = dt * hr
        dh = np.sum(dt * hs, axis=1)
        return dhs, dh


class Attention:
    """One decoder time step: AttentionWeight then WeightSum; backward returns (dhs (N, T, H), dh (N, H))."""

    def __init__(self):
        self.attention_weight_layer = AttentionWeight()
        self.weight_sum_layer = WeightSum()
        self.attention_weight = None

    def forward(self, hs, h):
        a = self.attention_weight_layer.forward(hs, h)
        self.attention_weight = a
        return self.weight_sum_layer.forward(hs, a)

    def backward(self, dout):
        dhs0, da = self.weight_sum_layer.backward(dout)
        dhs1, dh = self.attention_weight_layer.backward(da)
        return dhs0 + dhs1, dh


class TimeAttention:
    """One fresh Attention per decoder step, looped in Python as the book does."""

    def __init__(self):
        self.params, self.grads = [], []
        self.layers = None
        self.attention_weights = None

    def forward(self, hs_enc, hs_dec):
        N, T, H = hs_dec.shape
        out = np.empty_like(hs_dec)
        self.layers, self.attention_weights = [], []
        for t in range(T):
            layer = Attention()
            out[:, t, :] = layer.forward(hs_enc, hs_dec[:, t, :])
            self.layers.append(layer)
            self.attention_weights.append(layer.attention_weight)
        return out

    def backward(self, dout):
        N, T, H = dout.shape
        dhs_enc = 0
        dhs_dec = np.empty_like(dout)
        for t in range(T):
            dhs, dh = self.layers[t].backward(dout[:, t, :])
            dhs_enc += dhs  # 0 + array on the first step: a new array, then accumulated in place
            dhs_dec[:, t, :] = dh
        return dhs_enc, dhs_dec


class AttentionEncoder:
    """Embedding -> TimeLSTM (not stateful); forward returns all hidden states (N, T, H)."""

    def __init__(self, embed_W, lstm_Wx, lstm_Wh, lstm_b):
        self.embed = TimeEmbedding(embed_W)
        self.lstm = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=False)
        self.params = self.embed.params + self.lstm.params
        self.grads = self.embed.grads + self.lstm.grads

    def forward(self, xs):
        return self.lstm.forward(self.embed.forward(xs))

    def backward(self, dhs):
        self.embed.backward(self.lstm.backward(dhs))


class AttentionDecoder:
    """Embedding -> stateful TimeLSTM from the encoder's last state -> TimeAttention -> TimeAffine on concat(c, h)."""

    def __init__(self, embed_W, lstm_Wx, lstm_Wh, lstm_b, affine_W, affine_b):
        self.embed = TimeEmbedding(embed_W)
        self.lstm = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True)
        self.attention = TimeAttention()
        self.affine = TimeAffine(affine_W, affine_b)
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.attention, self.affine):
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, xs, enc_hs):
        self.lstm.set_state(enc_hs[:, -1])
        dec_hs = self.lstm.forward(self.embed.forward(xs))
        c = self.attention.forward(enc_hs, dec_hs)
        return self.affine.forward(np.concatenate((c, dec_hs), axis=2))

    def backward(self, dscore):
        dout = self.affine.backward(dscore)
        H = dout.shape[2] // 2
        dc, ddec_hs0 = dout[:, :, :H], dout[:, :, H:]
        denc_hs, ddec_hs1 = self.attention.backward(dc)
        dout = self.lstm.backward(ddec_hs0 + ddec_hs1)
        denc_hs[:, -1] += self.lstm.dh  # the LSTM's initial state was the encoder's last
        self.embed.backward(dout)
        return denc_hs


class AttentionSeq2seq:
    """ch08's model built from given weights, in the book's parameter order: the encoder's (embed_W, lstm_Wx,
    lstm_Wh, lstm_b) then the decoder's (embed_W, lstm_Wx, lstm_Wh, lstm_b, affine_W (2H, V), affine_b)."""

    def __init__(self, weights):
        w = [np.array(a, copy=True) for a in weights]
        self.encoder = AttentionEncoder(*w[:4])
        self.decoder = AttentionDecoder(*w[4:])
        self.softmax = TimeSoftmaxWithLoss()
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads

    def forward(self, xs, ts):
        decoder_xs, decoder_ts = ts[:, :-1], ts[:, 1:]
        h = self.encoder.forward(xs)
        score = self.decoder.forward(decoder_xs, h)
        return self.softmax.forward(score, decoder_ts)

    def backward(self, dout=1):
        dout = self.softmax.backward(dout)
        self.encoder.backward(self.decoder.backward(dout))


def step(model, optimizer, xs, ts, max_grad=None):
    """One Trainer.fit iteration on a batch: forward, backward, (clip), update; returns the loss (a NumPy scalar)."""
    loss = model.forward(xs, ts)
    model.backward()
    if max_grad is not None:
        clip_grads(model.grads, max_grad)
    optimizer.update(model.params, model.grads)
    return loss
