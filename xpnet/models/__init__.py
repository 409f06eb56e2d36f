"""The models: book 1's networks, word2vec's models, the language models and seq2seq, on one base.

=============  ====================================================================================
``base``       :class:`Model`, the one base every model builds on (params, grads, save/load)
``networks``   book 1's ``SimpleNet``, ``TwoLayerNet``, ``ThreeLayerNet``, ``MultiLayerNet(Extend)``
``convnets``   book 1's ``SimpleConvNet`` and ``DeepConvNet``
``word2vec``   book 2's ``SimpleCBOW`` ... ``SkipGram`` (chapters 3-4)
``rnnlm``      book 2's language models and generators (chapters 5-6)
``seq2seq``    book 2's ``Seq2seq``, ``PeekySeq2seq``, ``AttentionSeq2seq`` (chapters 7-8)
=============  ====================================================================================

The rule: a model is layers plus a :class:`Model` base; it holds no namespace and no
parameter copy, and saves and loads through :mod:`xpnet.data.checkpoint`.
``xpnet.models`` gives book 1's networks, as it always has.
"""

from . import convnets, networks
from .base import BaseModel, Model, as_ids  # noqa: F401
from .convnets import *  # noqa: F403
from .networks import (  # noqa: F401
    ACTIVATIONS,
    MultiLayerNet,
    MultiLayerNetExtend,
    Network,
    ParamDict,
    SimpleNet,
    ThreeLayerNet,
    TwoLayerNet,
)

__all__ = [*networks.__all__, *convnets.__all__]
