# Book 2, chapter 2's pattern: co-occurrence counts, PPMI and the nearest words of a short text.
import sys
sys.path.append('..')
import numpy as np
from common.util import preprocess, create_co_matrix, cos_similarity, ppmi, most_similar

text = 'You say goodbye and I say hello.'
corpus, word_to_id, id_to_word = preprocess(text)
C = create_co_matrix(corpus, len(word_to_id))
W = ppmi(C)
np.set_printoptions(precision=3)
print("you-i", float(cos_similarity(C[word_to_id['you']], C[word_to_id['i']])))
most_similar('you', word_to_id, id_to_word, C, top=3)
print("ppmi row", W[0])
