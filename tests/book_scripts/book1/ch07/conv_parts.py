# A chapter-7 module that chapter 8's script imports by its bare name (which only works with ch07/ on the path).
import sys, os
sys.path.append(os.pardir)
from common.layers import Convolution, Pooling
