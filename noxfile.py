"""Sessions for everything CI runs: ``nox -s tests`` (every backend), ``nox -s lint``, ``nox -s docs`` (the site and
its browser test), ``nox -s build`` (the release files, installed and run outside the repository), ``nox -s bench``.

A backend that cannot run on this machine (no CUDA device, package not installable)
skips its session with a one-line reason. Extra arguments go to pytest / the benchmark.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "tests", "notebooks", "mpi", "docs", "build"]

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
    if backend == "numpy" and not session.posargs:
        # docstring examples are tests: every ``>>>`` in the package runs (on the default backend, numpy)
        session.run("pytest", "--doctest-modules", "xpnet", "-p", "no:cacheprovider")


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


def _chromium(session: nox.Session) -> bool:
    """Debian's chromium and chromedriver for the browser test: installed with apt-get (as root) when missing."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return True
    if shutil.which("apt-get") and os.geteuid() == 0:
        try:
            session.run("apt-get", "update", "-qq", external=True, silent=True)
            session.run("apt-get", "install", "-y", "-qq", "chromium", "chromium-driver", external=True, silent=True)
        except nox.command.CommandFailed:
            pass
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


@nox.session
def docs(session: nox.Session) -> None:
    """The site, built from scratch with warnings as errors (notebooks executed), then opened in headless chromium."""
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "docs"))
    for generated in ("docs/_build", "docs/generated"):
        shutil.rmtree(generated, ignore_errors=True)
    session.run("sphinx-build", "-W", "--keep-going", "-n", "-E", "-q", "-b", "html", "docs", "docs/_build/html")
    if not _chromium(session):
        session.log("docs: the browser test is skipped: no chromium/chromedriver and apt-get could not install them")
        return
    session.run("pytest", "docs/test_site.py", "-p", "no:cacheprovider", *session.posargs)


# the installed wheel is what imports, and its metadata carries the version xpnet.__version__ says
WHEEL_CHECK = """
import importlib.metadata, sys, xpnet
assert xpnet.__file__.startswith(sys.prefix), xpnet.__file__
assert importlib.metadata.version("xpnet") == xpnet.__version__
print("xpnet", xpnet.__version__, "from", xpnet.__file__)
"""


@nox.session
def build(session: nox.Session) -> None:
    """sdist and wheel, ``twine check``, then the wheel in a fresh venv outside the repository: xpnet train, info."""
    import tempfile

    session.install(*nox.project.dependency_groups(PYPROJECT, "release"))
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", "dist", ".")
    dist = sorted(os.listdir("dist"))
    session.run("twine", "check", "--strict", *(os.path.join("dist", f) for f in dist))
    wheel = os.path.abspath(os.path.join("dist", next(f for f in dist if f.endswith(".whl"))))
    with tempfile.TemporaryDirectory(prefix="xpnet-wheel-") as tmp:
        venv = os.path.join(tmp, "venv")
        session.run("python", "-m", "venv", venv)
        bindir = os.path.join(venv, "bin")
        session.run(os.path.join(bindir, "python"), "-m", "pip", "install", "-q", wheel, external=True)
        with session.chdir(tmp):  # away from the checkout: the installed wheel is what runs
            env = {"PYTHONPATH": "", "MPLBACKEND": "Agg"}
            session.run(os.path.join(bindir, "xpnet"), "info", external=True, env=env)
            session.run(os.path.join(bindir, "xpnet"), "train", external=True, env=env)
            session.run(os.path.join(bindir, "python"), "-c", WHEEL_CHECK, external=True, env=env)
