"""Case 1 (TwoLayerNet 784-50-10, batch 100, SGD) and case 5 (SimpleConvNet) with an older xpnet as one more
contender, in one run: ``python -m benchmarks.before_after --old PATH`` where PATH holds an older ``xpnet``
package renamed ``xpnet_old`` (``git archive REV xpnet | tar -x -C PATH && mv PATH/xpnet PATH/xpnet_old``)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import baselines
from .__main__ import (
    batches,
    cycling,
    inplace_mlp_step,
    measure,
    numpy_mlp_step,
    report,
    torch,
    torch_mlp_step,
    xpnet_mlp_step,
)


def conv_step(mod, xs, ts, dtype):
    net = mod.SimpleConvNet((1, 28, 28), dtype=dtype, rng=0)
    opt = mod.optimizers.SGD(lr=0.1)
    xd, td = [mod.asarray(x) for x in xs], [mod.asarray(t) for t in ts]
    return cycling(lambda x, t: opt.update(net.params, net.gradient(x, t)), xd, td)


def numgrad_call(mod, x, t):
    net = mod.TwoLayerNet(784, 50, 10, dtype="float32", rng=0)
    xd, td = mod.asarray(x), mod.asarray(t)
    return lambda: net.numerical_gradient(xd, td)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--cases", default="two_layer,conv,numgrad")
    args = p.parse_args()
    sys.path.insert(0, args.old)
    import xpnet_old

    import xpnet

    dtype = "float32"
    if "two_layer" in args.cases:
        sizes = [784, 50, 10]
        r = np.random.default_rng(1)
        weights = [(0.01 * r.standard_normal((a, b))).astype(dtype) for a, b in zip(sizes[:-1], sizes[1:])]
        xs, ts = batches(8, 100, 784, 10, dtype)
        contenders = {
            "xpnet": xpnet_mlp_step(sizes, weights, xs, ts, dtype),
            "xpnet_before": xpnet_mlp_step(sizes, weights, xs, ts, dtype, mod=xpnet_old),
            "inplace": inplace_mlp_step(weights, xs, ts),
            "numpy": numpy_mlp_step(weights, xs, ts),
            "book": cycling(baselines.BookTwoLayerNet(*weights, lr=0.1).step, xs, ts),
        }
        if torch is not None:
            contenders["torch"] = torch_mlp_step(weights, xs, ts, dtype, "cpu")[0]
        report("1 TwoLayerNet step float32", measure(contenders, 200, args.rounds, "numpy"))
    if "conv" in args.cases:
        r = np.random.default_rng(2)
        xs = [r.random((100, 1, 28, 28), dtype=np.float32) for _ in range(4)]
        ts = [np.eye(10, dtype=np.float32)[r.integers(0, 10, 100)] for _ in range(4)]
        contenders = {"xpnet": conv_step(xpnet, xs, ts, dtype), "xpnet_before": conv_step(xpnet_old, xs, ts, dtype)}
        report("5 SimpleConvNet step float32", measure(contenders, 5, args.rounds, "numpy"))
    if "numgrad" in args.cases:
        r = np.random.default_rng(3)
        x = r.random((100, 784), dtype=np.float32)
        t = np.eye(10, dtype=np.float32)[r.integers(0, 10, 100)]
        contenders = {"xpnet": numgrad_call(xpnet, x, t), "xpnet_before": numgrad_call(xpnet_old, x, t)}
        report("4 numerical_gradient float32", measure(contenders, 1, max(5, args.rounds // 2), "numpy"))


if __name__ == "__main__":
    main()
