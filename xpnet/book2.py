"""Book 2's names in one place, for learners: ``from xpnet.book2 import Trainer, SimpleCBOW, preprocess``.

Each of book 2's imports (``from common.trainer import Trainer``, ``from common.util import
preprocess``, ``from common.layers import MatMul``, ...) becomes one import from here.
Book 1's names live in :mod:`xpnet` and its modules.
"""

from __future__ import annotations

from .attention import Attention, AttentionWeight, TimeAttention, WeightSum
from .layers import Affine, Embedding, MatMul, Repeat, Sigmoid, SigmoidWithLoss, Softmax, SoftmaxWithLoss, Sum
from .optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from .rnnlm import BetterRnnlm, BetterRnnlmGen, Rnnlm, RnnlmGen, SimpleRnnlm, eval_perplexity
from .seq2seq import (
    AttentionDecoder,
    AttentionEncoder,
    AttentionSeq2seq,
    Decoder,
    Encoder,
    PeekyDecoder,
    PeekySeq2seq,
    Seq2seq,
    eval_seq2seq,
)
from .time_layers import (
    GRU,
    LSTM,
    RNN,
    TimeAffine,
    TimeBiLSTM,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSigmoidWithLoss,
    TimeSoftmaxWithLoss,
)
from .trainer2 import RnnlmTrainer, clip_grads

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
    # chapters 5-6
    "RNN",
    "TimeRNN",
    "LSTM",
    "TimeLSTM",
    "GRU",
    "TimeGRU",
    "TimeEmbedding",
    "TimeAffine",
    "TimeSoftmaxWithLoss",
    "TimeDropout",
    "TimeBiLSTM",
    "TimeSigmoidWithLoss",
    "SimpleRnnlm",
    "Rnnlm",
    "BetterRnnlm",
    "RnnlmGen",
    "BetterRnnlmGen",
    "RnnlmTrainer",
    "eval_perplexity",
    # chapters 7-8
    "Encoder",
    "Decoder",
    "Seq2seq",
    "PeekyDecoder",
    "PeekySeq2seq",
    "eval_seq2seq",
    "WeightSum",
    "AttentionWeight",
    "Attention",
    "TimeAttention",
    "AttentionEncoder",
    "AttentionDecoder",
    "AttentionSeq2seq",
]
