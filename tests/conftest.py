"""One fixture runs the suite on every backend this machine has.

``backend`` yields a :class:`Case` (backend name, device, float dtype) with the backend
active. ``XPNET_TEST_BACKENDS=numpy,torch`` restricts the matrix (the nox sessions use it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import xpnet
from xpnet.backend import BackendUnavailableError


@dataclass(frozen=True)
class Case:
    name: str
    device: Any
    dtype: str

    def __str__(self) -> str:
        dev = f"-{self.device}" if self.device is not None else ""
        return f"{self.name}{dev}-{self.dtype}"

    @property
    def xp(self) -> Any:
        return xpnet.active_namespace()

    def asarray(self, a: Any, dtype: str | None = None) -> Any:
        """A host array moved to this case's backend, in ``dtype`` (default: the case's float dtype)."""
        a = np.asarray(a)
        if dtype is None and a.dtype.kind == "f":
            dtype = self.dtype
        return xpnet.asarray(a, dtype=dtype)

    @property
    def rtol(self) -> float:
        return 1e-10 if self.dtype == "float64" else 1e-4

    @property
    def atol(self) -> float:
        return 1e-12 if self.dtype == "float64" else 1e-5


CASES = [
    Case("numpy", None, "float64"),
    Case("numpy", None, "float32"),
    Case("array_api_strict", None, "float64"),
    Case("array_api_strict", "device1", "float64"),
    Case("torch", "cpu", "float64"),
    Case("torch", "cpu", "float32"),
    Case("cupy", None, "float64"),
    Case("cupy", None, "float32"),
]


def _selected(case: Case) -> bool:
    wanted = os.environ.get("XPNET_TEST_BACKENDS")
    return not wanted or case.name in {w.strip() for w in wanted.split(",")}


def _usable(case: Case) -> str | None:
    try:
        with xpnet.use_backend(case.name, case.device):
            pass
    except BackendUnavailableError as e:
        return str(e)
    return None


@pytest.fixture(params=[c for c in CASES if _selected(c)], ids=str)
def backend(request: pytest.FixtureRequest) -> Any:
    case: Case = request.param
    reason = _usable(case)
    if reason:
        pytest.skip(reason)
    if case.name == "torch":
        import torch

        torch.set_num_threads(1)  # small test arrays: worker threads only contend on a 2-core machine
    with xpnet.use_backend(case.name, case.device):
        yield case


@pytest.fixture
def backend64(backend: Case) -> Case:
    """The same backends, always in float64 (for gradient checks)."""
    if backend.dtype != "float64":
        pytest.skip("gradient checks run in float64")
    return backend


@pytest.fixture(autouse=True)
def _fresh_state() -> Any:
    """Every test starts from numpy, float32 and seed 0."""
    xpnet.set_backend("numpy")
    xpnet.set_default_dtype("float32")
    xpnet.seed(0)
    yield
    xpnet.set_backend("numpy")
    xpnet.set_default_dtype("float32")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``XPNET_BACKEND_ONLY=1`` keep only the tests that run on the backend fixture
    (the nox session of each non-default backend; the numpy session runs everything)."""
    if not os.environ.get("XPNET_BACKEND_ONLY"):
        return
    keep = [i for i in items if "backend" in getattr(i, "fixturenames", ())]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep
