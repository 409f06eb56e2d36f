"""What the books' ``common.*`` and ``dataset.*`` modules hold, built from xpnet's modules.

``BOOK1`` and ``BOOK2`` map each module name of the book's repository to a function that returns the module's
names (the names the book's file defines, plus those its ``from ... import *`` lines bring: book 2's
``from common.time_layers import *`` also gives ``np``). Each builder gets the :class:`Run` it serves: where the
book's repository is, whether the run is on the GPU, which data set stands in for MNIST.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from .. import backend

__all__ = ["BOOK1", "BOOK2", "PACKAGES"]

#: The books' packages; their submodules come from the tables below, never from the repository's files.
PACKAGES = ("common", "dataset")


_OPTIMIZERS = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]
_FUNCTIONS = ["sigmoid", "relu", "softmax", "cross_entropy_error"]
_LAYERS = ["MatMul", "Affine", "Softmax", "SoftmaxWithLoss", "Sigmoid", "SigmoidWithLoss", "Dropout", "Embedding"]
_TIME_LAYERS = ["RNN", "TimeRNN", "LSTM", "TimeLSTM", "TimeEmbedding", "TimeAffine", "TimeSoftmaxWithLoss"]
_TIME_LAYERS += ["TimeDropout", "TimeBiLSTM", "TimeSigmoidWithLoss", "GRU", "TimeGRU"]
_UTIL = ["preprocess", "cos_similarity", "most_similar", "convert_one_hot", "create_co_matrix", "ppmi"]
_UTIL += ["create_contexts_target", "clip_grads", "eval_seq2seq", "analogy", "normalize"]


# --- book 1 -------------------------------------------------------------------------------------------------------


def _mnist(run: Any) -> dict[str, Any]:
    from ..data import loaders

    loader = loaders.load_fashion_mnist if run.mnist == "fashion-mnist" else loaders.load_mnist

    def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False) -> tuple:
        """Book 1's ``dataset.mnist.load_mnist`` (or Fashion-MNIST, when the run asks): arrays on the run's device."""
        return loader(normalize=normalize, flatten=flatten, one_hot_label=one_hot_label)

    return {"load_mnist": load_mnist, "img_size": 784, "train_num": 60000, "test_num": 10000}


def _names(*modules: str, names: list[str] | None = None, extra: Any = None) -> Any:
    """A builder: ``names`` (default: every module's ``__all__``) looked up in xpnet's ``modules``, in order."""

    def build(run: Any) -> dict[str, Any]:
        found = [importlib.import_module(f"xpnet.{m}") for m in modules]
        wanted = names if names is not None else [n for m in found for n in m.__all__]
        out = {n: getattr(next(m for m in found if hasattr(m, n)), n) for n in wanted}
        return {**out, **(extra(run) if extra is not None else {})}

    return build


def _plus_np(build: Any) -> Any:
    """Book 1's ``common`` files start with ``import numpy as np``, so their star imports give ``np`` too (ch06's
    ``optimizer_compare_mnist.py`` uses the ``np`` that ``from common.optimizer import *`` brought)."""
    return lambda run: {**build(run), "np": run.numpy()}


BOOK1 = {
    "common.functions": _names("functions"),
    "common.gradient": _names("gradient", names=["numerical_gradient", "numerical_gradient_2d"]),
    "common.layers": _names("layers"),
    "common.util": _names("util"),
    "common.optimizer": _names("optimizers"),
    "common.trainer": _names("optimizers", "trainer", names=[*_OPTIMIZERS, "Trainer"]),
    "common.multi_layer_net": _names("models", names=["MultiLayerNet"]),
    "common.multi_layer_net_extend": _names("models", names=["MultiLayerNetExtend"]),
    "dataset.mnist": _mnist,
}
BOOK1 = {name: build if name.startswith("dataset.") else _plus_np(build) for name, build in BOOK1.items()}


# --- book 2 -------------------------------------------------------------------------------------------------------


def _config(run: Any) -> dict[str, Any]:
    return {"GPU": run.gpu}


def _np(run: Any) -> dict[str, Any]:
    """``common/np.py``: decided when first imported, after the script set ``config.GPU`` (as in the book)."""
    if run.import_module("common.config").GPU and not run.gpu:
        run.go_to_gpu()
    return {"np": run.numpy(), "GPU": run.gpu}


def _np_names(run: Any) -> dict[str, Any]:
    """``np`` and ``GPU``: every book-2 module but ``config`` starts with ``from common.np import *``."""
    module = run.import_module("common.np")
    return {"np": module.np, "GPU": module.GPU}


def _book2(*names: str, extra: Any = None) -> Any:
    def both(run: Any) -> dict[str, Any]:
        return {**_np_names(run), **(extra(run) if extra is not None else {})}

    return _names("book2", "layers", names=list(names), extra=both)


def _book2_util(run: Any) -> dict[str, Any]:
    from .. import book2

    def eval_perplexity(model: Any, corpus: Any, batch_size: int = 10, time_size: int = 35) -> float:
        return book2.eval_perplexity(model, run.like_model(model, corpus)[0], batch_size, time_size)

    return {"eval_perplexity": eval_perplexity, "to_cpu": backend.asnumpy, "to_gpu": backend.asarray}


def _book2_trainer(run: Any) -> dict[str, Any]:
    from .. import book2

    class Trainer(book2.Trainer):
        __doc__ = book2.Trainer.__doc__

        def fit(self, x: Any, t: Any, *args: Any, **kwargs: Any) -> Any:
            return super().fit(*run.like_model(self.model, x, t), *args, **kwargs)

    class RnnlmTrainer(book2.RnnlmTrainer):
        __doc__ = book2.RnnlmTrainer.__doc__

        def fit(self, xs: Any, ts: Any, *args: Any, **kwargs: Any) -> Any:
            return super().fit(*run.like_model(self.model, xs, ts), *args, **kwargs)

    return {"Trainer": Trainer, "RnnlmTrainer": RnnlmTrainer}


def _moves(run: Any) -> dict[str, Any]:
    return {"to_cpu": backend.asnumpy, "to_gpu": backend.asarray}


def _ptb(run: Any) -> dict[str, Any]:
    from ..data import ptb

    def load_data(data_type: str = "train") -> tuple:
        """Book 2's ``ptb.load_data``: ids on the host, as the book's (its scripts call ``to_gpu``)."""
        corpus, word_to_id, id_to_word = ptb.load_ptb(data_type)
        return backend.asnumpy(corpus), word_to_id, id_to_word

    def load_vocab() -> tuple:
        return ptb.load_ptb("train")[1:]

    return {"load_data": load_data, "load_vocab": load_vocab}


def _sequence(run: Any) -> dict[str, Any]:
    from ..data import sequence

    def load_data(file_name: str = "addition.txt", seed: int = 1984) -> tuple:
        """Book 2's ``sequence.load_data``: the repository's ``dataset/<file_name>`` when present, else xpnet's."""
        own = Path(run.root, "dataset", file_name)
        return sequence.load_data(own if own.is_file() else file_name, seed=seed)

    return {"load_data": load_data, "get_vocab": sequence.get_vocab}


