"""The gradient all-reduce against the step it serves, at 1 and N ranks (weak scaling).

    OMP_NUM_THREADS=1 mpiexec -n 1 python -m benchmarks.allreduce --json one.json
    OMP_NUM_THREADS=1 mpiexec -n 2 python -m benchmarks.allreduce --json two.json --baseline one.json

Each rank trains on its own batch of ``--batch`` samples (weak scaling: the global batch grows
with the ranks). Per case, medians over rounds of the slowest rank's time for:

- ``step``: gradient + SGD update, no communication (every rank stepping at once);
- ``allreduce``: ``comm.allreduce_grads`` alone (pack, one collective per dtype, mean, unpack);
- ``dp_step``: the data-parallel step (gradient, all-reduce, update), as the Trainer runs it.

``comm share`` is allreduce / dp_step. With ``--baseline`` (a 1-rank JSON) the weak-scaling
efficiency is dp_step(1 rank) / dp_step(N ranks): 1.0 means N times the samples per second.
One thread per rank (``OMP_NUM_THREADS=1``) keeps the 1-rank run from using the cores the
other ranks would use; on a 2-core machine 2 ranks is the ceiling.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np

import xpnet
from xpnet import distributed
from xpnet.models import MultiLayerNet
from xpnet.optimizers import SGD

CASES = {
    "two_layer": [784, 50, 10],  # TwoLayerNet(784, 50, 10): 39,760 parameters
    "wide_mlp": [784, 1000, 1000, 10],  # 1,796,010 parameters
}


def timed(comm: Any, fn: Any, inner: int, rounds: int) -> float:
    """Median over rounds of the slowest rank's seconds per call of ``fn``."""
    for _ in range(max(1, inner // 4)):
        fn()
    times = []
    for _ in range(rounds):
        comm.mpi_comm.Barrier()
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append(comm.allreduce_obj((time.perf_counter() - start) / inner, op="max"))
    return statistics.median(times)


def run_case(comm: Any, sizes: list[int], batch: int, dtype: str, inner: int, rounds: int) -> dict[str, float]:
    rng = np.random.default_rng(comm.rank)
    x = xpnet.asarray(rng.standard_normal((batch, sizes[0])), dtype=dtype)
    t = xpnet.asarray(rng.integers(0, sizes[-1], size=batch), dtype="int64")
    net = MultiLayerNet(sizes[0], sizes[1:-1], sizes[-1], dtype=dtype, rng=0)
    local, dp = SGD(lr=0.01), distributed.create_multi_node_optimizer(SGD(lr=0.01), comm)
    grads = net.gradient(x, t)
    n_params = sum(int(np.prod(p.shape)) for p in net.params.values())

    def step() -> None:
        local.update(net.params, net.gradient(x, t))

    def allreduce() -> None:
        comm.allreduce_grads(grads)

    def dp_step() -> None:
        dp.update(net.params, net.gradient(x, t))

    res = {
        "params": n_params,
        "step": timed(comm, step, inner, rounds),
        "allreduce": timed(comm, allreduce, inner, rounds),
        "dp_step": timed(comm, dp_step, inner, rounds),
    }
    res["comm_share"] = res["allreduce"] / res["dp_step"]
    res["samples_per_s"] = comm.size * batch / res["dp_step"]
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="numpy", choices=xpnet.backend.BACKENDS)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--batch", type=int, default=100, help="samples per rank and step")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--inner", type=int, default=20)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="smoke run: 2 steps, 1 round")
    p.add_argument("--communicator", default="mpi", choices=["mpi", "nccl", "auto"])
    p.add_argument("--json", metavar="PATH", default=None, help="rank 0 writes the results here")
    p.add_argument("--baseline", metavar="PATH", default=None, help="a 1-rank JSON: adds weak-scaling efficiency")
    args = p.parse_args()
    if args.quick:
        args.inner, args.rounds = 2, 1
    xpnet.set_backend(args.backend)
    comm = distributed.create_communicator(args.communicator)
    baseline = None
    if args.baseline:
        with open(args.baseline) as f:
            baseline = json.load(f)["cases"]
    results: dict[str, Any] = {}
    for name in args.cases.split(","):
        if name not in CASES:
            raise SystemExit(f"unknown case {name!r}; choose from {', '.join(CASES)}")
        res = run_case(comm, CASES[name], args.batch, args.dtype, args.inner, args.rounds)
        if baseline and name in baseline:
            res["weak_scaling_efficiency"] = baseline[name]["dp_step"] / res["dp_step"]
        results[name] = res
        if comm.is_root:
            eff = res.get("weak_scaling_efficiency")
            print(
                f"{name:10s} {comm.size} rank(s), {res['params']:>9,d} params: step {res['step'] * 1e3:7.3f} ms, "
                f"allreduce {res['allreduce'] * 1e3:7.3f} ms, dp step {res['dp_step'] * 1e3:7.3f} ms "
                f"(comm {res['comm_share']:.0%}), {res['samples_per_s']:,.0f} samples/s"
                + (f", weak-scaling efficiency {eff:.2f}" if eff is not None else ""),
                flush=True,
            )
    if comm.is_root and args.json:
        meta = {"ranks": comm.size, "backend": args.backend, "dtype": args.dtype, "batch_per_rank": args.batch}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "cases": results}, f, indent=1)


if __name__ == "__main__":
    main()
