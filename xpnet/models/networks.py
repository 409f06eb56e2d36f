"""Book 1's networks: SimpleNet, TwoLayerNet, ThreeLayerNet, MultiLayerNet(Extend); the base ``Network``.

Every network keeps its layers in ``layers`` (an ordered dict, as in book 1) and exposes
``params`` as a live view of the layers' parameters: ``net.params["W1"] = new_array``
rebinds the layer's weight, so the next forward pass uses it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from typing import Any

from ..backend import array_device, asarray, get_namespace, host_rng, is_array, kernels_for, on_host, randn, zeros
from ..layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss
from ..layers.functions import check_labels, cross_entropy_error, softmax
from .base import Model
from .flat import FlatStore

__all__ = [
    "SimpleNet",
    "Network",
    "TwoLayerNet",
    "ThreeLayerNet",
    "MultiLayerNet",
    "MultiLayerNetExtend",
]

ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}


class SimpleNet:
    """Book 1, 4.4.2: one ``(2, 3)`` weight matrix, softmax and cross-entropy.

    ``W`` is float64 by default (this network exists to be differentiated numerically).
    """

    def __init__(self, W: Any = None, *, dtype: Any = "float64", rng: Any = None) -> None:
        self.W = W if W is not None else randn((2, 3), dtype=dtype, rng=rng)

    def predict(self, x: Any) -> Any:
        """``x @ W`` for ``x`` of shape ``(2,)`` or ``(N, 2)``."""
        return x @ self.W

    def loss(self, x: Any, t: Any) -> Any:
        """Cross-entropy of ``softmax(predict(x))`` against one-hot or integer labels ``t``."""
        return cross_entropy_error(softmax(self.predict(x)), t)


class ParamDict(MutableMapping):
    """``name -> array`` view over the layers' ``params`` slots; assigning rebinds the layer's slot."""

    def __init__(self) -> None:
        self._slots: dict[str, tuple[Any, int]] = {}
        self.last_store: FlatStore | None = None  # the flat store made last (unchecked; flat_store() checks)

    def bind(self, name: str, layer: Any, index: int) -> None:
        self._slots[name] = (layer, index)
        self.last_store = None

    def flat_store(self, *, recheck: bool = True) -> FlatStore:
        """The parameters and gradients as views into one flat buffer per dtype (:mod:`xpnet.models.flat`).

        Made on first use: the layers' ``params``/``grads`` slots then hold the views. Each call checks
        the slots; one rebound since (``load_params``, ``net.params["W1"] = a``) has its values copied
        into its view, which goes back into the slot, so the store never holds stale values.
        ``recheck=False`` returns the store made last without checking (an optimizer that checks the
        arrays it is given against the store's views itself).
        """
        store = self.last_store
        if not recheck and store is not None:
            return store
        if store is None or len(store.params) != len(self._slots):
            return self._build_flat()
        for i, ((layer, j), pv, gv) in enumerate(zip(self._slots.values(), store.params, store.grads)):
            p, g = layer.params[j], layer.grads[j]
            if p is not pv:
                if not store.readopt(i, p):
                    return self._build_flat()
                layer.params[j] = pv
            if g is not gv:
                if g is not None and tuple(g.shape) == tuple(gv.shape) and g.dtype == p.dtype:
                    gv[...] = g
                layer.grads[j] = gv
        return store

    def _build_flat(self) -> FlatStore:
        slots = list(self._slots.values())
        store = FlatStore(
            [layer.params[j] for layer, j in slots], [layer.grads[j] for layer, j in slots], list(self._slots)
        )
        for (layer, j), p, g in zip(slots, store.params, store.grads):
            layer.params[j], layer.grads[j] = p, g
        self.last_store = store
        return store

    def __getitem__(self, name: str) -> Any:
        layer, i = self._slots[name]
        return layer.params[i]

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in self._slots:
            raise KeyError(f"{name!r} is not a parameter of this network; parameters: {', '.join(self._slots)}")
        layer, i = self._slots[name]
        layer.params[i] = value

    def __delitem__(self, name: str) -> None:
        raise TypeError("parameters of a network cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._slots)

    def keys(self) -> Any:
        """The parameter names, as a plain dict view (the optimizers iterate it every step)."""
        return self._slots.keys()

    def __len__(self) -> int:
        return len(self._slots)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: <{tuple(v.shape)} {v.dtype}>" for k, v in self.items()) + "}"

    def arrays(self) -> list[Any]:
        """The parameter arrays, in the order of the names."""
        return [layer.params[i] for layer, i in self._slots.values()]

    def slots(self) -> Any:
        """``(name, (layer, index))`` for every parameter, in order: where each lives."""
        return self._slots.items()

    def grad(self, name: str) -> Any:
        """The gradient buffer of parameter ``name`` (written by the layer's ``backward``)."""
        layer, i = self._slots[name]
        return layer.grads[i]

    def owner(self, name: str) -> tuple[Any, int]:
        """The layer holding parameter ``name`` and its index in that layer's ``params``."""
        return self._slots[name]


def _one_generator(rng: Any) -> Any:
    """``rng`` as one generator for a whole constructor: an int seeds it once, so successive weights
    continue one stream (a new ``default_rng(seed)`` per weight would repeat the same numbers);
    ``None`` stays ``None`` (xpnet's generator, which follows :func:`xpnet.seed`)."""
    return host_rng(rng) if rng is not None else None


def _init_scale(weight_init_std: Any, n_in: int) -> float:
    if isinstance(weight_init_std, str):
        key = weight_init_std.lower()
        if key in ("relu", "he"):
            return math.sqrt(2.0 / n_in)
        if key in ("sigmoid", "xavier"):
            return math.sqrt(1.0 / n_in)
        raise ValueError(
            f"weight_init_std must be a number, 'relu'/'he' or 'sigmoid'/'xavier', not {weight_init_std!r}"
        )
    return float(weight_init_std)


class Network(Model):
    """Base of the layer-based networks: ``predict``, ``loss``, ``accuracy``, ``gradient``,
    ``numerical_gradient``; ``save_params`` and ``load_params`` come from :class:`~xpnet.models.base.Model`.

    Subclasses fill ``layers`` with :meth:`add_layer`. ``t`` is one-hot ``(N, C)`` or integer
    labels ``(N,)`` everywhere.
    """

    eval_batch_size: int | None = None
    #: the gradient step keeps every array's address (``Trainer(capture=True)``; layers that draw random
    #: numbers, such as ``Dropout``, still refuse)
    capturable = True
    default_file = "params.npz"  # book 1's save_params(file_name="params.npz")

    def __init__(self, weight_decay_lambda: float = 0.0) -> None:
        self.params = ParamDict()
        self.layers: OrderedDict[str, Any] = OrderedDict()
        self.last_layer = SoftmaxWithLoss()
        self.weight_decay_lambda = weight_decay_lambda
        self.last_loss: Any = None
        self.decayed_params: list[str] = []  # names of the weights the L2 decay applies to

    @property
    def lastLayer(self) -> SoftmaxWithLoss:  # noqa: N802 - the book's spelling
        return self.last_layer

    def add_layer(self, name: str, layer: Any, *param_names: str, decay: bool = False) -> None:
        """Append ``layer``; ``param_names`` name its ``params`` slots in order (``"W1", "b1"``)."""
        self.layers[name] = layer
        for i, pname in enumerate(param_names):
            self.params.bind(pname, layer, i)
        if decay and param_names:
            self.decayed_params.append(param_names[0])

    def _input(self, x: Any) -> Any:
        """``x`` itself when it is an array; a Python list (or scalar) as an array on the network's backend
        and device, so ``net.predict([[0.1, 0.2]])`` works as it does in the book."""
        if is_array(x):
            return x
        ref = next(iter(self.params.values()), None)
        if ref is None:
            return asarray(x)
        try:
            return get_namespace(ref).asarray(x, device=array_device(ref))
        except (TypeError, ValueError) as e:
            raise TypeError(f"expected an array (or a list of numbers), got {type(x).__name__}: {e}") from None

    def predict(self, x: Any, train_flg: bool = False) -> Any:
        """Scores (before softmax) of shape ``(N, output_size)``; ``x`` may also be a nested list."""
        if not is_array(x):
            x = self._input(x)
        for layer in self.layers.values():
            x = layer.forward(x, train_flg)
        return x

    def predict_many(self, z: Any, train_flg: bool = False, start: int = 0) -> Any:
        """Scores of P stacked copies ``z`` of shape ``(P, N, ...)`` (each layer's ``forward_many``),
        from layer number ``start`` on; used by the numerical gradient."""
        for layer in list(self.layers.values())[start:]:
            z = layer.forward_many(z, train_flg)
        return z

    def weight_decay_loss(self) -> Any:
        """``0.5 * lambda * sum(W**2)`` over the decayed weights (0.0 without weight decay)."""
        if not self.weight_decay_lambda:
            return 0.0
        total = 0.0
        for name in self.decayed_params:
            W = self.params[name]
            total = total + get_namespace(W).sum(W * W)
        return 0.5 * self.weight_decay_lambda * total

    def loss(self, x: Any, t: Any, train_flg: bool = False) -> Any:
        """Mean cross-entropy of ``softmax(predict(x))`` plus the L2 weight decay, as a 0-d array."""
        if not is_array(x):
            x = self._input(x)
        if not is_array(t):
            t = self._input(t)
        if x.ndim > 0 and x.shape[0] == 0:
            raise ValueError(f"the loss of an empty batch is undefined (x has shape {tuple(x.shape)})")
        y = self.predict(x, train_flg)
        loss = self.last_layer.forward(y, t)
        return loss + self.weight_decay_loss() if self.weight_decay_lambda else loss

    def accuracy(self, x: Any, t: Any, batch_size: int | None = None) -> float:
        """Fraction of samples whose largest score is the label (a Python float; reads back once).

        ``x`` is ``(N, ...)``; ``t`` is integer labels ``(N,)`` or one-hot ``(N, output_size)`` (lists
        are converted). Raises ``ValueError`` for an empty batch, a label count that is not ``N``, a
        one-hot width that is not the output size, or (host arrays only: a device is not stalled to
        check) integer labels outside ``[0, output_size)``.
        """
        x, t = self._input(x), self._input(t)
        xp = get_namespace(x, t)
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"accuracy of an empty batch is undefined (x has shape {tuple(x.shape)})")
        n = x.shape[0]
        if t.ndim not in (1, 2) or t.shape[0] != n:
            raise ValueError(
                f"labels of shape {tuple(t.shape)} do not fit {n} samples: give integer labels of shape ({n},) "
                f"or one-hot labels of shape ({n}, classes)"
            )
        if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        step = batch_size or self.eval_batch_size or n
        correct = 0
        for i in range(0, n, step):
            y = self.predict(x[i : min(i + step, n), ...], train_flg=False)
            if i == 0:
                t = self._labels_for(t, y.shape[-1])
            y = xp.argmax(y, axis=1)
            correct = correct + xp.sum(xp.astype(y == xp.astype(t[i : min(i + step, n)], y.dtype), xp.int64))
        return int(correct) / n

    @staticmethod
    def _labels_for(t: Any, n_classes: int) -> Any:
        """Integer labels ``(N,)`` from ``t``, checked against ``n_classes`` outputs."""
        xp = get_namespace(t)
        if t.ndim == 2:
            if t.shape[1] != n_classes:
                raise ValueError(
                    f"one-hot labels of shape {tuple(t.shape)} have {t.shape[1]} columns, "
                    f"but the network has {n_classes} outputs"
                )
            return xp.argmax(t, axis=1)
        if xp.isdtype(t.dtype, "integral") and on_host(t):
            check_labels(t, n_classes)
        return t

    def gradient(self, x: Any, t: Any) -> dict[str, Any]:
        """Gradients of :meth:`loss` by backpropagation, ``{name: array}`` shaped like ``params``.

        The arrays are the layers' gradient buffers (book 2 style): the next call overwrites them.
        The loss of this forward pass is kept in ``last_loss`` (a 0-d array, not read back).
        """
        self.params.flat_store()  # the gradients land in the flat buffer from the first step on
        self.last_loss = self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        layers = list(self.layers.values())
        for layer in reversed(layers[1:]):
            dout = layer.backward(dout)
        layers[0].backward(dout, input_grad=False)  # nobody reads the input's gradient
        grads = {}
        for name, (layer, i) in self.params.slots():  # (a loop, not a comprehension: one call less per step)
            grads[name] = layer.grads[i]
        for name in self.decayed_params if self.weight_decay_lambda else ():
            g = grads[name]  # the L2 decay's gradient, added in the buffer
            kernels_for(g).axpy(g, self.weight_decay_lambda, self.params[name])
        return grads

    def numerical_gradient(self, x: Any, t: Any, *, method: str = "bulk", chunk_size: int | None = None) -> dict:
        """Gradients of :meth:`loss` by central differences (h = 1e-4), evaluated in float64.

        ``method="bulk"`` (default) evaluates many perturbed losses at once and recomputes only
        what a perturbation changes; ``method="loop"`` is the book's element-by-element loop.
        Both give the same values (to about 1e-10). ``chunk_size`` bounds how many
        perturbations are evaluated together (memory grows linearly with it).
        Dropout layers reuse one mask for the whole gradient, so the result is well defined.
        """
        from ..training.numgrad import network_numerical_gradient

        return network_numerical_gradient(self, x, t, method=method, chunk_size=chunk_size)

    # --- checkpoints -----------------------------------------------------------------

    def checkpoint_state(self) -> dict[str, Any]:
        """Parameters, then every layer's declared ``buffers`` as ``"layer.attr"`` (``None`` until computed)."""
        state = dict(self.params.items())
        for name, layer in self.layers.items():
            for attr in layer.buffers:
                state[f"{name}.{attr}"] = getattr(layer, attr)
        return state

    def checkpoint_templates(self) -> tuple[dict[str, Any], list[str]]:
        """Arrays whose shape, dtype, backend and device each checkpoint entry must take; buffers are optional.

        A buffer not computed yet (``None``) takes its layer's first parameter as template: the layers
        with buffers so far (batch norm) keep one statistic per entry of that parameter.
        """
        templates = {}
        for name, value in self.checkpoint_state().items():
            if value is None:
                owner = self.layers[name.rsplit(".", 1)[0]]
                if not owner.params:
                    continue  # nothing to shape it by: such a buffer is not loaded before it exists
                value = owner.params[0]
            templates[name] = value
        return templates, [k for k in templates if k not in self.params]

    def restore_state(self, loaded: dict[str, Any]) -> None:
        """Rebind the parameters and buffers to the loaded arrays (``load_params`` of :class:`Model`: all checked
        first, so a failed load leaves the network exactly as it was)."""
        for name, value in loaded.items():  # nothing below can fail
            if name in self.params:
                self.params[name] = value
            else:
                layer_name, attr = name.rsplit(".", 1)
                setattr(self.layers[layer_name], attr, value)


class MultiLayerNet(Network):
    """Fully connected network of book 1, chapter 6: ``(Affine, activation) x L``, ``Affine``, softmax.

    Parameters are ``W1, b1, ..., W{L+1}, b{L+1}``; ``weight_init_std`` is a number or
    ``"relu"``/``"he"`` (``sqrt(2/n)``) or ``"sigmoid"``/``"xavier"`` (``sqrt(1/n)``).
    ``x`` is ``(N, input_size)`` (or images, flattened).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: list[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: Any = "relu",
        weight_decay_lambda: float = 0,
        *,
        use_dropout: bool = False,
        dropout_ratio: float = 0.5,
        use_batchnorm: bool = False,
        dtype: Any = None,
        rng: Any = None,
    ) -> None:
        super().__init__(weight_decay_lambda)
        rng = _one_generator(rng)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
        sizes = [input_size, *hidden_size_list, output_size]
        if any(int(s) != s or s < 1 for s in sizes):
            raise ValueError(f"layer sizes must be positive integers, got {sizes}")
        self.input_size, self.hidden_size_list, self.output_size = input_size, list(hidden_size_list), output_size
        self.hidden_layer_num = len(hidden_size_list)
        self.use_dropout, self.use_batchnorm = use_dropout, use_batchnorm
        for i in range(1, len(sizes)):
            n_in, n_out = sizes[i - 1], sizes[i]
            scale = _init_scale(weight_init_std, n_in)
            W = scale * randn((n_in, n_out), dtype=dtype, rng=rng)
            self.add_layer(f"Affine{i}", Affine(W, zeros(n_out, dtype=dtype)), f"W{i}", f"b{i}", decay=True)
            if i == len(sizes) - 1:
                break
            if use_batchnorm:
                bn = BatchNormalization(zeros(n_out, dtype=dtype) + 1.0, zeros(n_out, dtype=dtype))
                self.add_layer(f"BatchNorm{i}", bn, f"gamma{i}", f"beta{i}")
            self.add_layer(f"{activation.capitalize()}{i}", ACTIVATIONS[activation]())
            if use_dropout:
                self.add_layer(f"Dropout{i}", Dropout(dropout_ratio))


class MultiLayerNetExtend(MultiLayerNet):
    """:class:`MultiLayerNet` with dropout and batch normalisation switches (book 1, 6.3-6.4).

    Accepts the book's misspelled ``dropout_ration`` as well as ``dropout_ratio``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: list[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: Any = "relu",
        weight_decay_lambda: float = 0,
        use_dropout: bool = False,
        dropout_ration: float | None = None,
        use_batchnorm: bool = False,
        *,
        dropout_ratio: float = 0.5,
        dtype: Any = None,
        rng: Any = None,
    ) -> None:
        super().__init__(
            input_size,
            hidden_size_list,
            output_size,
            activation,
            weight_init_std,
            weight_decay_lambda,
            use_dropout=use_dropout,
            dropout_ratio=dropout_ration if dropout_ration is not None else dropout_ratio,
            use_batchnorm=use_batchnorm,
            dtype=dtype,
            rng=rng,
        )


