import sys

import numpy as np
import pytest

import xpnet
from xpnet import plot

pytest.importorskip("matplotlib")


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_loss_and_accuracy_curves(tmp_path):
    losses = list(np.exp(-np.linspace(0, 3, 200)) + 0.05 * np.random.default_rng(0).random(200))
    fig = plot.loss_curve({"batch 10": losses, "batch 100": losses[::-1]}, path=tmp_path / "loss.png")
    assert len(fig.axes[0].lines) == 4 and is_png(tmp_path / "loss.png")
    fig = plot.accuracy_curve([0.1, 0.8, 0.9], [0.1, 0.78, 0.85], path=tmp_path / "acc.png")
    assert is_png(tmp_path / "acc.png") and fig.axes[0].get_xlabel() == "epochs"


def test_smooth():
    np.testing.assert_allclose(plot.smooth([1, 2, 3, 4], window=2), [1, 1.5, 2.5, 3.5])
    assert plot.smooth([]).size == 0


def test_gradient_descent_path(tmp_path):
    x, hist = xpnet.gradient_descent(
        lambda x: x[0] ** 2 + x[1] ** 2,
        xpnet.asarray([-3.0, 4.0], dtype="float64"),
        lr=0.1,
        step_num=20,
        return_history=True,
    )
    fig = plot.gradient_descent_path(lambda x: x[0] ** 2 + x[1] ** 2, hist, path=tmp_path / "gd.png")
    assert is_png(tmp_path / "gd.png")
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xydata()[0], [-3.0, 4.0])


def test_decision_boundary(tmp_path):
    x, t = xpnet.datasets.load_spiral()
    net = xpnet.TwoLayerNet(2, 10, 3)
    plot.decision_boundary(net, x, t, resolution=0.05, path=tmp_path / "db.png")
    assert is_png(tmp_path / "db.png")


def test_missing_matplotlib_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'xpnet\[plot\]'"):
        plot.accuracy_curve([0.1], [0.1])
