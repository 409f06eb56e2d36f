"""What the word-vector examples (book 2, chapters 2-4) share: the command line and the corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

import xpnet
from xpnet import ptb, text

GPL = Path("/usr/share/common-licenses/GPL-3")
FALLBACK = "You say goodbye and I say hello. " * 50


def parse(description: str, *, corpus: bool = False, plot: bool = False) -> argparse.Namespace:
    """``--backend`` and ``--quick``; ``--corpus`` (``ptb`` or a text file) and ``--plot`` where they apply."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", default="numpy", choices=xpnet.backend.BACKENDS)
    p.add_argument("--quick", action="store_true", help="a short run on a small text (used by the tests)")
    if corpus:
        p.add_argument("--corpus", default="ptb", help="'ptb' (downloaded once) or the path of a text file")
    if plot:
        p.add_argument("--plot", metavar="PATH", default=None, help="save the figure as PNG")
    args = p.parse_args()
    xpnet.set_backend(args.backend)
    xpnet.seed(0)
    return args


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
