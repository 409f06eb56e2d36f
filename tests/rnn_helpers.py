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
