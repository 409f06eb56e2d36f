"""Run by tests/test_distributed.py under ``mpiexec -n 2``: many checks in one launch (each launch costs ~1 s).

``XPNET_TEST_BACKEND`` is ``name`` or ``name:device`` (``array_api_strict:device1``);
``XPNET_WORKER_MODE`` is ``check`` (default) or ``raise`` (rank 1 fails while rank 0 waits in a collective).
Every rank prints ``rank R OK`` at the end; any failed check raises, which aborts every rank.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import xpnet
from xpnet import distributed
from xpnet.models import MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from xpnet.optimizers import SGD, Momentum

BATCH = 100
STEPS = 3


def networks():
    """(name, factory, x of the whole batch on the host) for the three networks of the issue."""
    rng = np.random.default_rng(7)
    x_flat = rng.standard_normal((BATCH, 16))
    x_img = rng.standard_normal((BATCH, 1, 8, 8))
    conv = {"filter_num": 4, "filter_size": 3, "pad": 0, "stride": 1}
    return [
        ("TwoLayerNet", lambda: TwoLayerNet(16, 12, 10, weight_init_std=0.3, dtype="float64", rng=1), x_flat),
        (
            "MultiLayerNetExtend+BatchNorm",
            lambda: MultiLayerNetExtend(16, [12, 12], 10, use_batchnorm=True, dtype="float64", rng=2),
            x_flat,
        ),
        (
            "SimpleConvNet",
            lambda: SimpleConvNet((1, 8, 8), conv, hidden_size=10, output_size=10, weight_init_std=0.3,
                                  dtype="float64", rng=3),
            x_img,
        ),
    ]  # fmt: skip


def host(net):
    """Parameters and buffers of ``net`` as host arrays, by name."""
    return {k: xpnet.asnumpy(v).copy() for k, v in net.checkpoint_state().items() if v is not None}


def check_close(name, got, want, atol=1e-12):
    assert got.keys() == want.keys(), (name, sorted(got), sorted(want))
    for k in want:
        diff = float(np.max(np.abs(got[k] - want[k]))) if want[k].size else 0.0
        assert diff <= atol, f"{name}: {k} differs from the single-process step by {diff:.3g} (> {atol})"


def check_same_on_every_rank(comm, name, net):
    mine = host(net)
    for r, theirs in enumerate(comm.allgather_obj(mine)):
        for k in mine:
            assert np.array_equal(theirs[k], mine[k]), f"{name}: {k} differs between rank {r} and rank {comm.rank}"


def exactness(comm):
    labels = np.random.default_rng(8).integers(0, 10, size=BATCH)
    for name, make, x_host in networks():
        x, t = xpnet.asarray(x_host, dtype="float64"), xpnet.asarray(labels, dtype="int64")
        # The single process: one SGD step on the whole batch.
        ref = make()
        SGD(lr=0.1).update(ref.params, ref.gradient(x, t))
        # Data parallel: rank 1 starts from other weights, bcast_params makes them rank 0's.
        net = distributed.create_mnbn_model(make(), comm)
        if comm.rank == 1:
            for k in net.params:
                net.params[k][...] = net.params[k] + 1.0
        comm.bcast_params(net)
        x_mine, t_mine = distributed.scatter_dataset((x, t), comm)
        assert x_mine.shape[0] == BATCH // comm.size, x_mine.shape
        opt = distributed.create_multi_node_optimizer(SGD(lr=0.1), comm)
        assert opt.lr == 0.1
        opt.update(net.params, net.gradient(x_mine, t_mine))
        check_close(name, host(net), host(ref))
        # More steps on each rank's own shuffled shard, with momentum: the ranks stay identical.
        opt = distributed.create_multi_node_optimizer(Momentum(lr=0.05), comm)
        x_mine, t_mine = distributed.scatter_dataset((x, t), comm, shuffle=True, seed=comm.rank)
        for _ in range(STEPS):
            opt.update(net.params, net.gradient(x_mine, t_mine))
        check_same_on_every_rank(comm, name, net)
        packs = dict(comm._packs)
        opt.update(net.params, net.gradient(x_mine, t_mine))
        assert comm._packs.keys() == packs.keys() and all(comm._packs[k] is packs[k] for k in packs), (
            "the pack buffers must be reused between steps"
        )
        total = sum(int(np.prod(p.shape)) for p in net.params.values())
        n_grad_packs = sum(1 for k in comm._packs if k[0] == "grads" and k[2] == total)
        assert n_grad_packs == 1, f"{name}: {n_grad_packs} gradient buffers for one dtype"


def trainer_unchanged(comm):
    """Book 1's Trainer with the multi-node optimizer: runs, reads optimizer.lr, ends identical on every rank."""
    rng = np.random.default_rng(9)
    x = xpnet.asarray(rng.standard_normal((60, 16)), dtype="float64")
    t = xpnet.asarray(rng.integers(0, 10, size=60), dtype="int64")
    net = TwoLayerNet(16, 12, 10, weight_init_std=0.3, dtype="float64", rng=comm.rank)  # different weights
    opt = distributed.create_multi_node_optimizer(SGD(lr=0.1), comm)  # broadcasts them at its first update
    x_mine, t_mine = distributed.scatter_dataset((x, t), comm, shuffle=True)
    trainer = xpnet.Trainer(net, x_mine, t_mine, x, t, epochs=2, mini_batch_size=10, optimizer=opt,
                            verbose=False, seed=comm.rank)  # fmt: skip
    trainer.train()
    assert trainer.current_iter == 6, trainer.current_iter
    check_same_on_every_rank(comm, "Trainer", net)
    opt.lr = 0.05
    assert opt.actual_optimizer.lr == 0.05


