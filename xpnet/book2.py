"""Book 2's names in one place, for learners: ``from xpnet.book2 import Trainer, SimpleCBOW, preprocess``.

Each of book 2's imports (``from common.trainer import Trainer``, ``from common.util import
preprocess``, ``from common.layers import MatMul``, ...) becomes one import from here.
Book 1's names live in :mod:`xpnet` and its modules.
"""

from __future__ import annotations

from .layers import Affine, Embedding, MatMul, Repeat, Sigmoid, SigmoidWithLoss, Softmax, SoftmaxWithLoss, Sum
from .optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from .trainer2 import clip_grads

__all__ = [
    "Affine",
    "AdaGrad",
    "Adam",
    "Embedding",
    "MatMul",
    "Momentum",
    "Nesterov",
    "RMSprop",
    "Repeat",
    "SGD",
    "Sigmoid",
    "SigmoidWithLoss",
    "Softmax",
    "SoftmaxWithLoss",
    "Sum",
    "clip_grads",
]
