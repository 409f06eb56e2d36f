"""The one training loop: book 2's ``Trainer``, ``RnnlmTrainer`` and :func:`train_seq2seq` all run it.

A step returns its loss as a device array; the loop adds the losses up on the device and
reads them back only where something is printed (every ``eval_interval`` steps) or an epoch
ends and its caller asked for the epoch's loss. Nothing else leaves the device. With a
``DivergenceWatch`` each of those reads is judged by the one divergence rule (and rolled back).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ..backend import array_device, get_namespace
from .capture import StepCapture
from .divergence import DivergenceWatch
from .optimizers import clip_grads

__all__ = ["fit_loop", "forward_backward", "shuffled_batches", "train_step", "unique_params"]


def shuffled_batches(x: Any, t: Any, batch_size: int, rng: Any) -> Iterable[tuple[Any, Any]]:
    """One epoch of mini-batches: a permutation drawn on the host with ``rng``, moved to ``x``'s device
    once, and each batch gathered there with ``take``. ``max(len(x) // batch_size, 1)`` batches (the
    remainder is left out, as in the book; a set smaller than one batch is one batch)."""
    xp = get_namespace(x, t)
    n = x.shape[0]
    order = xp.asarray(rng.permutation(n), device=array_device(x))
    for i in range(max(n // batch_size, 1)):
        idx = order[i * batch_size : min((i + 1) * batch_size, n)]
        yield xp.take(x, idx, axis=0), xp.take(t, idx, axis=0)


def forward_backward(model: Any, batch_x: Any, batch_t: Any, capture: StepCapture | None = None) -> Any:
    """``loss = model.forward(x, t)`` then ``model.backward()``; the loss (a device array). With ``capture``
    (``capture=True`` of the trainers) the pair runs through it: recorded once as a CUDA graph and replayed."""

    def step(x: Any, t: Any) -> Any:
        loss = model.forward(x, t)
        model.backward()
        return loss

    if capture is None:
        return step(batch_x, batch_t)
    return capture.keep(capture.run(step, batch_x, batch_t))


def unique_params(params: list[Any], grads: list[Any]) -> tuple[list[Any], list[Any]]:
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


def train_step(
    model: Any,
    optimizer: Any,
    batch_x: Any,
    batch_t: Any,
    max_grad: float | None = None,
    capture: StepCapture | None = None,
) -> Any:
    """Book 2's step: ``loss = model.forward(x, t)``, ``model.backward()`` (through ``capture`` if given),
    gradients clipped to joint norm ``max_grad`` when given, ``optimizer.update(params, grads)`` with each
    shared parameter once (:func:`unique_params`); returns the loss (a device array)."""
    loss = forward_backward(model, batch_x, batch_t, capture)
    params, grads = unique_params(model.params, model.grads)
    if max_grad is not None:
        clip_grads(grads, max_grad)
    optimizer.update(params, grads)
    return loss


def fit_loop(
    step: Callable[[Any, Any], Any],
    batches: Callable[[], Iterable[tuple[Any, Any]]],
    max_epoch: int,
    *,
    eval_interval: int | None = None,
    report: Callable[[int, int, float, float], None] | None = None,
    epoch_end: Callable[[int, Any, int, float], None] | None = None,
    epoch_loss: bool = False,
    watch: DivergenceWatch | None = None,
) -> bool:
    """Run ``max_epoch`` epochs of ``step(batch_x, batch_t) -> loss`` over ``batches()``; returns True when Ctrl-C
    ended it (what was learned is kept: the caller says so), else False.

    Every ``eval_interval`` steps of an epoch (at steps 0, ``eval_interval``, ... as the book)
    ``report(epoch, iters, mean_loss, elapsed_seconds)`` gets the mean loss since the last
    report: the one read-back. ``epoch_end(epoch, loss_sum, n_steps, elapsed_seconds)`` is
    called after each epoch; with ``epoch_loss=True`` ``loss_sum`` is the epoch's losses summed
    (else ``None``: the loop keeps no sum it is not asked for).

    With ``watch`` (:class:`~xpnet.training.divergence.DivergenceWatch`, the rule every trainer shares) the
    losses go to it, each read (a report, an epoch's end with ``epoch_loss``, the loop's end) is one
    transfer judged there, and a diverged run is rolled back and raises ``TrainingDivergedError``.
    """
    window, count = None, 0
    start = time.time()
    interrupted = False
    try:
        for epoch in range(max_epoch):
            total, steps, read = None, 0, 0.0  # read: the epoch's losses already read (with a watch)
            for iters, (batch_x, batch_t) in enumerate(batches()):
                if watch is not None:
                    watch.begin()
                loss = step(batch_x, batch_t)
                steps += 1
                if watch is not None:
                    watch.add(loss)
                    if report is not None and eval_interval is not None and iters % eval_interval == 0:
                        values = watch.read()
                        read += sum(values)
                        report(epoch, iters, sum(values) / len(values), time.time() - start)
                    continue
                if epoch_loss:
                    total = loss if total is None else total + loss
                if report is None or eval_interval is None:
                    continue
                window = loss if window is None else window + loss
                count += 1
                if iters % eval_interval == 0:
                    report(epoch, iters, float(window) / count, time.time() - start)
                    window, count = None, 0
            if watch is not None and epoch_loss:
                total = read + sum(watch.read())
            if epoch_end is not None:
                epoch_end(epoch, total, steps, time.time() - start)
    except KeyboardInterrupt:
        interrupted = True
    if watch is not None:
        watch.read()  # the last window is judged too (after Ctrl-C as well)
    return interrupted
