"""Book 2's language models (chapters 5-6): gradients of each model's loss, weight tying, checkpoints, generation,
the trainer's batches, and learning a known Markov chain to its true perplexity."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from helpers import assert_close
from rnn_helpers import one_torch_thread, sampled_gradient_check  # noqa: F401
from test_no_sync import HostSyncError, needs_guard, no_host_sync

import xpnet
from xpnet.optimizers import SGD, Adam
from xpnet.rnnlm import BetterRnnlm, BetterRnnlmGen, Rnnlm, RnnlmGen, SimpleRnnlm, eval_perplexity, sample_ids
from xpnet.trainer2 import RnnlmTrainer

V = 7


def ids(case, shape, seed=0, high=V):
    return case.asarray(np.random.default_rng(seed).integers(0, high, shape), dtype="int64")


MODELS = {
    "SimpleRnnlm": lambda: SimpleRnnlm(V, 3, 2, dtype="float64"),
    "Rnnlm": lambda: Rnnlm(V, 3, 2, dtype="float64"),
    "BetterRnnlm": lambda: BetterRnnlm(V, 3, 3, dropout_ratio=0.5, dtype="float64"),
}


@pytest.mark.parametrize("kind", MODELS)
def test_model_loss_gradients(backend64, kind):
    model = MODELS[kind]()
    xs, ts = ids(backend64, (2, 3), 1), ids(backend64, (2, 3), 2)
    ts = backend64.xp.where(ts == 0, backend64.xp.full_like(ts, -1), ts)  # some ignored positions

    def loss():
        model.reset_state()
        return model.forward(xs, ts, train_flg=False) if kind == "BetterRnnlm" else model.forward(xs, ts)

    loss()
    model.backward()
    analytic = [backend64.xp.asarray(g, copy=True) for g in model.grads]
    assert len(analytic) == len(model.params)
    sampled_gradient_check(loss, analytic, model.params)


def test_better_rnnlm_declares_the_tie():
    model = BetterRnnlm(V, 4, 4)
    W = model.params[0]
    assert sum(p is W for p in model.params) == 1  # listed once
    assert model.affine.embedding.params[0] is W  # and used by the output layer
    assert len(model.params) == len(model.grads) == 1 + 3 + 3 + 1
    with pytest.raises(ValueError, match="wordvec_size 4 must equal hidden_size 5"):
        BetterRnnlm(V, 4, 5)


def test_checkpoint_round_trip_across_backends(backend, tmp_path):
    with xpnet.use_backend("numpy"):
        xpnet.seed(3)
        saved = BetterRnnlm(V, 4, 4, dtype=backend.dtype)
        saved.save_params(tmp_path / "m.npz")
        xs = np.random.default_rng(0).integers(0, V, (2, 5))
        expected = xpnet.asnumpy(saved.predict(xs))
    model = BetterRnnlm(V, 4, 4, dtype=backend.dtype)
    W = model.params[0]
    model.load_params(tmp_path / "m.npz")
    assert model.params[0] is W and model.affine.embedding.params[0] is W  # loaded in place: the tie holds
    assert_close(model.predict(backend.asarray(xs, dtype="int64")), expected, rtol=backend.rtol, atol=backend.atol)
    with pytest.raises(ValueError, match="another model.s checkpoint"):
        Rnnlm(V, 4, 4).load_params(tmp_path / "m.npz")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".xpnet-")]


def test_generate_is_seeded_and_skips(backend):
    def run():
        xpnet.seed(5)
        return RnnlmGen(V, 4, 4, dtype=backend.dtype).generate(1, skip_ids=[0, 2], sample_size=30)

    a, b = run(), run()
    assert a == b and len(a) == 30 and a[0] == 1
    assert not {0, 2} & set(a[1:]) and all(0 <= i < V for i in a)
    better = BetterRnnlmGen(V, 4, 4, dtype=backend.dtype).generate(3, sample_size=5)
    assert len(better) == 5


def test_sample_ids_follows_the_probabilities(backend):
    p = backend.asarray(np.array([[0.0, 0.25, 0.0, 0.75]] * 4000))
    u = backend.asarray(np.random.default_rng(0).random(4000))
    drawn = xpnet.asnumpy(sample_ids(p, u))
    counts = np.bincount(drawn, minlength=4)
    assert counts[0] == counts[2] == 0 and abs(counts[3] / 4000 - 0.75) < 0.03


def books_batches(x, t, batch_size, time_size, n):
    """The book's per-element loop, for comparison."""
    size, jump, time_idx = len(x), len(x) // batch_size, 0
    out = []
    for _ in range(n):
        bx, bt = np.empty((batch_size, time_size), dtype=int), np.empty((batch_size, time_size), dtype=int)
        for time in range(time_size):
            for i in range(batch_size):
                bx[i, time] = x[(i * jump + time_idx) % size]
                bt[i, time] = t[(i * jump + time_idx) % size]
            time_idx += 1
        out.append((bx, bt))
    return out


