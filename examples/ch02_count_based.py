"""Book 2, chapter 2: count-based word vectors — co-occurrence, cosine similarity, PPMI and SVD.

The small example (count_method_small.py, similarity.py, most_similar.py) on "You say goodbye and I say
hello.", then count_method_big.py on PTB (or --corpus PATH); --quick skips the big one.
"""

import numpy as np
from _common import parse
from _corpus import load

import xpnet
from xpnet.book2 import cos_similarity, create_co_matrix, most_similar, ppmi, preprocess, svd

args = parse(__doc__, corpus=True, plot=True)

corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
vocab_size = len(word_to_id)
C = create_co_matrix(corpus, vocab_size)
c0, c1 = C[word_to_id["you"], ...], C[word_to_id["i"], ...]
print("cos_similarity(you, i):", float(cos_similarity(c0, c1)))  # 0.7071067691154799
most_similar("you", word_to_id, id_to_word, C, top=5)

W = ppmi(C)
np.set_printoptions(precision=3)
print("\ncovariance matrix\n", xpnet.asnumpy(C))
print("-" * 50)
print("PPMI\n", xpnet.asnumpy(W))

U, S, V = svd(W)
print("\nSVD: the first row of U", xpnet.asnumpy(U)[0])
if args.plot:
    from xpnet.plot import new_figure

    fig = new_figure()
    ax = fig.add_subplot()
    U2 = xpnet.asnumpy(U)[:, :2]
    for word, word_id in word_to_id.items():
        ax.annotate(word, (U2[word_id, 0], U2[word_id, 1]))
    ax.scatter(U2[:, 0], U2[:, 1], alpha=0.5)
    fig.savefig(args.plot, dpi=100)
    print("word vectors plotted to", args.plot)

if not args.quick:
    window_size, wordvec_size = 2, 100
    corpus, word_to_id, id_to_word = load(args)
    print("counting co-occurrence ...")
    C = create_co_matrix(corpus, len(word_to_id), window_size)
    print("calculating PPMI ...")
    W = ppmi(C, verbose=True)
    print("calculating SVD ...")
    U, S, V = svd(W, full_matrices=False)
    word_vecs = U[:, :wordvec_size]
    for query in ["you", "year", "car", "toyota"]:
        most_similar(query, word_to_id, id_to_word, word_vecs, top=5)
