# A network of chapter 8's kind: its layers in a list, trained by the book's Trainer.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from common.layers import *


class ListNet:
    def __init__(self, input_size=4, hidden_size=10, output_size=3):
        self.params = {}
        self.params['W1'] = 0.3 * np.random.randn(input_size, hidden_size)
        self.params['b1'] = np.zeros(hidden_size)
        self.params['gamma1'] = np.ones(hidden_size)
        self.params['beta1'] = np.zeros(hidden_size)
        self.params['W2'] = 0.3 * np.random.randn(hidden_size, output_size)
        self.params['b2'] = np.zeros(output_size)
        self.layers = []
        self.layers.append(Affine(self.params['W1'], self.params['b1']))
        self.layers.append(BatchNormalization(self.params['gamma1'], self.params['beta1']))
        self.layers.append(Relu())
        self.layers.append(Affine(self.params['W2'], self.params['b2']))
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x, train_flg=False):
        for layer in self.layers:
            if isinstance(layer, BatchNormalization):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x, train_flg=True), t)

    def accuracy(self, x, t, batch_size=100):
        y = np.argmax(self.predict(x), axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        grads['W1'], grads['b1'] = self.layers[0].dW, self.layers[0].db
        grads['gamma1'], grads['beta1'] = self.layers[1].dgamma, self.layers[1].dbeta
        grads['W2'], grads['b2'] = self.layers[3].dW, self.layers[3].db
        return grads
