# A chapter-7 module that imports its neighbour by the bare name (works only with ch07/ on the path).
import sys
sys.path.append('..')
from seq2seq_parts import Encoder
