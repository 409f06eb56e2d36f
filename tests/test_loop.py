"""The one loop, ``run_steps``: the order of its hooks and steps, and a consumer that stops it where it likes."""

import itertools

import numpy as np

from xpnet.training.loop import run_steps


def test_run_steps_calls_hooks_around_each_epochs_steps(backend):
    x = backend.asarray(np.arange(6.0))
    events = []

    def batches():
        events.append(f"draw {events[-1][-1]}")
        return ((x[i : i + 2], x[i : i + 2]) for i in range(0, 6, 2))

    def step(bx, bt):
        events.append(f"step {events[-1][-1]}")
        return bx[0] + bt[1]

    out = list(
        run_steps(
            step,
            batches,
            2,
            epoch_start=lambda e: events.append(f"start {e}"),
            epoch_end=lambda e, n: events.append(f"end {e}" if n == 3 else "wrong count"),
        )
    )
    assert [(e, i) for e, i, _ in out] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert [float(loss) for _, _, loss in out] == [1.0, 5.0, 9.0] * 2
    assert events == [f"{e} {k}" for k in (0, 1) for e in ("start", "draw", "step", "step", "step", "end")]


def test_run_steps_without_max_epoch_runs_until_its_consumer_stops(backend):
    x = backend.asarray(np.ones(4))
    starts = []
    steps = run_steps(lambda bx, bt: bx[0], lambda: [(x, x)] * 3, epoch_start=starts.append)
    taken = list(itertools.islice(steps, 7))
    assert [(e, i) for e, i, _ in taken] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0)]
    assert starts == [0, 1, 2]  # the third epoch began; its remaining steps were never run
