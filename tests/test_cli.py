import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xpnet import asarray as xpnet_asarray
from xpnet import models as xpnet_models

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
        (["--dataset", "mnist", "--data-dir", "{tmp}"], "no copy of mnist"),
        (["--dataset", "mnist", "--data-dir", "/typo"], "argument --data-dir: no such directory: '/typo'"),
        (["--seed", "-1"], "argument --seed: must be a non-negative integer, got -1"),
        (["--save", "/nonexistent/p.npz"], "--save /nonexistent/p.npz: directory '/nonexistent' does not exist"),
        (["--plot", "/nonexistent/c.png"], "--plot /nonexistent/c.png: directory '/nonexistent' does not exist"),
        (["--plot", "{tmp}/c.xyz"], "matplotlib cannot write .xyz files"),
        (["--plot", "{tmp}/same", "--save", "{tmp}/same"], "--plot and --save name the same file"),
        (["--save", "{tmp}"], "is a directory"),
    ],
)
def test_user_mistakes_one_line_exit_2(args, match, tmp_path):
    if "cupy" in args:
        try:
            import cupy  # noqa: F401

            pytest.skip("CuPy is installed here")
        except ImportError:
            pass
    # no network for the mnist case: an empty cache and no reachable mirror
    env = {"XDG_CACHE_HOME": str(tmp_path), "XPNET_DATA_DIR": str(tmp_path / "none")}
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
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


# --- in-process: nothing is lost once training has run (issue 10), the command line itself (issues 11, 15) ----

from xpnet import cli  # noqa: E402


def run_cli(capsys, *args):
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_missing_matplotlib_is_refused_before_training(tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, out, err = run_cli(capsys, "train", "--quiet", "--plot", str(tmp_path / "c.png"),
                               "--save", str(tmp_path / "p.npz"))  # fmt: skip
    assert status == 2 and "pip install matplotlib" in err and len(err.strip().splitlines()) == 1
    assert "train acc" not in out and not (tmp_path / "p.npz").exists()


def test_a_save_that_fails_after_training_falls_back(tmp_path, monkeypatch, capsys):
    """The disk fills up during training: the weights go next to the requested file, with one line."""
    target = tmp_path / "p.npz"
    original = xpnet_models.Network.save_params

    def full_disk(self, file_name, *args, **kwargs):
        if str(file_name) == str(target):
            raise OSError(28, "No space left on device")
        return original(self, file_name, *args, **kwargs)

    monkeypatch.setattr(xpnet_models.Network, "save_params", full_disk)
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, "train", "--quiet", "--iters", "20", "--save", str(target))
    assert status == 1 and "train acc" in out
    line = err.strip()
    assert len(line.splitlines()) == 1 and "could not write the parameters to" in line and "No space left" in line
    saved = line.rsplit("wrote it to ", 1)[1].removesuffix(" instead")
    with np.load(saved, allow_pickle=False) as d:
        assert d["W1"].shape == (2, 10)


def test_weights_are_saved_before_the_plot_fails(tmp_path, monkeypatch, capsys):
    from xpnet import plot

    def broken(*args, **kwargs):
        raise RuntimeError("the renderer crashed")

    monkeypatch.setattr(plot, "training_curves", broken)
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, "train", "--quiet", "--iters", "20", "--save", str(tmp_path / "p.npz"),
                               "--plot", str(tmp_path / "c.png"))  # fmt: skip
    assert status == 1 and (tmp_path / "p.npz").exists()
    assert len(err.strip().splitlines()) == 1 and "could not write the plot" in err and "renderer crashed" in err


@pytest.mark.parametrize("lr", ["100", "1e6"])
def test_divergence_saves_no_garbage(tmp_path, capsys, lr):
    """`--lr 1e6 --save d.npz` exited 0 and saved garbage: now exit 1, rolled back, nothing saved."""
    status, out, err = run_cli(capsys, "train", "--quiet", "--lr", lr, "--save", str(tmp_path / "d.npz"))
    assert status == 1 and "diverged" in err and "rolled back to the initial parameters" in err
    assert "nothing saved" in err and not (tmp_path / "d.npz").exists()
    assert "[diverged, rolled back]" in out


