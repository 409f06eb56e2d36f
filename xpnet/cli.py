"""``xpnet train`` and ``xpnet info``.

A user mistake (unknown dataset, unusable backend, missing data, a bad hyper-parameter)
prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

from . import __version__
from .backend import (
    BACKENDS,
    BackendUnavailableError,
    _resolve,
    get_backend,
    get_device,
    set_backend,
    set_default_dtype,
)
from .datasets import DATASETS, DatasetError, find_dataset
from .optimizers import OPTIMIZERS
from .trainer import TrainingDivergedError

DATASET_CHOICES = ["spiral", "mnist", "fashion-mnist", "cifar10"]
MODEL_CHOICES = ["two-layer", "three-layer", "multi-layer", "simple-conv"]

# Per-dataset defaults: (hidden sizes, activation, optimizer, lr, batch size, epochs)
DEFAULTS = {
    "spiral": ([10], "sigmoid", "sgd", 1.0, 30, 300),  # book 2, ch1/train.py
    "mnist": ([50], "relu", "sgd", 0.1, 100, 17),  # book 1, 5.7.4: 10,000 iterations
    "fashion-mnist": ([50], "relu", "sgd", 0.1, 100, 17),
    "cifar10": ([50], "relu", "sgd", 0.1, 100, 20),
}


class UsageError(Exception):
    """A mistake in the command line: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(2, f"xpnet: error: {message} (see 'xpnet {self.prog.split()[-1]} --help')\n")


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0 or (kind is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 50 or 100,50, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xpnet", description="Train the networks of 'Deep Learning from Scratch' on any backend.")
    parser.add_argument("--version", action="version", version=f"xpnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    tr = sub.add_parser("train", help="train a network and print its accuracy")
    tr.add_argument("--dataset", choices=DATASET_CHOICES, default="spiral")
    tr.add_argument("--model", choices=MODEL_CHOICES, default=None, help="default: two-layer")
    tr.add_argument("--hidden", type=_sizes, default=None, help="hidden sizes, e.g. 50 or 100,50")
    tr.add_argument("--activation", choices=["relu", "sigmoid"], default=None)
    tr.add_argument("--optimizer", choices=sorted(OPTIMIZERS), type=str.lower, default=None)
    tr.add_argument("--lr", type=_positive(float), default=None, help="learning rate")
    tr.add_argument("--batch-size", type=_positive(int), default=None)
    group = tr.add_mutually_exclusive_group()
    group.add_argument("--epochs", type=_positive(int), default=None)
    group.add_argument("--iters", type=_positive(int), default=None, help="stop after this many iterations")
    tr.add_argument("--backend", choices=BACKENDS, default=None, help="default: $XPNET_BACKEND or numpy")
    tr.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--data-dir", default=None, help="directory holding the data files")
    tr.add_argument("--plot", metavar="PATH", default=None, help="save the loss and accuracy curves as PNG")
    tr.add_argument("--save", metavar="PATH", default=None, help="save the trained parameters (.npz)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    sub.add_parser("info", help="version, backends and data sets found")
    return parser


def _load(dataset: str, data_dir: str | None, conv: bool) -> tuple:
    from . import datasets

    flatten = not conv
    if dataset == "spiral":
        if conv:
            raise UsageError("--model simple-conv needs image data; use --dataset mnist, fashion-mnist or cifar10")
        x, t = datasets.load_spiral(seed=1984)
        xt, tt = datasets.load_spiral(seed=1985)  # a second draw of the spiral as test set
        return (x, t), (xt, tt)
    if dataset == "cifar10":
        return datasets.load_cifar10(flatten=flatten, grayscale=not conv, data_home=data_dir)
    loader = datasets.load_mnist if dataset == "mnist" else datasets.load_fashion_mnist
    return loader(flatten=flatten, data_home=data_dir)


def _network(args: argparse.Namespace, hidden: list[int], activation: str, in_shape: tuple, n_out: int) -> Any:
    from . import models

    model = args.model or "two-layer"
    n_in = int(math.prod(in_shape))
    if model == "two-layer":
        if len(hidden) != 1:
            raise UsageError(f"--model two-layer takes one hidden size, got {len(hidden)}")
        return models.TwoLayerNet(n_in, hidden[0], n_out, activation=activation, rng=args.seed)
    if model == "three-layer":
        if len(hidden) != 2:
            raise UsageError("--model three-layer takes two hidden sizes, e.g. --hidden 100,50")
        return models.ThreeLayerNet(n_in, hidden[0], hidden[1], n_out, activation=activation, rng=args.seed)
    if model == "multi-layer":
        return models.MultiLayerNet(n_in, hidden, n_out, activation=activation, rng=args.seed)
    return models.SimpleConvNet(tuple(in_shape), hidden_size=hidden[0], output_size=n_out, rng=args.seed)


def train(args: argparse.Namespace) -> int:
    from .trainer import Trainer

    if args.backend:
        set_backend(args.backend)
    set_default_dtype(args.dtype)
    hidden, activation, optimizer, lr, batch, epochs = DEFAULTS[args.dataset]
    if args.model == "three-layer" and args.hidden is None:
        hidden = [100, 50]
    if args.model == "simple-conv":  # book 1, ch7/train_convnet.py: Adam, lr 0.001
        hidden, activation, optimizer, lr, epochs = [100], "relu", "adam", 0.001, 4
    if args.model == "simple-conv" and args.hidden is not None and len(args.hidden) != 1:
        raise UsageError("--model simple-conv takes one hidden size (the Affine layer after pooling)")
    hidden = args.hidden or hidden
    activation = args.activation or activation
    optimizer = args.optimizer or optimizer
    lr = args.lr or (lr if args.optimizer is None else OPTIMIZERS[optimizer]().lr)
    batch = args.batch_size or batch
    conv = args.model == "simple-conv"
    (x, t), (xt, tt) = _load(args.dataset, args.data_dir, conv)
    n_out = 3 if args.dataset == "spiral" else 10
    net = _network(args, hidden, activation, tuple(x.shape[1:]), n_out)
    max_iter = args.iters
    if max_iter is not None:
        epochs = math.ceil(max_iter / max(math.ceil(x.shape[0] / batch), 1))
    epochs = args.epochs or epochs
    trainer = Trainer(
        net,
        x,
        t,
        xt,
        tt,
        epochs=epochs,
        mini_batch_size=batch,
        optimizer=optimizer,
        optimizer_param={"lr": lr},
        verbose=not args.quiet,
        seed=args.seed,
        max_iter=max_iter,
    )
    start = time.perf_counter()
    trainer.train()
    took = time.perf_counter() - start
    if args.plot:
        _plot(trainer, args.plot)
    if args.save:
        net.save_params(args.save)
    print(
        f"xpnet: {args.dataset} {args.model or 'two-layer'} — train acc {trainer.final_train_acc:.4f}, "
        f"test acc {trainer.final_test_acc:.4f} after {trainer.current_iter} iterations "
        f"({trainer.current_iter / trainer.iter_per_epoch:.1f} epochs) in {took:.1f} s "
        f"on {get_backend()} ({get_device()}, {args.dtype})" + (" [interrupted]" if trainer.interrupted else "")
    )
    return 0


def _plot(trainer: Any, path: str) -> None:
    from . import plot

    fig = plot._figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    losses = trainer.train_loss_list
    ax1.plot(losses, color="C0", alpha=0.3, linewidth=0.8)
    ax1.plot(plot.smooth(losses, 50), color="C0", label="loss (mean of 50)")
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("loss")
    ax1.legend()
    epochs = range(len(trainer.train_acc_list) + 1)
    ax2.plot(epochs, [*trainer.train_acc_list, trainer.final_train_acc], marker="o", label="train acc")
    ax2.plot(epochs, [*trainer.test_acc_list, trainer.final_test_acc], marker="s", linestyle="--", label="test acc")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(0, 1)
    ax2.legend(loc="lower right")
    fig.savefig(path, dpi=100)


def info() -> int:
    print(f"xpnet {__version__}")
    print("backends:")
    for name in BACKENDS:
        try:
            b = _resolve(name)
            print(f"  {name:17s} works; new arrays go to {b.device}")
        except BackendUnavailableError as e:
            print(f"  {name:17s} unavailable: {e}")
    print("data sets:")
    for name in DATASETS:
        where = find_dataset(name)
        print(f"  {name:17s} {where if where else 'not found (downloaded on first use)'}")
    print("  spiral            generated (book 2)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return train(args) if args.command == "train" else info()
    except (UsageError, ValueError, BackendUnavailableError, DatasetError) as e:
        print(f"xpnet: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except TrainingDivergedError as e:
        print(f"xpnet: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
