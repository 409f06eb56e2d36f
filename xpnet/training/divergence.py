"""The one divergence rule of xpnet's trainers: book 1's ``Trainer``, book 2's ``Trainer`` and ``RnnlmTrainer``.

A trainer hands every step's loss (a device array) to :class:`DivergenceWatch` with :meth:`~DivergenceWatch.add`
and calls :meth:`~DivergenceWatch.read` where it reads anyway (its log): the pending losses and two flags about
the parameters come back in one transfer, the window is judged, and one device-side copy of the state is kept.
Nothing is read between two reads. On divergence the state is rolled back to the last good copy and
:class:`TrainingDivergedError` says where.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from typing import Any

from ..backend import asnumpy, get_namespace
from ..layers.functions import LOG_EPS

__all__ = ["DivergenceWatch", "TrainingDivergedError", "LOSS_CEILING", "list_slots"]

#: The largest cross-entropy of one sample: the ``log(y + LOG_EPS)`` guard caps ``-log y`` at ``-log(1e-7)`` ≈ 16.1,
#: so a saturated network's loss sits near this value instead of becoming infinite.
LOSS_CEILING = -math.log(LOG_EPS)

#: Where a trainer's state lives: ``(owner, key, True)`` for ``owner[key]`` (a dict or list of parameters),
#: ``(owner, attr, False)`` for ``getattr(owner, attr)`` (a layer's buffer).
Slot = tuple[Any, Any, bool]


class TrainingDivergedError(RuntimeError):
    """Training diverged; the model was rolled back to its last good parameters (see :class:`DivergenceWatch`).

    ``iteration`` is where divergence was seen, ``rolled_back_to`` the iteration whose parameters
    the model holds now (0: the initial ones).
    """

    def __init__(self, message: str, iteration: int = 0, rolled_back_to: int | None = None) -> None:
        super().__init__(message)
        self.iteration, self.rolled_back_to = iteration, rolled_back_to


def list_slots(params: list[Any]) -> Callable[[], list[Slot]]:
    """The slots of a book-2 model's ``params`` list (each array restored in place, so tied weights stay tied)."""
    return lambda: [(params, i, True) for i in range(len(params))]


