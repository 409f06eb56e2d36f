"""The book's figures: loss curves, accuracy per epoch, gradient-descent paths, decision boundaries.

Each function returns a matplotlib ``Figure`` (made without pyplot, so nothing opens a
window) and saves it as PNG when ``path`` is given. matplotlib is a dependency of xpnet.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .backend import array_device, asarray, asnumpy, backend_name, get_namespace

__all__ = [
    "loss_curve",
    "accuracy_curve",
    "training_curves",
    "gradient_descent_path",
    "decision_boundary",
    "smooth",
    "require_matplotlib",
    "attention_map",
]


def require_matplotlib() -> None:
    """Raise ``ImportError`` with the install command when matplotlib cannot be imported (the CLI asks first)."""
    try:
        from matplotlib.figure import Figure  # noqa: F401
        from matplotlib.ticker import MaxNLocator  # noqa: F401
    except ImportError:
        raise ImportError(
            "xpnet.plot needs matplotlib, which is not installed: pip install matplotlib "
            "(it is a dependency of xpnet; 'xpnet[plot]' also installs it)"
        ) from None


def new_figure(figsize: tuple[float, float] = (6.4, 4.8)) -> Any:
    """A matplotlib ``Figure`` with constrained layout, not attached to pyplot (no window, no global state)."""
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _integer_ticks(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _first_param(network: Any) -> Any:
    """A parameter array of ``network`` (``params`` as a dict, book 1, or a list, book 2), or ``None``."""
    params = getattr(network, "params", None)
    if hasattr(params, "values"):
        return next(iter(params.values()), None)
    return params[0] if isinstance(params, (list, tuple)) and params else None


def save_figure(fig: Any, path: str | os.PathLike | None) -> Any:
    """Write ``fig`` to ``path`` (100 dpi) unless ``path`` is None; return ``fig`` (a notebook shows it)."""
    if path is not None:
        fig.savefig(os.fspath(path), dpi=100)
    return fig


def smooth(values: Sequence[float], window: int = 10) -> np.ndarray:
    """Moving average over ``window`` points (shorter at the start), as used for Figure 4-11's trend."""
    v = np.asarray([float(x) for x in values], dtype=float)
    if v.size == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    k = np.minimum(np.arange(1, v.size + 1), window)
    return (c[1:] - c[np.arange(1, v.size + 1) - k]) / k


def loss_curve(
    losses: Sequence[float] | dict[str, Sequence[float]],
    *,
    window: int = 20,
    path: str | os.PathLike | None = None,
    title: str = "training loss",
) -> Any:
    """Loss per iteration, raw and smoothed (book 1, Figure 4-11); a dict draws one curve per label."""
    fig = new_figure()
    ax = fig.add_subplot()
    series = losses if isinstance(losses, dict) else {"loss": losses}
    for i, (label, values) in enumerate(series.items()):
        v = np.asarray([float(x) for x in values])
        color = f"C{i}"
        ax.plot(v, color=color, alpha=0.3, linewidth=0.8)
        ax.plot(smooth(v, window), color=color, label=f"{label} (mean of {window})")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    return save_figure(fig, path)


def accuracy_curve(
    train_acc: Sequence[float], test_acc: Sequence[float], *, path: str | os.PathLike | None = None
) -> Any:
    """Train and test accuracy per epoch (book 1, Figure 4-12): entry ``k`` is drawn at ``k`` epochs done."""
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot(np.arange(len(train_acc)), train_acc, marker="o", label="train acc")
    ax.plot(np.arange(len(test_acc)), test_acc, marker="s", linestyle="--", label="test acc")
    ax.set_xlabel("epochs")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.0)
    _integer_ticks(ax)
    ax.legend(loc="lower right")
    return save_figure(fig, path)


def training_curves(
    trainer: Any,
    path: str | os.PathLike | None = None,
    *,
    dataset: str | None = None,
    model: str | None = None,
    window: int = 50,
) -> Any:
    """A :class:`~xpnet.Trainer`'s run: loss per iteration (raw and smoothed) and accuracy per epoch.

    The accuracy lists hold the book's evaluations at each epoch's start, so entry ``k`` sits at
    ``k`` epochs done (0: the untrained network); the final accuracy (full sets) sits where
    training stopped. The title names the data set and model (``dataset``, ``model``; the model
    defaults to the network's class), the network's backend and the final test accuracy.
    """
    fig = new_figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    losses = np.asarray(trainer.train_loss_list, dtype=float)
    if losses.size:
        ax1.plot(np.arange(1, losses.size + 1), losses, color="C0", alpha=0.3, linewidth=0.8)
        ax1.plot(np.arange(1, losses.size + 1), smooth(losses, window), color="C0", label=f"loss (mean of {window})")
        ax1.legend()
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("loss")
    _integer_ticks(ax1)
    epochs = list(range(len(trainer.train_acc_list)))
    train_acc, test_acc = list(trainer.train_acc_list), list(trainer.test_acc_list)
    done = trainer.current_iter / trainer.iter_per_epoch
    if trainer.final_test_acc is not None and (not epochs or done > epochs[-1]):
        epochs.append(done)
        train_acc.append(trainer.final_train_acc)
        test_acc.append(trainer.final_test_acc)
    ax2.plot(epochs, train_acc, marker="o", label="train acc")
    ax2.plot(epochs, test_acc, marker="s", linestyle="--", label="test acc")
    ax2.set_xlabel("epochs done")
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(0, 1)
    _integer_ticks(ax2)
    ax2.legend(loc="lower right")
    first = _first_param(trainer.network)
    parts = [dataset, model or type(trainer.network).__name__, backend_name(first) if first is not None else None]
    title = " · ".join(p for p in parts if p)
    if trainer.final_test_acc is not None:
        title += f" — final test acc {trainer.final_test_acc:.4f}"
    if getattr(trainer, "diverged", None) is not None:
        title += " (diverged, rolled back)"
    fig.suptitle(title)
    return save_figure(fig, path)


