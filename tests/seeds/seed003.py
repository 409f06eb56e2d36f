"""Seed 003: MSE and cross-entropy; numerical differentiation and gradients; gradient descent; simpleNet;
chapter 4's TwoLayerNet with numerical gradients; mini-batch training."""

from . import Cell

MIXED = "int and float arrays in one operation (the standard leaves mixed kinds undefined)"
SIZE = "torch's x.size is a method"

CELLS = [
    Cell("In [1]", "from xpnet import np"),
    Cell(
        "In [2]",
        """
def MSE_loss(y, t):
    return 0.5*np.sum((y-t)**2)
""",
    ),
    Cell(
        "In [3]",
        """
t = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]

y1 = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
l1 = MSE_loss(np.array(y1), np.array(t))
print(l1)

y2 = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]
l2 = MSE_loss(np.array(y2), np.array(t))
print(l2)
""",
        out="0.09750000000000003\n0.5975",
        beyond_standard=MIXED,
    ),
    Cell(
        "In [4]",
        """
def CEE_loss(y, t):
    delta = 1e-7
    return -np.sum(t * np.log(y+delta))  # log 0 = -inf
""",
    ),
    Cell(
        "In [5]",
        """
t = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]

y1 = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
l1 = CEE_loss(np.array(y1), np.array(t))
print(l1)

y2 = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]
l2 = CEE_loss(np.array(y2), np.array(t))
print(l2)
""",
        out="0.510825457099338\n2.302584092994546",
        beyond_standard=MIXED,
    ),
    Cell(
        "In [6]",
        """
def CEE_loss(y, t):
    if y.ndim==1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)

    batch_size = y.shape[0]

    return -np.sum(np.log(y[np.arrange(batch_size), t] + 1e-7)) / batch_size
""",
    ),
    Cell(
        "test: In [6]'s CEE_loss",
        "CEE_loss(np.array([[0.1, 0.9]]), np.array([1]))",
        raises=AttributeError,  # the notebook's own bug: np.arrange for np.arange (it never calls it)
        test_only=True,
    ),
    Cell(
        "In [7]",
        """
def numerical_diff(f, x):
    h = 1e-4  # 0.0001
    return (f(x+h)-f(x-h)) / (2*h)
""",
    ),
    Cell(
        "In [8]",
        """
def function_2(x):
    return x[0]**2 + x[1]**2
""",
    ),
    Cell(
        "In [9]",
        """
def function_tmp1(x0):
    return x0*x0 + 4.0**2.0

print(numerical_diff(function_tmp1, 3.0))

def function_tmp2(x1):
    return 3.0**2.0 + x1*x1

print(numerical_diff(function_tmp2, 4.0))
""",
        out="6.00000000000378\n7.999999999999119",
    ),
    Cell(
        "In [10]",
        """
def numerical_gradient(f, x):
    h = 1e-4
    grad = np.zeros_like(x)  # x와 형상이 같은 값이 0으로 채워진 배열 생성

    for idx in range(x.size):
        tmp_val = x[idx]

        # f(x+h) 계산
        x[idx] = tmp_val + h
        fxh1 = f(x)

        # f(x-h) 계산
        x[idx] = tmp_val - h
        fxh2 = f(x)

        grad[idx] = (fxh1-fxh2) / (2*h)
        x[idx] = tmp_val

    return grad
""",
    ),
    Cell(
        "In [11]",
        """
print("(3,4)에서의 기울기: ", numerical_gradient(function_2, np.array([3.0, 4.0])))
print("(0,2)에서의 기울기: ", numerical_gradient(function_2, np.array([0.0, 2.0])))
print("(3,0)에서의 기울기: ", numerical_gradient(function_2, np.array([3.0, 0.0])))
""",
        out="(3,4)에서의 기울기:  [6. 8.]\n(0,2)에서의 기울기:  [0. 4.]\n(3,0)에서의 기울기:  [6. 0.]",
        not_torch=SIZE,
    ),
    Cell(
        "In [12]",
        """
def gradient_descent(f, init_x, lr=0.01, step_num=100):
    x = init_x

    for i in range(step_num):
        grad = numerical_gradient(f,x)
        x -= lr*grad

    return x
""",
    ),
    Cell(
        "In [13]",
        """
init_x = np.array([-3.0, 4.0])
gradient_descent(function_2, init_x=init_x, lr=0.1, step_num=100)
""",
        out="array([-6.11110793e-10,  8.14814391e-10])",
        not_torch=SIZE,
    ),
    Cell(
        "In [14]",
        """
# lr이 너무 큰 경우
init_x = np.array([-3.0, 4.0])
gradient_descent(function_2, init_x=init_x, lr=10.0, step_num=100)
""",
        out="array([-2.58983747e+13, -1.29524862e+12])",
        not_torch=SIZE,
    ),
    Cell(
        "In [15]",
        """
# lr이 너무 작은 경우
init_x = np.array([-3.0, 4.0])
gradient_descent(function_2, init_x=init_x, lr=1e-10, step_num=100)
""",
        out="array([-2.99999994,  3.99999992])",
        not_torch=SIZE,
    ),
    Cell(
        "In [16]",
        """
import sys, os
sys.path.append(os.pardir)
from xpnet import np
from xpnet.functions import softmax, cross_entropy_error
from xpnet.gradient import numerical_gradient

class simpleNet:
    def __init__(self):
        self.W = np.random.randn(2,3)  # 정규분포로 초기화

    def predict(self, x):
        return np.dot(x, self.W)

    def loss(self, x, t):
        z = self.predict(x)
        y = softmax(z)
        loss = cross_entropy_error(y, t)

        return loss
""",
    ),
    Cell(
        "In [17]",
        """
net = simpleNet()
print(net.W)
""",
    ),
    Cell(
        "test: the notebook's W, so that the next cells' numbers can be compared",
        "net.W = np.array([[0.92900301, 1.5888279, 0.12853715], [-0.5857252, -0.85550412, -0.44692251]])",
        test_only=True,
    ),
    Cell(
        "In [18]",
        """
x = np.array([0.6, 0.9])
p = net.predict(x)
print(p)
""",
        out="[ 0.03024913  0.18334303 -0.32510797]",
    ),
    Cell("In [19]", "np.argmax(p)  # 최댓값의 인덱스", out="1"),
    Cell(
        "In [20]",
        """
t = np.array([0, 0, 1])  # 정답 레이블
net.loss(x, t)
""",
        out="1.4083987510494458",
    ),
    Cell(
        "In [21]",
        """
f = lambda w: net.loss(x, t)
dW = numerical_gradient(f, net.W)
print(dW)
""",
        out="[[ 0.20932481  0.24395434 -0.45327916]\n [ 0.31398722  0.36593151 -0.67991873]]",
    ),
    Cell(
        "In [22]",
        """
import sys, os
sys.path.append(os.pardir)
from xpnet.functions import *
from xpnet.gradient import numerical_gradient


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        # 가중치 초기화
        self.params = {}
        self.params['W1'] = weight_init_std * np.random.randn(input_size, hidden_size)
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = weight_init_std * np.random.randn(hidden_size, output_size)
        self.params['b2'] = np.zeros(output_size)

    def predict(self, x):
        W1, W2 = self.params['W1'], self.params['W2']
        b1, b2 = self.params['b1'], self.params['b2']

        a1 = np.dot(x, W1) + b1
        z1 = sigmoid(a1)
        a2 = np.dot(z1, W2) + b2
        y = softmax(a2)

        return y

    # x: 입력 데이터, t: 정답 레이블
    def loss(self, x, t):
        y = self.predict(x)

        return cross_entropy_error(y, t)

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        t = np.argmax(t, axis=1)

        acc = np.sum(y==t) / float(x.shape[0])

        return acc

    def numerical_gradient(self, x, t):
        loss_W = lambda W: self.loss(x, t)

        grads = {}
        grads['W1'] = numerical_gradient(loss_W, self.params['W1'])
        grads['b1'] = numerical_gradient(loss_W, self.params['b1'])
        grads['W2'] = numerical_gradient(loss_W, self.params['W2'])
        grads['b2'] = numerical_gradient(loss_W, self.params['b2'])

        return grads
""",
    ),
    Cell(
        "In [23]",
        """
net = TwoLayerNet(input_size=784, hidden_size=100, output_size=10)

print(net.params['W1'].shape, net.params['b1'].shape)
print(net.params['W2'].shape, net.params['b2'].shape)
""",
        out="(784, 100) (100,)\n(100, 10) (10,)",
    ),
    Cell(
        "In [24]",
        """
x = np.random.rand(100, 784)
y = net.predict(x)
""",
    ),
    Cell(
        "test: In [25]'s loss is the book's (the label is t's argmax), about ln 10",
        """
x = np.random.rand(100, 784)
t = np.random.rand(100, 10)
y = net.predict(x)
book = -np.sum(np.log(y[np.arange(100), np.argmax(t, axis=1)] + 1e-7)) / 100
assert abs(float(net.loss(x, t)) - float(book)) < 1e-12 and abs(float(book) - 2.3026) < 0.05
""",
        test_only=True,
    ),
    Cell(
        "In [25]",
        """
x = np.random.rand(100, 784)
t = np.random.rand(100, 10)

grads = net.numerical_gradient(x, t)
print(grads['W1'].shape, grads['b1'].shape)
print(grads['W2'].shape, grads['b2'].shape)
""",
        edits=(
            (
                "x = np.random.rand(100, 784)",
                "net = TwoLayerNet(input_size=20, hidden_size=10, output_size=10, weight_init_std=1.0)\n"
                "x = np.random.rand(100, 20)",
                "size: the loop gradient of the 784-100-10 network takes 159,020 forward passes",
            ),
        ),
        not_torch=SIZE,
    ),
    Cell(
        "test: In [25]'s gradients are those of the book's loss",
        """
import xpnet
ref = xpnet.TwoLayerNet(20, 10, 10, activation="sigmoid", dtype="float64")
for key in ('W1', 'b1', 'W2', 'b2'):
    ref.params[key] = np.array(net.params[key])
backprop = ref.gradient(x, t)  # leaves out the 1e-7 inside the log, off by up to 1e-7 / min(y): about 1e-3 here
for key in ('W1', 'b1', 'W2', 'b2'):
    err = float(np.max(np.abs(grads[key] - backprop[key]))) / float(np.max(np.abs(backprop[key])))
    assert err < 1e-2, (key, err)
""",
        not_torch=SIZE,
        test_only=True,
    ),
    Cell(
        "In [None] (mini-batch training)",
        """
from xpnet import np
from xpnet.datasets import load_fashion_mnist as load_mnist

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

train_loss_list = []
train_acc_list = []
test_acc_list = []

# hyperparameter
iters_num = 10000
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

iter_per_epoch = max(train_size / batch_size, 1)

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

for i in range(iters_num):
    # 미니배치 획득
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 기울기 계산
    grad = network.numerical_gradient(x_batch, t_batch)

    # 매개변수 갱신
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    # 학습 경과 기록
    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    # 1에폭당 정확도 계산
    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print("train acc, test acc | " + str(train_acc) + ", " + str(test_acc))
""",
        beyond_standard="x_train[batch_mask] of a 2-D array (array_api_strict wants an index for every axis)",
        data="fashion-mnist",
        edits=(
            ("iters_num = 10000", "iters_num = 1", "size: never run in the notebook (hours of loop gradients)"),
            ("hidden_size=50", "hidden_size=2", "size: the loop gradient costs 2 forward passes per weight"),
        ),
    ),
    Cell("test: the plot cell's plt", "plt", raises=NameError, host_only="the plot cell", test_only=True),
    Cell(
        "In [None] (the plot)",
        """
# 그래프 그리기
markers = {'train': 'o', 'test': 's'}
x = np.arange(len(train_acc_list))
plt.plot(x, train_acc_list, label='train acc')
plt.plot(x, test_acc_list, label='test acc', linestyle='--')
plt.xlabel("epochs")
plt.ylabel("accuracy")
plt.ylim(0, 1.0)
plt.legend(loc='lower right')
plt.show()
""",
        beyond_standard="matplotlib reads host arrays",
        host_only="matplotlib reads host arrays",
        data="fashion-mnist",
        edits=(
            (
                "# 그래프 그리기\n",
                "# 그래프 그리기\nimport matplotlib.pyplot as plt\n",
                "the notebook's own bug: it never imports plt",
            ),
        ),
    ),
    Cell(
        "test: the seeds' loop on any backend, with np.take for x_train[batch_mask]",
        """
x_train = np.random.rand(60, 20)
t_train = np.asarray(np.random.rand(60, 10) > 0.5, dtype=np.float64)
network = TwoLayerNet(input_size=20, hidden_size=5, output_size=10, weight_init_std=0.5)
losses = []
for i in range(3):
    batch_mask = np.random.choice(60, 10)
    x_batch = np.take(x_train, batch_mask, axis=0)
    t_batch = np.take(t_train, batch_mask, axis=0)
    grad = network.numerical_gradient(x_batch, t_batch)
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= 0.1 * grad[key]
    losses.append(network.loss(x_batch, t_batch))
assert 0.0 <= float(network.accuracy(x_train, t_train)) <= 1.0 and len(losses) == 3
""",
        not_torch=SIZE,
        test_only=True,
    ),
]
