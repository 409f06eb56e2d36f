"""Book 2's seq2seq and attention (chapters 7-8), and the sequence data sets."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from helpers import assert_close
from rnn_helpers import one_torch_thread, sampled_gradient_check  # noqa: F401
from test_no_sync import needs_guard, no_host_sync

import xpnet
from xpnet import sequence
from xpnet.attention import Attention, AttentionWeight, TimeAttention, WeightSum
from xpnet.optimizers import Adam
from xpnet.seq2seq import AttentionSeq2seq, PeekySeq2seq, Seq2seq, eval_seq2seq, seq2seq_accuracy
from xpnet.trainer2 import clip_grads

N, T, H = 2, 4, 3


def rand(case, *shape, seed=0):
    return case.asarray(np.random.default_rng(seed).standard_normal(shape))


def check(case, loss, analytic, arrays):
    for g, a in zip(analytic, arrays):
        assert_close(g, xpnet.numerical_gradient(lambda _: loss(), a), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "cls,shapes",
    [
        (WeightSum, [(N, T, H), (N, T)]),
        (AttentionWeight, [(N, T, H), (N, H)]),
        (Attention, [(N, T, H), (N, H)]),
        (TimeAttention, [(N, T, H), (N, 3, H)]),
    ],
)
def test_attention_layer_gradients(backend64, cls, shapes):
    layer = cls()
    a, b = rand(backend64, *shapes[0], seed=1), rand(backend64, *shapes[1], seed=2)
    out = layer.forward(a, b)
    dout = rand(backend64, *out.shape, seed=3)
    xp = backend64.xp
    da, db = layer.backward(dout)
    check(backend64, lambda: xp.sum(layer.forward(a, b) * dout), [da, db], [a, b])


def test_time_attention_is_the_books_loop_of_attention_layers(backend):
    hs_enc, hs_dec = rand(backend, N, T, H, seed=1), rand(backend, N, 3, H, seed=2)
    dout = rand(backend, N, 3, H, seed=3)
    layer = TimeAttention()
    out = layer.forward(hs_enc, hs_dec)
    denc, ddec = layer.backward(dout)
    steps = [Attention() for _ in range(3)]
    for t, step in enumerate(steps):
        assert_close(out[:, t, :], step.forward(hs_enc, hs_dec[:, t, :]), rtol=backend.rtol, atol=backend.atol)
        assert_close(layer.attention_weights[t], step.attention_weight, rtol=backend.rtol, atol=backend.atol)
    total = 0.0
    for t, step in enumerate(steps):
        dhs, dh = step.backward(dout[:, t, :])
        total = total + dhs
        assert_close(ddec[:, t, :], dh, rtol=backend.rtol, atol=backend.atol)
    assert_close(denc, total, rtol=backend.rtol, atol=backend.atol)


MODELS = {"Seq2seq": Seq2seq, "PeekySeq2seq": PeekySeq2seq, "AttentionSeq2seq": AttentionSeq2seq}


def ids(case, shape, seed, high=6):
    return case.asarray(np.random.default_rng(seed).integers(0, high, shape), dtype="int64")


@pytest.mark.parametrize("kind", MODELS)
def test_model_loss_gradients(backend64, kind):
    model = MODELS[kind](6, 3, 4, dtype="float64")
    xs, ts = ids(backend64, (2, 4), 1), ids(backend64, (2, 3), 2)
    model.forward(xs, ts)
    model.backward()
    analytic = [backend64.xp.asarray(g, copy=True) for g in model.grads]
    sampled_gradient_check(lambda: model.forward(xs, ts), analytic, model.params)


@pytest.mark.parametrize("kind", MODELS)
def test_generate_and_eval(backend, kind):
    model = MODELS[kind](6, 4, 5, dtype=backend.dtype)
    xs = ids(backend, (3, 4), 1)
    batch = model.generate_batch(xs, 2, 5)
    assert tuple(batch.shape) == (3, 5)
    one = model.generate(xs[:1, :], 2, 5)
    assert one == [int(i) for i in xpnet.asnumpy(batch)[0]]
    id_to_char = dict(enumerate("abcdef"))
    correct = backend.asarray(np.array([[2, *one]]), dtype="int64")
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert eval_seq2seq(model, xs[:1, :], correct, id_to_char, verbose=True, is_reverse=True) == 1
    assert out.getvalue().startswith("Q ")
    answers = backend.asarray(np.concatenate([np.full((3, 1), 2), xpnet.asnumpy(batch)], axis=1), dtype="int64")
    assert seq2seq_accuracy(model, xs, answers, batch_size=2) == 1.0


def test_attention_seq2seq_learns_to_reverse(backend):
    """A tiny learning check: reversing 3 symbols, which attention makes easy (60 Adam steps)."""
    r = np.random.default_rng(0)
    q = r.integers(1, 5, (300, 3))
    a = np.concatenate([np.zeros((300, 1), dtype=int), q[:, ::-1]], axis=1)  # 0 is the separator
    xs, ts = backend.asarray(q, dtype="int64"), backend.asarray(a, dtype="int64")
    xpnet.seed(0)
    model = AttentionSeq2seq(5, 8, 16, dtype=backend.dtype)
    opt = Adam(0.05)
    for _ in range(6):
        for s in range(0, 300, 30):
            model.forward(xs[s : s + 30, ...], ts[s : s + 30, ...])
            model.backward()
            opt.update(model.params, model.grads)
    assert seq2seq_accuracy(model, xs, ts) > 0.95


def test_seq2seq_step_stays_on_the_device(backend, monkeypatch):
    needs_guard(backend)
    model = AttentionSeq2seq(6, 4, 4, dtype=backend.dtype)
    xs, ts = ids(backend, (5, 4), 1), ids(backend, (5, 3), 2)
    opt = Adam()
    model.forward(xs, ts)
    model.backward()
    opt.update(model.params, model.grads)
    with no_host_sync(backend, monkeypatch):
        for _ in range(2):
            model.forward(xs, ts)
            model.backward()
            clip_grads(model.grads, 1.0)
            opt.update(model.params, model.grads)
        model.generate_batch(xs, 0, 3)


# --- data sets ---------------------------------------------------------------------------------


def test_generated_lines_have_the_books_format():
    for line in sequence.generate_addition(200, seed=1):
        q, a = line[:7], line[7:]
        assert len(line) == 12 and a.startswith("_")
        x, y = map(int, q.strip().split("+"))
        assert int(a[1:]) == x + y
    for line in sequence.generate_date(200, seed=1):
        q, a = line[:29], line[29:]
        assert len(line) == 40 and a[0] == "_" and len(a[1:].split("-")) == 3


def test_load_data_reads_the_books_layout(backend, tmp_path):
    lines = sequence.generate_addition(50, seed=2)
    path = tmp_path / "add.txt"
    path.write_text("".join(line + "\n" for line in lines))
    (x_train, t_train), (x_test, t_test) = sequence.load_data(path, seed=1984)
    assert tuple(x_train.shape) == (45, 7) and tuple(t_test.shape) == (5, 5)
    char_to_id, id_to_char = sequence.get_vocab()
    order = np.arange(50)
    np.random.RandomState(1984).shuffle(order)  # the book's split
    first = "".join(id_to_char[int(i)] for i in xpnet.asnumpy(x_train)[0]) + "".join(
        id_to_char[int(i)] for i in xpnet.asnumpy(t_train)[0]
    )
    assert first == lines[order[0]]
    with pytest.raises(ValueError, match="no '_'"):
        bad = tmp_path / "bad.txt"
        bad.write_text("12+3\n")
        sequence.load_data(bad)


def test_load_addition_prefers_the_books_file_and_generates_otherwise(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("XPNET_DATA_DIR", raising=False)
    home = tmp_path / "home"
    (home / "sequence").mkdir(parents=True)
    (home / "sequence" / "addition.txt").write_text("1+1    _2   \n" * 20)
    (x, t), (xt, tt) = sequence.load_addition(data_home=home)
    assert tuple(x.shape) == (18, 7) and tuple(xt.shape) == (2, 7)
    real = sequence.generate_addition
    monkeypatch.setattr(sequence, "generate_addition", lambda: real(100, 0))
    (x, t), (xt, tt) = sequence.load_addition()
    assert tuple(x.shape) == (90, 7) and tuple(t.shape) == (90, 5)
    generated = tmp_path / "cache" / "xpnet" / "sequence" / "addition.generated.txt"
    assert generated.read_text().splitlines() == real(100, 0)
    assert [p.name for p in generated.parent.iterdir()] == ["addition.generated.txt"]  # no temporary left


def test_attention_map_plot(tmp_path):
    pytest.importorskip("matplotlib")
    from xpnet import plot

    w = np.random.default_rng(0).dirichlet(np.ones(4), size=3)
    fig = plot.attention_map(w, list("abc"), list("wxyz"), path=tmp_path / "att.png")
    assert (tmp_path / "att.png").read_bytes()[:4] == b"\x89PNG" and fig.axes[0].get_xlabel() == "input"
    with pytest.raises(ValueError, match="3 row and 3 column"):
        plot.attention_map(w, list("abc"), list("xyz"))


class BookGenerate(Seq2seq):
    """Book 2 ch07/ch08's ``generate``: one ``argmax`` per step, appended as a 0-d array (a torch tensor hashes by
    identity, a CuPy 0-d array not at all), or handed back as an array."""

    as_array = False

    def generate(self, xs, start_id, sample_size):
        row = self.generate_batch(xs, start_id, sample_size)[0, ...]
        return row if self.as_array else [row[i] for i in range(sample_size)]


@pytest.mark.parametrize("as_array", [False, True])
def test_eval_seq2seq_takes_the_ids_a_books_generate_returns(backend, as_array):
    model = BookGenerate(6, 4, 5, dtype=backend.dtype)
    model.as_array = as_array
    xs = ids(backend, (1, 4), 1)
    guess = model.generate(xs, 2, 5)
    assert as_array or all(getattr(g, "ndim", None) == 0 for g in guess)
    answer = [int(i) for i in xpnet.asnumpy(model.generate_batch(xs, 2, 5))[0]]
    id_to_char = dict(enumerate("abcdef"))
    correct = backend.asarray(np.array([[2, *answer]]), dtype="int64")
    assert eval_seq2seq(model, xs, correct, id_to_char) == 1
    wrong = backend.asarray(np.array([[2, *[(i + 1) % 6 for i in answer]]]), dtype="int64")
    assert eval_seq2seq(model, xs, wrong, id_to_char) == 0
