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


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install matplotlib"):
        plot.accuracy_curve([0.1], [0.1])
    with pytest.raises(ImportError, match=r"pip install matplotlib"):
        plot.require_matplotlib()


@pytest.mark.parametrize("name,device", [("array_api_strict", "device1"), ("torch", None)])
def test_decision_boundary_uses_the_networks_backend(tmp_path, name, device):
    """The network lives on another backend than the active one (numpy): the grid follows the network."""
    if name == "torch":
        pytest.importorskip("torch")
    with xpnet.use_backend(name, device):
        net = xpnet.TwoLayerNet(2, 10, 3, dtype="float64")
    x, t = xpnet.datasets.load_spiral()
    plot.decision_boundary(net, x, t, resolution=0.1, path=tmp_path / "db.png")
    assert is_png(tmp_path / "db.png")


def test_training_curves_title_and_integer_epoch_ticks(tmp_path):
    x, t = xpnet.datasets.load_spiral()
    tr = xpnet.Trainer(xpnet.TwoLayerNet(2, 10, 3), x, t, x, t, epochs=3, mini_batch_size=30, verbose=False, seed=0)
    tr.train()
    fig = plot.training_curves(tr, tmp_path / "c.png", dataset="spiral", model="two-layer")
    assert is_png(tmp_path / "c.png")
    title = fig._suptitle.get_text()
    assert "spiral" in title and "two-layer" in title and "numpy" in title and f"{tr.final_test_acc:.4f}" in title
    loss_ax, acc_ax = fig.axes
    fig.canvas.draw()  # tick positions are decided at drawing
    ticks = [v for v in acc_ax.get_xticks() if 0 <= v <= 3]
    assert ticks and all(float(v).is_integer() for v in ticks)
    # entry k of the lists at k epochs done, the final accuracy at the end
    xs, ys = acc_ax.lines[1].get_data()
    assert list(xs) == [0, 1, 2, 3] and list(ys) == [*tr.test_acc_list, tr.final_test_acc]
    assert acc_ax.get_xlabel() == "epochs done"
