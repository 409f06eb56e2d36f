"""``xpnet book SCRIPT [--backend numpy|cupy] [--book 1|2] [--fashion-mnist] [-- ARGS]`` (also
``python -m xpnet.book``): a script of either book's repository, run unchanged by :func:`xpnet.book.run`.

What stops a script before it runs (a backend other than numpy/cupy, missing data, an import that needs another
chapter's folder) is one line and status 2, like every ``xpnet`` command; the script's own error shows its own
traceback (the runner's frames left out) and status 1; its ``sys.exit`` status is kept.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Any

from ..book import BACKENDS, BookError, script_frames
from ..book import run as run_script
from . import UsageError, add_flags

HELP = "run a script of either book's repository unchanged (its common/ and dataset/ are xpnet's)"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``book`` to ``subparsers`` (from ``ArgumentParser.add_subparsers``); returns its parser."""
    p = subparsers.add_parser("book", help=HELP, description=HELP)
    p.add_argument("script", help="a chapter's script, e.g. ch05/train_neuralnet.py of the book's repository")
    p.add_argument("script_args", nargs="*", metavar="ARGS", help="the script's own arguments, after --")
    backend = {"choices": None, "default": "numpy", "help": f"{' or '.join(BACKENDS)} (default: numpy)"}
    add_flags(p, "backend", backend=backend)  # others are refused by run(), which says why
    p.add_argument("--book", type=int, choices=[1, 2], default=None, help="default: told from the repository")
    p.add_argument("--fashion-mnist", action="store_true", help="load_mnist gives Fashion-MNIST (same format)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the script; the exit status as the module docstring says."""
    mnist = "fashion-mnist" if args.fashion_mnist else "mnist"
    try:
        run_script(args.script, args.script_args, backend=args.backend, book=args.book, mnist=mnist)
    except BookError as e:
        raise UsageError(str(e)) from None
    except SystemExit as e:  # the script's own sys.exit
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        tb = script_frames(e.__traceback__, Path(args.script).resolve())
        traceback.print_exception(type(e), e, tb, file=sys.stderr)
        return 1
    return 0