class DivergenceWatch:
    """Judges the losses of a training run at each read; rolls back and raises :class:`TrainingDivergedError`.

    ``slots()`` lists where the state lives (see :data:`Slot`; parameters first, in the order of
    ``params()``); ``params()`` the parameter arrays; ``optimizer`` only names its learning rate
    in the advice. With ``L0`` the first loss (the untrained model's), training has diverged when
    over the losses since the last read

    * a loss or a parameter is NaN or infinite, or
    * the median loss is at least ``max(3 L0, L0 + 2)``: far above the start. The log's 1e-7
      guard keeps an exploding network's loss finite, near :data:`LOSS_CEILING` (≈ 16.1);
      this catches it there. Or
    * the model *collapsed*: the loss jumped to ``max(2 L0, L0 + 1)`` or more, came back
      no lower than ``L0``, and some parameter array did not change at all over the window
      (a zero gradient: a too-large step killed every ReLU; the loss then sits at chance).

    A copy of the state counts as good once its own loss -- the first of the next window -- was
    finite and below the surge level; a rollback goes to the last good copy. The optimizer's state
    (momenta) is not rolled back. ``losses`` holds every loss read, in order.
    """

    def __init__(
        self, slots: Callable[[], list[Slot]], params: Callable[[], Iterable[Any]], optimizer: Any = None
    ) -> None:
        self.slots, self.params, self.optimizer = slots, params, optimizer
        self.losses: list[float] = []
        self.steps = 0  # losses added so far
        self._pending: list[Any] = []
        self._good: tuple[int, list] | None = None  # (step, arrays): its loss was seen and fine
        self._candidate: tuple[int, list] | None = None  # taken at the last read, not yet vouched for
        self._surged = False  # a surge seen and not yet followed by a clean window

    @classmethod
    def over(cls, params: list[Any], optimizer: Any = None) -> DivergenceWatch:
        """A watch over a book-2 model's ``params`` list (each shared array once; restored in place)."""
        from .loop import unique_params

        params = unique_params(params, params)[0]
        return cls(list_slots(params), lambda: params, optimizer)

    def begin(self) -> None:
        """Call before every step's update: the first time (and after a rollback) the state is copied here."""
        if self._candidate is None:
            self._candidate = (self.steps, self._copy_state(None))

    def add(self, loss: Any) -> None:
        """One step's loss (a 0-d device array; not read here)."""
        self._pending.append(loss)
        self.steps += 1

    def read(self) -> list[float]:
        """The pending losses, read back in one transfer and judged; returns them (``[]`` when none).

        Raises :class:`TrainingDivergedError` after rolling the state back."""
        if not self._pending:
            return []
        pending = self._pending
        xp = get_namespace(pending[0])
        losses = xp.stack([xp.reshape(v, ()) for v in pending])
        flags = self._param_flags(xp)
        extra = [xp.reshape(xp.astype(f, losses.dtype), (1,)) for f in flags if f is not None]
        values = asnumpy(xp.concat([losses, *extra]) if extra else losses).astype(float).tolist()
        self._pending = []  # only once read: an interrupted read leaves them for the next one
        frozen = int(values.pop()) if flags[1] is not None else 0
        params_ok = bool(values.pop()) if flags[0] is not None else True
        first = len(self.losses) + 1  # step of values[0]
        self.losses.extend(values)
        self._check_window(values, first, params_ok, frozen)
        return values

    # --- the state ----------------------------------------------------------------------

    def _copy_state(self, into: list | None) -> list:
        """A device-side copy of every slot's array, written into ``into``'s arrays where they fit."""
        out = []
        for i, (owner, key, item) in enumerate(self.slots()):
            a = owner[key] if item else getattr(owner, key)
            old = into[i] if into is not None and i < len(into) else None
            if a is None:
                out.append(None)
            elif old is not None and type(old) is type(a) and old.shape == a.shape and old.dtype == a.dtype:
                old[...] = a
                out.append(old)
            else:
                out.append(get_namespace(a).asarray(a, copy=True))
        return out

    def _restore(self, state: list) -> None:
        for (owner, key, item), saved in zip(self.slots(), state):
            current = owner[key] if item else getattr(owner, key)
            if saved is not None and current is not None and current.shape == saved.shape:
                current[...] = saved  # in place: whoever holds the array sees the good values
            elif item:
                owner[key] = get_namespace(saved).asarray(saved, copy=True)
            else:
                setattr(owner, key, None if saved is None else get_namespace(saved).asarray(saved, copy=True))

    def _param_flags(self, xp: Any) -> list[Any]:
        """Device-side 0-d arrays, not read here: every parameter finite; how many parameter arrays did
        not change at all since the last read (a zero gradient: every ReLU dead)."""
        finite, frozen = None, None
        saved = self._candidate[1] if self._candidate is not None else []
        for i, p in enumerate(self.params()):
            if not xp.isdtype(p.dtype, "real floating"):
                continue
            f = xp.all(xp.isfinite(p))
            finite = f if finite is None else xp.logical_and(finite, f)
            old = saved[i] if i < len(saved) else None
            if old is not None and type(old) is type(p) and old.shape == p.shape:
                still = xp.astype(xp.all(p == old), xp.int32)
                frozen = still if frozen is None else frozen + still
        return [finite, frozen]

    # --- the rule -----------------------------------------------------------------------

    def _check_window(self, values: list[float], first: int, params_ok: bool, frozen: int) -> None:
        start = self.losses[0]
        finite_start = math.isfinite(start)
        surge = max(2 * start, start + 1.0) if finite_start else math.inf
        high = max(3 * start, start + 2.0) if finite_start else math.inf
        median = statistics.median(values)
        carried = self._surged
        surged_here = any(v >= surge for v in values)
        span = f"median {median:.3g} over iterations {first}-{first + len(values) - 1}"
        reason = None
        bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
        if bad:
            reason = f"the loss became {values[bad[0]]} at iteration {first + bad[0]}"
        elif not params_ok:
            reason = "a parameter became NaN or infinite"
        elif median >= high:
            reason = f"the loss stayed far above the untrained network's {start:.3g} ({span})"
            if median >= 0.8 * LOSS_CEILING:
                reason += f", near cross-entropy's ceiling -log(1e-7) = {LOSS_CEILING:.1f}: the outputs saturated"
        elif (carried or surged_here) and median >= start and frozen:
            reason = (
                f"the loss jumped above {surge:.3g} and came back only to the untrained network's {start:.3g} "
                f"({span}) with {frozen} parameter array{'s' if frozen > 1 else ''} no longer changing: "
                "the network collapsed (dead ReLUs)"
            )
        # The candidate's own loss is the window's first: it vouches for (or condemns) those parameters.
        vouched = not carried and math.isfinite(values[0]) and values[0] < surge
        if reason is not None:
            self._roll_back(reason, vouched)
        if vouched:
            self._good, self._candidate = self._candidate, self._good
        self._surged = surged_here or (carried and median >= start)
        into = self._candidate[1] if self._candidate is not None else None
        self._candidate = (self.steps, self._copy_state(into))

    def _roll_back(self, reason: str, vouched: bool) -> None:
        target = self._candidate if vouched else self._good
        lr = getattr(self.optimizer, "lr", None)
        advice = f"try a lower learning rate{f' (it is {lr:g})' if isinstance(lr, (int, float)) else ''}"
        if target is None:  # the untrained model's loss was not finite: nothing better to go back to
            target = self._candidate if self._candidate is not None else self._good
            where = "the untrained network's loss was not finite: check its initial parameters"
            advice = "the learning rate is not the cause"
        else:
            where = f"rolled back to the parameters after iteration {target[0]}"
            if target[0] == 0:
                where = "rolled back to the initial parameters (iteration 0)"
        if target is not None:
            self._restore(target[1])
        self._surged = False
        self._candidate = self._good = None
        raise TrainingDivergedError(
            f"training diverged at iteration {self.steps}: {reason}; {where}; {advice}",
            self.steps,
            target[0] if target is not None else None,
        )
