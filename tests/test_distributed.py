"""xpnet.distributed: two ranks under ``mpiexec -n 2`` take exactly the single-process step.

The multi-rank checks run tests/mpi_worker.py in a subprocess (one launch per backend, many
checks per launch, with a timeout); they skip with one line when mpi4py or mpiexec is missing.
The packing, the optimizer wrapper and the data split are also checked in this process with a
fake transport, on every backend.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close
from test_no_sync import needs_guard, no_host_sync

import xpnet
from xpnet import distributed
from xpnet.distributed import DistributedUnavailableError, MpiCommunicator, MultiNodeBatchNormalization
from xpnet.models import MultiLayerNetExtend
from xpnet.optimizers import SGD, Momentum

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("mpi_worker.py")
TIMEOUT = 120


def _mpiexec() -> str:
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip(f"mpi4py is not installed: {distributed.INSTALL_HINT}")
    exe = shutil.which("mpiexec")
    if exe is None:
        pytest.skip(f"no mpiexec on PATH: {distributed.INSTALL_HINT} (the mpich wheel provides one)")
    return exe


def _run_worker(spec: str, mode: str = "check") -> tuple[subprocess.CompletedProcess, float]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "XPNET_TEST_BACKEND": spec,
        "XPNET_WORKER_MODE": mode,
    }
    start = time.perf_counter()
    proc = subprocess.run(
        [_mpiexec(), "-n", "2", sys.executable, str(WORKER)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return proc, time.perf_counter() - start


def test_two_ranks_take_the_single_process_step(backend64):
    """TwoLayerNet, MultiLayerNetExtend with multi-node BatchNorm and SimpleConvNet: one step on
    2 x 50 samples equals one step on 100 to 1e-12 (float64); identical ranks after more steps;
    the Trainer works with the multi-node optimizer; pack buffers reused (mpi_worker.py)."""
    case = backend64
    spec = case.name if case.device in (None, "cpu") else f"{case.name}:{case.device}"
    proc, _ = _run_worker(spec)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "rank 0 OK" in proc.stdout and "rank 1 OK" in proc.stdout, out[-3000:]


def test_a_failing_rank_stops_every_rank():
    """Rank 1 raises while rank 0 waits in an all-reduce: the job ends quickly, non-zero, with the message."""
    proc, took = _run_worker("numpy", mode="raise")
    assert proc.returncode != 0
    assert "boom from rank 1" in proc.stderr and "rank 1 of 2 failed" in proc.stderr, proc.stderr[-3000:]
    assert took < 60


def test_missing_mpi4py_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(DistributedUnavailableError, match=r"needs mpi4py.*pip install 'xpnet\[mpi\]'") as info:
        distributed.create_communicator("mpi")
    assert "\n" not in str(info.value)


def test_missing_mpi_library_is_one_line():
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip(f"mpi4py is not installed: {distributed.INSTALL_HINT}")
    code = (
        "from xpnet import distributed\n"
        "try:\n    distributed.create_communicator('mpi')\n"
        "except distributed.DistributedUnavailableError as e:\n    print(e)\n"
    )
    env = {**os.environ, "MPI4PY_LIBMPI": "/nonexistent/libmpi.so", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and "no MPI library" in lines[0] and "xpnet[mpi]" in lines[0], proc.stdout + proc.stderr


def test_alone_without_mpi(monkeypatch):
    """No launcher: init_from_cli gives None without touching MPI, prepare_training changes nothing, is_root."""
    for var in (*distributed._RANK_VARS, *distributed._SIZE_VARS):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(distributed, "_current", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # proves MPI is not imported
    assert distributed.init_from_cli(None) is None and distributed.init_from_cli(False) is None
    assert distributed.is_root() and not distributed.under_mpiexec()
    distributed.abort(1)  # alone: nothing to abort
    opt, x, t = object(), object(), object()
    assert distributed.prepare_training(None, None, opt, x, t) == (opt, x, t)
    monkeypatch.setenv("PMI_RANK", "1")
    monkeypatch.setenv("PMI_SIZE", "2")
    assert not distributed.is_root() and distributed.under_mpiexec()
    with pytest.raises(DistributedUnavailableError):
        distributed.init_from_cli(None)
    with pytest.raises(ValueError, match="unknown communicator"):
        distributed.create_communicator("gloo")


# --- in this process, with a fake transport ----------------------------------------------------


class FakeComm(MpiCommunicator):
    """Rank ``rank`` of ``size``, no MPI: the "other ranks" hold the same arrays, so a sum is ``size`` times."""

    def __init__(self, rank: int = 0, size: int = 2) -> None:
        self.rank, self.size, self.intra_rank, self.intra_size = rank, size, rank, size
        self.cuda_aware = False
        self._packs = {}
        self.calls: list[tuple[str, int]] = []

    def allgather_obj(self, obj):
        return [obj] * self.size

    def _allreduce_buffer(self, pack):
        target = self._mpi_target(pack)  # the host view or the staged copy, as MPI would see it
        self.calls.append((str(target.dtype), target.shape[0]))
        target *= self.size
        self._unstage(pack)

    def _bcast_buffer(self, pack, root):
        self.calls.append(("bcast", pack.buf.shape[0]))


def test_allreduce_grads_packs_one_buffer_per_dtype(backend):
    comm = FakeComm()
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,), (2, 1, 2, 2), ()]
    host = [rng.standard_normal(s) for s in shapes]
    grads = {f"g{i}": backend.asarray(h.copy()) for i, h in enumerate(host)}
    other = "float64" if backend.dtype == "float32" else "float32"
    grads["w"] = backend.asarray(rng.standard_normal(5), other)  # a second dtype: a second buffer
    ids = {k: id(v) for k, v in grads.items()}
    for _ in range(2):
        assert comm.allreduce_grads(grads) is grads
    assert {k: id(v) for k, v in grads.items()} == ids  # written in place
    for i, h in enumerate(host):
        np.testing.assert_allclose(xpnet.asnumpy(grads[f"g{i}"]), h, rtol=backend.rtol)  # mean of equal copies
    sizes = sorted(c[1] for c in comm.calls)
    assert sizes == sorted([5, 5, 12 + 3 + 8 + 1, 12 + 3 + 8 + 1]), comm.calls  # one collective per dtype per step
    assert len(comm._packs) == 2  # reused on the second step
    as_list = list(grads.values())
    comm.allreduce_sum(as_list)
    np.testing.assert_allclose(xpnet.asnumpy(as_list[0]), 2 * host[0], rtol=backend.rtol)


def test_a_flat_stores_gradients_are_reduced_in_their_own_buffer(backend):
    """Zero copy: the pack is the model's flat gradient buffer itself, and the views see the mean."""
    from xpnet.models import TwoLayerNet
    from xpnet.models.flat import store_of

    comm = FakeComm()
    net = TwoLayerNet(4, 3, 2, dtype=backend.dtype)
    store = store_of(net.params)
    (group,) = store.groups
    group.grad[...] = 1.0
    grads = {k: net.params.grad(k) for k in net.params}
    comm.allreduce_grads(grads)
    (pack,) = comm._packs.values()
    assert pack.buf is group.grad
    assert_close(grads["W1"], np.ones((4, 3)))  # the mean of equal copies, seen through the views
    assert comm.calls == [(backend.dtype, 4 * 3 + 3 + 3 * 2 + 2)]


