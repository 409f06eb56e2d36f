"""Book 2's chapter 2-3 utilities (xpnet.text) with the book's numbers, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, assert_on

import xpnet
from xpnet import text

TEXT = "You say goodbye and I say hello."


def book_co_matrix(corpus, V, window=1):
    C = np.zeros((V, V), dtype=np.int32)
    for i, w in enumerate(corpus):
        for k in range(1, window + 1):
            if i - k >= 0:
                C[w, corpus[i - k]] += 1
            if i + k < len(corpus):
                C[w, corpus[i + k]] += 1
    return C


def loop_ppmi(C, eps=1e-8):
    """The book's double loop, written independently, in float64."""
    N, S = C.sum(), C.sum(axis=0)
    M = np.zeros(C.shape)
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            M[i, j] = max(0.0, np.log2(C[i, j] * N / (S[j] * S[i]) + eps))
    return M


def test_preprocess_numbers_words_in_order(backend):
    corpus, w2i, i2w = text.preprocess(TEXT)
    assert_on(backend, corpus)
    assert xpnet.asnumpy(corpus).tolist() == [0, 1, 2, 3, 4, 1, 5, 6]
    assert w2i == {"you": 0, "say": 1, "goodbye": 2, "and": 3, "i": 4, "hello": 5, ".": 6}
    assert i2w[6] == "."


@pytest.mark.parametrize("window", [1, 2, 3])
def test_co_matrix_matches_the_books_loop(backend, window):
    corpus, w2i, _ = text.preprocess(TEXT)
    C = text.create_co_matrix(corpus, len(w2i), window)
    assert_on(backend, C)
    expected = book_co_matrix(xpnet.asnumpy(corpus), len(w2i), window)
    np.testing.assert_array_equal(xpnet.asnumpy(C), expected)
    if window == 1:  # the book's printed matrix, first two rows
        assert xpnet.asnumpy(C)[0].tolist() == [0, 1, 0, 0, 0, 0, 0]
        assert xpnet.asnumpy(C)[1].tolist() == [1, 0, 1, 0, 1, 1, 0]


def test_cos_similarity_you_i(backend):
    corpus, w2i, _ = text.preprocess(TEXT)
    C = text.create_co_matrix(corpus, len(w2i))
    s = text.cos_similarity(C[w2i["you"], ...], C[w2i["i"], ...])
    assert float(s) == pytest.approx(0.7071067691154799, rel=1e-12)


def test_most_similar_order_as_printed_by_the_book(backend, capsys):
    corpus, w2i, i2w = text.preprocess(TEXT)
    C = text.create_co_matrix(corpus, len(w2i))
    found = text.most_similar("you", w2i, i2w, C, top=5)
    assert [w for w, _ in found] == ["goodbye", "i", "hello", "say", "and"]
    out = capsys.readouterr().out
    assert out.startswith("\n[query] you\n goodbye: 0.70710676")
    assert " and: 0.0" in out
    assert text.most_similar("cat", w2i, i2w, C) is None
    assert capsys.readouterr().out == "cat is not found\n"


def test_ppmi_matches_the_books_loop(backend):
    corpus, w2i, _ = text.preprocess(TEXT)
    C = text.create_co_matrix(corpus, len(w2i))
    M = text.ppmi(C, verbose=True)
    assert_on(backend, M)
    assert xpnet.backend.dtype_name(M) == "float32"
    expected = loop_ppmi(xpnet.asnumpy(C))
    assert_close(M, expected, rtol=1e-6, atol=1e-6)
    # the book prints this row for "you"
    assert_close(M[0, ...], [0.0, 1.807, 0.0, 0.0, 0.0, 0.0, 0.0], atol=1e-3)


def test_svd_reconstructs_the_ppmi_matrix(backend):
    corpus, w2i, _ = text.preprocess(TEXT)
    M = text.ppmi(text.create_co_matrix(corpus, len(w2i)), dtype=backend.dtype)
    U, S, Vh = text.svd(M)
    assert_on(backend, U)
    assert_close((U * S) @ Vh, M, atol=1e-4 if backend.dtype == "float32" else 1e-10)


def test_svd_falls_back_to_the_host(backend, monkeypatch):
    class NoLinalg:
        def __init__(self, xp):
            self.xp = xp

        def __getattr__(self, name):
            if name == "linalg":
                raise AttributeError(name)
            return getattr(self.xp, name)

    x = backend.asarray(np.random.default_rng(0).standard_normal((5, 3)))
    monkeypatch.setattr(text, "get_namespace", lambda *a: NoLinalg(xpnet.get_namespace(*a)))
    U, S, Vh = text.svd(x, full_matrices=False)
    assert_on(backend, U)
    assert_close((U * S) @ Vh, x, rtol=backend.rtol * 10, atol=backend.atol * 10)


def test_normalize_and_analogy(backend, capsys):
    W = backend.asarray(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0], [1.0, 1.0]]))
    assert_close(text.normalize(W)[2, ...], [0.6, 0.8], rtol=backend.rtol)
    assert_close(text.normalize(W[2, ...]), [0.6, 0.8], rtol=backend.rtol)
    w2i = {"a": 0, "b": 1, "c": 2, "d": 3}
    found = text.analogy("a", "b", "c", w2i, {v: k for k, v in w2i.items()}, W, top=1, answer="d")
    assert [w for w, _ in found] == ["d"]
    out = capsys.readouterr().out
    assert "[analogy] a:b = c:?" in out and "==>d:" in out


def test_create_contexts_target(backend):
    corpus, _, _ = text.preprocess(TEXT)
    contexts, target = text.create_contexts_target(corpus, window_size=1)
    assert_on(backend, contexts)
    assert xpnet.asnumpy(contexts).tolist() == [[0, 2], [1, 3], [2, 4], [3, 1], [4, 5], [1, 6]]
    assert xpnet.asnumpy(target).tolist() == [1, 2, 3, 4, 1, 5]
    c2, t2 = text.create_contexts_target(corpus, window_size=2)
    assert xpnet.asnumpy(c2)[0].tolist() == [0, 1, 3, 4] and xpnet.asnumpy(t2).tolist() == [2, 3, 4, 1]
    with pytest.raises(ValueError, match="neighbours"):
        text.create_contexts_target(corpus, window_size=4)


def test_convert_one_hot(backend):
    corpus, w2i, _ = text.preprocess(TEXT)
    contexts, target = text.create_contexts_target(corpus)
    t = text.convert_one_hot(target, len(w2i))
    c = text.convert_one_hot(contexts, len(w2i))
    assert tuple(t.shape) == (6, 7) and tuple(c.shape) == (6, 2, 7)
    assert xpnet.backend.dtype_name(c) == "int32"
    np.testing.assert_array_equal(xpnet.asnumpy(c)[0], np.eye(7, dtype=np.int32)[[0, 2]])


def test_co_matrix_of_a_large_vocabulary(backend):
    """2,000 words as in book 2's count_method_big (PTB has 10,000): a scatter-add, not V x V work per pair."""
    ids = np.random.default_rng(4).integers(0, 2000, 20_000)
    C = text.create_co_matrix(xpnet.asarray(ids), 2000, window_size=2)
    expected = np.zeros((2000, 2000), dtype=np.int32)
    for k in (1, 2):
        np.add.at(expected, (ids[:-k], ids[k:]), 1)
        np.add.at(expected, (ids[k:], ids[:-k]), 1)
    assert_on(backend, C)
    np.testing.assert_array_equal(xpnet.asnumpy(C), expected)
