# ruff: noqa: E501 - the notebook's own long lines, kept as they are
"""Seed 004: book 1 chapter 5's layers; TwoLayerNet on Fashion-MNIST and grayscale CIFAR-10; learning rate
0.1 vs 0.01; numerical vs backprop gradient timing; ReLU vs Sigmoid; a ThreeLayerNet with hidden sizes 100 and 50.

The notebook's own layers (In [5]) use NumPy's array methods (``x.copy()``, ``x.reshape(n, -1)``) and boolean
mask writes, so they run on NumPy and CuPy; the standard part is the imports and definitions.
"""

from . import Cell

LAYERS = "its layers use x.copy(), x.reshape(n, -1) and boolean-mask writes (NumPy's array methods)"
SIZE = "size: 601 iterations reach the notebook's second evaluation (iteration 600) in seconds"
SHORT = ("iters_num = 10000", "iters_num = 201", "size: 201 iterations show the trend in a fraction of a second")
FASHION = "fashion-mnist"

CELLS = [
    # In [2] and In [3] mount Google Drive (google.colab) and chdir into it: Colab only, nothing to run here.
    Cell(
        "In [4]",
        """
import sys, os
sys.path.append(os.pardir)  # 부모 디렉터리의 파일을 가져올 수 있도록 설정
from xpnet import np
np.random.seed(1211)

import time

from xpnet.layers import *
from xpnet.gradient import numerical_gradient
from collections import OrderedDict

from xpnet.datasets import load_fashion_mnist as load_mnist
from xpnet.datasets import load_fashion_mnist
from xpnet.datasets import load_cifar10 as load_cifar_10
""",
    ),
    Cell(
        "In [5]",
        """
# =============================================================================
# 곱셈 계층
# =============================================================================
class MulLayer:
    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x = x
        self.y = y
        out = x * y

        return out

    def backward(self, dout):
        dx = dout * self.y  # x와 y를 바꾼다.
        dy = dout * self.x

        return dx, dy

# =============================================================================
# 덧셈 계층
# =============================================================================
class AddLayer:
    def __init__(self):
        pass

    def forward(self, x, y):
        out = x + y

        return out

    def backward(self, dout):
        dx = dout * 1
        dy = dout * 1

        return dx, dy

# =============================================================================
# ReLU 계층
# =============================================================================
class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0

        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout

        return dx

# =============================================================================
# Sigmoid 계층
# =============================================================================
class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        out = sigmoid(x) # 순전파의 출력을 out에 보관한 후 역전파 계산 때 그 값을 사용
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out

        return dx

# =============================================================================
# Affine 계층
# =============================================================================
class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

        self.x = None
        self.original_x_shape = None
        # 가중치와 편향 매개변수의 미분
        self.dW = None
        self.db = None

    def forward(self, x):
        # 텐서 대응
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x

        out = np.dot(self.x, self.W) + self.b

        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)

        dx = dx.reshape(*self.original_x_shape)  # 입력 데이터 모양 변경(텐서 대응)
        return dx

# =============================================================================
# Softmax-with-Loss 계층
# =============================================================================
class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None # 손실함수
        self.y = None    # softmax의 출력
        self.t = None    # 정답 레이블(원-핫 인코딩 형태)

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)

        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size: # 정답 레이블이 원-핫 인코딩 형태일 때
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size

        return dx

# =============================================================================
# 오차역전파를 적용한 신경망
# =============================================================================
class TwoLayerNet:

    def __init__(self, input_size, hidden_size, output_size, weight_init_std = 0.01):
        # 가중치 초기화
        self.params = {}
        self.params['W1'] = weight_init_std * np.random.randn(input_size, hidden_size)
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = weight_init_std * np.random.randn(hidden_size, output_size)
        self.params['b2'] = np.zeros(output_size)

        # 계층 생성
        self.layers = OrderedDict()
        self.layers['Affine1'] = Affine(self.params['W1'], self.params['b1'])
        self.layers['Relu1'] = Relu()
        self.layers['Affine2'] = Affine(self.params['W2'], self.params['b2'])

        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)

        return x

    # x : 입력 데이터, t : 정답 레이블
    def loss(self, x, t):
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1 : t = np.argmax(t, axis=1)

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
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.lastLayer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        # 결과 저장
        grads = {}
        grads['W1'], grads['b1'] = self.layers['Affine1'].dW, self.layers['Affine1'].db
        grads['W2'], grads['b2'] = self.layers['Affine2'].dW, self.layers['Affine2'].db

        return grads
""",
    ),
    Cell(
        "test: In [5]'s layers: backprop against numerical gradients, and against xpnet's layers",
        """
import xpnet
net = TwoLayerNet(input_size=6, hidden_size=5, output_size=3, weight_init_std=1.0)
xs = np.random.rand(4, 6)
ts = np.eye(3)[[0, 2, 1, 1]]
backprop = net.gradient(xs, ts)
numerical = net.numerical_gradient(xs, ts)
for key in ('W1', 'b1', 'W2', 'b2'):
    assert np.max(np.abs(backprop[key] - numerical[key])) < 1e-6, key
ref = xpnet.TwoLayerNet(6, 5, 3, dtype="float64")
for key in ('W1', 'b1', 'W2', 'b2'):
    ref.params[key] = net.params[key].copy()
for key, g in ref.gradient(xs, ts).items():
    assert np.max(np.abs(g - backprop[key])) < 1e-12, key
mul, add = MulLayer(), AddLayer()
assert mul.forward(3.0, 4.0) == 12.0 and mul.backward(1.0) == (4.0, 3.0) and add.backward(2.0) == (2.0, 2.0)
""",
        beyond_standard=LAYERS,
        test_only=True,
    ),
    Cell(
        "In [None] (commented out)",
        """
# # 데이터 읽기
# (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

# network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

# iters_num = 10000
# train_size = x_train.shape[0]
# batch_size = 100
# learning_rate = 0.1

# train_loss_list = []
# train_acc_list = []
# test_acc_list = []

# iter_per_epoch = max(train_size / batch_size, 1)

# for i in range(iters_num):
#     batch_mask = np.random.choice(train_size, batch_size)
#     x_batch = x_train[batch_mask]
#     t_batch = t_train[batch_mask]

#     # 기울기 계산
#     #grad = network.numerical_gradient(x_batch, t_batch)
#     grad = network.gradient(x_batch, t_batch)

#     # 갱신
#     for key in ('W1', 'b1', 'W2', 'b2'):
#         network.params[key] -= learning_rate * grad[key]

#     loss = network.loss(x_batch, t_batch)
#     train_loss_list.append(loss)

#     if i % iter_per_epoch == 0:
#         train_acc = network.accuracy(x_train, t_train)
#         test_acc = network.accuracy(x_test, t_test)
#         train_acc_list.append(train_acc)
#         test_acc_list.append(test_acc)
#         print(train_acc, test_acc)
""",
    ),
    Cell(
        "In [None] (Q1, Fashion-MNIST)",
        """
(x_train, t_train), (x_test, t_test) = load_fashion_mnist(normalize=True, one_hot_label=True)

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

iters_num = 10000
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 기울기 계산
    grad = network.gradient(x_batch, t_batch)

    # 갱신
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(train_acc, test_acc)
""",
        beyond_standard=LAYERS,
        data=FASHION,
        edits=(("iters_num = 10000", "iters_num = 601", SIZE),),
    ),
    Cell(
        "test: Q1 learns (the notebook: test accuracy 0.8094 at iteration 600)",
        "assert len(test_acc_list) == 2 and test_acc_list[-1] > 0.75, test_acc_list",
        beyond_standard=LAYERS,
        data=FASHION,
        test_only=True,
    ),
    Cell(
        "In [None] (Q1, CIFAR-10)",
        """
(x_train, t_train), (x_test, t_test) = load_cifar_10(normalize=True, one_hot_label=True)

network = TwoLayerNet(input_size=1024, hidden_size=50, output_size=10)

iters_num = 10000
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 기울기 계산
    grad = network.gradient(x_batch, t_batch)

    # 갱신
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(train_acc, test_acc)
""",
        beyond_standard=LAYERS,
        data="cifar10",
        edits=(
            ("iters_num = 10000", "iters_num = 601", SIZE),
            (
                "load_cifar_10(normalize=True, one_hot_label=True)",
                "load_cifar_10(normalize=True, one_hot_label=True, grayscale=True)",
                "the course's loader made 1,024-input grayscale images; xpnet's load_cifar10 keeps the colours",
            ),
        ),
    ),
    Cell(
        "In [None] (Q2, learning rate 0.1)",
        """
# 데이터 읽기
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

iters_num = 10000
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 기울기 계산
    grad = network.gradient(x_batch, t_batch)

    # 갱신
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(train_acc, test_acc)
""",
        beyond_standard=LAYERS,
        data=FASHION,
        edits=(SHORT,),
    ),
    Cell(
        "test: keep Q2's first run",
        "loss_lr_01 = float(np.mean(np.array(train_loss_list[-50:])))",
        beyond_standard=LAYERS,
        data=FASHION,
        test_only=True,
    ),
    Cell(
        "In [None] (Q2, learning rate 0.01)",
        """
# 데이터 읽기
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

iters_num = 10000
train_size = x_train.shape[0]
batch_size = 100                                             # <== 이 부분을 수정하면 됨
learning_rate = 0.01                                             # <== 이 부분을 수정하면 됨

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 기울기 계산
    grad = network.gradient(x_batch, t_batch)

    # 갱신
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(train_acc, test_acc)
""",
        beyond_standard=LAYERS,
        data=FASHION,
        edits=(SHORT,),
    ),
    Cell(
        "test: learning rate 0.01 learns slower, as the notebook answers",
        "assert float(np.mean(np.array(train_loss_list[-50:]))) > loss_lr_01 + 0.3, loss_lr_01",
        beyond_standard=LAYERS,
        data=FASHION,
        test_only=True,
    ),
    Cell(
        "In [None] (Q2's answer)",
        """
print("learning rate을 10분의 1로 줄여서 비교해보았다. 확실히 같은 횟수의 iteration을 돌았을 때 Acc 값의 차이로 보아, 학습이 더디게 진행되는 것을 확인할 수 있었다.")       # <= 이 부분에 답안을 작성
""",
        out="learning rate을 10분의 1로 줄여서 비교해보았다. 확실히 같은 횟수의 iteration을 돌았을 때 Acc 값의 차이로 보아, "
        "학습이 더디게 진행되는 것을 확인할 수 있었다.",
    ),
    Cell(
        "In [None] (Q3, numerical gradient)",
        """
# 코드 실행 전 시간 기록
start_time = time.time()

# 데이터 읽기
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

iters_num = 10
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 기울기 계산
    grad = network.numerical_gradient(x_batch, t_batch) # 수치 미분 방식                                             # <== 이 부분을 수정하면 됨
#   grad = __________________________________________ # 오차역전파법 방식                                             # <== 이 부분을 수정하면 됨

    # 갱신
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

# if i % iter_per_epoch == 0:
    train_acc = network.accuracy(x_train, t_train)
    test_acc = network.accuracy(x_test, t_test)
    train_acc_list.append(train_acc)
    test_acc_list.append(test_acc)
    print(train_acc, test_acc, "--" "Itertation_number =", i)

# 코드 실행 후 시간 기록
end_time = time.time()

# 실행 시간 계산
execution_time = end_time - start_time
print(f"수치 미분 방식 코드 실행 시간: {execution_time} 초")
""",
        beyond_standard=LAYERS,
        data=FASHION,
        edits=(
            ("iters_num = 10", "iters_num = 1", "size: the notebook's 10 iterations took 844 s"),
            ("hidden_size=50", "hidden_size=2", "size: the loop gradient costs 2 forward passes per weight"),
        ),
    ),
    Cell(
        "In [15] (Q3, backpropagation)",
        """
# 코드 실행 전 시간 기록
start_time = time.time()

# 데이터 읽기
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

iters_num = 10000
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 기울기 계산
#   grad = __________________________________________ # 수치 미분 방식                                             # <== 이 부분을 수정하면 됨
    grad = network.gradient(x_batch, t_batch) # 오차역전파법 방식                                             # <== 이 부분을 수정하면 됨

    # 갱신
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(train_acc, test_acc, "--" "Itertation_number =", i)

# 코드 실행 후 시간 기록
end_time = time.time()

# 실행 시간 계산
execution_time = end_time - start_time
print(f"오차역전파 코드 실행 시간: {execution_time} 초")
""",
        beyond_standard=LAYERS,
        data=FASHION,
        edits=(SHORT,),
    ),
    Cell(
        "In [1]",
        """
print("확실히 수치 미분 방식에 비해 오차역전파 방식이 미분을 효울적으로 할 수 있기 때문에 훨씬 빠르게 결과를 내는 것을 확인할 수 있었다.")       # <= 이 부분에 답안을 작성
""",
        out="확실히 수치 미분 방식에 비해 오차역전파 방식이 미분을 효울적으로 할 수 있기 때문에 훨씬 빠르게 결과를 내는 것을 "
        "확인할 수 있었다.",
    ),
    Cell(
        "In [6]",
        """
class TwoLayerNet_Sigmoid:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std = 0.01):
        # 가중치 초기화
        self.params = {}
        self.params['W1'] = weight_init_std * np.random.randn(input_size, hidden_size)
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = weight_init_std * np.random.randn(hidden_size, output_size)
        self.params['b2'] = np.zeros(output_size)

        # 계층 생성
        self.layers = OrderedDict()
        self.layers['Affine1'] = Affine(self.params['W1'], self.params['b1'])
        self.layers['Sigmoid1'] = Sigmoid()
        self.layers['Affine2'] = Affine(self.params['W2'], self.params['b2'])

        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)

        return x

    # x : 입력 데이터, t : 정답 레이블
    def loss(self, x, t):
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1 : t = np.argmax(t, axis=1)

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
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.lastLayer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        # 결과 저장
        grads = {}
        grads['W1'], grads['b1'] = self.layers['Affine1'].dW, self.layers['Affine1'].db
        grads['W2'], grads['b2'] = self.layers['Affine2'].dW, self.layers['Affine2'].db

        return grads
""",
    ),
    Cell(
        "In [7] (Q4, Sigmoid)",
        """
# 데이터 읽기
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

network = TwoLayerNet_Sigmoid(input_size=784, hidden_size=50, output_size=10)

iters_num = 10000
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 기울기 계산
    grad = network.gradient(x_batch, t_batch)

    # 갱신
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(train_acc, test_acc)
""",
        beyond_standard=LAYERS,
        data=FASHION,
        edits=(SHORT,),
    ),
    Cell(
        "test: the Sigmoid network learns",
        "assert float(np.mean(np.array(train_loss_list[-50:]))) < float(np.mean(np.array(train_loss_list[:10]))) - 0.1",
        beyond_standard=LAYERS,
        data=FASHION,
        test_only=True,
    ),
    Cell(
        "In [16]",
        """
print("Sigmoid의 vanishing gradient problem을 해결하기 위해 고안된 것이 ReLU이다. 다만 본인의 경우 이 코드에서는 ReLU보다 Sigmoid가 비슷한 소요 시간에 비해 더 정확한 퍼포먼스를 보여주는 것을 확인할 수 있었다. 따라서 본 데이터 분석에서는 vanishing gradient problem이 발생하지 않았던 것으로 사료된다.")       # <= 이 부분에 답안을 작성
""",
        out="Sigmoid의 vanishing gradient problem을 해결하기 위해 고안된 것이 ReLU이다. 다만 본인의 경우 이 코드에서는 ReLU보다 Sigmoid가 비슷한 소요 시간에 비해 더 정확한 퍼포먼스를 보여주는 것을 확인할 수 있었다. 따라서 본 데이터 분석에서는 vanishing gradient problem이 발생하지 않았던 것으로 사료된다.",
    ),
    Cell(
        "In [13]",
        """
class ThreeLayerNet:

    def __init__(self, input_size, hidden_size, hidden_size2, output_size, weight_init_std = 0.01):        # <== 이 부분을 수정 또는 추가하면 됨
        # 가중치 초기화
        self.params = {}
        self.params['W1'] = weight_init_std * np.random.randn(input_size, hidden_size)
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = weight_init_std * np.random.randn(hidden_size, hidden_size2)
        self.params['b2'] = np.zeros(hidden_size2)
        self.params['W3'] = weight_init_std * np.random.randn(hidden_size2, output_size)
        self.params['b3'] = np.zeros(output_size)

        # 계층 생성
        self.layers = OrderedDict()
        self.layers['Affine1'] = Affine(self.params['W1'], self.params['b1'])
        self.layers['Relu1'] = Relu()
        self.layers['Affine2'] = Affine(self.params['W2'], self.params['b2'])
        self.layers['Relu2'] = Relu()
        self.layers['Affine3'] = Affine(self.params['W3'], self.params['b3'])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)

        return x

    # x : 입력 데이터, t : 정답 레이블
    def loss(self, x, t):
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1 : t = np.argmax(t, axis=1)

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
        grads['W3'] = numerical_gradient(loss_W, self.params['W3'])
        grads['b3'] = numerical_gradient(loss_W, self.params['b3'])

        return grads

    def gradient(self, x, t):
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.lastLayer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        # 결과 저장
        grads = {}
        grads['W1'], grads['b1'] = self.layers['Affine1'].dW, self.layers['Affine1'].db
        grads['W2'], grads['b2'] = self.layers['Affine2'].dW, self.layers['Affine2'].db
        grads['W3'], grads['b3'] = self.layers['Affine3'].dW, self.layers['Affine3'].db

        return grads
""",
    ),
    Cell(
        "In [14] (Q5, ThreeLayerNet)",
        """
# 데이터 읽기
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

network = ThreeLayerNet(input_size=784, hidden_size=100, hidden_size2=50, output_size=10) # <== 이 부분을 수정 또는 추가하면 됨

iters_num = 10000
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 기울기 계산
    grad = network.gradient(x_batch, t_batch)

    # 갱신
    for key in ('W1', 'b1', 'W2', 'b2', 'W3', 'b3'):                      # <== 이 부분을 수정 또는 추가하면 됨
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(train_acc, test_acc)
""",
        beyond_standard=LAYERS,
        data=FASHION,
        edits=(SHORT,),
    ),
    Cell(
        "test: the three-layer network runs",
        "assert len(train_loss_list) == 201 and all(0.0 < float(v) < 10.0 for v in train_loss_list)",
        beyond_standard=LAYERS,
        data=FASHION,
        test_only=True,
    ),
    Cell(
        "In [17]",
        """
print("Layer를 하나 더 늘리니 확실히 조금 더 오랜 시간이 소요되긴 하였으나, 더 높은 정확도를 확인할 수 있었다.")       # <= 이 부분에 답안을 작성
""",
        out="Layer를 하나 더 늘리니 확실히 조금 더 오랜 시간이 소요되긴 하였으나, 더 높은 정확도를 확인할 수 있었다.",
    ),
]
