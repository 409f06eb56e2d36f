"""``train_seq2seq``: book 2's ``Trainer.fit`` for a seq2seq model (chapters 7-8), on the one training loop."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..models.seq2seq import seq2seq_accuracy
from .loop import fit_loop, shuffled_batches, train_step

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
    on the device, gradients clipped; the mean loss of each epoch is read back once. With ``validation=(x, t)``
    the exact-match accuracy on it is printed after each epoch, as the book's ``train_seq2seq.py`` does.
    Returns the per-epoch mean losses and validation accuracies.

    ``x`` ``(N, T_in)`` and ``t`` ``(N, T_out)`` are integer id arrays on the model's backend.
    """
    rng = np.random.default_rng(seed)
    losses: list[float] = []
    accuracies: list[float] = []

    def epoch_end(epoch: int, total: Any, steps: int, elapsed: float) -> None:
        losses.append(float(total) / steps)
        if validation is not None:
            accuracies.append(seq2seq_accuracy(model, *validation))
            print(f"| epoch {epoch + 1} | val acc {accuracies[-1] * 100:.3f}% | {elapsed:.0f} s")

    fit_loop(
        lambda bx, bt: train_step(model, optimizer, bx, bt, max_grad),
        lambda: shuffled_batches(x, t, batch_size, rng),
        max_epoch,
        epoch_end=epoch_end,
        epoch_loss=True,
    )
    return losses, accuracies
