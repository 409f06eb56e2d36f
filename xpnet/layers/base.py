"""The layer protocol (:class:`Layer`) and the public helpers every layer writes its gradients with.

The layer protocol (every class of :mod:`xpnet.layers` that subclasses :class:`Layer`; one test checks them all):

* ``params`` and ``grads``: book 2's lists of parameter arrays and their gradients, of the
  same shapes. ``backward`` writes the gradients into ``grads`` in place (book 2's models
  and optimizers hold the buffers). Book 1's names (``W``, ``b``, ``dW``, ``gamma``, ...)
  read and write the same slots.
* ``forward(x, train_flg=False)``: every layer takes ``train_flg``; only the layers whose
  behaviour differs while training (``Dropout``, ``BatchNormalization``) read it.
  Loss layers take ``forward(x, t)`` and ``backward(dout=1)`` instead; book 2's two-input layers
  (``EmbeddingDot(h, idx)``, the attention layers) take their two inputs and return the
  gradients of the differentiable ones from ``backward(dout)``.
* ``backward(dout, *, input_grad=True)``: returns ``dx``; with ``input_grad=False`` a layer
  may skip computing it (a network's first layer: nobody reads the input's gradient).
* ``buffers``: names of the attributes that hold state which is not a parameter but
  belongs in a checkpoint (``BatchNormalization``'s running mean and variance).
* ``forward_many(z, train_flg=False)``: the layer applied, without side effects on what
  ``backward`` needs, to each of P stacked copies ``z`` of shape ``(P, N, ...)``. The default
  folds the copies into the batch, which is right for every layer that treats samples
  independently; layers that couple the batch (``BatchNormalization``) or draw random
  numbers (``Dropout``) override it. ``numgrad`` asks layers through it and never by type.

Nothing here stores a namespace: every call asks its inputs.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_device, get_namespace, kernels_for

__all__ = [
    "Layer", "bias_like", "like_weights", "require_batch", "slot", "store_grad", "store_matmul", "store_sum",
    "zeros_like_all",
]  # fmt: skip


def slot(name: str, kind: str, i: int) -> property:
    """A book-1 attribute (``W``, ``dW``, ...) that reads and writes slot ``i`` of ``params``/``grads``."""

    def get(self: Any) -> Any:
        return getattr(self, kind)[i]

    def set(self: Any, value: Any) -> None:
        getattr(self, kind)[i] = value

    return property(get, set, doc=f"``{kind}[{i}]``")


def store_grad(grads: list, i: int, value: Any) -> None:
    """Write a gradient into its buffer in place (book 2 models hold the buffers), or rebind on a shape change."""
    g = grads[i]
    if g is not None and g.shape == value.shape and g.dtype == value.dtype:
        g[...] = value
    else:
        grads[i] = value


def store_matmul(grads: list, i: int, a: Any, b: Any, k: Any = None) -> None:
    """``grads[i] = a @ b``, computed straight into the existing buffer when it fits (``k``: the arrays' kernels,
    when the caller has them)."""
    g = grads[i]
    if g is not None and g.shape == (a.shape[0], b.shape[1]) and a.dtype == g.dtype and b.dtype == g.dtype:
        (k or kernels_for(g)).matmul_into(g, a, b)
    else:
        grads[i] = a @ b


def store_sum(grads: list, i: int, a: Any, k: Any = None) -> None:
    """``grads[i] = sum(a, axis=0)``, computed straight into the existing buffer when it fits."""
    g = grads[i]
    if g is not None and g.shape == a.shape[1:] and a.dtype == g.dtype:
        (k or kernels_for(g)).sum_into(g, a)
    else:
        grads[i] = get_namespace(a).sum(a, axis=0)


def bias_like(W: Any, b: Any, n: int) -> Any:
    """``b`` as an array: a Python number (book 1's ch07/apply_filter.py passes ``0``) fills ``(n,)`` like ``W``."""
    if isinstance(b, (int, float)):
        return get_namespace(W).full((n,), float(b), dtype=W.dtype, device=array_device(W))
    return b


def zeros_like_all(params: list) -> list:
    """A zero array shaped, typed and placed like each of ``params`` (a layer's ``grads`` to start from)."""
    return [get_namespace(p).zeros_like(p) for p in params]


def require_batch(x: Any, features: int, who: str) -> None:
    """A ``ValueError`` for a 0-d input, or a 1-d one unless one feature is expected (the book reads ``(N,)`` as
    ``(N, 1)``): a layer takes a batch ``(N, features)`` (or ``(N, ...)``)."""
    if x.ndim == 0 or (x.ndim == 1 and features != 1):
        raise ValueError(
            f"{who}: input of shape {tuple(x.shape)} is not a batch: give an array of shape (N, {features}) "
            "(one sample x: x.reshape(1, -1))"
        )


def like_weights(xp: Any, x: Any, W: Any, layer: str) -> Any:
    """``x`` in the dtype of the weights it meets: the network's dtype decides, on every backend.

    (NumPy would promote float32 data and float64 weights on its own, PyTorch and
    array-api-strict refuse the mix; integer data such as raw uint8 pixels is converted too.)
    """
    if x.dtype == W.dtype:
        return x
    if not xp.isdtype(x.dtype, ("real floating", "integral")):
        raise TypeError(f"{layer}: input of dtype {x.dtype} cannot meet weights of dtype {W.dtype}")
    return xp.astype(x, W.dtype)


class Layer:
    """Base of the layers: empty ``params``/``grads``, no ``buffers``, and the default ``forward_many``.

    ``elementwise`` marks layers whose output element ``i`` depends on input element ``i``
    alone, by one function (activations): a perturbation of one column stays in that column.
    ``linear`` names the affine map a layer computes from ``params`` (``"affine"``: ``x @ W + b``;
    ``"conv"``: a convolution), so ``numgrad`` can take shortcuts without knowing the class.
    """

    buffers: tuple[str, ...] = ()
    elementwise = False
    linear: str | None = None

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []

    def forward(self, x: Any, train_flg: bool = False) -> Any:
        raise NotImplementedError

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        raise NotImplementedError

    def forward_many(self, z: Any, train_flg: bool = False) -> Any:
        """The layer applied to each copy in ``z`` of shape ``(P, N, ...)`` (copies folded into the batch)."""
        xp = get_namespace(z)
        P, N = z.shape[0], z.shape[1]
        bufs = self.__dict__.get("_bufs")
        self._bufs = None  # new arrays: callers keep the results of several calls (the training buffers are reused)
        try:
            out = self.forward(xp.reshape(z, (P * N, *z.shape[2:])), train_flg)
        finally:
            if bufs is not None:
                self._bufs = bufs
            else:
                del self._bufs
        return xp.reshape(out, (P, N, *out.shape[1:]))
