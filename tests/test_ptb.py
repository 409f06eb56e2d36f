"""PTB loading (xpnet.ptb) against a real local HTTP server, text files as corpora, CBOW on a real text."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_on
from test_datasets import Server, closed_port_url

import xpnet
from xpnet import datasets, ptb, text
from xpnet.datasets import Dataset, DatasetNotFoundError
from xpnet.optimizers import Adam
from xpnet.trainer2 import Trainer
from xpnet.word2vec import CBOW

FILES = {
    "ptb.train.txt": " the cat sat on the mat \n the dog sat \n",
    "ptb.valid.txt": " the dog sat on a mat \n",
    "ptb.test.txt": " a cat \n",
}
GPL = Path("/usr/share/common-licenses/GPL-3")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("XPNET_DATA_DIR", raising=False)
    return tmp_path


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The three PTB files (tiny, "a" missing from the training vocabulary) on a local server's second mirror."""
    root = tmp_path / "www"
    (root / "m2").mkdir(parents=True)
    hashes = {}
    for name, content in FILES.items():
        (root / "m2" / name).write_text(content)
        hashes[name] = "md5:" + hashlib.md5(content.encode()).hexdigest()
    s = Server(root)
    monkeypatch.setitem(datasets.DATASETS, "ptb", Dataset("ptb", hashes, [s.url + "missing/", s.url + "m2/"]))
    yield s
    s.close()


def test_load_ptb_downloads_checks_and_caches(isolated, served, backend):
    corpus, w2i, i2w = ptb.load_ptb("train")
    assert_on(backend, corpus)
    assert w2i == {"the": 0, "cat": 1, "sat": 2, "on": 3, "mat": 4, "<eos>": 5, "dog": 6}
    assert i2w[5] == "<eos>"
    assert xpnet.asnumpy(corpus).tolist() == [0, 1, 2, 3, 0, 4, 5, 0, 6, 2, 5]
    cache = isolated / "cache" / "xpnet" / "ptb"
    vocab = json.loads((cache / "ptb.vocab.json").read_text())
    assert vocab["id_to_word"][:3] == ["the", "cat", "sat"]
    assert not list(cache.glob("*.pkl"))
    n = len(served.requests)
    again, w2i_again, _ = ptb.load_ptb("train")  # from the cache: no request
    assert len(served.requests) == n and w2i_again == w2i
    assert xpnet.asnumpy(again).tolist() == xpnet.asnumpy(corpus).tolist()


def test_val_and_test_use_the_training_vocabulary(isolated, served, monkeypatch):
    with pytest.raises(ValueError, match="'a' is not in the training vocabulary"):
        ptb.load_ptb("val")
    FILES_UNK = dict(FILES, **{"ptb.train.txt": FILES["ptb.train.txt"] + " <unk> \n"})
    hashes = {k: "md5:" + hashlib.md5(v.encode()).hexdigest() for k, v in FILES_UNK.items()}
    www = isolated / "www2"
    www.mkdir()
    for k, v in FILES_UNK.items():
        (www / k).write_text(v)
    monkeypatch.setitem(datasets.DATASETS, "ptb", Dataset("ptb", hashes, [closed_port_url()]))
    corpus, w2i, _ = ptb.load_ptb("valid", data_home=www)
    ids = xpnet.asnumpy(corpus).tolist()
    assert ids[4] == w2i["<unk>"] and ids[:3] == [w2i["the"], w2i["dog"], w2i["sat"]]
    assert (www / "ptb.vocab.json").is_file()  # cached beside the files when the directory is writable


def test_load_ptb_offline_and_bad_arguments(isolated, monkeypatch):
    monkeypatch.setitem(datasets.DATASETS, "ptb", Dataset("ptb", {"ptb.train.txt": "md5:0"}, [closed_port_url()]))
    with pytest.raises(DatasetNotFoundError, match="no copy of ptb found"):
        ptb.load_ptb("train", download=False)
    with pytest.raises(ValueError, match="'train', 'val' or 'test'"):
        ptb.load_ptb("dev")


def test_load_text_corpus(tmp_path, backend):
    f = tmp_path / "t.txt"
    f.write_text("You say goodbye, and I say hello.\nHello!\n")
    corpus, w2i, i2w = ptb.load_text_corpus(f)
    assert_on(backend, corpus)
    assert [i2w[i] for i in xpnet.asnumpy(corpus)] == [
        "you",
        "say",
        "goodbye",
        ",",
        "and",
        "i",
        "say",
        "hello",
        ".",
        "hello",
        "!",
    ]
    corpus, w2i, _ = ptb.load_text_corpus(f, eos=True, lower=False)
    assert "<eos>" in w2i and "You" in w2i
    with pytest.raises(FileNotFoundError, match="no such file"):
        ptb.load_text_corpus(tmp_path / "missing.txt")


@pytest.mark.skipif(not GPL.is_file(), reason=f"{GPL} is not on this machine")
def test_cbow_learns_on_the_gpl():
    """A real English text on every Debian machine: three epochs of CBOW lower the loss."""
    xpnet.seed(0)
    corpus, w2i, _ = ptb.load_text_corpus(GPL)
    contexts, target = text.create_contexts_target(corpus, 2)
    model = CBOW(len(w2i), 30, 2, corpus)
    trainer = Trainer(model, Adam(0.01))
    trainer.fit(contexts, target, max_epoch=3, batch_size=100, eval_interval=10)
    first, last = np.mean(trainer.loss_list[:2]), np.mean(trainer.loss_list[-3:])
    assert first == pytest.approx(6 * np.log(2), rel=0.02)  # untrained: every score near 0
    assert last < 0.75 * first
