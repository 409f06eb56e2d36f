# Imports a chapter-7 module by its bare name, as the book's own ch08 files sometimes do.
import sys, os
sys.path.append(os.pardir)
from conv_parts import Convolution
print("imported", Convolution)
