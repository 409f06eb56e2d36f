import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FASHION = Path("/usr/share/datasets/fashion-mnist")


def xpnet(*args, env=None, **kw):
    return subprocess.run(
        [sys.executable, "-m", "xpnet", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        **kw,
    )


def test_train_default_spiral_runs_anywhere(tmp_path):
    out = xpnet(
        "train", "--quiet", "--epochs", "100", "--plot", str(tmp_path / "c.png"), "--save", str(tmp_path / "p.npz")
    )
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("xpnet: spiral two-layer") and "test acc" in last and "on numpy" in last
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    with np.load(tmp_path / "p.npz", allow_pickle=False) as d:
        assert d["W1"].shape == (2, 10)


@pytest.mark.parametrize("backend", ["array_api_strict", "torch"])
def test_train_on_other_backends(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    out = xpnet("train", "--quiet", "--iters", "30", "--backend", backend, "--dtype", "float64")
    assert out.returncode == 0, out.stderr
    assert f"on {backend}" in out.stdout and "float64" in out.stdout


@pytest.mark.parametrize(
    "args,match",
    [
        (["--dataset", "imagenet"], "invalid choice: 'imagenet'"),
        (["--lr", "-0.1"], "--lr: must be positive"),
        (["--batch-size", "0"], "--batch-size: must be positive"),
        (["--backend", "cupy"], "cupy"),
        (["--model", "three-layer", "--hidden", "50"], "two hidden sizes"),
        (["--model", "simple-conv"], "needs image data"),
        (["--dataset", "mnist", "--data-dir", "/nonexistent"], "no copy of mnist"),
    ],
)
def test_user_mistakes_one_line_exit_2(args, match, tmp_path):
    if "cupy" in args:
        try:
            import cupy  # noqa: F401

            pytest.skip("CuPy is installed here")
        except ImportError:
            pass
    # no network for the mnist case: point every mirror at nothing by using an empty cache and offline pooch
    env = {"XDG_CACHE_HOME": str(tmp_path), "XPNET_DATA_DIR": str(tmp_path / "none")}
    out = xpnet("train", *args, env=env)
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("xpnet: error:")]
    assert len(lines) == 1 and match in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_info():
    out = xpnet("info")
    assert out.returncode == 0
    assert "numpy             works" in out.stdout and "spiral" in out.stdout


@pytest.mark.skipif(not FASHION.exists(), reason="apt-get install dataset-fashion-mnist")
def test_train_fashion_mnist_offline_with_plot(tmp_path):
    out = xpnet(
        "train",
        "--dataset",
        "fashion-mnist",
        "--iters",
        "300",
        "--quiet",
        "--plot",
        str(tmp_path / "f.png"),
        env={"XDG_CACHE_HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    assert "fashion-mnist" in out.stdout and (tmp_path / "f.png").exists()


@pytest.mark.skipif(not FASHION.exists(), reason="apt-get install dataset-fashion-mnist")
def test_train_simple_conv(tmp_path):
    out = xpnet("train", "--dataset", "fashion-mnist", "--model", "simple-conv", "--iters", "20", "--quiet",
                "--save", str(tmp_path / "conv.npz"), env={"XDG_CACHE_HOME": str(tmp_path)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "simple-conv" in out.stdout
    with np.load(tmp_path / "conv.npz", allow_pickle=False) as d:
        assert d["W1"].shape == (30, 1, 5, 5)
