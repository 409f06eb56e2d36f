"""Seed 002: gradient descent on x0² + x1² with learning rates 0.1, 10 and 1e-10, its path; simpleNet."""

from . import Cell

PLOT = "matplotlib reads host arrays"
PLT_FIX = (
    "from matplotlib.pyplot import plt",
    "import matplotlib.pyplot as plt",
    "the notebook's own bug: pyplot has no name `plt`",
)

CELLS = [
    Cell(
        "In [17]",
        """
import sys, os
sys.path.append(os.pardir)
from xpnet import np
from xpnet.functions import softmax, cross_entropy_error
from xpnet.gradient import numerical_gradient

x_1 = []
x_0 = []
def gradient_descent(f, init_x, lr=0.01, step_num=200):
    x = init_x
    for i in range(step_num):
        grad = numerical_gradient(f, x) # 기울기를 구하고
        x -= lr * grad # grad 쪽으로 lr 만큼 이동한다.
        # print(x) # 요기 코멘트 벗겨보면 이동하는게 보인다!!!!!!!!!!!!
        x_0.append(x[0])
        x_1.append(x[1])
    return x


def func(x):
    return x[0]**2 + x[1]**2

gradient_descent(func, init_x=np.array([-3.0, 4.0]), lr=0.1, step_num=100)
gradient_descent(func, init_x=np.array([3.0, -4.0]), lr=0.1, step_num=100)
gradient_descent(func, init_x=np.array([3.0, -2.0]), lr=0.1, step_num=100)
gradient_descent(func, init_x=np.array([-3.0,
2.0]), lr=0.1, step_num=100)
""",
        out="array([-6.11110793e-10,  4.07407195e-10])",
    ),
    Cell("test: In [18]'s import", "from matplotlib.pyplot import plt", raises=ImportError, test_only=True),
    Cell(
        "In [18]",
        """
# 답이 거의 0에 가까운 수가 된다. 실제로 저 함수는 (0,0) 에서 최솟값을 가진다.
from matplotlib.pyplot import plt
plt.plot(x_0, x_1, 'o')
""",
        beyond_standard=PLOT,
        host_only=PLOT,
        edits=(PLT_FIX,),
    ),
    Cell(
        "In [23]",
        """
# learning rate 이 너무 크거나 작으면 좋지 않다. (잘... 정해야 한다?)
x_1 = []
x_0 = []
gradient_descent(func, init_x=np.array([-3.0, 4.0]), lr=10.0, step_num=100)
plt.plot(x_0, x_1, 'o') # 어디로 가는 거냐
""",
        beyond_standard=PLOT,
        host_only=PLOT,
    ),
    Cell(
        "In [24]",
        """
x_1 = []
x_0 = []
gradient_descent(func, init_x=np.array([-3.0, 4.0]), lr=1e-10, step_num=100)
plt.plot(x_0, x_1, 'o') # 얼마나 더 가야하는거냐.
""",
        beyond_standard=PLOT,
        host_only=PLOT,
    ),
    Cell(
        "test: the paths",
        """
assert len(x_0) == 100 and abs(float(x_0[-1]) + 3.0) < 1e-6  # lr = 1e-10 barely moves
""",
        beyond_standard="uses In [24]",
        host_only="uses In [24]",
        test_only=True,
    ),
    Cell(
        # the text export lost the class body's indentation; the notebook's cell is indented as here
        "In [19]",
        """
class simpleNet:
    def __init__(self):
        self.W = np.random.randn(2,3)

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
        "In [20]",
        """
net = simpleNet()
print(net.W)

x = np.array([0.6, 0.9])
p = net.predict(x)
print(p)
""",
    ),
    Cell(
        "test: In [20] with the notebook's W",
        """
net.W = np.array([[-1.24665088, 1.27077001, -0.60729709], [-0.28559133, 0.11076715, 0.15251487]])
print(net.predict(x))
""",
        out="[-1.00502272  0.86215244 -0.22711487]",
        test_only=True,
    ),
]
