"""Word2vec benchmarks (book 2, chapter 4): the CBOW negative-sampling training step, and ``index_add``.

    python -m benchmarks.word2vec --rounds 15 [--backend numpy|cupy|torch] [--json bench-word2vec.json]

CBOW step: window 5, hidden 100, batch 100, vocabulary 10,000, 5 negatives, Adam, float32, from the
same initial weights and the same pre-drawn batches for every contender: xpnet (``CBOW`` +
``Adam`` through book 2's ``Trainer.step``), the book's own code (benchmarks/book_word2vec.py,
plain NumPy) and PyTorch eager (``nn.Embedding``, the same arithmetic and the book's Adam written
with in-place tensor ops). Each contender draws its own negatives (part of the step).

index_add: ``dst[idx] += src`` with repeats at V=10,000, 100-wide rows, 10,000 ids (and 1,000,
the CBOW step's size): ``np.add.at``, xpnet's NumPy path, sort + ``np.add.reduceat``, one
``np.bincount`` per column, and one-hot matrix products (1,000 ids a block).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

import xpnet
from benchmarks import book_word2vec
from benchmarks.__main__ import fmt, machine, measure

try:
    import torch
except ImportError:
    torch = None

V, H, WINDOW, BATCH, NEG = 10_000, 100, 5, 100, 5


def corpus_and_batches(n_batches: int, seed: int = 0):
    """A Zipf-like corpus of 100,000 ids over V words (every word present) and ``n_batches`` CBOW batches."""
    r = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, V + 1)
    corpus = np.concatenate([np.arange(V), r.choice(V, 90_000, p=p / p.sum())])
    r.shuffle(corpus)
    starts = r.integers(WINDOW, corpus.shape[0] - WINDOW, (n_batches, BATCH))
    offsets = np.array([o for o in range(-WINDOW, WINDOW + 1) if o != 0])
    contexts = corpus[starts[:, :, None] + offsets]  # (n, BATCH, 2 * WINDOW)
    target = corpus[starts]
    return corpus, contexts, target


def weights(seed: int = 1):
    r = np.random.default_rng(seed)
    return (0.01 * r.standard_normal((V, H))).astype(np.float32), (0.01 * r.standard_normal((V, H))).astype(np.float32)


def cycle(step, xs, ts):
    state = {"i": 0}

    def run():
        i = state["i"] % len(xs)
        state["i"] += 1
        step(xs[i], ts[i])

    return run


def xpnet_step(corpus, W_in, W_out):
    from xpnet.book2 import CBOW, Adam, Trainer

    model = CBOW(V, H, WINDOW, xpnet.asarray(corpus))
    for p, w in zip(model.params, (W_in, W_out)):
        p[...] = xpnet.asarray(w)
    trainer = Trainer(model, Adam())
    return lambda c, t: trainer.step(c, t)


def book_step(corpus, W_in, W_out):
    model = book_word2vec.CBOW(W_in.copy(), W_out.copy(), WINDOW, corpus, np.random.default_rng(0))
    return book_word2vec.book_cbow_step(model, book_word2vec.Adam())


def torch_step(corpus, W_in, W_out, device: str):
    """nn.Embedding CBOW with the same loss, the same inverse-CDF negatives and the book's Adam, eagerly."""
    nn = torch.nn
    emb_in = nn.Embedding.from_pretrained(torch.tensor(W_in, device=device), freeze=False)
    emb_out = nn.Embedding.from_pretrained(torch.tensor(W_out, device=device), freeze=False)
    counts = np.bincount(corpus).astype(np.float64) ** 0.75
    p = torch.tensor(counts / counts.sum(), device=device)
    cdf = torch.cumsum(p, 0)
    before = cdf - p
    params = [emb_in.weight, emb_out.weight]
    m = [torch.zeros_like(w) for w in params]
    v = [torch.zeros_like(w) for w in params]
    state = {"iter": 0}
    gen = torch.Generator(device=device).manual_seed(0)
    label = torch.zeros(NEG + 1, device=device)
    label[0] = 1

    def step(contexts, target):
        with torch.no_grad():  # negatives: the target's interval skipped, as xpnet's sampler
            p_t, b_t = p[target][:, None], before[target][:, None]
            x = torch.rand((target.shape[0], NEG), generator=gen, device=device, dtype=p.dtype) * (cdf[-1] - p_t)
            x = torch.where(x >= b_t, x + p_t, x)
            neg = torch.searchsorted(cdf, x, right=True).clamp_(max=V - 1)
        idx = torch.cat([target[:, None], neg], 1)
        h = emb_in(contexts).mean(1)
        score = (emb_out(idx) * h[:, None, :]).sum(-1)
        y = torch.sigmoid(score)
        loss = -(label * torch.log(y + 1e-7) + (1 - label) * torch.log(1 - y + 1e-7)).sum() / target.shape[0]
        for w in params:
            w.grad = None
        loss.backward()
        state["iter"] += 1
        t = state["iter"]
        lr_t = 0.001 * (1 - 0.999**t) ** 0.5 / (1 - 0.9**t)
        with torch.no_grad():
            for w, mi, vi in zip(params, m, v):
                g = w.grad
                mi.lerp_(g, 0.1)  # m += (1 - beta1) * (g - m)
                vi.lerp_(g * g, 0.001)  # v += (1 - beta2) * (g * g - v)
                w.addcdiv_(mi, vi.sqrt().add_(1e-7), value=-lr_t)
        return loss

    return step


