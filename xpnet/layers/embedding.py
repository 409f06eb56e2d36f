"""Book 2's ``Embedding`` (chapter 4): rows of a weight matrix picked by word id."""

from __future__ import annotations

from typing import Any

from ..backend import get_namespace, index_add, kernels_for
from .base import Layer, slot, zeros_like_all

__all__ = ["Embedding"]


class Embedding(Layer):
    """Book 2's word embedding: rows ``W[idx]`` of ``W`` of shape ``(V, D)``.

    ``idx`` holds integer word ids of any shape; the output has shape ``(*idx.shape, D)``.
    ``backward`` adds each row of ``dout`` into the row of ``dW`` it came from (repeated ids
    add up: :func:`xpnet.backend.index_add`) and returns ``None`` (ids have no gradient).
    """

    W = slot("W", "params", 0)
    dW = slot("dW", "grads", 0)

    def __init__(self, W: Any) -> None:
        self.params = [W]
        self.grads = zeros_like_all(self.params)
        self.idx = None
        self._bufs: dict = {}

    def forward(self, idx: Any, train_flg: bool = False) -> Any:
        W = self.params[0]
        xp = get_namespace(idx, W)
        if not xp.isdtype(idx.dtype, "integral"):
            raise TypeError(f"Embedding: word ids must be integers, got dtype {idx.dtype}")
        self.idx = idx
        k = kernels_for(W)
        store = self._bufs if train_flg else None  # training: the rows into this layer's buffer (out=)
        if idx.ndim == 1:
            return k.take_rows(W, idx, store)
        out = k.take_rows(W, xp.reshape(idx, (-1,)), store)
        return xp.reshape(out, (*idx.shape, W.shape[1]))

    def backward(self, dout: Any, *, input_grad: bool = True) -> None:
        dW = self.grads[0]
        xp = get_namespace(dout, dW)
        dW[...] = 0.0
        idx = self.idx if self.idx.ndim == 1 else xp.reshape(self.idx, (-1,))
        index_add(dW, idx, xp.reshape(dout, (idx.shape[0], dW.shape[1])), self._bufs)
        return None
