"""Book 2, chapter 4 (ch04/train.py and eval.py): CBOW with Embedding and negative sampling on PTB
(or --corpus PATH), then the nearest neighbours and analogies of eval.py. The book's GPU switch is
--backend cupy; nothing else changes. --quick: one epoch on a small real text."""

from _common import parse
from _corpus import load

from xpnet.book2 import CBOW, Adam, Trainer, analogy, create_contexts_target, most_similar

args = parse(__doc__, corpus=True, plot=True)
window_size, hidden_size, batch_size = (2, 50, 100) if args.quick else (5, 100, 100)
max_epoch = 1 if args.quick else 10

corpus, word_to_id, id_to_word = load(args)
vocab_size = len(word_to_id)
contexts, target = create_contexts_target(corpus, window_size=window_size)

model = CBOW(vocab_size, hidden_size, window_size, corpus)
optimizer = Adam()
trainer = Trainer(model, optimizer)
trainer.fit(contexts, target, max_epoch, batch_size)
if args.plot:
    trainer.plot(path=args.plot)
    print("loss curve written to", args.plot)
model.save_params("cbow_params.npz")  # the book pickles word_vecs as float16: here an .npz of W_in and W_out

word_vecs = model.word_vecs
for query in ["you", "year", "car", "toyota"]:
    most_similar(query, word_to_id, id_to_word, word_vecs, top=5)
print("-" * 50)
analogy("king", "man", "queen", word_to_id, id_to_word, word_vecs)
analogy("take", "took", "go", word_to_id, id_to_word, word_vecs)
analogy("car", "cars", "child", word_to_id, id_to_word, word_vecs)
analogy("good", "better", "bad", word_to_id, id_to_word, word_vecs)
