"""MNIST, Fashion-MNIST, CIFAR-10 and book 2's spiral, returned on the active backend.

Files are looked for, in order, in ``data_home`` (or ``$XPNET_DATA_DIR``), the user cache
directory, and known system directories (Debian's ``dataset-fashion-mnist`` package);
otherwise they are downloaded with pooch (checksums verified, several mirrors, retries,
no partial file left behind). IDX and CIFAR-10 binary files are parsed here: no pickle.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .backend import asarray, get_default_dtype

__all__ = [
    "DatasetError",
    "DatasetNotFoundError",
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "load_cifar_10",
    "load_spiral",
    "parse_idx",
    "parse_cifar10_binary",
    "find_dataset",
    "DATASETS",
]


class DatasetError(RuntimeError):
    """A data file is corrupt, truncated or not what its checksum says."""


class DatasetNotFoundError(DatasetError):
    """No copy of a data set was found and none could be downloaded."""


@dataclass
class Dataset:
    """Where a data set's files come from: file name -> hash (``"sha256:..."`` or ``"md5:..."``)."""

    name: str
    files: dict[str, str]
    mirrors: list[str]
    system_dirs: list[str] = field(default_factory=list)


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
    ),
    "fashion-mnist": Dataset(
        "fashion-mnist",
        dict(
            zip(
                _IDX,
                [
                    "sha256:b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                    "sha256:0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                    "sha256:cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                    "sha256:8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                ],
            )
        ),
        ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        ["/usr/share/datasets/fashion-mnist"],
    ),
    # The publisher gives an MD5 for this archive.
    "cifar10": Dataset(
        "cifar10",
        {"cifar-10-binary.tar.gz": "md5:c32a1d4ab5d03f1284b67883e8d87530"},
        ["https://www.cs.toronto.edu/~kriz/"],
        ["/usr/share/datasets/cifar-10", "/usr/share/datasets/cifar10"],
    ),
}


