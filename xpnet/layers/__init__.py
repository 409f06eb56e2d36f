"""The layers: the protocol, activations and losses, and every layer of both books.

=================  =======================================================================
``base``           the layer protocol (:class:`Layer`) and the gradient helpers every layer uses
``functions``      activations and losses (book 1's ``common/functions.py``)
``util``           ``im2col``, ``col2im``, ``conv_output_size`` (book 1's ``common/util.py``)
``core``           activations, ``Affine``, loss layers, ``MatMul``, ``Repeat``, ``Sum``
``normalization``  ``Dropout``, ``BatchNormalization``
``conv``           ``Convolution``, ``Pooling``
``embedding``      ``Embedding``
``recurrent``      ``RNN``, ``LSTM``, ``GRU`` and their ``Time*`` versions
``time_layers``    book 2's ``common/time_layers.py``: the recurrent layers and the other ``Time*`` layers
``attention``      book 2's attention layers
=================  =======================================================================

The rule: a layer takes its namespace from its inputs on every call and stores none; it
writes its gradients into ``grads`` through the helpers of ``base``. ``from xpnet.layers
import *`` gives what book 1's ``from common.layers import *`` gives: the layers, the
functions and ``im2col``/``col2im``.
"""

from . import conv, core, embedding, normalization
from .base import Layer, like_weights, slot, store_grad, store_matmul, store_sum, zeros_like_all  # noqa: F401
from .conv import *  # noqa: F403
from .core import *  # noqa: F403
from .embedding import *  # noqa: F403
from .functions import *  # noqa: F403 - as book 1's common/layers.py does: its `*` brings softmax, sigmoid, ...
from .functions import __all__ as _FUNCTIONS
from .normalization import *  # noqa: F403
from .util import col2im, im2col

__all__ = [
    "Layer",
    *core.__all__,
    *normalization.__all__,
    *conv.__all__,
    *embedding.__all__,
    # `from common.layers import *` in book 1 also gives common.functions' names and im2col/col2im
    "im2col",
    "col2im",
    *_FUNCTIONS,
]
