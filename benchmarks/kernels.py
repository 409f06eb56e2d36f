"""Kernels per warm training step: xpnet on the torch backend (CPU) against PyTorch eager of the same model.

    python -m benchmarks.kernels [--json PATH] [--quick] [--cases two_layer_sgd,rnnlm,...]

At the book's sizes a GPU kernel finishes in microseconds, so a GPU step costs about
(kernels launched) x (launch + Python overhead). Counting the ops that one warm step dispatches
on the torch backend (a ``TorchDispatchMode``; ops that only make a view are left out) counts
what CuPy would launch for the same code, since nearly every Array API call is one kernel there.
PyTorch eager runs the same model written the usual way: ``torch.nn`` modules, ``torch.optim``
with ``foreach=True``, integer labels for the losses.

Also measured: the host overhead of a step at a tiny size (TwoLayerNet 4-4-2, batch 2, where
arithmetic costs nothing; median microseconds, interleaved with :func:`benchmarks.__main__.measure`,
one intra-op thread for both),
and the bytes that one warm step on the NumPy backend allocates (``tracemalloc`` peak above the
memory held before the step: 0 means the step could be captured as a CUDA graph on CuPy).

The recurrent models are counted on the portable time loop (the path CuPy runs: PyTorch's own
LSTM op switched off with ``library_rnn(False)``), and again with it (the torch-only route).

Counts do not depend on the sizes (only on the structure and the number of time steps), so
``--quick`` shrinks every size except the time steps of the recurrent models, and times less.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import xpnet
import xpnet.book2
import xpnet.optimizers
from benchmarks.__main__ import machine, measure
from xpnet.backend import library_rnn

try:
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
except ImportError:  # the benchmark needs torch; the module still imports for --help
    torch = None
    TorchDispatchMode = object

VIEW_OPS = frozenset(
    {"t", "view", "detach", "permute", "select", "slice", "transpose", "expand", "unsqueeze", "squeeze"}
    | {"_unsafe_view", "as_strided", "alias"}
)
VIEW_PREFIXES = ("empty", "_record_function_")
DEFAULT_JSON = os.path.join(os.path.dirname(__file__), "results", "kernels-cpu.json")


def is_view_op(name: str) -> bool:
    """Whether the aten op ``name`` (an overload packet's name, e.g. ``"add_"``) launches no kernel."""
    return name in VIEW_OPS or name.startswith(VIEW_PREFIXES)


class KernelCounter(TorchDispatchMode):
    """Counts the ops dispatched inside the ``with`` block by overload packet, views left out.

    ``counts`` is a :class:`collections.Counter` of op names (``aten`` ops by their bare name,
    others as ``namespace::name``, e.g. xpnet's fused kernels ``xpnet::lstm_cell_forward``:
    one op here, one launch on CuPy); ``total`` their sum.
    """

    def __init__(self, descend: bool = False) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()
        self.descend = descend  # count the ops inside xpnet's own torch ops (what torch itself launches for them)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = func.overloadpacket.__name__
        if self.descend and func.namespace == "xpnet":
            from xpnet.backend._torch_ops import OP_BODIES

            with self:  # the body's aten ops come back through this mode
                return OP_BODIES[name](*args, **(kwargs or {}))
        if not is_view_op(name):
            self.counts[name if func.namespace == "aten" else f"{func.namespace}::{name}"] += 1
        return func(*args, **(kwargs or {}))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def count_kernels(step: Callable[[], Any], warm: int = 2, descend: bool = False) -> Counter[str]:
    """The ops of one call of ``step`` after ``warm`` calls (buffers made, optimizer state drawn); ``descend``: the
    ops inside xpnet's torch ops counted instead of each op as one (what torch launches, not what CuPy would)."""
    for _ in range(warm):
        step()
    with KernelCounter(descend) as counter:
        step()
    return counter.counts


def step_bytes(step: Callable[[], Any], warm: int = 2) -> int:
    """Peak bytes that one call of ``step`` allocates above what was held before it (``tracemalloc``)."""
    for _ in range(warm):
        step()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        return max(0, tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()


# --- the models -------------------------------------------------------------------------------
# Each xpnet maker builds its model and batch on the active backend and returns a step; each torch
# maker does the same with torch.nn on the CPU. ``cfg`` holds the sizes (full or --quick).


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _onehot_batch(batch: int, shape: tuple[int, ...], classes: int) -> tuple[np.ndarray, np.ndarray]:
    r = _rng()
    x = r.random((batch, *shape)).astype("float32")
    return x, np.eye(classes, dtype="float32")[r.integers(0, classes, batch)]


def _book1_step(net: Any, opt: Any, x: np.ndarray, t: np.ndarray) -> Callable[[], None]:
    x, t = xpnet.asarray(x), xpnet.asarray(t)
    return lambda: opt.update(net.params, net.gradient(x, t))


def _book2_step(model: Any, opt: Any, x: Any, t: Any, max_grad: float | None) -> Callable[[], None]:
    x, t = xpnet.asarray(x), xpnet.asarray(t)

    def step() -> None:
        model.forward(x, t)
        model.backward()
        if max_grad is not None:
            xpnet.book2.clip_grads(model.grads, max_grad)
        opt.update(model.params, model.grads)

    return step


def _torch_step(params: Any, opt: Any, loss_fn: Callable[[], Any], max_grad: float | None = None):
    params = list(params)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        if max_grad is not None:
            torch.nn.utils.clip_grad_norm_(params, max_grad, foreach=True)
        opt.step()

    return step


def _torch_opt(kind: str, params: Any, lr: float) -> Any:
    params = list(params)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, foreach=True)
    return torch.optim.SGD(params, lr=lr, foreach=True)


def _xp_opt(kind: str, lr: float) -> Any:
    return xpnet.optimizers.Adam(lr=lr) if kind == "adam" else xpnet.optimizers.SGD(lr=lr)


def xp_two_layer(cfg: dict, opt: str, labels: bool = False) -> Callable[[], None]:
    """``labels``: integer labels, as PyTorch's contender gets (else the book's one-hot labels, read by argmax)."""
    i, h, o, n = cfg["sizes"]
    x, t = _onehot_batch(n, (i,), o)
    if labels:
        t = t.argmax(1)
    return _book1_step(xpnet.TwoLayerNet(i, h, o, dtype="float32", rng=0), _xp_opt(opt, cfg["lr"][opt]), x, t)


def torch_two_layer(cfg: dict, opt: str) -> Callable[[], None]:
    i, h, o, n = cfg["sizes"]
    x, t = _onehot_batch(n, (i,), o)
    x, t = torch.from_numpy(x), torch.from_numpy(t.argmax(1))
    m = torch.nn.Sequential(torch.nn.Linear(i, h), torch.nn.ReLU(), torch.nn.Linear(h, o))
    f = torch.nn.functional.cross_entropy
    return _torch_step(m.parameters(), _torch_opt(opt, m.parameters(), cfg["lr"][opt]), lambda: f(m(x), t))


def xp_extend(cfg: dict) -> Callable[[], None]:
    i, hidden, o, n = cfg["sizes"]
    x, t = _onehot_batch(n, (i,), o)
    net = xpnet.MultiLayerNetExtend(
        i, hidden, o, use_dropout=True, dropout_ration=0.2, use_batchnorm=True, dtype="float32", rng=0
    )
    return _book1_step(net, xpnet.optimizers.SGD(lr=0.01), x, t)


def torch_extend(cfg: dict) -> Callable[[], None]:
    i, hidden, o, n = cfg["sizes"]
    x, t = _onehot_batch(n, (i,), o)
    x, t = torch.from_numpy(x), torch.from_numpy(t.argmax(1))
    mods: list[Any] = []
    for a, b in zip([i, *hidden[:-1]], hidden):
        mods += [torch.nn.Linear(a, b), torch.nn.BatchNorm1d(b), torch.nn.ReLU(), torch.nn.Dropout(0.2)]
    m = torch.nn.Sequential(*mods, torch.nn.Linear(hidden[-1], o)).train()
    f = torch.nn.functional.cross_entropy
    return _torch_step(m.parameters(), _torch_opt("sgd", m.parameters(), 0.01), lambda: f(m(x), t))


def xp_conv(cfg: dict) -> Callable[[], None]:
    side, fn, hidden, n = cfg["sizes"]
    x, t = _onehot_batch(n, (1, side, side), 10)
    conv = {"filter_num": fn, "filter_size": 5, "pad": 0, "stride": 1}
    net = xpnet.SimpleConvNet((1, side, side), conv, hidden, 10, dtype="float32", rng=0)
    return _book1_step(net, xpnet.optimizers.SGD(lr=0.1), x, t)


def torch_conv(cfg: dict) -> Callable[[], None]:
    side, fn, hidden, n = cfg["sizes"]
    x, t = _onehot_batch(n, (1, side, side), 10)
    x, t = torch.from_numpy(x), torch.from_numpy(t.argmax(1))
    flat = fn * ((side - 4) // 2) ** 2
    m = torch.nn.Sequential(
        torch.nn.Conv2d(1, fn, 5),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(flat, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 10),
    )
    f = torch.nn.functional.cross_entropy
    return _torch_step(m.parameters(), _torch_opt("sgd", m.parameters(), 0.1), lambda: f(m(x), t))


def _cbow_data(cfg: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    V, _, n, window, _ = cfg["sizes"]
    r = _rng()
    corpus = r.integers(0, V, 20 * V)
    pos = r.integers(window, corpus.size - window, n)
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])
    return corpus, corpus[pos[:, None] + offsets], corpus[pos]


def xp_cbow(cfg: dict) -> Callable[[], None]:
    V, H, _, window, neg = cfg["sizes"]
    corpus, contexts, target = _cbow_data(cfg)
    model = xpnet.book2.CBOW(V, H, window, corpus, sample_size=neg, dtype="float32", rng=0)
    return _book2_step(model, xpnet.optimizers.Adam(), contexts, target, None)


def torch_cbow(cfg: dict) -> Callable[[], None]:
    V, H, n, _, neg = cfg["sizes"]
    corpus, contexts, target = (torch.from_numpy(a) for a in _cbow_data(cfg))
    emb_in, emb_out = torch.nn.Embedding(V, H), torch.nn.Embedding(V, H)
    p = torch.bincount(corpus, minlength=V).double() ** 0.75
    cdf = torch.cumsum(p / p.sum(), 0)
    labels = torch.zeros(n, neg + 1)
    labels[:, 0] = 1
    f = torch.nn.functional.binary_cross_entropy_with_logits

    def loss() -> Any:
        with torch.no_grad():  # negatives drawn on the device, by the unigram distribution ** 0.75
            negs = torch.searchsorted(cdf, torch.rand(n, neg, dtype=cdf.dtype), right=True).clamp_(max=V - 1)
        idx = torch.cat([target[:, None], negs], 1)
        h = emb_in(contexts).mean(1)
        score = torch.bmm(emb_out(idx), h[:, :, None])[:, :, 0]
        return f(score, labels, reduction="sum") / n

    params = [emb_in.weight, emb_out.weight]
    return _torch_step(params, _torch_opt("adam", params, 0.001), loss)


def _ids(V: int, shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return _rng(seed).integers(0, V, shape).astype(np.int64)


def xp_rnnlm(cfg: dict, better: bool = False) -> Callable[[], None]:
    V, D, H, N, T = cfg["sizes"]
    x = _ids(V, (N, T + 1))
    model = xpnet.book2.BetterRnnlm(V, D, H, dtype="float32") if better else xpnet.book2.Rnnlm(V, D, H, dtype="float32")
    return _book2_step(model, xpnet.optimizers.SGD(lr=20.0), x[:, :-1], x[:, 1:], 0.25)


def torch_rnnlm(cfg: dict, better: bool = False, cell: bool = False) -> Callable[[], None]:
    V, D, H, N, T = cfg["sizes"]
    x = torch.from_numpy(_ids(V, (N, T + 1)))
    xs, ts = x[:, :-1], x[:, 1:]
    embed, linear = torch.nn.Embedding(V, D), torch.nn.Linear(H, V)
    drop = torch.nn.Dropout(0.5 if better else 0.0)
    if cell:
        lstms = [torch.nn.LSTMCell(D, H)]
    else:
        lstms = [torch.nn.LSTM(D, H, batch_first=True)] + ([torch.nn.LSTM(H, H, batch_first=True)] if better else [])
    if better:
        linear.weight = embed.weight  # tied, as the book's BetterRnnlm
    state = [(torch.zeros(1, N, H), torch.zeros(1, N, H)) for _ in lstms]

    def run_cell(lstm: Any, hs: Any, k: int) -> Any:
        h, c = (s[0].detach() for s in state[k])
        out = []
        for t in range(T):
            h, c = lstm(hs[:, t, :], (h, c))
            out.append(h)
        state[k] = (h[None], c[None])
        return torch.stack(out, 1)

    def loss() -> Any:
        hs = embed(xs)
        for k, lstm in enumerate(lstms):
            if cell:
                hs = run_cell(lstm, hs, k)
            else:
                hs, (h, c) = lstm(drop(hs) if better else hs, tuple(s.detach() for s in state[k]))
                state[k] = (h, c)
        score = linear(drop(hs) if better else hs)
        return torch.nn.functional.cross_entropy(score.reshape(-1, V), ts.reshape(-1))

    params = list(dict.fromkeys([*embed.parameters(), *(p for m in lstms for p in m.parameters()), linear.bias]))
    return _torch_step(params, _torch_opt("sgd", params, 20.0), loss, 0.25)


def _seq2seq_data(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    V, _, _, N, Tq, Ta = cfg["sizes"]
    return _ids(V, (N, Tq)), _ids(V, (N, Ta), seed=2)


def xp_attention(cfg: dict) -> Callable[[], None]:
    V, D, H, *_ = cfg["sizes"]
    xs, ts = _seq2seq_data(cfg)
    model = xpnet.book2.AttentionSeq2seq(V, D, H, dtype="float32")
    return _book2_step(model, xpnet.optimizers.Adam(), xs, ts, 5.0)


def torch_attention(cfg: dict) -> Callable[[], None]:
    V, D, H, N, *_ = cfg["sizes"]
    xs, ts = (torch.from_numpy(a) for a in _seq2seq_data(cfg))
    nn = torch.nn
    eemb, demb = nn.Embedding(V, D), nn.Embedding(V, D)
    elstm, dlstm = nn.LSTM(D, H, batch_first=True), nn.LSTM(D, H, batch_first=True)
    aff = nn.Linear(2 * H, V)
    mods = [eemb, demb, elstm, dlstm, aff]

    def loss() -> Any:
        enc_hs, (h, c) = elstm(eemb(xs))
        dec_hs, _ = dlstm(demb(ts[:, :-1]), (h, torch.zeros_like(h)))
        a = torch.softmax(dec_hs @ enc_hs.transpose(1, 2), dim=-1)
        score = aff(torch.cat([a @ enc_hs, dec_hs], dim=2))
        return nn.functional.cross_entropy(score.reshape(-1, V), ts[:, 1:].reshape(-1))

    params = [p for m in mods for p in m.parameters()]
    return _torch_step(params, _torch_opt("adam", params, 0.001), loss, 5.0)


@dataclass
class Case:
    """One row: a label, the makers (each ``maker(cfg) -> step``), the full and quick sizes, the target."""

    label: str
    xpnet: Callable[[dict], Callable[[], None]]
    torch: Callable[[dict], Callable[[], None]]
    full: dict
    quick: dict
    target: str  # "<=1.0x", "<=1.5x", "<=300", "report"
    alt_torch: Callable[[dict], Callable[[], None]] | None = None  # a second PyTorch contender
    alt_label: str = ""
    recurrent: bool = False  # counted on the portable time loop, and again with PyTorch's own LSTM op (target <= 3.0x)


_LR = {"sgd": 0.1, "adam": 0.001}
_RNN_FULL, _RNN_QUICK = {"sizes": (1000, 100, 100, 20, 35)}, {"sizes": (50, 8, 8, 2, 35)}
CASES: dict[str, Case] = {
    **{
        f"two_layer_{opt}": Case(
            f"TwoLayerNet 784-50-10, batch 100, {name}",
            lambda c, opt=opt: xp_two_layer(c, opt),
            lambda c, opt=opt: torch_two_layer(c, opt),
            {"sizes": (784, 50, 10, 100), "lr": _LR},
            {"sizes": (12, 5, 3, 4), "lr": _LR},
            "<=1.0x",
        )
        for opt, name in (("sgd", "SGD"), ("adam", "Adam"))
    },
    "two_layer_sgd_labels": Case(
        "TwoLayerNet 784-50-10, batch 100, SGD, integer labels as PyTorch gets (other rows: the book's one-hot)",
        lambda c: xp_two_layer(c, "sgd", labels=True),
        lambda c: torch_two_layer(c, "sgd"),
        {"sizes": (784, 50, 10, 100), "lr": _LR},
        {"sizes": (12, 5, 3, 4), "lr": _LR},
        "<=1.0x",
    ),
    "extend": Case(
        "MultiLayerNetExtend 784-100x5-10, BatchNorm + Dropout, batch 100, SGD",
        xp_extend,
        torch_extend,
        {"sizes": (784, [100] * 5, 10, 100)},
        {"sizes": (12, [6] * 5, 3, 4)},
        "<=1.5x",
    ),
    "conv": Case(
        "SimpleConvNet 1x28x28, 30 filters 5x5, hidden 100, batch 100, SGD",
        xp_conv,
        torch_conv,
        {"sizes": (28, 30, 100, 100)},
        {"sizes": (12, 3, 6, 4)},
        "<=1.5x",
    ),
    "cbow": Case(
        "CBOW V 10,000, H 100, batch 100, window 5, 5 negatives, Adam",
        xp_cbow,
        torch_cbow,
        {"sizes": (10000, 100, 100, 5, 5)},
        {"sizes": (40, 6, 4, 5, 5)},
        "<=1.5x",
    ),
    "rnnlm": Case(
        "Rnnlm 1000/100/100, batch 20, time 35, SGD + clipping",
        xp_rnnlm,
        torch_rnnlm,
        _RNN_FULL,
        _RNN_QUICK,
        "<=300",
        alt_torch=lambda c: torch_rnnlm(c, cell=True),
        alt_label="LSTMCell loop",
        recurrent=True,
    ),
    "better_rnnlm": Case(
        "BetterRnnlm 1000/100/100 (2 LSTMs, dropout 0.5, tied), batch 20, time 35, SGD + clipping",
        lambda c: xp_rnnlm(c, better=True),
        lambda c: torch_rnnlm(c, better=True),
        _RNN_FULL,
        _RNN_QUICK,
        "<=300",
        recurrent=True,
    ),
    "attention": Case(
        "AttentionSeq2seq 59/16/256, batch 128, question 29, answer 11, Adam + clipping",
        xp_attention,
        torch_attention,
        {"sizes": (59, 16, 256, 128, 29, 11)},
        {"sizes": (13, 4, 8, 2, 29, 11)},
        "report",
        recurrent=True,
    ),
}


def meets(target: str, xp_count: int, torch_count: int) -> bool | None:
    """Whether a row meets its target (None when the row is only reported)."""
    if target.endswith("x"):
        return xp_count <= float(target[2:-1]) * torch_count
    if target.startswith("<="):
        return xp_count <= int(target[2:])
    return None


def run_case(case: Case, quick: bool) -> dict[str, Any]:
    """Kernel counts on torch (xpnet and PyTorch) and the NumPy step's bytes for one case."""
    cfg = case.quick if quick else case.full
    torch.manual_seed(0)
    with xpnet.use_backend("torch", dtype="float32"), library_rnn(False):  # the portable path, as CuPy runs it
        xp_ops = count_kernels(case.xpnet(cfg))
        own = sum(count_kernels(case.xpnet(cfg), descend=True).values())  # torch's own launches for the same step
    pt_ops = count_kernels(case.torch(cfg))
    with xpnet.use_backend("numpy", dtype="float32"):
        numpy_bytes = step_bytes(case.xpnet(cfg))
    xp_n, pt_n = sum(xp_ops.values()), sum(pt_ops.values())
    row = {
        "label": case.label,
        "xpnet": xp_n,
        "torch": pt_n,
        "ratio": xp_n / pt_n,
        "target": case.target,
        "meets": meets(case.target, xp_n, pt_n),
        "xpnet_fused": sum(n for op, n in xp_ops.items() if op.startswith("xpnet::")),
        "xpnet_torch_own": own,
        "numpy_step_bytes": numpy_bytes,
        "xpnet_ops": dict(xp_ops.most_common()),
        "torch_ops": dict(pt_ops.most_common()),
    }
    if case.alt_torch is not None:
        row["torch_alt"] = {case.alt_label: sum(count_kernels(case.alt_torch(cfg)).values())}
    if case.recurrent:
        with xpnet.use_backend("torch", dtype="float32"), library_rnn(True):
            route = count_kernels(case.xpnet(cfg))
        n = sum(route.values())
        row["torch_route"] = {"xpnet": n, "ratio": n / pt_n, "meets": n <= 3.0 * pt_n, "xpnet_ops": dict(route)}
    return row


def host_overhead(quick: bool) -> dict[str, float]:
    """Median µs per step of TwoLayerNet 4-4-2 at batch 2: xpnet on torch against PyTorch eager."""
    cfg = {"sizes": (4, 4, 2, 2), "lr": _LR}
    torch.manual_seed(0)
    with xpnet.use_backend("torch", dtype="float32"):
        xp = xp_two_layer(cfg, "sgd")
    pt = torch_two_layer(cfg, "sgd")
    inner, rounds = (20, 3) if quick else (300, 15)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # no op at batch 2 is worth a second thread, whose wake-ups are noise on a busy machine
    try:
        with xpnet.use_backend("torch", dtype="float32"):
            res = measure({"xpnet": xp, "torch": pt}, inner, rounds, "torch")
    finally:
        torch.set_num_threads(threads)
    return {"xpnet_us": res["xpnet"] * 1e6, "torch_us": res["torch"] * 1e6, "ratio": res["xpnet"] / res["torch"]}


def table(rows: dict[str, dict[str, Any]], host: dict[str, float] | None) -> str:
    """The markdown table of a run."""
    lines = [
        "| step (torch backend, CPU) | xpnet | PyTorch eager | ratio | target | met | NumPy step allocates "
        "| torch's own launches |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows.values():
        met = {True: "yes", False: "**no**", None: "-"}[r["meets"]]
        extra = "".join(f"; {k}: {v}" for k, v in r.get("torch_alt", {}).items())
        kib = r["numpy_step_bytes"] / 1024
        fused = f" ({r['xpnet_fused']} fused)" if r.get("xpnet_fused") else ""
        route = r.get("torch_route")
        lines.append(
            f"| {r['label']} | {r['xpnet']}{fused} | {r['torch']}{extra} | {r['ratio']:.2f} | {r['target']} | {met} "
            f"| {kib:.1f} KiB | {r.get('xpnet_torch_own', '')} |"
        )
        if route:
            lines.append(
                f"| same, LSTM by PyTorch's own op (torch-only route) | {route['xpnet']} | {r['torch']} "
                f"| {route['ratio']:.2f} | <=3.0x | {'yes' if route['meets'] else '**no**'} | | |"
            )
    if host is not None:
        lines.append(
            f"| host overhead, TwoLayerNet 4-4-2, batch 2 (µs/step) | {host['xpnet_us']:.0f} | {host['torch_us']:.0f} "
            f"| {host['ratio']:.2f} | <=1.0x | {'yes' if host['ratio'] <= 1.0 else '**no**'} | | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", default=DEFAULT_JSON, help=f"where to write the results (default {DEFAULT_JSON})")
    p.add_argument("--quick", action="store_true", help="tiny sizes (same counts), a short timing")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of: " + ", ".join(CASES))
    p.add_argument("--no-host", action="store_true", help="skip the host-overhead timing")
    args = p.parse_args(argv)
    if torch is None:
        raise SystemExit("benchmarks.kernels needs PyTorch: pip install torch")
    names = [n for n in args.cases.split(",") if n]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"benchmarks.kernels: unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    rows = {}
    for n in names:
        rows[n] = run_case(CASES[n], args.quick)
        if args.quick:
            rows[n]["label"] += " (quick: tiny sizes, same time steps)"
        r = rows[n]
        print(f"{n:15s} xpnet {r['xpnet']:5d}  torch {r['torch']:4d}  ratio {r['ratio']:6.2f}", file=sys.stderr)
    host = None if args.no_host else host_overhead(args.quick)
    print(table(rows, host))
    results = {"machine": machine(), "quick": args.quick, "kernels": rows, "host_overhead": host}
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(
                results, f, indent=1, default=lambda o: None if isinstance(o, float) and math.isnan(o) else str(o)
            )
        os.replace(tmp, args.json)
        print(f"results written to {args.json}")
    return results


if __name__ == "__main__":
    main()
