"""Book 2, ch05/train_custom_loop.py: SimpleRnnlm (an RNN language model) trained with a hand-written loop.

The book trains on PTB's first 1,000 words; here the text is a file given with --corpus PATH,
or by default a text sampled from a known Markov chain, whose true perplexity is the target.
"""

import argparse
import time
from pathlib import Path

import numpy as np

import xpnet
from xpnet.book2 import SGD, SimpleRnnlm
from xpnet.rnnlm import markov_corpus

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--backend", default="numpy", choices=xpnet.backend.BACKENDS)
p.add_argument("--corpus", default=None, help="a text file (default: a Markov-chain text)")
p.add_argument("--quick", action="store_true")
args = p.parse_args()
xpnet.set_backend(args.backend)
xpnet.seed(0)

if args.corpus:
    words = Path(args.corpus).read_text(encoding="utf-8").replace("\n", " <eos> ").lower().split()[:1000]
    word_to_id = {}
    corpus = np.array([word_to_id.setdefault(w, len(word_to_id)) for w in words])
    vocab_size, target = len(word_to_id), None
else:
    corpus, target = markov_corpus(1000)
    vocab_size = 10

batch_size, time_size, lr = 10, 5, 0.1
wordvec_size, hidden_size = 100, 100
max_epoch = 5 if args.quick else 100
xs, ts = xpnet.asarray(corpus[:-1]), xpnet.asarray(corpus[1:])
xp = xpnet.get_namespace(xs)
data_size = xs.shape[0]
max_iters = data_size // (batch_size * time_size)
model = SimpleRnnlm(vocab_size, wordvec_size, hidden_size)
optimizer = SGD(lr)

# The book's batch offsets, gathered with take() instead of its per-element loop.
jump = data_size // batch_size
offsets = xp.arange(batch_size)[:, None] * jump + xp.arange(time_size)[None, :]
time_idx = 0
ppl_list = []
start = time.perf_counter()
for epoch in range(max_epoch):
    total_loss = 0.0
    for _ in range(max_iters):
        idx = xp.reshape((offsets + time_idx) % data_size, (-1,))
        batch_x = xp.reshape(xp.take(xs, idx), (batch_size, time_size))
        batch_t = xp.reshape(xp.take(ts, idx), (batch_size, time_size))
        time_idx += time_size
        loss = model.forward(batch_x, batch_t)
        model.backward()
        optimizer.update(model.params, model.grads)
        total_loss = total_loss + loss
    ppl = float(np.exp(float(total_loss) / max_iters))
    ppl_list.append(ppl)
    print(f"| epoch {epoch + 1} | perplexity {ppl:.2f}")
known = f" (the chain's true perplexity: {target:.2f})" if target else ""
print(f"final training perplexity {ppl_list[-1]:.2f}{known} in {time.perf_counter() - start:.1f} s")
