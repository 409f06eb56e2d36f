"""Data-parallel training over MPI (mpi4py), with NCCL for CuPy, under ChainerMN's names.

The same training script runs on one process or under ``mpiexec -n N``::

    comm = distributed.create_communicator("auto")           # "mpi", "nccl" or "auto"
    net = TwoLayerNet(784, 50, 10)
    comm.bcast_params(net)                                   # rank 0's weights everywhere
    x, t = distributed.scatter_dataset((x_train, t_train), comm, shuffle=True)
    optimizer = distributed.create_multi_node_optimizer(SGD(lr=0.1), comm)
    trainer = Trainer(net, x, t, x_test, t_test, optimizer=optimizer, verbose=comm.is_root)

Every rank computes the gradient of the mean loss over its own samples; the multi-node
optimizer replaces each gradient by its mean over the ranks (one all-reduce per dtype per
step on a flat buffer) and then lets the wrapped optimizer update. With equal shards this is
exactly the step one process would take on the union of the batches.

Transports. ``"mpi"``: mpi4py's ``Allreduce``/``Bcast`` on host memory. NumPy arrays, torch CPU
tensors and array_api_strict arrays on its CPU device are reduced in place through a
zero-copy ``numpy.from_dlpack`` view of the pack buffer. Arrays on an accelerator (CuPy, CUDA
torch, array_api_strict's ``"device1"``) are staged through a host buffer (one copy each way
per step), or handed to a CUDA-aware MPI directly with ``cuda_aware=True`` (CuPy only).
``"nccl"`` (CuPy): ``cupy.cuda.nccl`` all-reduces the packed buffer on the current stream, with
MPI only handing out the NCCL id; nothing leaves the GPU.

BatchNorm. :class:`~xpnet.layers.BatchNormalization` stays *local* (each rank normalises by
its own batch's statistics, as ChainerMN's plain links do). :func:`create_mnbn_model` swaps
every one for :class:`MultiNodeBatchNormalization`, whose statistics and their gradients are
all-reduced, so N ranks with b samples each compute exactly what one process computes on
N*b samples.

Faults: with more than one rank, an uncaught exception on any rank prints that rank's
traceback and calls ``MPI_Abort``, so every rank exits at once instead of waiting forever in
a collective (as ``python -m mpi4py script.py`` does).
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import numpy as np

from ..backend import array_device, asnumpy, backend_name, get_namespace, on_host
from ..models.flat import flat_buffer_of

__all__ = [
    "DistributedUnavailableError",
    "MpiCommunicator",
    "NcclCommunicator",
    "MultiNodeOptimizer",
    "MultiNodeBatchNormalization",
    "create_communicator",
    "create_multi_node_optimizer",
    "create_mnbn_model",
    "scatter_dataset",
    "is_root",
    "abort",
    "under_mpiexec",
    "init_from_cli",
    "prepare_training",
]

INSTALL_HINT = "pip install 'xpnet[mpi]'"

# Environment variables the common launchers set for every rank (MPICH/Hydra, Open MPI, PMIx, Slurm).
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID")
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS")

_current: MpiCommunicator | None = None  # the last communicator created: is_root() asks it


class DistributedUnavailableError(RuntimeError):
    """mpi4py, an MPI library, CuPy or NCCL is missing."""


def _mpi() -> Any:
    """mpi4py's ``MPI`` module, or a one-line :class:`DistributedUnavailableError`."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise DistributedUnavailableError(
            f"xpnet.distributed needs mpi4py, which is not installed: {INSTALL_HINT}"
        ) from None
    except RuntimeError as e:  # mpi4py is there but cannot dlopen libmpi
        why = " ".join(str(e).split())
        raise DistributedUnavailableError(
            f"mpi4py found no MPI library ({why}): {INSTALL_HINT} installs the mpich wheel"
        ) from None
    return MPI


def under_mpiexec() -> bool:
    """True when a launcher (mpiexec, srun) started this process as one of several ranks."""
    for var in _SIZE_VARS:
        value = os.environ.get(var)
        if value and value.isdigit() and int(value) > 1:
            return True
    return False


