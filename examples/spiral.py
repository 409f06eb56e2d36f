"""Seed 001 / book 2, 1.4: a two-layer net with sigmoid units learns the spiral; its decision boundary."""

from _common import parse

import xpnet
from xpnet.datasets import load_spiral

args = parse(__doc__, plot=True)
x, t = load_spiral()
net = xpnet.TwoLayerNet(2, 10, 3, activation="sigmoid", rng=0)
trainer = xpnet.Trainer(
    net,
    x,
    t,
    x,
    t,
    epochs=30 if args.quick else 300,
    mini_batch_size=30,
    optimizer="SGD",
    optimizer_param={"lr": 1.0},
    verbose=False,
    seed=0,
)
trainer.train()
print(f"train acc {trainer.final_train_acc:.4f} after {trainer.current_iter} iterations")
if args.plot:
    xpnet.plot.decision_boundary(net, x, t, path=args.plot)
    print("decision boundary written to", args.plot)
