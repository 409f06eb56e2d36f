"""Book 2's models, trainers and files against hostile input (issue 20): ids out of range, divergence, non-finite
checkpoints, hostile word-vector files, unbounded vocabularies. Public entry points only."""

from __future__ import annotations

import math
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from rnn_helpers import one_torch_thread  # noqa: F401
from test_ptb import isolated, served  # noqa: F401

import xpnet
from xpnet import TrainingDivergedError, TwoLayerNet
from xpnet.book2 import (
    CBOW,
    SGD,
    Adam,
    Rnnlm,
    RnnlmGen,
    RnnlmTrainer,
    Seq2seq,
    TimeSoftmaxWithLoss,
    Trainer,
    clip_grads,
    create_co_matrix,
    create_contexts_target,
    eval_perplexity,
)
from xpnet.checkpoint import CheckpointError
from xpnet.ptb import load_ptb, load_text_corpus
from xpnet.word2vec import load_word_vectors, save_word_vectors

V = 7


def ids(case, shape, seed=0, high=V):
    return case.asarray(np.random.default_rng(seed).integers(0, high, shape), dtype="int64")


def host(a):
    return np.asarray(xpnet.asnumpy(a))


# --- ids that enter from outside ------------------------------------------------------------------------------


def test_time_softmax_label_equal_to_V_is_never_a_finite_loss(backend):
    """torch's take_along_dim does not bounds-check on CPU: a label == V gave a finite loss there, numpy raised.
    Every backend now gives a non-finite loss (no host read in the layer), which the trainers catch."""
    xs = backend.asarray(np.random.default_rng(0).standard_normal((2, 3, V)))
    for bad in (V, V + 3, -2):
        ts = host(ids(backend, (2, 3)))
        ts[:, 2] = bad
        layer = TimeSoftmaxWithLoss()
        loss = layer.forward(xs, backend.asarray(ts, dtype="int64"))
        assert not math.isfinite(float(loss)), bad
        assert not np.isfinite(host(layer.backward())).all()  # nor a finite, wrong gradient
    ts = host(ids(backend, (2, 3)))
    ts[ts == 0] = -1  # -1 is the ignore label, not an error
    assert math.isfinite(float(TimeSoftmaxWithLoss().forward(xs, backend.asarray(ts, dtype="int64"))))


def test_seq2seq_forward_label_equal_to_V_is_not_finite(backend):
    xpnet.seed(0)
    model = Seq2seq(V, 3, 4, dtype=backend.dtype)
    xs, ts = ids(backend, (2, 4), 1), host(ids(backend, (2, 3), 2))
    ts[:, 2] = V  # the last id is only a label, never a decoder input
    assert not math.isfinite(float(model.forward(xs, backend.asarray(ts, dtype="int64"))))


def test_rnnlm_trainer_refuses_ids_outside_the_vocabulary_before_training(backend):
    xpnet.seed(0)
    model = Rnnlm(V, 3, 4, dtype=backend.dtype)
    before = [host(p).copy() for p in model.params]
    corpus = host(ids(backend, (200,)))
    for bad in (V, -1):
        c = corpus.copy()
        c[57] = bad
        xs, ts = backend.asarray(c[:-1], dtype="int64"), backend.asarray(c[1:], dtype="int64")
        with pytest.raises(ValueError, match=rf"word ids.*\[0, {V}\).*{bad}"):
            RnnlmTrainer(model, SGD(0.1)).fit(xs, ts, max_epoch=1, batch_size=2, time_size=5, eval_interval=None)
    assert all(np.array_equal(b, host(p)) for b, p in zip(before, model.params))


def test_eval_perplexity_refuses_ids_outside_the_vocabulary(backend):
    model = Rnnlm(V, 3, 4, dtype=backend.dtype)
    c = host(ids(backend, (200,)))
    c[3] = V
    with pytest.raises(ValueError, match=rf"\[0, {V}\)"):
        eval_perplexity(model, backend.asarray(c, dtype="int64"), batch_size=2, time_size=5)


def test_book2_trainer_refuses_labels_outside_the_vocabulary(backend):
    xpnet.seed(0)
    model = CBOW(V, 3, 1, ids(backend, (50,)))
    contexts, target = ids(backend, (40, 2), 1), host(ids(backend, (40,), 2))
    target[5] = V
    with pytest.raises(ValueError, match=rf"\[0, {V}\)"):
        Trainer(model, SGD(0.1)).fit(contexts, backend.asarray(target, dtype="int64"), 1, 8, eval_interval=None)


