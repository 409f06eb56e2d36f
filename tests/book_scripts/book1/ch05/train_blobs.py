# Trains the chapter's LayerNet on three Gaussian blobs with the book's loop; prints the accuracy.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from common.functions import softmax
from layer_net import LayerNet

np.random.seed(0)
iters = int(sys.argv[1]) if len(sys.argv) > 1 else 300
centers = np.random.randn(3, 4) * 3
labels = np.random.randint(0, 3, 300)
x_train = centers[labels] + np.random.randn(300, 4)
t_train = np.eye(3)[labels]

network = LayerNet([4, 10, 3])
for i in range(iters):
    batch_mask = np.random.choice(300, 30)
    grad = network.gradient(x_train[batch_mask], t_train[batch_mask])
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= 0.1 * grad[key]

print("iterations", iters)
print("train acc", float(network.accuracy(x_train, t_train)))
print("probabilities sum to", float(softmax(network.predict(x_train[:2])).sum()))
print("numpy is", type(x_train).__module__.split(".")[0])
