"""``xpnet book``: scripts in the books' layout (tests/book_scripts, written for these tests) run unchanged."""

from __future__ import annotations

import builtins
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

import xpnet
from xpnet.book import BookError, run
from xpnet.book.hooks import in_repository
from xpnet.book.modules import which_book
from xpnet.datasets import find_dataset

SCRIPTS = Path(__file__).parent / "book_scripts"


@pytest.fixture
def repos(tmp_path: Path) -> Path:
    """A copy of the two repositories: the scripts write their pickles and plots beside themselves."""
    shutil.copytree(SCRIPTS, tmp_path / "repos")
    return tmp_path / "repos"


def test_the_book_is_told_from_the_repository(repos):
    assert which_book(repos / "book2", repos / "book2" / "ch01") == 2  # common/time_layers.py
    assert which_book(repos / "book1", repos / "book1" / "ch05") == 1  # no common/: the scripts' imports
    shutil.rmtree(repos / "book2" / "common")
    assert which_book(repos / "book2", repos / "book2" / "ch01") == 2  # `from dataset import spiral`
    (repos / "book2" / "common").mkdir()
    assert which_book(repos / "book2", repos / "book2" / "ch01") == 1  # book 1's common/ has no time_layers.py


def test_book1_loop_with_a_chapter_module(repos, capsys):
    state = (list(sys.path), os.getcwd(), list(sys.argv), builtins.__import__, xpnet.get_backend())
    printing, draws = numpy.get_printoptions(), numpy.random.get_state()[1].copy()
    run(repos / "book1" / "ch05" / "train_blobs.py", ["200"])
    run(repos / "book2" / "ch02" / "count.py")  # sets NumPy's print precision
    out = capsys.readouterr().out
    assert "iterations 200" in out and "numpy is numpy" in out
    assert float(out.split("train acc ")[1].split()[0]) > 0.9
    assert abs(float(out.split("sum to ")[1].split()[0]) - 2.0) < 1e-12
    assert (list(sys.path), os.getcwd(), list(sys.argv), builtins.__import__, xpnet.get_backend()) == state
    assert numpy.get_printoptions() == printing and (numpy.random.get_state()[1] == draws).all()
    assert not any(m == "layer_net" or m.split(".")[0] in ("common", "dataset") for m in sys.modules)


def test_book1_trainer_takes_a_list_of_layers(repos, capsys):
    run(repos / "book1" / "ch08" / "train_list_net.py")
    assert float(capsys.readouterr().out.split("final test acc ")[1]) > 0.8


@pytest.mark.skipif(find_dataset("fashion-mnist") is None, reason="Fashion-MNIST is not installed")
def test_load_mnist_gives_fashion_mnist_when_asked(repos, capsys):
    run(repos / "book1" / "ch04" / "train_mnist.py", mnist="fashion-mnist")
    out = capsys.readouterr().out
    assert "train images 1000 of 784 pixels" in out
    assert float(out.split("train acc ")[1]) > 0.3


def test_book2_repository_common_is_shadowed(repos, capsys):
    """book2/common/ holds files that raise when imported: xpnet's modules answer instead."""
    run(repos / "book2" / "ch02" / "count.py")
    out = capsys.readouterr().out
    assert "you-i 0.7071067" in out
    assert "[query] you" in out and "goodbye: 0.7071" in out
    run(repos / "book2" / "ch07" / "show_addition.py")
    out = capsys.readouterr().out
    assert "(45000, 7) (45000, 5)" in out and "->" in out


def test_book2_spiral_on_numpy(repos, capsys):
    run(repos / "book2" / "ch01" / "train_spiral.py", ["100"])
    out = capsys.readouterr().out
    assert "GPU False device cpu" in out and float(out.split("final loss ")[1]) < 1.0
    with open(repos / "book2" / "ch01" / "spiral_params.pkl", "rb") as f:
        saved = pickle.load(f)
    assert all(type(p) is numpy.ndarray for p in saved["params"])


def test_config_gpu_switch_on_a_second_device(repos, capsys):
    """Book 2's ``config.GPU = True``, with array_api_strict's second device standing in for CuPy: the book's
    files get the device's ``np``, the weights are born there, and what is pickled or plotted arrives on the host."""
    pytest.importorskip("matplotlib")
    run(repos / "book2" / "ch01" / "train_spiral.py", ["100", "--gpu"], gpu=("array_api_strict", "device1"))
    out = capsys.readouterr().out
    assert "GPU True device array_api_strict.Device('device1')" in out
    assert float(out.split("final loss ")[1]) < 1.0
    with open(repos / "book2" / "ch01" / "spiral_params.pkl", "rb") as f:
        saved = pickle.load(f)
    assert all(type(p) is numpy.ndarray for p in saved["params"]) and type(saved["loss"]) is numpy.ndarray
    assert (repos / "book2" / "ch01" / "spiral_loss.png").stat().st_size > 0
    assert xpnet.get_backend() == "numpy"


def test_other_backends_are_refused_in_one_line(repos):
    for name in ("torch", "array_api_strict"):
        with pytest.raises(BookError, match=r"numpy or cupy, not '\w+': the scripts use NumPy idioms") as e:
            run(repos / "book2" / "ch02" / "count.py", backend=name)
        assert "\n" not in str(e.value)


