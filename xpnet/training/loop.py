"""The one training loop: book 2's ``Trainer``, ``RnnlmTrainer`` and :func:`train_seq2seq` all run it.

A step returns its loss as a device array; the loop adds the losses up on the device and
reads them back only where something is printed (every ``eval_interval`` steps) or an epoch
ends and its caller asked for the epoch's loss. Nothing else leaves the device.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ..backend import array_device, get_namespace
from .capture import StepCapture
from .optimizers import clip_grads

__all__ = ["fit_loop", "forward_backward", "shuffled_batches", "train_step"]


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


def train_step(
    model: Any,
    optimizer: Any,
    batch_x: Any,
    batch_t: Any,
    max_grad: float | None = None,
    capture: StepCapture | None = None,
) -> Any:
    """Book 2's step: ``loss = model.forward(x, t)``, ``model.backward()`` (through ``capture`` if given),
    gradients clipped to joint norm ``max_grad`` when given, ``optimizer.update(model.params, model.grads)``;
    returns the loss (a device array)."""
    loss = forward_backward(model, batch_x, batch_t, capture)
    if max_grad is not None:
        clip_grads(model.grads, max_grad)
    optimizer.update(model.params, model.grads)
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
) -> None:
    """Run ``max_epoch`` epochs of ``step(batch_x, batch_t) -> loss`` over ``batches()``.

    Every ``eval_interval`` steps of an epoch (at steps 0, ``eval_interval``, ... as the book)
    ``report(epoch, iters, mean_loss, elapsed_seconds)`` gets the mean loss since the last
    report: the one read-back. ``epoch_end(epoch, loss_sum, n_steps, elapsed_seconds)`` is
    called after each epoch; with ``epoch_loss=True`` ``loss_sum`` is the epoch's losses summed
    on the device (else ``None``: the loop keeps no sum it is not asked for).
    """
    window, count = None, 0
    start = time.time()
    for epoch in range(max_epoch):
        total, steps = None, 0
        for iters, (batch_x, batch_t) in enumerate(batches()):
            loss = step(batch_x, batch_t)
            if epoch_loss:
                total = loss if total is None else total + loss
            steps += 1
            if report is None or eval_interval is None:
                continue
            window = loss if window is None else window + loss
            count += 1
            if iters % eval_interval == 0:
                report(epoch, iters, float(window) / count, time.time() - start)
                window, count = None, 0
        if epoch_end is not None:
            epoch_end(epoch, total, steps, time.time() - start)
