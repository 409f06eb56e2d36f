# Chapter 8's pattern: a network whose layers are a list, trained by common.trainer.Trainer.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from deep_list_net import ListNet
from common.trainer import Trainer

np.random.seed(3)
centers = np.random.randn(3, 4) * 3
labels = np.random.randint(0, 3, 200)
x = centers[labels] + np.random.randn(200, 4)
network = ListNet()
trainer = Trainer(network, x, labels, x, labels, epochs=3, mini_batch_size=50,
                  optimizer='Adam', optimizer_param={'lr': 0.01}, verbose=False)
trainer.train()
print("final test acc", trainer.final_test_acc)
