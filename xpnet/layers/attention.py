"""Book 2's attention layers (chapter 8, ``ch08/attention_layer.py``): ``WeightSum``, ``AttentionWeight``,
``Attention`` and ``TimeAttention``.

Shapes: encoder states ``hs`` ``(N, T, H)``, one decoder state ``h`` ``(N, H)``, attention
weights ``a`` ``(N, T)``. ``TimeAttention`` attends for every decoder step at once with
batched matrix products (``(N, Td, H) @ (N, H, Te)``) instead of the book's list of ``Td``
``Attention`` layers; ``attention_weights`` is still the book's list of ``(N, Te)`` arrays.
None of these layers has parameters.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_namespace
from .core import Layer
from .functions import softmax

__all__ = ["WeightSum", "AttentionWeight", "Attention", "TimeAttention"]


def _softmax_backward(xp: Any, a: Any, da: Any) -> Any:
    """Gradient through ``a = softmax(s)`` over the last axis."""
    return a * (da - xp.sum(da * a, axis=-1, keepdims=True))


class WeightSum(Layer):
    """Context vector ``c = sum_t a[:, t] * hs[:, t, :]``: ``forward(hs, a)`` -> ``(N, H)``;
    ``backward(dc)`` -> ``(dhs, da)``."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = None

    def forward(self, hs: Any, a: Any) -> Any:  # type: ignore[override]
        xp = get_namespace(hs, a)
        self.cache = (hs, a)
        return xp.sum(hs * a[:, :, None], axis=1)

    def backward(self, dc: Any, *, input_grad: bool = True) -> tuple[Any, Any]:  # type: ignore[override]
        hs, a = self.cache
        xp = get_namespace(dc, hs)
        dt = dc[:, None, :]
        return dt * a[:, :, None], xp.sum(dt * hs, axis=2)


class AttentionWeight(Layer):
    """Attention weights ``a = softmax(hs @ h)`` over the ``T`` encoder states: ``forward(hs, h)`` -> ``(N, T)``;
    ``backward(da)`` -> ``(dhs, dh)``."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = None

    def forward(self, hs: Any, h: Any) -> Any:  # type: ignore[override]
        xp = get_namespace(hs, h)
        a = softmax(xp.sum(hs * h[:, None, :], axis=2))
        self.cache = (hs, h, a)
        return a

    def backward(self, da: Any, *, input_grad: bool = True) -> tuple[Any, Any]:  # type: ignore[override]
        hs, h, a = self.cache
        xp = get_namespace(da, hs)
        ds = _softmax_backward(xp, a, da)[:, :, None]
        return ds * h[:, None, :], xp.sum(ds * hs, axis=1)


class Attention(Layer):
    """``AttentionWeight`` then ``WeightSum``: ``forward(hs, h)`` -> context ``(N, H)``; ``backward(dout)`` ->
    ``(dhs, dh)``. The last weights are in ``attention_weight`` ``(N, T)``."""

    def __init__(self) -> None:
        super().__init__()
        self.attention_weight_layer = AttentionWeight()
        self.weight_sum_layer = WeightSum()
        self.attention_weight = None

    def forward(self, hs: Any, h: Any) -> Any:  # type: ignore[override]
        a = self.attention_weight_layer.forward(hs, h)
        self.attention_weight = a
        return self.weight_sum_layer.forward(hs, a)

    def backward(self, dout: Any, *, input_grad: bool = True) -> tuple[Any, Any]:  # type: ignore[override]
        dhs0, da = self.weight_sum_layer.backward(dout)
        dhs1, dh = self.attention_weight_layer.backward(da)
        return dhs0 + dhs1, dh


class TimeAttention(Layer):
    """Attention for every decoder step: ``forward(hs_enc, hs_dec)`` with ``hs_enc`` ``(N, Te, H)`` and ``hs_dec``
    ``(N, Td, H)`` returns the contexts ``(N, Td, H)``; ``backward(dout)`` returns ``(dhs_enc, dhs_dec)``.

    ``attention_weights`` is the book's list of ``Td`` arrays ``(N, Te)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cache = None
        self.attention_weights: list[Any] = []

    def forward(self, hs_enc: Any, hs_dec: Any) -> Any:  # type: ignore[override]
        xp = get_namespace(hs_enc, hs_dec)
        if (
            hs_enc.ndim != 3
            or hs_dec.ndim != 3
            or hs_enc.shape[0] != hs_dec.shape[0]
            or hs_enc.shape[2] != hs_dec.shape[2]
        ):
            raise ValueError(
                f"TimeAttention: hs_enc {tuple(hs_enc.shape)} and hs_dec {tuple(hs_dec.shape)} must be (N, Te, H) "
                "and (N, Td, H)"
            )
        A = softmax(hs_dec @ xp.matrix_transpose(hs_enc))  # (N, Td, Te)
        self.cache = (hs_enc, hs_dec, A)
        self.attention_weights = [A[:, t, :] for t in range(A.shape[1])]
        return A @ hs_enc

    def backward(self, dout: Any, *, input_grad: bool = True) -> tuple[Any, Any]:  # type: ignore[override]
        hs_enc, hs_dec, A = self.cache
        xp = get_namespace(dout, hs_enc)
        dA = dout @ xp.matrix_transpose(hs_enc)
        dS = _softmax_backward(xp, A, dA)
        dhs_enc = xp.matrix_transpose(A) @ dout + xp.matrix_transpose(dS) @ hs_dec
        return dhs_enc, dS @ hs_enc
