"""Book 2's recurrent steps: xpnet (numpy backend) against the book's code and PyTorch eager, same weights and batches.

    python -m benchmarks.rnnlm --rounds 20 [--cases rnnlm,attention] [--json out.json] [--profile]

``rnnlm``: one RnnlmTrainer step of ch06's Rnnlm (vocabulary 10,000, word vectors 100,
hidden 100, batch 20, time 35, SGD lr 20, clipping 0.25): xpnet; a plain NumPy transcription
of the book's step (benchmarks/book_rnnlm.py); PyTorch eager (``nn.Embedding`` + ``nn.LSTM`` +
``nn.Linear``, ``cross_entropy``, ``clip_grad_norm_``, the same SGD), stateful like the book.
``attention``: one Adam step of ch08's AttentionSeq2seq on date-shaped data (vocabulary 59,
word vectors 16, hidden 256, batch 128, question 29, answer 11): xpnet; a plain NumPy
transcription of the book's step (benchmarks/book_attention.py, one ``Attention`` per time step);
PyTorch eager.
Before timing, the first step's losses of all contenders are compared (same arithmetic).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

import xpnet
from benchmarks import book_attention, book_rnnlm
from benchmarks.__main__ import fmt, machine, measure

try:
    import torch
except ImportError:
    torch = None

V, D, H, BATCH, TIME = 10000, 100, 100, 20, 35


def rnnlm_weights(V: int, D: int, H: int, seed: int = 0) -> list[np.ndarray]:
    """The book's initial weights (ch06/rnnlm.py), float32."""
    r = np.random.default_rng(seed)
    return [
        (r.standard_normal((V, D)) / 100).astype("f"),
        (r.standard_normal((D, 4 * H)) / np.sqrt(D)).astype("f"),
        (r.standard_normal((H, 4 * H)) / np.sqrt(H)).astype("f"),
        np.zeros(4 * H, dtype="f"),
        (r.standard_normal((H, V)) / np.sqrt(H)).astype("f"),
        np.zeros(V, dtype="f"),
    ]


