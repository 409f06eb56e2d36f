"""Seeds 002 and 003: gradient descent on x0^2 + x1^2 with learning rates 0.1, 10 and 1e-10 (book 1, 4.4.1)."""

from _common import parse

import xpnet

args = parse(__doc__, plot=True)


def function_2(x):
    return x[0] ** 2 + x[1] ** 2


for lr in (0.1, 10.0, 1e-10):
    x, history = xpnet.gradient_descent(
        function_2, xpnet.asarray([-3.0, 4.0], dtype="float64"), lr=lr, step_num=100, return_history=True
    )
    print(f"lr = {lr:g}: ends at {xpnet.asnumpy(x)}")  # near 0 / blows up (-2.6e13, -1.3e12) / barely moves
    if args.plot and lr == 0.1:
        xpnet.plot.gradient_descent_path(function_2, history, path=args.plot, title="lr = 0.1")
        print("path written to", args.plot)
