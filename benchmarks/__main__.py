"""Run the benchmarks on one backend, interleaved with the plain NumPy baseline and PyTorch eager.

    python -m benchmarks --backend numpy [--dtype float32] [--cases two_layer,wide_mlp] [--quick]

Every contender runs on identical pre-drawn batches. Each round runs every contender once
(``inner`` steps), in an order rotated every round (whoever runs first in a round is
measurably slower on a small machine); medians over rounds are reported with ratios.
GPU contenders are synchronised before and after each timed block. On a GPU backend (CuPy, CUDA
torch) the two_layer and conv cases add ``captured``: the same xpnet step with its gradient pass
recorded once as a CUDA graph and replayed (``capture=True`` of the trainers); ``xpnet/captured``
in the report is the speed-up the graph gives.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import xpnet
from benchmarks import baselines

try:
    import torch
except ImportError:
    torch = None


def sync(name: str) -> None:
    """Wait for the device (GPU contenders only)."""
    if name == "cupy":
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    elif torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()


def measure(contenders: dict[str, Callable[[], Any]], inner: int, rounds: int, backend: str) -> dict[str, float]:
    """Median seconds per call of each contender, interleaved and rotated."""
    names = list(contenders)
    times: dict[str, list[float]] = {n: [] for n in names}
    for fn in contenders.values():  # warm-up: allocations, caches, CUDA kernels
        for _ in range(max(1, inner // 4)):
            fn()
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for n in order:
            sync(backend)
            time.sleep(0.005)  # let the previous contender's spinning worker threads go idle
            start = time.perf_counter()
            for _ in range(inner):
                contenders[n]()
            sync(backend)
            times[n].append((time.perf_counter() - start) / inner)
    return {n: statistics.median(v) for n, v in times.items()}


# --- contenders ----------------------------------------------------------------------


def batches(n: int, batch: int, features: int, classes: int, dtype: str, seed: int = 0):
    r = np.random.default_rng(seed)
    x = r.random((n, batch, features)).astype(dtype)
    labels = r.integers(0, classes, (n, batch))
    return x, np.eye(classes, dtype=dtype)[labels]


def cycling(fn: Callable[[Any, Any], Any], xs, ts) -> Callable[[], None]:
    """A step that calls ``fn(x, t)`` on the pre-drawn batches in turn."""
    state = {"i": 0}

    def step():
        i = state["i"] = (state["i"] + 1) % len(xs)
        fn(xs[i], ts[i])

    return step


def xpnet_mlp_step(
    sizes: list[int], weights: list[np.ndarray], xs, ts, dtype: str, lr: float = 0.1, mod=xpnet, capture: bool = False
):
    """One SGD step of ``mod.MultiLayerNet`` (``mod``: xpnet, or an older copy of it in ``benchmarks.before_after``);
    ``capture``: the gradient step recorded once as a CUDA graph and replayed (GPU backends)."""
    net = mod.MultiLayerNet(sizes[0], sizes[1:-1], sizes[-1], dtype=dtype)
    for i, w in enumerate(weights, 1):
        net.params[f"W{i}"] = mod.asarray(w, dtype=dtype)
    opt = mod.optimizers.SGD(lr=lr)
    xd, td = [mod.asarray(x) for x in xs], [mod.asarray(t) for t in ts]
    return xpnet_step(net, opt, xd, td, capture)


def xpnet_step(net: Any, opt: Any, xd: list, td: list, capture: bool = False) -> Callable[[], None]:
    """``opt.update(net.params, net.gradient(x, t))`` on the batches in turn; through a CUDA graph with ``capture``."""
    if not capture:
        return cycling(lambda x, t: opt.update(net.params, net.gradient(x, t)), xd, td)
    from xpnet.training.capture import StepCapture

    cap = StepCapture(net)
    return cycling(lambda x, t: opt.update(net.params, cap.run(net.gradient, x, t)), xd, td)


def on_gpu(backend: str) -> bool:
    """Whether the backend runs on a GPU here (the ``captured`` contenders need one)."""
    return backend == "cupy" or (backend == "torch" and torch is not None and torch.cuda.is_available())


def numpy_mlp_step(weights, xs, ts, lr=0.1):
    return cycling(baselines.LeanNumpyMLP(weights, lr).step, xs, ts)


def inplace_mlp_step(weights, xs, ts, lr=0.1):
    return cycling(baselines.InplaceNumpyMLP(weights, lr).step, xs, ts)


def book_step(weights, xs, ts, lr=0.1):
    return cycling(baselines.BookTwoLayerNet(*weights, lr=lr).step, xs, ts)


def floor_step(weights, xs, ts):
    return cycling(lambda x, d_out: baselines.matmul_floor_step(weights, x, d_out), xs, ts)


def torch_device(backend: str) -> str:
    return "cuda" if backend in ("cupy", "torch") and torch.cuda.is_available() else "cpu"


def torch_mlp_step(weights, xs, ts, dtype: str, device: str, lr=0.1):
    layers: list[Any] = []
    for i, w in enumerate(weights):
        lin = torch.nn.Linear(w.shape[0], w.shape[1], device=device, dtype=getattr(torch, dtype))
        with torch.no_grad():  # made in the final dtype first, so float64 weights are not rounded to float32
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.zero_()
        layers += [lin, torch.nn.ReLU()] if i < len(weights) - 1 else [lin]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    xd = [torch.from_numpy(x).to(device) for x in xs]
    td = [torch.from_numpy(t.argmax(axis=1)).to(device) for t in ts]

    def step(x, t):
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), t).backward()
        opt.step()

    return cycling(step, xd, td), model


def mlp_case(args, sizes: list[int], batch: int, dtype: str, with_book: bool) -> dict[str, float]:
    r = np.random.default_rng(1)
    weights = [(0.01 * r.standard_normal((a, b))).astype(dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    xs, ts = batches(8, batch, sizes[0], sizes[-1], dtype)
    contenders = {
        "xpnet": xpnet_mlp_step(sizes, weights, xs, ts, dtype),
        "inplace": inplace_mlp_step(weights, xs, ts),
        "numpy": numpy_mlp_step(weights, xs, ts),
    }
    if on_gpu(args.backend):
        contenders["captured"] = xpnet_mlp_step(sizes, weights, xs, ts, dtype, capture=True)
    if with_book:
        contenders["book"] = book_step(weights, xs, ts)
        contenders["matmuls"] = floor_step(weights, xs, ts)
    if torch is not None:
        contenders["torch"] = torch_mlp_step(weights, xs, ts, dtype, torch_device(args.backend))[0]
    work = batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    inner = max(1, min(500, int(2e9 // max(work, 1))))  # blocks of tens of milliseconds
    return measure(contenders, inner, args.rounds, args.backend)


def epoch_case(args, dtype: str) -> dict[str, float] | None:
    """One Fashion-MNIST epoch (600 steps of batch 100) plus evaluation on both sets."""
    if xpnet.datasets.find_dataset("fashion-mnist") is None:
        return None
    with xpnet.use_backend("numpy"):
        xpnet.set_default_dtype(dtype)
        (x, t), (xt, tt) = xpnet.datasets.load_fashion_mnist(one_hot_label=True)
    r = np.random.default_rng(1)
    weights = [(0.01 * r.standard_normal((784, 50))).astype(dtype), (0.01 * r.standard_normal((50, 10))).astype(dtype)]
    xd, td, xtd, ttd = (xpnet.asarray(a) for a in (x, t, xt, tt))

    def run_xpnet():
        net = xpnet.TwoLayerNet(784, 50, 10, dtype=dtype)
        net.params["W1"], net.params["W2"] = xpnet.asarray(weights[0]), xpnet.asarray(weights[1])
        tr = xpnet.Trainer(net, xd, td, xtd, ttd, epochs=1, optimizer_param={"lr": 0.1}, verbose=False, seed=0)
        tr.train()

    def run_numpy():  # evaluates before and after the epoch, as the Trainer does
        model = baselines.LeanNumpyMLP(weights, 0.1)

        def evaluate():
            for a, lab in ((x, t), (xt, tt)):
                h = np.maximum(a @ model.W[0] + model.b[0], 0) @ model.W[1] + model.b[1]
                float((h.argmax(1) == lab.argmax(1)).mean())

        evaluate()
        for b in np.random.default_rng(0).integers(0, x.shape[0], (600, 100)):
            model.step(x[b], t[b])
        evaluate()

    t64, tt64 = t.astype(np.float64), tt.astype(np.float64)  # the book's load_mnist makes float64 one-hot labels

    def run_book():
        net = baselines.BookTwoLayerNet(*weights, lr=0.1)
        baselines.book_epoch(net, x, t64, xt, tt64)

    contenders = {"xpnet": run_xpnet, "numpy": run_numpy, "book": run_book}
    if torch is not None:
        device = torch_device(args.backend)

        def run_torch():
            model = torch.nn.Sequential(torch.nn.Linear(784, 50), torch.nn.ReLU(), torch.nn.Linear(50, 10))
            model = model.to(device=device, dtype=getattr(torch, dtype))
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            xg, tg = torch.from_numpy(x).to(device), torch.from_numpy(t.argmax(1)).to(device)
            idx = torch.from_numpy(np.random.default_rng(0).integers(0, x.shape[0], (600, 100))).to(device)

            def evaluate():
                with torch.no_grad():
                    for a, lab in ((x, t), (xt, tt)):
                        float((model(torch.from_numpy(a).to(device)).argmax(1).cpu().numpy() == lab.argmax(1)).mean())

            evaluate()
            for b in idx:
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(model(xg[b]), tg[b]).backward()
                opt.step()
            evaluate()

        contenders["torch"] = run_torch
    return measure(contenders, 1, max(3, args.rounds // 3), args.backend)


def numgrad_case(args, dtype: str) -> dict[str, float]:
    """network.numerical_gradient on 100 samples: bulk (xpnet) vs the book's loop."""
    r = np.random.default_rng(1)
    net = xpnet.TwoLayerNet(784, 50, 10, dtype=dtype, rng=1)
    x = xpnet.asarray(r.random((100, 784)).astype(dtype))
    t = xpnet.asarray(np.eye(10, dtype=dtype)[r.integers(0, 10, 100)])
    out = measure({"xpnet": lambda: net.numerical_gradient(x, t)}, 1, max(3, args.rounds // 3), args.backend)
    if not args.quick:
        start = time.perf_counter()
        net.numerical_gradient(x, t, method="loop")  # the book's loop, once: about 13 s here
        out["book"] = time.perf_counter() - start
    return out


def conv_case(args, dtype: str) -> dict[str, float]:
    """SimpleConvNet (30 filters 5x5, hidden 100) forward + backward + SGD, batch 100, 28x28."""
    r = np.random.default_rng(1)
    shapes = [(30, 1, 5, 5), (30,), (4320, 100), (100,), (100, 10), (10,)]
    params = [(0.01 * r.standard_normal(s)).astype(dtype) for s in shapes]
    xs = r.random((4, 100, 1, 28, 28)).astype(dtype)
    ts = np.eye(10, dtype=dtype)[r.integers(0, 10, (4, 100))]
    xd, td = [xpnet.asarray(a) for a in xs], [xpnet.asarray(a) for a in ts]
    nets = []
    for _ in range(2 if on_gpu(args.backend) else 1):
        net = xpnet.SimpleConvNet(dtype=dtype)
        for name, p in zip(["W1", "b1", "W2", "b2", "W3", "b3"], params):
            net.params[name] = xpnet.asarray(p)
        nets.append(net)
    lean = [p.copy() for p in params]
    contenders = {
        "xpnet": xpnet_step(nets[0], xpnet.optimizers.SGD(lr=0.1), xd, td),
        "numpy": cycling(lambda x, t: baselines.lean_conv_step(lean, x, t), xs, ts),
    }
    if len(nets) > 1:
        contenders["captured"] = xpnet_step(nets[1], xpnet.optimizers.SGD(lr=0.1), xd, td, capture=True)
    if torch is not None:
        device = torch_device(args.backend)
        model = torch.nn.Sequential(
            torch.nn.Conv2d(1, 30, 5),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(4320, 100),
            torch.nn.ReLU(),
            torch.nn.Linear(100, 10),
        ).to(device=device, dtype=getattr(torch, dtype))
        topt = torch.optim.SGD(model.parameters(), lr=0.1)
        txs = [torch.from_numpy(a).to(device) for a in xs]
        tts = [torch.from_numpy(a.argmax(1)).to(device) for a in ts]

        def step_torch(x, t):
            topt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), t).backward()
            topt.step()

        contenders["torch"] = cycling(step_torch, txs, tts)
    return measure(contenders, 5, args.rounds, args.backend)