def rnnlm_batches(n: int, V: int, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    r = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = r.integers(0, V, (BATCH, TIME + 1))
        out.append((x[:, :-1].astype(np.int64), x[:, 1:].astype(np.int64)))
    return out


def xpnet_rnnlm(weights: list[np.ndarray], lr: float, max_grad: float):
    from xpnet.optimizers import SGD
    from xpnet.rnnlm import Rnnlm
    from xpnet.trainer2 import clip_grads

    with xpnet.use_backend("numpy"):
        model = Rnnlm(V, D, H)
    for p, w in zip(model.params, weights):
        p[...] = w
    opt = SGD(lr)

    def step(x, t):
        loss = model.forward(x, t)
        model.backward()
        clip_grads(model.grads, max_grad)
        opt.update(model.params, model.grads)
        return loss

    return step


def book_rnnlm_step(weights: list[np.ndarray], lr: float, max_grad: float):
    model, opt = book_rnnlm.Rnnlm(weights), book_rnnlm.SGD(lr)
    return lambda x, t: book_rnnlm.step(model, opt, x.astype(np.int32), t.astype(np.int32), max_grad)


def _gates_to_torch(W: np.ndarray, H: int) -> np.ndarray:
    """Book gate order f, g, i, o (columns) -> PyTorch's i, f, g, o (rows of the transposed weight)."""
    f, g, i, o = (W[..., k * H : (k + 1) * H] for k in range(4))
    return np.concatenate([i, f, g, o], axis=-1).T.copy()


def torch_rnnlm(weights: list[np.ndarray], lr: float, max_grad: float):
    embed_W, Wx, Wh, b, affine_W, affine_b = weights
    embed = torch.nn.Embedding(V, D)
    lstm = torch.nn.LSTM(D, H, batch_first=True)
    linear = torch.nn.Linear(H, V)
    with torch.no_grad():
        embed.weight.copy_(torch.from_numpy(embed_W))
        lstm.weight_ih_l0.copy_(torch.from_numpy(_gates_to_torch(Wx, H)))
        lstm.weight_hh_l0.copy_(torch.from_numpy(_gates_to_torch(Wh, H)))
        lstm.bias_ih_l0.copy_(torch.from_numpy(_gates_to_torch(b[None, :], H)[:, 0]))
        lstm.bias_hh_l0.zero_()
        linear.weight.copy_(torch.from_numpy(affine_W.T.copy()))
        linear.bias.copy_(torch.from_numpy(affine_b))
    lstm.bias_hh_l0.requires_grad_(False)  # the book has one bias: PyTorch's second stays 0, out of SGD and clipping
    params = [p for m in (embed, lstm, linear) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr)
    state: dict[str, Any] = {"hc": None}

    def step(x, t):
        x, t = torch.from_numpy(x), torch.from_numpy(t)
        opt.zero_grad(set_to_none=False)
        out, hc = lstm(embed(x), state["hc"])
        state["hc"] = (hc[0].detach(), hc[1].detach())  # stateful, truncated BPTT like the book
        loss = torch.nn.functional.cross_entropy(linear(out).reshape(-1, V), t.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, max_grad)
        opt.step()
        return loss.detach()

    return step


def cycle(fn, batches):
    state = {"i": 0}

    def run():
        x, t = batches[state["i"] % len(batches)]
        state["i"] += 1
        fn(x, t)

    return run


def rnnlm_case(args: argparse.Namespace) -> dict[str, float]:
    weights = rnnlm_weights(V, D, H)
    batches = rnnlm_batches(8, V)
    makers = {"xpnet": xpnet_rnnlm, "book": book_rnnlm_step}
    if torch is not None:
        makers["torch"] = torch_rnnlm
    losses = {k: float(m(weights, 20.0, 0.25)(*batches[0])) for k, m in makers.items()}
    ref = losses["book"]
    for k, v in losses.items():
        if abs(v - ref) > 1e-4 * abs(ref):
            raise AssertionError(f"{k}'s first loss {v} differs from the book's {ref}: not the same step")
    contenders = {k: cycle(m(weights, 20.0, 0.25), batches) for k, m in makers.items()}
    return measure(contenders, args.inner, args.rounds, "numpy")


# --- AttentionSeq2seq -----------------------------------------------------------------------

AV, AD, AH, AN, TQ, TA = 59, 16, 256, 128, 29, 11


def xpnet_attention(weights: dict[str, np.ndarray]):
    from xpnet.optimizers import Adam
    from xpnet.seq2seq import AttentionSeq2seq

    with xpnet.use_backend("numpy"):
        model = AttentionSeq2seq(AV, AD, AH)
    for p, w in zip(model.params, weights["order"]):
        p[...] = w
    opt = Adam()

    def step(x, t):
        loss = model.forward(x, t)
        model.backward()
        opt.update(model.params, model.grads)
        return loss

    return step


def attention_weights(seed: int = 0) -> dict[str, Any]:
    r = np.random.default_rng(seed)

    def rn(*shape, scale):
        return (r.standard_normal(shape) * scale).astype("f")

    def half():
        return [rn(AV, AD, scale=0.01), rn(AD, 4 * AH, scale=AD**-0.5), rn(AH, 4 * AH, scale=AH**-0.5)]

    enc = [*half(), np.zeros(4 * AH, "f")]
    dec = [*half(), np.zeros(4 * AH, "f")]
    aff = [rn(2 * AH, AV, scale=(2 * AH) ** -0.5), np.zeros(AV, "f")]
    return {"order": enc + dec + aff}


def book_attention_step(weights: dict[str, np.ndarray]):
    model, opt = book_attention.AttentionSeq2seq(weights["order"]), book_attention.Adam()
    return lambda x, t: book_attention.step(model, opt, x, t)


def torch_attention(weights: dict[str, np.ndarray]):
    ew, ewx, ewh, eb, dw, dwx, dwh, db, aw, ab = weights["order"]
    mods = {
        "eemb": torch.nn.Embedding(AV, AD),
        "elstm": torch.nn.LSTM(AD, AH, batch_first=True),
        "demb": torch.nn.Embedding(AV, AD),
        "dlstm": torch.nn.LSTM(AD, AH, batch_first=True),
        "aff": torch.nn.Linear(2 * AH, AV),
    }
    with torch.no_grad():
        for emb, W in ((mods["eemb"], ew), (mods["demb"], dw)):
            emb.weight.copy_(torch.from_numpy(W))
        for lstm, Wx, Wh, b in ((mods["elstm"], ewx, ewh, eb), (mods["dlstm"], dwx, dwh, db)):
            lstm.weight_ih_l0.copy_(torch.from_numpy(_gates_to_torch(Wx, AH)))
            lstm.weight_hh_l0.copy_(torch.from_numpy(_gates_to_torch(Wh, AH)))
            lstm.bias_ih_l0.copy_(torch.from_numpy(_gates_to_torch(b[None, :], AH)[:, 0]))
            lstm.bias_hh_l0.zero_()
            lstm.bias_hh_l0.requires_grad_(False)
        mods["aff"].weight.copy_(torch.from_numpy(aw.T.copy()))
        mods["aff"].bias.copy_(torch.from_numpy(ab))
    params = [p for m in mods.values() for p in m.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=0.001, betas=(0.9, 0.999), eps=1e-8)

    def step(x, t):
        x, t = torch.from_numpy(x), torch.from_numpy(t)
        opt.zero_grad(set_to_none=False)
        enc_hs, _ = mods["elstm"](mods["eemb"](x))
        h0 = enc_hs[:, -1, :][None]
        dec_hs, _ = mods["dlstm"](mods["demb"](t[:, :-1]), (h0, torch.zeros_like(h0)))
        a = torch.softmax(dec_hs @ enc_hs.transpose(1, 2), dim=-1)
        score = mods["aff"](torch.cat([a @ enc_hs, dec_hs], dim=2))
        loss = torch.nn.functional.cross_entropy(score.reshape(-1, AV), t[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def attention_case(args: argparse.Namespace) -> dict[str, float]:
    weights = attention_weights()
    r = np.random.default_rng(2)
    batches = [(r.integers(0, AV, (AN, TQ)), r.integers(0, AV, (AN, TA))) for _ in range(4)]
    makers = {"xpnet": xpnet_attention, "book": book_attention_step}
    if torch is not None:
        makers["torch"] = torch_attention
    losses = {k: float(m(weights)(*batches[0])) for k, m in makers.items()}
    if any(abs(v - losses["xpnet"]) > 1e-4 * abs(losses["xpnet"]) for v in losses.values()):
        raise AssertionError(f"first losses differ: {losses}")
    contenders = {k: cycle(m(weights), batches) for k, m in makers.items()}
    return measure(contenders, max(1, args.inner // 4), args.rounds, "numpy")


def report(name: str, res: dict[str, float]) -> None:
    base = res["xpnet"]
    parts = " | ".join(f"{k} {fmt(v)}" for k, v in res.items())
    ratios = ", ".join(f"{k}/xpnet {v / base:.2f}" for k, v in res.items() if k != "xpnet")
    print(f"{name:28s} {parts}   [{ratios}]")
    sys.stdout.flush()


def profile() -> None:
    """Where xpnet's RNNLM step spends its time (cProfile, by function)."""
    import cProfile
    import pstats

    batches = rnnlm_batches(4, V)
    run = cycle(xpnet_rnnlm(rnnlm_weights(V, D, H), 20.0, 0.25), batches)
    run()
    prof = cProfile.Profile()
    prof.runcall(lambda: [run() for _ in range(10)])
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--inner", type=int, default=4, help="steps per timed block")
    p.add_argument("--cases", default="rnnlm,attention")
    p.add_argument("--json", default=None)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    results: dict[str, Any] = {"machine": machine()}
    cases = args.cases.split(",")
    if "rnnlm" in cases:
        results["rnnlm"] = rnnlm_case(args)
        report("RNNLM step float32", results["rnnlm"])
    if "attention" in cases:
        results["attention"] = attention_case(args)
        report("AttentionSeq2seq step float32", results["attention"])
    if args.profile:
        profile()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
