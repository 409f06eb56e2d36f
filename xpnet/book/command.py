"""``xpnet book SCRIPT [--backend numpy|cupy] [--fashion-mnist] [-- ARGS]``, also ``python -m xpnet.book``."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Any

from . import BACKENDS, BookError, script_frames
from . import run as run_script

__all__ = ["add_parser", "main", "run"]

HELP = "run a script of either book's repository unchanged (its common/ and dataset/ are xpnet's)"


def _arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("script", help="a chapter's script, e.g. ch05/train_neuralnet.py of the book's repository")
    p.add_argument("script_args", nargs="*", metavar="ARGS", help="the script's own arguments, after --")
    p.add_argument(
        "--backend", default="numpy",
        help=f"{' or '.join(BACKENDS)} (default: numpy); cupy also gives the book's files CuPy for numpy",
    )  # fmt: skip
    p.add_argument("--book", type=int, choices=[1, 2], default=None, help="default: told from the repository")
    p.add_argument(
        "--fashion-mnist", action="store_true", help="dataset.mnist.load_mnist gives Fashion-MNIST (same format)"
    )
    return p


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``book`` to ``subparsers`` (from ``ArgumentParser.add_subparsers``); returns its parser."""
    return _arguments(subparsers.add_parser("book", help=HELP, description=HELP))


def run(args: argparse.Namespace) -> int:
    """Run the script; 2 with one line for what stopped it before it ran, its own traceback for its own error."""
    try:
        mnist = "fashion-mnist" if args.fashion_mnist else "mnist"
        run_script(args.script, args.script_args, backend=args.backend, book=args.book, mnist=mnist)
    except BookError as e:
        print(f"xpnet book: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # the script's own sys.exit
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        tb = script_frames(e.__traceback__, Path(args.script).resolve())
        traceback.print_exception(type(e), e, tb, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _arguments(argparse.ArgumentParser(prog="python -m xpnet.book", description=HELP))
    return run(parser.parse_args(argv))
