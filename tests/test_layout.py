"""The layout: the books' import paths, README's layout table against the files, and the house rules.

* every public path (``xpnet.functions``, ``xpnet.trainer2``, ...) imports, star-imports the same names
  as before the restructure, and is the very module object of its home in the role folders;
* README's "Layout" table lists exactly the packages and modules on disk;
* no module in ``xpnet/`` is over 500 lines; no private name is imported from one subpackage into
  another; every package says in its docstring what it holds.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest

import xpnet

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "xpnet"
MAX_LINES = 500

# `from xpnet.<path> import *` before the restructure (xpnet 0.1.0 as the books' paths gave it). The one
# name gone: checkpoint's ParamsCheckpoint, now the models' one base (xpnet.models.base.Model).
STAR_NAMES = {
    "layers": (
        "AddLayer Affine BN_EPS BatchNormalization Convolution Dropout Embedding LOG_EPS Layer MatMul "
        "MulLayer Pooling Relu Repeat Sigmoid SigmoidWithLoss Softmax SoftmaxWithLoss Sum col2im "
        "cross_entropy_error identity_function im2col mean_squared_error relu relu_grad sigmoid sigmoid_grad "
        "softmax softmax_loss step_function sum_squared_error"
    ),
    "functions": (
        "BN_EPS LOG_EPS cross_entropy_error identity_function mean_squared_error relu relu_grad sigmoid "
        "sigmoid_grad softmax softmax_loss step_function sum_squared_error"
    ),
    "util": "IM2COL_LIMIT_BYTES col2im conv_output_size im2col pad_images shuffle_dataset smooth_curve",
    "gradient": "gradient_check gradient_descent numerical_diff numerical_gradient numerical_gradient_2d",
    "numgrad": (
        "Any DEFAULT_BUDGET H LOG_EPS annotations cross_entropy_of_mask device get_namespace im2col "
        "label_mask math network_numerical_gradient numerical_gradient one_hot"
    ),
    "optimizers": "AdaGrad Adam ClipGrads Momentum Nesterov OPTIMIZERS Optimizer RMSprop SGD WeightDecay",
    "book2": (
        "AdaGrad Adam Affine Attention AttentionDecoder AttentionEncoder AttentionSeq2seq AttentionWeight "
        "BaseModel BetterRnnlm BetterRnnlmGen CBOW ClipGrads Decoder Embedding EmbeddingDot Encoder GRU LSTM "
        "MatMul Momentum NegativeSamplingLoss Nesterov OPTIMIZERS Optimizer PeekyDecoder PeekySeq2seq RMSprop "
        "RNN Repeat Rnnlm RnnlmGen RnnlmTrainer SGD Seq2seq Sigmoid SigmoidWithLoss SimpleCBOW SimpleRnnlm "
        "SimpleSkipGram SkipGram Softmax SoftmaxWithLoss Sum TimeAffine TimeAttention TimeBiLSTM TimeDropout "
        "TimeEmbedding TimeGRU TimeLSTM TimeRNN TimeSigmoidWithLoss TimeSoftmaxWithLoss Trainer "
        "UnigramSampler WeightDecay WeightSum analogy clip_grads convert_one_hot cos_similarity "
        "create_co_matrix create_contexts_target eval_perplexity eval_seq2seq load_word_vectors markov_corpus "
        "most_similar normalize ppmi preprocess sample_ids save_word_vectors seq2seq_accuracy svd"
    ),
    "datasets": (
        "DATASETS DatasetError DatasetNotFoundError find_dataset load_cifar10 load_cifar_10 "
        "load_fashion_mnist load_mnist load_spiral parse_cifar10_binary parse_idx"
    ),
    "trainer": "LOSS_CEILING Trainer TrainingDivergedError",
    "trainer2": "RnnlmTrainer Trainer clip_grads",
    "models": (
        "DeepConvNet MultiLayerNet MultiLayerNetExtend Network SimpleConvNet SimpleNet ThreeLayerNet TwoLayerNet"
    ),
    "time_layers": (
        "GRU LSTM RNN TimeAffine TimeBiLSTM TimeDropout TimeEmbedding TimeGRU TimeLSTM TimeRNN "
        "TimeSigmoidWithLoss TimeSoftmaxWithLoss"
    ),
    "attention": "Attention AttentionWeight TimeAttention WeightSum",
    "text": (
        "analogy convert_one_hot cos_similarity create_co_matrix create_contexts_target most_similar "
        "normalize ppmi preprocess svd"
    ),
    "word2vec": (
        "CBOW EmbeddingDot NegativeSamplingLoss SimpleCBOW SimpleSkipGram SkipGram UnigramSampler "
        "load_word_vectors save_word_vectors"
    ),
    "rnnlm": (
        "BaseModel BetterRnnlm BetterRnnlmGen Rnnlm RnnlmGen SimpleRnnlm eval_perplexity markov_corpus sample_ids"
    ),
    "seq2seq": (
        "AttentionDecoder AttentionEncoder AttentionSeq2seq Decoder Encoder PeekyDecoder PeekySeq2seq Seq2seq "
        "eval_seq2seq seq2seq_accuracy"
    ),
    "ptb": "PTB_FILES load_ptb load_text_corpus",
    "sequence": "find_sequence_file generate_addition generate_date get_vocab load_addition load_data load_date",
    "checkpoint": (
        "CheckpointError STALE_TEMP_SECONDS clean_stale_temp_files load_arrays load_state save_arrays temp_prefix"
    ),
    "distributed": (
        "DistributedUnavailableError MpiCommunicator MultiNodeBatchNormalization MultiNodeOptimizer "
        "NcclCommunicator abort create_communicator create_mnbn_model create_multi_node_optimizer "
        "init_from_cli is_root prepare_training scatter_dataset under_mpiexec"
    ),
    "plot": (
        "accuracy_curve attention_map decision_boundary gradient_descent_path loss_curve require_matplotlib "
        "smooth training_curves"
    ),
}


@pytest.mark.parametrize("path", sorted(STAR_NAMES))
def test_book_path_star_imports_the_same_names(path):
    module = importlib.import_module(f"xpnet.{path}")
    names: dict = {}
    exec(f"from xpnet.{path} import *", names)
    got = {n for n in names if not n.startswith("__")}
    expected = set(STAR_NAMES[path].split())
    if hasattr(module, "__all__"):
        assert got == expected
    else:  # a module without __all__ exports what it imports too: the backend's old alias `device` is gone
        assert expected - {"device"} <= got
    for name in got:
        assert getattr(module, name) is names[name]


@pytest.mark.parametrize("path", sorted(xpnet.BOOK_PATHS))
def test_book_path_is_its_home_module(path):
    home = importlib.import_module(f"xpnet.{xpnet.BOOK_PATHS[path]}")
    assert importlib.import_module(f"xpnet.{path}") is home
    assert getattr(xpnet, path) is home
    assert home.__spec__.name == home.__name__ == f"xpnet.{xpnet.BOOK_PATHS[path]}"


def test_book_paths_in_a_fresh_interpreter():
    """``import xpnet.functions`` first thing, attribute access, and ``from xpnet import np``: lazily, no warning."""
    import subprocess
    import sys

    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import xpnet.trainer2, xpnet.functions\n"
        "from xpnet.time_layers import TimeLSTM\n"
        "from xpnet import np, attention\n"
        "import xpnet.layers.recurrent as r\n"
        "assert TimeLSTM is r.TimeLSTM and xpnet.functions.softmax is xpnet.layers.functions.softmax\n"
        "assert attention is xpnet.layers.attention and np.zeros(2).shape == (2,)\n"
        "from xpnet.cli import main; from xpnet.training import train_seq2seq\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_module"):
        xpnet.no_such_module  # noqa: B018


# --- README's layout table is the tree ------------------------------------------------------------


def _readme_rows() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)


def _on_disk() -> set[str]:
    found = set()
    for p in PACKAGE.rglob("*.py"):
        rel = p.relative_to(PACKAGE)
        if "__pycache__" in rel.parts:
            continue
        if rel.name == "__init__.py":
            if rel.parent != Path("."):
                found.add(f"{rel.parent.as_posix()}/")
        elif rel.name != "__main__.py":
            found.add(rel.as_posix())
    return found


def test_readme_layout_table_is_the_tree():
    rows = _readme_rows()
    assert len(rows) == len(set(rows)), "a row repeats"
    assert set(rows) == _on_disk()


# --- house rules ------------------------------------------------------------------------------------


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_over_500_lines():
    long = {}
    for p in _modules():
        rel = p.relative_to(PACKAGE)
        n = len(p.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES:
            long[rel.as_posix()] = n
    assert not long


def _subpackage(dotted: str) -> str:
    """``xpnet.layers.core`` -> ``layers``; a top-level module is its own subpackage."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_private_name_imported_across_subpackages():
    crossing = []
    for p in _modules():
        rel = p.relative_to(PACKAGE).with_suffix("")
        parts = ["xpnet", *rel.parts]
        package = parts[:-1] if rel.name != "__init__" else parts[:-1]
        here = _subpackage(".".join(parts[:-1] if rel.name == "__init__" else parts))
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.split(".")[0] == "xpnet":
                source = node.module
            else:
                continue
            if _subpackage(source) == here and source != "xpnet":
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    crossing.append(f"{rel.as_posix()}: from {source} import {alias.name}")
    assert not crossing


def test_every_package_has_a_docstring():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 8, f"{init.relative_to(ROOT)} says nothing about what it holds"
