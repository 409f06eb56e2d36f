"""The kernel-count benchmark (benchmarks/kernels.py): its counter counts what it claims, and a quick run works."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from benchmarks import kernels  # noqa: E402


def test_a_known_op_sequence_counts_exactly():
    a = torch.ones(3, 4)
    with kernels.KernelCounter() as counter:
        b = a + 1  # add
        v = b.t().unsqueeze(0).squeeze(0).detach()  # views only
        c = v * 2  # mul
        torch.mm(a, v)  # mm
        torch.empty(5)  # no kernel
        b.view(12)[:2].permute(0).expand(2)  # views only
    assert c.shape == (4, 3)
    assert dict(counter.counts) == {"add": 1, "mul": 1, "mm": 1}
    assert counter.total == 3


def test_in_place_and_out_variants_count_once_each():
    a, out = torch.ones(4), torch.zeros(4)
    with kernels.KernelCounter() as counter:
        a.mul_(2)
        torch.add(a, a, out=out)
        torch.tanh(out, out=out)
    assert dict(counter.counts) == {"mul_": 1, "add": 1, "tanh": 1}


@pytest.mark.parametrize("name", ["t", "view", "_unsafe_view", "empty_like", "empty_strided", "_record_function_enter"])
def test_view_ops_are_excluded(name):
    assert kernels.is_view_op(name)


@pytest.mark.parametrize("name", ["add", "copy_", "mm", "tanh", "_foreach_add_", "index_add_"])
def test_kernels_are_counted(name):
    assert not kernels.is_view_op(name)


def test_count_kernels_counts_one_warm_step():
    calls = []
    x = torch.ones(2)

    def step():
        calls.append(1)
        if len(calls) == 1:  # work done on the first call only (state being made) is not counted
            x.add_(1)
        x.mul_(1)

    assert dict(kernels.count_kernels(step, warm=1)) == {"mul_": 1}
    assert len(calls) == 2


def test_step_bytes_sees_an_allocation_and_none():
    np = pytest.importorskip("numpy")
    buf = np.zeros(1000)
    assert kernels.step_bytes(lambda: np.multiply(buf, 2.0, out=buf)) < 1000
    assert kernels.step_bytes(lambda: buf * 2.0) >= 8000


def test_meets():
    assert kernels.meets("<=1.0x", 15, 15) and not kernels.meets("<=1.0x", 16, 15)
    assert kernels.meets("<=1.5x", 30, 20) and not kernels.meets("<=1.5x", 31, 20)
    assert kernels.meets("<=300", 300, 10) and not kernels.meets("<=300", 301, 10)
    assert kernels.meets("report", 1000, 1) is None


def test_quick_run_writes_table_and_json(tmp_path, capsys):
    path = tmp_path / "k.json"
    results = kernels.main(["--quick", "--json", str(path), "--cases", "two_layer_sgd,rnnlm"])
    out = capsys.readouterr().out
    assert "| TwoLayerNet" in out and "| Rnnlm" in out and "host overhead" in out
    saved = json.loads(path.read_text())
    assert set(saved["kernels"]) == {"two_layer_sgd", "rnnlm"}
    for name, row in results["kernels"].items():
        assert row["xpnet"] == sum(row["xpnet_ops"].values()) > 0, name
        assert row["torch"] == sum(row["torch_ops"].values()) > 0, name
        assert not any(kernels.is_view_op(op.split("::")[-1]) for op in [*row["xpnet_ops"], *row["torch_ops"]]), name
        assert row["xpnet_fused"] == sum(n for op, n in row["xpnet_ops"].items() if "::" in op)
        assert saved["kernels"][name]["xpnet"] == row["xpnet"]
    # PyTorch's step is the idiomatic one: one foreach update for all parameters, and one clipping pass
    assert results["kernels"]["two_layer_sgd"]["torch_ops"].get("_foreach_add_") == 1
    assert results["kernels"]["rnnlm"]["torch_ops"].get("_foreach_norm") == 1
    # the recurrent models unroll over time: the LSTMCell loop launches per step what nn.LSTM launches once
    assert results["kernels"]["rnnlm"]["torch_alt"]["LSTMCell loop"] > 35 * 4
    assert results["host_overhead"]["xpnet_us"] > 0 and results["host_overhead"]["torch_us"] > 0


def test_unknown_case_is_a_clear_error():
    with pytest.raises(SystemExit, match="unknown case"):
        kernels.main(["--quick", "--json", "", "--cases", "nope"])


def test_descending_counts_what_torch_itself_launches_inside_xpnets_ops():
    torch = pytest.importorskip("torch")
    from benchmarks.kernels import count_kernels
    from xpnet import backend as k

    x, t = torch.randn(4, 3), torch.tensor([0, 2, 1, 1])
    store: dict = {}

    def step():
        _, saved = k.kernels_for(x).softmax_xent(x, t, store)
        k.kernels_for(x).softmax_xent_backward(saved, 1, store)

    counted = count_kernels(step)
    own = count_kernels(step, descend=True)
    assert counted["xpnet::softmax_xent_rows"] == 1 and counted["xpnet::softmax_xent_grad"] == 1
    assert not any(op.startswith("xpnet::") for op in own)
    # log-softmax, the guard, nll per row, the mean; nll's backward, the log-softmax's backward
    assert sum(own.values()) == 6 and own["mean"] == 1 and own["nll_loss_backward"] == 1