def _bn_net(dtype):
    return MultiLayerNetExtend(6, [5, 4], 3, use_batchnorm=True, dtype=dtype, rng=2)


def test_multi_node_batchnorm_matches_the_whole_batch(backend):
    """Two "ranks" with the same 8 samples take the step of one process with those 8 samples twice:
    statistics, their gradients and the parameter gradients all go through the communicator."""
    r = np.random.default_rng(3)
    x, t = r.standard_normal((8, 6)), np.eye(3)[r.integers(0, 3, 8)]
    comm = FakeComm()
    net = distributed.create_mnbn_model(_bn_net(backend.dtype), comm)
    assert sum(isinstance(layer, MultiNodeBatchNormalization) for layer in net.layers.values()) == 2
    grads = comm.allreduce_grads(net.gradient(backend.asarray(x), backend.asarray(t)))
    ref = _bn_net(backend.dtype)
    want = ref.gradient(backend.asarray(np.concatenate([x, x])), backend.asarray(np.concatenate([t, t])))
    for k in want:
        assert_close(grads[k], want[k], rtol=backend.rtol * 10, atol=backend.atol * 10)
    assert_close(net.layers["BatchNorm1"].running_var, ref.layers["BatchNorm1"].running_var, rtol=backend.rtol)
    assert net.params["gamma1"] is net.layers["BatchNorm1"].params[0]  # the names follow the new layer
    assert ("float" in comm.calls[0][0]) and len(comm.calls) == 2 * 3 + 1  # per BN: 2 forward + 1 backward; grads


def test_a_data_parallel_step_reads_nothing_back(backend, monkeypatch):
    """After the first step (buffers and their host views made), gradient + all-reduce + update
    convert no array to the host on array_api_strict's CPU device and torch CPU: MPI reads the
    pack buffer through a NumPy view of the same memory."""
    needs_guard(backend)
    if not xpnet.backend.on_host(backend.asarray([0.0])):
        pytest.skip("MPI stages accelerator arrays through the host by design (the 'nccl' communicator does not)")
    comm = FakeComm()
    net = distributed.create_mnbn_model(_bn_net(backend.dtype), comm)
    opt = distributed.create_multi_node_optimizer(Momentum(lr=0.1), comm)
    r = np.random.default_rng(4)
    x, t = backend.asarray(r.standard_normal((8, 6))), backend.asarray(np.eye(3)[r.integers(0, 3, 8)])
    opt.update(net.params, net.gradient(x, t))
    with no_host_sync(backend, monkeypatch):
        for _ in range(2):
            opt.update(net.params, net.gradient(x, t))


