"""``xpnet rnnlm`` and ``xpnet seq2seq``: book 2's chapters 5-8 from the command line.

``add_parser(subparsers)`` adds both subcommands to the ``xpnet`` parser; ``run(args)`` runs
the one chosen and returns the exit status (2 with one line on stderr for a user mistake).

    xpnet rnnlm                               # an LSTM LM on a Markov-chain text, against its true perplexity
    xpnet rnnlm --corpus ptb --model better   # book 2, ch06/train_better_rnnlm.py (needs xpnet.ptb)
    xpnet rnnlm --corpus notes.txt --generate 50
    xpnet seq2seq --data addition --model peeky --reverse
    xpnet seq2seq --data date --attention --plot attention.png
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .backend import (
    BACKENDS,
    BackendUnavailableError,
    asarray,
    asnumpy,
    get_backend,
    get_namespace,
    set_backend,
    set_default_dtype,
)
from .backend import seed as set_seed
from .cli import UsageError, _fraction, _positive, _seed, check_outputs, save_trained, single_process

__all__ = ["add_parser", "run", "train_seq2seq"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=BACKENDS, default=None, help="default: $XPNET_BACKEND or numpy")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--seed", type=_seed, default=0, help="initial weights and batch order")
    p.add_argument("--epochs", type=_positive(int), default=None)
    p.add_argument("--batch-size", type=_positive(int), default=None)
    p.add_argument("--lr", type=_positive(float), default=None)
    p.add_argument("--max-grad", type=_positive(float), default=None, help="clip the gradients' joint norm")
    p.add_argument("--save", metavar="PATH", default=None, help="write the parameters (.npz)")
    p.add_argument("--plot", metavar="PATH", default=None, help="write a PNG figure")
    p.add_argument("--quick", action="store_true", help="a tiny run (smoke test); given flags still win")


def add_parser(subparsers: Any) -> None:
    """Add ``rnnlm`` and ``seq2seq`` to an ``argparse`` subparsers object."""
    from .ptb import MAX_VOCAB

    r = subparsers.add_parser("rnnlm", help="train a recurrent language model (book 2, ch. 5-6)")
    r.add_argument("--corpus", default="markov", help="markov (default), ptb, or the path of a text file")
    r.add_argument("--model", choices=["simple", "lstm", "better"], default="lstm")
    r.add_argument("--wordvec", type=_positive(int), default=None)
    r.add_argument("--hidden", type=_positive(int), default=None)
    r.add_argument("--time-size", type=_positive(int), default=None, help="default: 35 (10 with --quick)")
    r.add_argument("--dropout", type=_fraction, default=0.5, help="for --model better")
    r.add_argument("--generate", type=_seed, default=0, metavar="N", help="print N generated words afterwards")
    r.add_argument("--max-vocab", type=_positive(int), default=MAX_VOCAB, help="refuse a text with more words")
    _common(r)
    s = subparsers.add_parser("seq2seq", help="train seq2seq on the addition or the date set (book 2, ch. 7-8)")
    s.add_argument("--data", choices=["addition", "date"], default="addition")
    s.add_argument("--model", choices=["simple", "peeky", "attention"], default=None)
    s.add_argument("--attention", action="store_true", help="the same as --model attention")
    s.add_argument("--reverse", action="store_true", help="feed the questions reversed (book 2, 7.4.1)")
    s.add_argument("--wordvec", type=_positive(int), default=16)
    s.add_argument("--hidden", type=_positive(int), default=None, help="default: 128 (addition), 256 (date)")
    s.add_argument("--train-size", type=_positive(int), default=None, help="use only the first N training questions")
    _common(s)


def run(args: argparse.Namespace) -> int:
    """Run ``xpnet rnnlm`` or ``xpnet seq2seq``; returns the exit status."""
    try:
        single_process(args.command)
        corpus = getattr(args, "corpus", None)
        check_outputs({"--save": args.save, "--plot": args.plot}, {"--corpus": corpus})
        if args.backend:
            set_backend(args.backend)
        set_default_dtype(args.dtype)
        set_seed(args.seed)
        return _rnnlm(args) if args.command == "rnnlm" else _seq2seq(args)
    except (UsageError, ValueError, BackendUnavailableError, FileNotFoundError) as e:
        print(f"xpnet: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2


# --- rnnlm ---------------------------------------------------------------------------------


def _corpus(name: str, quick: bool, max_vocab: int) -> tuple[np.ndarray, np.ndarray, int, dict[int, str], float | None]:
    """(train ids, test ids, vocabulary size, id -> word, true perplexity when known)."""
    if name == "markov":
        from .rnnlm import markov_corpus

        n = 4000 if quick else 100_000
        train, true_ppl = markov_corpus(n, seed=0)
        test = markov_corpus(n + max(n // 5, 800), seed=0)[0][n:]  # the chain's next stretch
        return train, test, 10, {i: f"s{i}" for i in range(10)}, true_ppl
    if name == "ptb":
        try:
            from . import ptb  # type: ignore[attr-defined]
        except ImportError:
            raise UsageError("--corpus ptb needs xpnet.ptb (book 2's PTB loader), missing here") from None
        train, word_to_id, id_to_word = ptb.load_data("train")
        test = ptb.load_data("test")[0]
        train, test = np.asarray(asnumpy(train)), np.asarray(asnumpy(test))
        if quick:
            train, test = train[:5000], test[:2000]
        return train, test, len(word_to_id), id_to_word, None
    path = Path(name)
    if not path.is_file():
        raise UsageError(f"--corpus: {name!r} is neither markov, ptb nor a file")
    from .ptb import load_text_corpus

    try:
        corpus, word_to_id, id_to_word = load_text_corpus(path, eos=True, max_vocab=max_vocab)
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not UTF-8 text ({e})") from None
    ids = np.asarray(asnumpy(corpus))
    if len(ids) < 100:
        raise UsageError(f"{path} holds {len(ids)} words; a language model needs a few thousand")
    split = len(ids) - len(ids) // 10
    return ids[:split], ids[split:], len(word_to_id), id_to_word, None


def _rnnlm(args: argparse.Namespace) -> int:
    from .optimizers import SGD, Adam
    from .rnnlm import BetterRnnlmGen, RnnlmGen, SimpleRnnlm, eval_perplexity
    from .trainer import TrainingDivergedError
    from .trainer2 import RnnlmTrainer

    train, test, V, id_to_word, true_ppl = _corpus(args.corpus, args.quick, args.max_vocab)
    small = args.corpus == "markov" or args.quick
    if args.model == "better":
        D = H = args.hidden or args.wordvec or (16 if small else 650)
        model: Any = BetterRnnlmGen(V, D, H, args.dropout)
        lr, max_grad, epochs = 20.0, 0.25, 40
    elif args.model == "lstm":
        D, H = args.wordvec or (16 if small else 100), args.hidden or (32 if small else 100)
        model = RnnlmGen(V, D, H)
        lr, max_grad, epochs = 20.0, 0.25, 4
    else:
        D, H = args.wordvec or (16 if small else 100), args.hidden or (32 if small else 100)
        model = SimpleRnnlm(V, D, H)
        lr, max_grad, epochs = 0.1, None, 100
    if args.corpus == "markov":
        lr, epochs = 0.01, 2  # Adam below: the book's SGD(lr=20) is tuned for PTB, not a 10-word chain
    lr = args.lr or lr  # the flags are positive: `or` only fills what was not given
    max_grad = args.max_grad or max_grad
    epochs = args.epochs or (1 if args.quick else epochs)
    batch = args.batch_size or (10 if args.quick else 20)
    time_size = args.time_size or (10 if args.quick else 35)
    eval_batch = min(10, batch)
    if len(train) < batch * time_size + 1:
        raise UsageError(f"{len(train)} training words are fewer than one batch of {batch} x {time_size}")
    if len(test) < eval_batch * time_size + 1:  # refused now, not after training
        raise UsageError(
            f"the test split ({len(test)} words, the last tenth of --corpus) is shorter than one evaluation batch of "
            f"{eval_batch} x {time_size} + 1 words: give a longer text or a smaller --time-size"
        )
    xs, ts = asarray(train[:-1]), asarray(train[1:])
    trainer = RnnlmTrainer(model, Adam(lr) if args.corpus == "markov" else SGD(lr))
    start = time.perf_counter()
    diverged = None
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is reported in one line
            trainer.fit(xs, ts, max_epoch=epochs, batch_size=batch, time_size=time_size, max_grad=max_grad,
                        eval_interval=20)  # fmt: skip
    except TrainingDivergedError as e:
        diverged = e
        print(f"xpnet: {e}", file=sys.stderr)
    took = time.perf_counter() - start
    status = max(int(diverged is not None), save_trained(args.save, model.save_params, diverged))  # weights first
    model.reset_state()
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(over="ignore", invalid="ignore"):
        ppl = eval_perplexity(model, asarray(test), batch_size=eval_batch, time_size=time_size)
    known = f" (the chain's true perplexity: {true_ppl:.2f})" if true_ppl else ""
    done = trainer.current_epoch
    print(
        f"xpnet: rnnlm {args.model} on {args.corpus} — test perplexity {ppl:.2f}{known} after {done} of {epochs} "
        f"epochs in {took:.1f} s on {get_backend()} ({args.dtype})"
        + (" [interrupted]" if trainer.interrupted else "")
        + (" [diverged, rolled back]" if diverged is not None else "")
    )
    if args.generate:
        model.reset_state()
        words = [id_to_word[i] for i in model.generate(0, sample_size=args.generate)]
        print(" ".join(words).replace(" <eos>", ".\n"))
    if args.plot:
        from .cli import write_output

        status = max(status, int(not write_output("plot", args.plot, lambda p: trainer.plot(path=p))))
    return status


# --- seq2seq -------------------------------------------------------------------------------


def train_seq2seq(
    model: Any,
    optimizer: Any,
    x: Any,
    t: Any,
    *,
    max_epoch: int,
    batch_size: int,
    max_grad: float | None = None,
    seed: int = 0,
    validation: tuple[Any, Any] | None = None,
) -> tuple[list[float], list[float]]:
    """Book 2's ``Trainer.fit`` loop for a seq2seq model: a shuffled pass per epoch, batches gathered with ``take``
    on the device, gradients clipped; the losses of each epoch are read back once, at its end, and judged by the
    divergence rule of every trainer (rolled back, ``TrainingDivergedError``). With ``validation=(x, t)`` the
    exact-match accuracy on it is printed after each epoch, as the book's ``train_seq2seq.py`` does. Ctrl-C
    stops keeping what was learned (fewer epochs in the result). Returns the per-epoch mean losses and
    validation accuracies."""
    from types import SimpleNamespace

    from .backend import device
    from .seq2seq import seq2seq_accuracy
    from .trainer2 import check_ids, run_epochs, train_step

    xp = get_namespace(x, t)
    check_ids(model, ("x", x), ("t", t), who="train_seq2seq")
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    losses: list[float] = []
    accuracies: list[float] = []

    def batches() -> Any:
        order = xp.asarray(rng.permutation(n), device=device(x))
        for i in range(max(n // batch_size, 1)):
            idx = order[i * batch_size : min((i + 1) * batch_size, n)]
            yield xp.take(x, idx, axis=0), xp.take(t, idx, axis=0)

    def step(batch_x: Any, batch_t: Any) -> Any:
        return train_step(model, optimizer, batch_x, batch_t, max_grad)

    def epoch_end(values: list[float], elapsed: float) -> None:
        losses.append(sum(values) / len(values))
        if validation is not None:
            accuracies.append(seq2seq_accuracy(model, *validation))
            print(f"| epoch {len(losses)} | val acc {accuracies[-1] * 100:.3f}% | {elapsed:.0f} s")

    state = SimpleNamespace(optimizer=optimizer, interrupted=False, current_epoch=0)
    run_epochs(state, batches, step, model.params, max_epoch, None, epoch_end=epoch_end)
    return losses, accuracies


def _seq2seq(args: argparse.Namespace) -> int:
    from .optimizers import Adam
    from .seq2seq import AttentionSeq2seq, PeekySeq2seq, Seq2seq, seq2seq_accuracy
    from .sequence import get_vocab, load_addition, load_date
    from .trainer import TrainingDivergedError

    kind = "attention" if args.attention else (args.model or ("peeky" if args.data == "addition" else "attention"))
    if args.attention and args.model not in (None, "attention"):
        raise UsageError(f"--attention contradicts --model {args.model}")
    if args.plot and kind != "attention":
        raise UsageError(f"--plot draws the attention map: it needs --attention, not --model {kind}")
    (x, t), (xt, tt) = load_addition() if args.data == "addition" else load_date()
    xp = get_namespace(x)
    if args.reverse:
        x, xt = xp.flip(x, axis=1), xp.flip(xt, axis=1)
    if args.quick:
        x, t, xt, tt = x[:512, ...], t[:512, ...], xt[:100, ...], tt[:100, ...]
    if args.train_size:
        x, t = x[: args.train_size, ...], t[: args.train_size, ...]
    char_to_id, id_to_char = get_vocab()
    V = len(char_to_id)
    H = args.hidden or (32 if args.quick else 128 if args.data == "addition" else 256)
    cls = {"simple": Seq2seq, "peeky": PeekySeq2seq, "attention": AttentionSeq2seq}[kind]
    model = cls(V, args.wordvec, H)
    epochs = args.epochs or (1 if args.quick else 25 if args.data == "addition" else 10)
    start = time.perf_counter()
    diverged = None
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is reported in one line
            losses, accs = train_seq2seq(
                model, Adam(args.lr or 0.001), x, t, max_epoch=epochs, batch_size=args.batch_size or 128,
                max_grad=args.max_grad or 5.0, seed=args.seed, validation=(xt, tt),
            )  # fmt: skip
    except TrainingDivergedError as e:
        diverged, losses, accs = e, [], []
        print(f"xpnet: {e}", file=sys.stderr)
    took = time.perf_counter() - start
    status = max(int(diverged is not None), save_trained(args.save, model.save_params, diverged))  # weights first
    acc = accs[-1] if len(accs) == epochs else seq2seq_accuracy(model, xt, tt)  # of the weights kept
    print(
        f"xpnet: seq2seq {kind}{' reversed' if args.reverse else ''} on {args.data} — validation accuracy "
        f"{acc:.4f} after {len(losses)} of {epochs} epochs in {took:.1f} s on {get_backend()} ({args.dtype})"
        + (" [interrupted]" if diverged is None and len(losses) < epochs else "")
        + (" [diverged, rolled back]" if diverged is not None else "")
    )
    if args.plot:
        from .cli import write_output

        def draw(path: str) -> None:
            _attention_plot(model, xt, tt, id_to_char, args.reverse, path)

        status = max(status, int(not write_output("plot", args.plot, draw)))
    return status


def _attention_plot(model: Any, xt: Any, tt: Any, id_to_char: dict, reverse: bool, path: str) -> None:
    from .plot import attention_map

    q, a = xt[:1, ...], tt[:1, ...]
    model.forward(q, a)
    w = np.stack([asnumpy(m)[0] for m in model.decoder.attention.attention_weights])
    cols = [id_to_char[int(i)] for i in asnumpy(q)[0]]
    if reverse:
        cols, w = cols[::-1], w[:, ::-1]
    rows = [id_to_char[int(i)] for i in asnumpy(a)[0, 1:]]
    attention_map(w, rows, cols, path=path)


def main(argv: list[str] | None = None) -> int:
    """``python -m xpnet.cli_rnn rnnlm ...`` until ``xpnet`` itself lists these subcommands."""
    parser = argparse.ArgumentParser(prog="xpnet")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
