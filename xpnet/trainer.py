"""Book 1's ``Trainer``: mini-batch training with evaluation at every epoch boundary."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .backend import asnumpy, device, get_namespace, host_rng
from .functions import check_labels
from .optimizers import OPTIMIZERS

__all__ = ["Trainer", "TrainingDivergedError"]


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


class Trainer:
    """Trains ``network`` on ``(x_train, t_train)`` and evaluates on both sets once per epoch.

    Book 1's signature and lists (``train_loss_list``, ``train_acc_list``, ``test_acc_list``;
    the accuracy lists get one entry at the start of each epoch, as in the book). Beyond the
    book: ``seed`` for the mini-batch draws, a progress bar when ``verbose``, ``max_iter`` to
    stop early, epochs counted in whole iterations (``ceil(N / batch)``, so evaluations
    happen whatever the data size), a NaN/inf loss stops training with
    :class:`TrainingDivergedError`, and Ctrl-C ends training keeping what was learned.

    The data stay where they are (on the GPU with cupy): each epoch's mini-batch indices are
    drawn on the host in one go and sent over once; losses are read back only every
    ``log_every`` steps and at epoch ends.
    """

    def __init__(
        self,
        network: Any,
        x_train: Any,
        t_train: Any,
        x_test: Any,
        t_test: Any,
        epochs: int = 20,
        mini_batch_size: int = 100,
        optimizer: Any = "SGD",
        optimizer_param: dict | None = None,
        evaluate_sample_num_per_epoch: int | None = None,
        verbose: bool = True,
        *,
        seed: Any = None,
        max_iter: int | None = None,
        log_every: int = 50,
    ) -> None:
        if int(epochs) != epochs or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs}")
        if int(mini_batch_size) != mini_batch_size or mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be a positive integer, got {mini_batch_size}")
        if x_train.shape[0] != t_train.shape[0] or x_test.shape[0] != t_test.shape[0]:
            raise ValueError(
                f"data and labels differ in length: x_train {tuple(x_train.shape)} vs t_train "
                f"{tuple(t_train.shape)}, x_test {tuple(x_test.shape)} vs t_test {tuple(t_test.shape)}"
            )
        if x_train.shape[0] == 0:
            raise ValueError("x_train is empty")
        self.network = network
        self.x_train, self.t_train, self.x_test, self.t_test = x_train, t_train, x_test, t_test
        self.epochs, self.batch_size = int(epochs), int(mini_batch_size)
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.verbose, self.log_every = verbose, max(1, int(log_every))
        if isinstance(optimizer, str):
            key = optimizer.lower()
            if key not in OPTIMIZERS:
                raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
            optimizer = OPTIMIZERS[key](**(optimizer_param if optimizer_param is not None else {"lr": 0.01}))
        self.optimizer = optimizer
        self.rng = host_rng(seed) if seed is not None else np.random.default_rng()

        self.train_size = x_train.shape[0]
        self.iter_per_epoch = max(math.ceil(self.train_size / self.batch_size), 1)
        self.max_iter = self.epochs * self.iter_per_epoch
        if max_iter is not None:
            self.max_iter = min(self.max_iter, int(max_iter))
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list: list[float] = []
        self.train_acc_list: list[float] = []
        self.test_acc_list: list[float] = []
        self.final_train_acc: float | None = None
        self.final_test_acc: float | None = None
        self.interrupted = False
        self.elapsed = 0.0
        self._pending: list[Any] = []
        self._batches: Any = None
        self._bar: Any = None

        # Labels are checked once here, so the training step never reads them back.
        n_classes = network.predict(x_train[:1, ...]).shape[-1]
        for t in (t_train, t_test):
            if t.ndim == 1:
                check_labels(t, n_classes, sync=True)

    # --- one step ---------------------------------------------------------------------

    def _epoch_indices(self) -> Any:
        """One epoch of mini-batch indices, drawn with replacement on the host, sent over once."""
        idx = self.rng.integers(0, self.train_size, size=(self.iter_per_epoch, self.batch_size))
        xp = get_namespace(self.x_train)
        return xp.asarray(idx, device=device(self.x_train))

    def train_step(self) -> None:
        """One mini-batch: gradient, update, loss recorded; an evaluation at each epoch start."""
        k = self.current_iter % self.iter_per_epoch
        if k == 0:
            self._batches = self._epoch_indices()
            self._evaluate()
        xp = get_namespace(self.x_train)
        batch = self._batches[k, ...]
        x_batch = xp.take(self.x_train, batch, axis=0)
        t_batch = xp.take(self.t_train, batch, axis=0)
        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)
        # The loss of the gradient's forward pass (the book computes it again): stays on the device until logged.
        loss = getattr(self.network, "last_loss", None)
        self._pending.append(loss if loss is not None else self.network.loss(x_batch, t_batch))
        self.current_iter += 1
        if self.current_iter % self.log_every == 0:
            self._flush()

    def _flush(self) -> None:
        """Read the pending losses back in one transfer; stop on NaN or inf."""
        if not self._pending:
            return
        xp = get_namespace(self._pending[0])
        losses = asnumpy(xp.stack(self._pending)).astype(float).tolist()
        start = len(self.train_loss_list)
        self._pending = []
        self.train_loss_list.extend(losses)
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
        if bad:
            lr = getattr(self.optimizer, "lr", None)
            raise TrainingDivergedError(
                f"training diverged at iteration {start + bad[0] + 1}: the loss became {losses[bad[0]]}; "
                f"try a lower learning rate{f' (it is {lr})' if lr is not None else ''}"
            )

    def _evaluate(self) -> None:
        n = self.evaluate_sample_num_per_epoch
        x_tr, t_tr, x_te, t_te = self.x_train, self.t_train, self.x_test, self.t_test
        if n is not None:
            x_tr, t_tr, x_te, t_te = x_tr[:n, ...], t_tr[:n, ...], x_te[:n, ...], t_te[:n, ...]
        self._flush()
        train_acc = self.network.accuracy(x_tr, t_tr)
        test_acc = self.network.accuracy(x_te, t_te)
        self.train_acc_list.append(train_acc)
        self.test_acc_list.append(test_acc)
        self.current_epoch = len(self.train_acc_list)
        if (self.current_epoch - 1) % max(1, self.epochs // 20) == 0:  # at most about 20 lines
            self._say(f"epoch {self.current_epoch}: train acc {train_acc:.4f}, test acc {test_acc:.4f}")

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
            while self.current_iter < self.max_iter:
                self.train_step()
                if self._bar is not None:
                    self._bar.update(1)
            self._flush()
        except KeyboardInterrupt:
            self.interrupted = True
            self._pending = []
            self._say(f"interrupted at iteration {self.current_iter}: keeping what was learned so far")
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            self.elapsed = time.perf_counter() - start
        self.final_train_acc = self.network.accuracy(self.x_train, self.t_train)
        self.final_test_acc = self.network.accuracy(self.x_test, self.t_test)
        self._say(
            f"=============== Final Test Accuracy ===============\n"
            f"test acc: {self.final_test_acc:.4f} (train acc {self.final_train_acc:.4f})"
        )
