"""Every example runs in its quick mode (README links them)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted(p for p in (Path(__file__).parent.parent / "examples").glob("*.py") if not p.name.startswith("_"))
NEEDS_DATA = {
    "learning_rate",
    "relu_vs_sigmoid",
    "three_layer_net",
    "fashion_mnist_cifar",
    "gradient_timing",
    "minibatch_loss_curves",
    "simple_conv_net",
    "distributed_train",
}
HAS_PLOT = {
    "gradient_descent",
    "learning_rate",
    "relu_vs_sigmoid",
    "three_layer_net",
    "spiral",
    "minibatch_loss_curves",
    "simple_conv_net",
    "ch02_count_based",
    "ch03_simple_cbow",
    "ch04_cbow",
}
FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_quickly(path, tmp_path):
    if path.stem in NEEDS_DATA and not FASHION.exists():
        pytest.skip("needs Fashion-MNIST: apt-get install dataset-fashion-mnist")
    args = [sys.executable, str(path), "--quick"]
    if path.stem in HAS_PLOT:
        args += ["--plot", str(tmp_path / "out.png")]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    if path.stem in HAS_PLOT:
        assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"


def test_every_example_is_linked_from_the_readme():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for path in EXAMPLES:
        assert f"examples/{path.name}" in readme, path.name


def test_minibatch_loss_curves_trains_chapter_4s_sigmoid_network():
    """Seed 000 / Figure 4-11 is chapter 4's TwoLayerNet, whose hidden layer is a sigmoid."""
    import ast

    tree = ast.parse((Path(__file__).parent.parent / "examples" / "minibatch_loss_curves.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "TwoLayerNet"]
    assert calls and all(
        any(k.arg == "activation" and getattr(k.value, "value", None) == "sigmoid" for k in c.keywords) for c in calls
    )
