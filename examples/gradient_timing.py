"""Seed 004: numerical gradient vs backpropagation, timed (the seed's 10 numerical iterations took 844 s)."""

import time

from _common import load, parse

import xpnet

args = parse(__doc__, data=True)
(x_train, t_train), _ = load(args)
n = 10 if args.quick else 100
x, t = x_train[:n, ...], t_train[:n, ...]
net = xpnet.TwoLayerNet(784, 50, 10, rng=0)
for method in ["backprop", "bulk", "loop"]:
    if method == "loop" and not args.quick:
        print("loop: the book's element-by-element loop takes minutes here; run with --quick to see it on 10 samples")
        continue
    start = time.perf_counter()
    grad = net.gradient(x, t) if method == "backprop" else net.numerical_gradient(x, t, method=method)
    xpnet.asnumpy(grad["W1"])  # wait for the device
    print(f"{method:8s}: {time.perf_counter() - start:8.3f} s for one gradient of {n} samples")
diff = xpnet.gradient_check(net, x, t)
print("largest |backprop - numerical| per parameter:", {k: f"{v:.1e}" for k, v in diff.items()})
