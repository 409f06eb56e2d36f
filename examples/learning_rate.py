"""Seed 004, Q2: TwoLayerNet with learning rate 0.1 vs 0.01 (book 1, 5.7.4)."""

from _common import load, parse, train

import xpnet

args = parse(__doc__, data=True, plot=True)
data = load(args)
iters = 200 if args.quick else 10000
curves = {}
for lr in (0.1, 0.01):
    print(f"learning rate {lr}:")
    net = xpnet.TwoLayerNet(784, 50, 10, rng=0)
    losses, train_acc, test_acc, took = train(net, data, iters_num=iters, learning_rate=lr)
    print(f"  final test acc {test_acc[-1]:.4f} ({took:.1f} s)")
    curves[f"lr {lr}"] = losses
if args.plot:
    xpnet.plot.loss_curve(curves, path=args.plot)