def test_trainer_batches_are_the_books(backend):
    corpus = np.arange(103) * 3 % 101
    x, t = corpus[:-1], corpus[1:]
    trainer = RnnlmTrainer(Rnnlm(101, 2, 2), SGD())
    xd, td = backend.asarray(x, dtype="int64"), backend.asarray(t, dtype="int64")
    for bx, bt in books_batches(x, t, 4, 5, 7):
        gx, gt = trainer.get_batch(xd, td, 4, 5)
        np.testing.assert_array_equal(xpnet.asnumpy(gx), bx)
        np.testing.assert_array_equal(xpnet.asnumpy(gt), bt)


def test_eval_perplexity_is_the_books(backend):
    xpnet.seed(1)
    model = Rnnlm(V, 3, 4, dtype="float64")
    corpus = np.random.default_rng(4).integers(0, V, 200)
    model.reset_state()
    got = eval_perplexity(model, backend.asarray(corpus, dtype="int64"), batch_size=3, time_size=5)
    model.reset_state()
    max_iters, jump, total = (200 - 1) // 15, (200 - 1) // 3, 0.0
    for it in range(max_iters):
        xs, ts = np.zeros((3, 5), dtype=int), np.zeros((3, 5), dtype=int)
        for t in range(5):
            for i in range(3):
                xs[i, t] = corpus[(it * 5 + i * jump + t) % 200]
                ts[i, t] = corpus[(it * 5 + i * jump + t + 1) % 200]
        total += float(model.forward(backend.asarray(xs, dtype="int64"), backend.asarray(ts, dtype="int64")))
    assert abs(got - np.exp(total / max_iters)) < 1e-9 * got


# --- learning a known Markov chain ------------------------------------------------------------


def markov_chain(K=10, seed=0):
    """A random transition matrix and its true perplexity exp(entropy rate) under the stationary distribution."""
    r = np.random.default_rng(seed)
    P = r.dirichlet(np.full(K, 0.3), size=K)
    w, v = np.linalg.eig(P.T)
    pi = np.real(v[:, np.argmin(abs(w - 1))])
    pi /= pi.sum()
    logs = np.log(np.where(P > 0, P, 1.0))
    return P, float(np.exp(-np.sum(pi[:, None] * P * logs)))


def markov_text(P, n, seed):
    r = np.random.default_rng(seed)
    cdf = np.cumsum(P, axis=1)
    u = r.random(n)
    out, s = np.empty(n, dtype=np.int64), 0
    for i in range(n):
        s = min(int(np.searchsorted(cdf[s], u[i], side="right")), len(P) - 1)
        out[i] = s
    return out


def test_lstm_language_model_learns_a_markov_chain_to_its_true_perplexity(backend):
    P, true_ppl = markov_chain()
    xpnet.seed(0)
    train = backend.asarray(markov_text(P, 6000, 1), dtype="int64")
    test = backend.asarray(markov_text(P, 2000, 2), dtype="int64")
    model = Rnnlm(10, 8, 16, dtype=backend.dtype)
    trainer = RnnlmTrainer(model, Adam(0.03))
    with contextlib.redirect_stdout(io.StringIO()) as out:
        trainer.fit(train[:-1], train[1:], max_epoch=3, batch_size=50, time_size=4, max_grad=5.0, eval_interval=10)
    assert len(trainer.ppl_list) == 9 and "perplexity" in out.getvalue()
    model.reset_state()
    ppl = eval_perplexity(model, test, batch_size=10, time_size=20)
    assert abs(ppl / true_ppl - 1) < 0.10, (ppl, true_ppl)


