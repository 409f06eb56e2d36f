"""Layers that behave differently while training: ``Dropout`` and ``BatchNormalization`` (book 1, chapter 6)."""

from __future__ import annotations

from typing import Any

from ..backend import array_device, get_namespace, kernels_for, random_like
from .base import Layer, require_batch, slot, store_sum, zeros_like_all
from .functions import BN_EPS

__all__ = ["Dropout", "BatchNormalization"]


class Dropout(Layer):
    """Drops each unit with probability ``dropout_ratio`` while training (``train_flg=True``, the
    book's default for this layer).

    At test time the output is scaled by ``1 - dropout_ratio``, as in the book.
    ``forward_many`` applies one fixed mask to every copy (the last training pass's mask
    when it fits), so a numerical gradient differentiates one well-defined network.
    """

    draws_random = True  # a new mask every training pass (a recorded graph would replay one mask)

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio}")
        self.dropout_ratio = dropout_ratio
        self.mask = None
        self._bufs: dict = {}

    def forward(self, x: Any, train_flg: bool = True) -> Any:
        if train_flg:
            k = kernels_for(x)
            self.mask = k.dropout_mask(random_like(x), self.dropout_ratio, self._bufs)
            return k.multiply(x, self.mask, self._bufs, "out")
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        return kernels_for(dout).multiply(dout, self.mask, self._bufs, "dx")

    def forward_many(self, z: Any, train_flg: bool = True) -> Any:
        if not train_flg:
            return z * (1.0 - self.dropout_ratio)
        xp = get_namespace(z)
        if self.mask is None or tuple(self.mask.shape) != tuple(z.shape[1:]):
            self.mask = xp.astype(random_like(z[0, ...]) > self.dropout_ratio, z.dtype)
        return z * xp.astype(self.mask, z.dtype)


class BatchNormalization(Layer):
    """Batch normalisation (Ioffe & Szegedy 2015) as in book 1, 6.3.

    ``gamma`` and ``beta`` have shape ``(D,)``; ``x`` is ``(N, D)`` or ``(N, C, H, W)`` with
    ``C*H*W == D``. Training uses the batch statistics and updates the running averages
    (``momentum``); inference uses the running averages.
    """

    buffers = ("running_mean", "running_var")
    gamma, beta = slot("gamma", "params", 0), slot("beta", "params", 1)
    dgamma, dbeta = slot("dgamma", "grads", 0), slot("dbeta", "grads", 1)

    def __init__(
        self, gamma: Any, beta: Any, momentum: float = 0.9, running_mean: Any = None, running_var: Any = None
    ) -> None:
        self.params = [gamma, beta]
        self.grads = zeros_like_all(self.params)
        self.momentum = momentum
        self.input_shape = None
        self.running_mean, self.running_var = running_mean, running_var
        self.batch_size = self.xc = self.xn = self.std = None
        self._saved = None  # the fused kernel's (kernels_for(x).batchnorm_train) state for backward
        self._bufs: dict = {}

    def forward(self, x: Any, train_flg: bool = True) -> Any:
        self.input_shape = x.shape
        gamma, beta = self.params
        xp = get_namespace(x, gamma)
        require_batch(x, gamma.shape[0], type(self).__name__)
        if x.ndim != 2:
            x = xp.reshape(x, (x.shape[0], -1))
        if x.shape[1] != gamma.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: input of shape {tuple(self.input_shape)} has {x.shape[1]} features, "
                f"but gamma has shape {tuple(gamma.shape)}"
            )
        if self.running_mean is None:
            self.running_mean = xp.zeros(x.shape[1], dtype=x.dtype, device=array_device(x))
            self.running_var = xp.zeros(x.shape[1], dtype=x.dtype, device=array_device(x))
        self._saved = None
        if train_flg and type(self) is BatchNormalization and x.dtype == gamma.dtype:
            k = kernels_for(x)
            running = (self.running_mean, self.running_var)
            out, self._saved = k.batchnorm_train(x, gamma, beta, running, self.momentum, BN_EPS, self._bufs)
            self.batch_size = x.shape[0]
            return xp.reshape(out, self.input_shape)
        if train_flg:
            mu, xc, var = self.batch_statistics(x)
            std = xp.sqrt(var + BN_EPS)
            xn = xc / std
            self.batch_size, self.xc, self.xn, self.std = x.shape[0], xc, xn, std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xn = (x - self.running_mean) / xp.sqrt(self.running_var + BN_EPS)
        return xp.reshape(gamma * xn + beta, self.input_shape)

    def batch_statistics(self, x: Any) -> tuple[Any, Any, Any]:
        """Mean ``(D,)``, centred input ``(N, D)`` and variance ``(D,)`` of the batch ``x`` ``(N, D)``
        (a data-parallel subclass takes them over every process's batch)."""
        xp = get_namespace(x)
        mu = xp.mean(x, axis=0)
        xc = x - mu
        return mu, xc, xp.mean(xc**2, axis=0)

    def forward_many(self, z: Any, train_flg: bool = True) -> Any:
        """Each copy normalised by its own batch statistics; the running averages are left alone."""
        if not train_flg:
            return super().forward_many(z, False)
        gamma, beta = self.params
        xp = get_namespace(z, gamma)
        P, N = z.shape[0], z.shape[1]
        zf = xp.reshape(z, (P, N, -1))
        zc = zf - xp.mean(zf, axis=1, keepdims=True)
        std = xp.sqrt(xp.mean(zc * zc, axis=1, keepdims=True) + BN_EPS)
        return xp.reshape(gamma * (zc / std) + beta, z.shape)

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        gamma, (dgamma, dbeta) = self.params[0], self.grads
        if self._saved is not None and dgamma is not None and dbeta is not None and dgamma.shape == gamma.shape:
            xp = get_namespace(dout, gamma)
            d2 = xp.reshape(dout, (dout.shape[0], -1)) if dout.ndim != 2 else dout
            dx = kernels_for(d2).batchnorm_backward(d2, gamma, self._saved, dgamma, dbeta, self._bufs)
            return xp.reshape(dx, self.input_shape)
        xp, dxn = self.param_grads(dout)
        dxc = dxn / self.std
        dstd = -xp.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc = dxc + (2.0 / self.batch_size) * self.xc * dvar
        dmu = xp.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size
        return xp.reshape(dx, self.input_shape)

    def param_grads(self, dout: Any) -> tuple[Any, Any]:
        """Write the gradients of ``gamma`` and ``beta``; return the namespace and ``dout * gamma`` ``(N, D)``."""
        gamma = self.params[0]
        xp = get_namespace(dout, gamma)
        if dout.ndim != 2:
            dout = xp.reshape(dout, (dout.shape[0], -1))
        store_sum(self.grads, 1, dout)
        store_sum(self.grads, 0, self.xn * dout)
        return xp, gamma * dout