def _spiral(run: Any) -> dict[str, Any]:
    from ..data.loaders import load_spiral

    def load_data(seed: int = 1984) -> tuple:
        """Book 2's ``spiral.load_data``: the same 300 points (one-hot labels)."""
        return load_spiral(seed=seed)

    return {"load_data": load_data}


BOOK2 = {
    "common.config": _config,
    "common.np": _np,
    "common.functions": _book2(*_FUNCTIONS),
    "common.layers": _book2(*_FUNCTIONS, *_LAYERS),
    "common.time_layers": _book2(*_FUNCTIONS, *_LAYERS, *_TIME_LAYERS),
    "common.optimizer": _book2(*_OPTIMIZERS),
    "common.trainer": _book2("clip_grads", extra=_book2_trainer),
    "common.util": _book2(*_UTIL, extra=_book2_util),
    "common.base_model": _book2("BaseModel", extra=_moves),
    "dataset.ptb": _ptb,
    "dataset.sequence": _sequence,
    "dataset.spiral": _spiral,
}

#: Book 2's markers, in the repository (``common/time_layers.py``) or in the chapter's scripts.
BOOK2_MARKERS = ("time_layers", "common.np", "common import config", "from dataset import", "base_model")


def which_book(root: Path, folder: Path) -> int:
    """1 or 2: the repository's ``common/`` tells (book 2 has ``time_layers.py``); without it, its ``dataset/``;
    without either, the chapter's scripts (book 2's imports ``from dataset import spiral``, ``common.np``, ...)."""
    if (root / "common").is_dir():
        return 2 if (root / "common" / "time_layers.py").is_file() else 1
    if any((root / "dataset" / f).is_file() for f in ("spiral.py", "ptb.py", "sequence.py")):
        return 2
    if (root / "dataset" / "mnist.py").is_file():
        return 1
    for script in sorted(folder.glob("*.py")):
        try:
            text = script.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if any(marker in text for marker in BOOK2_MARKERS):
            return 2
    return 1


def chapter_of(root: Path, module: str) -> str | None:
    """The chapter folder of ``root`` that holds ``module``'s file (``seq2seq`` -> ``ch07``), if one does."""
    top = module.split(".")[0]
    for d in sorted(root.glob("ch*")):
        if (d / f"{top}.py").is_file() or (d / top / "__init__.py").is_file():
            return os.path.relpath(d, root)
    return None
