"""The benchmark runner keeps working (a smoke run: it measures, it asserts no speed)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpnet

ROOT = Path(__file__).parent.parent


def test_benchmark_runner_smoke(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--rounds",
            "1",
            "--cases",
            "two_layer,numgrad,conv",
            "--dtype",
            "float32",
            "--json",
            str(tmp_path / "b.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "1 TwoLayerNet step float32" in out.stdout
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["backend"] == "numpy" and data["machine"]["cpus"]
    assert {"xpnet", "numpy", "book"} <= set(data["float32"]["two_layer"])


def _setup(seed=3):
    r = np.random.default_rng(seed)
    weights = [0.1 * r.standard_normal((784, 50)), 0.1 * r.standard_normal((50, 10))]
    x = r.random((100, 784))
    t = np.eye(10)[r.integers(0, 10, 100)]
    return weights, x, t


def test_contenders_do_the_same_arithmetic():
    """A ratio means something only if the contenders compute the same step: one SGD step each
    from the same weights and batch (float64) must land on the same weights."""
    from benchmarks import baselines

    weights, x, t = _setup()
    lean = baselines.LeanNumpyMLP(weights, lr=0.1)
    lean.step(x, t)
    inplace = baselines.InplaceNumpyMLP(weights, lr=0.1)
    loss = inplace.step(x, t)
    book = baselines.BookTwoLayerNet(*weights, lr=0.1)
    book.step(x, t)
    with xpnet.use_backend("numpy"):
        net = xpnet.TwoLayerNet(784, 50, 10, dtype="float64")
        net.params["W1"], net.params["W2"] = xpnet.asarray(weights[0]), xpnet.asarray(weights[1])
        net.params["b1"], net.params["b2"] = xpnet.asarray(np.zeros(50)), xpnet.asarray(np.zeros(10))
        xpnet.optimizers.SGD(lr=0.1).update(net.params, net.gradient(x, t))
    for i, name in enumerate(("W1", "W2")):
        np.testing.assert_allclose(lean.W[i], net.params[name], rtol=0, atol=1e-12)
        np.testing.assert_allclose(book.params[name], net.params[name], rtol=0, atol=1e-12)
        np.testing.assert_allclose(lean.b[i], net.params[f"b{i + 1}"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(inplace.W[i], net.params[name], rtol=0, atol=1e-12)
        np.testing.assert_allclose(inplace.b[i], net.params[f"b{i + 1}"], rtol=0, atol=1e-12)
    assert loss == pytest.approx(float(net.last_loss), rel=1e-12)

    # The floor computes the step's two weight gradients (up to the softmax residual it is given).
    d_out = np.asarray(t)
    dW1, dW2 = baselines.matmul_floor_step(weights, x, d_out)
    h = x @ weights[0]
    np.testing.assert_allclose(dW2, h.T @ d_out)
    np.testing.assert_allclose(dW1, x.T @ (d_out @ weights[1].T))


def test_book_epoch_loop_trains_and_evaluates():
    from benchmarks import baselines

    r = np.random.default_rng(0)
    centers = r.standard_normal((10, 784))
    labels = r.integers(0, 10, 1000)
    x = centers[labels] + 0.1 * r.standard_normal((1000, 784))
    t = np.eye(10)[labels]
    weights = [0.01 * r.standard_normal((784, 50)), 0.01 * r.standard_normal((50, 10))]
    net = baselines.BookTwoLayerNet(*weights, lr=0.1)
    losses, acc = baselines.book_epoch(net, x, t, x[:200], t[:200])
    assert len(losses) == 10 and len(acc) == 2  # 1000/100 steps; accuracy at the start and the end
    assert losses[-1] < losses[0]
    assert acc[-1][0] > acc[0][0]


def test_torch_contender_does_the_same_step(backend):
    if backend.name != "torch" or backend.dtype != "float64":
        pytest.skip("runs once, in the torch session")  # the benchmark's anchor, not xpnet's torch backend
    from benchmarks import baselines
    from benchmarks.__main__ import torch_mlp_step

    weights, x, t = _setup()
    step, model = torch_mlp_step(weights, [x], [t], "float64", "cpu", lr=0.1)
    step()
    lean = baselines.LeanNumpyMLP(weights, lr=0.1)
    lean.step(x, t)
    np.testing.assert_allclose(model[0].weight.detach().numpy().T, lean.W[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(model[2].weight.detach().numpy().T, lean.W[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(model[2].bias.detach().numpy(), lean.b[1], rtol=0, atol=1e-12)


def test_lean_conv_step_matches_simple_conv_net():
    from benchmarks import baselines

    r = np.random.default_rng(5)
    shapes = [(30, 1, 5, 5), (30,), (4320, 100), (100,), (100, 10), (10,)]
    params = [0.05 * r.standard_normal(s) for s in shapes]
    x = r.random((8, 1, 28, 28))
    t = np.eye(10)[r.integers(0, 10, 8)]
    lean = [p.copy() for p in params]
    baselines.lean_conv_step(lean, x, t, lr=0.1)
    with xpnet.use_backend("numpy"):
        net = xpnet.SimpleConvNet(dtype="float64")
        names = ["W1", "b1", "W2", "b2", "W3", "b3"]
        for name, p in zip(names, params):
            net.params[name] = xpnet.asarray(p.copy())
        xpnet.optimizers.SGD(lr=0.1).update(net.params, net.gradient(x, t))
    for name, p in zip(names, lean):
        np.testing.assert_allclose(p, net.params[name], rtol=0, atol=1e-12, err_msg=name)
