"""Seed 000: numerical gradient at (0, 1, 2); chapter 4's TwoLayerNet and its mini-batch loop (Figure 4-11)."""

from . import Cell

CELLS = [
    Cell(
        "In [2]",
        """
from xpnet import np
def f(x):
    return 1+2*x[1] + x[0]*x[1]*x[2] + x[2]**3

def numerical_gradient(f,x):
    h = 1e-4
    grad =  np.zeros_like(x)
    for idx in range(x.size):
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f(x)

        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1-fxh2)/(2*h)
        x[idx] = tmp_val
    return grad

target = np.array([0.0,1.0,2.0])
print(numerical_gradient(f,target))
""",
        out="[ 2.          2.         12.00000001]",
        not_torch="range(x.size)",
    ),
    Cell(
        "In [7]",
        '''
from xpnet import np
import sys
import os
sys.path.append(os.pardir)
from xpnet.datasets import load_fashion_mnist as load_mnist

def softmax(x):
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T

    x = x - np.max(x) # 오버플로 대책
    return np.exp(x) / np.sum(np.exp(x))

def sigmoid(x):
    return 1 / (1 + np.exp(-x))

def sigmoid_grad(x):
    return (1.0 - sigmoid(x)) * sigmoid(x)

def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)

    # 훈련 데이터가 원-핫 벡터라면 정답 레이블의 인덱스로 반환
    if t.size == y.size:
        t = t.argmax(axis=1)

    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t])) / batch_size
def numerical_gradient(f, x):
    h = 1e-4  # 0.0001
    grad = np.zeros_like(x)

    it = np.nditer(x, flags=['multi_index'], op_flags=['readwrite'])
    while not it.finished:
        idx = it.multi_index
        tmp_val = x[idx]
        x[idx] = float(tmp_val) + h
        fxh1 = f(x)  # f(x+h)

        x[idx] = tmp_val - h
        fxh2 = f(x)  # f(x-h)
        grad[idx] = (fxh1 - fxh2) / (2*h)

        x[idx] = tmp_val  # 값 복원
        it.iternext()

    return grad
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

    # x : 입력 데이터, t : 정답 레이블
    def loss(self, x, t):
        y = self.predict(x)

        return cross_entropy_error(y, t)

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if len(t.shape) == 1:
            t = np.argmax(t)
        else:
            t = np.argmax(t, axis=1)
        accuracy = np.sum(y == t) / float(x.shape[0])
        return accuracy

    # x : 입력 데이터, t : 정답 레이블
    def numerical_gradient(self, x, t):
        loss_W = lambda W: self.loss(x, t)

        grads = {}
        grads['W1'] = numerical_gradient(loss_W, self.params['W1'])
        grads['b1'] = numerical_gradient(loss_W, self.params['b1'])
        grads['W2'] = numerical_gradient(loss_W, self.params['W2'])
        grads['b2'] = numerical_gradient(loss_W, self.params['b2'])

        return grads

    def gradient(self, x, t):
        W1, W2 = self.params['W1'], self.params['W2']
        b1, b2 = self.params['b1'], self.params['b2']
        grads = {}

        batch_num = x.shape[0]

        # forward
        a1 = np.dot(x, W1) + b1
        z1 = sigmoid(a1)
        a2 = np.dot(z1, W2) + b2
        y = softmax(a2)

        # backward
        dy = (y - t) / batch_num  # ????
        grads['W2'] = np.dot(z1.T, dy)
        grads['b2'] = np.sum(dy, axis=0)

        da1 = np.dot(dy, W2.T)
        dz1 = sigmoid_grad(a1) * da1
        grads['W1'] = np.dot(x.T, dz1)
        grads['b1'] = np.sum(dz1, axis=0)

        return grads


# 4.5.2 미니배치 학습 구현하기
# * 주의 : 아주 오래 걸림 *
"""
60000개의 훈련 데이터에서 임의로 100개의 데이터(이미지&정답 레이블)을 추려냄.
100개의 미니배치를 대상으로 확률적 경사 하강법을 수행해 매개변수를 갱신한다.
경사법에 의한 갱신 횟수를 1000번으로 설정하고 갱신할 때마다 손실 함수를 계산한다.
"""
(x_train, t_train), (x_test, t_test) = \\
    load_mnist(normalize=True, one_hot_label=False)

# 하이퍼 파라메터
iters_num = 1000  # 반복횟수
train_size = x_train.shape[0]
batch_size = 100  # 미니배치 크기
learning_rate = 0.1
network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

train_loss_list = []
train_acc_list = []
test_acc_list = []

# 1에폭당 반복 수
iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    print(i)
    # 미니배치 획득
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 기울기 계산
    grad = network.numerical_gradient(x_batch, t_batch)
    #grad = network.gradient(x_batch, t_batch)  # 다음 장에서 구현할 더 빠른 방법!

    # 매개변수 갱신
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    # 학습 경과 기록
    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    # 1에폭 당 정확도 계산
    if i % 20 == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print("train acc, test acc | "
              + str(train_acc) + ", " + str(test_acc))

print(train_loss_list)
''',
        beyond_standard="np.nditer (the book's numerical_gradient), x.reshape and t.argmax methods",
        host_only="np.nditer (CuPy has none)",
        data="fashion-mnist",
        edits=(
            ("iters_num = 1000", "iters_num = 1", "size: the notebook was interrupted at iteration 0"),
            ("hidden_size=50", "hidden_size=2", "size: the loop gradient costs 2 forward passes per weight"),
        ),
    ),
    Cell(
        "test: In [7]'s network and loop",
        """
assert len(train_loss_list) == 1 and 2.0 < float(train_loss_list[0]) < 2.6  # ln 10 = 2.30 at the start
assert x_train.shape == (60000, 784) and t_train.shape == (60000,)
# the loop's own gradient (np.nditer) equals xpnet's on a network small enough to check
small = TwoLayerNet(input_size=6, hidden_size=4, output_size=3, weight_init_std=1.0)
xs, ts = np.random.rand(5, 6), np.array([0, 2, 1, 1, 0])
mine = small.numerical_gradient(xs, ts)
import xpnet
ref = xpnet.TwoLayerNet(6, 4, 3, activation="sigmoid", dtype="float64")
for key in ('W1', 'b1', 'W2', 'b2'):
    ref.params[key] = small.params[key].copy()
theirs = ref.gradient(xs, ts)  # the same loss but for the book's 1e-7 guard, which this notebook leaves out
for key in ('W1', 'b1', 'W2', 'b2'):
    assert np.allclose(mine[key], theirs[key], atol=1e-6), key
# the notebook's own bug: with integer labels its accuracy compares every prediction with np.argmax(t),
# the position of the largest label, rather than with the labels
y_pred = np.argmax(network.predict(x_test), axis=1)
assert network.accuracy(x_test, t_test) == np.sum(y_pred == np.argmax(t_test)) / 10000
""",
        beyond_standard="uses In [7]",
        host_only="uses In [7]",
        data="fashion-mnist",
        test_only=True,
    ),
]
