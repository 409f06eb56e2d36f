import sys
sys.path.append('..')
from common.time_layers import *


class Encoder:
    pass
