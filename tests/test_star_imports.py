"""`from common.X import *` in the books becomes `from xpnet.X import *` and brings the same names.

The lists are the public names of the books' modules (oreilly-japan/deep-learning-from-scratch and -2),
without ``np`` (xpnet's NumPy-like namespace is imported by name: ``from xpnet import np``).
"""

import pytest

BOOK1 = {
    # common/functions.py
    "xpnet.functions": [
        "identity_function",
        "step_function",
        "sigmoid",
        "sigmoid_grad",
        "relu",
        "relu_grad",
        "softmax",
        "sum_squared_error",
        "mean_squared_error",
        "cross_entropy_error",
        "softmax_loss",
    ],
    # common/layers.py: its own classes, `from common.functions import *`, `from common.util import im2col, col2im`
    "xpnet.layers": [
        "Relu",
        "Sigmoid",
        "Affine",
        "SoftmaxWithLoss",
        "Dropout",
        "BatchNormalization",
        "Convolution",
        "Pooling",
        "im2col",
        "col2im",
        "identity_function",
        "step_function",
        "sigmoid",
        "sigmoid_grad",
        "relu",
        "relu_grad",
        "softmax",
        "sum_squared_error",
        "cross_entropy_error",
        "softmax_loss",
        # book 2's common/layers.py
        "MatMul",
        "Softmax",
        "SigmoidWithLoss",
        "Embedding",
    ],
    # common/gradient.py
    "xpnet.gradient": ["numerical_gradient", "numerical_gradient_2d"],
    # common/util.py
    "xpnet.util": ["smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im"],
    # common/optimizer.py (both books)
    "xpnet.optimizers": ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"],
}


def star(module: str) -> dict:
    namespace: dict = {}
    exec(f"from {module} import *", namespace)  # a clean namespace, as a notebook's first cell
    namespace.pop("__builtins__")
    return namespace


@pytest.mark.parametrize("module", sorted(BOOK1))
def test_star_import_gives_the_books_names(module):
    got = star(module)
    assert sorted(set(BOOK1[module]) - set(got)) == []


def test_seed_004_star_import():
    """Seed 004: `from common.layers import *` then its own layers call softmax, sigmoid, cross_entropy_error."""
    ns = star("xpnet.layers")
    import xpnet.functions as F

    for name in ("softmax", "sigmoid", "cross_entropy_error"):
        assert ns[name] is getattr(F, name)
    assert "np" not in ns  # the learner's own `np` binding is never replaced behind their back


def test_seed_003_star_import_of_functions():
    """Seed 003: `from common.functions import *` and `from common.gradient import numerical_gradient`."""
    ns = star("xpnet.functions")
    assert {"sigmoid", "softmax", "cross_entropy_error"} <= set(ns)
    assert not {k for k in ns if k.startswith("_")}
