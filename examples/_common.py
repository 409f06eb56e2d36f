"""What every example shares: its command line, data loading and the book's training loop."""

from __future__ import annotations

import argparse
import time

import numpy as np

import xpnet


def parse(description: str, *, data: bool = False, plot: bool = False, corpus: bool = False) -> argparse.Namespace:
    """``--backend`` and ``--quick`` for every example; ``--dataset``, ``--corpus`` (``ptb`` or a text file) and
    ``--plot`` where they apply."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", default="numpy", choices=xpnet.backend.BACKENDS)
    p.add_argument("--quick", action="store_true", help="a short run (used by the tests)")
    if corpus:
        p.add_argument("--corpus", default="ptb", help="'ptb' (downloaded once) or the path of a text file")
    if data:
        p.add_argument(
            "--dataset",
            default="fashion-mnist",
            choices=["mnist", "fashion-mnist"],
            help="the seeds used MNIST; Fashion-MNIST installs from Debian (dataset-fashion-mnist)",
        )
    if plot:
        p.add_argument("--plot", metavar="PATH", default=None, help="save the figure as PNG")
    args = p.parse_args()
    xpnet.set_backend(args.backend)
    xpnet.seed(0)
    return args


def load(args: argparse.Namespace, **kw):
    loader = xpnet.datasets.load_mnist if args.dataset == "mnist" else xpnet.datasets.load_fashion_mnist
    return loader(normalize=True, one_hot_label=True, **kw)


def train(network, data, *, iters_num=10000, batch_size=100, learning_rate=0.1, numerical=False, log=True):
    """The seed notebooks' loop (book 1, 4.5.2 / 5.7.4) plus a final evaluation.

    Returns (losses, train accuracies, test accuracies, seconds).
    """
    (x_train, t_train), (x_test, t_test) = data
    xp = xpnet.get_namespace(x_train)
    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size // batch_size, 1)
    rng = np.random.default_rng(0)
    losses, train_acc, test_acc = [], [], []
    start = time.perf_counter()
    for i in range(iters_num):
        batch_mask = xpnet.asarray(rng.choice(train_size, batch_size))
        x_batch, t_batch = xp.take(x_train, batch_mask, axis=0), xp.take(t_train, batch_mask, axis=0)
        grad = network.numerical_gradient(x_batch, t_batch) if numerical else network.gradient(x_batch, t_batch)
        for key in network.params:
            network.params[key] -= learning_rate * grad[key]
        losses.append(float(network.loss(x_batch, t_batch)))
        if i % iter_per_epoch == 0:
            train_acc.append(network.accuracy(x_train, t_train))
            test_acc.append(network.accuracy(x_test, t_test))
            if log:
                print(f"  iter {i:5d}: train acc {train_acc[-1]:.4f}, test acc {test_acc[-1]:.4f}")
    took = time.perf_counter() - start
    train_acc.append(network.accuracy(x_train, t_train))
    test_acc.append(network.accuracy(x_test, t_test))
    return losses, train_acc, test_acc, took
