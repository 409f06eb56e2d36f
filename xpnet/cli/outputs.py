"""Every command's outputs (``--save``, ``--plot``, word vectors): checked before training, never an input of the
same run, and written after it weights first, with a fallback place when the path fails; and the refusal of a
single-process command under ``mpiexec``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from .flags import UsageError

__all__ = ["check_output", "check_outputs", "check_plot", "save_trained", "single_process", "write_output"]


def check_output(path: str, flag: str) -> None:
    """Raise :class:`UsageError` unless ``path`` can be written (its directory exists and is writable)."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a directory; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: directory {str(parent)!r} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise UsageError(f"{flag} {path}: the file exists and is not writable")


def check_outputs(outputs: dict[str, str | None], inputs: dict[str, str | None] | None = None) -> None:
    """Every command's check of its outputs, before anything runs: each ``{flag: path}`` of ``outputs`` can be
    written (``--plot``: in a format matplotlib knows), no two name the same file, and none is a file of
    ``inputs`` (``{flag: path}``: ``--corpus notes.txt --save notes.txt`` would destroy the text)."""
    given = {flag: path for flag, path in outputs.items() if path}
    seen: dict[str, str] = {}
    for flag, path in given.items():
        if seen.setdefault(os.path.realpath(path), flag) != flag:
            raise UsageError(f"{flag} and {seen[os.path.realpath(path)]} name the same file ({path})")
    for in_flag, in_path in (inputs or {}).items():
        if not in_path or not os.path.exists(in_path):
            continue
        for flag, path in given.items():
            if os.path.exists(path) and os.path.samefile(path, in_path):
                raise UsageError(f"{flag} {path} is the file of {in_flag}: the run would overwrite its own input")
    for flag, path in given.items():
        check_plot(path) if flag == "--plot" else check_output(path, flag)


def single_process(command: str) -> None:
    """Refuse ``xpnet COMMAND`` as one of several ranks (each would train it all and write the same outputs)."""
    from ..training.distributed import under_mpiexec

    if under_mpiexec():
        raise UsageError(
            f"xpnet {command} runs on one process; under mpiexec only 'xpnet train' is data-parallel: "
            f"run 'xpnet {command}' without mpiexec"
        )


def save_trained(path: str | None, write: Any, diverged: Any = None) -> int:
    """Weights first, after training: ``write(path)`` via :func:`write_output`, saying where; nothing when the run
    diverged before any good weights. Returns 1 when the weights did not go where asked, else 0."""
    if not path:
        return 0
    if diverged is not None and not diverged.rolled_back_to:
        print(f"xpnet: nothing saved to {path}: no parameters after the initial ones were good", file=sys.stderr)
        return 1
    if not write_output("parameters", path, write):
        return 1
    print(f"xpnet: parameters written to {path}")
    return 0


def check_plot(path: str) -> None:
    """``--plot PATH`` can work: a writable path, matplotlib importable, a format it knows."""
    from .. import plot

    check_output(path, "--plot")
    try:
        plot.require_matplotlib()
    except ImportError as e:
        raise UsageError(f"--plot: {e}") from None
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in formats:
        raise UsageError(f"--plot {path}: matplotlib cannot write .{suffix} files; use one of: {', '.join(formats)}")


def _fallbacks(path: str) -> list[Path]:
    """Where an output goes when its path fails: beside it under another name, then in the current directory."""
    p = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    places = [
        p.with_name(f"{p.stem}-{stamp}{p.suffix}"),
        Path.cwd() / p.name,
        Path.cwd() / f"{p.stem}-{stamp}{p.suffix}",
    ]
    return [q for q in places if not q.exists()]


def write_output(what: str, path: str, write: Any) -> bool:
    """``write(path)``; on failure try :func:`_fallbacks` and print one line naming what failed.

    Returns True when ``path`` itself was written.
    """
    try:
        write(path)
        return True
    except Exception as e:
        reason = " ".join(f"{type(e).__name__}: {e}".split())
    for alt in _fallbacks(path):
        try:
            write(str(alt))
        except Exception:  # noqa: S112 - try the next place
            continue
        print(f"xpnet: could not write the {what} to {path} ({reason}); wrote it to {alt} instead", file=sys.stderr)
        return False
    print(f"xpnet: could not write the {what} to {path} ({reason}), nor beside it or in the current directory",
          file=sys.stderr)  # fmt: skip
    return False
