"""NumPy for the learner's own code, on the selected backend: ``from xpnet import np``.

The seed notebooks write their own networks and loops with ``np.random.randn``, ``np.dot``,
``np.sum(x, axis=1)``, ``np.random.choice``. With ``from xpnet import np`` (or
``import xpnet.np as np``) in place of ``import numpy as np`` that code runs on the backend chosen
with :func:`xpnet.set_backend`. Every attribute is looked up when it is used, so a
``set_backend`` after the import takes effect:

* ``"numpy"``: NumPy itself, attribute for attribute (``np.random`` is ``numpy.random``,
  ``np.nditer`` is ``numpy.nditer``).
* ``"cupy"``: CuPy, a full NumPy work-alike with its own ``cupy.random`` (so the same seed gives
  other numbers than NumPy's). Arrays are created on the current CUDA device.
* ``"torch"`` and ``"array_api_strict"``: the Array API standard namespace
  (``array_api_compat.torch`` or ``array_api_strict``) plus what NumPy code commonly needs and
  the standard lacks:

  - ``random.seed``, ``rand``, ``randn``, ``random``, ``choice``, ``permutation``, ``randint``,
    ``normal``, ``uniform``: drawn on the host by NumPy's global generator (``numpy.random``,
    the one ``np.random.seed`` seeds on the numpy backend, so one seed gives the same numbers on
    numpy, torch and array_api_strict), then moved to the active device. ``np.random.choice``
    therefore returns an index array on the device, where ``x_train[batch_mask]`` can use it.
  - ``dot`` (NumPy's rules), ``array``, ``copy``, ``transpose``;
  - ``asarray``, ``zeros``, ``ones``, ``empty``, ``full``, ``arange``, ``linspace``, ``eye``
    that create on the active device and default to NumPy's dtypes (float64 for floating
    values: the standard leaves the default to the library, and PyTorch's is float32);
  - ``sum`` and ``mean`` of a boolean array count its ``True`` entries, as NumPy's do (``sum``
    as a float64 count: the standard refuses ``/`` on integer arrays, and the seeds' accuracy is
    ``np.sum(y == t) / float(x.shape[0])``).

  Anything else of NumPy's that the standard lacks (``np.nditer``, ``np.add.at``) raises an
  ``AttributeError`` that says so; NumPy's array *methods* (``x.copy()``, ``x.reshape(n, -1)``,
  ``x.argmax(axis=1)``) are the arrays' own business and array_api_strict has none of them.

Mixing backends still fails where the learner mixes on purpose (a NumPy array met by a device
array), with xpnet's :class:`~xpnet.BackendMismatchError`; ``np.asarray(host_data)`` is the
explicit way over. One more limit of the standard: array_api_strict accepts an integer-array
index only when every axis is indexed by an integer or an integer array, so it refuses
``x_train[batch_mask]`` for a 2-D ``x_train``; ``np.take(x_train, batch_mask, axis=0)`` works on
every backend.
"""

import numpy as _numpy

from . import backend as _backend

# Python's own types as dtypes (np.zeros(3, dtype=int)), as NumPy reads them.
_PY_DTYPES = {float: "float64", int: "int64", bool: "bool", complex: "complex128"}


def _target():
    return _backend.active_namespace(), _backend.active_device()


def _words(text):
    return frozenset(text.split())


# The standard's names (2025.12). array_api_compat.torch hands out the rest of torch too, some under NumPy's names
# with other meanings (torch.median is the lower middle, torch.logspace takes other arguments): only these pass.
_STANDARD = _words(
    """abs acos acosh add all any arange argmax argmin argsort asarray asin asinh astype atan atan2 atanh bitwise_and
    bitwise_invert bitwise_left_shift bitwise_or bitwise_right_shift bitwise_xor bool broadcast_arrays
    broadcast_shapes broadcast_to can_cast ceil clip complex128 complex64 concat conj copysign cos cosh
    count_nonzero cumulative_prod cumulative_sum diff divide e empty empty_like equal exp expand_dims expm1 eye fft
    finfo flip float32 float64 floor floor_divide from_dlpack full full_like greater greater_equal hypot iinfo imag
    inf int16 int32 int64 int8 isdtype isfinite isin isinf isnan less less_equal linalg linspace log log10 log1p
    log2 logaddexp logical_and logical_not logical_or logical_xor matmul matrix_transpose max maximum mean meshgrid
    min minimum moveaxis multiply nan negative newaxis nextafter nonzero not_equal ones ones_like permute_dims pi
    positive pow prod real reciprocal remainder repeat reshape result_type roll round searchsorted sign signbit sin
    sinh sort sqrt square squeeze stack std subtract sum take take_along_axis tan tanh tensordot tile tril triu
    trunc uint16 uint32 uint64 uint8 unique_all unique_counts unique_inverse unique_values unstack var vecdot where
    zeros zeros_like"""
)
# Elementwise functions that take Python numbers and lists as NumPy does (np.sqrt(D) in every book-2 model);
# those defined for floating inputs only get NumPy's float64 for Python ints.
_FLOATING = _words("acos acosh asin asinh atan atan2 atanh cos cosh divide exp expm1 hypot log log10 log1p log2")
_FLOATING |= _words("logaddexp sin sinh sqrt tan tanh")
_ELEMENTWISE = _FLOATING | _words(
    """abs add ceil clip equal floor greater greater_equal isfinite isinf isnan less less_equal maximum minimum
    multiply negative not_equal pow positive remainder round sign square subtract trunc"""
)