def test_cbow_refuses_a_corpus_with_ids_beyond_its_vocabulary(backend):
    corpus = host(ids(backend, (50,)))
    corpus[0] = V + 2
    with pytest.raises(ValueError, match=rf"\[0, {V}\)"):
        CBOW(V, 4, 2, backend.asarray(corpus, dtype="int64"))


@pytest.mark.parametrize("start_id", [-1, V, V + 10])
def test_generate_refuses_a_start_id_outside_the_vocabulary(backend, start_id):
    """generate(start_id=-1) returned [-1, ...]; -1 as input wrapped to the last word."""
    model = RnnlmGen(V, 3, 4, dtype=backend.dtype)
    with pytest.raises(ValueError, match=r"start_id"):
        model.generate(start_id, sample_size=3)


def test_generate_refuses_bad_skip_ids(backend):
    model = RnnlmGen(V, 3, 4, dtype=backend.dtype)
    with pytest.raises(ValueError, match="skip_ids"):
        model.generate(0, skip_ids=[1, V], sample_size=3)
    with pytest.raises(ValueError, match="skip_ids"):
        model.generate(0, skip_ids=[-1], sample_size=3)
    with pytest.raises(ValueError, match="skip_ids"):
        model.generate(0, skip_ids=list(range(V)), sample_size=3)  # nothing left to draw
    out = model.generate(0, skip_ids=[1, 2], sample_size=20)
    assert out[0] == 0 and not {1, 2} & set(out[1:]) and all(0 <= i < V for i in out)


def test_seq2seq_generate_refuses_ids_outside_the_vocabulary(backend):
    model = Seq2seq(V, 3, 4, dtype=backend.dtype)
    q = host(ids(backend, (1, 4)))
    with pytest.raises(ValueError, match="start_id"):
        model.generate(backend.asarray(q, dtype="int64"), V, 3)
    q[0, 1] = -1
    with pytest.raises(ValueError, match=rf"\[0, {V}\)"):
        model.generate(backend.asarray(q, dtype="int64"), 0, 3)


# --- divergence in book 2's trainers ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_book2_trainer_catches_divergence_and_rolls_back(backend, capsys):
    """Book 2's Trainer printed `loss nan` and ended with NaN weights; book 1's catches it and rolls back."""
    xpnet.seed(0)
    corpus = ids(backend, (300,))
    model = CBOW(V, 5, 1, corpus)
    contexts, target = create_contexts_target(corpus, 1)
    with pytest.raises(TrainingDivergedError, match="rolled back"):
        Trainer(model, SGD(lr=1e30)).fit(contexts, target, max_epoch=5, batch_size=10, eval_interval=5)
    assert all(np.isfinite(host(p)).all() for p in model.params)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_rnnlm_trainer_huge_loss_is_divergence_not_an_overflow_error(backend, capsys):
    """A loss spike above 709 made math.exp raise OverflowError and ended the run with a traceback."""
    xpnet.seed(0)
    model = Rnnlm(V, 4, 6, dtype=backend.dtype)
    corpus = ids(backend, (801,))
    with pytest.raises(TrainingDivergedError, match="rolled back"):
        RnnlmTrainer(model, SGD(lr=1e4)).fit(corpus[:-1], corpus[1:], max_epoch=4, batch_size=4, time_size=5,
                                             eval_interval=5)  # fmt: skip
    assert all(np.isfinite(host(p)).all() for p in model.params)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_eval_perplexity_of_a_blown_up_model_is_inf_not_an_overflow_error(backend):
    model = Rnnlm(V, 3, 4, dtype=backend.dtype)
    b = model.params[-1]  # the output bias: one word certain, the others impossible
    b[...] = backend.asarray(np.where(np.arange(V) == 0, 1e4, -1e4))
    corpus = host(ids(backend, (200,)))
    corpus[corpus == 0] = 1
    assert eval_perplexity(model, backend.asarray(corpus, dtype="int64"), batch_size=2, time_size=5) == math.inf


def test_rnnlm_trainer_still_trains_a_sane_run(backend, capsys):
    xpnet.seed(0)
    model = Rnnlm(V, 4, 6, dtype=backend.dtype)
    corpus = ids(backend, (801,))
    trainer = RnnlmTrainer(model, Adam(0.01))
    trainer.fit(corpus[:-1], corpus[1:], max_epoch=2, batch_size=4, time_size=5, eval_interval=10)
    assert trainer.ppl_list and all(math.isfinite(p) and p < 2 * V for p in trainer.ppl_list)


# --- sizes and clipping ------------------------------------------------------------------------------------------


