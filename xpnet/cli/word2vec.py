"""``xpnet word2vec``: train CBOW or skip-gram word vectors (book 2, chapter 4) on PTB or any text file,
then print the nearest neighbours of a few words.

``add_parser(subparsers)`` registers the subcommand; ``run(args)`` returns the exit status (2 with
one line on a usage mistake, an unusable backend or missing data, like ``xpnet train``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from typing import Any

import numpy as np

from ..backend import (
    BackendUnavailableError,
    active_device,
    asnumpy,
    get_backend,
    set_backend,
    set_default_dtype,
)
from . import UsageError, add_flags, check_outputs, save_trained, single_process

PTB_QUERIES = ["you", "year", "car", "toyota"]  # book 2, ch04/eval.py


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``word2vec`` to ``subparsers`` (from ``ArgumentParser.add_subparsers``); returns its parser."""
    p = subparsers.add_parser(
        "word2vec", help="train word vectors (CBOW / skip-gram) on PTB or a text file; print nearest neighbours"
    )
    p.add_argument("--corpus", default="ptb", help="'ptb' (book 2's Penn Treebank) or the path of a UTF-8 text file")
    p.add_argument("--model", choices=["cbow", "skipgram"], default="cbow")
    add_flags(p, "window", "hidden", hidden={"default": 100, "help": "word-vector size (book: 100)"})
    add_flags(
        p, "epochs", "batch-size", "lr",
        epochs={"default": 10}, batch_size={"default": 100}, lr={"default": 0.001, "help": "Adam's learning rate"},
    )  # fmt: skip
    add_flags(p, "backend", "dtype", "seed")
    p.add_argument("--data-dir", default=None, help="directory holding ptb.train.txt etc.")
    p.add_argument("--query", default=None, help="comma-separated words (default: you,year,car,toyota as the book)")
    add_flags(p, "top", "eval-interval", "max-vocab")
    add_flags(p, "save", save={"help": "save the word vectors and words (.npz)"})
    p.set_defaults(run=run)
    return p


def _queries(args: argparse.Namespace, corpus: Any, word_to_id: dict[str, int], id_to_word: dict[int, str]) -> list:
    if args.query:
        return [w.strip() for w in args.query.split(",") if w.strip()]
    known = [w for w in PTB_QUERIES if w in word_to_id]
    if known:
        return known
    counts = Counter(asnumpy(corpus).tolist())
    return [id_to_word[i] for i, _ in counts.most_common(50) if id_to_word[i].isalpha()][:4]


def run(args: argparse.Namespace) -> int:
    """Train as book 2's ``ch04/train.py`` (Adam, batches of 100), print neighbours as ``ch04/eval.py``."""
    from ..data.datasets import DatasetError

    try:
        return _run(args)
    except (ValueError, OSError, BackendUnavailableError, DatasetError, UsageError) as e:
        print(f"xpnet: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from .. import backend
    from ..data import ptb, text
    from ..models.word2vec import CBOW, SkipGram, save_word_vectors
    from ..training.optimizers import Adam
    from ..training.trainer import TrainingDivergedError
    from ..training.trainer2 import Trainer

    single_process("word2vec")
    check_outputs({"--save": args.save}, {"--corpus": args.corpus})  # before training: it must not cost the run
    if args.backend:
        set_backend(args.backend)
    set_default_dtype(args.dtype)
    backend.seed(args.seed)
    if args.corpus == "ptb":
        corpus, word_to_id, id_to_word = ptb.load_ptb("train", data_home=args.data_dir)
    else:
        corpus, word_to_id, id_to_word = ptb.load_text_corpus(args.corpus, max_vocab=args.max_vocab)
    contexts, target = text.create_contexts_target(corpus, window_size=args.window)
    if contexts.shape[0] < args.batch_size:
        raise ValueError(f"{args.corpus}: {contexts.shape[0]} training pairs do not fill a batch of {args.batch_size}")
    model_cls = CBOW if args.model == "cbow" else SkipGram
    model = model_cls(len(word_to_id), args.hidden, args.window, corpus)
    trainer = Trainer(model, Adam(args.lr))
    start = time.perf_counter()
    diverged = None
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is reported in one line
            trainer.fit(contexts, target, args.epochs, args.batch_size, eval_interval=args.eval_interval)
    except TrainingDivergedError as e:
        diverged = e
        print(f"xpnet: {e}", file=sys.stderr)
    took = time.perf_counter() - start

    def write(path: str) -> None:
        save_word_vectors(path, model.word_vecs, id_to_word)

    status = max(int(diverged is not None), save_trained(args.save, write, diverged))  # the vectors first
    print(
        f"xpnet: {args.model} on {args.corpus} ({corpus.shape[0]} words, vocabulary {len(word_to_id)}), "
        f"{trainer.current_epoch} of {args.epochs} epochs in {took:.1f} s on {get_backend()} ({active_device()}, "
        f"{args.dtype})" + (" [interrupted]" if trainer.interrupted else "")
        + (" [diverged, rolled back]" if diverged is not None else "")
    )  # fmt: skip
    for query in _queries(args, corpus, word_to_id, id_to_word):
        text.most_similar(query, word_to_id, id_to_word, model.word_vecs, top=args.top)
    return status
