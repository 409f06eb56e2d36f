"""Book 2's names in one place, for learners: ``from xpnet.book2 import Trainer, SimpleCBOW, preprocess``.

Each of book 2's imports (``from common.trainer import Trainer``, ``from common.util import
preprocess``, ``from common.time_layers import TimeLSTM``, ``from ch08.attention_seq2seq import
AttentionSeq2seq``, ...) becomes one import from here; ``from xpnet.book2 import *`` brings them all.
Book 1's names live in :mod:`xpnet` and its modules.
"""

from __future__ import annotations

from . import attention, optimizers, rnnlm, seq2seq, text, time_layers, word2vec
from .data.text import *  # noqa: F403
from .layers import Affine, Embedding, MatMul, Repeat, Sigmoid, SigmoidWithLoss, Softmax, SoftmaxWithLoss, Sum  # noqa: F401
from .layers.attention import *  # noqa: F403
from .layers.time_layers import *  # noqa: F403
from .models.rnnlm import *  # noqa: F403
from .models.seq2seq import *  # noqa: F403
from .models.word2vec import *  # noqa: F403
from .training.optimizers import *  # noqa: F403
from .training.trainer2 import RnnlmTrainer, Trainer, clip_grads

_LAYERS = ["Affine", "Embedding", "MatMul", "Repeat", "Sigmoid", "SigmoidWithLoss", "Softmax", "SoftmaxWithLoss", "Sum"]
__all__ = [
    *_LAYERS,
    *optimizers.__all__,
    "Trainer",
    "RnnlmTrainer",
    "clip_grads",
    *text.__all__,  # chapters 2-3
    *word2vec.__all__,  # chapter 4
    *time_layers.__all__,  # chapters 5-6
    *rnnlm.__all__,
    *seq2seq.__all__,  # chapters 7-8
    *attention.__all__,
]
