"""Book 2's word2vec models (xpnet.word2vec): gradient checks, the sampler, declared sharing, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, assert_on

import xpnet
from xpnet import text
from xpnet.word2vec import (
    CBOW,
    EmbeddingDot,
    NegativeSamplingLoss,
    SimpleCBOW,
    SimpleSkipGram,
    SkipGram,
    UnigramSampler,
)

V, H = 7, 3
CORPUS = [0, 1, 2, 3, 4, 1, 5, 6, 0, 1, 2, 2, 5, 3]


def ids(a):
    return xpnet.asarray(np.asarray(a, dtype=np.int64))


def check(f, arrays, grads, rtol=1e-6, atol=1e-8):
    for p, g in zip(arrays, grads):
        assert_close(g, xpnet.numerical_gradient(f, p), rtol=rtol, atol=atol)


def test_embedding_dot_gradient(backend64):
    r = np.random.default_rng(0)
    W = backend64.asarray(r.standard_normal((V, H)))
    h = backend64.asarray(r.standard_normal((4, H)))
    idx = ids([3, 0, 3, 6])
    layer = EmbeddingDot(W)
    out = layer.forward(h, idx)
    dout = backend64.asarray(r.standard_normal(4))
    dh = layer.backward(dout)
    dW = backend64.xp.asarray(layer.grads[0], copy=True)
    f = lambda _: backend64.xp.sum(layer.forward(h, idx) * dout)  # noqa: E731
    check(f, [h, W], [dh, dW])
    assert tuple(out.shape) == (4,)


def fixed_negatives(N, K=2, seed=1):
    return ids(np.random.default_rng(seed).integers(0, V, (N, K)))


def test_negative_sampling_loss_gradient_with_fixed_negatives(backend64):
    r = np.random.default_rng(0)
    W = backend64.asarray(r.standard_normal((V, H)))
    h = backend64.asarray(r.standard_normal((5, H)))
    target, neg = ids([1, 2, 2, 6, 0]), fixed_negatives(5)
    layer = NegativeSamplingLoss(W, ids(CORPUS), sample_size=2)
    loss = layer.forward(h, target, negative_sample=neg)
    dh = layer.backward(1.0)
    dW = backend64.xp.asarray(layer.grads[0], copy=True)
    f = lambda _: layer.forward(h, target, negative_sample=neg)  # noqa: E731
    check(f, [h, W], [dh, dW])
    # the book's loss: sum over the 1 + K columns of each column's mean binary cross-entropy
    Wn, hn, t, n = (xpnet.asnumpy(a) for a in (W, h, target, neg))
    y = 1 / (1 + np.exp(-np.einsum("nh,nh->n", Wn[t], hn)))
    expected = -np.mean(np.log(y + 1e-7))
    for k in range(2):
        yk = 1 / (1 + np.exp(-np.einsum("nh,nh->n", Wn[n[:, k]], hn)))
        expected += -np.mean(np.log(1 - yk + 1e-7))
    assert float(loss) == pytest.approx(expected, rel=1e-9)


def one_hot_batch(backend, window=1):
    corpus, w2i, _ = text.preprocess("You say goodbye and I say hello.")
    contexts, target = text.create_contexts_target(corpus, window)
    return text.convert_one_hot(contexts, len(w2i)), text.convert_one_hot(target, len(w2i))


@pytest.mark.parametrize("model_cls", [SimpleCBOW, SimpleSkipGram])
def test_simple_models_gradient(backend64, model_cls):
    contexts, target = one_hot_batch(backend64)
    model = model_cls(V, H, dtype="float64")
    assert len(model.params) == 2 and model.word_vecs is model.params[0]
    model.forward(contexts, target)
    model.backward()
    grads = [backend64.xp.asarray(g, copy=True) for g in model.grads]
    check(lambda _: model.forward(contexts, target), model.params, grads)


def test_simple_cbow_wider_window_gradient(backend64):
    contexts, target = one_hot_batch(backend64, window=2)
    model = SimpleCBOW(V, H, dtype="float64")
    model.forward(contexts, target)
    model.backward()
    grads = [backend64.xp.asarray(g, copy=True) for g in model.grads]
    check(lambda _: model.forward(contexts, target), model.params, grads)


@pytest.mark.parametrize("model_cls", [CBOW, SkipGram])
def test_negative_sampling_models_gradient(backend64, model_cls):
    corpus = ids(CORPUS)
    contexts, target = text.create_contexts_target(corpus, 2)
    model = model_cls(V, H, 2, corpus, sample_size=2, dtype="float64")
    rows = target.shape[0] * (contexts.shape[1] if model_cls is SkipGram else 1)
    neg = fixed_negatives(rows)
    model.ns_loss.sampler.get_negative_sample = lambda t: neg
    model.forward(contexts, target)
    model.backward()
    grads = [backend64.xp.asarray(g, copy=True) for g in model.grads]
    check(lambda _: model.forward(contexts, target), model.params, grads)


def test_params_list_each_shared_weight_once(backend):
    corpus = ids(CORPUS)
    for model in (SimpleCBOW(V, H), SimpleSkipGram(V, H), CBOW(V, H, 2, corpus), SkipGram(V, H, 2, corpus)):
        assert len({id(p) for p in model.params}) == len(model.params) == 2
        assert [tuple(g.shape) for g in model.grads] == [tuple(p.shape) for p in model.params]
        assert_on(backend, model.params[0])


def test_sampler_excludes_the_target_and_follows_the_distribution(backend):
    corpus = ids(CORPUS)
    sampler = UnigramSampler(corpus, 0.75, 4)
    counts = np.bincount(CORPUS).astype(float) ** 0.75
    assert_close(sampler.word_p, counts / counts.sum())
    target = ids(np.repeat(np.arange(V), 600))
    neg = sampler.get_negative_sample(target)
    assert_on(backend, neg)
    assert tuple(neg.shape) == (V * 600, 4)
    neg, t = xpnet.asnumpy(neg), xpnet.asnumpy(target)
    assert not (neg == t[:, None]).any()
    for w in (1, 4):
        p = sampler.word_p.copy()
        p[w] = 0
        freq = np.bincount(neg[t == w].ravel(), minlength=V) / neg[t == w].size
        assert np.abs(freq - p / p.sum()).max() < 0.03


def test_sampler_is_seeded_by_xpnet_seed(backend):
    sampler = UnigramSampler(ids(CORPUS), 0.75, 5)
    target = ids([0, 1, 2])
    xpnet.seed(5)
    a = xpnet.asnumpy(sampler.get_negative_sample(target))
    xpnet.seed(5)
    assert (a == xpnet.asnumpy(sampler.get_negative_sample(target))).all()


def test_sampler_refuses_a_corpus_of_one_word():
    with pytest.raises(ValueError, match="two distinct"):
        UnigramSampler(np.zeros(5, dtype=np.int64), 0.75, 2)


@pytest.mark.parametrize("model_cls", [SimpleCBOW, CBOW])
def test_checkpoint_round_trip_across_backends(backend, tmp_path, model_cls):
    def make(corpus, V=V, **kw):
        return model_cls(V, H, **kw) if model_cls is SimpleCBOW else model_cls(V, H, 1, corpus, **kw)

    with xpnet.use_backend("numpy"):
        src = make(np.asarray(CORPUS), dtype="float64")
    path = tmp_path / "w.npz"
    src.save_params(path)
    model = make(ids(CORPUS), rng=1)
    shared_view = model.word_vecs
    model.load_params(path)
    assert_close(model.params[0], src.params[0], rtol=1e-6)
    assert_close(model.params[1], src.params[1], rtol=1e-6)
    assert shared_view is model.params[0]  # loaded in place: every user of W_in sees it
    with pytest.raises(ValueError, match="W_in"):
        make(ids(CORPUS), V=V + 1).load_params(path)


def test_an_integer_rng_gives_distinct_weights_and_fresh_negatives():
    """rng=3 used to give W_in == W_out and the same negatives at every step."""
    corpus = np.arange(50) % 10
    model = CBOW(10, 4, 1, corpus, rng=3)
    assert not np.allclose(xpnet.asnumpy(model.params[0]), xpnet.asnumpy(model.params[1]))
    sampler = UnigramSampler(corpus, 0.75, 5, rng=3)
    target = xpnet.asarray(np.arange(8) % 10)
    a, b = (xpnet.asnumpy(sampler.get_negative_sample(target)) for _ in range(2))
    assert not np.array_equal(a, b)


def test_word_vectors_round_trip_through_the_checkpoint_code(tmp_path):
    from xpnet.checkpoint import CheckpointError
    from xpnet.word2vec import load_word_vectors, save_word_vectors

    vecs = xpnet.asarray(np.arange(6.0).reshape(3, 2))
    save_word_vectors(tmp_path / "v.npz", vecs, {0: "you", 1: "say", 2: "goodbye"})
    loaded, word_to_id, id_to_word = load_word_vectors(tmp_path / "v.npz")
    np.testing.assert_array_equal(xpnet.asnumpy(loaded), xpnet.asnumpy(vecs))
    assert word_to_id == {"you": 0, "say": 1, "goodbye": 2} and id_to_word[2] == "goodbye"
    with pytest.raises(CheckpointError, match="non-finite"):
        save_word_vectors(tmp_path / "w.npz", xpnet.asarray(np.full((3, 2), np.nan)), id_to_word)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npz"]
