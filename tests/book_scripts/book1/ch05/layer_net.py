# A network of the book's kind, in a chapter folder: params in a dict, layers in an OrderedDict, built per layer.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from collections import OrderedDict
from common.layers import *


class LayerNet:
    def __init__(self, sizes, weight_init_std=0.1):
        self.params, self.layers = {}, OrderedDict()
        for i in range(1, len(sizes)):
            self.params['W%d' % i] = weight_init_std * np.random.randn(sizes[i - 1], sizes[i])
            self.params['b%d' % i] = np.zeros(sizes[i])
            self.layers['Affine%d' % i] = Affine(self.params['W%d' % i], self.params['b%d' % i])
            self.layers['Relu%d' % i] = Relu()
        self.layers.popitem()  # no activation after the last Affine
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        return np.sum(y == np.argmax(t, axis=1)) / float(x.shape[0])

    def gradient(self, x, t):
        self.lastLayer.forward(self.predict(x), t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for name, layer in self.layers.items():
            if name.startswith('Affine'):
                grads['W' + name[6:]], grads['b' + name[6:]] = layer.dW, layer.db
        return grads
