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
from ..layers.functions import check_labels, check_sizes
from .capture import StepCapture
from .divergence import DivergenceWatch
from .loop import fit_loop, shuffled_batches, train_step
from .optimizers import clip_grads

__all__ = ["Trainer", "RnnlmTrainer", "clip_grads"]


class Trainer:
    """Book 2's trainer: ``Trainer(model, optimizer).fit(x, t, max_epoch=10, batch_size=32, max_grad=None,
    eval_interval=20)``.

    ``model`` has ``forward(x, t) -> loss``, ``backward()``, ``params`` and ``grads``; ``optimizer``
    has ``update(params, grads)``. Each epoch draws one permutation on the host (xpnet's seeded
    generator), moves it to ``x``'s device once, and gathers every batch there with ``take``.
    Losses stay on the device and are read back only every ``eval_interval`` iterations, where
    the book prints its line (``eval_interval=None``: never). ``loss_list`` holds those averages.
    ``capture=True``: the forward and backward pass recorded once as a CUDA graph and replayed
    (:mod:`xpnet.training.capture`; the model must declare ``capturable = True``), else one line says why not.

    Beyond the book, as book 1's ``Trainer``: word ids outside the model's vocabulary are refused
    before training (once per data set); at each read :class:`xpnet.training.divergence.DivergenceWatch`
    judges the losses, and a diverged run is rolled back to its last good parameters and raises
    :class:`~xpnet.training.divergence.TrainingDivergedError` (``eval_interval=None`` reads nothing, so
    judges nothing); Ctrl-C ends ``fit`` keeping what was learned (``interrupted`` is then True).
    """

    def __init__(self, model: Any, optimizer: Any, *, capture: bool = False) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_list: list[float] = []
        self.eval_interval: int | None = None
        self.current_epoch = 0
        self._capture = StepCapture(model) if capture else None
        self.interrupted = False
        self._checked: list[Any] = []

    def step(self, batch_x: Any, batch_t: Any, max_grad: float | None = None) -> Any:
        """One forward, backward and update on a batch; returns the loss as a device array (no host read)."""
        return train_step(self.model, self.optimizer, batch_x, batch_t, max_grad, self._capture)

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
        check_sizes("Trainer.fit", max_epoch=max_epoch, batch_size=batch_size, eval_interval=eval_interval)
        data_size = x.shape[0]
        if t.shape[0] != data_size:
            raise ValueError(f"Trainer.fit: x has {data_size} samples but t has {t.shape[0]}")
        max_iters = data_size // batch_size
        if max_iters == 0:
            raise ValueError(f"Trainer.fit: {data_size} samples do not fill one batch of {batch_size}")
        self._checked = check_ids(self.model, ("x", x), ("t", t), who="Trainer.fit", checked=self._checked)
        self.eval_interval = eval_interval
        rng = host_rng()

        self.interrupted = fit_loop(
            lambda bx, bt: self.step(bx, bt, max_grad),
            lambda: shuffled_batches(x, t, batch_size, rng),
            max_epoch,
            eval_interval=eval_interval,
            report=_reporter(self, max_iters, "loss", lambda loss: loss, self.loss_list),
            epoch_end=_next_epoch(self),
            watch=_watch(self, eval_interval),
        )
        _say_interrupted(self)

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
        self.interrupted = False
        self._grid = None
        self._checked: list[Any] = []

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
        check_sizes("RnnlmTrainer.fit", max_epoch=max_epoch, batch_size=batch_size, time_size=time_size,
                    eval_interval=eval_interval)  # fmt: skip
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
        self._checked = check_ids(
            model, ("xs", xs), ("ts", ts), who="RnnlmTrainer.fit", ignore={"ts": -1}, checked=self._checked
        )
        self.time_idx = 0
        self.ppl_list = []
        self.eval_interval = eval_interval
        self.interrupted = fit_loop(
            lambda bx, bt: train_step(model, optimizer, bx, bt, max_grad, self._capture),
            lambda: (self.get_batch(xs, ts, batch_size, time_size) for _ in range(max_iters)),
            max_epoch,
            eval_interval=eval_interval,
            report=_reporter(self, max_iters, "perplexity", perplexity, self.ppl_list),
            epoch_end=_next_epoch(self),
            watch=_watch(self, eval_interval),
        )
        _say_interrupted(self)

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


def perplexity(mean_loss: float) -> float:
    """``exp(mean_loss)``, ``inf`` beyond what a float holds (``math.exp`` raises above 709.78: a diverged run)."""
    return math.inf if mean_loss > 709 else math.exp(mean_loss)


def _watch(trainer: Any, eval_interval: int | None) -> DivergenceWatch | None:
    """The divergence rule over the trainer's parameters, judged at the reads the book makes (none: no watch)."""
    return DivergenceWatch.over(trainer.model.params, trainer.optimizer) if eval_interval else None


def _say_interrupted(trainer: Any) -> None:
    if trainer.interrupted:
        print(f"interrupted in epoch {trainer.current_epoch + 1}: keeping what was learned so far")


def _next_epoch(trainer: Any) -> Any:
    def next_epoch(*_: Any) -> None:
        trainer.current_epoch += 1

    return next_epoch


def check_ids(
    model: Any,
    *named: tuple[str, Any],
    who: str,
    ignore: dict[str, int] | None = None,
    checked: list[Any] = (),  # type: ignore[assignment]
) -> list[Any]:
    """Refuse (``ValueError``) word ids outside ``[0, model.vocab_size)`` in the integer arrays ``named``
    (``(name, array)`` pairs), once, before training: one reduction and one read per array. Float
    inputs, and models that declare no ``vocab_size``, are left alone. ``ignore`` maps a name to a
    value let through there (the loss's padding label ``-1``). Returns the arrays checked: passed
    back as ``checked``, the very same arrays (``is``) are not read again (a second ``fit`` on them)."""
    arrays = [a for _, a in named]
    if len(checked) == len(arrays) and all(a is b for a, b in zip(arrays, checked)):
        return list(checked)
    V = getattr(model, "vocab_size", None)
    if V is not None:
        for name, a in named:
            if get_namespace(a).isdtype(a.dtype, "integral"):  # one-hot integer rows (0 and 1) pass as they are
                skip = (ignore or {}).get(name)
                check_labels(a, V, sync=True, ignore=skip, what=f"{who}: the word ids in {name}")
    return arrays


def _on_model(model: Any, ids: Any) -> Any:
    """Word ids on the backend and device of the model's parameters (moved once, before training)."""
    W = model.params[0]
    try:
        same = get_namespace(ids, W) is not None and array_device(ids) == array_device(W)
    except TypeError:  # another library
        same = False
    return ids if same else get_namespace(W).asarray(asnumpy(ids), device=array_device(W))
