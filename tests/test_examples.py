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
