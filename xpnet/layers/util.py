"""Book 1's ``common/util.py``: convolution helpers (output sizes, ``im2col`` and its adjoint ``col2im``),
``shuffle_dataset`` and ``smooth_curve``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..backend import array_device, asnumpy, float_dtype, get_namespace, host_rng

__all__ = [
    "conv_output_size",
    "im2col",
    "col2im",
    "pad_images",
    "IM2COL_LIMIT_BYTES",
    "smooth_curve",
    "shuffle_dataset",
]

# im2col copies every patch: (N*OH*OW, C*FH*FW) elements. Past this size it refuses and says
# how much it would need, rather than exhausting host or GPU memory.
IM2COL_LIMIT_BYTES = 4 << 30


def conv_output_size(input_size: int, filter_size: int, stride: int = 1, pad: int = 0) -> int:
    """Output length ``(input_size + 2*pad - filter_size) // stride + 1`` as an ``int``.

    Raises ``ValueError`` when the filter does not fit or the stride is not positive.
    """
    if stride < 1 or pad < 0:
        raise ValueError(f"stride must be >= 1 and pad >= 0, got stride={stride}, pad={pad}")
    span = input_size + 2 * pad - filter_size
    if span < 0:
        raise ValueError(f"a filter of size {filter_size} does not fit an input of size {input_size} with pad {pad}")
    return span // stride + 1


def pad_images(x: Any, pad: int, fill: float = 0.0) -> Any:
    """``(N, C, H, W)`` images with ``pad`` cells of ``fill`` on every side (the standard has no ``pad``)."""
    if pad == 0:
        return x
    xp = get_namespace(x)
    N, C, H, W = x.shape
    img = xp.full((N, C, H + 2 * pad, W + 2 * pad), fill, dtype=x.dtype, device=array_device(x))
    img[:, :, pad : pad + H, pad : pad + W] = x
    return img


def im2col(input_data: Any, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0, *, fill: float = 0.0) -> Any:
    """Unfold ``(N, C, H, W)`` images into rows of patches, shape ``(N*OH*OW, C*filter_h*filter_w)``.

    Row ``(n, i, j)`` holds the patch whose top-left corner is at ``(i*stride - pad, j*stride - pad)``;
    columns run over channel, then filter row, then filter column (the layout of ``W.reshape(FN, -1)``).
    Cells outside the image read ``fill``. Integer or boolean images (raw pixels) are converted to
    xpnet's default float dtype first, as the book's ``im2col`` returns floats for them.

    >>> import numpy as np
    >>> from xpnet.util import im2col
    >>> x = np.random.default_rng(0).random((10, 3, 7, 7))  # (N, C, H, W)
    >>> im2col(x, 5, 5, stride=1, pad=0).shape  # (N * OH * OW, C * FH * FW): book 1, 7.4.3
    (90, 75)
    """
    xp = get_namespace(input_data)
    if not xp.isdtype(input_data.dtype, "real floating"):
        if not xp.isdtype(input_data.dtype, ("integral", "bool")):
            raise TypeError(f"im2col needs real images, got dtype {input_data.dtype}")
        input_data = xp.astype(input_data, float_dtype(xp))
    N, C, H, W = input_data.shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    need = N * out_h * out_w * C * filter_h * filter_w * (xp.finfo(input_data.dtype).bits // 8)
    if need > IM2COL_LIMIT_BYTES:
        raise MemoryError(
            f"im2col of input {tuple(input_data.shape)} with {filter_h}x{filter_w} filters needs "
            f"{need / 2**20:,.0f} MiB (limit {IM2COL_LIMIT_BYTES / 2**20:,.0f} MiB, "
            "xpnet.util.IM2COL_LIMIT_BYTES); feed smaller batches"
        )
    img = pad_images(input_data, pad, fill)
    patches = [
        img[:, :, y : y + stride * (out_h - 1) + 1 : stride, x : x + stride * (out_w - 1) + 1 : stride]
        for y in range(filter_h)
        for x in range(filter_w)
    ]
    col = xp.stack(patches, axis=2)  # (N, C, FH*FW, OH, OW)
    col = xp.permute_dims(col, (0, 3, 4, 1, 2))
    return xp.reshape(col, (N * out_h * out_w, C * filter_h * filter_w))


def col2im(col: Any, input_shape: tuple[int, ...], filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> Any:
    """Adjoint of :func:`im2col`: add every patch row back onto an ``input_shape`` image.

    Overlapping patches add up, and cells that fell in the padding are dropped, so
    ``sum(im2col(x) * y) == sum(x * col2im(y))`` for every ``x`` and ``y``.
    """
    xp = get_namespace(col)
    N, C, H, W = input_shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    col = xp.reshape(col, (N, out_h, out_w, C, filter_h, filter_w))
    col = xp.permute_dims(col, (0, 3, 4, 5, 1, 2))  # (N, C, FH, FW, OH, OW)
    img = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype, device=array_device(col))
    for y in range(filter_h):
        for x in range(filter_w):
            img[:, :, y : y + stride * (out_h - 1) + 1 : stride, x : x + stride * (out_w - 1) + 1 : stride] += col[
                :, :, y, x, :, :
            ]
    return img[:, :, pad : pad + H, pad : pad + W]


def shuffle_dataset(x: Any, t: Any, *, rng: Any = None) -> tuple[Any, Any]:
    """``x`` and ``t`` with their first axis permuted by the same random permutation (book 1, chapter 6).

    The permutation is drawn on the host from ``rng`` (xpnet's generator by default, see
    :func:`xpnet.seed`) and applied with ``take`` on the arrays' own device.
    """
    xp = get_namespace(x, t)
    if x.shape[0] != t.shape[0]:
        raise ValueError(f"x and t must have the same length, got shapes {tuple(x.shape)} and {tuple(t.shape)}")
    perm = xp.asarray(host_rng(rng).permutation(x.shape[0]), device=array_device(x))
    return xp.take(x, perm, axis=0), xp.take(t, perm, axis=0)


def smooth_curve(x: Iterable[Any], window_len: int = 11) -> np.ndarray:
    """A smoothed copy of the values ``x`` (a loss curve) for plotting, as book 1 draws its figures.

    Each value becomes the Kaiser-weighted (beta 2) mean of the ``window_len`` values around it;
    at the start the curve is mirrored about its first value, at the end continued by its last
    values in reverse (the book's padding, so the numbers match). ``x`` may hold Python floats or
    0-d arrays of any backend; returns a float64 NumPy array of the same length.
    """
    v = np.asarray([float(asnumpy(a)) for a in x], dtype=np.float64)
    if window_len < 1 or window_len % 2 == 0:
        raise ValueError(f"window_len must be a positive odd number, got {window_len}")
    k = window_len - 1
    if v.size <= k:  # too short to mirror a whole window: nothing to smooth against
        return v.copy()
    padded = np.concatenate([v[k:0:-1], v, v[: -k - 1 : -1]])
    w = np.kaiser(window_len, 2)
    return np.convolve(padded, w / w.sum(), mode="valid")[k // 2 : k // 2 + v.size]