def cbow_case(args) -> dict[str, float]:
    corpus, contexts, target = corpus_and_batches(args.batches)
    W_in, W_out = weights()
    xc = [xpnet.asarray(c) for c in contexts]
    xt = [xpnet.asarray(t) for t in target]
    contenders = {"xpnet": cycle(xpnet_step(corpus, W_in, W_out), xc, xt)}
    if args.backend == "numpy":
        contenders["book"] = cycle(book_step(corpus, W_in, W_out), list(contexts), list(target))
    if torch is not None:
        device = "cuda" if args.backend in ("cupy", "torch") and torch.cuda.is_available() else "cpu"
        tc = [torch.tensor(c, device=device) for c in contexts]
        tt = [torch.tensor(t, device=device) for t in target]
        contenders[f"torch-{device}"] = cycle(torch_step(corpus, W_in, W_out, device), tc, tt)
    return measure(contenders, args.inner, args.rounds, args.backend)


# --- index_add ---------------------------------------------------------------------------


def add_at(dst, idx, src):
    np.add.at(dst, idx, src)


def sort_reduceat(dst, idx, src):
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    dst[s[starts]] += np.add.reduceat(src[order], starts, axis=0)


def bincount_columns(dst, idx, src):
    for j in range(dst.shape[1]):
        dst[:, j] += np.bincount(idx, weights=src[:, j], minlength=dst.shape[0])


def one_hot_blocks(dst, idx, src, block=1000):
    classes = np.arange(dst.shape[0])
    for start in range(0, idx.shape[0], block):
        oh = (idx[start : start + block, None] == classes).astype(dst.dtype)
        dst += oh.T @ src[start : start + block]


def index_add_case(args, M: int) -> dict[str, float]:
    r = np.random.default_rng(0)
    idx = r.integers(0, V, M)
    src = r.standard_normal((M, H)).astype(np.float32)
    dst = np.zeros((V, H), np.float32)
    ref = np.zeros((V, H), np.float32)
    np.add.at(ref, idx, src)
    fns = {
        "xpnet": xpnet.backend.index_add,
        "np.add.at": add_at,
        "sort+reduceat": sort_reduceat,
        "bincount/column": bincount_columns,
        "one-hot": one_hot_blocks,
    }
    for name, fn in fns.items():  # every path computes the same sums
        out = np.zeros_like(dst)
        fn(out, idx, src)
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4, err_msg=name)
    return measure({k: (lambda fn=fn: fn(dst, idx, src)) for k, fn in fns.items()}, args.inner, args.rounds, "numpy")


def report(name: str, res: dict[str, float]) -> None:
    base = res["xpnet"]
    ratios = [f"{k}/xpnet {v / base:.2f}" for k, v in res.items() if k != "xpnet"]
    print(f"{name:30s} " + " | ".join(f"{k} {fmt(v)}" for k, v in res.items()) + "   [" + ", ".join(ratios) + "]")
    sys.stdout.flush()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="numpy", choices=["numpy", "cupy", "torch"])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--inner", type=int, default=10, help="steps per timed block")
    p.add_argument("--batches", type=int, default=20, help="pre-drawn CBOW batches, cycled")
    p.add_argument("--cases", default="cbow,index_add")
    p.add_argument("--json", default=None)
    p.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads (on a busy machine OpenMP spinning wrecks torch)",
    )
    args = p.parse_args()
    if args.torch_threads and torch is not None:
        torch.set_num_threads(args.torch_threads)
    try:
        xpnet.set_backend(args.backend)
    except xpnet.BackendUnavailableError as e:
        print(f"skipped: {e}")
        return
    xpnet.set_default_dtype("float32")
    xpnet.seed(0)
    results: dict[str, Any] = {"machine": machine(), "backend": args.backend, "rounds": args.rounds}
    print(f"word2vec benchmarks on {args.backend} ({xpnet.active_device()}), medians of {args.rounds} rounds")
    if "cbow" in args.cases:
        results["cbow"] = cbow_case(args)
        report("CBOW step float32", results["cbow"])
    if "index_add" in args.cases and args.backend == "numpy":
        for M in (10_000, 1_000):
            results[f"index_add_{M}"] = index_add_case(args, M)
            report(f"index_add M={M}", results[f"index_add_{M}"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
