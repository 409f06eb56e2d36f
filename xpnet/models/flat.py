"""The flat store: a model's parameters and gradients as views into one flat buffer per dtype.

An optimizer then updates every parameter of a dtype in one pass (one kernel per dtype on a GPU
instead of one or more per parameter), and an all-reduce sends the gradient buffer as it is.

The API, for models and optimizers:

* ``FlatStore(params, grads)``: ``params`` and ``grads`` are equally long lists of arrays of the
  same shapes (one gradient per parameter). Their values are copied into one flat parameter
  buffer and one flat gradient buffer per (library, device, dtype); ``store.params`` and
  ``store.grads`` are the views, in the given order, shaped like the originals. The owner
  (a model) puts the views where it keeps its arrays: layers keep exposing ``params``/``grads``
  lists and ``net.params["W1"]`` dicts, now of views, so book code such as
  ``network.params["W1"] -= lr * grad["W1"]`` writes the flat buffer and no stale copy exists.
* ``store.groups``: one :class:`FlatGroup` per buffer: ``param`` and ``grad`` (1-D), ``index``
  (the positions in ``params`` it covers), ``names`` (their names: ``FlatStore(..., names=)``, the
  positions by default; optimizers key per-parameter state by them) and :meth:`FlatGroup.views` (any flat array of the
  buffer's length cut into the members' shapes: optimizer state made flat stays reachable per
  parameter).
* ``store.covers(params, grads)``: True while every given array *is* its view (nobody rebound a
  slot): an optimizer takes the one-pass route only then, and updates per parameter otherwise.
* ``store.readopt(i, array)``: a slot was rebound (``load_params``, a user's assignment): the new
  values are copied into the view, which the owner puts back in the slot.
* :func:`flat_buffer_of` ``(arrays)``: the flat buffer whose views ``arrays`` are exactly (in
  order, covering it all), or ``None``: data parallelism all-reduces it without packing.

Models expose their store through ``params.flat_store()`` (book 1's ``ParamDict``) or a
``flat_store`` attribute of their ``params`` list; optimizers look for either. Both also keep it as
``params.last_store`` (the store made last, not checked: an optimizer checks the arrays it is given itself).
"""

from __future__ import annotations

import weakref
from typing import Any

from ..backend import array_device, backend_name, get_namespace

__all__ = ["FlatStore", "FlatGroup", "ParamList", "flat_buffer_of", "store_of"]

_LIVE: weakref.WeakSet = weakref.WeakSet()  # every FlatGroup alive, for flat_buffer_of


def _numel(a: Any) -> int:
    n = 1
    for s in a.shape:
        n *= int(s)
    return n


class FlatGroup:
    """One flat buffer pair: parameters ``param`` and gradients ``grad`` (1-D, same length) of one dtype."""

    __slots__ = ("param", "grad", "index", "names", "shapes", "offsets", "param_views", "grad_views", "__weakref__")

    def __init__(self, xp: Any, members: list[tuple[int, Any, Any]]) -> None:
        first = members[0][1]
        self.index = [i for i, _, _ in members]
        self.names: list[Any] = list(self.index)
        self.shapes = [tuple(p.shape) for _, p, _ in members]
        sizes = [_numel(p) for _, p, _ in members]
        self.offsets = [sum(sizes[:k]) for k in range(len(sizes) + 1)]
        total = self.offsets[-1]
        self.param = xp.empty((total,), dtype=first.dtype, device=array_device(first))
        self.grad = xp.zeros((total,), dtype=first.dtype, device=array_device(first))
        self.param_views = self.views(self.param)
        self.grad_views = self.views(self.grad)
        for (_, p, g), pv, gv in zip(members, self.param_views, self.grad_views):
            pv[...] = p
            if g is not None and tuple(g.shape) == tuple(p.shape):
                gv[...] = g
        _LIVE.add(self)

    def views(self, flat: Any) -> list[Any]:
        """``flat`` (1-D, this group's length) cut into the members' shapes, as views."""
        xp = get_namespace(flat)
        o = self.offsets
        return [xp.reshape(flat[o[k] : o[k + 1]], s) for k, s in enumerate(self.shapes)]


class FlatStore:
    """Parameters and gradients of one model as views into one flat buffer per (library, device, dtype)."""

    def __init__(self, params: list[Any], grads: list[Any], names: list[Any] | None = None) -> None:
        if len(params) != len(grads):
            raise ValueError(f"FlatStore: {len(params)} parameters but {len(grads)} gradients")
        by_kind: dict[tuple, list] = {}
        for i, (p, g) in enumerate(zip(params, grads)):
            by_kind.setdefault((backend_name(p), str(array_device(p)), str(p.dtype)), []).append((i, p, g))
        self.groups = [FlatGroup(get_namespace(m[0][1]), m) for m in by_kind.values()]
        if names is not None:
            for group in self.groups:
                group.names = [names[i] for i in group.index]
        self.params: list[Any] = [None] * len(params)
        self.grads: list[Any] = [None] * len(params)
        for group in self.groups:
            for i, pv, gv in zip(group.index, group.param_views, group.grad_views):
                self.params[i], self.grads[i] = pv, gv

    def covers(self, params: list[Any], grads: list[Any]) -> bool:
        """True when ``params[i]`` and ``grads[i]`` are this store's views, for every ``i``."""
        if len(params) != len(self.params) or len(grads) != len(self.grads):
            return False
        for a, b, c, d in zip(params, self.params, grads, self.grads):  # noqa: SIM110 (a loop: no generator per step)
            if a is not b or c is not d:
                return False
        return True

    def readopt(self, i: int, array: Any) -> bool:
        """Copy a rebound parameter's values into view ``i``; False when it no longer fits (shape, dtype, library)."""
        view = self.params[i]
        if type(array) is not type(view) or tuple(array.shape) != tuple(view.shape) or array.dtype != view.dtype:
            return False
        if str(array_device(array)) != str(array_device(view)):
            return False
        view[...] = array
        return True


class ParamList(list):
    """A model's ``params`` list (book 2) that carries its :class:`FlatStore` as ``flat_store``."""

    def __init__(self, arrays: list[Any], store: FlatStore | None = None) -> None:
        super().__init__(arrays)
        self.flat_store = store

    @property
    def last_store(self) -> FlatStore | None:
        """The store, as a ``ParamDict`` names the one it made last (optimizers read either the same way)."""
        return self.flat_store


def store_of(params: Any, *, recheck: bool = True) -> FlatStore | None:
    """The flat store behind a model's ``params`` (a ``ParamDict``'s ``flat_store()``, a list's ``flat_store``);
    ``recheck=False``: a ``ParamDict``'s last store, its slots not re-checked (the caller checks the views)."""
    get = getattr(params, "flat_store", None)
    if get is None:
        return None
    return get(recheck=recheck) if callable(get) else get


def flat_buffer_of(arrays: list[Any]) -> Any:
    """The flat gradient (or parameter) buffer whose views are exactly ``arrays``, in order, else ``None``."""
    if not arrays:
        return None
    for group in list(_LIVE):
        for views, flat in ((group.grad_views, group.grad), (group.param_views, group.param)):
            if len(views) == len(arrays) and all(a is v for a, v in zip(arrays, views)):
                return flat
    return None