def _dt(xp, dtype):
    """``dtype`` as ``xp``'s own: anything NumPy reads as a dtype ('f', 'i', 'float32', np.float32, int, float)
    by its name, the library's own dtypes as they are."""
    if dtype is None:
        return None
    try:
        name = _numpy.dtype(_PY_DTYPES.get(dtype, dtype)).name
    except TypeError:
        return dtype
    try:
        return getattr(xp, name)
    except AttributeError:
        raise TypeError(f"dtype {dtype!r} ({name}) has no counterpart in {xp.__name__}") from None


def _numbers(name, function):
    """``function`` taking Python numbers and lists for arrays, with NumPy's dtypes; arrays pass untouched."""

    def call(*args, **kwargs):
        if not any(_backend.is_array(a) for a in args):
            xp, dev = _target()
            host = [_numpy.asarray(a) for a in args]
            if name in _FLOATING:
                host = [h.astype(_numpy.float64) if h.dtype.kind in "biu" else h for h in host]
            args = [xp.asarray(h, device=dev) for h in host]
        elif any(isinstance(a, (list, tuple)) for a in args):
            args = [_asarray(a) if isinstance(a, (list, tuple)) else a for a in args]
        return function(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = function.__doc__
    return call


def _host_default(values):
    """The dtype NumPy gives to Python scalars ``values`` (float64, int64 or bool), by name."""
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int) for v in values):
        return "int64"
    if all(isinstance(v, (int, float)) for v in values):
        return "float64"
    return None


def _asarray(obj, dtype=None, *, device=None, copy=None):
    xp, dev = _target()
    dt = _dt(xp, dtype)
    if _backend.is_array(obj):
        if _backend.backend_name(obj) == _backend.get_backend():
            return xp.asarray(obj, dtype=dt, device=device, copy=copy)
        obj = _backend.asnumpy(obj)  # another library's array: an explicit move through the host
    if dt is None:
        obj = _numpy.asarray(obj)  # NumPy's dtype rules: Python floats become float64
    return xp.asarray(obj, dtype=dt, device=device if device is not None else dev, copy=copy)


def _array(obj, dtype=None, *, copy=True, device=None):
    return _asarray(obj, dtype, device=device, copy=copy)


def _creator(name, default="float64"):
    def create(shape, dtype=None, *, device=None):
        xp, dev = _target()
        return getattr(xp, name)(shape, dtype=_dt(xp, default if dtype is None else dtype), device=device or dev)

    create.__name__ = create.__qualname__ = name
    create.__doc__ = f"``{name}(shape, dtype=float64)`` on the active device."
    return create


def _full(shape, fill_value, dtype=None, *, device=None):
    xp, dev = _target()
    dt = _dt(xp, _host_default([fill_value]) if dtype is None else dtype)
    return xp.full(shape, fill_value, dtype=dt, device=device or dev)


def _arange(start, stop=None, step=1, dtype=None, *, device=None):
    xp, dev = _target()
    given = [v for v in (start, stop, step) if v is not None]
    return xp.arange(
        start, stop, step, dtype=_dt(xp, _host_default(given) if dtype is None else dtype), device=device or dev
    )


def _linspace(start, stop, num=50, endpoint=True, dtype=None, *, device=None):
    xp, dev = _target()
    return xp.linspace(
        start, stop, num, dtype=_dt(xp, "float64" if dtype is None else dtype), device=device or dev, endpoint=endpoint
    )


def _eye(N, M=None, k=0, dtype=None, *, device=None):
    xp, dev = _target()
    return xp.eye(N, M, k=k, dtype=_dt(xp, "float64" if dtype is None else dtype), device=device or dev)


def _dot(a, b):
    """NumPy's ``dot``: a product with a scalar, ``matmul`` up to 2-D, else a sum over ``a``'s last and
    ``b``'s second-to-last axis."""
    if not (_backend.is_array(a) and _backend.is_array(b)) or a.ndim == 0 or b.ndim == 0:
        return a * b
    xp = _backend.get_namespace(a, b)
    if (a.ndim <= 2 and b.ndim <= 2) or a.ndim == 1 or b.ndim == 1:
        return xp.matmul(a, b)
    return xp.tensordot(a, b, axes=((a.ndim - 1,), (b.ndim - 2,)))


def _copy(a):
    return _backend.get_namespace(a).asarray(a, copy=True)


