"""ChainerMN's multi-node wrappers over a communicator of :mod:`xpnet.training.distributed`.

``MultiNodeOptimizer`` (gradients all-reduced before the wrapped optimizer's update),
``scatter_dataset`` (each rank its shard), ``MultiNodeBatchNormalization`` (statistics
all-reduced) and ``prepare_training``, which applies all of them to a single-process script.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend import array_device, get_namespace
from ..layers import BatchNormalization
from .distributed import MpiCommunicator

__all__ = [
    "MultiNodeOptimizer",
    "MultiNodeBatchNormalization",
    "create_multi_node_optimizer",
    "create_mnbn_model",
    "scatter_dataset",
    "prepare_training",
]


class MultiNodeOptimizer:
    """Any xpnet optimizer made data-parallel: ``update(params, grads)`` all-reduces the
    gradients (mean over the ranks), then calls the wrapped optimizer's ``update``.

    Attributes not its own (``lr``, ``iter``, ``v``...) are read from and written to the
    wrapped optimizer, so code that reads or schedules ``optimizer.lr`` works unchanged. At
    its first update it broadcasts rank 0's parameters (as ChainerMN does), so ranks that
    started from different weights agree from then on.
    """

    _own = ("actual_optimizer", "communicator", "needs_broadcast")

    def __init__(self, actual_optimizer: Any, communicator: MpiCommunicator) -> None:
        if not hasattr(actual_optimizer, "update"):
            raise TypeError(f"expected an optimizer with update(params, grads), got {type(actual_optimizer).__name__}")
        object.__setattr__(self, "actual_optimizer", actual_optimizer)
        object.__setattr__(self, "communicator", communicator)
        object.__setattr__(self, "needs_broadcast", True)

    def update(self, params: Any, grads: Any) -> None:
        if self.needs_broadcast:
            self.communicator.bcast_params(params)
            object.__setattr__(self, "needs_broadcast", False)
        self.communicator.allreduce_grads(grads)
        self.actual_optimizer.update(params, grads)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "actual_optimizer"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._own:
            object.__setattr__(self, name, value)
        else:
            setattr(self.actual_optimizer, name, value)

    def __repr__(self) -> str:
        return f"MultiNodeOptimizer({self.actual_optimizer!r}, {self.communicator!r})"


def create_multi_node_optimizer(actual_optimizer: Any, communicator: MpiCommunicator) -> MultiNodeOptimizer:
    """Wrap ``actual_optimizer`` (any object with ``update(params, grads)``) for data-parallel training."""
    return MultiNodeOptimizer(actual_optimizer, communicator)


# --- data -------------------------------------------------------------------------------


class _SubDataset:
    """Items ``indices`` of ``dataset`` (anything with ``len`` and ``[]``)."""

    def __init__(self, dataset: Any, indices: np.ndarray) -> None:
        self.dataset, self.indices = dataset, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[int(self.indices[i])]


def scatter_dataset(
    dataset: Any, comm: MpiCommunicator, shuffle: bool = False, seed: int = 0, *, remainder: str = "pad"
) -> Any:
    """This rank's shard of ``dataset``: ``(x, t)`` (or a list/tuple of arrays with one length),
    a single array, or anything with ``len`` and ``[]``.

    Every rank passes the same data (each loads it from disk); only the index range differs,
    so no data is sent. With ``shuffle`` the samples are permuted with ``seed`` (the same on
    every rank) before splitting. Every rank gets the same number of samples, hence the same
    number of steps per epoch: ``remainder="pad"`` (default; ChainerMN's
    ``force_equal_length=True``) tops the last shards up by wrapping around to the first
    samples of the order, ``"drop"`` leaves the last ``len % size`` samples out.
    """
    if remainder not in ("pad", "drop"):
        raise ValueError(f"remainder must be 'pad' or 'drop', not {remainder!r}")
    if isinstance(dataset, (tuple, list)) and dataset and all(hasattr(a, "shape") for a in dataset):
        arrays: list[Any] | None = list(dataset)
        n = arrays[0].shape[0]
        if any(a.shape[0] != n for a in arrays):
            raise ValueError(f"scatter_dataset: arrays differ in length: {[tuple(a.shape) for a in arrays]}")
    elif hasattr(dataset, "shape"):
        arrays, n = [dataset], dataset.shape[0]
    else:
        arrays, n = None, len(dataset)
    sig = (n, [tuple(a.shape) for a in arrays] if arrays else None)
    sigs = comm.allgather_obj(sig)
    if any(s != sigs[0] for s in sigs):
        raise ValueError(f"scatter_dataset: the ranks hold different data sets (shapes by rank: {sigs})")
    size = comm.size
    per = math.ceil(n / size) if remainder == "pad" else n // size
    if per == 0:
        raise ValueError(f"scatter_dataset: {n} samples cannot give each of {size} ranks one (remainder='drop')")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    if per * size > n:
        order = np.resize(order, per * size)  # wraps around to the start of the order
    idx = order[comm.rank * per : (comm.rank + 1) * per]
    if arrays is None:
        return _SubDataset(dataset, idx)
    shards = []
    for a in arrays:
        xp = get_namespace(a)
        shards.append(xp.take(a, xp.asarray(idx, device=array_device(a)), axis=0))
    if isinstance(dataset, (tuple, list)):
        return type(dataset)(shards) if isinstance(dataset, list) else tuple(shards)
    return shards[0]


# --- batch normalisation over every rank --------------------------------------------------


class MultiNodeBatchNormalization(BatchNormalization):
    """:class:`~xpnet.layers.BatchNormalization` whose batch is the union of every rank's batch.

    In training, the mean and variance are all-reduced (two small collectives: the sum and
    count, then the centred sum of squares, which keeps the two-pass accuracy of one process),
    and so are the two batch sums the input gradient needs (one collective). The running
    averages are updated with the global statistics, so they agree on every rank.
    ``backward`` returns the gradient of the *sum* of the ranks' losses with respect to this
    rank's input, the scaling the multi-node optimizer's mean expects; ``gamma``'s and
    ``beta``'s gradients are this rank's sums, averaged by the optimizer like every other
    gradient. Inference (``train_flg=False``) and ``forward_many`` are local.
    """

    def __init__(
        self,
        gamma: Any,
        beta: Any,
        comm: MpiCommunicator,
        momentum: float = 0.9,
        running_mean: Any = None,
        running_var: Any = None,
    ) -> None:
        super().__init__(gamma, beta, momentum, running_mean, running_var)
        self.comm = comm
        self.global_size: Any = None  # total batch size over the ranks, a 0-d array (no host read)
        self.sum_xc: Any = None

    def batch_statistics(self, x: Any) -> tuple[Any, Any, Any]:
        xp = get_namespace(x)
        total = xp.sum(x, axis=0)
        count = xp.full((1,), x.shape[0], dtype=x.dtype, device=array_device(x))
        self.comm.allreduce_sum([total, count], tag="bn")
        n = count[0]
        mu = total / n
        xc = x - mu
        sq, sum_xc = xp.sum(xc * xc, axis=0), xp.sum(xc, axis=0)
        self.comm.allreduce_sum([sq, sum_xc], tag="bn")
        self.global_size, self.sum_xc = n, sum_xc
        return mu, xc, sq / n

    def backward(self, dout: Any, *, input_grad: bool = True) -> Any:
        xp, dxn = self.param_grads(dout)
        sum_dxn_xc, sum_dxn = xp.sum(dxn * self.xc, axis=0), xp.sum(dxn, axis=0)
        self.comm.allreduce_sum([sum_dxn_xc, sum_dxn], tag="bn")
        n, std = self.global_size, self.std
        dvar = -0.5 * sum_dxn_xc / (std * std * std)
        dmu = sum_dxn / std + (2.0 / n) * dvar * self.sum_xc
        dx = dxn / std + (2.0 / n) * self.xc * dvar - dmu / n
        return xp.reshape(dx, self.input_shape)


def create_mnbn_model(net: Any, comm: MpiCommunicator) -> Any:
    """Replace every :class:`~xpnet.layers.BatchNormalization` of ``net`` (its ``layers``, a dict
    or a list) by a :class:`MultiNodeBatchNormalization` holding the same arrays; returns ``net``."""
    layers = net.layers
    items = list(layers.items()) if hasattr(layers, "items") else list(enumerate(layers))
    for key, layer in items:
        if type(layer) is not BatchNormalization:
            continue
        new = MultiNodeBatchNormalization(
            layer.params[0], layer.params[1], comm, layer.momentum, layer.running_mean, layer.running_var
        )
        new.params, new.grads = layer.params, layer.grads  # the very lists: optimizers and views keep working
        layers[key] = new
        params = getattr(net, "params", None)
        if hasattr(params, "owner"):  # book 1's ParamDict binds names to (layer, slot)
            for pname in list(params):
                owner, i = params.owner(pname)
                if owner is layer:
                    params.bind(pname, new, i)
    return net


def prepare_training(
    comm: MpiCommunicator | None, network: Any, optimizer: Any, x_train: Any, t_train: Any, *, seed: int = 0
) -> tuple[Any, Any, Any]:
    """Everything a single-process script changes for data parallelism, in one call.

    Broadcasts rank 0's parameters, makes BatchNorm multi-node, wraps ``optimizer`` and
    returns ``(optimizer, x_shard, t_shard)``; with ``comm=None`` returns its inputs unchanged.
    """
    if comm is None:
        return optimizer, x_train, t_train
    if hasattr(network, "layers"):
        create_mnbn_model(network, comm)
    comm.bcast_params(network)
    x, t = scatter_dataset((x_train, t_train), comm, shuffle=True, seed=seed)
    return create_multi_node_optimizer(optimizer, comm), x, t
