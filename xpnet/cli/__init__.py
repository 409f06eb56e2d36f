"""``xpnet train`` and ``xpnet info`` (and the subcommands other modules register through :data:`SUBCOMMANDS`).

A user mistake (unknown dataset, unusable backend, missing data, a bad hyper-parameter, an
output path that cannot be written) prints one line and exits with status 2, *before* any
training. Once training has run, nothing is thrown away: the weights are saved before the
plot is drawn, and an output that cannot be written where asked is written next to it or
in the current directory, with one line saying what failed (exit status 1).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import math
import os
import sys
import time
from typing import Any

from .. import __version__
from ..backend import BackendUnavailableError, active_device, backend_status, get_backend, use_backend
from ..data.datasets import DATASETS, DatasetError, find_dataset
from ..training.distributed import DistributedUnavailableError
from ..training.optimizers import OPTIMIZERS
from ..training.trainer import TrainingDivergedError
from .flags import FLAGS, UsageError, add_flags, fraction, positive, seed_value
from .outputs import check_output, check_outputs, check_plot, save_trained, single_process, write_output

__all__ = [
    # the one table of flags, its types and the one error (flags.py); the one output check (outputs.py)
    "FLAGS", "UsageError", "add_flags", "fraction", "positive", "seed_value",
    "check_output", "check_outputs", "check_plot", "save_trained", "single_process", "write_output",
    "DEFAULTS", "SUBCOMMANDS", "build_parser", "defaults", "info", "main", "make_trainer", "settings", "train",
]  # fmt: skip

DATASET_CHOICES = ["spiral", "mnist", "fashion-mnist", "cifar10"]
MODEL_CHOICES = ["two-layer", "three-layer", "multi-layer", "simple-conv"]

#: Modules that add a subcommand: each has ``add_parser(subparsers)`` (adds its parser to argparse's
#: subparsers object) and ``run(args) -> int``.
SUBCOMMANDS: list[str] = ["xpnet.cli.word2vec", "xpnet.cli.rnn", "xpnet.cli.book"]

#: The defaults of ``xpnet train``, one row per data set, then one per model for what the model fixes
#: (a model's row wins over the data set's). Rows name every value; nothing else holds a default.
DEFAULTS: dict[str, dict[str, Any]] = {
    # book 2, ch1/train.py
    "spiral": {"model": "two-layer", "hidden": [10], "activation": "sigmoid", "optimizer": "sgd", "lr": 1.0,
               "batch_size": 30, "epochs": 300},
    # book 1, 5.7.4: 10,000 iterations of batch 100
    "mnist": {"model": "two-layer", "hidden": [50], "activation": "relu", "optimizer": "sgd", "lr": 0.1,
              "batch_size": 100, "epochs": 17},
    "fashion-mnist": {"model": "two-layer", "hidden": [50], "activation": "relu", "optimizer": "sgd", "lr": 0.1,
                      "batch_size": 100, "epochs": 17},
    "cifar10": {"model": "two-layer", "hidden": [50], "activation": "relu", "optimizer": "sgd", "lr": 0.1,
                "batch_size": 100, "epochs": 20},
    "two-layer": {},
    "three-layer": {"hidden": [100, 50]},
    "multi-layer": {},
    # book 1, ch7/train_convnet.py (20 epochs there; 4 here is about 2,400 iterations)
    "simple-conv": {"hidden": [100], "activation": "relu", "optimizer": "adam", "lr": 0.001, "epochs": 4},
}  # fmt: skip


def defaults(dataset: str, model: str | None = None) -> dict[str, Any]:
    """The default settings of ``xpnet train --dataset DATASET --model MODEL``."""
    row = dict(DEFAULTS[dataset])
    row.update(DEFAULTS[model or row["model"]])
    return row


def optimizer_default_lr(name: str) -> float:
    """The learning rate an optimizer class uses when given none (read from its signature)."""
    return inspect.signature(OPTIMIZERS[name]).parameters["lr"].default


class _Parser(argparse.ArgumentParser):
    commands: dict[str, Any] = {}  # the top-level parser's subcommands (set by build_parser)

    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(2, f"xpnet: error: {message} (see '{self.prog} --help')\n")


def _directory(text: str) -> str:
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"no such directory: {text!r}")
    return text


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 50 or 100,50, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive, got {text!r}")
    return sizes


def _depends(key: str) -> str:
    """'depends on --dataset' help text listing the table's values for ``key``."""
    groups: dict[str, list[str]] = {}
    for d in DATASET_CHOICES:
        groups.setdefault(_show(DEFAULTS[d][key]), []).append(d)
    by_dataset = "; ".join(f"{'/'.join(names)}: {value}" for value, names in groups.items())
    if len(groups) == 1:
        by_dataset = f"{next(iter(groups))} for every data set"
    by_model = "; ".join(f"{m}: {_show(DEFAULTS[m][key])}" for m in MODEL_CHOICES if key in DEFAULTS[m])
    return f"default: depends on --dataset ({by_dataset})" + (f" and --model ({by_model})" if by_model else "")


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def build_parser() -> argparse.ArgumentParser:
    """The ``xpnet`` command's parser: ``train``, ``info`` and the book-2 subcommands, flags from :data:`FLAGS`."""
    parser = _Parser(prog="xpnet", description="Train the networks of 'Deep Learning from Scratch' on any backend.")
    parser.add_argument("--version", action="version", version=f"xpnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    tr = sub.add_parser("train", help="train a network and print its accuracy")
    tr.add_argument("--dataset", choices=DATASET_CHOICES, default="spiral", help="default: spiral (needs no data)")
    tr.add_argument("--model", choices=MODEL_CHOICES, default=None, help="default: two-layer")
    tr.add_argument(
        "--hidden", type=_sizes, default=None, help=f"hidden sizes, e.g. 50 or 100,50; {_depends('hidden')}"
    )
    tr.add_argument("--activation", choices=["relu", "sigmoid"], default=None, help=_depends("activation"))
    tr.add_argument("--optimizer", choices=sorted(OPTIMIZERS), type=str.lower, default=None, help=_depends("optimizer"))
    add_flags(
        tr,
        "lr",
        lr={"help": f"learning rate; {_depends('lr')}; with another --optimizer, that optimizer's own default"},
    )
    add_flags(tr, "batch-size", batch_size={"help": _depends("batch_size")})
    group = tr.add_mutually_exclusive_group()
    add_flags(group, "epochs", epochs={"help": _depends("epochs")})
    group.add_argument("--iters", type=positive(int), default=None, help="stop after this many iterations")
    add_flags(tr, "backend", "dtype", "seed")
    tr.add_argument(
        "--data-dir", type=_directory, default=None,
        help="directory holding the data files (default: $XPNET_DATA_DIR, the cache, system copies)",
    )  # fmt: skip
    add_flags(tr, "plot", "save", plot={"help": "save the loss and accuracy curves (PNG)"})
    tr.add_argument("--quiet", action="store_true", help="no progress bars, download messages or per-epoch lines")
    tr.add_argument(
        "--distributed", action="store_true", default=None,
        help="data-parallel over the ranks of mpiexec (default: on when mpiexec starts several); needs xpnet[mpi]",
    )  # fmt: skip
    tr.set_defaults(run=train)
    sub.add_parser("info", help="version, backends and data sets found").set_defaults(run=lambda args: info())
    for name in SUBCOMMANDS:
        before = set(sub.choices)
        module = importlib.import_module(name)
        module.add_parser(sub)
        for command in set(sub.choices) - before:
            sub.choices[command].set_defaults(run=module.run)
    parser.commands = sub.choices
    return parser


# --- train -------------------------------------------------------------------------------------------


def _quiet(loader: Any, quiet: bool) -> dict[str, Any]:
    """The keyword that silences ``loader``'s download messages and bars (``progress=False``), if it has one."""
    params = inspect.signature(loader).parameters
    if not quiet:
        return {}
    if "progress" in params:
        return {"progress": False}
    return {"quiet": True} if "quiet" in params else {}


def _load(dataset: str, data_dir: str | None, conv: bool, quiet: bool) -> tuple:
    from ..data import datasets

    flatten = not conv
    if dataset == "spiral":
        if conv:
            raise UsageError("--model simple-conv needs image data; use --dataset mnist, fashion-mnist or cifar10")
        x, t = datasets.load_spiral(seed=1984)
        xt, tt = datasets.load_spiral(seed=1985)  # a second draw of the spiral as test set
        return (x, t), (xt, tt)
    if dataset == "cifar10":
        loader = datasets.load_cifar10
        return loader(flatten=flatten, grayscale=not conv, data_home=data_dir, **_quiet(loader, quiet))
    loader = datasets.load_mnist if dataset == "mnist" else datasets.load_fashion_mnist
    return loader(flatten=flatten, data_home=data_dir, **_quiet(loader, quiet))


def _network(model: str, hidden: list[int], activation: str, in_shape: tuple, n_out: int, seed: int) -> Any:
    from .. import models

    n_in = int(math.prod(in_shape))
    if model == "two-layer":
        if len(hidden) != 1:
            raise UsageError(f"--model two-layer takes one hidden size, got {len(hidden)}")
        return models.TwoLayerNet(n_in, hidden[0], n_out, activation=activation, rng=seed)
    if model == "three-layer":
        if len(hidden) != 2:
            raise UsageError("--model three-layer takes two hidden sizes, e.g. --hidden 100,50")
        return models.ThreeLayerNet(n_in, hidden[0], hidden[1], n_out, activation=activation, rng=seed)
    if model == "multi-layer":
        return models.MultiLayerNet(n_in, hidden, n_out, activation=activation, rng=seed)
    if len(hidden) != 1:
        raise UsageError("--model simple-conv takes one hidden size (the Affine layer after pooling)")
    return models.SimpleConvNet(tuple(in_shape), hidden_size=hidden[0], output_size=n_out, rng=seed)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The command line over the :data:`DEFAULTS` table: every value ``train`` uses."""
    s = defaults(args.dataset, args.model)
    for key in ("model", "hidden", "activation", "batch_size", "epochs"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    if args.optimizer is not None and args.optimizer != s["optimizer"]:
        s["optimizer"], s["lr"] = args.optimizer, optimizer_default_lr(args.optimizer)
    if args.lr is not None:
        s["lr"] = args.lr
    return s


def make_trainer(args: argparse.Namespace, s: dict[str, Any], net: Any, data: tuple, comm: Any = None) -> Any:
    """The :class:`~xpnet.Trainer` for these settings; with ``comm`` (``mpiexec``), a data-parallel one:
    each rank trains on its shard with ``batch_size / ranks`` samples a step, gradients averaged."""
    from ..training import distributed
    from ..training.trainer import Trainer

    (x, t), (xt, tt) = data
    size = comm.size if comm is not None else 1
    if s["batch_size"] % size:
        raise UsageError(f"--batch-size {s['batch_size']} does not split evenly over {size} ranks")
    optimizer = OPTIMIZERS[s["optimizer"]](lr=s["lr"])
    optimizer, x, t = distributed.prepare_training(comm, net, optimizer, x, t, seed=args.seed)
    return Trainer(
        net, x, t, xt, tt,
        epochs=None if args.iters is not None else s["epochs"],
        mini_batch_size=s["batch_size"] // size,
        optimizer=optimizer,
        verbose=not args.quiet and distributed.is_root(),
        seed=args.seed + 1000 * (comm.rank if comm is not None else 0),
        max_iter=args.iters,
        # alone: keep the rolled-back weights, reported below; under MPI every rank must stop together,
        # so divergence raises and aborts the job (main)
        on_divergence="stop" if comm is None else "raise",
    )  # fmt: skip


def train(args: argparse.Namespace) -> int:
    """``xpnet train``: load the data set, build the network, train, save and plot; the exit status."""
    import numpy as np

    from .. import plot
    from ..backend import set_backend, set_default_dtype
    from ..training import distributed

    check_outputs({"--save": args.save, "--plot": args.plot})
    if args.backend:
        set_backend(args.backend)
    comm = distributed.init_from_cli(args.distributed)  # None when training alone
    set_default_dtype(args.dtype)
    s = settings(args)
    data = _load(args.dataset, args.data_dir, s["model"] == "simple-conv", args.quiet)
    (x, _), _ = data
    n_out = 3 if args.dataset == "spiral" else 10
    net = _network(s["model"], s["hidden"], s["activation"], tuple(x.shape[1:]), n_out, args.seed)
    trainer = make_trainer(args, s, net, data, comm)
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is reported in one line
        trainer.train()
    took = time.perf_counter() - start
    if comm is not None:  # each rank's train accuracy is of its shard: the mean over the (equal) shards
        trainer.final_train_acc = comm.allreduce_obj(trainer.final_train_acc) / comm.size
        if not distributed.is_root():  # rank 0 alone saves, plots and prints
            return 0
    status = 0
    if trainer.diverged is not None:
        if args.quiet:  # otherwise the trainer's log has just said it
            print(f"xpnet: {trainer.diverged}", file=sys.stderr)
        status = 1
    # Weights first: a plot that fails must not cost the run.
    status = max(status, save_trained(args.save, net.save_params, trainer.diverged))
    if args.plot:

        def curves(path: str) -> None:
            plot.training_curves(trainer, path, dataset=args.dataset, model=s["model"])

        if not write_output("plot", args.plot, curves):
            status = 1
    print(
        f"xpnet: {args.dataset} {s['model']} — train acc {trainer.final_train_acc:.4f}, "
        f"test acc {trainer.final_test_acc:.4f} after {trainer.current_iter} iterations "
        f"({trainer.current_iter / trainer.iter_per_epoch:.1f} epochs) in {took:.1f} s "
        f"on {get_backend()} ({active_device()}, {args.dtype})"
        + (" [interrupted]" if trainer.interrupted else "")
        + (" [diverged, rolled back]" if trainer.diverged is not None else "")
    )
    return status


# --- info --------------------------------------------------------------------------------------------


def info() -> int:
    """``xpnet info``: print the version, the backends that work here (or why not) and the data sets found."""
    print(f"xpnet {__version__}")
    print("backends:")
    for name, reason in backend_status().items():
        if reason is None:
            with use_backend(name):
                print(f"  {name:17s} works; new arrays go to {active_device()}")
        else:
            print(f"  {name:17s} unavailable: {reason}")
    print("data sets:")
    for name in DATASETS:
        where = find_dataset(name)
        print(f"  {name:17s} {where if where else 'not found (downloaded on first use)'}")
    print("  spiral            generated (book 2)")
    return 0


# --- main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """The ``xpnet`` command: parse ``argv`` (``sys.argv[1:]`` when None), run the subcommand; the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:  # bare `xpnet`
        print(
            f"usage: xpnet {{{','.join(parser.commands)}}} ... — e.g. 'xpnet train' (book 2's spiral, no data needed) "
            "or 'xpnet info'; see 'xpnet --help'",
            file=sys.stderr,
        )
        return 2
    try:
        status = args.run(args)
        sys.stdout.flush()  # inside the try: a closed pipe (`xpnet info | head -1`) is handled below
        return status
    except (UsageError, ValueError, BackendUnavailableError, DatasetError, DistributedUnavailableError) as e:
        print(f"xpnet: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except TrainingDivergedError as e:
        print(f"xpnet: {e}", file=sys.stderr)
        from ..training import distributed

        distributed.abort(1)  # under mpiexec the other ranks may not have seen it: they would wait forever
        return 1
    except KeyboardInterrupt:  # outside a training loop (which keeps its run): stop in one line
        print("xpnet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away: stop quietly, and keep Python from complaining while flushing at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
