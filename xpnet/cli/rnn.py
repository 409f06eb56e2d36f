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

from ..backend import (
    BackendUnavailableError,
    asarray,
    asnumpy,
    get_backend,
    get_namespace,
    set_backend,
    set_default_dtype,
)
from ..backend import seed as set_seed
from ..training.seq2seq import train_seq2seq
from . import UsageError, add_flags, check_outputs, save_trained, single_process, write_output

__all__ = ["add_parser", "run"]


def _common(p: argparse.ArgumentParser) -> None:
    add_flags(p, "backend", "dtype", "seed", "epochs", "batch-size", "lr", "max-grad")
    add_flags(p, "save", "plot", save={"help": "write the parameters (.npz)"}, plot={"help": "write a PNG figure"})
    p.add_argument("--quick", action="store_true", help="a tiny run (smoke test); given flags still win")


def add_parser(subparsers: Any) -> None:
    """Add ``rnnlm`` and ``seq2seq`` to an ``argparse`` subparsers object."""
    r = subparsers.add_parser("rnnlm", help="train a recurrent language model (book 2, ch. 5-6)")
    r.add_argument("--corpus", default="markov", help="markov (default), ptb, or the path of a text file")
    r.add_argument("--model", choices=["simple", "lstm", "better"], default="lstm")
    add_flags(r, "wordvec", "hidden", "time-size", "generate", "max-vocab")
    add_flags(r, "dropout", dropout={"help": "dropout ratio of --model better"})
    _common(r)
    s = subparsers.add_parser("seq2seq", help="train seq2seq on the addition or the date set (book 2, ch. 7-8)")
    s.add_argument("--data", choices=["addition", "date"], default="addition")
    s.add_argument("--model", choices=["simple", "peeky", "attention"], default=None)
    s.add_argument("--attention", action="store_true", help="the same as --model attention")
    s.add_argument("--reverse", action="store_true", help="feed the questions reversed (book 2, 7.4.1)")
    add_flags(s, "wordvec", "hidden", "train-size", wordvec={"default": 16},
              hidden={"help": "default: 128 (addition), 256 (date)"})  # fmt: skip
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
        from ..models.rnnlm import markov_corpus

        n = 4000 if quick else 100_000
        train, true_ppl = markov_corpus(n, seed=0)
        test = markov_corpus(n + max(n // 5, 800), seed=0)[0][n:]  # the chain's next stretch
        return train, test, 10, {i: f"s{i}" for i in range(10)}, true_ppl
    if name == "ptb":
        try:
            from ..data import ptb
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
    from ..data.ptb import load_text_corpus

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
    from ..models.rnnlm import BetterRnnlmGen, RnnlmGen, SimpleRnnlm, eval_perplexity
    from ..training.optimizers import SGD, Adam
    from ..training.trainer import TrainingDivergedError
    from ..training.trainer2 import RnnlmTrainer

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
        status = max(status, int(not write_output("plot", args.plot, lambda p: trainer.plot(path=p))))
    return status


# --- seq2seq -------------------------------------------------------------------------------


def _seq2seq(args: argparse.Namespace) -> int:
    from ..data.sequence import get_vocab, load_addition, load_date
    from ..models.seq2seq import AttentionSeq2seq, PeekySeq2seq, Seq2seq, seq2seq_accuracy
    from ..training.optimizers import Adam
    from ..training.trainer import TrainingDivergedError

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

        def draw(path: str) -> None:
            _attention_plot(model, xt, tt, id_to_char, args.reverse, path)

        status = max(status, int(not write_output("plot", args.plot, draw)))
    return status


def _attention_plot(model: Any, xt: Any, tt: Any, id_to_char: dict, reverse: bool, path: str) -> None:
    from ..plot import attention_map

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
