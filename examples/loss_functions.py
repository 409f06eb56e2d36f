"""Seed 003: sum of squared errors and cross-entropy of two predictions (book 1, 4.2)."""

from _common import parse

import xpnet
from xpnet.functions import cross_entropy_error, mean_squared_error

parse(__doc__)
t = xpnet.asarray([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype="float64")
y1 = xpnet.asarray([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0], dtype="float64")  # "2" is likeliest
y2 = xpnet.asarray([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0], dtype="float64")  # "7" is likeliest
print("MSE:          ", float(mean_squared_error(y1, t)), float(mean_squared_error(y2, t)))  # 0.0975 0.5975
print("cross-entropy:", float(cross_entropy_error(y1, t)), float(cross_entropy_error(y2, t)))  # 0.5108 2.3026
