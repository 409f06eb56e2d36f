# Book 2, chapter 2's pattern: the PTB corpus (absent in the tests: the runner says where to put it).
import sys
sys.path.append('..')
from dataset import ptb

corpus, word_to_id, id_to_word = ptb.load_data('train')
print('corpus size:', len(corpus))
