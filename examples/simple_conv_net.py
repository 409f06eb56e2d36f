"""Book 1, 7.5: SimpleConvNet (conv 30x5x5 - ReLU - pool - affine 100 - ReLU - affine 10) on Fashion-MNIST."""

from _common import load, parse

import xpnet

args = parse(__doc__, data=True, plot=True)
(x_train, t_train), (x_test, t_test) = load(args, flatten=False)
if args.quick:
    x_train, t_train, x_test, t_test = x_train[:500, ...], t_train[:500, ...], x_test[:200, ...], t_test[:200, ...]
network = xpnet.SimpleConvNet(
    input_dim=(1, 28, 28),
    conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
    hidden_size=100,
    output_size=10,
    weight_init_std=0.01,
    rng=0,
)
trainer = xpnet.Trainer(
    network,
    x_train,
    t_train,
    x_test,
    t_test,
    epochs=1 if args.quick else 4,
    mini_batch_size=100,
    optimizer="Adam",
    optimizer_param={"lr": 0.001},
    evaluate_sample_num_per_epoch=1000,
    seed=0,
)
trainer.train()
print(f"test acc {trainer.final_test_acc:.4f} after {trainer.current_iter} iterations in {trainer.elapsed:.1f} s")
if args.plot:
    xpnet.plot.loss_curve(trainer.train_loss_list, path=args.plot, title="SimpleConvNet")
