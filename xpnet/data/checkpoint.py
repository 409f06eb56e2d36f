"""``.npz`` checkpoints that neither lose a good file nor trust a bad one.

:func:`save_arrays` writes ``{name: array}`` (any backend) to an ``.npz`` file atomically: beside the
target, then renamed into place, keeping the target's permissions (or the umask's for a new file) and
writing through a symlink to the file it points to. Temporary files orphaned by a killed writer are
removed by the next save to that directory (see :func:`clean_stale_temp_files`). The writing is
:func:`xpnet.data.io.atomic_write`'s, as for every file xpnet writes.

:func:`load_arrays` reads a checkpoint without trusting it: the zip's member list and each ``.npy``
header (shape and dtype) are checked against what the caller expects *before* any data is read, so
an unexpected or oversized member costs nothing; only arrays of the kind asked for are accepted (real
floating point for parameters); byte order is made native on the host; values are converted to the
caller's dtype, refusing any that overflow it, and NaN or infinite values are refused unless asked
for. :func:`load_state` does the same for a dict of template arrays and returns arrays on
each template's backend and device, so a model can assign everything at once or nothing at all.

No pickle is read or written. Every error is a :class:`CheckpointError` (a ``ValueError``) naming
the file, except operating-system errors, which stay ``OSError`` and name the file too.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..backend import array_device, asnumpy, dtype_name, get_namespace
from .io import STALE_TEMP_SECONDS, atomic_write, clean_stale_temp_files, temp_prefix

__all__ = [
    "CheckpointError",
    "save_arrays",
    "load_arrays",
    "load_state",
    "clean_stale_temp_files",
    "temp_prefix",
    "STALE_TEMP_SECONDS",
]

_TEMP_SUFFIX = ".npz.tmp"
# Temporary names are <stem><pid>@<host>~<random><suffix>; older versions wrote .xpnet-<random>.npz.tmp,
# which only the age rule removes.
_HEADER_SLACK = 1 << 16  # an .npy header is at most a few kB; members declaring more than data + this are refused


class CheckpointError(ValueError):
    """A checkpoint file is missing parts, corrupt, hostile or does not fit; ``path`` names the file."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


# --- saving -------------------------------------------------------------------------------


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, Any], *, allow_nonfinite: bool = False) -> None:
    """Write ``{name: array}`` (arrays of any backend, copied to the host) to the ``.npz`` file ``path``.

    Refuses (``CheckpointError``) an array with NaN or infinite values unless ``allow_nonfinite``,
    naming it, and arrays that are neither numbers nor fixed-width text (text: a vocabulary). The
    file is written beside its destination, flushed to disk and renamed into place, so a crash
    never leaves a broken file where a good one was. An existing target keeps its permission bits;
    a new one gets the umask's; a symlink is written through to the file it points to.
    Operating-system errors are re-raised as ``OSError`` naming ``path``.
    """
    path = os.fspath(path)
    host = {}
    for name, a in arrays.items():
        h = asnumpy(a)
        if h.dtype.kind not in "fiubU" or h.dtype.hasobject:
            raise CheckpointError(path, f"array {name!r} has dtype {h.dtype}, which a checkpoint cannot hold")
        if h.dtype.kind == "f" and not allow_nonfinite:
            _refuse_nonfinite(h, name, path, "save")
        host[name] = h
    try:
        atomic_write(path, lambda f: np.savez(f, **host), suffix=_TEMP_SUFFIX)
    except OSError as e:
        raise _os_error(e, path) from e


def _os_error(e: OSError, path: str) -> OSError:
    """``e`` re-made to name the checkpoint instead of a temporary file (same errno, same subclass)."""
    what = e.strerror or str(e)
    message = f"could not write checkpoint {path}: {what}"
    return OSError(e.errno, message, path) if e.errno else OSError(message)


# --- loading ------------------------------------------------------------------------------


