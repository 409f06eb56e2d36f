"""Seeds 002 and 003: the gradient of simpleNet's loss with respect to W (book 1, 4.4.2)."""

from _common import parse

import xpnet
from xpnet import SimpleNet, numerical_gradient

parse(__doc__)
net = SimpleNet(
    xpnet.asarray([[0.92900301, 1.5888279, 0.12853715], [-0.5857252, -0.85550412, -0.44692251]], dtype="float64")
)  # the seed's printed W
x = xpnet.asarray([0.6, 0.9], dtype="float64")
t = xpnet.asarray([0, 0, 1], dtype="float64")
print("scores:", xpnet.asnumpy(net.predict(x)))  # [ 0.03024913  0.18334303 -0.32510797]
print("loss:  ", float(net.loss(x, t)))  # 1.4083987510494458
dW = numerical_gradient(lambda W: net.loss(x, t), net.W)  # perturbs net.W in place, as the book does
print("dW:\n", xpnet.asnumpy(dW))  # [[0.2093 0.2440 -0.4533] [0.3140 0.3659 -0.6799]]
