"""Backend selection, array creation and the few things the Array API standard lacks.

The one rule: **the selected backend only decides where new arrays are born; everything else
follows its inputs.** Weights and loaded data are created on the active backend; every
computation takes its namespace from its arrays (``get_namespace(x, W)``), so arrays keep
working after a switch. Two families of names keep the two questions apart:

* of the **inputs**: :func:`get_namespace` ``(*arrays)``, :func:`array_device` ``(x)``,
  :func:`backend_name` ``(x)``, :func:`is_array`, :func:`on_host`, :func:`dtype_name`;
* of the **active backend**: :func:`get_backend`, :func:`active_namespace`, :func:`active_device`.

What is where (private files behind this package):

* ``_context.py``: the context (backend and device, default dtype, random generator):
  :func:`set_backend` for the process, :func:`use_backend` for a block, :func:`seed`;
* ``_inputs.py``: the questions about inputs;
* ``_arrays.py``: creation on the active backend and moves between libraries;
* ``_random.py``: the host generator and :func:`random_like` (drawn on the device on GPUs);
* ``_kernels.py``: :class:`Kernels`, the kernels the standard lacks (:func:`index_add`,
  :func:`matmul_into`, :func:`adam_update`, ...) written once on the standard, and how to add one;
* ``_step_kernels.py``: :class:`StepKernels`, the base of ``Kernels`` holding the training step's fused
  kernels (layers' passes, the optimizers' one-pass updates, ``capture_step`` for CUDA graphs),
  reached as ``kernels_for(x).name(...)`` by the layers;
* ``_registry.py``: ``LIBRARIES``, the table of backends, :class:`Library`, what a
  backend's file provides, and the errors :class:`BackendUnavailableError`, :class:`BackendMismatchError`;
* one file per library, ``numpy.py``, ``cupy.py``, ``torch.py``, ``array_api_strict.py``: importing
  it, its namespace, its devices, moves to and from the host, its generator, its kernels.

Adding a backend: write ``xpnet/backend/<name>.py`` with a ``Library`` subclass (``owns``,
``resolve``, and whatever differs from the defaults: ``on_host``, ``to_numpy``, a device
generator) and a ``Kernels`` subclass overriding the kernels the library does faster, then add
one line ``"<name>": "<name>"`` to ``LIBRARIES`` in ``_registry.py``. No other file names a library.
"""

from ._arrays import asarray, asnumpy, randn, to_backend, zeros
from ._context import (
    BACKENDS,
    active_device,
    active_namespace,
    active_numpy_module,
    available_backends,
    backend_status,
    get_backend,
    get_default_dtype,
    seed,
    set_backend,
    set_default_dtype,
    use_backend,
)
from ._inputs import array_device, backend_name, dtype_name, float_dtype, get_namespace, is_array, on_host
from ._kernels import (
    FUSED_STEP_MAX_H,
    FUSED_XENT_MAX_C,
    Kernels,
    adam_update,
    add_at_labels,
    clip_by_global_norm,
    exp_inplace,
    index_add,
    kernels_for,
    library_rnn,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_sequence,
    lstm_step_backward,
    lstm_step_forward,
    matmul_into,
    one_hot,
    out_buffer,
    sum_into,
)
from ._random import host_rng, random_like
from ._registry import BackendMismatchError, BackendUnavailableError, Library
from ._step_kernels import CaptureRefusedError, StepKernels

__all__ = [
    "BACKENDS",
    "BackendMismatchError",
    "BackendUnavailableError",
    "CaptureRefusedError",
    # the active backend
    "set_backend",
    "use_backend",
    "get_backend",
    "active_namespace",
    "active_device",
    "active_numpy_module",
    "backend_status",
    "available_backends",
    "set_default_dtype",
    "get_default_dtype",
    "seed",
    "host_rng",
    # the inputs
    "get_namespace",
    "array_device",
    "backend_name",
    "is_array",
    "on_host",
    "dtype_name",
    # creation and conversion
    "asarray",
    "asnumpy",
    "to_backend",
    "float_dtype",
    "randn",
    "zeros",
    "random_like",
    # the kernels the standard lacks
    "Kernels",
    "StepKernels",
    "Library",
    "kernels_for",
    "one_hot",
    "index_add",
    "adam_update",
    "out_buffer",
    "matmul_into",
    "sum_into",
    "exp_inplace",
    "add_at_labels",
    "lstm_cell_forward",
    "lstm_cell_backward",
    "lstm_step_forward",
    "lstm_step_backward",
    "FUSED_STEP_MAX_H",
    "FUSED_XENT_MAX_C",
    "lstm_sequence",
    "library_rnn",
    "clip_by_global_norm",
]