def test_trainers_refuse_sizes_that_are_not_positive(backend):
    """batch_size=0 / time_size=0 were a ZeroDivisionError, a negative batch a silent slice."""
    model = Rnnlm(V, 3, 4, dtype=backend.dtype)
    corpus = ids(backend, (200,))
    fit = RnnlmTrainer(model, SGD(0.1)).fit
    for bad in ({"batch_size": 0}, {"time_size": 0}, {"batch_size": -5}, {"max_epoch": -1}, {"eval_interval": 0}):
        kw = {"max_epoch": 1, "batch_size": 2, "time_size": 5, "eval_interval": None, **bad}
        with pytest.raises(ValueError, match=next(iter(bad))):
            fit(corpus[:-1], corpus[1:], **kw)
    cbow = CBOW(V, 3, 1, corpus)
    contexts, target = create_contexts_target(corpus, 1)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(cbow, SGD(0.1)).fit(contexts, target, 1, 0)
    with pytest.raises(ValueError, match="time_size"):
        eval_perplexity(model, corpus, batch_size=2, time_size=0)


def test_clip_grads_refuses_a_norm_that_is_not_positive(backend):
    """--max-grad -1 turned clipping into gradient ascent (perplexity 6.5e9, exit 0)."""
    g = backend.asarray(np.ones((2, 3)))
    for bad in (-1.0, 0.0, float("nan")):
        with pytest.raises(ValueError, match="max_norm"):
            clip_grads([g], bad)
    assert np.array_equal(host(g), np.ones((2, 3)))


# --- input shapes ----------------------------------------------------------------------------------------------


def test_predict_of_a_0d_or_1d_input_says_what_it_needs(backend):
    net = TwoLayerNet(2, 3, 2, dtype=backend.dtype)
    with pytest.raises(ValueError, match=r"shape \(\).*\(N, 2\)"):
        net.predict(backend.asarray(np.float64(1.0)))
    with pytest.raises(ValueError, match=r"shape \(4,\).*\(N, 2\)") as e:
        net.predict(backend.asarray(np.ones(4)))
    assert "1 features" not in str(e.value)


def test_language_model_predict_of_wrong_rank_ids(backend):
    model = Rnnlm(V, 3, 4, dtype=backend.dtype)
    for shape in ((), (5,), (2, 3, 1)):
        with pytest.raises(ValueError, match=r"\(N, T\)"):
            model.predict(ids(backend, shape))


# --- checkpoints with non-finite values ----------------------------------------------------------------------


def test_a_checkpoint_holding_nan_is_refused_unless_asked(backend, tmp_path):
    path = tmp_path / "nan.npz"
    net = TwoLayerNet(2, 3, 2, dtype=backend.dtype)
    net.params["W1"][0, 0] = float("nan")
    net.save_params(path, allow_nonfinite=True) if _takes_allow(net) else pytest.skip("no allow_nonfinite")
    fresh = TwoLayerNet(2, 3, 2, dtype=backend.dtype)
    before = host(fresh.params["W1"]).copy()
    with pytest.raises(CheckpointError, match="non-finite"):
        fresh.load_params(path)
    assert np.array_equal(before, host(fresh.params["W1"]))
    fresh.load_params(path, allow_nonfinite=True)
    assert np.isnan(host(fresh.params["W1"])[0, 0])


def test_a_book2_checkpoint_holding_inf_is_refused_unless_asked(backend, tmp_path):
    path = tmp_path / "inf.npz"
    model = Rnnlm(V, 3, 4, dtype=backend.dtype)
    model.params[0][0, 0] = float("inf")
    model.save_params(path, allow_nonfinite=True)
    fresh = Rnnlm(V, 3, 4, dtype=backend.dtype)
    with pytest.raises(CheckpointError, match="non-finite"):
        fresh.load_params(path)
    assert np.isfinite(host(fresh.params[0])).all()
    fresh.load_params(path, allow_nonfinite=True)
    assert np.isinf(host(fresh.params[0])[0, 0])


def _takes_allow(net):
    import inspect

    return "allow_nonfinite" in inspect.signature(net.save_params).parameters


# --- word-vector files ---------------------------------------------------------------------------------------


def _npy(shape, dtype="<f4", payload=b""):
    """An .npy file's bytes: a version 1.0 header declaring ``shape`` and ``dtype``, then ``payload``."""
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def _npz(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)


