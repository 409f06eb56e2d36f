"""``xpnet word2vec``, ``xpnet rnnlm`` and ``xpnet seq2seq`` against a hostile user (issue 20), run as a user runs
them: ``python -m xpnet ...`` in a subprocess, tiny sizes. A mistake prints one line and exits 2 *before* training;
a finished or interrupted run is never thrown away; nothing the user gave is overwritten."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PY = [sys.executable, "-m", "xpnet"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A small addition.txt (book 2's format) so that seq2seq needs no generated set: $XPNET_DATA_DIR."""
    d = tmp_path_factory.mktemp("seqdata")
    rng = np.random.default_rng(0)
    lines = []
    for a, b in rng.integers(0, 1000, (700, 2)):
        q = f"{a}+{b}".ljust(7)
        lines.append(f"{q}_{a + b}".ljust(12))
    (d / "addition.txt").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture
def env(tmp_path, data_dir):
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "XPNET_DATA_DIR": str(data_dir),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }


def xpnet(env, *args, cwd=None, timeout=120):
    return subprocess.run([*PY, *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def assert_refused(proc, *words):
    """Exit 2, exactly one line on stderr (no traceback), no training started."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    err = proc.stderr.strip()
    assert "\n" not in err and err.startswith("xpnet: error:"), err
    assert "| epoch" not in proc.stdout and "perplexity" not in proc.stdout, proc.stdout
    for w in words:
        assert w in err, (w, err)


def text_file(path, n_words, vocab=50, seed=0):
    words = np.random.default_rng(seed).choice([f"w{i}" for i in range(vocab)], n_words)
    path.write_text("\n".join(" ".join(words[i : i + 12]) for i in range(0, n_words, 12)) + "\n")
    return path


# --- every numeric flag is range-checked up front ---------------------------------------------------------------

BAD_FLAGS = {
    "rnnlm": [
        ("--epochs", "0"), ("--epochs", "-1"), ("--hidden", "0"), ("--wordvec", "0"), ("--time-size", "0"),
        ("--batch-size", "-5"), ("--batch-size", "0"), ("--max-grad", "-1"), ("--max-grad", "0"), ("--lr", "0"),
        ("--lr", "-0.1"), ("--lr", "nan"), ("--lr", "inf"), ("--dropout", "1"), ("--dropout", "-0.1"),
        ("--generate", "-1"), ("--seed", "-1"), ("--max-vocab", "0"),
    ],
    "seq2seq": [
        ("--epochs", "0"), ("--epochs", "-1"), ("--hidden", "0"), ("--wordvec", "0"), ("--batch-size", "-5"),
        ("--train-size", "-5"), ("--train-size", "0"), ("--max-grad", "-1"), ("--lr", "0"), ("--lr", "nan"),
        ("--seed", "-1"),
    ],
    "word2vec": [
        ("--epochs", "0"), ("--hidden", "0"), ("--window", "0"), ("--batch-size", "-5"), ("--lr", "nan"),
        ("--top", "0"), ("--eval-interval", "0"), ("--seed", "-1"), ("--max-vocab", "-3"),
    ],
}  # fmt: skip
CASES = [(cmd, flag, value) for cmd, flags in BAD_FLAGS.items() for flag, value in flags]


@pytest.mark.parametrize("cmd, flag, value", CASES, ids=[f"{c}{f}={v}" for c, f, v in CASES])
def test_every_numeric_flag_is_range_checked(env, tmp_path, cmd, flag, value):
    """--epochs 0 reported "after 2 epochs", --hidden 0 trained a size-32 LSTM, --batch-size -5 dropped 5 samples,
    --max-grad -1 ascended the gradient, --time-size 0 / --wordvec 0 / --epochs -1 ended in a traceback."""
    extra = ["--corpus", text_file(tmp_path / "t.txt", 2000)] if cmd == "word2vec" else []
    proc = xpnet(env, cmd, "--quick" if cmd != "word2vec" else "--epochs=1", *extra, f"{flag}={value}", cwd=tmp_path)
    if cmd == "word2vec" and flag == "--epochs":
        proc = xpnet(env, cmd, *extra, f"{flag}={value}", cwd=tmp_path)
    assert_refused(proc, flag)


# --- outputs: checked before training, never an input, saved first ---------------------------------------------


@pytest.mark.parametrize("cmd", ["word2vec", "rnnlm"])
@pytest.mark.parametrize("flag", ["--save", "--plot"])
def test_an_output_may_not_be_the_corpus(env, tmp_path, cmd, flag):
    """`xpnet word2vec --corpus notes.txt --save notes.txt` replaced the user's text by a zip archive."""
    if cmd == "word2vec" and flag == "--plot":
        pytest.skip("word2vec draws no plot")
    notes = text_file(tmp_path / "notes.txt", 4000)
    before = notes.read_bytes()
    other = tmp_path / "sub"
    other.mkdir()
    # the same file under another spelling of its path
    proc = xpnet(env, cmd, "--corpus", notes, "--epochs", 1, flag, "sub/../notes.txt", cwd=tmp_path)
    assert_refused(proc, flag, "--corpus")
    assert notes.read_bytes() == before


@pytest.mark.parametrize("cmd", ["rnnlm", "seq2seq"])
def test_an_unwritable_save_is_refused_before_training(env, tmp_path, cmd):
    """rnnlm and seq2seq trained fully, then said `could not write checkpoint` with nothing saved."""
    proc = xpnet(env, cmd, "--quick", "--save", tmp_path / "no-such-dir" / "m.npz", cwd=tmp_path)
    assert_refused(proc, "--save", "no-such-dir")


@pytest.mark.parametrize("cmd", ["rnnlm", "seq2seq"])
def test_a_plot_format_matplotlib_cannot_write_is_refused_before_training(env, tmp_path, cmd):
    """`--plot p.xyz --save r.npz` trained, then failed on the format before saving: no r.npz."""
    extra = ["--attention"] if cmd == "seq2seq" else []
    proc = xpnet(env, cmd, "--quick", *extra, "--plot", "p.xyz", "--save", "r.npz", cwd=tmp_path)
    assert_refused(proc, "--plot", ".xyz")
    assert not (tmp_path / "r.npz").exists()


def test_plot_and_save_may_not_be_the_same_file(env, tmp_path):
    assert_refused(xpnet(env, "rnnlm", "--quick", "--plot", "a.png", "--save", "a.png", cwd=tmp_path), "same file")


def test_seq2seq_plot_without_attention_is_refused(env, tmp_path):
    """--plot draws the attention map: without attention it was silently ignored."""
    assert_refused(xpnet(env, "seq2seq", "--quick", "--model", "peeky", "--plot", "a.png", cwd=tmp_path), "--plot")


def test_rnnlm_saves_before_plotting_and_says_where(env, tmp_path):
    proc = xpnet(env, "rnnlm", "--quick", "--save", "r.npz", "--plot", "r.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r.npz").is_file() and (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert "r.npz" in proc.stdout


def test_a_test_split_too_short_for_evaluation_is_refused_before_training(env, tmp_path):
    """On a 3,000-word text rnnlm trained, then eval_perplexity refused the 300-word test split: nothing saved."""
    text = text_file(tmp_path / "t.txt", 3000)
    proc = xpnet(env, "rnnlm", "--corpus", text, "--save", "m.npz", cwd=tmp_path)
    assert_refused(proc, "test")
    ok = xpnet(env, "rnnlm", "--corpus", text, "--time-size", "5", "--epochs", "1", "--save", "m.npz", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "m.npz").is_file()


# --- divergence ------------------------------------------------------------------------------------------------


def test_rnnlm_huge_learning_rate_is_reported_in_one_line_not_a_traceback(env, tmp_path):
    """`xpnet rnnlm --quick --lr 1000`: OverflowError from math.exp(mean loss)."""
    proc = xpnet(env, "rnnlm", "--quick", "--lr", "1000", "--save", "m.npz", cwd=tmp_path)
    assert "Traceback" not in proc.stderr and "OverflowError" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "diverged" in proc.stderr
    if (tmp_path / "m.npz").exists():  # what was saved are the rolled-back (finite) weights
        with np.load(tmp_path / "m.npz") as z:
            assert all(np.isfinite(z[k]).all() for k in z.files)


# --- memory that grows with the input --------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", ["rnnlm", "word2vec"])
def test_a_huge_vocabulary_is_refused_up_front_with_a_flag_to_raise_the_bound(env, tmp_path, cmd):
    """A 3 MB text of 400,000 distinct words: `Unable to allocate 1.04 GiB` traceback."""
    big = tmp_path / "big.txt"
    big.write_text(" ".join(f"w{i}" for i in range(400_000)))
    proc = xpnet(env, cmd, "--corpus", big, "--epochs", 1, cwd=tmp_path)
    assert_refused(proc, "400,000", "--max-vocab")


# --- Ctrl-C keeps what was trained ------------------------------------------------------------------------------


def _interrupt(env, tmp_path, args, after="| epoch"):
    proc = subprocess.Popen(
        [*PY, *map(str, args)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if after in line:
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, "".join(lines) + out, err


@pytest.mark.parametrize(
    "args",
    [
        ["rnnlm", "--epochs", "200", "--save", "m.npz"],
        ["seq2seq", "--epochs", "500", "--hidden", "16", "--save", "m.npz"],
        ["word2vec", "--epochs", "2000", "--hidden", "8", "--eval-interval", "5", "--save", "m.npz"],
    ],
    ids=["rnnlm", "seq2seq", "word2vec"],
)
def test_ctrl_c_saves_what_was_trained_and_says_where(env, tmp_path, args):
    """Ctrl-C during training: a KeyboardInterrupt traceback and no file, where `xpnet train` keeps the run."""
    if args[0] == "word2vec":
        args = [*args, "--corpus", text_file(tmp_path / "t.txt", 3000)]
    rc, out, err = _interrupt(env, tmp_path, args)
    assert "Traceback" not in err, err
    assert rc == 0, (rc, out, err)
    assert "interrupted" in out + err
    assert (tmp_path / "m.npz").is_file() and "m.npz" in out + err


# --- mpiexec ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", ["rnnlm", "word2vec"])
def test_under_mpiexec_a_single_process_command_refuses(env, tmp_path, cmd):
    """Two ranks would each train the whole run and race to write the same --save."""
    pytest.importorskip("mpi4py")
    exe = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("no mpiexec")
    extra = ["--corpus", text_file(tmp_path / "t.txt", 2000)] if cmd == "word2vec" else ["--quick"]
    proc = subprocess.run(
        [exe, "-n", "2", *PY, cmd, *extra, "--save", "m.npz"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "mpiexec" in proc.stderr
    assert "| epoch" not in proc.stdout and not (tmp_path / "m.npz").exists()
