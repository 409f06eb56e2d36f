# Chapter 6's pattern: optimizers on Python numbers (f(x, y) = x**2 / 20 + y**2), and the np that
# `from common.optimizer import *` brings along (the book's file starts with `import numpy as np`).
import sys, os
sys.path.append(os.pardir)
from common.optimizer import *

params = {'x': -7.0, 'y': 2.0}
for name, optimizer in (('SGD', SGD(lr=0.95)), ('Momentum', Momentum(lr=0.1)), ('AdaGrad', AdaGrad(lr=1.5)),
                        ('Adam', Adam(lr=0.3))):
    params['x'], params['y'] = -7.0, 2.0
    for i in range(30):
        optimizer.update(params, {'x': params['x'] / 10.0, 'y': 2.0 * params['y']})
    print(name, 'ends at', np.round(np.array([params['x'], params['y']]), 3))