def _read_header(fp: Any, path: str, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            return fmt.read_array_header_1_0(fp)
        if version == (2, 0):
            return fmt.read_array_header_2_0(fp)
        if version == (3, 0) and hasattr(fmt, "_read_array_header"):  # utf-8 field names; same layout as 2.0
            return fmt._read_array_header(fp, version)
        raise CheckpointError(path, f"member {name!r}: .npy format version {version} is not supported")
    except CheckpointError:
        raise
    except Exception as e:  # ValueError from numpy on a bad header, EOFError, zlib errors...
        raise CheckpointError(path, f"member {name!r} has no valid .npy header ({e}); the file is corrupt") from None


def _describe_bad_file(path: str) -> str:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return "it could not be read"
    if size == 0:
        return "it is empty (0 bytes)"
    if head == b"\x93NUMPY":
        return "it is a single .npy array, not an .npz archive of named arrays"
    if head[:2] == b"PK":
        return f"it is truncated or corrupt ({size} bytes, an incomplete zip archive)"
    return f"it is not an .npz archive ({size} bytes)"


def load_arrays(
    path: str | os.PathLike,
    expected: Mapping[str, tuple[tuple[int, ...] | None, Any]],
    *,
    optional: Iterable[str] = (),
    max_bytes: int = 1 << 30,
    allow_nonfinite: bool = False,
) -> dict[str, np.ndarray]:
    """Read the arrays of the ``.npz`` file ``path`` that ``expected`` names, checked before reading.

    ``expected`` maps each name to ``(shape, dtype)``: the shape the array must have (``None``: any,
    within ``max_bytes``) and the NumPy dtype (or its name, e.g. ``"float32"``) it is converted to
    (``None``: the stored floating dtype; ``"U"``: text, as stored; an integer dtype: integers that
    fit it). Names in ``optional`` may be absent; every other name must be present, and a member the
    caller did not name is refused unread. The size each ``.npy`` header declares is checked against
    the bound and against the zip's own record of the member before a byte of data is read.
    Returns host ``numpy`` arrays in native byte order and the requested dtype. Raises
    :class:`CheckpointError` naming the file for: an empty, truncated, non-zip or plain ``.npy`` file;
    missing, repeated or unexpected members; a dtype of another kind than requested (for numbers:
    complex, bool, datetime, structured, object, or integers where floats are asked); a shape that
    does not match; a declared size beyond the bound or the member; a value that overflows the
    requested dtype; NaN or infinite values unless ``allow_nonfinite``. No pickle is ever loaded.
    """
    path = os.fspath(path)
    optional = set(optional)
    with open(path, "rb") as fh:  # OSError (missing file, a directory, ...) names the path already
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError):
            raise CheckpointError(path, f"not a checkpoint: {_describe_bad_file(path)}") from None
        with zf:
            members: dict[str, zipfile.ZipInfo] = {}
            unexpected = []
            for info in zf.infolist():
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if key in members:
                    raise CheckpointError(path, f"member {key!r} appears twice")
                if key in expected:
                    members[key] = info
                else:
                    unexpected.append(key)
            if unexpected:
                raise CheckpointError(
                    path,
                    f"holds {', '.join(map(repr, unexpected))}, which this model does not have "
                    f"(it has: {', '.join(expected)}); is it another model's checkpoint?",
                )
            missing = [k for k in expected if k not in members and k not in optional]
            if missing:
                raise CheckpointError(
                    path,
                    f"has no parameter {', '.join(map(repr, missing))} (it has: {', '.join(members) or 'nothing'})",
                )
            out = {}
            for key, info in members.items():
                shape, dtype = expected[key]
                out[key] = _read_member(zf, info, key, shape, dtype, path, max_bytes, allow_nonfinite)
    return out