def test_a_chapter_import_that_needs_another_folder_gets_a_hint(repos):
    with pytest.raises(BookError, match=r"ch07/peeky.py:4 imports 'seq2seq_parts', which is ch07/seq2seq_parts.py"):
        run(repos / "book2" / "ch08" / "train.py")
    with pytest.raises(BookError, match=r"uses_ch07.py:4 imports 'conv_parts'.*PYTHONPATH=.*ch07 xpnet book"):
        run(repos / "book1" / "ch08" / "uses_ch07.py")
    assert "seq2seq_parts" not in sys.modules


def test_missing_script(tmp_path):
    with pytest.raises(BookError, match="no Python script"):
        run(tmp_path / "ch01" / "nothing.py")


def test_command_line(repos):
    def xpnet_book(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(xpnet.__file__).parents[1]), *sys.path])}
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120)

    script = str(repos / "book1" / "ch05" / "train_blobs.py")
    done = xpnet_book("-m", "xpnet", "book", script, "--", "50")
    assert done.returncode == 0 and "iterations 50" in done.stdout, done.stderr
    refused = xpnet_book("-m", "xpnet.book", script, "--backend", "torch")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "numpy or cupy" in refused.stderr
    hint = xpnet_book("-m", "xpnet.book", str(repos / "book2" / "ch08" / "train.py"))
    assert hint.returncode == 2 and hint.stderr.startswith("xpnet: error: ch07/peeky.py:4 imports 'seq2seq_parts'")
    assert hint.stderr.count("\n") == 1
    bug = xpnet_book("-m", "xpnet.book", str(repos / "book2" / "ch01" / "broken.py"))
    assert bug.returncode == 1 and "IndexError" in bug.stderr and 'broken.py", line 7' in bug.stderr
    assert "xpnet/book" not in bug.stderr and "runpy" not in bug.stderr


def test_the_scripts_on_cupy(backend, repos, capsys):
    """The GPU kit runs the suite on cupy: there the scripts run with ``--backend cupy``."""
    if backend.name != "cupy":
        pytest.skip("runs with the cupy case of the backend fixture")
    run(repos / "book1" / "ch05" / "train_blobs.py", ["200"], backend="cupy")
    out = capsys.readouterr().out
    assert "numpy is cupy" in out and float(out.split("train acc ")[1].split()[0]) > 0.9
    run(repos / "book1" / "ch08" / "train_list_net.py", backend="cupy")
    assert float(capsys.readouterr().out.split("final test acc ")[1]) > 0.8
    run(repos / "book2" / "ch01" / "train_spiral.py", ["100"], backend="cupy")
    out = capsys.readouterr().out
    assert "GPU True device <CUDA Device" in out and float(out.split("final loss ")[1]) < 1.0
    with open(repos / "book2" / "ch01" / "spiral_params.pkl", "rb") as f:
        assert all(type(p) is numpy.ndarray for p in pickle.load(f)["params"])
    run(repos / "book2" / "ch02" / "count.py", backend="cupy")
    assert "you-i 0.7071067" in capsys.readouterr().out


def test_missing_data_is_one_line_saying_where_to_put_it(repos, tmp_path, monkeypatch):
    from xpnet import datasets, ptb  # noqa: F401 - ptb registers its data set

    monkeypatch.setenv("XPNET_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(datasets, "RETRIES", 0)
    monkeypatch.setattr(datasets.DATASETS["ptb"], "mirrors", ["http://127.0.0.1:9/"])  # refused at once
    with pytest.raises(BookError) as e:
        run(repos / "book2" / "ch02" / "show_ptb.py")
    text = str(e.value)
    assert text.startswith("show_ptb.py: no copy of ptb found (the download failed); put its 3 file(s)")
    assert f"ptb.test.txt) in {tmp_path / 'ptb'}, or set XPNET_DATA_DIR" in text and "\n" not in text


def test_book1_optimizers_on_numbers_and_the_np_of_a_star_import(repos, capsys):
    run(repos / "book1" / "ch06" / "compare_numbers.py")
    ends = {line.split()[0]: line.split("ends at ")[1] for line in capsys.readouterr().out.splitlines()}
    assert set(ends) == {"SGD", "Momentum", "AdaGrad", "Adam"}
    assert all(e != "[-7.  2.]" for e in ends.values())  # every optimizer moved the numbers
    x, y = -7.0, 2.0
    for _ in range(30):  # the book's SGD(lr=0.95) by hand
        x, y = x - 0.95 * x / 10.0, y - 0.95 * 2.0 * y
    assert ends["SGD"] == str(numpy.round(numpy.array([x, y]), 3))


def test_the_books_files_are_the_repositorys_own_not_an_environment_inside_it(tmp_path):
    root = str(tmp_path.resolve())
    assert in_repository(str(tmp_path / "ch01" / "train.py"), root)
    assert in_repository(str(tmp_path / "ch01" / ".." / "ch07" / "seq2seq.py"), root)
    assert not in_repository(str(tmp_path / ".venv" / "lib" / "python3.12" / "site-packages" / "mpl.py"), root)
    assert not in_repository(str(tmp_path.parent / "elsewhere.py"), root)
