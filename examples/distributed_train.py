"""Data-parallel training on Fashion-MNIST: the same script alone or under ``mpiexec -n 2``.

    python examples/distributed_train.py                  # one process
    mpiexec -n 2 python examples/distributed_train.py     # two ranks, each with half of every batch

Every rank loads the data, takes its shard (scatter_dataset) and starts from rank 0's weights
(bcast_params); the multi-node optimizer averages the gradients before each update. The global
batch (--batch, split over the ranks) and the steps per epoch are those of one process, so the
accuracy should match one process within noise. Only rank 0 prints and saves.
"""

from __future__ import annotations

import argparse
import time

import xpnet
from xpnet import distributed
from xpnet.models import MultiLayerNetExtend, TwoLayerNet
from xpnet.optimizers import OPTIMIZERS

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--backend", default="numpy", choices=xpnet.backend.BACKENDS)
p.add_argument("--quick", action="store_true", help="a few iterations only (used by the tests)")
p.add_argument("--dataset", default="fashion-mnist", choices=["mnist", "fashion-mnist"])
p.add_argument("--model", default="two-layer", choices=["two-layer", "batchnorm"], help="batchnorm: 100-100 BN MLP")
p.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS))
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--batch", type=int, default=100, help="global batch size, split evenly over the ranks")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--communicator", default="auto", choices=["auto", "mpi", "nccl"])
p.add_argument("--save", metavar="PATH", default=None, help="rank 0 writes the trained parameters (.npz)")
args = p.parse_args()

xpnet.set_backend(args.backend)
comm = distributed.init_from_cli(None, args.communicator)  # None when no launcher started several ranks
size = comm.size if comm is not None else 1
if args.batch % size:
    p.error(f"--batch {args.batch} does not split evenly over {size} ranks")

loader = xpnet.datasets.load_mnist if args.dataset == "mnist" else xpnet.datasets.load_fashion_mnist
(x_train, t_train), (x_test, t_test) = loader(normalize=True)
if args.quick:
    x_train, t_train, x_test, t_test = x_train[:2000], t_train[:2000], x_test[:500], t_test[:500]
if args.model == "two-layer":
    net = TwoLayerNet(784, 50, 10, rng=args.seed)
else:
    net = MultiLayerNetExtend(784, [100, 100], 10, use_batchnorm=True, rng=args.seed)
optimizer = OPTIMIZERS[args.optimizer](lr=args.lr)
# The only lines that differ from a single-process script: rank 0's weights everywhere, multi-node
# BatchNorm, this rank's shard, the gradient-averaging optimizer (all no-ops when comm is None).
optimizer, x_mine, t_mine = distributed.prepare_training(comm, net, optimizer, x_train, t_train, seed=args.seed)

trainer = xpnet.Trainer(
    net,
    x_mine,
    t_mine,
    x_test,
    t_test,
    epochs=1 if args.quick else args.epochs,
    mini_batch_size=args.batch // size,
    optimizer=optimizer,
    verbose=distributed.is_root(),
    seed=args.seed * 1000 + (comm.rank if comm is not None else 0),  # each rank its own draws
    max_iter=20 if args.quick else None,
)
start = time.perf_counter()
trainer.train()
took = time.perf_counter() - start
# Each rank's train accuracy is on its shard; the mean over the ranks is the whole set's (equal shards).
train_acc = trainer.final_train_acc if comm is None else comm.allreduce_obj(trainer.final_train_acc) / size
if distributed.is_root():
    print(
        f"{size} rank(s), {args.model}, global batch {args.batch}: test acc {trainer.final_test_acc:.4f}, "
        f"train acc {train_acc:.4f} after {trainer.current_iter} steps in {took:.1f} s"
    )
    if args.save:
        net.save_params(args.save)
