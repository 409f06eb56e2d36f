"""Book 2, ch07/train_seq2seq.py: seq2seq on the addition set; --model peeky (default) and reversed input
(default, --no-reverse to switch it off) are the book's best variant.

The addition set is the book's addition.txt when found (see xpnet.sequence), else a generated
set of the same format. Prints the validation accuracy per epoch and three sample answers.
"""

import argparse
import time

import xpnet
from xpnet.book2 import Adam, PeekySeq2seq, Seq2seq, eval_seq2seq
from xpnet.sequence import get_vocab, load_addition
from xpnet.training import train_seq2seq

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--backend", default="numpy", choices=xpnet.backend.BACKENDS)
p.add_argument("--model", choices=["simple", "peeky"], default="peeky")
p.add_argument("--no-reverse", action="store_true")
p.add_argument("--epochs", type=int, default=25)
p.add_argument("--train-size", type=int, default=None, help="first N training questions only")
p.add_argument("--quick", action="store_true")
args = p.parse_args()
xpnet.set_backend(args.backend)
xpnet.seed(0)

(x_train, t_train), (x_test, t_test) = load_addition()
char_to_id, id_to_char = get_vocab()
xp = xpnet.get_namespace(x_train)
is_reverse = not args.no_reverse
if is_reverse:
    x_train, x_test = xp.flip(x_train, axis=1), xp.flip(x_test, axis=1)
n = 1000 if args.quick else args.train_size
if n:
    x_train, t_train = x_train[:n, ...], t_train[:n, ...]
if args.quick:
    x_test, t_test = x_test[:200, ...], t_test[:200, ...]

vocab_size = len(char_to_id)
wordvec_size, hidden_size = 16, (32 if args.quick else 128)
batch_size, max_grad = 128, 5.0
max_epoch = 1 if args.quick else args.epochs
model = (PeekySeq2seq if args.model == "peeky" else Seq2seq)(vocab_size, wordvec_size, hidden_size)
start = time.perf_counter()
_, acc_list = train_seq2seq(model, Adam(), x_train, t_train, max_epoch=max_epoch, batch_size=batch_size,
                            max_grad=max_grad, validation=(x_test, t_test))  # fmt: skip
for i in range(3):
    eval_seq2seq(model, x_test[i : i + 1, ...], t_test[i : i + 1, ...], id_to_char, verbose=True, is_reverse=is_reverse)
print(f"{args.model}{' reversed' if is_reverse else ''}: validation accuracy {acc_list[-1]:.4f} after {max_epoch} "
      f"epochs on {x_train.shape[0]} questions, {time.perf_counter() - start:.1f} s")  # fmt: skip
