"""``train_seq2seq``: book 2's ``Trainer.fit`` for a seq2seq model (chapters 7-8), on the one training loop."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layers.functions import check_sizes
from ..models.seq2seq import seq2seq_accuracy
from .divergence import DivergenceWatch
from .loop import fit_loop, shuffled_batches, train_step
from .trainer2 import check_ids

__all__ = ["train_seq2seq"]


def train_seq2seq(
    model: Any,
    optimizer: Any,
    x: Any,
    t: Any,
    *,
    max_epoch: int,
    batch_size: int,
    max_grad: float | None = None,
    seed: int = 0,
    validation: tuple[Any, Any] | None = None,
) -> tuple[list[float], list[float]]:
    """Book 2's ``Trainer.fit`` loop for a seq2seq model: a shuffled pass per epoch, batches gathered with ``take``
    on the device, gradients clipped; the losses of each epoch are read back once, at its end, and judged by the
    divergence rule every trainer shares (rolled back, ``TrainingDivergedError``). Word ids outside the model's
    vocabulary are refused first. With ``validation=(x, t)`` the exact-match accuracy on it is printed after each
    epoch, as the book's ``train_seq2seq.py`` does. Ctrl-C stops, keeping what was learned (fewer epochs in the
    result). Returns the per-epoch mean losses and validation accuracies.

    ``x`` ``(N, T_in)`` and ``t`` ``(N, T_out)`` are integer id arrays on the model's backend.
    """
    check_sizes("train_seq2seq", max_epoch=max_epoch, batch_size=batch_size)
    check_ids(model, ("x", x), ("t", t), who="train_seq2seq")
    rng = np.random.default_rng(seed)
    losses: list[float] = []
    accuracies: list[float] = []

    def epoch_end(epoch: int, total: Any, steps: int, elapsed: float) -> None:
        losses.append(float(total) / steps)
        if validation is not None:
            accuracies.append(seq2seq_accuracy(model, *validation))
            print(f"| epoch {epoch + 1} | val acc {accuracies[-1] * 100:.3f}% | {elapsed:.0f} s")

    interrupted = fit_loop(
        lambda bx, bt: train_step(model, optimizer, bx, bt, max_grad),
        lambda: shuffled_batches(x, t, batch_size, rng),
        max_epoch,
        epoch_end=epoch_end,
        epoch_loss=True,
        watch=DivergenceWatch.over(model.params, optimizer),
    )
    if interrupted:
        print(f"interrupted in epoch {len(losses) + 1}: keeping what was learned so far")
    return losses, accuracies
