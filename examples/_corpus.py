"""What the word-vector examples (book 2, chapters 2-4) share: the corpus (the command line is _common.parse)."""

from __future__ import annotations

import argparse
from pathlib import Path

from xpnet import ptb, text

GPL = Path("/usr/share/common-licenses/GPL-3")
FALLBACK = "You say goodbye and I say hello. " * 50


def load(args: argparse.Namespace):
    """``corpus, word_to_id, id_to_word``: PTB as the book, or a text file; ``--quick`` takes a small real text."""
    if args.quick and args.corpus == "ptb":
        if GPL.is_file():
            print(f"--quick: {GPL} instead of PTB")
            return ptb.load_text_corpus(GPL)
        print("--quick: the book's sentence, repeated, instead of PTB")
        return text.preprocess(FALLBACK.strip())
    if args.corpus == "ptb":
        return ptb.load_ptb("train")
    return ptb.load_text_corpus(args.corpus)
