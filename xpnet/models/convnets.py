"""Book 1's convolutional networks (chapters 7-8): ``SimpleConvNet`` and ``DeepConvNet``.

Both are :class:`~xpnet.models.networks.Network` s: layers in ``layers``, parameters in ``params``.
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import randn, zeros
from ..layers import Affine, Convolution, Dropout, Pooling, Relu
from ..layers.util import conv_output_size
from .networks import Network, _one_generator

__all__ = ["SimpleConvNet", "DeepConvNet"]


class SimpleConvNet(Network):
    """Book 1, 7.5: ``Conv -> ReLU -> Pool(2x2) -> Affine -> ReLU -> Affine -> SoftmaxWithLoss``.

    ``x`` is ``(N, C, H, W)`` with ``input_dim == (C, H, W)``. Parameters ``W1, b1`` (the
    filters), ``W2, b2``, ``W3, b3``.
    """

    eval_batch_size = 100

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (1, 28, 28),
        conv_param: dict | None = None,
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: float = 0.01,
        *,
        dtype: Any = None,
        rng: Any = None,
    ) -> None:
        super().__init__()
        rng = _one_generator(rng)
        conv = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1, **(conv_param or {})}
        fn, fs, pad, stride = conv["filter_num"], conv["filter_size"], conv["pad"], conv["stride"]
        C, H, W = input_dim
        conv_h = conv_output_size(H, fs, stride, pad)
        conv_w = conv_output_size(W, fs, stride, pad)
        pool_out = fn * (conv_h // 2) * (conv_w // 2)
        s = float(weight_init_std)
        self.add_layer(
            "Conv1",
            Convolution(s * randn((fn, C, fs, fs), dtype=dtype, rng=rng), zeros(fn, dtype=dtype), stride, pad),
            "W1",
            "b1",
        )
        self.add_layer("Relu1", Relu())
        self.add_layer("Pool1", Pooling(2, 2, stride=2))
        self.add_layer(
            "Affine1",
            Affine(s * randn((pool_out, hidden_size), dtype=dtype, rng=rng), zeros(hidden_size, dtype=dtype)),
            "W2",
            "b2",
        )
        self.add_layer("Relu2", Relu())
        self.add_layer(
            "Affine2",
            Affine(s * randn((hidden_size, output_size), dtype=dtype, rng=rng), zeros(output_size, dtype=dtype)),
            "W3",
            "b3",
        )


class DeepConvNet(Network):
    """Book 1, 8.1: six 3x3 convolutions (16-16-32-32-64-64, He init) with three max-pools,
    ``Affine(50) -> ReLU -> Dropout -> Affine -> Dropout -> SoftmaxWithLoss``; input ``(N, 1, 28, 28)``.
    """

    eval_batch_size = 100

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (1, 28, 28),
        conv_params: list[dict] | None = None,
        hidden_size: int = 50,
        output_size: int = 10,
        *,
        dtype: Any = None,
        rng: Any = None,
    ) -> None:
        super().__init__()
        rng = _one_generator(rng)
        filters = [16, 16, 32, 32, 64, 64]
        convs = conv_params or [{"filter_num": f, "filter_size": 3, "pad": 1, "stride": 1} for f in filters]
        C, H, W = input_dim
        idx = 1
        for k, cp in enumerate(convs):
            fn, fs, pad, stride = cp["filter_num"], cp["filter_size"], cp["pad"], cp["stride"]
            Wc = math.sqrt(2.0 / (C * fs * fs)) * randn((fn, C, fs, fs), dtype=dtype, rng=rng)
            self.add_layer(f"Conv{k + 1}", Convolution(Wc, zeros(fn, dtype=dtype), stride, pad), f"W{idx}", f"b{idx}")
            self.add_layer(f"Relu{k + 1}", Relu())
            idx += 1
            C, H, W = fn, conv_output_size(H, fs, stride, pad), conv_output_size(W, fs, stride, pad)
            if k % 2 == 1:
                self.add_layer(f"Pool{k // 2 + 1}", Pooling(2, 2, stride=2))
                H, W = conv_output_size(H, 2, 2), conv_output_size(W, 2, 2)
        n_in = C * H * W
        W1 = math.sqrt(2.0 / n_in) * randn((n_in, hidden_size), dtype=dtype, rng=rng)
        self.add_layer("Affine1", Affine(W1, zeros(hidden_size, dtype=dtype)), f"W{idx}", f"b{idx}")
        self.add_layer(f"Relu{len(convs) + 1}", Relu())
        self.add_layer("Dropout1", Dropout(0.5))
        W2 = math.sqrt(2.0 / hidden_size) * randn((hidden_size, output_size), dtype=dtype, rng=rng)
        self.add_layer("Affine2", Affine(W2, zeros(output_size, dtype=dtype)), f"W{idx + 1}", f"b{idx + 1}")
        self.add_layer("Dropout2", Dropout(0.5))
