"""Shared by the recurrent-network tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Recurrent steps are many tiny operations: on a busy machine PyTorch's intra-op threads spin against each other
    and make them ~100x slower (2 ms for a (10, 16) @ (16, 64) product). One thread keeps these tests fast."""
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def sampled_gradient_check(loss, analytic, arrays, k=5, rtol=1e-6, atol=1e-8, seed=0):
    """Central differences (h = 1e-4, float64) of the scalar ``loss()`` at ``k`` random elements of each array,
    against ``analytic[i]`` there. A sample keeps whole-model checks fast on array_api_strict (every element of a
    model costs two full forward passes); any wrong gradient formula shows in almost every element."""
    import itertools

    import numpy as np

    import xpnet

    r = np.random.default_rng(seed)
    h = 1e-4
    for g, a in zip(analytic, arrays):
        g = xpnet.asnumpy(g)
        cells = list(itertools.product(*map(range, a.shape)))
        for c in (cells[i] for i in r.choice(len(cells), min(k, len(cells)), replace=False)):
            old = float(a[c])
            a[c] = old + h
            up = float(loss())
            a[c] = old - h
            down = float(loss())
            a[c] = old
            np.testing.assert_allclose(g[c], (up - down) / (2 * h), rtol=rtol, atol=atol, err_msg=f"element {c}")
