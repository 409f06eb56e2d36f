"""Book 2's names in one place, for learners: ``from xpnet.book2 import Trainer, SimpleCBOW, preprocess``.

Each of book 2's imports (``from common.trainer import Trainer``, ``from common.util import
preprocess``, ``from common.layers import MatMul``, ...) becomes one import from here.
Book 1's names live in :mod:`xpnet` and its modules.
"""

from __future__ import annotations

from .layers import Affine, Embedding, MatMul, Repeat, Sigmoid, SigmoidWithLoss, Softmax, SoftmaxWithLoss, Sum
from .optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from .text import (
    analogy,
    convert_one_hot,
    cos_similarity,
    create_co_matrix,
    create_contexts_target,
    most_similar,
    normalize,
    ppmi,
    preprocess,
    svd,
)
from .trainer2 import Trainer, clip_grads
from .word2vec import CBOW, EmbeddingDot, NegativeSamplingLoss, SimpleCBOW, SimpleSkipGram, SkipGram, UnigramSampler

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
    # chapters 2-4
    "preprocess",
    "create_co_matrix",
    "cos_similarity",
    "most_similar",
    "ppmi",
    "analogy",
    "normalize",
    "create_contexts_target",
    "convert_one_hot",
    "svd",
    "SimpleCBOW",
    "SimpleSkipGram",
    "EmbeddingDot",
    "UnigramSampler",
    "NegativeSamplingLoss",
    "CBOW",
    "SkipGram",
    "Trainer",
]
