"""Book 2's ``common/trainer.py``: ``Trainer``, ``RnnlmTrainer`` and ``clip_grads``.

Book 1's ``Trainer(network, x_train, ...)`` lives in :mod:`xpnet.trainer`; book 2's
``Trainer(model, optimizer).fit(...)`` lives here (and in :mod:`xpnet.book2`), so each
book's scripts change only their import line.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..backend import array_device, asnumpy, get_namespace, host_rng
from .capture import StepCapture
from .loop import fit_loop, forward_backward, shuffled_batches, train_step
from .optimizers import clip_grads

__all__ = ["Trainer", "RnnlmTrainer", "clip_grads"]


def _unique(params: list[Any], grads: list[Any]) -> tuple[list[Any], list[Any]]:
    """Each parameter once, with the gradients of its repeats added: by identity (``is``), never by value.

    xpnet's models already list each shared weight once; this keeps a model written the book's way
    (one entry per use of a weight) right without the book's ``remove_duplicate``, which compares
    arrays by value on every step. Transposed sharing (book 2, chapter 6) must be declared by the model.
    """
    if len({id(p) for p in params}) == len(params):
        return params, grads
    first: dict[int, int] = {}
    ps: list[Any] = []
    gs: list[Any] = []
    for p, g in zip(params, grads):
        j = first.get(id(p))
        if j is None:
            first[id(p)] = len(ps)
            ps.append(p)
            gs.append(g)
        else:
            gs[j] = gs[j] + g
    return ps, gs


class Trainer:
    """Book 2's trainer: ``Trainer(model, optimizer).fit(x, t, max_epoch=10, batch_size=32, max_grad=None,
    eval_interval=20)``.

    ``model`` has ``forward(x, t) -> loss``, ``backward()``, ``params`` and ``grads``; ``optimizer``
    has ``update(params, grads)``. Each epoch draws one permutation on the host (xpnet's seeded
    generator), moves it to ``x``'s device once, and gathers every batch there with ``take``.
    Losses are added up on the device and read back only every ``eval_interval`` iterations, where
    the book prints its line (``eval_interval=None``: never). ``loss_list`` holds those averages.
    ``capture=True``: the forward and backward pass recorded once as a CUDA graph and replayed
    (:mod:`xpnet.training.capture`; the model must declare ``capturable = True``), else one line says why not.
    """

    def __init__(self, model: Any, optimizer: Any, *, capture: bool = False) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_list: list[float] = []
        self.eval_interval: int | None = None
        self.current_epoch = 0
        self._capture = StepCapture(model) if capture else None

    def step(self, batch_x: Any, batch_t: Any, max_grad: float | None = None) -> Any:
        """One forward, backward and update on a batch; returns the loss as a device array (no host read)."""
        loss = forward_backward(self.model, batch_x, batch_t, self._capture)
        params, grads = _unique(self.model.params, self.model.grads)
        if max_grad is not None:
            clip_grads(grads, max_grad)
        self.optimizer.update(params, grads)
        return loss

    def fit(
        self,
        x: Any,
        t: Any,
        max_epoch: int = 10,
        batch_size: int = 32,
        max_grad: float | None = None,
        eval_interval: int | None = 20,
    ) -> None:
        """Train for ``max_epoch`` epochs of ``len(x) // batch_size`` batches (the remainder is left out, as the book).

        ``x`` and ``t`` are arrays with the samples on axis 0 (word ids for CBOW: ``(N, 2w)`` and ``(N,)``).
        """
        data_size = x.shape[0]
        if t.shape[0] != data_size:
            raise ValueError(f"Trainer.fit: x has {data_size} samples but t has {t.shape[0]}")
        max_iters = data_size // batch_size
        if max_iters == 0:
            raise ValueError(f"Trainer.fit: {data_size} samples do not fill one batch of {batch_size}")
        self.eval_interval = eval_interval
        rng = host_rng()

        fit_loop(
            lambda bx, bt: self.step(bx, bt, max_grad),
            lambda: shuffled_batches(x, t, batch_size, rng),
            max_epoch,
            eval_interval=eval_interval,
            report=_reporter(self, max_iters, "loss", lambda loss: loss, self.loss_list),
            epoch_end=_next_epoch(self),
        )

    def plot(self, ylim: tuple[float, float] | None = None, *, path: str | os.PathLike | None = None) -> Any:
        """The recorded losses against iterations (in units of ``eval_interval``), as a matplotlib ``Figure``.

        The book calls ``plt.show()``; here the figure is returned (a notebook shows it) and saved
        as PNG when ``path`` is given.
        """
        from ..plot import new_figure, save_figure

        fig = new_figure()
        ax = fig.add_subplot()
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.plot(np.arange(len(self.loss_list)), self.loss_list, label="train")
        ax.set_xlabel(f"iterations (x{self.eval_interval})")
        ax.set_ylabel("loss")
        return save_figure(fig, path)


# --- RnnlmTrainer (book 2, chapter 5) ---------------------------------------------------------


class RnnlmTrainer:
    """Book 2's ``RnnlmTrainer(model, optimizer)``: truncated-BPTT training of a language model.

    ``fit(xs, ts, ...)`` cuts the corpus into ``batch_size`` streams that start ``len(xs) //
    batch_size`` words apart and reads ``time_size`` words of each per step, like the book;
    the batch is gathered on the device with ``take`` from indices computed by array arithmetic
    (the book fills it with a per-element Python loop). Losses stay on the device and are read
    back once per ``eval_interval`` steps, when the perplexity is printed and kept in ``ppl_list``.
    ``capture=True`` as for :class:`Trainer`.
    """

    def __init__(self, model: Any, optimizer: Any, *, capture: bool = False) -> None:
        self.model = model
        self.optimizer = optimizer
        self._capture = StepCapture(model) if capture else None
        self.time_idx = 0
        self.ppl_list: list[float] = []
        self.eval_interval: int | None = None
        self.current_epoch = 0
        self._grid = None

    def get_batch(self, x: Any, t: Any, batch_size: int, time_size: int) -> tuple[Any, Any]:
        """The next ``(batch_size, time_size)`` inputs and targets; advances ``time_idx`` by ``time_size``."""
        xp = get_namespace(x, t)
        size = x.shape[0]
        grid = self._grid
        if grid is None or tuple(grid.shape) != (batch_size, time_size) or grid.dtype != x.dtype:
            dev = array_device(x)
            jump = size // batch_size
            grid = xp.arange(batch_size, dtype=x.dtype, device=dev)[:, None] * jump
            grid = grid + xp.arange(time_size, dtype=x.dtype, device=dev)[None, :]
            self._grid = grid
        idx = xp.reshape((grid + self.time_idx) % size, (-1,))
        self.time_idx += time_size
        shape = (batch_size, time_size)
        return xp.reshape(xp.take(x, idx), shape), xp.reshape(xp.take(t, idx), shape)

    def fit(
        self,
        xs: Any,
        ts: Any,
        max_epoch: int = 10,
        batch_size: int = 20,
        time_size: int = 35,
        max_grad: float | None = None,
        eval_interval: int | None = 20,
    ) -> None:
        """Train on inputs ``xs`` and next-word targets ``ts`` (integer word ids ``(L,)``, e.g. ``corpus[:-1]``
        and ``corpus[1:]``); gradients are clipped to norm ``max_grad`` when given."""
        model, optimizer = self.model, self.optimizer
        xs, ts = _on_model(model, xs), _on_model(model, ts)
        if xs.shape != ts.shape:
            raise ValueError(
                f"RnnlmTrainer.fit: xs of shape {tuple(xs.shape)} and ts of shape {tuple(ts.shape)} differ"
            )
        max_iters = xs.shape[0] // (batch_size * time_size)
        if max_iters < 1:
            raise ValueError(
                f"RnnlmTrainer.fit: {xs.shape[0]} words are fewer than one batch of {batch_size} x {time_size}"
            )
        self.time_idx = 0
        self.ppl_list = []
        self.eval_interval = eval_interval
        fit_loop(
            lambda bx, bt: train_step(model, optimizer, bx, bt, max_grad, self._capture),
            lambda: (self.get_batch(xs, ts, batch_size, time_size) for _ in range(max_iters)),
            max_epoch,
            eval_interval=eval_interval,
            report=_reporter(self, max_iters, "perplexity", math.exp, self.ppl_list),
            epoch_end=_next_epoch(self),
        )

    def plot(self, ylim: tuple[float, float] | None = None, path: Any = None) -> Any:
        """The perplexity curve (one point per ``eval_interval`` steps); saved as PNG when ``path`` is given."""
        from ..plot import new_figure, save_figure

        fig = new_figure()
        ax = fig.add_subplot()
        x = [i * (self.eval_interval or 1) for i in range(len(self.ppl_list))]
        ax.plot(x, self.ppl_list, label="train")
        ax.set_xlabel(f"iterations (x{self.eval_interval})")
        ax.set_ylabel("perplexity")
        if ylim is not None:
            ax.set_ylim(*ylim)
        return save_figure(fig, path)


def _reporter(trainer: Any, max_iters: int, what: str, value_of: Any, out: list[float]) -> Any:
    """The book's progress line, every ``eval_interval`` steps: ``value_of(mean loss)`` printed and kept in ``out``."""

    def report(epoch: int, iters: int, avg_loss: float, elapsed: float) -> None:
        value = value_of(avg_loss)
        print(
            f"| epoch {trainer.current_epoch + 1} |  iter {iters + 1} / {max_iters} "
            f"| time {int(elapsed)}[s] | {what} {value:.2f}"
        )
        out.append(value)

    return report


def _next_epoch(trainer: Any) -> Any:
    def next_epoch(*_: Any) -> None:
        trainer.current_epoch += 1

    return next_epoch


def _on_model(model: Any, ids: Any) -> Any:
    """Word ids on the backend and device of the model's parameters (moved once, before training)."""
    W = model.params[0]
    try:
        get_namespace(ids, W)
    except TypeError:
        return get_namespace(W).asarray(asnumpy(ids), device=array_device(W))
    if array_device(ids) != array_device(W):
        return get_namespace(W).asarray(asnumpy(ids), device=array_device(W))
    return ids
