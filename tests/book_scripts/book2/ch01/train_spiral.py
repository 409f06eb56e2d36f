# Book 2, chapter 1's pattern: spiral data, SGD, the book's Trainer; '--gpu' flips config.GPU as the book's
# comment tells the reader to. Saves the weights with pickle and the loss curve with matplotlib.
import sys
sys.path.append('..')
from common import config
if '--gpu' in sys.argv:
    config.GPU = True
from common.np import *  # import numpy as np
import pickle
from common.optimizer import SGD
from common.trainer import Trainer
from common.util import to_cpu, to_gpu
from dataset import spiral
from two_layer_net import TwoLayerNet

np.random.seed(0)
np.set_printoptions(precision=3)  # NumPy's, also on the GPU (CuPy has no print settings)
x, t = spiral.load_data()
if config.GPU:
    x, t = to_gpu(x), to_gpu(t)
model = TwoLayerNet(input_size=2, hidden_size=10, output_size=3)
trainer = Trainer(model, SGD(lr=1.0))
trainer.fit(x, t, max_epoch=int(sys.argv[1]), batch_size=30, eval_interval=10)
print("GPU", GPU, "device", model.params[0].device if GPU else "cpu")
print("final loss", float(trainer.loss_list[-1]))

with open('spiral_params.pkl', 'wb') as f:
    pickle.dump({'params': model.params, 'loss': np.asarray(trainer.loss_list)}, f, -1)
try:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    plt.plot(np.arange(len(trainer.loss_list)), np.asarray(trainer.loss_list))
    plt.savefig('spiral_loss.png')
    plt.close()