def objects_and_data(comm):
    assert comm.allreduce_obj(comm.rank + 1) == sum(range(1, comm.size + 1))
    assert comm.allreduce_obj(comm.rank, op="max") == comm.size - 1
    assert comm.bcast_obj({"rank": comm.rank})["rank"] == 0
    assert distributed.is_root() == (comm.rank == 0) == comm.is_root
    # 7 samples over 2 ranks: padded to 4 each by wrapping, or 3 each with the remainder dropped.
    data = xpnet.asarray(np.arange(7.0), dtype="float64")
    pad = xpnet.asnumpy(distributed.scatter_dataset(data, comm))
    drop = xpnet.asnumpy(distributed.scatter_dataset(data, comm, remainder="drop"))
    every = comm.allgather_obj(pad.tolist())
    assert sum(every, []) == [0, 1, 2, 3, 4, 5, 6, 0][: 4 * comm.size], every
    assert len(drop) == 7 // comm.size
    letters = distributed.scatter_dataset(list("abcde"), comm)
    assert "".join(letters[i] for i in range(len(letters))) == "abcdea"[comm.rank * 3 :][:3]
    try:
        distributed.create_communicator("nccl")
    except distributed.DistributedUnavailableError as e:
        assert "CuPy" in str(e) or "CUDA" in str(e), e
    else:
        if xpnet.get_backend() != "cupy":
            raise AssertionError("create_communicator('nccl') should need CuPy here")


def main():
    spec = os.environ.get("XPNET_TEST_BACKEND", "numpy")
    name, _, dev = spec.partition(":")
    xpnet.set_backend(name, dev or None)
    xpnet.set_default_dtype("float64")
    comm = distributed.create_communicator("mpi")
    if os.environ.get("XPNET_WORKER_MODE") == "raise":
        if comm.rank == 1:
            raise ValueError("boom from rank 1")
        net = TwoLayerNet(4, 3, 2, dtype="float64")
        comm.allreduce_grads(list(net.params.values()))  # waits for rank 1, which never comes
        sys.exit(0)
    exactness(comm)
    trainer_unchanged(comm)
    objects_and_data(comm)
    comm = distributed.create_communicator("mpi")  # nccl attempt above replaced the current one
    print(f"rank {comm.rank} OK", flush=True)


if __name__ == "__main__":
    main()