def test_load_word_vectors_round_trip(tmp_path):
    path = tmp_path / "v.npz"
    vecs = np.arange(6, dtype=np.float32).reshape(3, 2)
    save_word_vectors(path, vecs, {0: "a", 1: "b", 2: "c"})
    w, word_to_id, id_to_word = load_word_vectors(path)
    assert np.array_equal(host(w), vecs) and word_to_id == {"a": 0, "b": 1, "c": 2} and id_to_word[2] == "c"


def test_load_word_vectors_refuses_a_huge_declared_size_before_reading(tmp_path):
    """A 1.5 MB .npz whose vectors declare 1.5 GB made np.load allocate 1.4 GiB."""
    path = tmp_path / "bomb.npz"
    payload = bytes(1_500_000)  # zeros: compresses to almost nothing, declares far more
    words = np.array(["a", "b"])
    _npz(
        path, {"word_vecs": _npy((3_750_000, 100), payload=payload), "id_to_word": _npy((2,), "<U1") + words.tobytes()}
    )
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="word_vecs"):
            load_word_vectors(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, peak


def _vectors_file(path, vecs, words):
    members = {}
    for name, a in (("word_vecs", np.asarray(vecs)), ("id_to_word", np.asarray(words))):
        members[name] = _npy(a.shape, a.dtype.str, a.tobytes())
    _npz(path, members)
    return path


@pytest.mark.parametrize(
    "vecs, words, match",
    [
        (np.ones((5, 3), np.float32), ["a", "b"], "5 vectors.*2 words"),
        (np.ones((2, 3), np.float32), ["a", "a"], "duplicate|twice"),
        (np.ones((2, 3), np.int64), ["a", "b"], "dtype"),
        (np.array([[1, np.nan], [0, 1]], np.float32), ["a", "b"], "non-finite"),
        (np.ones((3,), np.float32), ["a", "b", "c"], "shape"),
        (np.ones((2, 3), np.float32), [1, 2], "dtype|text"),
        (np.ones((2, 3), np.float32), [["a", "b"]], "shape"),
    ],
)
def test_load_word_vectors_refuses_inconsistent_files(tmp_path, vecs, words, match):
    path = _vectors_file(tmp_path / "v.npz", vecs, words)
    with pytest.raises(ValueError, match=match):
        load_word_vectors(path)


def test_load_word_vectors_refuses_a_file_that_does_not_hold_them(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, W=np.ones((2, 2)))
    with pytest.raises(ValueError, match="word_vecs|id_to_word"):
        load_word_vectors(path)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="text.npz"):
        load_word_vectors(tmp_path / "text.npz")


# --- memory that grows with the input ---------------------------------------------------------------------------


def test_load_text_corpus_bounds_the_vocabulary(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(" ".join(f"w{i}" for i in range(500)))
    with pytest.raises(ValueError, match=r"500 distinct words.*max_vocab"):
        load_text_corpus(path, max_vocab=100)
    corpus, word_to_id, _ = load_text_corpus(path, max_vocab=500)
    assert len(word_to_id) == 500 and corpus.shape == (500,)


def test_create_co_matrix_refuses_a_matrix_beyond_its_bound(backend):
    corpus = ids(backend, (20,))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"max_bytes"):
            create_co_matrix(corpus, 400_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000
    C = create_co_matrix(corpus, V, max_bytes=V * V * 4)
    assert tuple(C.shape) == (V, V)


def test_create_co_matrix_refuses_ids_beyond_vocab_size(backend):
    c = host(ids(backend, (20,)))
    c[4] = V
    with pytest.raises(ValueError, match=rf"\[0, {V}\)"):
        create_co_matrix(backend.asarray(c, dtype="int64"), V)


# --- caches are verified when read back ------------------------------------------------------------------------


def test_a_tampered_ptb_cache_is_rebuilt_not_trusted(isolated, served):  # noqa: F811 (fixtures of test_ptb)
    """The ids cache names its source's size and time; ids beyond the vocabulary (or a hostile file) with a valid
    stamp were trusted by np.load. Now it goes through the hardened reader and is checked, else rebuilt."""
    corpus, word_to_id, _ = load_ptb("train")
    (cache,) = [p for p in isolated.rglob("ptb.train.ids.npz")]
    with np.load(cache) as z:
        stamp = str(z["stamp"])
    np.savez(cache, ids=np.array([0, 99, 2]), stamp=np.array(stamp))
    again, _, _ = load_ptb("train")
    assert host(again).tolist() == host(corpus).tolist()
    _npz(cache, {"ids": _npy((10**9,), "<i8"), "stamp": _npy((), "<U40") + stamp.ljust(40).encode("utf-32-le")})
    again, _, _ = load_ptb("train")
    assert host(again).tolist() == host(corpus).tolist()
