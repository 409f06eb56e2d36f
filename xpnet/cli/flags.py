"""The one table of flags every ``xpnet`` subcommand takes its numbers from, their argparse types, and the one
:class:`UsageError`: every number is range-checked as it is parsed (one line, exit status 2), so 0 or a
negative value never silently means "the default"."""

from __future__ import annotations

import argparse
import math
from typing import Any

from ..backend import BACKENDS
from ..data.ptb import MAX_VOCAB

__all__ = ["FLAGS", "UsageError", "add_flags", "fraction", "positive", "seed_value"]


class UsageError(Exception):
    """A mistake in the command line: one line, exit status 2."""


def _number(text: str, kind: type, ok: Any, wanted: str) -> Any:
    """``kind(text)`` when ``ok`` of it, else argparse's one-line error saying what was ``wanted``."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
    return value


def positive(kind: type) -> Any:
    """An argparse type: a positive (and finite) ``kind``, else a one-line error."""

    def parse(text: str) -> Any:
        return _number(text, kind, lambda v: v > 0 and math.isfinite(v), "positive")

    parse.__name__ = kind.__name__
    return parse


def seed_value(text: str) -> int:
    """An argparse type: a non-negative whole number (a seed, a count that may be 0)."""
    return _number(text, int, lambda v: v >= 0, "a non-negative integer")


def fraction(text: str) -> float:
    """An argparse type: a ratio in ``[0, 1)`` (a dropout ratio)."""
    return _number(text, float, lambda v: 0 <= v < 1, "at least 0 and below 1")


#: The one table of flags: every subcommand adds the ones it takes with :func:`add_flags`, so a flag
#: means the same, is checked the same way and has the same default under every command.
FLAGS: dict[str, dict[str, Any]] = {
    "backend": {"choices": BACKENDS, "default": None, "help": "default: $XPNET_BACKEND or numpy"},
    "dtype": {"choices": ["float32", "float64"], "default": "float32", "help": "default: float32"},
    "seed": {"type": seed_value, "default": 0, "help": "seed of the weights and mini-batches (default: 0)"},
    "epochs": {"type": positive(int), "default": None},
    "batch-size": {"type": positive(int), "default": None},
    "lr": {"type": positive(float), "default": None, "help": "learning rate"},
    "max-grad": {"type": positive(float), "default": None, "help": "clip the gradients' joint norm"},
    "hidden": {"type": positive(int), "default": None, "help": "hidden size"},
    "wordvec": {"type": positive(int), "default": None, "help": "word-vector size"},
    "time-size": {"type": positive(int), "default": None, "help": "time steps per batch: 35 (10 with --quick)"},
    "train-size": {"type": positive(int), "default": None, "help": "use only the first N training samples"},
    "window": {"type": positive(int), "default": 5, "help": "context words on each side (book: 5)"},
    "top": {"type": positive(int), "default": 5, "help": "neighbours to print"},
    "eval-interval": {"type": positive(int), "default": None, "help": "print the loss every N iterations"},
    "dropout": {"type": fraction, "default": 0.5, "help": "dropout ratio in [0, 1)"},
    "generate": {"type": seed_value, "default": 0, "metavar": "N", "help": "print N generated words afterwards"},
    "max-vocab": {"type": positive(int), "default": MAX_VOCAB, "help": f"refuse a text of more words ({MAX_VOCAB:,})"},
    "save": {"metavar": "PATH", "default": None, "help": "save the trained parameters (.npz)"},
    "plot": {"metavar": "PATH", "default": None, "help": "save a figure (PNG)"},
}


def add_flags(parser: Any, *names: str, **changes: dict[str, Any]) -> None:
    """Add ``--NAME`` for each of ``names`` from :data:`FLAGS`; ``changes`` (keyed ``batch_size`` for
    ``--batch-size``) overrides a flag's default or help for this command."""
    for name in names:
        parser.add_argument(f"--{name}", **{**FLAGS[name], **changes.get(name.replace("-", "_"), {})})
