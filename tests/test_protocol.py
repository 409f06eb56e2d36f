"""The layer protocol (xpnet/layers.py's docstring), checked over every Layer subclass.

A new layer must be added to FACTORIES with a small input: the test fails for a layer it does
not know, so no layer escapes the check.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from helpers import assert_close
from test_distributed import FakeComm

import xpnet
import xpnet.attention
import xpnet.distributed
import xpnet.rnnlm
import xpnet.time_layers
import xpnet.word2vec
from xpnet.layers import Layer

r = np.random.default_rng(5)


def _w(*shape):
    return xpnet.asarray(r.standard_normal(shape))


def _x(*shape):
    return xpnet.asarray(r.standard_normal(shape))


def _ids(*shape, high=6):
    return xpnet.asarray(r.integers(0, high, shape))


# name -> (make the layer, make an input); loss layers: input is (x, t)
FACTORIES = {
    "Relu": (lambda: xpnet.layers.Relu(), lambda: _x(4, 3)),
    "Sigmoid": (lambda: xpnet.layers.Sigmoid(), lambda: _x(4, 3)),
    "Affine": (lambda: xpnet.layers.Affine(_w(3, 2), _w(2)), lambda: _x(4, 3)),
    "Softmax": (lambda: xpnet.layers.Softmax(), lambda: _x(4, 3)),
    "MatMul": (lambda: xpnet.layers.MatMul(_w(3, 2)), lambda: _x(4, 3)),
    "Repeat": (lambda: xpnet.layers.Repeat(4), lambda: _x(1, 3)),
    "Sum": (lambda: xpnet.layers.Sum(), lambda: _x(4, 3)),
    "Dropout": (lambda: xpnet.layers.Dropout(0.3), lambda: _x(4, 3)),
    "BatchNormalization": (lambda: xpnet.layers.BatchNormalization(_w(3), _w(3)), lambda: _x(4, 3)),
    "Convolution": (lambda: xpnet.layers.Convolution(_w(2, 1, 3, 3), _w(2), 1, 1), lambda: _x(2, 1, 4, 4)),
    "Pooling": (lambda: xpnet.layers.Pooling(2, 2, 2), lambda: _x(2, 1, 4, 4)),
    "Embedding": (lambda: xpnet.layers.Embedding(_w(6, 3)), lambda: _ids(4)),
    "SoftmaxWithLoss": (lambda: xpnet.layers.SoftmaxWithLoss(), lambda: (_x(4, 3), _ids(4, high=3))),
    "SigmoidWithLoss": (lambda: xpnet.layers.SigmoidWithLoss(), lambda: (_x(4), _ids(4, high=2))),
    "MultiNodeBatchNormalization": (  # one rank: the global batch is the local one
        lambda: xpnet.distributed.MultiNodeBatchNormalization(_w(3), _w(3), FakeComm(0, 1)),
        lambda: _x(4, 3),
    ),
    "TimeRNN": (lambda: xpnet.time_layers.TimeRNN(_w(3, 2), _w(2, 2), _w(2)), lambda: _x(2, 3, 3)),
    "TimeLSTM": (lambda: xpnet.time_layers.TimeLSTM(_w(3, 8), _w(2, 8), _w(8)), lambda: _x(2, 3, 3)),
    "TimeGRU": (lambda: xpnet.time_layers.TimeGRU(_w(3, 6), _w(2, 6), _w(6)), lambda: _x(2, 3, 3)),
    "TimeBiLSTM": (
        lambda: xpnet.time_layers.TimeBiLSTM(_w(3, 8), _w(2, 8), _w(8), _w(3, 8), _w(2, 8), _w(8)),
        lambda: _x(2, 3, 3),
    ),
    "TimeEmbedding": (lambda: xpnet.time_layers.TimeEmbedding(_w(6, 3)), lambda: _ids(2, 3)),
    "TimeAffine": (lambda: xpnet.time_layers.TimeAffine(_w(3, 4), _w(4)), lambda: _x(2, 3, 3)),
    "TimeDropout": (lambda: xpnet.time_layers.TimeDropout(0.3), lambda: _x(2, 3, 3)),
    "TiedTimeAffine": (
        lambda: xpnet.rnnlm.TiedTimeAffine(xpnet.time_layers.TimeEmbedding(_w(6, 3)), _w(6)),
        lambda: _x(2, 3, 3),
    ),
    "TimeSoftmaxWithLoss": (
        lambda: xpnet.time_layers.TimeSoftmaxWithLoss(),
        lambda: (_x(2, 3, 4), _ids(2, 3, high=4)),
    ),
    "TimeSigmoidWithLoss": (lambda: xpnet.time_layers.TimeSigmoidWithLoss(), lambda: (_x(2, 3), _ids(2, 3, high=2))),
    "NegativeSamplingLoss": (
        lambda: xpnet.word2vec.NegativeSamplingLoss(_w(6, 3), np.arange(6).repeat(2), sample_size=2),
        lambda: (_x(4, 3), _ids(4)),
    ),
}
# two-input layers: (make the layer, make both inputs)
MULTI = {
    "EmbeddingDot": (lambda: xpnet.word2vec.EmbeddingDot(_w(6, 3)), lambda: (_x(4, 3), _ids(4))),
    "RNN": (lambda: xpnet.time_layers.RNN(_w(3, 2), _w(2, 2), _w(2)), lambda: (_x(4, 3), _x(4, 2))),
    "LSTM": (lambda: xpnet.time_layers.LSTM(_w(3, 8), _w(2, 8), _w(8)), lambda: (_x(4, 3), _x(4, 2), _x(4, 2))),
    "GRU": (lambda: xpnet.time_layers.GRU(_w(3, 6), _w(2, 6), _w(6)), lambda: (_x(4, 3), _x(4, 2))),
    "WeightSum": (lambda: xpnet.attention.WeightSum(), lambda: (_x(2, 3, 4), _x(2, 3))),
    "AttentionWeight": (lambda: xpnet.attention.AttentionWeight(), lambda: (_x(2, 3, 4), _x(2, 4))),
    "Attention": (lambda: xpnet.attention.Attention(), lambda: (_x(2, 3, 4), _x(2, 4))),
    "TimeAttention": (lambda: xpnet.attention.TimeAttention(), lambda: (_x(2, 3, 4), _x(2, 5, 4))),
}


def all_layers() -> dict[str, type]:
    """Every subclass of Layer defined in the xpnet package (every module imported first)."""
    for info in pkgutil.iter_modules(xpnet.__path__):
        if info.name not in ("__main__",):
            importlib.import_module(f"xpnet.{info.name}")
    found, todo = {}, [Layer]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("xpnet.") and not sub.__name__.startswith("_"):
                found[f"{sub.__module__}.{sub.__qualname__}"] = sub
    return found


def _is_loss(cls: type) -> bool:
    return cls.__name__.endswith("Loss")


def test_every_layer_is_covered():
    missing = [name for name, cls in all_layers().items() if cls.__name__ not in FACTORIES | MULTI]
    assert not missing, f"layers without a protocol check: add them to FACTORIES: {missing}"


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_signatures(name):
    cls = getattr(xpnet.layers, name, None) or next(c for c in all_layers().values() if c.__name__ == name)
    fwd = inspect.signature(cls.forward).parameters
    bwd = inspect.signature(cls.backward).parameters
    if _is_loss(cls):
        assert len([p for p in fwd.values() if p.default is inspect.Parameter.empty]) == 3  # self, x, t
        assert list(bwd)[1] == "dout" and bwd["dout"].default == 1
    else:
        assert "train_flg" in fwd, f"{name}.forward takes no train_flg"
        assert "input_grad" in bwd and bwd["input_grad"].kind is inspect.Parameter.KEYWORD_ONLY
    assert isinstance(cls.buffers, tuple)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_params_grads_buffers_and_forward_many(backend64, name):
    make, make_input = FACTORIES[name]
    layer = make()
    assert isinstance(layer.params, list) and isinstance(layer.grads, list)
    assert len(layer.params) == len(layer.grads)
    for p, g in zip(layer.params, layer.grads):
        assert tuple(p.shape) == tuple(g.shape)
    x = make_input()
    if _is_loss(type(layer)):
        layer.forward(*x)
        layer.backward()
        return
    out = layer.forward(x, train_flg=True)
    buffers_before = [id(layer.grads[i]) for i in range(len(layer.grads))]
    layer.backward(xpnet.get_namespace(out).ones_like(out))
    assert [id(g) for g in layer.grads] == buffers_before, "gradients must be written into their buffers"
    for attr in layer.buffers:
        assert getattr(layer, attr) is not None, f"{name}.{attr} declared as a buffer but not set"
    # forward_many on P = 3 copies equals forward on each copy (same mode: training)
    xp = xpnet.get_namespace(x)
    if xp.isdtype(x.dtype, "integral"):
        return  # ids cannot be perturbed
    z = xp.stack([x, x * 2.0, x - 1.0])
    many = layer.forward_many(z, True)
    for k in range(3):
        if name in ("Dropout", "TimeDropout"):  # forward draws a new mask; forward_many keeps the last one
            expected = z[k, ...] * layer.mask
        else:
            expected = layer.forward(z[k, ...], train_flg=True)
        assert_close(many[k, ...], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(MULTI))
def test_two_input_layers(backend64, name):
    make, make_inputs = MULTI[name]
    layer = make()
    assert len(layer.params) == len(layer.grads)
    out = layer.forward(*make_inputs())
    ids = [id(g) for g in layer.grads]
    outs = out if isinstance(out, tuple) else (out,)  # LSTM: (h, c)
    layer.backward(*(xpnet.get_namespace(o).ones_like(o) for o in outs))
    assert [id(g) for g in layer.grads] == ids
    assert (
        "input_grad" in inspect.signature(type(layer).backward).parameters
    )  # the book names the gradients (da, dh_next, ...)