# --- no host reads in the training step -------------------------------------------------------


def test_rnnlm_training_step_with_clipping_stays_on_the_device(backend, monkeypatch):
    needs_guard(backend)
    model = BetterRnnlm(V, 4, 4, dtype=backend.dtype)
    corpus = ids(backend, (400,), 3)
    trainer = RnnlmTrainer(model, Adam())
    xs, ts = corpus[:-1], corpus[1:]  # the same arrays each time: their ids are checked (read) once, by the first fit
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.fit(xs, ts, max_epoch=1, batch_size=4, time_size=5, max_grad=0.25, eval_interval=None)
        with no_host_sync(backend, monkeypatch):
            trainer.fit(xs, ts, max_epoch=1, batch_size=4, time_size=5, max_grad=0.25, eval_interval=None)
            with pytest.raises(HostSyncError):
                trainer.fit(xs, ts, max_epoch=1, batch_size=4, time_size=5, eval_interval=5)


def test_benchmark_contenders_compute_the_same_steps(monkeypatch):
    """benchmarks.rnnlm times xpnet, the book's step and PyTorch on the same arithmetic (three stateful steps)."""
    bench = pytest.importorskip("benchmarks.rnnlm")
    for name, value in {"V": 30, "D": 5, "H": 4, "BATCH": 3, "TIME": 4}.items():
        monkeypatch.setattr(bench, name, value)
    weights, batches = bench.rnnlm_weights(30, 5, 4), bench.rnnlm_batches(3, 30)
    makers = {"xpnet": bench.xpnet_rnnlm, "book": bench.book_rnnlm_step}
    if bench.torch is not None:
        makers["torch"] = bench.torch_rnnlm
    losses = {}
    for k, make in makers.items():
        step = make(weights, 1.0, 0.25)
        losses[k] = [float(step(x, t)) for x, t in batches]
    for k, v in losses.items():
        np.testing.assert_allclose(v, losses["book"], rtol=1e-4, err_msg=k)


def test_attention_benchmark_contenders_compute_the_same_steps(monkeypatch):
    bench = pytest.importorskip("benchmarks.rnnlm")
    if bench.torch is None:
        pytest.skip("needs PyTorch")
    for name, value in {"AV": 12, "AD": 3, "AH": 4, "AN": 5, "TQ": 6, "TA": 4}.items():
        monkeypatch.setattr(bench, name, value)
    weights = bench.attention_weights()
    r = np.random.default_rng(2)
    batches = [(r.integers(0, 12, (5, 6)), r.integers(0, 12, (5, 4))) for _ in range(3)]
    losses = {}
    for k, make in {"xpnet": bench.xpnet_attention, "torch": bench.torch_attention}.items():
        step = make(weights)
        losses[k] = [float(step(x, t)) for x, t in batches]
    np.testing.assert_allclose(losses["torch"], losses["xpnet"], rtol=1e-4)


def test_attention_benchmark_book_contender_computes_the_same_steps(monkeypatch):
    """benchmarks/book_attention.py (the book's ch08 step in plain NumPy) against xpnet: the first loss, and the
    losses after one and two Adam steps, agree in float32 (the book's layers compute in float32)."""
    bench = pytest.importorskip("benchmarks.rnnlm")
    for name, value in {"AV": 12, "AD": 3, "AH": 4, "AN": 5, "TQ": 6, "TA": 4}.items():
        monkeypatch.setattr(bench, name, value)
    weights = bench.attention_weights()
    r = np.random.default_rng(3)
    batches = [(r.integers(0, 12, (5, 6)), r.integers(0, 12, (5, 4))) for _ in range(2)]
    batches.insert(1, batches[0])  # the first batch twice: the second loss shows the first step's update
    losses = {}
    for k, make in {"xpnet": bench.xpnet_attention, "book": bench.book_attention_step}.items():
        step = make(weights)
        losses[k] = [float(step(x, t)) for x, t in batches]
    np.testing.assert_allclose(losses["book"], losses["xpnet"], rtol=1e-5)
    assert losses["book"][1] < losses["book"][0]  # Adam moved the weights, downhill on that batch
