import numpy as np
import pytest
from helpers import assert_on

import xpnet
from xpnet import Trainer, TrainingDivergedError, TwoLayerNet


def blobs(case, n=250, d=6, classes=3, seed=0):
    centers = np.random.default_rng(0).standard_normal((classes, d)) * 3
    r = np.random.default_rng(seed)
    labels = r.integers(0, classes, n)
    return case.asarray(centers[labels] + r.standard_normal((n, d))), xpnet.asarray(labels)


def test_book_signature_learns_and_keeps_history(backend):
    x, t = blobs(backend)
    xt, tt = blobs(backend, 60, seed=1)
    net = TwoLayerNet(6, 8, 3, weight_init_std=0.1, dtype=backend.dtype)
    trainer = Trainer(
        net,
        x,
        t,
        xt,
        tt,
        epochs=5,
        mini_batch_size=32,
        optimizer="Adam",
        optimizer_param={"lr": 0.05},
        verbose=False,
        seed=0,
    )
    trainer.train()
    assert trainer.iter_per_epoch == 8  # ceil(250 / 32): the book's float 7.8125 evaluated only once
    assert len(trainer.train_acc_list) == len(trainer.test_acc_list) == 5
    assert len(trainer.train_loss_list) == 40
    assert all(isinstance(v, float) for v in trainer.train_loss_list)
    assert trainer.final_test_acc > 0.9
    assert np.mean(trainer.train_loss_list[-8:]) < np.mean(trainer.train_loss_list[:8])
    assert_on(backend, net.params["W1"])


def test_seed_makes_runs_identical():
    x, t = blobs(xpnet)
    runs = []
    for _ in range(2):
        net = TwoLayerNet(6, 8, 3, rng=1)
        tr = Trainer(net, x, t, x, t, epochs=2, mini_batch_size=50, verbose=False, seed=5)
        tr.train()
        runs.append(tr.train_loss_list)
    assert runs[0] == runs[1]


def test_max_iter_and_evaluate_sample_num():
    x, t = blobs(xpnet)
    tr = Trainer(
        TwoLayerNet(6, 8, 3),
        x,
        t,
        x,
        t,
        epochs=10,
        mini_batch_size=50,
        verbose=False,
        evaluate_sample_num_per_epoch=20,
        max_iter=7,
    )
    tr.train()
    assert tr.current_iter == 7 and len(tr.train_acc_list) == 2
    assert all(round(a * 20) == a * 20 for a in tr.train_acc_list)  # evaluated on 20 samples


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_divergence_stops_with_advice():
    x, t = blobs(xpnet)
    tr = Trainer(
        TwoLayerNet(6, 8, 3, weight_init_std=1.0),
        x,
        t,
        x,
        t,
        epochs=50,
        mini_batch_size=50,
        optimizer_param={"lr": 1e38},
        verbose=False,
        log_every=5,
    )
    with pytest.raises(TrainingDivergedError, match=r"diverged at iteration \d+.*lower learning rate \(it is 1e\+38\)"):
        tr.train()
    assert tr.current_iter < 250


def test_ctrl_c_keeps_what_was_learned(capsys):
    x, t = blobs(xpnet)

    class Interrupting(xpnet.optimizers.SGD):
        calls = 0

        def update(self, params, grads):
            Interrupting.calls += 1
            if Interrupting.calls == 23:
                raise KeyboardInterrupt
            super().update(params, grads)

    net = TwoLayerNet(6, 8, 3)
    tr = Trainer(net, x, t, x, t, epochs=10, mini_batch_size=50, optimizer=Interrupting(lr=0.1), verbose=True)
    tr.train()
    assert tr.interrupted and tr.current_iter == 22
    assert len(tr.train_acc_list) == 5 and tr.final_test_acc is not None
    assert "interrupted at iteration 22" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"epochs": 0}, "epochs"),
        ({"mini_batch_size": 0}, "mini_batch_size"),
        ({"optimizer": "LBFGS"}, "unknown optimizer 'LBFGS'"),
        ({"optimizer_param": {"lr": -1}}, "learning rate must be positive"),
    ],
)
def test_bad_arguments(kwargs, match):
    x, t = blobs(xpnet, 20)
    with pytest.raises(ValueError, match=match):
        Trainer(TwoLayerNet(6, 4, 3), x, t, x, t, **kwargs)


def test_labels_are_checked_once_up_front(backend):
    x, _ = blobs(backend, 20)
    bad = xpnet.asarray(np.full(20, 3))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        Trainer(TwoLayerNet(6, 4, 3, dtype=backend.dtype), x, bad, x, bad)
    with pytest.raises(ValueError, match="differ in length"):
        Trainer(TwoLayerNet(6, 4, 3, dtype=backend.dtype), x, bad[:5], x, bad)
