"""The training step never brings a value back to the host (design rule: no ``float()``,
``.item()``, ``asnumpy`` per step).

On array_api_strict and torch the conversions to Python scalars and host arrays are Python
methods of the array class, so a test can make every one of them raise while steps run.
(NumPy's are not patchable; CuPy's sync detector is deprecated.)
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import xpnet
from xpnet import Trainer
from xpnet.models import MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet

HOST_CONVERSIONS = (
    "__float__",
    "__int__",
    "__bool__",
    "__index__",
    "__complex__",
    "__array__",
    "__iter__",
    "__dlpack__",
)
TORCH_ONLY = ("item", "tolist", "numpy", "cpu")


class HostSyncError(AssertionError):
    pass


def needs_guard(case):
    if case.name not in ("array_api_strict", "torch"):
        pytest.skip(f"{case.name}: host conversions cannot be intercepted")


@contextlib.contextmanager
def no_host_sync(case, monkeypatch):
    """Every host conversion of this backend's arrays raises :class:`HostSyncError` inside the block."""
    needs_guard(case)
    if case.name == "array_api_strict":
        import array_api_strict

        cls = type(array_api_strict.asarray(0.0))
        names = HOST_CONVERSIONS
    elif case.name == "torch":
        import torch

        cls = torch.Tensor
        names = (*HOST_CONVERSIONS, *TORCH_ONLY)

    def forbid(name):
        def raiser(self, *args, **kwargs):
            raise HostSyncError(f"{name} called on an array inside the training step")

        return raiser

    with monkeypatch.context() as m:
        for name in names:
            if hasattr(cls, name):
                m.setattr(cls, name, forbid(name))
        yield


def test_the_guard_catches_a_sync(backend, monkeypatch):
    """The guard itself works (a test that cannot fail would prove nothing)."""
    x = backend.asarray([1.0, 2.0])
    with no_host_sync(backend, monkeypatch), pytest.raises(HostSyncError):
        float(backend.xp.sum(x))
    assert float(backend.xp.sum(x)) == 3.0


NETWORKS = {
    "TwoLayerNet": lambda dt: (TwoLayerNet(12, 7, 3, dtype=dt), (12,)),
    "MultiLayerNet": lambda dt: (MultiLayerNet(12, [7, 5], 3, weight_decay_lambda=0.1, dtype=dt), (12,)),
    "MultiLayerNetExtend": lambda dt: (
        MultiLayerNetExtend(12, [7, 5], 3, use_dropout=True, dropout_ration=0.2, use_batchnorm=True, dtype=dt),
        (12,),
    ),
    "SimpleConvNet": lambda dt: (
        SimpleConvNet((1, 8, 8), {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1}, 6, 3, dtype=dt),
        (1, 8, 8),
    ),
}


def labels(case, kind, r, n):
    t = r.integers(0, 3, n)
    if kind == "one-hot":
        return case.asarray(np.eye(3)[t])
    t = xpnet.asarray(t)
    if xpnet.backend.on_host(t):
        pytest.skip(
            "integer labels on the host are range-checked on every call "
            "(two numbers read, no device to wait for); device arrays skip that check"
        )
    return t


@pytest.mark.parametrize("label_kind", ["one-hot", "integer"])
@pytest.mark.parametrize("kind", NETWORKS)
@pytest.mark.parametrize("optimizer", sorted(xpnet.optimizers.OPTIMIZERS))
def test_gradient_and_update_stay_on_the_device(backend, monkeypatch, kind, optimizer, label_kind):
    needs_guard(backend)
    net, shape = NETWORKS[kind](backend.dtype)
    r = np.random.default_rng(0)
    x, t = backend.asarray(r.random((10, *shape))), labels(backend, label_kind, r, 10)
    opt = xpnet.optimizers.OPTIMIZERS[optimizer]()
    opt.update(net.params, net.gradient(x, t))  # first step outside: optimizer state is created
    with no_host_sync(backend, monkeypatch):
        for _ in range(3):
            opt.update(net.params, net.gradient(x, t))
        loss = net.last_loss
    assert np.isfinite(float(loss))


@pytest.mark.parametrize("label_kind", ["one-hot", "integer"])
def test_trainer_steps_read_back_only_when_logging(backend, monkeypatch, label_kind):
    needs_guard(backend)
    r = np.random.default_rng(0)
    x, t = backend.asarray(r.random((64, 12))), labels(backend, label_kind, r, 64)
    net = TwoLayerNet(12, 7, 3, dtype=backend.dtype)
    trainer = Trainer(net, x, t, x, t, epochs=2, mini_batch_size=8, log_every=5, verbose=False, seed=0)
    trainer.train_step()  # the epoch's start: indices drawn, accuracy evaluated (host reads, on purpose)
    with no_host_sync(backend, monkeypatch):
        for _ in range(3):  # steps 2-4: no evaluation, no log
            trainer.train_step()
        with pytest.raises(HostSyncError):
            trainer.train_step()  # step 5 logs: one read-back of five losses
    assert trainer.current_iter == 5
    trainer._flush()
    assert len(trainer.train_loss_list) == 5 and all(np.isfinite(trainer.train_loss_list))


def test_numgrad_generic_plan_reads_no_index_back(backend, monkeypatch):
    """The generic plan (BatchNorm's gamma and beta) perturbs entries by indices kept on the host:
    no device read per perturbation (it used to call int(idx[j]) for each one)."""
    if backend.dtype != "float64":
        pytest.skip("gradient checks run in float64")
    from xpnet.numgrad import _Context, _plan

    net = MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, dtype="float64")
    x = backend.asarray(np.random.default_rng(0).standard_normal((4, 6)))
    t = xpnet.asarray(np.array([0, 1, 2, 1]))
    ctx = _Context(net, x, t)
    layer, slot = net.params.owner("gamma1")
    k = next(i for i, candidate in enumerate(ctx.layers) if candidate is layer)
    plan = _plan(ctx.layers, k, slot)
    xp = backend.xp
    idx = xp.asarray([0, 1, 0, 1], device=xpnet.backend.array_device(x))
    steps = xp.asarray([1e-4, 1e-4, -1e-4, -1e-4], dtype=xp.float64, device=xpnet.backend.array_device(x))
    with no_host_sync(backend, monkeypatch):
        losses = plan.losses(net, ctx, idx, steps, [0, 1, 0, 1])
    assert losses.shape == (4,)
