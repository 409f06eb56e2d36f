"""MNIST, Fashion-MNIST, CIFAR-10 and book 2's spiral, returned on the active backend.

Files are looked for, in order, in ``data_home`` (or ``$XPNET_DATA_DIR``), the user cache
directory, and known system directories (Debian's ``dataset-fashion-mnist`` package);
otherwise they are downloaded (https mirrors first, checksums verified, retries, each file capped
at its known size, connect/read timeouts and an overall deadline, no partial file left behind,
temporary files of killed downloads cleaned: :func:`xpnet.data.io.atomic_write`). The loaders
and parsers are in :mod:`xpnet.data.loaders` and are this module's names too.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io import atomic_write, cache_dir, clean_stale_temp_files, file_hash

__all__ = [
    "DatasetError",
    "DatasetNotFoundError",
    "find_dataset",
    "DATASETS",
]


class DatasetError(RuntimeError):
    """A data file is corrupt, truncated or not what its checksum says."""


class DatasetNotFoundError(DatasetError):
    """No copy of a data set was found and none could be downloaded."""


@dataclass
class Dataset:
    """Where a data set's files come from.

    ``files``: file name -> hash (``"sha256:..."`` or ``"md5:..."``), or a tuple of hashes any of which
    is accepted (the same data packed twice, e.g. by the publisher and by a distribution).
    ``sizes``: file name -> its size in bytes where known; a download is cut off past that size plus
    ``SIZE_MARGIN`` (files of unknown size: at ``MAX_DOWNLOAD_BYTES``).
    """

    name: str
    files: dict[str, str | tuple[str, ...]]
    mirrors: list[str]
    system_dirs: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)

    def max_bytes(self, fname: str) -> int:
        size = self.sizes.get(fname)
        return MAX_DOWNLOAD_BYTES if size is None else size + int(size * SIZE_MARGIN) + (64 << 10)


_IDX = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

DATASETS: dict[str, Dataset] = {
    "mnist": Dataset(
        "mnist",
        dict(
            zip(
                _IDX,
                [
                    "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                    "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                    "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                ],
            )
        ),
        # yann.lecun.com answers 403 nowadays; these mirrors serve the same files.
        [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ],
        ["/usr/share/datasets/mnist"],
        dict(zip(_IDX, [9912422, 28881, 1648877, 4542])),
    ),
    # Debian's dataset-fashion-mnist repacks the publisher's files (same data, other gzip headers):
    # the SHA-256 is of Debian's copy, the MD5 the publisher's (as published with the data set).
    "fashion-mnist": Dataset(
        "fashion-mnist",
        {
            "train-images-idx3-ubyte.gz": (
                "sha256:b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            ),
            "train-labels-idx1-ubyte.gz": (
                "sha256:0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                "md5:25c81989df183df01b3e8a0aad5dffbe",
            ),
            "t10k-images-idx3-ubyte.gz": (
                "sha256:cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                "md5:bef4ecab320f06d8554ea6380940ec79",
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "sha256:8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                "md5:bb300cfdad3c16e7a12a480ee83cd310",
            ),
        },
        [
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # no https there; checksums still hold
        ],
        ["/usr/share/datasets/fashion-mnist"],
        dict(zip(_IDX, [26421880, 29515, 4422102, 5148])),
    ),
    # The publisher gives an MD5 for this archive.
    "cifar10": Dataset(
        "cifar10",
        {"cifar-10-binary.tar.gz": "md5:c32a1d4ab5d03f1284b67883e8d87530"},
        ["https://www.cs.toronto.edu/~kriz/"],
        ["/usr/share/datasets/cifar-10", "/usr/share/datasets/cifar10"],
        {"cifar-10-binary.tar.gz": 170052171},
    ),
}


def _data_home(ds: Dataset, data_home: str | os.PathLike | None) -> Path | None:
    """The directory the user named (``data_home=``, else ``$XPNET_DATA_DIR``); it must exist."""
    if data_home is not None:
        home, source = data_home, "data_home="
    else:
        home, source = os.environ.get("XPNET_DATA_DIR") or None, "$XPNET_DATA_DIR"
    if home is None:
        return None
    if not Path(home).is_dir():
        raise DatasetError(
            f"data directory {home} does not exist (given as {source}): no copy of {ds.name} was looked for elsewhere"
        )
    return Path(home)


def _search_dirs(ds: Dataset, data_home: str | os.PathLike | None) -> list[Path]:
    dirs = []
    home = _data_home(ds, data_home)
    if home is not None:
        dirs += [home / ds.name, home]
    dirs.append(cache_dir() / ds.name)
    dirs += [Path(d) for d in ds.system_dirs]
    return dirs


def _hashes(known: str | tuple[str, ...]) -> tuple[str, ...]:
    return (known,) if isinstance(known, str) else tuple(known)


def _verify(path: Path, known: str | tuple[str, ...]) -> None:
    actual = {}
    for entry in _hashes(known):
        algorithm, expected = entry.split(":")
        if algorithm not in actual:
            actual[algorithm] = file_hash(path, algorithm)
        if actual[algorithm] == expected:
            return
    got = ", ".join(f"its {a} is {h}" for a, h in actual.items())
    raise DatasetError(
        f"{path} is corrupt or not the expected file: {got}, expected {' or '.join(_hashes(known))}; "
        "delete it to fetch a fresh copy"
    )


def find_dataset(name: str, data_home: str | os.PathLike | None = None) -> Path | None:
    """The first directory holding every file of data set ``name``, or ``None``.

    Raises :class:`DatasetError` when ``data_home`` (or ``$XPNET_DATA_DIR``) names a directory that
    does not exist, rather than silently using another copy.
    """
    ds = DATASETS[name]
    for d in _search_dirs(ds, data_home):
        if all((d / f).is_file() for f in ds.files):
            return d
    return None


# --- downloading ----------------------------------------------------------------------------

RETRIES = 2  # further attempts per mirror after a failed download, with a growing pause
CONNECT_TIMEOUT = 15.0  # seconds to connect and receive the response headers
READ_TIMEOUT = 30.0  # seconds without a single byte before a download is abandoned
DOWNLOAD_DEADLINE = 1800.0  # seconds for one file, however steadily it trickles in
SIZE_MARGIN = 0.01  # a file may exceed its known size by this fraction (plus 64 KiB) before it is cut off
MAX_DOWNLOAD_BYTES = 512 << 20  # the cap for files of unknown size
_PART = ".part"


class DownloadError(DatasetError):
    """One download attempt failed; ``permanent`` when retrying the same mirror cannot help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _set_read_timeout(response: Any, seconds: float) -> None:
    """Switch the response's socket from the connect timeout to the read timeout (when reachable)."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(seconds)


def _fetch(url: str, dest: Path, fname: str, known: str | tuple[str, ...], max_bytes: int, progress: bool) -> Path:
    """Download ``url`` into ``dest/fname`` through a temporary file, verified against ``known``."""
    dest.mkdir(parents=True, exist_ok=True)
    clean_stale_temp_files(dest, stem="tmp", suffix="")  # pooch's, from xpnet versions that used it (age rule)
    hashers = {e.split(":")[0]: hashlib.new(e.split(":")[0]) for e in _hashes(known)}
    start = time.monotonic()
    bar = None

    def write(f: Any) -> None:
        nonlocal bar
        request = urllib.request.Request(url, headers={"User-Agent": "xpnet", "Accept-Encoding": "identity"})
        with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT) as response:
            _set_read_timeout(response, READ_TIMEOUT)
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(f"the server announces {int(declared):,} bytes, over the {max_bytes:,} cap", True)
            if progress:
                bar = _progressbar(fname, int(declared) if declared and declared.isdigit() else None)
            total = 0
            while True:
                if time.monotonic() - start > DOWNLOAD_DEADLINE:
                    raise DownloadError(f"not finished after {DOWNLOAD_DEADLINE:g} s (the overall deadline)", True)
                try:
                    chunk = response.read1(1 << 16)
                except TimeoutError:
                    raise DownloadError(f"no data for {READ_TIMEOUT:g} s (read timeout)") from None
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise DownloadError(f"the server sent more than the {max_bytes:,} bytes this file can have", True)
                for h in hashers.values():
                    h.update(chunk)
                f.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        if not any(hashers[e.split(":")[0]].hexdigest() == e.split(":")[1] for e in _hashes(known)):
            got = ", ".join(f"{a} {h.hexdigest()}" for a, h in hashers.items())
            raise DownloadError(f"hash mismatch: got {got}, expected {' or '.join(_hashes(known))}", True)

    try:
        atomic_write(dest / fname, write, suffix=_PART)  # a killed download's .part is removed by the next
    finally:
        if bar is not None:
            bar.close()
    return dest / fname


def _download(ds: Dataset, fname: str, dest: Path, progress: bool = True) -> Path:
    errors = []
    # https first: a tampered http answer fails its checksum, but need not be risked at all
    for base in sorted(ds.mirrors, key=lambda m: not m.startswith("https://")):
        url = base + fname
        for attempt in range(RETRIES + 1):
            try:
                return _fetch(url, dest, fname, ds.files[fname], ds.max_bytes(fname), progress)
            except (OSError, DownloadError, ValueError) as e:  # network and HTTP errors, caps, checksums
                reason = _reason(e)
                if attempt == RETRIES or _permanent(e):
                    errors.append(f"{url}: {reason}" + (f" ({attempt + 1} attempts)" if attempt else ""))
                    break  # a 404, a cap or a wrong checksum will not change: next mirror
                time.sleep(0.5 * (attempt + 1))
    raise DownloadFailedError(fname, errors or ["no mirror is known"])


class DownloadFailedError(DatasetNotFoundError):
    """Every mirror failed for one file; ``errors`` holds one line per mirror."""

    def __init__(self, fname: str, errors: list[str]) -> None:
        super().__init__(f"could not download {fname}: " + "; ".join(errors))
        self.errors = errors


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        e = e.reason if isinstance(e.reason, BaseException) else e
        return str(getattr(e, "strerror", None) or e)[:100]
    if isinstance(e, (TimeoutError, socket.timeout)):
        return f"timed out after {CONNECT_TIMEOUT:g} s"
    return str(e)[:160]


def _permanent(e: BaseException) -> bool:
    if isinstance(e, DownloadError):
        return e.permanent
    return isinstance(e, urllib.error.HTTPError) and 400 <= e.code < 500


def _progressbar(fname: str, total: int | None) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=fname, unit="B", unit_scale=True, file=sys.stderr, leave=False)


def locate(name: str, data_home: str | os.PathLike | None, download: bool, progress: bool = True) -> dict[str, Path]:
    """Paths of every file of data set ``name``, verified, downloading what is missing."""
    ds = DATASETS[name]
    cache = cache_dir() / ds.name
    found = find_dataset(name, data_home)
    if found is not None:
        paths = {f: found / f for f in ds.files}
        for f, p in paths.items():
            try:
                _verify(p, ds.files[f])
            except DatasetError:
                if found != cache or not download:
                    raise
                p.unlink()  # a corrupt cached copy: fetch it again
                paths[f] = _download(ds, f, cache, progress)
        return paths
    if not download:
        raise _not_found(ds, data_home, None)
    try:
        return {f: _download(ds, f, cache, progress) for f in ds.files}
    except DatasetNotFoundError as e:
        raise _not_found(ds, data_home, e) from None


def _not_found(ds: Dataset, data_home: Any, error: Exception | None) -> DatasetNotFoundError:
    """One short line, then where xpnet looked and what it tried, indented."""
    places = "".join(f"\n    {d}" for d in _search_dirs(ds, data_home))
    first = "download=False" if error is None else "the download failed"
    lines = [f"no copy of {ds.name} found ({first})", f"  looked in:{places}"]
    for failure in getattr(error, "errors", [str(error)] if error else []):
        lines.append(f"  tried {failure}")
    hint = "or on Debian: apt-get install dataset-fashion-mnist" if ds.name == "fashion-mnist" else ""
    lines.append(
        f"  put its {len(ds.files)} file(s) ({', '.join(ds.files)}) in one of those directories, "
        f"pass data_home=, or set XPNET_DATA_DIR{'; ' + hint if hint else ''}"
    )
    return DatasetNotFoundError("\n".join(lines))


# the loaders (book 1's dataset/mnist.py) live in .loaders and are this module's names too
from .loaders import *  # noqa: E402, F403
from .loaders import __all__ as _LOADERS  # noqa: E402

__all__ += _LOADERS
