"""Training: the one loop, the books' trainers, the optimizers, numerical gradients, data parallelism.

===============  ===================================================================================
``loop``         the one training loop that every trainer runs (batches, logging, divergence)
``trainer``      book 1's ``Trainer`` (``common/trainer.py``)
``trainer2``     book 2's ``Trainer``, ``RnnlmTrainer`` (``common/trainer.py``)
``seq2seq``      ``train_seq2seq``: book 2's chapter 7-8 training
``optimizers``   ``SGD`` ... ``Adam``, ``clip_grads`` (``common/optimizer.py``)
``gradient``     numerical gradient of one array (``common/gradient.py``)
``numgrad``      numerical gradients of a whole network in bulk
``distributed``  data-parallel training: the MPI and NCCL communicators
``multinode``    ChainerMN's wrappers: ``MultiNodeOptimizer``, ``scatter_dataset``, ...
===============  ===================================================================================

The rule: nothing in the per-step path reads a value back to the host; what a step needs
from the device is read every ``eval_interval`` steps at most.
"""

from .seq2seq import train_seq2seq

__all__ = ["train_seq2seq"]