def memory_case(args, dtype: str) -> dict[str, float]:
    """Resident memory after 1,000 and after 10,000 steps of case 1 (xpnet): growth means a leak."""
    r = np.random.default_rng(1)
    weights = [(0.01 * r.standard_normal((784, 50))).astype(dtype), (0.01 * r.standard_normal((50, 10))).astype(dtype)]
    xs, ts = batches(8, 100, 784, 10, dtype)
    step = xpnet_mlp_step([784, 50, 10], weights, xs, ts, dtype)
    steps = 2000 if args.quick else 10000
    for _ in range(steps // 10):
        step()
    sync(args.backend)
    before = rss_mib(args.backend)
    for _ in range(steps - steps // 10):
        step()
    sync(args.backend)
    return {"steps": steps, "after_10pct_mib": before, "after_all_mib": rss_mib(args.backend)}


def rss_mib(backend: str) -> float:
    if backend == "cupy":
        import cupy

        return cupy.get_default_memory_pool().used_bytes() / 2**20
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- report ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "xpnet": xpnet.__version__,
        "torch": torch.__version__ if torch is not None else None,
    }
    try:
        import cupy

        info["cupy"] = cupy.__version__
        info["gpu"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except Exception:
        pass
    return info


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:9.1f} µs"


def report(name: str, res: dict[str, float]) -> None:
    base = res.get("xpnet")
    parts = [f"{k} {fmt(v)}" for k, v in res.items()]
    ratios = [f"xpnet/{k} {base / v:.2f}" for k, v in res.items() if k != "xpnet" and base]
    print(f"{name:32s} " + " | ".join(parts) + ("   [" + ", ".join(ratios) + "]" if ratios else ""))
    sys.stdout.flush()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="numpy", choices=xpnet.backend.BACKENDS)
    p.add_argument("--dtype", default="float32,float64")
    p.add_argument("--cases", default="two_layer,wide_mlp,epoch,numgrad,conv,scaling,memory")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--quick", action="store_true", help="fewer rounds, no book loop, shorter memory run")
    p.add_argument("--json", default=None, help="where to write the results (default bench-<backend>.json)")
    args = p.parse_args()
    if args.quick:
        args.rounds = 5
    try:
        xpnet.set_backend(args.backend)
    except xpnet.BackendUnavailableError as e:
        print(f"skipped: {e}")
        return
    cases = args.cases.split(",")
    results: dict[str, Any] = {"machine": machine(), "backend": args.backend, "device": str(xpnet.active_device())}
    print(
        f"xpnet benchmarks on {args.backend} ({xpnet.active_device()}); anchors: numpy, torch "
        f"{'on ' + torch_device(args.backend) if torch is not None else 'not installed'}"
    )
    for dtype in args.dtype.split(","):
        xpnet.set_default_dtype(dtype)
        res: dict[str, Any] = {}
        if "two_layer" in cases:
            res["two_layer"] = mlp_case(args, [784, 50, 10], 100, dtype, with_book=True)
            report(f"1 TwoLayerNet step {dtype}", res["two_layer"])
        if "wide_mlp" in cases:
            res["wide_mlp"] = mlp_case(args, [784, 1024, 1024, 10], 1024, dtype, with_book=False)
            report(f"2 wide MLP step {dtype}", res["wide_mlp"])
        if "epoch" in cases:
            res["epoch"] = epoch_case(args, dtype)
            if res["epoch"]:
                report(f"3 Fashion-MNIST epoch {dtype}", res["epoch"])
        if "numgrad" in cases:
            res["numgrad"] = numgrad_case(args, dtype)
            report(f"4 numerical gradient {dtype}", res["numgrad"])
        if "conv" in cases:
            res["conv"] = conv_case(args, dtype)
            report(f"5 SimpleConvNet step {dtype}", res["conv"])
        if "scaling" in cases and dtype == "float32":
            res["scaling"] = {}
            for batch, hidden in [(1, 50), (16, 50), (256, 50), (4096, 50), (100, 16), (100, 256), (100, 4096)]:
                r = mlp_case(args, [784, hidden, 10], batch, dtype, with_book=False)
                res["scaling"][f"batch={batch},hidden={hidden}"] = r
                report(f"  scaling batch {batch:4d} hidden {hidden:4d}", r)
        if "memory" in cases and dtype == "float32":
            res["memory"] = memory_case(args, dtype)
            m = res["memory"]
            print(
                f"memory: {m['after_10pct_mib']:.1f} MiB after {m['steps'] // 10} steps, "
                f"{m['after_all_mib']:.1f} MiB after {m['steps']}"
            )
        results[dtype] = res
    path = args.json or f"bench-{args.backend}.json"
    with open(path, "w") as f:
        json.dump(results, f, indent=1, default=lambda o: None if isinstance(o, float) and math.isnan(o) else str(o))
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
