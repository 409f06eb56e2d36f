"""The word2vec benchmark compares like with like: the book's code (benchmarks/book_word2vec.py) and xpnet's
CBOW give the same loss and the same Adam step from the same weights, batch and negatives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xpnet
from xpnet.book2 import CBOW, Adam, Trainer

ROOT = Path(__file__).parent.parent


@pytest.fixture
def book(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import book_word2vec

    return book_word2vec


def test_book_transcription_and_xpnet_take_the_same_step(book):
    r = np.random.default_rng(0)
    V, H, w, N = 30, 6, 2, 8
    corpus = np.concatenate([np.arange(V), r.integers(0, V, 200)])
    W_in, W_out = 0.1 * r.standard_normal((V, H)), 0.1 * r.standard_normal((V, H))
    contexts, target = r.integers(0, V, (N, 2 * w)), r.integers(0, V, N)
    neg = (target[:, None] + r.integers(1, V, (N, 5))) % V  # never the target

    ref = book.CBOW(W_in.copy(), W_out.copy(), w, corpus, r)
    ref.ns_loss.sampler.get_negative_sample = lambda t: neg
    ref_loss = book.book_cbow_step(ref, book.Adam())(contexts, target)

    model = CBOW(V, H, w, corpus, dtype="float64")
    model.params[0][...], model.params[1][...] = W_in, W_out
    model.ns_loss.sampler.get_negative_sample = lambda t: neg
    loss = Trainer(model, Adam()).step(contexts, target)

    assert float(loss) == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(xpnet.asnumpy(model.params[0]), ref.params[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(xpnet.asnumpy(model.params[1]), ref.ns_loss.params[0], rtol=1e-12, atol=1e-15)
    assert not np.allclose(model.params[0], W_in)  # the step moved the weights


def test_benchmark_index_add_paths_agree(book, monkeypatch):
    from benchmarks import word2vec as bench

    r = np.random.default_rng(1)
    idx = r.integers(0, 40, 300)
    src = r.standard_normal((300, 3)).astype(np.float32)
    ref = np.zeros((40, 3), np.float32)
    np.add.at(ref, idx, src)
    for fn in (bench.sort_reduceat, bench.bincount_columns, bench.one_hot_blocks, xpnet.backend.index_add):
        out = np.zeros((40, 3), np.float32)
        fn(out, idx, src)
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
