"""Seed 004: the ThreeLayerNet with hidden sizes 100 and 50."""

from _common import load, parse, train

import xpnet

args = parse(__doc__, data=True, plot=True)
net = xpnet.ThreeLayerNet(input_size=784, hidden_size=100, hidden_size2=50, output_size=10, rng=0)
losses, train_acc, test_acc, took = train(net, load(args), iters_num=200 if args.quick else 10000)
print(f"final train acc {train_acc[-1]:.4f}, test acc {test_acc[-1]:.4f} ({took:.1f} s)")
if args.plot:
    xpnet.plot.accuracy_curve(train_acc, test_acc, path=args.plot)
