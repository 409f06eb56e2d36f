"""Data: every file xpnet reads or writes, and the books' data sets.

==============  =====================================================================================
``io``          cache directory, download, checksum, atomic write: the one way a file is fetched or written
``checkpoint``  ``.npz`` checkpoints (the hardened reader: sizes, shapes, dtypes checked)
``datasets``    MNIST, Fashion-MNIST, CIFAR-10, spiral (book 1's ``dataset/mnist.py``)
``ptb``         the Penn Treebank (book 2's ``dataset/ptb.py``)
``sequence``    the addition and date sets (book 2's ``dataset/sequence.py``)
``text``        corpus and word-vector utilities (book 2's ``common/util.py``)
==============  =====================================================================================

The rule: every file is written through :mod:`xpnet.data.io` (a temporary file renamed into
place, so no partial file is ever left) and read with its size and content checked first.
"""