def _transpose(a, axes=None):
    xp = _backend.get_namespace(a)
    return xp.permute_dims(a, tuple(axes) if axes is not None else tuple(range(a.ndim - 1, -1, -1)))


def _counting(name, as_dtype):
    def reduce(x, axis=None, dtype=None, keepdims=False):
        xp = _backend.get_namespace(x)
        if x.dtype == xp.bool:  # NumPy counts True as 1; the standard refuses booleans here
            x = xp.astype(x, getattr(xp, as_dtype))
        return getattr(xp, name)(x, axis=axis, dtype=_dt(xp, dtype), keepdims=keepdims)

    reduce.__name__ = reduce.__qualname__ = name
    reduce.__doc__ = f"The standard's ``{name}``; a boolean array counts its True entries, as NumPy's does."
    return reduce


def _mean(x, axis=None, dtype=None, keepdims=False):
    xp = _backend.get_namespace(x)
    if x.dtype == xp.bool or xp.isdtype(x.dtype, "integral"):  # NumPy's mean of these is float64
        x = xp.astype(x, xp.float64)
    elif dtype is not None:
        x = xp.astype(x, _dt(xp, dtype))
    return xp.mean(x, axis=axis, keepdims=keepdims)


def _moved(draw):
    """A host draw as an array of the active backend on its device (a Python scalar stays one)."""
    if isinstance(draw, _numpy.ndarray):
        xp, dev = _target()
        return xp.asarray(draw, device=dev)
    return draw


def _host(a):
    return _backend.asnumpy(a) if _backend.is_array(a) else a


class _Random:
    """``np.random`` on torch and array_api_strict: NumPy's global generator, moved to the active device."""

    def seed(self, seed=None):
        _numpy.random.seed(seed)

    def rand(self, *shape):
        return _moved(_numpy.random.rand(*shape))

    def randn(self, *shape):
        return _moved(_numpy.random.randn(*shape))

    def random(self, size=None):
        return _moved(_numpy.random.random(size))

    random_sample = random

    def choice(self, a, size=None, replace=True, p=None):
        return _moved(_numpy.random.choice(_host(a), size, replace, _host(p)))

    def permutation(self, x):
        if not _backend.is_array(x):
            return _moved(_numpy.random.permutation(x))
        xp = _backend.get_namespace(x)  # shuffle the array's first axis where it lives
        idx = xp.asarray(_numpy.random.permutation(x.shape[0]), device=_backend.array_device(x))
        return xp.take(x, idx, axis=0)

    def randint(self, low, high=None, size=None, dtype=int):
        return _moved(_numpy.random.randint(low, high, size, dtype=dtype))

    def normal(self, loc=0.0, scale=1.0, size=None):
        return _moved(_numpy.random.normal(_host(loc), _host(scale), size))

    def uniform(self, low=0.0, high=1.0, size=None):
        return _moved(_numpy.random.uniform(_host(low), _host(high), size))

    def __repr__(self):
        return "<xpnet.np.random: numpy.random's global generator, moved to the active device>"


_EXTRAS = {
    "random": _Random(),
    "dot": _dot,
    "array": _array,
    "asarray": _asarray,
    "copy": _copy,
    "transpose": _transpose,
    "zeros": _creator("zeros"),
    "ones": _creator("ones"),
    "empty": _creator("empty"),
    "full": _full,
    "arange": _arange,
    "linspace": _linspace,
    "eye": _eye,
    "sum": _counting("sum", "float64"),
    "mean": _mean,
}
for _name in ("array", "asarray", "arange", "linspace", "eye", "full", "copy", "transpose"):
    _EXTRAS[_name].__name__ = _EXTRAS[_name].__qualname__ = _name
del _name


def _namespace():
    return _backend.get_backend(), _backend.active_numpy_module()


def __getattr__(name):
    if name.startswith("__") and name.endswith("__"):
        # module protocol (__path__, __all__, ...): this is a plain module, not NumPy's package
        raise AttributeError(f"module 'xpnet.np' has no attribute {name!r}")
    backend, module = _namespace()
    if module is not None:
        return getattr(module, name)
    extra = _EXTRAS.get(name)
    if extra is not None:
        return extra
    xp = _backend.active_namespace()
    try:
        if name not in _STANDARD:
            raise AttributeError(name)
        found = getattr(xp, name)
        return _numbers(name, found) if name in _ELEMENTWISE else found
    except AttributeError:
        raise AttributeError(
            f"xpnet.np on the {backend} backend is the Array API standard namespace ({xp.__name__}) plus "
            f"{', '.join(sorted(_EXTRAS))}; it has no {name!r}. Code that needs NumPy's {name!r} runs with "
            "xpnet.set_backend('numpy') (or 'cupy' on a GPU)"
        ) from None


def __dir__():
    backend, module = _namespace()
    if module is not None:
        return sorted(dir(module))
    return sorted((set(dir(_backend.active_namespace())) & _STANDARD) | set(_EXTRAS))