def test_defaults_come_from_one_table():
    parse = cli.build_parser().parse_args
    s = cli.settings(parse(["train", "--dataset", "fashion-mnist"]))
    assert (s["model"], s["hidden"], s["optimizer"], s["lr"], s["batch_size"], s["epochs"]) == (
        "two-layer", [50], "sgd", 0.1, 100, 17)  # fmt: skip
    s = cli.settings(parse(["train", "--dataset", "fashion-mnist", "--model", "simple-conv"]))
    assert (s["optimizer"], s["lr"], s["hidden"], s["epochs"]) == ("adam", 0.001, [100], 4)
    assert cli.settings(parse(["train", "--dataset", "mnist", "--optimizer", "adam"]))["lr"] == 0.001
    assert cli.settings(parse(["train", "--dataset", "mnist", "--optimizer", "sgd"]))["lr"] == 0.1
    assert cli.settings(parse(["train", "--optimizer", "adagrad", "--lr", "0.3"]))["lr"] == 0.3
    assert cli.settings(parse(["train", "--model", "three-layer"]))["hidden"] == [100, 50]


def test_iters_alone_runs_exactly_that_many(capsys):
    status, out, _ = run_cli(capsys, "train", "--quiet", "--iters", "25")
    assert status == 0 and "after 25 iterations" in out


def test_bare_xpnet_prints_usage(capsys):
    status, out, err = run_cli(capsys)
    assert status == 2 and err.startswith("usage: xpnet {train,info,") and "xpnet xpnet" not in err


def test_train_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "default: depends on --dataset (spiral: 1.0; mnist/fashion-mnist/cifar10: 0.1)" in out
    assert "default: float32" in out and "default: 0" in out


def test_info_into_a_closed_pipe():
    """`xpnet info | head -1`: the reader leaves after one line; no BrokenPipeError traceback."""
    with subprocess.Popen([sys.executable, "-m", "xpnet", "info"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:  # fmt: skip
        assert proc.stdout.readline().startswith(b"xpnet ")
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_info_lists_backends_with_their_reasons(capsys, monkeypatch):
    monkeypatch.setattr(cli, "backend_status", lambda: {"numpy": None, "cupy": "no CUDA device (test)"})
    status, out, _ = run_cli(capsys, "info")
    assert status == 0 and "numpy             works; new arrays go to cpu" in out
    assert "cupy              unavailable: no CUDA device (test)" in out


def test_subcommands_register_through_the_list(tmp_path, monkeypatch, capsys):
    (tmp_path / "xpnet_hello_cmd.py").write_text(
        "def add_parser(subparsers):\n"
        "    p = subparsers.add_parser('hello', help='say hello')\n"
        "    p.add_argument('--name', default='world')\n"
        "def run(args):\n"
        "    print(f'hello {args.name}')\n"
        "    return 7\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "SUBCOMMANDS", ["xpnet_hello_cmd"])
    status, out, _ = run_cli(capsys, "hello", "--name", "book")
    assert status == 7 and out == "hello book\n"


@pytest.mark.parametrize("quiet", [True, False])
def test_quiet_silences_downloads(monkeypatch, capsys, quiet):
    """--quiet reaches the loader as progress=False (no download messages or bars)."""
    seen = {}

    def loader(*, normalize=True, flatten=True, one_hot_label=False, data_home=None, download=True, progress=True):
        seen["progress"] = progress
        r = np.random.default_rng(0)
        x, t = r.random((30, 784)), r.integers(0, 10, 30)
        return (xpnet_asarray(x, "float32"), xpnet_asarray(t)), (xpnet_asarray(x, "float32"), xpnet_asarray(t))

    monkeypatch.setattr("xpnet.datasets.load_fashion_mnist", loader)
    args = ["train", "--dataset", "fashion-mnist", "--iters", "2"] + (["--quiet"] if quiet else [])
    status, _, _ = run_cli(capsys, *args)
    assert status == 0 and seen["progress"] is not quiet