def _read_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    key: str,
    shape: Any,
    target: Any,
    path: str,
    max_bytes: int,
    allow_nonfinite: bool,
) -> np.ndarray:
    # before opening: the declared size must fit the expected shape (at most 16 bytes an element: longdouble)
    limit = max_bytes if shape is None else math.prod(shape) * 16
    if info.file_size > limit + _HEADER_SLACK:
        raise CheckpointError(path, f"member {key!r} declares {info.file_size:,} bytes, more than it can hold")
    try:
        fp = zf.open(info)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as e:
        raise CheckpointError(path, f"member {key!r} cannot be opened ({e})") from None
    with fp:
        file_shape, fortran, dtype = _read_header(fp, path, key)
        kinds = {"f": "f", "U": "U", "i": "iu", "u": "iu"}
        want = "f" if target is None else np.dtype(target).kind
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in kinds[want]:
            what = {"f": "real floating-point", "U": "text", "i": "integer", "u": "integer"}[want]
            raise CheckpointError(path, f"array {key!r} has dtype {dtype}; only {what} arrays load here")
        file_shape = tuple(file_shape)
        if shape is not None and file_shape != tuple(shape):
            raise CheckpointError(
                path, f"parameter {key!r}: the file holds shape {file_shape}, the model expects {tuple(shape)}"
            )
        nbytes = math.prod(file_shape) * dtype.itemsize
        if nbytes > limit:
            raise CheckpointError(
                path, f"array {key!r} of shape {file_shape} declares {nbytes:,} bytes, more than the bound {limit:,}"
            )
        if nbytes > info.file_size:  # the header promises more data than the archive says the member holds
            raise CheckpointError(
                path, f"array {key!r} of shape {file_shape} declares {nbytes:,} bytes in a member of "
                f"{info.file_size:,}: the file is corrupt or hostile",
            )  # fmt: skip
        try:
            data = fp.read(nbytes)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise CheckpointError(path, f"parameter {key!r} cannot be read ({e}); the file is corrupt") from None
    if len(data) != nbytes:
        raise CheckpointError(path, f"parameter {key!r} is truncated: {len(data):,} of {nbytes:,} bytes")
    a = np.frombuffer(data, dtype=dtype).reshape(file_shape, order="F" if fortran else "C")
    a = a.astype(dtype.newbyteorder("="))  # native byte order on the host: every backend takes it
    if want == "U":
        return a
    if want in "iu":
        return _convert_ints(a, np.dtype(target), key, path)
    b = _convert(a, dtype if target is None else np.dtype(target), key, path)
    if not allow_nonfinite:
        _refuse_nonfinite(b, key, path, "load")
    return b


def _refuse_nonfinite(a: np.ndarray, name: str, path: str, verb: str) -> None:
    """``save_arrays`` and ``load_arrays`` alike: a ``CheckpointError`` when ``a`` holds NaN or inf."""
    bad = int(np.count_nonzero(~np.isfinite(a)))
    if bad:
        raise CheckpointError(
            path,
            f"not {verb}ed: parameter {name!r} has {bad} non-finite value(s) (NaN or inf) out of {a.size}; "
            f"training diverged? pass allow_nonfinite=True to {verb} it anyway",
        )


def _convert_ints(a: np.ndarray, target: np.dtype, key: str, path: str) -> np.ndarray:
    info = np.iinfo(target)
    if a.size and (int(a.min()) < info.min or int(a.max()) > info.max):
        raise CheckpointError(path, f"array {key!r} holds integers beyond {target}'s range")
    return np.ascontiguousarray(a.astype(target))


def _convert(a: np.ndarray, target: np.dtype, key: str, path: str) -> np.ndarray:
    if target.kind != "f":
        raise CheckpointError(path, f"parameter {key!r}: a checkpoint loads into floating dtypes, not {target}")
    with np.errstate(over="ignore", invalid="ignore"):
        b = np.ascontiguousarray(a.astype(target))
    overflow = np.isfinite(a) & ~np.isfinite(b)
    if overflow.any():
        worst = float(np.max(np.abs(a[overflow])))
        raise CheckpointError(
            path,
            f"parameter {key!r} holds {worst:.3g}, beyond the largest {target} ({float(np.finfo(target).max):.3g})",
        )
    return b


def load_state(
    path: str | os.PathLike,
    templates: Mapping[str, Any],
    *,
    optional: Iterable[str] = (),
    allow_nonfinite: bool = False,
) -> dict[str, Any]:
    """The arrays of checkpoint ``path`` as arrays like ``templates`` (same shape, dtype, backend, device).

    Everything is read, checked, converted and moved before this returns, so a caller that assigns
    the result only afterwards either changes every array or none. Names in ``optional`` may be
    missing from the file (they are then missing from the result). A NaN or infinite value is
    refused unless ``allow_nonfinite``. Errors as in :func:`load_arrays`.
    """
    path = os.fspath(path)
    expected = {k: (tuple(t.shape), np.dtype(dtype_name(t))) for k, t in templates.items()}
    host = load_arrays(path, expected, optional=optional, allow_nonfinite=allow_nonfinite)
    out = {}
    for k, a in host.items():
        t = templates[k]
        out[k] = get_namespace(t).asarray(a, dtype=t.dtype, device=array_device(t))
    return out
