"""Sessions for everything CI runs: ``nox -s tests`` (every backend), ``nox -s lint``, ``nox -s bench``.

A backend that cannot run on this machine (no CUDA device, package not installable)
skips its session with a one-line reason. Extra arguments go to pytest / the benchmark.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "tests", "notebooks", "mpi"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
BACKENDS = ["numpy", "array_api_strict", "torch", "cupy"]
# PyTorch for CPU: a pinned build (any other spec pulls gigabytes of CUDA packages).
TORCH = os.environ.get("XPNET_TORCH_SPEC", "torch==2.13.0")


def _has_cuda() -> bool:
    return shutil.which("nvidia-smi") is not None or os.path.exists("/dev/nvidia0")


def _cuda_major() -> int | None:
    """The CUDA major version the driver supports (``nvidia-smi``'s "CUDA Version: 13.0"), or None."""
    import re
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"CUDA Version:\s*(\d+)", out)
    return int(m.group(1)) if m else None


def cupy_wheel(major: int | None) -> str:
    """The CuPy wheel built for the driver's CUDA major version (12 when it cannot be told)."""
    return "cupy-cuda13x" if major is not None and major >= 13 else "cupy-cuda12x"


def _install_backend(session: nox.Session, backend: str) -> None:
    if backend == "cupy":
        if not _has_cuda():
            session.skip("cupy: no CUDA device on this machine")
        session.install(os.environ.get("XPNET_CUPY_SPEC", cupy_wheel(_cuda_major())))
    elif backend == "torch":
        try:
            session.install(TORCH, silent=True)
        except nox.command.CommandFailed:
            session.skip(f"torch: {TORCH} is not installable here")


@nox.session
@nox.parametrize("backend", BACKENDS)
def tests(session: nox.Session, backend: str) -> None:
    """The test suite with the fixture restricted to one backend."""
    _install_backend(session, backend)
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "test"))
    env = {"XPNET_TEST_BACKENDS": backend}
    if backend != "numpy":
        # backend-independent tests already ran in the numpy session
        env["XPNET_BACKEND_ONLY"] = "1"
    session.run("pytest", *session.posargs, env=env)


@nox.session
def notebooks(session: nox.Session) -> None:
    """The example notebooks (examples/*.ipynb) in a Jupyter kernel, at their QUICK size."""
    session.install(
        "-e", ".", *nox.project.dependency_groups(PYPROJECT, "test"), "nbclient", "ipykernel", "nbformat", "ipywidgets"
    )
    session.run("pytest", "tests/test_notebooks.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
@nox.parametrize("backend", BACKENDS)
def bench(session: nox.Session, backend: str) -> None:
    """Benchmarks on one backend, interleaved with the NumPy baseline and PyTorch."""
    _install_backend(session, backend)
    if backend != "torch":
        try:
            session.install(TORCH, silent=True)  # the PyTorch anchor
        except nox.command.CommandFailed:
            session.log("PyTorch not installable: the PyTorch anchor is left out")
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks", "--backend", backend, *session.posargs)


@nox.session
def mpi(session: nox.Session) -> None:
    """xpnet.distributed under ``mpiexec -n 2`` (mpi4py + the mpich wheel), on numpy, array_api_strict and torch."""
    try:
        session.install("mpi4py>=4", "mpich", silent=True)
    except nox.command.CommandFailed:
        session.skip("mpi: mpi4py or the mpich wheel is not installable here")
    try:
        session.install(TORCH, silent=True)
    except nox.command.CommandFailed:
        session.log("torch not installable: the torch case skips")
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("pytest", "tests/test_distributed.py", *session.posargs)
