"""Book 2's Trainer (xpnet.trainer2): training CBOW, sharing by identity, plotting, no host reads per step."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close
from test_no_sync import HostSyncError, no_host_sync

import xpnet
from xpnet import text
from xpnet.book2 import Trainer
from xpnet.optimizers import SGD, Adam
from xpnet.word2vec import CBOW, SimpleCBOW

TEXT = "You say goodbye and I say hello. " * 8


def cbow_data(window=1):
    corpus, w2i, _ = text.preprocess(TEXT.strip())
    contexts, target = text.create_contexts_target(corpus, window)
    return corpus, len(w2i), contexts, target


def test_fit_trains_cbow_and_records_losses(backend, capsys):
    corpus, V, contexts, target = cbow_data()
    model = CBOW(V, 5, 1, corpus, dtype=backend.dtype)
    trainer = Trainer(model, Adam(0.05))
    trainer.fit(contexts, target, max_epoch=30, batch_size=8, eval_interval=2)
    iters = contexts.shape[0] // 8
    assert len(trainer.loss_list) == 30 * ((iters + 1) // 2)
    assert trainer.current_epoch == 30
    assert np.mean(trainer.loss_list[-5:]) < 0.6 * np.mean(trainer.loss_list[:3])
    assert capsys.readouterr().out.startswith(f"| epoch 1 |  iter 1 / {iters} | time 0[s] | loss 4.16")


def test_fit_simple_cbow_on_one_hot_data(backend):
    corpus, V, contexts, target = cbow_data()
    contexts, target = text.convert_one_hot(contexts, V), text.convert_one_hot(target, V)
    trainer = Trainer(SimpleCBOW(V, 5, dtype=backend.dtype), SGD(1.0))
    trainer.fit(contexts, target, max_epoch=20, batch_size=3, eval_interval=None)
    assert trainer.loss_list == []
    loss = float(trainer.model.forward(contexts, target))
    assert loss < 0.8 * np.log(V)


def test_fit_refuses_a_batch_larger_than_the_data(backend):
    _, V, contexts, target = cbow_data()
    with pytest.raises(ValueError, match="one batch of 1000"):
        Trainer(SimpleCBOW(V, 3), SGD()).fit(contexts, target, batch_size=1000)
    with pytest.raises(ValueError, match="samples but t has"):
        Trainer(SimpleCBOW(V, 3), SGD()).fit(contexts, target[:3])


class BookStyleModel:
    """A model written as the book writes them: one params entry per use of the shared W."""

    def __init__(self, W):
        self.W = W
        self.params = [W, W]
        self.grads = [W * 0.0, W * 0.0]

    def forward(self, x, t):
        return get_xp(self.W).sum(self.W)

    def backward(self):
        self.grads[0][...] = 1.0
        self.grads[1][...] = 2.0


def get_xp(a):
    return xpnet.get_namespace(a)


def test_shared_weights_are_merged_by_identity(backend):
    W = backend.asarray(np.zeros((2, 2)))
    trainer = Trainer(BookStyleModel(W), SGD(0.1))
    x = backend.asarray(np.zeros((4, 1)))
    trainer.fit(x, x, max_epoch=1, batch_size=4, eval_interval=None)
    assert_close(W, np.full((2, 2), -0.3), rtol=1e-6)  # one update with the summed gradient 1 + 2


def test_plot_returns_a_figure(tmp_path):
    pytest.importorskip("matplotlib")
    trainer = Trainer(None, None)
    trainer.loss_list, trainer.eval_interval = [3.0, 2.0, 1.5], 20
    fig = trainer.plot(ylim=(0, 4), path=tmp_path / "loss.png")
    assert (tmp_path / "loss.png").stat().st_size > 0
    assert fig.axes[0].get_xlabel() == "iterations (x20)"


def test_cbow_training_never_reads_back(backend, monkeypatch):
    """A CBOW negative-sampling epoch (sampling, forward, backward, clipping, Adam) with the host reads forbidden."""
    corpus, V, contexts, target = cbow_data(window=2)
    model = CBOW(V, 5, 2, corpus, dtype=backend.dtype)
    trainer = Trainer(model, Adam())
    trainer.fit(contexts, target, max_epoch=1, batch_size=4, eval_interval=None)  # optimizer state created
    with no_host_sync(backend, monkeypatch):
        trainer.fit(contexts, target, max_epoch=2, batch_size=4, max_grad=1.0, eval_interval=None)
        with pytest.raises(HostSyncError):  # the book's print at eval_interval is the one read
            trainer.fit(contexts, target, max_epoch=1, batch_size=4, eval_interval=3)
    assert np.isfinite(xpnet.asnumpy(model.params[0])).all()
