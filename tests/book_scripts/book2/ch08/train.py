# Book 2, chapter 8's import of chapter 7 through the package path, whose module then imports by bare name.
import sys
sys.path.append('..')
from ch07.peeky import Encoder
print(Encoder)
