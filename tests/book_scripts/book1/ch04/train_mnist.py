# MultiLayerNet on the first 1,000 images of load_mnist (Fashion-MNIST in the tests), a few SGD steps.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from dataset.mnist import load_mnist
from common.multi_layer_net import MultiLayerNet
from common.optimizer import SGD

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=False)
x_train, t_train = x_train[:1000], t_train[:1000]
np.random.seed(1)
network = MultiLayerNet(input_size=784, hidden_size_list=[50], output_size=10)
optimizer = SGD(lr=0.1)
for i in range(100):
    batch_mask = np.random.choice(1000, 100)
    grads = network.gradient(x_train[batch_mask], t_train[batch_mask])
    optimizer.update(network.params, grads)
print("train images", x_train.shape[0], "of", x_train.shape[1], "pixels")
print("train acc", float(network.accuracy(x_train, t_train)))
