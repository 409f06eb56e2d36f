"""``capture=True`` of the trainers: a training step recorded once as a CUDA graph and replayed.

:class:`StepCapture` runs a step function ``fn(*inputs)`` (a model's forward and backward) on
static input buffers: each call copies the batch into them, the first ``warmup`` calls run
``fn`` as it is, the next one records it as a graph of the inputs' device (the per-library
``capture_step`` kernel: CuPy's stream capture, ``torch.cuda.CUDAGraph``) and every later call
only replays the graph. What ``fn`` returned when it was recorded (the loss, the gradient
buffers) is what every replay writes again: callers keep a value beyond the next step through
:meth:`StepCapture.keep`. The optimizer's update stays outside the graph (one fused kernel per
flat buffer, and its step counts and learning rates stay Python numbers).

Where a graph cannot be made (a CPU backend, a model whose step draws random numbers or does not
declare itself capturable, a library refusing the capture) one line says why and training goes on
without a graph, as with ``capture=False``. A batch of another shape (the last, smaller one) runs
without the graph too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..backend import CaptureRefusedError, get_namespace, kernels_for

__all__ = ["StepCapture", "capture_refusal", "CaptureRefusedError"]

#: Steps run without a graph before the capture (buffers sized, libraries' lazy setup done).
WARMUP = 2


def capture_refusal(model: Any) -> str | None:
    """Why ``model``'s step cannot be recorded as a graph, or ``None``.

    A model is capturable when it says so (``capturable = True``: its step keeps every array's
    address and draws no random numbers) and none of its layers draws random numbers
    (``draws_random``: dropout; a graph would replay one mask forever).
    """
    name = type(model).__name__
    if not getattr(model, "capturable", False):
        return f"{name} does not declare capturable = True (its step must keep every array's address)"
    layers = getattr(model, "layers", {})
    for layer in layers.values() if hasattr(layers, "values") else layers:
        if getattr(layer, "draws_random", False):
            return f"{name}'s {type(layer).__name__} draws random numbers, which a graph would replay unchanged"
    return None


class StepCapture:
    """The capture of one trainer's step: static inputs, warm-up, one recording, replays (see the module)."""

    def __init__(self, model: Any, say: Callable[[str], None] = print, warmup: int = WARMUP) -> None:
        self.say = say
        self.warmup = warmup
        self.static: list[Any] | None = None
        self.outputs: Any = None
        self.replay: Callable[[], Any] | None = None
        self.done = 0
        self.off = False
        refusal = capture_refusal(model)
        if refusal is not None:
            self._refuse(refusal)

    def _refuse(self, reason: str) -> None:
        self.off = True
        self.say(f"capture=True: {reason}; training without a CUDA graph")

    @property
    def live(self) -> bool:
        """True once the step is a graph: outputs are rewritten by every replay."""
        return self.replay is not None

    def keep(self, a: Any) -> Any:
        """``a`` (an output of the step) safe to keep past the next step: a copy while the graph is live."""
        return get_namespace(a).asarray(a, copy=True) if self.live else a

    def run(self, fn: Callable[..., Any], *inputs: Any) -> Any:
        """``fn(*inputs)``, through the static buffers and the graph once there is one."""
        if self.off:
            return fn(*inputs)
        static = self.static
        if static is None:
            static = self.static = [get_namespace(a).empty_like(a) for a in inputs]
        elif any(tuple(s.shape) != tuple(a.shape) or s.dtype != a.dtype for s, a in zip(static, inputs)):
            return fn(*inputs)  # another shape (the last batch of an epoch): without the graph
        for s, a in zip(static, inputs):
            s[...] = a
        if self.replay is not None:
            self.replay()
            return self.outputs
        if self.done < self.warmup:
            self.done += 1
            return fn(*static)

        def record() -> None:
            self.outputs = fn(*static)

        try:
            self.replay = kernels_for(static[0]).capture_step(record, static[0])
        except CaptureRefusedError as e:
            self._refuse(str(e))
            return fn(*static)
        self.replay()  # recording ran nothing: this step's work is the first replay
        return self.outputs
