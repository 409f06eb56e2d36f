"""``capture=True``: everything up to the capture call on every backend; the capture itself where a GPU is."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import xpnet
from xpnet import Trainer
from xpnet.backend import kernels_for
from xpnet.models import MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from xpnet.trainer2 import Trainer as Trainer2
from xpnet.training.capture import StepCapture

rng = np.random.default_rng(5)


def _on_gpu(case):
    return case.name == "cupy" or (case.name == "torch" and str(xpnet.backend.active_device()).startswith("cuda"))


def _train(case, capture, model="TwoLayerNet", iters=12):
    """A short Adam (SGD for the conv net) run on fixed data and batches; returns the trainer and the network."""
    xpnet.seed(11)
    data = np.random.default_rng(5)  # the same data for the runs compared
    d = 36 if model == "SimpleConvNet" else 6
    x = data.standard_normal((120, d))
    t = data.integers(0, 3, 120)
    x[np.arange(120), t] += 2.0
    x, t = case.asarray(x), xpnet.asarray(t)
    if model == "SimpleConvNet":
        x = xpnet.get_namespace(x).reshape(x, (120, 1, 6, 6))
        conv = {"filter_num": 2, "filter_size": 3, "pad": 1}
        net = SimpleConvNet((1, 6, 6), conv, 8, 3, 0.3, dtype=case.dtype)
        opt, param = "sgd", {"lr": 0.1}
    else:
        net = TwoLayerNet(d, 8, 3, weight_init_std=0.3, dtype=case.dtype)
        opt, param = "adam", {"lr": 0.01}
    trainer = Trainer(
        net, x, t, x, t, epochs=None, max_iter=iters, mini_batch_size=20, optimizer=opt, optimizer_param=param,
        verbose=False, seed=3, log_every=4, capture=capture,
    )  # fmt: skip
    trainer.train()
    return trainer, net


def _same_run(a, b, case):
    (ta, na), (tb, nb) = a, b
    tol = 1e-4 if case.dtype == "float32" else 1e-9
    assert ta.train_loss_list == pytest.approx(tb.train_loss_list, rel=tol)
    for name in na.params:
        assert_close(na.params[name], nb.params[name], rtol=tol, atol=tol)


def _stand_in_graph(self, step, like):
    """A stand-in for a graph: replaying runs the recorded step again on the same static buffers."""
    return step


def test_capture_on_a_host_backend_says_so_once_and_trains_as_without(backend, capsys):
    if _on_gpu(backend):
        pytest.skip("this backend can capture: test_capture_records_and_replays_on_a_gpu runs it")
    plain = _train(backend, False)
    capsys.readouterr()
    captured = _train(backend, True)
    lines = [line for line in capsys.readouterr().out.splitlines() if "capture=True" in line]
    assert len(lines) == 1 and "without a CUDA graph" in lines[0]
    assert not captured[0]._capture.live
    _same_run(captured, plain, backend)


@pytest.mark.parametrize("model", ["TwoLayerNet", "SimpleConvNet"])
def test_the_static_buffer_path_trains_as_without_capture(backend, monkeypatch, model):
    """Batches copied into static inputs and the step replayed from them (a stand-in graph) give the same run."""
    plain = _train(backend, False, model)
    monkeypatch.setattr(type(kernels_for(xpnet.backend.zeros(1))), "capture_step", _stand_in_graph)
    captured = _train(backend, True, model)
    assert captured[0]._capture.live
    _same_run(captured, plain, backend)


def test_a_step_that_draws_random_numbers_is_not_captured(capsys):
    net = MultiLayerNetExtend(6, [8], 3, use_dropout=True)
    x, t = rng.standard_normal((40, 6)).astype(np.float32), rng.integers(0, 3, 40)
    Trainer(net, x, t, x, t, epochs=1, mini_batch_size=20, verbose=False, capture=True).train()
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if "capture=True" in ln]
    assert "Dropout draws random numbers" in line


def test_book2_trainer_refuses_a_model_that_does_not_declare_itself_capturable(capsys):
    from xpnet.word2vec import SimpleCBOW

    model = SimpleCBOW(5, 3)
    trainer = Trainer2(model, xpnet.optimizers.Adam(), capture=True)
    assert "SimpleCBOW does not declare capturable = True" in capsys.readouterr().out
    contexts = xpnet.asarray(np.eye(5, dtype=np.float32)[rng.integers(0, 5, (8, 2))])
    target = xpnet.asarray(rng.integers(0, 5, 8))
    trainer.fit(contexts, target, max_epoch=2, batch_size=4, eval_interval=None)
    assert trainer._capture.off


def test_keep_copies_outputs_only_once_the_graph_is_live():
    cap = StepCapture(TwoLayerNet(2, 2, 2))
    a = np.ones(3)
    assert cap.keep(a) is a
    cap.replay = lambda: None
    kept = cap.keep(a)
    assert kept is not a and np.array_equal(kept, a)


@pytest.mark.parametrize("model", ["TwoLayerNet", "SimpleConvNet"])
def test_capture_records_and_replays_on_a_gpu(backend, capsys, model):
    if not _on_gpu(backend):
        pytest.skip("CUDA graphs need CuPy or CUDA torch")
    plain = _train(backend, False, model)
    capsys.readouterr()
    captured = _train(backend, True, model)
    assert "capture=True" not in capsys.readouterr().out  # no fallback: the graph was recorded
    assert captured[0]._capture.live
    _same_run(captured, plain, backend)
