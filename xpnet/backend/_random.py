"""Random numbers: the host generator that :func:`~xpnet.backend.seed` seeds, and draws shaped like an array.

Weights are drawn on the host by NumPy and moved, so one seed gives the same weights on every
backend. :func:`random_like` draws where its input lives when the input's library draws on its
device (a GPU: no host transfer in the training step), from a generator of that device seeded
once from the host generator; every other library gets host draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._context import _config
from ._inputs import array_device, backend_name, get_namespace
from ._registry import Library, library_of


def host_rng(rng: int | np.random.Generator | None = None) -> np.random.Generator:
    """A NumPy generator: ``rng`` itself, a new one seeded with it, or xpnet's current one."""
    if rng is None:
        return _config().rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def random_like(x: Any, rng: Any = None) -> Any:
    """Uniform [0, 1) numbers shaped like ``x``, on ``x``'s device and of its dtype.

    The one place besides :func:`~xpnet.backend.randn` that makes random numbers: GPU backends draw
    on the device (no host transfer in the training step) from a generator of that device
    seeded from ``rng`` (or xpnet's generator, so :func:`~xpnet.backend.seed` makes them reproducible);
    the others draw on the host.
    """
    lib = library_of(x)
    if lib is not None and lib.draws_on_device(x):
        return lib.uniform_like(x, _device_rng(lib, x, rng))
    xp = get_namespace(x)
    return xp.asarray(host_rng(rng).random(x.shape), dtype=x.dtype, device=array_device(x))


def _device_rng(lib: Library, x: Any, rng: Any) -> Any:
    """The generator of ``x``'s accelerator, seeded once from the host generator ``rng`` (or xpnet's)."""
    host = host_rng(rng)
    c = _config()
    key = (backend_name(x), str(array_device(x)), id(host))
    cached = c.device_rngs.get(key)
    # the cache holds the host generator too: an id is only that generator's while it lives
    g = cached[1] if cached is not None and cached[0] is host else None
    if g is None:
        g = lib.device_rng(x, int(host.integers(2**62)))
        c.device_rngs[key] = (host, g)
    return g
