"""Book 2, ch08/train.py: AttentionSeq2seq on the date set (input reversed, as in the book), the validation
accuracy per epoch, and (--plot PATH) the attention map of one answer (Figure 8-26).

The date set is the book's date.txt when found (see xpnet.sequence), else a generated set of
the same format: one date in many human formats -> yyyy-mm-dd.
"""

import argparse
import time

import numpy as np

import xpnet
from xpnet.book2 import Adam, AttentionSeq2seq, eval_seq2seq
from xpnet.plot import attention_map
from xpnet.sequence import get_vocab, load_date
from xpnet.training import train_seq2seq

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--backend", default="numpy", choices=xpnet.backend.BACKENDS)
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--quick", action="store_true")
p.add_argument("--plot", default=None, metavar="PATH")
args = p.parse_args()
xpnet.set_backend(args.backend)
xpnet.seed(0)

(x_train, t_train), (x_test, t_test) = load_date()
char_to_id, id_to_char = get_vocab()
xp = xpnet.get_namespace(x_train)
x_train, x_test = xp.flip(x_train, axis=1), xp.flip(x_test, axis=1)
if args.quick:
    x_train, t_train, x_test, t_test = x_train[:512, ...], t_train[:512, ...], x_test[:100, ...], t_test[:100, ...]

vocab_size = len(char_to_id)
wordvec_size, hidden_size = 16, (32 if args.quick else 256)
batch_size, max_grad = 128, 5.0
max_epoch = 1 if args.quick else args.epochs
model = AttentionSeq2seq(vocab_size, wordvec_size, hidden_size)
start = time.perf_counter()
_, acc_list = train_seq2seq(model, Adam(), x_train, t_train, max_epoch=max_epoch, batch_size=batch_size,
                            max_grad=max_grad, validation=(x_test, t_test))  # fmt: skip
for i in range(3):
    eval_seq2seq(model, x_test[i : i + 1, ...], t_test[i : i + 1, ...], id_to_char, verbose=True, is_reverse=True)
print(f"attention: validation accuracy {acc_list[-1]:.4f} after {max_epoch} epochs, "
      f"{time.perf_counter() - start:.1f} s")  # fmt: skip

if args.plot:
    q, a = x_test[:1, ...], t_test[:1, ...]
    model.forward(q, a)
    w = np.stack([xpnet.asnumpy(m)[0] for m in model.decoder.attention.attention_weights])[:, ::-1]
    cols = [id_to_char[int(i)] for i in xpnet.asnumpy(q)[0]][::-1]
    rows = [id_to_char[int(i)] for i in xpnet.asnumpy(a)[0, 1:]]
    attention_map(w, rows, cols, path=args.plot)
    print("attention map written to", args.plot)
