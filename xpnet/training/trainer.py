"""Book 1's ``Trainer``: mini-batch training with evaluation at every epoch boundary."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..backend import array_device, asnumpy, get_namespace, host_rng
from ..layers.functions import check_labels
from .capture import StepCapture
from .divergence import LOSS_CEILING, DivergenceWatch, TrainingDivergedError
from .optimizers import OPTIMIZERS

__all__ = ["Trainer", "TrainingDivergedError", "LOSS_CEILING"]


class Trainer:
    """Trains ``network`` on ``(x_train, t_train)`` and evaluates on both sets once per epoch.

    Book 1's signature and lists. ``train_loss_list[i]`` is the loss of iteration ``i + 1``.
    As in the book, the accuracies are measured at the *start* of each epoch, so
    ``train_acc_list[k]`` / ``test_acc_list[k]`` hold the accuracy **after k epochs**
    (``[0]``: the untrained network, before epoch 1); the accuracy after the last iteration
    is ``final_train_acc`` / ``final_test_acc`` (on the full sets). The log says
    "before training", "after epoch k" and "final" accordingly.

    Beyond the book: ``seed`` for the mini-batch draws (``None`` follows :func:`xpnet.seed`),
    a progress bar when ``verbose``, ``max_iter`` to stop early (``epochs=None, max_iter=N``
    runs exactly ``N`` iterations), epochs counted in whole iterations (``ceil(N / batch)``,
    so evaluations happen whatever the data size), and Ctrl-C ends training keeping what
    was learned. ``capture=True`` records the gradient step once as a CUDA graph (CuPy, CUDA
    torch) and replays it (:mod:`xpnet.training.capture`); elsewhere one line says why not and training
    goes on as without it.

    **Divergence.** Losses stay on the device and are read back every ``log_every`` steps
    (and at each epoch start and the end), where :class:`xpnet.training.divergence.DivergenceWatch` --
    the rule every xpnet trainer shares -- judges them. With ``L0`` the first loss (the
    untrained network's), training has diverged when over the losses since the last read a
    loss or a parameter is NaN or infinite, or the median loss is at least ``max(3 L0, L0 + 2)``,
    or the network *collapsed* (the loss jumped, came back only to ``L0``, and some parameter
    array stopped changing: dead ReLUs; with momentum or Adam this is seen later).

    A run that starts saturated or whose weight decay dominates the loss has a large ``L0``
    and is judged against it; a slow run (tiny learning rate) never jumps, so it is left alone.

    No host read happens between logs: each read checks the window at once, and then one
    device-side copy of the parameters (and layers' ``buffers``) is kept. On divergence the
    network is **rolled back** to the last good copy, then
    :class:`TrainingDivergedError` says where it diverged and where it was rolled back to
    (``on_divergence="raise"``, default), or training stops keeping those weights
    (``on_divergence="stop"``: ``diverged`` holds the error and ``final_*_acc`` are those
    of the rolled-back network). The optimizer's state (momenta) is not rolled back.

    Non-finite values in the *data* are a data problem: they are found once, up front (one
    read on the device) and raise ``ValueError`` naming the array.

    The data stay where they are (on the GPU with cupy): each epoch's mini-batch indices are
    drawn on the host in one go and sent over once.

    >>> import xpnet
    >>> from xpnet.datasets import load_spiral
    >>> x, t = load_spiral()
    >>> net = xpnet.TwoLayerNet(2, 10, 3, activation="sigmoid", rng=0)
    >>> trainer = xpnet.Trainer(
    ...     net, x, t, x, t, epochs=20, mini_batch_size=30, optimizer_param={"lr": 1.0}, verbose=False, seed=0
    ... )
    >>> trainer.train()
    >>> len(trainer.train_loss_list), len(trainer.train_acc_list)  # 10 iterations an epoch; an accuracy per epoch
    (200, 20)
    >>> trainer.final_train_acc > trainer.train_acc_list[0]
    True
    """

    def __init__(
        self,
        network: Any,
        x_train: Any,
        t_train: Any,
        x_test: Any,
        t_test: Any,
        epochs: int | None = 20,
        mini_batch_size: int = 100,
        optimizer: Any = "SGD",
        optimizer_param: dict | None = None,
        evaluate_sample_num_per_epoch: int | None = None,
        verbose: bool = True,
        *,
        seed: Any = None,
        max_iter: int | None = None,
        log_every: int = 50,
        on_divergence: str = "raise",
        capture: bool = False,
    ) -> None:
        if epochs is None and max_iter is None:
            raise ValueError("give epochs or max_iter (epochs=None needs max_iter)")
        if epochs is not None and (int(epochs) != epochs or epochs < 1):
            raise ValueError(f"epochs must be a positive integer, got {epochs}")
        if max_iter is not None and (int(max_iter) != max_iter or max_iter < 1):
            raise ValueError(f"max_iter must be a positive integer, got {max_iter}")
        if int(mini_batch_size) != mini_batch_size or mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be a positive integer, got {mini_batch_size}")
        if on_divergence not in ("raise", "stop"):
            raise ValueError(f"on_divergence must be 'raise' or 'stop', not {on_divergence!r}")
        if x_train.shape[0] != t_train.shape[0] or x_test.shape[0] != t_test.shape[0]:
            raise ValueError(
                f"data and labels differ in length: x_train {tuple(x_train.shape)} vs t_train "
                f"{tuple(t_train.shape)}, x_test {tuple(x_test.shape)} vs t_test {tuple(t_test.shape)}"
            )
        if x_train.shape[0] == 0:
            raise ValueError("x_train is empty")
        self.network = network
        self.x_train, self.t_train, self.x_test, self.t_test = x_train, t_train, x_test, t_test
        self.batch_size = int(mini_batch_size)
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.verbose, self.log_every = verbose, max(1, int(log_every))
        self.on_divergence = on_divergence
        if isinstance(optimizer, str):
            key = optimizer.lower()
            if key not in OPTIMIZERS:
                raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
            optimizer = OPTIMIZERS[key](**(optimizer_param if optimizer_param is not None else {"lr": 0.01}))
        self.optimizer = optimizer
        self.rng = host_rng(seed)  # None: xpnet's generator, so xpnet.seed(n) makes the draws repeatable

        self.train_size = x_train.shape[0]
        self.iter_per_epoch = max(math.ceil(self.train_size / self.batch_size), 1)
        if epochs is None:
            self.epochs = math.ceil(int(max_iter) / self.iter_per_epoch)
            self.max_iter = int(max_iter)
        else:
            self.epochs = int(epochs)
            self.max_iter = self.epochs * self.iter_per_epoch
            if max_iter is not None:
                self.max_iter = min(self.max_iter, int(max_iter))
        self.current_iter = 0
        self.current_epoch = 0
        self._watch = DivergenceWatch(self._slots, lambda: list(network.params.values()), optimizer)
        self.train_loss_list: list[float] = self._watch.losses
        self.train_acc_list: list[float] = []
        self.test_acc_list: list[float] = []
        self.final_train_acc: float | None = None
        self.final_test_acc: float | None = None
        self.interrupted = False
        self.diverged: TrainingDivergedError | None = None
        self.elapsed = 0.0
        self._batches: Any = None
        self._bar: Any = None
        self._capture = StepCapture(network, self._say_always) if capture else None

        # Labels and data are checked once here, so the training step never reads them back.
        n_classes = network.predict(x_train[:1, ...]).shape[-1]
        for name, t in (("t_train", t_train), ("t_test", t_test)):
            if t.ndim == 1:
                check_labels(t, n_classes, sync=True)
            elif t.ndim == 2 and t.shape[1] != n_classes:
                raise ValueError(
                    f"{name} is one-hot of width {t.shape[1]} (shape {tuple(t.shape)}), "
                    f"but the network has {n_classes} outputs"
                )
        self._check_data()

    def _check_data(self) -> None:
        """Raise ``ValueError`` naming the arrays that hold NaN or inf.

        One read of one sum per array: NaN and inf survive a sum. Only when a sum is not finite
        (bad values, or finite ones overflowing) are the elements counted, in a second read.
        """
        arrays = {"x_train": self.x_train, "t_train": self.t_train, "x_test": self.x_test, "t_test": self.t_test}
        xp = get_namespace(self.x_train)
        floats = {k: a for k, a in arrays.items() if get_namespace(a) is xp and xp.isdtype(a.dtype, "real floating")}
        if not floats:
            return
        dt = self.x_train.dtype if "x_train" in floats else next(iter(floats.values())).dtype
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum is expected and handled below
            sums = asnumpy(xp.stack([xp.astype(xp.sum(a), dt) for a in floats.values()]))
        if np.isfinite(sums).all():
            return
        suspects = [k for k, v in zip(floats, sums) if not np.isfinite(v)]
        counts = asnumpy(xp.stack([xp.sum(xp.astype(~xp.isfinite(floats[k]), xp.int64)) for k in suspects]))
        bad = [f"{k} has {int(n)} NaN or infinite values" for k, n in zip(suspects, counts) if n]
        if bad:
            raise ValueError(
                f"the training data are not finite: {'; '.join(bad)} -- a problem with the data (fix or drop "
                "those samples), not with the learning rate"
            )

    # --- one step ---------------------------------------------------------------------

    def _epoch_indices(self) -> Any:
        """One epoch of mini-batch indices, drawn with replacement on the host, sent over once."""
        idx = self.rng.integers(0, self.train_size, size=(self.iter_per_epoch, self.batch_size))
        xp = get_namespace(self.x_train)
        return xp.asarray(idx, device=array_device(self.x_train))

    def train_step(self) -> None:
        """One mini-batch: gradient, update, loss recorded; an evaluation at each epoch start."""
        self._watch.begin()
        k = self.current_iter % self.iter_per_epoch
        if k == 0:
            self._batches = self._epoch_indices()
            self._evaluate()
        xp = get_namespace(self.x_train)
        batch = self._batches[k, ...]
        x_batch = xp.take(self.x_train, batch, axis=0)
        t_batch = xp.take(self.t_train, batch, axis=0)
        if self._capture is not None:
            grads, loss = self._capture.run(self._gradient, x_batch, t_batch)
            loss = self._capture.keep(loss)
        else:
            grads, loss = self._gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)
        self._watch.add(loss if loss is not None else self.network.loss(x_batch, t_batch))
        self.current_iter += 1
        if self.current_iter % self.log_every == 0:
            self._flush()

    def _gradient(self, x: Any, t: Any) -> tuple[Any, Any]:
        """The gradients and the loss of their forward pass (the book computes it again; here it stays on the
        device until logged): the part of the step ``capture=True`` records."""
        grads = self.network.gradient(x, t)
        return grads, getattr(self.network, "last_loss", None)

    # --- the divergence watch -----------------------------------------------------------

    def _slots(self) -> list[tuple[Any, Any, bool]]:
        """Where the network's state lives: ``(params, name, True)`` and ``(layer, attr, False)`` for buffers."""
        slots = [(self.network.params, name, True) for name in self.network.params]
        layers = getattr(self.network, "layers", {})  # a dict in most of book 1, a list in ch08's DeepConvNet
        for layer in layers.values() if isinstance(layers, dict) else layers:
            slots += [(layer, attr, False) for attr in getattr(layer, "buffers", ())]
        return slots

    def _flush(self) -> None:
        """Read the pending losses back in one transfer and check the window for divergence."""
        values = self._watch.read()
        if values and self._bar is not None:
            self._bar.set_postfix(loss=f"{values[-1]:.4f}", refresh=False)

    # --- evaluation and output ----------------------------------------------------------

    def _evaluate(self) -> None:
        """The book's evaluation at an epoch's start: entry ``k`` of the lists is the accuracy after ``k`` epochs."""
        n = self.evaluate_sample_num_per_epoch
        x_tr, t_tr, x_te, t_te = self.x_train, self.t_train, self.x_test, self.t_test
        if n is not None:
            x_tr, t_tr, x_te, t_te = x_tr[:n, ...], t_tr[:n, ...], x_te[:n, ...], t_te[:n, ...]
        self._flush()
        train_acc = self.network.accuracy(x_tr, t_tr)
        test_acc = self.network.accuracy(x_te, t_te)
        self.train_acc_list.append(train_acc)
        self.test_acc_list.append(test_acc)
        done = len(self.train_acc_list) - 1  # epochs completed
        self.current_epoch = done + 1
        if done % max(1, self.epochs // 20) == 0:  # at most about 20 lines
            when = "before training" if done == 0 else f"after epoch {done}"
            self._say(f"{when}: train acc {train_acc:.4f}, test acc {test_acc:.4f}")

    def _say_always(self, message: str) -> None:
        verbose, self.verbose = self.verbose, True
        try:
            self._say(message)
        finally:
            self.verbose = verbose

    def _say(self, message: str) -> None:
        if not self.verbose:
            return
        if self._bar is not None:
            self._bar.write(message)
        else:
            print(message)

    # --- the loop ---------------------------------------------------------------------

    def train(self) -> None:
        """Run ``max_iter`` steps, then evaluate on the full sets (``final_*_acc``)."""
        start = time.perf_counter()
        if self.verbose:
            from tqdm.auto import tqdm

            # disable=None: no bar when the output is not a terminal (logs, CI)
            self._bar = tqdm(total=self.max_iter, unit="step", leave=False, disable=None)
        try:
            try:
                while self.current_iter < self.max_iter:
                    self.train_step()
                    if self._bar is not None:
                        self._bar.update(1)
                self._flush()
            except KeyboardInterrupt:
                self.interrupted = True
                self._say(f"interrupted at iteration {self.current_iter}: keeping what was learned so far")
                self._flush()  # the last window is checked too: Ctrl-C on a diverging run keeps good weights
        except TrainingDivergedError as e:
            if self.on_divergence == "raise":
                raise
            self.diverged = e
            self._say(f"stopped: {e}")
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            self.elapsed = time.perf_counter() - start
        self.final_train_acc = self.network.accuracy(self.x_train, self.t_train)
        self.final_test_acc = self.network.accuracy(self.x_test, self.t_test)
        epochs = self.current_iter / self.iter_per_epoch
        self._say(
            f"=============== Final Test Accuracy ===============\n"
            f"final (after {self.current_iter} iterations, {epochs:g} epochs): "
            f"test acc {self.final_test_acc:.4f}, train acc {self.final_train_acc:.4f}"
        )
