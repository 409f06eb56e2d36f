"""Book 2's ``common/trainer.py``: ``Trainer``, ``RnnlmTrainer`` and ``clip_grads``.

Book 1's ``Trainer(network, x_train, ...)`` lives in :mod:`xpnet.trainer`; book 2's
``Trainer(model, optimizer).fit(...)`` lives here (and in :mod:`xpnet.book2`), so each
book's scripts change only their import line.
"""

from __future__ import annotations

from typing import Any

from .backend import get_namespace

__all__ = ["clip_grads"]


def clip_grads(grads: list[Any], max_norm: float) -> None:
    """Scale every gradient in place so that their joint L2 norm is at most ``max_norm`` (book 2, 5.5.3).

    The book reads the norm back to decide in Python whether to scale; here the factor
    ``min(1, max_norm / (norm + 1e-6))`` stays an array and every gradient is multiplied by
    it, so no value leaves the device.
    """
    grads = [g for g in grads if g is not None]
    if not grads:
        return
    xp = get_namespace(*grads)
    total = xp.sum(grads[0] * grads[0])
    for g in grads[1:]:
        total = total + xp.sum(g * g)
    rate = xp.minimum(max_norm / (xp.sqrt(total) + 1e-6), 1.0)
    for g in grads:
        g *= xp.astype(rate, g.dtype)