def test_scatter_dataset_pads_or_drops(backend):
    x = backend.asarray(np.arange(14.0).reshape(7, 2))
    t = backend.asarray(np.arange(7), "int64")
    shards = [distributed.scatter_dataset((x, t), FakeComm(r, 3)) for r in range(3)]
    rows = [xpnet.asnumpy(s[1]).tolist() for s in shards]
    assert rows == [[0, 1, 2], [3, 4, 5], [6, 0, 1]]  # 7 samples, 3 ranks: padded by wrapping to 3 each
    np.testing.assert_array_equal(xpnet.asnumpy(shards[2][0])[:, 0], [12, 0, 2])
    dropped = [xpnet.asnumpy(distributed.scatter_dataset(t, FakeComm(r, 3), remainder="drop")) for r in range(3)]
    assert [d.tolist() for d in dropped] == [[0, 1], [2, 3], [4, 5]]
    mixed = [
        xpnet.asnumpy(distributed.scatter_dataset(t, FakeComm(r, 3), shuffle=True, seed=1)).tolist() for r in range(3)
    ]
    assert len(sum(mixed, [])) == 9 and set(sum(mixed, [])) == set(range(7)) and mixed != rows
    with pytest.raises(ValueError, match="cannot give each of 3 ranks"):
        distributed.scatter_dataset(t[:2], FakeComm(0, 3), remainder="drop")


def test_multi_node_optimizer_wraps_any_optimizer():
    events = []

    class Recorder:
        def bcast_params(self, params):
            events.append("bcast")

        def allreduce_grads(self, grads):
            events.append("allreduce")
            return grads

    params, grads = [np.ones(3)], [np.full(3, 2.0)]
    opt = distributed.create_multi_node_optimizer(SGD(lr=0.5), Recorder())
    assert opt.lr == 0.5
    opt.lr = 0.25  # goes to the wrapped optimizer (learning-rate schedules)
    assert opt.actual_optimizer.lr == 0.25
    opt.update(params, grads)
    opt.update({"a": params[0]}, {"a": grads[0]})
    assert events == ["bcast", "allreduce", "allreduce"]
    np.testing.assert_allclose(params[0], 1.0 - 2 * 0.25 * 2.0)
    with pytest.raises(AttributeError):
        _ = opt.no_such_attribute
    with pytest.raises(TypeError, match="update"):
        distributed.create_multi_node_optimizer(object(), Recorder())


def test_allreduce_benchmark_smoke(tmp_path):
    """benchmarks/allreduce.py runs under mpiexec -n 2 and writes its JSON (it measures, it asserts no speed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "two.json"
    cmd = [_mpiexec(), "-n", "2", sys.executable, "-m", "benchmarks.allreduce", "--quick", "--cases", "two_layer"]
    proc = subprocess.run([*cmd, "--json", str(out)], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["meta"]["ranks"] == 2 and res["cases"]["two_layer"]["params"] == 39760
    assert res["cases"]["two_layer"]["allreduce"] > 0


def test_nccl_dispatch_with_a_fake_nccl():
    """The NCCL transport hands NCCL the packed buffer (pointer, count, dtype, SUM, current stream) in place,
    and refuses arrays that are not CuPy's; the real run needs GPUs."""
    from types import SimpleNamespace

    calls = []
    fake_nccl = SimpleNamespace(NCCL_SUM="sum", allReduce=lambda *a: calls.append(("allReduce", *a)))
    fake_nccl.bcast = lambda *a: calls.append(("bcast", *a))
    stream = SimpleNamespace(ptr=77)
    comm = distributed.NcclCommunicator.__new__(distributed.NcclCommunicator)
    comm._nccl, comm._nccl_mod, comm._dtypes = fake_nccl, fake_nccl, {"float32": "f32"}
    comm._cupy = SimpleNamespace(cuda=SimpleNamespace(get_current_stream=lambda: stream))
    buf = SimpleNamespace(data=SimpleNamespace(ptr=1234), size=10, dtype=np.dtype("float32"))
    pack = distributed._Pack(buf, None, shared=False)
    comm._allreduce_buffer(pack)
    comm._bcast_buffer(pack, 0)
    assert calls == [("allReduce", 1234, 1234, 10, "f32", "sum", 77), ("bcast", 1234, 10, "f32", 0, 77)]
    with pytest.raises(TypeError, match="reduces CuPy arrays, got numpy"):
        comm._new_pack(np, np.zeros(3), 3)
    with pytest.raises(TypeError, match="NCCL cannot reduce int8"):
        comm._nccl_dtype(np.zeros(2, dtype=np.int8))


def test_cli_under_mpiexec_prints_and_saves_once(tmp_path):
    """`mpiexec -n 2 xpnet train` detects the ranks: one result line, one checkpoint, exit 0."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "p.npz"
    proc = subprocess.run(
        [
            _mpiexec(),
            "-n",
            "2",
            sys.executable,
            "-m",
            "xpnet",
            "train",
            "--iters",
            "200",
            "--quiet",
            "--save",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("xpnet: spiral two-layer") == 1, proc.stdout
    assert out.is_file() and [p.name for p in tmp_path.iterdir()] == ["p.npz"]