class TwoLayerNet(MultiLayerNet):
    """Book 1's two-layer network: ``Affine1 -> activation -> Affine2 -> SoftmaxWithLoss``.

    ``W1`` is ``(input_size, hidden_size)``, ``W2`` is ``(hidden_size, output_size)``, drawn
    from ``N(0, weight_init_std**2)``. ``activation="sigmoid"`` gives chapter 4's network.

    >>> import xpnet
    >>> from xpnet.datasets import load_spiral
    >>> x, t = load_spiral()  # book 2's spiral: points (300, 2), one-hot labels (300, 3)
    >>> network = xpnet.TwoLayerNet(input_size=2, hidden_size=10, output_size=3, activation="sigmoid", rng=0)
    >>> network.params["W1"].shape, network.params["b2"].shape
    ((2, 10), (3,))
    >>> grads = network.gradient(x, t)  # backpropagation: one array per parameter, shaped like it
    >>> grads["W1"].shape
    (2, 10)
    >>> diffs = xpnet.gradient_check(network, x[:5], t[:5])  # backpropagation against the numerical gradient
    >>> max(diffs.values()) < 1e-6
    True
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        activation: str = "relu",
        *,
        dtype: Any = None,
        rng: Any = None,
    ) -> None:
        super().__init__(input_size, [hidden_size], output_size, activation, weight_init_std, dtype=dtype, rng=rng)


class ThreeLayerNet(MultiLayerNet):
    """The seed notebook's three-layer network: two hidden layers (``hidden_size``, ``hidden_size2``)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        hidden_size2: int,
        output_size: int,
        weight_init_std: float = 0.01,
        activation: str = "relu",
        *,
        dtype: Any = None,
        rng: Any = None,
    ) -> None:
        super().__init__(
            input_size, [hidden_size, hidden_size2], output_size, activation, weight_init_std, dtype=dtype, rng=rng
        )
