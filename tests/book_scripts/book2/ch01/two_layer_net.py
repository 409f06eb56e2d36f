# Book 2's pattern for a model: layers from common.layers, weights from np.random, params/grads lists.
import sys
sys.path.append('..')
from common.np import *  # import numpy as np
from common.layers import Affine, Sigmoid, SoftmaxWithLoss


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size):
        sizes = (input_size, hidden_size, output_size)
        self.layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            W = 0.01 * np.random.randn(n_in, n_out) / np.sqrt(n_in)
            self.layers += [Affine(W, np.zeros(n_out)), Sigmoid()]
        self.layers.pop()
        self.loss_layer = SoftmaxWithLoss()
        self.params = [p for layer in self.layers for p in layer.params]
        self.grads = [g for layer in self.layers for g in layer.grads]

    def forward(self, x, t):
        for layer in self.layers:
            x = layer.forward(x)
        return self.loss_layer.forward(x, t)

    def backward(self, dout=1):
        dout = self.loss_layer.backward(dout)
        for layer in self.layers[::-1]:
            dout = layer.backward(dout)
        return dout
