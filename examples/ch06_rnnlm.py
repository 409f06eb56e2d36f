"""Book 2, ch06/train_rnnlm.py (and train_better_rnnlm.py with --better): an LSTM language model trained with
RnnlmTrainer, gradient clipping, then the test perplexity and a generated text.

Default text: a Markov chain's (its true perplexity is printed as the target); --corpus PATH
trains on a text file (last tenth held out), --corpus ptb on PTB when xpnet.ptb is installed.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import xpnet
from xpnet.book2 import SGD, Adam, BetterRnnlmGen, RnnlmGen, RnnlmTrainer, eval_perplexity
from xpnet.rnnlm import markov_corpus

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--backend", default="numpy", choices=xpnet.backend.BACKENDS)
p.add_argument("--corpus", default=None, help="ptb, or a text file (default: a Markov-chain text)")
p.add_argument("--better", action="store_true", help="BetterRnnlm: 2 LSTM layers, dropout, weight tying")
p.add_argument("--quick", action="store_true")
p.add_argument("--plot", default=None, metavar="PATH")
args = p.parse_args()
xpnet.set_backend(args.backend)
xpnet.seed(0)

target = None
if args.corpus == "ptb":
    try:
        from xpnet import ptb
    except ImportError:
        sys.exit("--corpus ptb needs xpnet.ptb")
    corpus, word_to_id, id_to_word = ptb.load_data("train")
    corpus_test = ptb.load_data("test")[0]
    vocab_size = len(word_to_id)
elif args.corpus:
    words = Path(args.corpus).read_text(encoding="utf-8").replace("\n", " <eos> ").lower().split()
    word_to_id = {}
    ids = np.array([word_to_id.setdefault(w, len(word_to_id)) for w in words])
    corpus, corpus_test = ids[: len(ids) * 9 // 10], ids[len(ids) * 9 // 10 :]
    id_to_word, vocab_size = {i: w for w, i in word_to_id.items()}, len(word_to_id)
else:
    n = 5000 if args.quick else 100_000
    text, target = markov_corpus(n + 5000)
    corpus, corpus_test = text[:n], text[n:]
    id_to_word, vocab_size = {i: f"s{i}" for i in range(10)}, 10

small = args.corpus is None or args.quick
wordvec_size = hidden_size = 16 if small else (650 if args.better else 100)
batch_size, time_size = 20, (10 if args.quick else 35)
lr, max_grad = 20.0, 0.25
max_epoch = 1 if args.quick else (2 if args.corpus is None else (40 if args.better else 4))
if args.quick:
    corpus, corpus_test = corpus[:5000], corpus_test[:2000]

xs, ts = xpnet.asarray(corpus[:-1]), xpnet.asarray(corpus[1:])
if args.better:
    model = BetterRnnlmGen(vocab_size, wordvec_size, hidden_size, dropout_ratio=0.5)
else:
    model = RnnlmGen(vocab_size, wordvec_size, hidden_size)
# The book's SGD(lr=20) suits PTB's 10,000 words and 650 units; the 10-state chain learns faster with Adam.
optimizer = SGD(lr) if args.corpus else Adam(0.01)
trainer = RnnlmTrainer(model, optimizer)
trainer.fit(xs, ts, max_epoch, batch_size, time_size, max_grad, eval_interval=20)
if args.plot:
    trainer.plot(path=args.plot)

model.reset_state()
ppl_test = eval_perplexity(model, xpnet.asarray(corpus_test), batch_size=10, time_size=time_size)
known = f" (the chain's true perplexity: {target:.2f})" if target else ""
print(f"test perplexity: {ppl_test:.2f}{known}")
model.reset_state()
print(" ".join(id_to_word[i] for i in model.generate(int(corpus[0]), sample_size=30)).replace(" <eos>", "."))
