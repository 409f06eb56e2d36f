# Book 2, chapter 7's pattern: the addition set and its vocabulary, decoded back to text.
import sys
sys.path.append('..')
from dataset import sequence

(x_train, t_train), (x_test, t_test) = sequence.load_data('addition.txt', seed=1984)
char_to_id, id_to_char = sequence.get_vocab()
print(x_train.shape, t_train.shape)
print(''.join([id_to_char[c] for c in x_train[0]]), '->', ''.join([id_to_char[c] for c in t_train[0]]))
