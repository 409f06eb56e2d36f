"""Seed 000, Q5: 1,000 iterations of numerical-gradient training, mini-batch 10 vs 100 (book 1, Figure 4-11).

The notebook gave up on this ("takes very long"); the bulk numerical gradient makes it a few minutes.
"""

from _common import load, parse, train

import xpnet

args = parse(__doc__, data=True, plot=True)
data = load(args)
iters = 5 if args.quick else 1000
curves = {}
for batch_size in (10, 100):
    net = xpnet.TwoLayerNet(input_size=784, hidden_size=50, output_size=10, activation="sigmoid", rng=0)  # chapter 4
    losses, _, test_acc, took = train(net, data, iters_num=iters, batch_size=batch_size, numerical=True, log=False)
    print(
        f"batch {batch_size:3d}: {iters} numerical-gradient iterations in {took:.1f} s, "
        f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, test acc {test_acc[-1]:.4f}"
    )
    curves[f"batch {batch_size}"] = losses
if args.plot:
    xpnet.plot.loss_curve(curves, path=args.plot, title="numerical-gradient training")
