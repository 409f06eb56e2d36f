"""Book 2, chapter 3 (ch03/train.py): SimpleCBOW on "You say goodbye and I say hello.", trained with
book 2's Trainer and Adam; prints the learned word vectors."""

from _common import parse

import xpnet
from xpnet.book2 import Adam, SimpleCBOW, Trainer, convert_one_hot, create_contexts_target, preprocess

args = parse(__doc__, plot=True)
window_size, hidden_size, batch_size = 1, 5, 3
max_epoch = 100 if args.quick else 1000

corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
vocab_size = len(word_to_id)
contexts, target = create_contexts_target(corpus, window_size)
target = convert_one_hot(target, vocab_size)
contexts = convert_one_hot(contexts, vocab_size)

model = SimpleCBOW(vocab_size, hidden_size)
optimizer = Adam()
trainer = Trainer(model, optimizer)
trainer.fit(contexts, target, max_epoch, batch_size, eval_interval=None if args.quick else 20)
loss = float(model.forward(contexts, target))
print(f"loss after {max_epoch} epochs: {loss:.3f}")
if args.plot:
    trainer.plot(path=args.plot)
    print("loss curve written to", args.plot)

word_vecs = xpnet.asnumpy(model.word_vecs)
for word_id, word in id_to_word.items():
    print(word, word_vecs[word_id])