def cache_dir() -> Path:
    """xpnet's user cache directory for downloaded data."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("xpnet"))


def _search_dirs(ds: Dataset, data_home: str | os.PathLike | None) -> list[Path]:
    dirs = []
    home = data_home if data_home is not None else os.environ.get("XPNET_DATA_DIR")
    if home:
        dirs += [Path(home) / ds.name, Path(home)]
    dirs.append(cache_dir() / ds.name)
    dirs += [Path(d) for d in ds.system_dirs]
    return dirs


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, known: str) -> None:
    algorithm, expected = known.split(":")
    actual = file_hash(path, algorithm)
    if actual != expected:
        raise DatasetError(
            f"{path} is corrupt or not the expected file: its {algorithm} is {actual}, expected {expected}; "
            "delete it to fetch a fresh copy"
        )


def find_dataset(name: str, data_home: str | os.PathLike | None = None) -> Path | None:
    """The first directory holding every file of data set ``name``, or ``None``."""
    ds = DATASETS[name]
    for d in _search_dirs(ds, data_home):
        if all((d / f).is_file() for f in ds.files):
            return d
    return None


RETRIES = 2  # further attempts per mirror after a failed download, with a growing pause


def _download(ds: Dataset, fname: str, dest: Path) -> Path:
    import pooch

    errors = []
    for base in ds.mirrors:
        for attempt in range(RETRIES + 1):
            try:
                # pooch downloads to a temporary file and moves it into place only once the
                # checksum matches, so an interrupted download never leaves a trusted file.
                path = pooch.retrieve(
                    base + fname,
                    known_hash=ds.files[fname],
                    fname=fname,
                    path=dest,
                    progressbar=_progressbar(),
                    downloader=pooch.HTTPDownloader(progressbar=_progressbar(), timeout=60),
                )
                return Path(path)
            except Exception as e:  # network errors, HTTP errors, checksum mismatch
                errors.append(f"{base}{fname} (attempt {attempt + 1}): {e}")
                if _permanent(e):
                    break  # a 404 or a wrong checksum will not change: next mirror
                time.sleep(0.5 * (attempt + 1))
    raise DatasetNotFoundError("could not download " + fname + ":\n  " + "\n  ".join(errors))


def _permanent(e: Exception) -> bool:
    status = getattr(getattr(e, "response", None), "status_code", None)
    return (status is not None and 400 <= status < 500) or "hash" in str(e).lower()


def _progressbar() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _locate(name: str, data_home: str | os.PathLike | None, download: bool) -> dict[str, Path]:
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
                paths[f] = _download(ds, f, cache)
        return paths
    if not download:
        raise _not_found(ds, data_home, None)
    try:
        return {f: _download(ds, f, cache) for f in ds.files}
    except DatasetNotFoundError as e:
        raise _not_found(ds, data_home, e) from None


def _not_found(ds: Dataset, data_home: Any, error: Exception | None) -> DatasetNotFoundError:
    places = "\n  ".join(str(d) for d in _search_dirs(ds, data_home))
    why = f"\nthe download failed: {error}" if error else ""
    return DatasetNotFoundError(
        f"no copy of {ds.name} found; looked in:\n  {places}{why}\n"
        f"put {', '.join(ds.files)} in one of those directories (or pass data_home=, or set XPNET_DATA_DIR)"
        + (", or on Debian: apt-get install dataset-fashion-mnist" if ds.name == "fashion-mnist" else "")
    )


# --- parsing ---------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as e:
        raise DatasetError(f"{path} could not be read ({e}); it may be truncated") from None


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """An IDX file (the MNIST format) as a NumPy array of unsigned bytes.

    Header: two zero bytes, a type code (``0x08`` = unsigned byte), the number of
    dimensions, then each dimension as a big-endian 32-bit integer.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{source} is not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise DatasetError(f"{source}: IDX type code 0x{data[2]:02x} is not supported (only unsigned bytes)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{source} is truncated: its header is incomplete")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise DatasetError(
            f"{source} is truncated or corrupt: header says {dims} = {expected} bytes, found {len(data) - header}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def parse_cifar10_binary(data: bytes, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 binary batch: records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B).

    Returns ``(images (N, 3, 32, 32) uint8, labels (N,) uint8)``.
    """
    record = 1 + 3 * 32 * 32
    if len(data) == 0 or len(data) % record:
        raise DatasetError(f"{source} is truncated or not a CIFAR-10 binary batch ({len(data)} bytes)")
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    labels = raw[:, 0].copy()
    if labels.max() > 9:
        raise DatasetError(f"{source} has labels above 9: not a CIFAR-10 batch")
    return raw[:, 1:].reshape(-1, 3, 32, 32), labels


def _finish(
    x: np.ndarray, t: np.ndarray, normalize: bool, flatten: bool, one_hot_label: bool, n_classes: int = 10
) -> tuple[Any, Any]:
    dtype = get_default_dtype()
    if normalize:
        x = x.astype(dtype) / np.asarray(255.0, dtype=dtype)
    elif not x.flags.writeable:  # parsed straight from the file's bytes
        x = x.copy()
    if flatten:
        x = x.reshape(x.shape[0], -1)
    t = t.astype(np.int64)
    if one_hot_label:
        t = np.eye(n_classes, dtype=dtype)[t]
    return asarray(x), asarray(t)


def _load_idx_set(name: str, normalize: bool, flatten: bool, one_hot_label: bool, data_home: Any, download: bool):
    paths = _locate(name, data_home, download)
    arrays = {f: parse_idx(_read_bytes(p), str(p)) for f, p in paths.items()}
    out = []
    for prefix in ("train", "t10k"):
        x = arrays[f"{prefix}-images-idx3-ubyte.gz"]
        t = arrays[f"{prefix}-labels-idx1-ubyte.gz"]
        if x.shape[0] != t.shape[0]:
            raise DatasetError(f"{name}: {x.shape[0]} {prefix} images but {t.shape[0]} labels")
        out.append(_finish(x[:, None, :, :], t, normalize, flatten, one_hot_label))
    return tuple(out)


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = True,
):
    """MNIST as ``((x_train, t_train), (x_test, t_test))`` on the active backend.

    ``x`` is ``(N, 784)`` (``flatten``) or ``(N, 1, 28, 28)``, float in [0, 1] (``normalize``,
    default dtype) or uint8; ``t`` is int64 labels ``(N,)`` or one-hot ``(N, 10)``.
    """
    return _load_idx_set("mnist", normalize, flatten, one_hot_label, data_home, download)


def load_fashion_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = True,
):
    """Fashion-MNIST (Zalando), same format and signature as :func:`load_mnist`."""
    return _load_idx_set("fashion-mnist", normalize, flatten, one_hot_label, data_home, download)


def load_cifar10(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    grayscale: bool = False,
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = True,
):
    """CIFAR-10 from its binary distribution, as ``((x_train, t_train), (x_test, t_test))``.

    ``x`` is ``(N, 3072)`` / ``(N, 3, 32, 32)``, or with ``grayscale=True`` (ITU-R 601 luma)
    ``(N, 1024)`` / ``(N, 1, 32, 32)``, as in the seed notebook.
    """
    paths = _locate("cifar10", data_home, download)
    archive = paths["cifar-10-binary.tar.gz"]
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():  # read in place: nothing is extracted to disk
                base = member.name.rsplit("/", 1)[-1]
                if base in names and member.isfile():
                    parts[base] = parse_cifar10_binary(tar.extractfile(member).read(), f"{archive}:{member.name}")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DatasetError(f"{archive} could not be read ({e}); it may be truncated") from None
    missing = [n for n in names if n not in parts]
    if missing:
        raise DatasetError(f"{archive} lacks {', '.join(missing)}")
    x_train = np.concatenate([parts[n][0] for n in names[:5]])
    t_train = np.concatenate([parts[n][1] for n in names[:5]])
    x_test, t_test = parts["test_batch.bin"]
    out = []
    for x, t in ((x_train, t_train), (x_test, t_test)):
        if grayscale:
            luma = np.array([0.299, 0.587, 0.114])[None, :, None, None]
            x = np.rint((x * luma).sum(axis=1, keepdims=True)).astype(np.uint8)
        out.append(_finish(x, t, normalize, flatten, one_hot_label))
    return tuple(out)


load_cifar_10 = load_cifar10


def load_spiral(seed: int = 1984) -> tuple[Any, Any]:
    """Book 2's spiral: 3 classes x 100 points in 2-D, ``(x (300, 2), t one-hot (300, 3) int64)``.

    The same points as the book's ``dataset/spiral.py`` (same seed, same draws), without
    its ``np.int`` and without touching NumPy's global random state.
    """
    rs = np.random.RandomState(seed)  # the legacy stream the book draws from
    n, dim, cls_num = 100, 2, 3
    x = np.zeros((n * cls_num, dim))
    t = np.zeros((n * cls_num, cls_num), dtype=np.int64)
    for j in range(cls_num):
        for i in range(n):
            rate = i / n
            radius = 1.0 * rate
            theta = j * 4.0 + 4.0 * rate + rs.randn() * 0.2
            ix = n * j + i
            x[ix] = (radius * np.sin(theta), radius * np.cos(theta))
            t[ix, j] = 1
    xa = asarray(x, dtype=get_default_dtype())
    return xa, asarray(t)
