"""Seed 004: the same TwoLayerNet with ReLU and with Sigmoid hidden units."""

from _common import load, parse, train

import xpnet

args = parse(__doc__, data=True, plot=True)
data = load(args)
iters = 200 if args.quick else 10000
curves = {}
for activation in ("relu", "sigmoid"):
    print(f"{activation}:")
    net = xpnet.TwoLayerNet(784, 50, 10, activation=activation, rng=0)
    losses, train_acc, test_acc, took = train(net, data, iters_num=iters)
    print(f"  final test acc {test_acc[-1]:.4f} ({took:.1f} s)")
    curves[activation] = losses
if args.plot:
    xpnet.plot.loss_curve(curves, path=args.plot)
