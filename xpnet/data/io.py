"""Files, once: the cache directory, checksums, temporary files and the atomic write every writer uses.

:func:`atomic_write` writes a file beside its destination, flushes it to disk and renames it into
place, so a crash never leaves a broken file where a good one was; an existing target keeps its
permission bits (a new one gets the umask's) and a symlink is written through to the file it points
to. Temporary names carry the writer's ``<pid>@<host>``, so :func:`clean_stale_temp_files` can
remove those of killed writers. Checkpoints (:mod:`xpnet.data.checkpoint`), downloads
(:mod:`xpnet.data.datasets`) and the caches of :mod:`xpnet.data.ptb` and :mod:`xpnet.data.sequence`
all go through here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "STALE_TEMP_SECONDS",
    "atomic_write",
    "cache_dir",
    "clean_stale_temp_files",
    "file_hash",
    "temp_prefix",
]

# A temporary file older than this is taken for an orphan even when its writer cannot be checked
# (another machine on a shared file system, or a recycled process id).
STALE_TEMP_SECONDS = 3600.0


def cache_dir() -> Path:
    """xpnet's user cache directory for downloaded and generated data."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("xpnet"))


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of the file ``path`` (read in 1 MiB blocks)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- temporary files --------------------------------------------------------------------


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname())[:64]


def temp_prefix(stem: str = ".xpnet-") -> str:
    """Prefix of this process's temporary files: ``stem`` + ``<pid>@<host>~``, so a later run can tell
    whether the writer is still alive."""
    return f"{stem}{os.getpid()}@{_host()}~"


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there: rely on the age rule
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else, or cannot be checked: assume alive
    return True


def clean_stale_temp_files(
    directory: str | os.PathLike,
    *,
    stem: str = ".xpnet-",
    suffix: str = ".npz.tmp",
    max_age: float | None = None,
) -> list[str]:
    """Remove ``stem*suffix`` temporary files in ``directory`` left by killed writers; returns their paths.

    A file is an orphan when its writer (the ``<pid>@<host>`` in its name) ran on this machine and is
    no longer alive, or when it was last modified more than ``max_age`` seconds ago (default
    :data:`STALE_TEMP_SECONDS`; this covers writers on other machines and recycled pids). A live
    writer's file on this machine is never touched while it is younger than that. Errors are ignored:
    cleaning is a courtesy, never a reason for a save or download to fail.
    """
    max_age = STALE_TEMP_SECONDS if max_age is None else max_age
    removed = []
    host, now = _host(), time.time()
    writer = re.compile(rf"^{re.escape(stem)}(\d+)@([^~/]*)~")
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(stem) and name.endswith(suffix)):
            continue
        m = writer.match(name)
        path = os.path.join(directory, name)
        try:
            age = now - os.lstat(path).st_mtime
            pid, writer_host = (int(m.group(1)), m.group(2)) if m else (None, None)
            dead = pid is not None and writer_host == host and pid != os.getpid() and not _pid_alive(pid)
            if dead or age > max_age:
                os.unlink(path)
                removed.append(path)
        except (OSError, ValueError):
            continue
    return removed


def _new_file_mode() -> int:
    """``0o666`` less the process umask (what ``open`` would give a new file)."""
    try:
        with open("/proc/self/status") as f:  # Linux: read without changing it
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: the usual set-and-restore
    os.umask(mask)
    return 0o666 & ~mask


# --- the atomic write ---------------------------------------------------------------------


def atomic_write(
    path: str | os.PathLike, write: Callable[[Any], None], *, suffix: str = ".tmp", make_dirs: bool = False
) -> None:
    """Call ``write(f)`` on a binary file that becomes ``path`` only once it is complete and on disk.

    The temporary file ``<temp_prefix()>...<suffix>`` lies beside the target (``make_dirs``: its
    directory is created first); orphans of killed writers with the same suffix are removed first. On
    any error the temporary file is removed and the error raised; the target is untouched.
    """
    target = os.path.realpath(os.fspath(path))  # write through symlinks to the file they point to
    directory = os.path.dirname(target)
    if make_dirs:
        os.makedirs(directory, exist_ok=True)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = _new_file_mode()
    clean_stale_temp_files(directory, suffix=suffix)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(), suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)  # mkstemp makes 0600 whatever the umask
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
