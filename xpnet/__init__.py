"""xpnet: the networks of "Deep Learning from Scratch", written once against the Python Array API.

Select where new arrays are born with :func:`set_backend` (``"numpy"``, ``"cupy"``,
``"torch"``, ``"array_api_strict"``); every computation follows its inputs.
"""

from . import datasets, functions, gradient, layers, models, np, optimizers, plot, trainer, util
from .backend import (
    BackendMismatchError,
    BackendUnavailableError,
    active_device,
    active_namespace,
    asarray,
    asnumpy,
    available_backends,
    backend_status,
    get_backend,
    get_default_dtype,
    get_device,
    get_namespace,
    namespace,
    seed,
    set_backend,
    set_default_dtype,
    to_backend,
    use_backend,
)
from .gradient import gradient_check, gradient_descent, numerical_diff, numerical_gradient
from .models import (
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    SimpleConvNet,
    SimpleNet,
    ThreeLayerNet,
    TwoLayerNet,
)
from .trainer import Trainer, TrainingDivergedError

__version__ = "0.1.0"

__all__ = [
    "BackendMismatchError",
    "BackendUnavailableError",
    "DeepConvNet",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "SimpleConvNet",
    "SimpleNet",
    "ThreeLayerNet",
    "Trainer",
    "TrainingDivergedError",
    "TwoLayerNet",
    "__version__",
    "active_device",
    "active_namespace",
    "backend_status",
    "asarray",
    "asnumpy",
    "available_backends",
    "datasets",
    "functions",
    "get_backend",
    "get_default_dtype",
    "get_device",
    "get_namespace",
    "gradient",
    "gradient_check",
    "gradient_descent",
    "layers",
    "models",
    "namespace",
    "np",
    "numerical_diff",
    "numerical_gradient",
    "optimizers",
    "plot",
    "seed",
    "set_backend",
    "set_default_dtype",
    "to_backend",
    "trainer",
    "use_backend",
    "util",
]