def is_root() -> bool:
    """True on rank 0 (or when running alone): only the root prints, plots and writes checkpoints.

    Asks the last communicator created; before one exists, reads the launcher's environment
    (so it costs no MPI initialisation).
    """
    if _current is not None:
        return _current.is_root
    for var in _RANK_VARS:
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value) == 0
    return True


def abort(status: int = 1) -> None:
    """End every rank now with ``status`` when running on several (no-op alone).

    For errors one rank may see before the others (a diverged loss, read every few steps):
    a rank that returned alone would leave the others waiting in their next collective.
    """
    if _current is None or _current._MPI.COMM_WORLD.size == 1:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    _current._MPI.COMM_WORLD.Abort(status)


def _install_abort_hook(MPI: Any) -> None:
    """An uncaught exception on any rank prints its traceback and aborts every rank (no hang)."""
    if getattr(sys.excepthook, "_xpnet_abort", False):
        return
    world = MPI.COMM_WORLD
    previous = sys.excepthook

    def hook(exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            sys.stdout.flush()
            sys.stderr.write(f"xpnet.distributed: rank {world.rank} of {world.size} failed; aborting every rank\n")
            previous(exc_type, exc, tb)
            sys.stderr.flush()
        finally:
            world.Abort(1)

    hook._xpnet_abort = True  # type: ignore[attr-defined]
    sys.excepthook = hook


# --- packing ----------------------------------------------------------------------------


def _numel(a: Any) -> int:
    return math.prod(a.shape)


class _Pack:
    """One flat buffer (same backend, device and dtype as the arrays it carries) and its host side.

    ``host`` is a writable zero-copy NumPy view of ``buf`` when the buffer lives in host memory
    (``shared``), else a host staging array of the same size, or ``None`` when the transport
    reads device memory itself (NCCL, CUDA-aware MPI).
    """

    __slots__ = ("buf", "host", "shared")

    def __init__(self, buf: Any, host: Any, shared: bool) -> None:
        self.buf, self.host, self.shared = buf, host, shared


def _arrays_of(obj: Any) -> list[Any]:
    """The arrays of a dict (values, in order) or a list/tuple."""
    if hasattr(obj, "keys"):
        return [obj[k] for k in obj]
    return list(obj)


class MpiCommunicator:
    """Collectives over an MPI communicator (ChainerMN's ``MpiCommunicatorBase``, in xpnet's terms).

    ``rank``, ``size``: this process and how many there are; ``intra_rank``, ``intra_size``:
    the same within this node (which GPU a rank takes); ``is_root``: ``rank == 0``.
    ``mpi_comm`` is the mpi4py communicator (default ``MPI.COMM_WORLD``).
    """

    name = "mpi"

    def __init__(self, mpi_comm: Any = None, *, cuda_aware: bool = False, abort_on_error: bool = True) -> None:
        MPI = _mpi()
        self._MPI = MPI
        self.mpi_comm = mpi_comm if mpi_comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.mpi_comm.rank, self.mpi_comm.size
        node = self.mpi_comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.intra_rank, self.intra_size = node.rank, node.size
        node.Free()
        self.cuda_aware = cuda_aware
        self._packs: dict[Any, _Pack] = {}
        if abort_on_error and MPI.COMM_WORLD.size > 1:
            _install_abort_hook(MPI)
        global _current
        _current = self

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, size={self.size}, intra_rank={self.intra_rank})"

    # --- Python objects (pickled; for set-up and bookkeeping, not per step) ---------------

    def bcast_obj(self, obj: Any, root: int = 0) -> Any:
        """``root``'s ``obj`` on every rank."""
        return self.mpi_comm.bcast(obj, root=root)

    def allreduce_obj(self, obj: Any, op: str = "sum") -> Any:
        """``obj`` reduced over the ranks (``op``: ``"sum"``, ``"max"`` or ``"min"``) on every rank."""
        ops = {"sum": self._MPI.SUM, "max": self._MPI.MAX, "min": self._MPI.MIN}
        if op not in ops:
            raise ValueError(f"allreduce_obj: op must be one of {', '.join(ops)}, not {op!r}")
        return self.mpi_comm.allreduce(obj, op=ops[op])

    def allgather_obj(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, as a list indexed by rank, on every rank."""
        return self.mpi_comm.allgather(obj)

    # --- arrays ---------------------------------------------------------------------------

    def bcast_params(self, net_or_params: Any, root: int = 0) -> None:
        """Rank ``root``'s parameters on every rank, written in place.

        Takes a network (its ``params``, and for book 1's networks also the layers' non-empty
        ``buffers`` such as BatchNorm's running averages) or a dict/list of arrays. Raises
        ``ValueError`` on every rank when the ranks' parameters differ in shape or dtype.
        """
        arrays = self._params_of(net_or_params)
        sigs = self.allgather_obj([(tuple(a.shape), str(a.dtype)) for a in arrays])
        for r, sig in enumerate(sigs):
            if sig != sigs[root]:
                raise ValueError(
                    f"bcast_params: rank {r} holds parameters {sig}, rank {root} holds {sigs[root]}; "
                    "every rank must build the same network"
                )
        self._collective(arrays, "bcast", "params", root=root)

    def allreduce_grads(self, grads: Any) -> Any:
        """Replace every gradient by its mean over the ranks, in place; returns ``grads``.

        ``grads`` is a dict or a list of arrays. All gradients of one dtype (and device) are
        packed into ONE flat buffer, kept between steps, and reduced with one collective.
        """
        self._collective(_arrays_of(grads), "mean", "grads")
        return grads

    def allreduce_sum(self, arrays: list[Any], tag: str = "sum") -> list[Any]:
        """Replace each array by its sum over the ranks, in place (one collective per dtype)."""
        self._collective(arrays, "sum", tag)
        return arrays

    @staticmethod
    def _params_of(obj: Any) -> list[Any]:
        if hasattr(obj, "params") and not hasattr(obj, "keys"):
            arrays = _arrays_of(obj.params)
            layers = getattr(obj, "layers", None)
            layers = layers.values() if hasattr(layers, "values") else (layers or ())
            for layer in layers:
                for attr in getattr(layer, "buffers", ()):
                    value = getattr(layer, attr, None)
                    if value is not None:
                        arrays.append(value)
            return arrays
        return _arrays_of(obj)

    def _collective(self, arrays: list[Any], kind: str, tag: str, root: int = 0) -> None:
        """Pack ``arrays`` per (backend, device, dtype) into a reused flat buffer, run one
        collective per buffer (``kind``: "mean", "sum" or "bcast"), unpack in place. Arrays that are
        exactly a flat store's views (:mod:`xpnet.models.flat`: a model's gradients) are reduced in their own
        buffer, without the two copies."""
        groups: dict[Any, list[Any]] = {}
        for a in arrays:
            if a is None or _numel(a) == 0:
                continue
            groups.setdefault((backend_name(a), str(array_device(a)), str(a.dtype)), []).append(a)
        for key, group in groups.items():
            xp = get_namespace(group[0])
            total = sum(_numel(a) for a in group)
            flat = flat_buffer_of(group)  # the arrays are a flat store's views: reduce its buffer as it is
            slot = (tag, key, total) if flat is None else (tag, key, total, id(flat))
            pack = self._packs.get(slot)
            if pack is None or (flat is not None and pack.buf is not flat):
                if kind != "bcast":
                    self._check_same(tag, key, total)
                pack = self._packs[slot] = self._new_pack(xp, group[0], total, flat)
            buf = pack.buf
            if flat is None and (kind != "bcast" or self.rank == root):
                offset = 0
                for a in group:
                    n = _numel(a)
                    buf[offset : offset + n] = xp.reshape(a, (n,))
                    offset += n
            if kind == "bcast":
                self._bcast_buffer(pack, root)
            else:
                self._allreduce_buffer(pack)
                if kind == "mean" and self.size > 1:
                    buf /= self.size
            if flat is not None or (kind == "bcast" and self.rank == root):
                continue
            offset = 0
            for a in group:
                n = _numel(a)
                a[...] = xp.reshape(buf[offset : offset + n], a.shape)
                offset += n

    def _check_same(self, tag: str, key: Any, total: int) -> None:
        """Once per new buffer: every rank reduces the same number of elements (else MPI would hang or corrupt)."""
        totals = self.allgather_obj(total)
        if len(set(totals)) > 1:
            raise ValueError(
                f"{tag}: the ranks reduce different numbers of {key[2]} elements ({totals}, by rank); "
                "every rank must train the same network"
            )

    def _new_pack(self, xp: Any, like: Any, total: int, buf: Any = None) -> _Pack:
        """A pack around ``buf`` (a flat store's buffer), or around a new buffer of ``total`` elements."""
        if buf is None:
            buf = xp.empty((total,), dtype=like.dtype, device=array_device(like))
        if on_host(buf):
            try:
                view = np.from_dlpack(buf)
            except (TypeError, BufferError, RuntimeError):
                view = None
            if view is not None and view.flags.writeable:
                return _Pack(buf, view, shared=True)
        if self.cuda_aware and backend_name(buf) == "cupy":
            return _Pack(buf, None, shared=False)
        return _Pack(buf, np.empty((total,), dtype=asnumpy(buf[:1]).dtype), shared=False)

    def _mpi_target(self, pack: _Pack) -> Any:
        if pack.host is None:  # CUDA-aware MPI reads the device buffer: the kernels that wrote it must be done
            import cupy

            cupy.cuda.get_current_stream().synchronize()
            return pack.buf
        if not pack.shared:
            pack.host[...] = asnumpy(pack.buf)
        return pack.host

    def _unstage(self, pack: _Pack) -> None:
        if pack.host is not None and not pack.shared:
            xp = get_namespace(pack.buf)
            pack.buf[...] = xp.asarray(pack.host, device=array_device(pack.buf))

    def _allreduce_buffer(self, pack: _Pack) -> None:
        target = self._mpi_target(pack)
        self.mpi_comm.Allreduce(self._MPI.IN_PLACE, target, op=self._MPI.SUM)
        self._unstage(pack)

    def _bcast_buffer(self, pack: _Pack, root: int) -> None:
        target = self._mpi_target(pack)
        self.mpi_comm.Bcast(target, root=root)
        self._unstage(pack)


class NcclCommunicator(MpiCommunicator):
    """CuPy gradients all-reduced by NCCL (``cupy.cuda.nccl``) on the current stream.

    MPI hands out the NCCL id and carries the one-off broadcasts and Python objects; each
    rank uses GPU ``intra_rank``. Raises :class:`DistributedUnavailableError` without CuPy,
    a CUDA device or NCCL.
    """

    name = "nccl"

    def __init__(self, mpi_comm: Any = None, *, abort_on_error: bool = True) -> None:
        super().__init__(mpi_comm, abort_on_error=abort_on_error)
        try:
            import cupy
            from cupy.cuda import nccl
        except ImportError as e:
            raise DistributedUnavailableError(
                f"the 'nccl' communicator needs CuPy with NCCL ({e}): pip install 'xpnet[cuda12]'; "
                "or use create_communicator('mpi')"
            ) from None
        if not getattr(nccl, "available", True):
            raise DistributedUnavailableError("CuPy was built without NCCL; use create_communicator('mpi')")
        try:
            cupy.cuda.Device(self.intra_rank % max(cupy.cuda.runtime.getDeviceCount(), 1)).use()
        except Exception as e:
            raise DistributedUnavailableError(f"the 'nccl' communicator found no usable CUDA device ({e})") from None
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = self.mpi_comm.bcast(uid, root=0)
        self._nccl = nccl.NcclCommunicator(self.size, uid, self.rank)
        self._nccl_mod, self._cupy = nccl, cupy
        self._dtypes = {
            "float16": nccl.NCCL_FLOAT16,
            "float32": nccl.NCCL_FLOAT32,
            "float64": nccl.NCCL_FLOAT64,
            "int32": nccl.NCCL_INT32,
            "int64": nccl.NCCL_INT64,
        }

    def _new_pack(self, xp: Any, like: Any, total: int, buf: Any = None) -> _Pack:
        if backend_name(like) != "cupy":
            raise TypeError(
                f"the 'nccl' communicator reduces CuPy arrays, got {backend_name(like)} ones; "
                "use create_communicator('mpi') for this backend"
            )
        if buf is None:
            buf = xp.empty((total,), dtype=like.dtype, device=array_device(like))
        return _Pack(buf, None, shared=False)

    def _nccl_dtype(self, buf: Any) -> Any:
        name = str(buf.dtype)
        if name not in self._dtypes:
            raise TypeError(f"NCCL cannot reduce {name} arrays; use float16/32/64 or int32/64")
        return self._dtypes[name]

    def _allreduce_buffer(self, pack: _Pack) -> None:
        buf = pack.buf
        stream = self._cupy.cuda.get_current_stream().ptr
        self._nccl.allReduce(
            buf.data.ptr, buf.data.ptr, buf.size, self._nccl_dtype(buf), self._nccl_mod.NCCL_SUM, stream
        )

    def _bcast_buffer(self, pack: _Pack, root: int) -> None:
        buf = pack.buf
        stream = self._cupy.cuda.get_current_stream().ptr
        self._nccl.bcast(buf.data.ptr, buf.size, self._nccl_dtype(buf), root, stream)


def create_communicator(
    communicator_name: str = "auto", mpi_comm: Any = None, *, cuda_aware: bool = False, abort_on_error: bool = True
) -> MpiCommunicator:
    """A communicator over ``mpi_comm`` (default: every process ``mpiexec`` started).

    ``"mpi"``: mpi4py on host memory (device arrays staged through the host unless
    ``cuda_aware``); ``"nccl"``: NCCL for CuPy; ``"auto"``: ``"nccl"`` when the active backend
    is cupy and NCCL is there, else ``"mpi"``. Missing pieces raise a one-line
    :class:`DistributedUnavailableError` naming what to install.
    """
    if communicator_name not in ("mpi", "nccl", "auto"):
        raise ValueError(f"unknown communicator {communicator_name!r}; choose 'mpi', 'nccl' or 'auto'")
    if communicator_name == "auto":
        from ..backend import get_backend

        communicator_name = "mpi"
        if get_backend() == "cupy":
            try:
                from cupy.cuda import nccl

                if getattr(nccl, "available", True):
                    communicator_name = "nccl"
            except ImportError:
                pass
    if communicator_name == "nccl":
        return NcclCommunicator(mpi_comm, abort_on_error=abort_on_error)
    return MpiCommunicator(mpi_comm, cuda_aware=cuda_aware, abort_on_error=abort_on_error)


# --- the optimizer ----------------------------------------------------------------------


# --- the command line -----------------------------------------------------------------------


def init_from_cli(distributed: bool | None = None, communicator: str = "auto") -> MpiCommunicator | None:
    """The communicator for ``xpnet train --distributed`` (``True``), or ``None`` when training alone.

    ``None`` (the flag absent) means: distributed when a launcher started several ranks
    (``mpiexec -n 2 xpnet train``), else alone, without touching MPI. ``True`` requires MPI
    (a one-line :class:`DistributedUnavailableError` when it is missing); ``False`` never uses it.
    """
    if distributed is False or (distributed is None and not under_mpiexec()):
        return None
    comm = create_communicator(communicator)
    from ..backend import get_backend, set_backend

    if get_backend() == "cupy":  # this rank's new arrays go to its own GPU, not to GPU 0
        set_backend("cupy", comm.intra_rank)
    return comm


# ChainerMN's multi-node wrappers live in .multinode and are this module's names too
from .multinode import (  # noqa: E402
    MultiNodeBatchNormalization,
    MultiNodeOptimizer,
    create_mnbn_model,
    create_multi_node_optimizer,
    prepare_training,
    scatter_dataset,
)
