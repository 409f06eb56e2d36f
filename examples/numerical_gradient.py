"""Seeds 000 and 003: numerical differentiation and gradients (book 1, 4.3-4.4)."""

from _common import parse

import xpnet
from xpnet import numerical_diff, numerical_gradient

parse(__doc__)


def function_2(x):
    return x[0] ** 2 + x[1] ** 2


print("d/dx0 at (3, 4):", numerical_diff(lambda x0: x0 * x0 + 4.0**2.0, 3.0))  # 6.00000000000378
print("d/dx1 at (3, 4):", numerical_diff(lambda x1: 3.0**2.0 + x1 * x1, 4.0))  # 7.999999999999119
for point in ([3.0, 4.0], [0.0, 2.0], [3.0, 0.0]):
    g = numerical_gradient(function_2, xpnet.asarray(point, dtype="float64"))
    print(f"gradient at {tuple(point)}:", xpnet.asnumpy(g))  # (6, 8), (0, 4), (6, 0)

# Seed 000: f(x0, x1, x2) = 1 + 2 x1 + x0 x1 x2 + x2^3 at (0, 1, 2) -> (2, 2, 12)
g = numerical_gradient(
    lambda x: 1 + 2 * x[1] + x[0] * x[1] * x[2] + x[2] ** 3, xpnet.asarray([0.0, 1.0, 2.0], dtype="float64")
)
print("gradient of f at (0, 1, 2):", xpnet.asnumpy(g))