def gradient_descent_path(
    f: Callable[[Any], Any],
    history: Any,
    *,
    extent: tuple[float, float, float, float] = (-4.5, 4.5, -4.5, 4.5),
    path: str | os.PathLike | None = None,
    title: str = "gradient descent",
) -> Any:
    """The points of ``gradient_descent(..., return_history=True)`` over the contours of ``f`` (Figure 4-10)."""
    h = asnumpy(history).reshape(-1, 2)
    x0, x1 = np.meshgrid(np.linspace(extent[0], extent[1], 101), np.linspace(extent[2], extent[3], 101))
    grid = asarray(np.stack([x0.ravel(), x1.ravel()]), dtype="float64")
    z = asnumpy(f(grid)).reshape(x0.shape)
    fig = new_figure()
    ax = fig.add_subplot()
    ax.contour(x0, x1, z, levels=15, colors="0.7", linewidths=0.8)
    ax.plot(h[:, 0], h[:, 1], "o-", markersize=3, color="C0")
    ax.axhline(0, color="0.5", linestyle="--", linewidth=0.8)
    ax.axvline(0, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_aspect("equal")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.set_title(title)
    return save_figure(fig, path)


def decision_boundary(
    network: Any, x: Any, t: Any, *, resolution: float = 0.01, path: str | os.PathLike | None = None
) -> Any:
    """Class regions of a 2-D classifier with its data points (book 2, Figure 1-33).

    The grid is built on the network's own backend and device (those of its parameters),
    whatever backend is active; ``x`` and ``t`` may live anywhere.
    """
    xs, ts = asnumpy(x), asnumpy(t)
    labels = ts.argmax(axis=1) if ts.ndim == 2 else ts
    lo, hi = xs.min(axis=0) - 0.1, xs.max(axis=0) + 0.1
    g0, g1 = np.meshgrid(np.arange(lo[0], hi[0], resolution), np.arange(lo[1], hi[1], resolution))
    grid = np.c_[g0.ravel(), g1.ravel()]
    first = _first_param(network)
    if first is not None:
        xp = get_namespace(first)
        grid = xp.asarray(grid, dtype=first.dtype, device=array_device(first))
    else:  # a network without a params dict: the active backend
        grid = asarray(grid.astype(xs.dtype))
    scores = asnumpy(network.predict(grid))
    fig = new_figure()
    ax = fig.add_subplot()
    ax.contourf(g0, g1, scores.argmax(axis=1).reshape(g0.shape), alpha=0.3, cmap="viridis")
    for c, marker in zip(range(int(labels.max()) + 1), "ox^sv*"):
        ax.scatter(xs[labels == c, 0], xs[labels == c, 1], s=25, marker=marker, label=f"class {c}")
    ax.legend()
    ax.set_title("decision boundary")
    return save_figure(fig, path)


def attention_map(
    weights: Any, row_labels: Sequence[str], col_labels: Sequence[str], path: str | os.PathLike | None = None
) -> Any:
    """Attention weights ``(rows, cols)`` as a grey-scale map (book 2, Figure 8-26): one row per output
    character (``row_labels``), one column per input character (``col_labels``); any backend's array."""
    w = np.asarray(asnumpy(weights), dtype=float)
    if w.ndim != 2 or w.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"attention_map: weights of shape {w.shape} do not fit {len(row_labels)} row and "
            f"{len(col_labels)} column labels"
        )
    fig = new_figure()
    ax = fig.add_subplot()
    ax.pcolor(w, cmap="Greys_r", vmin=0.0, vmax=1.0)
    ax.set_xticks(np.arange(w.shape[1]) + 0.5, list(col_labels))
    ax.set_yticks(np.arange(w.shape[0]) + 0.5, list(row_labels))
    ax.invert_yaxis()
    ax.set_xlabel("input")
    ax.set_ylabel("output")
    return save_figure(fig, path)
