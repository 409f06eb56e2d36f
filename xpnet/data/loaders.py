"""The books' data sets, parsed and returned on the active backend: MNIST, Fashion-MNIST, CIFAR-10, spiral.

IDX and CIFAR-10 binary files are parsed here with their sizes checked first: no pickle. Files are
found (or downloaded) by :func:`~xpnet.data.datasets.locate`; arrays are NumPy until the last step,
which puts them on the active backend in the default dtype.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import asarray, get_default_dtype
from .datasets import DatasetError, locate

__all__ = [
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "load_cifar_10",
    "load_spiral",
    "parse_idx",
    "parse_cifar10_binary",
]


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


def _load_idx_set(
    name: str, normalize: bool, flatten: bool, one_hot_label: bool, data_home: Any, download: bool, progress: bool
):
    paths = locate(name, data_home, download, progress)
    arrays = {f: parse_idx(_read_bytes(p), str(p)) for f, p in paths.items()}
    out = []
    for prefix in ("train", "t10k"):
        x = arrays[f"{prefix}-images-idx3-ubyte.gz"]
        t = arrays[f"{prefix}-labels-idx1-ubyte.gz"]
        if x.shape[0] != t.shape[0]:
            raise DatasetError(f"{name}: {x.shape[0]} {prefix} images but {t.shape[0]} labels")
        out.append(_finish(x[:, None, :, :], t, normalize, flatten, one_hot_label))
    return tuple(out)


def _idx_loader(name: str, doc: str) -> Any:
    def load(
        normalize: bool = True,
        flatten: bool = True,
        one_hot_label: bool = False,
        *,
        data_home: str | os.PathLike | None = None,
        download: bool = True,
        progress: bool = True,
    ) -> tuple:
        return _load_idx_set(name, normalize, flatten, one_hot_label, data_home, download, progress)

    load.__doc__ = doc
    return load


load_mnist = _idx_loader(
    "mnist",
    """MNIST as ``((x_train, t_train), (x_test, t_test))`` on the active backend.

    ``x`` is ``(N, 784)`` (``flatten``) or ``(N, 1, 28, 28)``, float in [0, 1] (``normalize``,
    default dtype) or uint8; ``t`` is int64 labels ``(N,)`` or one-hot ``(N, 10)``.
    ``data_home`` (or ``$XPNET_DATA_DIR``) is searched first and must exist; ``download=False``
    never touches the network; ``progress=False`` downloads without printing anything.
    """,
)
load_mnist.__name__ = load_mnist.__qualname__ = "load_mnist"
load_fashion_mnist = _idx_loader(
    "fashion-mnist", """Fashion-MNIST (Zalando), same format and signature as :func:`load_mnist`."""
)
load_fashion_mnist.__name__ = load_fashion_mnist.__qualname__ = "load_fashion_mnist"


def load_cifar10(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    grayscale: bool = False,
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = True,
    progress: bool = True,
):
    """CIFAR-10 from its binary distribution, as ``((x_train, t_train), (x_test, t_test))``.

    ``x`` is ``(N, 3072)`` / ``(N, 3, 32, 32)``, or with ``grayscale=True`` (ITU-R 601 luma)
    ``(N, 1024)`` / ``(N, 1, 32, 32)``, as in the seed notebook.
    """
    paths = locate("cifar10", data_home, download, progress)
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
