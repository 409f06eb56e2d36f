"""xpnet: the networks of "Deep Learning from Scratch", written once against the Python Array API.

Select where new arrays are born with :func:`set_backend` (``"numpy"``, ``"cupy"``,
``"torch"``, ``"array_api_strict"``); every computation follows its inputs.

The package is split by role (``backend``, ``layers``, ``models``, ``training``, ``data``,
``cli``); the books' module names (``xpnet.functions``, ``xpnet.trainer2``, ...) are the
paths of :data:`BOOK_PATHS`, each the very module object of its new home, imported on first use.
"""

import importlib
import importlib.abc
import importlib.util
import sys

#: The books' module paths and the modules that hold them (``xpnet.functions`` is ``xpnet.layers.functions``).
BOOK_PATHS = {
    "functions": "layers.functions",
    "util": "layers.util",
    "time_layers": "layers.time_layers",
    "attention": "layers.attention",
    "word2vec": "models.word2vec",
    "rnnlm": "models.rnnlm",
    "seq2seq": "models.seq2seq",
    "gradient": "training.gradient",
    "numgrad": "training.numgrad",
    "optimizers": "training.optimizers",
    "trainer": "training.trainer",
    "trainer2": "training.trainer2",
    "distributed": "training.distributed",
    "checkpoint": "data.checkpoint",
    "datasets": "data.datasets",
    "ptb": "data.ptb",
    "sequence": "data.sequence",
    "text": "data.text",
}


class _BookPathFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``xpnet.<book path>`` as the module of :data:`BOOK_PATHS` that holds it (one module, two names)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        prefix, _, name = fullname.partition(".")
        if prefix != __name__ or name not in BOOK_PATHS:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: object) -> object:
        module = importlib.import_module(f"{__name__}.{BOOK_PATHS[spec.name.partition('.')[2]]}")
        spec.loader_state = module.__spec__  # the import system sets the alias's spec on the module next
        return module

    def exec_module(self, module: object) -> None:
        """The module ran when its home was imported: only its own spec is put back."""
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(f, _BookPathFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _BookPathFinder())


def __getattr__(name: str) -> object:
    if name in BOOK_PATHS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


from . import datasets, functions, gradient, layers, models, np, optimizers, plot, trainer, util  # noqa: E402
from .backend import (  # noqa: E402
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
    get_namespace,
    seed,
    set_backend,
    set_default_dtype,
    to_backend,
    use_backend,
)
from .models import (  # noqa: E402
    DeepConvNet,
    MultiLayerNet,
    MultiLayerNetExtend,
    SimpleConvNet,
    SimpleNet,
    ThreeLayerNet,
    TwoLayerNet,
)
from .training.gradient import gradient_check, gradient_descent, numerical_diff, numerical_gradient  # noqa: E402
from .training.trainer import Trainer, TrainingDivergedError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "BOOK_PATHS",
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
    "get_namespace",
    "gradient",
    "gradient_check",
    "gradient_descent",
    "layers",
    "models",
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
