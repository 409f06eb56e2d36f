"""``xpnet word2vec`` (xpnet.cli.word2vec), through its own parser as cli.py wires it."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

import xpnet
from xpnet.cli import word2vec as cli_word2vec
from xpnet.word2vec import load_word_vectors

GPL = Path("/usr/share/common-licenses/GPL-3")


def parse(*argv):
    p = argparse.ArgumentParser(prog="xpnet")
    cli_word2vec.add_parser(p.add_subparsers(dest="command", required=True))
    return p.parse_args(["word2vec", *argv])


@pytest.fixture
def corpus_file(tmp_path):
    if GPL.is_file():
        return GPL
    f = tmp_path / "t.txt"
    f.write_text("You say goodbye and I say hello. " * 200)
    return f


def test_word2vec_trains_prints_neighbours_and_saves(corpus_file, tmp_path, capsys):
    out_file = tmp_path / "vecs.npz"
    args = parse(
        "--corpus",
        str(corpus_file),
        "--window",
        "2",
        "--hidden",
        "10",
        "--epochs",
        "1",
        "--query",
        "you,the",
        "--top",
        "3",
        "--save",
        str(out_file),
    )
    assert args.run is cli_word2vec.run
    assert cli_word2vec.run(args) == 0
    out = capsys.readouterr().out
    assert "cbow on" in out and "[query] you" in out and "[query] the" in out
    vecs, w2i, i2w = load_word_vectors(out_file)
    assert tuple(vecs.shape) == (len(w2i), 10) and i2w[w2i["you"]] == "you"
    assert np.isfinite(xpnet.asnumpy(vecs)).all()


def test_word2vec_mistakes_print_one_line(tmp_path, capsys):
    assert cli_word2vec.run(parse("--corpus", str(tmp_path / "none.txt"))) == 2
    err = capsys.readouterr().err
    assert err.startswith("xpnet: error:") and "no such file" in err and err.count("\n") == 1
    small = tmp_path / "small.txt"
    small.write_text("a b c d e f g")
    assert cli_word2vec.run(parse("--corpus", str(small), "--window", "1")) == 2
    assert "do not fill a batch" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("--window", "0")


def test_an_unwritable_save_path_is_refused_before_training(capsys):
    from xpnet import cli

    status = cli.main(["word2vec", "--corpus", "/usr/share/common-licenses/GPL-3", "--save", "/nonexistent/v.npz"])
    err = capsys.readouterr().err
    assert status == 2 and "/nonexistent" in err and "epoch" not in err
