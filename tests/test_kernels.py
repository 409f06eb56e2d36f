"""The kernels of ``xpnet.backend`` on every backend: the reference (``Kernels``, the standard only) against
NumPy, each library's overrides against the reference, and the rule that only the backend names a library."""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import assert_close, assert_on

import xpnet
from xpnet import backend as B
from xpnet.backend import Kernels, kernels_for

KERNELS = sorted(name for name, value in vars(Kernels).items() if callable(value) and not name.startswith("_"))


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def on(backend: Any, a: np.ndarray) -> Any:
    """A copy of ``a`` on ``backend`` (NumPy and torch would share ``a``'s memory, which the kernels write)."""
    return backend.asarray(a.copy())


def ints(values: Any, backend: Any) -> Any:
    return backend.asarray(np.asarray(values, dtype=np.int64), dtype="int64")


# Each case runs one kernel through ``k`` (a Kernels, or the public functions: module xpnet.backend) on fresh
# inputs of ``backend`` and returns (results on the backend, the same computed by NumPy on the host).


def case_matmul_into(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    a, b = rand(4, 3), rand(3, 5, seed=1)
    out = on(backend, np.zeros((4, 5)))
    k.matmul_into(out, on(backend, a), on(backend, b))
    return [out], [a @ b]


def case_sum_into(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    a = rand(6, 4)
    out = on(backend, np.zeros(4))
    k.sum_into(out, on(backend, a))
    return [out], [a.sum(axis=0)]


def adam_steps(backend: Any, k: Any, scratch: Callable[[Any], Any]) -> tuple[list[Any], list[np.ndarray]]:
    """Two Adam steps of a (3, 4) parameter through ``k.adam_update`` (the second reuses the scratch)."""
    p, m, v = rand(3, 4), rand(3, 4, seed=1) * 0.1, rand(3, 4, seed=2) ** 2
    args = (0.01, 0.9, 0.999, 1e-7)
    arrays = [on(backend, a) for a in (p, m, v)]
    buf = scratch(arrays[0])
    for i in range(2):
        g = rand(3, 4, seed=3 + i)
        k.adam_update(arrays[0], on(backend, g), arrays[1], arrays[2], *args, scratch=buf)
        lr_t, b1, b2, eps = args
        m = m + (1 - b1) * (g - m)
        v = v + (1 - b2) * (g * g - v)
        p = p - lr_t * m / (np.sqrt(v) + eps)
    return arrays, [p, m, v]


def case_adam_update(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    return adam_steps(backend, k, lambda p: None)


def case_out_buffer(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    """The buffer is ``None`` or an array like its input, and Adam through it gives the same numbers."""

    def scratch(p: Any) -> Any:
        buf = k.out_buffer(p)
        if buf is not None:
            assert_on(backend, buf)
            assert tuple(buf.shape) == tuple(p.shape) and buf.dtype == p.dtype and buf is not p
        return buf

    return adam_steps(backend, k, scratch)


def case_index_add(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    idx = [3, 1, 3, 3, 0, 1] + [6] * 12  # repeats, and one id more often than NumPy's rounds of fancy +=
    src, start = rand(len(idx), 3), rand(7, 3, seed=1)
    dst = on(backend, start)
    expected = start.copy()
    np.add.at(expected, idx, src)
    got = k.index_add(dst, ints(idx, backend), on(backend, src))
    return [dst, got], [expected, expected]


def case_one_hot(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    t = [[2, 0, 3], [1, 3, 3]]
    got = k.one_hot(ints(t, backend), 4, getattr(backend.xp, backend.dtype))
    assert xpnet.backend.dtype_name(got) == backend.dtype
    return [got], [np.eye(4)[t]]


def case_exp_inplace(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    x = rand(3, 4)
    return [k.exp_inplace(on(backend, x))], [np.exp(x)]


def case_add_at_labels(backend: Any, k: Any) -> tuple[list[Any], list[np.ndarray]]:
    start, t, values = rand(4, 5), [0, 4, 4, 2], np.array([1.0, 2.0, 3.0, 4.0])
    dst = on(backend, start)
    k.add_at_labels(dst, ints(t, backend), -1.0)  # a number
    got = k.add_at_labels(dst, ints(t, backend), on(backend, values))  # one value per row
    expected = start.copy()
    expected[np.arange(4), t] += values - 1.0
    return [dst, got], [expected, expected]


CASES = {name[len("case_") :]: fn for name, fn in globals().items() if name.startswith("case_")}


def test_every_kernel_has_a_case():
    assert sorted(CASES) == KERNELS
    assert set(KERNELS) <= set(B.__all__)


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_equals_the_reference_on_every_backend(backend, name):
    reference, expected = CASES[name](backend, Kernels())
    own, _ = CASES[name](backend, kernels_for(backend.asarray(np.zeros(1))))
    public, _ = CASES[name](backend, B)
    for ref, exp, mine, pub in zip(reference, expected, own, public):
        assert_on(backend, ref)
        assert_on(backend, mine)
        assert xpnet.backend.dtype_name(mine) == xpnet.backend.dtype_name(ref)
        assert_close(ref, exp, rtol=backend.rtol, atol=backend.atol)  # the reference is right
        assert_close(mine, ref, rtol=backend.rtol, atol=backend.atol)  # and the library's own kernel equals it
        assert_close(pub, mine, rtol=0, atol=0)  # the public function is the library's own kernel


def test_overrides_override_reference_kernels():
    """A library's kernel class only overrides kernels the reference has (a misspelt override would never run)."""
    from xpnet.backend._registry import LIBRARIES, library

    for name in LIBRARIES:
        kernels = library(name).kernels
        assert isinstance(kernels, Kernels)
        own = {n for n, v in vars(type(kernels)).items() if callable(v) and not n.startswith("_")}
        assert own <= set(KERNELS), (name, own - set(KERNELS))


def test_kernels_dispatch_by_the_array_library():
    assert type(kernels_for(np.zeros(1))).__name__ == "NumpyKernels"
    strict = pytest.importorskip("array_api_strict")
    assert type(kernels_for(strict.zeros(1))) is Kernels  # array_api_strict runs the reference


ROOT = pathlib.Path(xpnet.__file__).parent
NAMES_A_LIBRARY = re.compile(
    r"^\s*(import|from)\s+(cupy|cupyx|torch)\b|is_cupy_array|is_torch_array|import_module\(\s*['\"](cupy|torch)"
)
# The NCCL communicator (and CUDA-aware MPI next to it) reduces CuPy buffers itself.
ALLOWED = {"training/distributed.py": re.compile(r"^\s*(import cupy|from cupy\.cuda import nccl)\s*$")}


def test_no_module_outside_the_backend_names_a_library():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "backend":
            continue
        allowed = ALLOWED.get(str(rel))
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if NAMES_A_LIBRARY.search(line) and not (allowed and allowed.match(line)):
                found.append(f"xpnet/{rel}:{n}: {line.strip()}")
    assert not found, "only xpnet/backend/ may name cupy or torch:\n" + "\n".join(found)


def test_the_library_check_catches_an_import():
    assert NAMES_A_LIBRARY.search("    import torch") and NAMES_A_LIBRARY.search("from cupy.cuda import nccl")
    assert NAMES_A_LIBRARY.search("if array_api_compat.is_torch_array(x):")
    assert not NAMES_A_LIBRARY.search('if backend_name(x) == "torch":')
