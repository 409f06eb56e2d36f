"""Seed 001: SoftmaxWithLoss; the Repeat, Sum and MatMul nodes; book 2's Sigmoid and Affine; SGD; the spiral."""

from . import Cell

CELLS = [
    Cell(
        "In [1]",
        """
#softmax with Loss
class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None # 손실
        self.y = None    # softmax의 출력
        self.t = None    # 정답레이블(원-핫 벡터)

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y,self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = (self.y - self.t) / batch_size

        return dx
""",
    ),
    Cell(
        "In [2]",
        """
#Repeat 노드
from xpnet import np
D,N = 8,7
x = np.random.randn(1,D)
y = np.repeat(x,N,axis=0)
dy = np.random.randn(N,D) #무작위 기울기
dx = np.sum(dy,axis=0 ,keepdims=True) #역전파
dx
""",
    ),
    Cell(
        "In [3]",
        """
#Sum 노드
from xpnet import np
D,N=8,7
x=np.random.randn(N,D)
y=np.sum(x,axis=0,keepdims=True)
dy=np.random.randn(1,D)
dx=np.repeat(dy,N,axis=0)
dx
""",
    ),
    Cell(
        "In [4]",
        """
#MatMul 노드
class MatMul:
    def __init__(self,W):
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.x= None

    def forward(self,x):
        W, = self.params
        out = np.matmul(x,W)
        self.x = x
        return out

    def backward(self,dout):
        W, = self.params
        dx = np.matmul(dout,W.T)
        dW = np.matmul(self.x.T,dout)
        #깊은 복사
        self.grads[0][...] = dW
        return dx
""",
    ),
    Cell(
        "In [5]",
        """
class Sigmoid:
    def __init__(self):
        self.params,self.grads = [],[]
        self.out = None

    def forward(self,x):
        out = 1 / (1+np.exp(-x))
        self.out=out
        return out

    def backward(self,dout):
        dx = dout * (1.0- self.out) *self.out
        return dx
""",
    ),
    Cell(
        "In [6]",
        """
class Affine:
    def __init__(self,W,b):
        self.params = [W,b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    def forward(self,x):
        W,b=self.params
        out = np.matmul(x,W) + b
        self.x = x
        return out

    def backward(self,dout):
        W,b=self.params
        dx = np.matmul(dout,W.T)
        dW = np.matmul(self.x.T , dout)
        db = np.sum(dout , axis=0)


        self.grads[0][...] = dW
        self.grads[1][...] = db

        return dx
""",
    ),
    Cell(
        "In [3] (SGD)",
        """
#SGD 구현
class SGD:
    def __init__(self,lr=0.01):
        self.lr = lr

    def update(self,params,grads):
        for i in range(len(params)):
            params[i]-=self.lr * grads[i]
""",
    ),
    Cell(
        "In [25]",
        """
# coding: utf-8
from xpnet import np


def load_data(seed=1984):
    np.random.seed(seed)
    N = 100  # 클래스당 샘플 수
    DIM = 2  # 데어터 요소 수
    CLS_NUM = 3  # 클래스 수

    x = np.zeros((N*CLS_NUM, DIM))
    t = np.zeros((N*CLS_NUM, CLS_NUM), dtype=np.int)

    for j in range(CLS_NUM):
        for i in range(N): # N*j, N*(j+1)):
            rate = i / N
            radius = 1.0*rate
            theta = j*4.0 + 4.0*rate + np.random.randn()*0.2

            ix = N*j + i
            x[ix] = np.array([radius*np.sin(theta),
                              radius*np.cos(theta)]).flatten()
            t[ix, j] = 1

    return x, t
""",
    ),
    # In [12] is `! pip install numpy==1.18.5`, a shell command (it failed to build), not Python.
    Cell("In [20]", "x"),
    Cell(
        "test: the nodes and layers against xpnet's",
        """
import xpnet
from xpnet.functions import softmax, cross_entropy_error  # the import In [1] relies on and never makes
W, b = np.random.randn(3, 4), np.random.randn(4)
W0 = np.array(W)
xin, dout = np.random.randn(5, 3), np.random.randn(5, 4)
mine, ref = Affine(W, b), xpnet.layers.Affine(np.array(W), np.array(b))
assert np.all(np.abs(mine.forward(xin) - ref.forward(xin)) < 1e-12)
dx_ref = ref.backward(dout)
assert np.all(np.abs(mine.backward(dout) - dx_ref) < 1e-12)
for g, h in zip(mine.grads, ref.grads):
    assert np.all(np.abs(g - h) < 1e-12)
node = MatMul(W)
node.forward(xin)
assert np.all(np.abs(node.backward(dout) - dx_ref) < 1e-12)
s = Sigmoid()
out = s.forward(xin)
assert np.all(np.abs(s.backward(np.ones_like(xin)) - out * (1 - out)) < 1e-12)
SGD(lr=0.5).update(mine.params, mine.grads)
assert np.all(np.abs(W - (W0 - 0.5 * ref.grads[0])) < 1e-12)  # in place: the layer holds the same W
onehot = np.asarray([[1.0, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]])
loss_layer, ref_loss = SoftmaxWithLoss(), xpnet.layers.SoftmaxWithLoss()
assert abs(float(loss_layer.forward(dout, onehot)) - float(ref_loss.forward(dout, onehot))) < 1e-12
assert np.all(np.abs(loss_layer.backward() - ref_loss.backward()) < 1e-12)
""",
        test_only=True,
    ),
    Cell(
        "test: In [25]'s load_data",
        "x, t = load_data()",
        raises=AttributeError,  # the notebook's own bug: np.int is gone from NumPy (1.24); xpnet.datasets.load_spiral
        beyond_standard="np.sin of a Python float",
        host_only="np.int's AttributeError is NumPy's (CuPy's namespace may differ)",
        test_only=True,
    ),
]
