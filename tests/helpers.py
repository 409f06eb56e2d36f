"""Assertions shared by the tests."""

from __future__ import annotations

from typing import Any

import numpy as np

import xpnet


def assert_close(actual: Any, expected: Any, rtol: float = 1e-7, atol: float = 0.0) -> None:
    np.testing.assert_allclose(xpnet.asnumpy(actual), xpnet.asnumpy(expected), rtol=rtol, atol=atol)


def assert_on(case: Any, a: Any) -> None:
    """``a`` is an array of ``case``'s backend and device."""
    assert xpnet.backend.backend_name(a) == case.name
    assert xpnet.backend.array_device(a) == xpnet.active_device()


def layer_gradient_check(layer: Any, x: Any, forward: Any = None, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """Backprop of ``layer`` vs central differences of ``sum(forward(x) * dout)``, for ``x`` and every param."""
    forward = forward or layer.forward
    xp = xpnet.get_namespace(x)
    out = forward(x)
    dout = xp.asarray(
        np.random.default_rng(3).standard_normal(tuple(out.shape)),
        dtype=out.dtype,
        device=xpnet.backend.array_device(x),
    )
    dx = layer.backward(dout)
    grads = [xp.asarray(g, copy=True) for g in getattr(layer, "grads", [])]
    f = lambda _: xp.sum(forward(x) * dout)  # noqa: E731
    assert_close(dx, xpnet.numerical_gradient(f, x), rtol=rtol, atol=atol)
    for p, g in zip(layer.params, grads):
        assert_close(g, xpnet.numerical_gradient(f, p), rtol=rtol, atol=atol)
