"""LeNet-5 written with funcad.nn Cells against the same network in torch: eager forward+backward and a
full training step with Adam, batch 64, 1x28x28, float32.

Both models start from identical parameters (copied by name through the bridge). Each round runs
funcad then torch back to back, so drift in machine load hits both alike; figures are medians over
rounds. Thread counts are fixed for numpy's BLAS and for torch and printed with the results.
Per-layer conv2d forward/backward times are in benchmarks/bench_conv.py.

    PYTHONPATH=. python benchmarks/bench_lenet.py [--threads 1] [--rounds 30]
"""

from __future__ import annotations

import os

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # torch's spinning OpenMP workers would otherwise steal numpy's cores

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import funcad  # noqa: E402
from funcad import nn  # noqa: E402
from harness.models import LeNet5 as FuncadLeNet5  # noqa: E402
from harness.timing import fixed_threads  # noqa: E402
from torch_ref.bridge import copy_funcad_to_torch  # noqa: E402
from torch_ref.models import LeNet5 as TorchLeNet5  # noqa: E402

BATCH = 64


def _funcad_steps(x, y):
    funcad.set_seed(0)
    net = FuncadLeNet5()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = nn.Adam(net.trainable_params(), 1e-3)
    grad_fn = funcad.value_and_grad(lambda a, b: loss_fn(net(a), b), None, optimizer.parameters)

    def forward_backward():
        return grad_fn(x, y)

    def train_step():
        loss, grads = grad_fn(x, y)
        optimizer(grads)
        return loss

    return net, forward_backward, train_step


def _torch_steps(net_funcad, x, y):
    net = TorchLeNet5()
    copy_funcad_to_torch(net_funcad, net)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def forward_backward():
        net.zero_grad(set_to_none=True)
        loss = loss_fn(net(tx), ty)
        loss.backward()
        return loss

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(tx), ty)
        loss.backward()
        optimizer.step()
        return loss

    return forward_backward, train_step


def _interleaved(pairs: dict, rounds: int, warmup: int = 3) -> dict:
    for fn in pairs.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in pairs}
    for _ in range(rounds):
        for name, fn in pairs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    with fixed_threads(args.threads):
        net, f_fb, f_step = _funcad_steps(x, y)
        t_fb, t_step = _torch_steps(net, x, y)
        f_loss, t_loss = float(f_fb()[0]), t_fb().item()
        assert abs(f_loss - t_loss) < 1e-5, (f_loss, t_loss)
        results = _interleaved({"funcad fwd+bwd": f_fb, "torch fwd+bwd": t_fb, "funcad step (Adam)": f_step, "torch step (Adam)": t_step},
                               args.rounds)
    print(f"LeNet-5, batch {BATCH}, 1x28x28 float32; threads: {args.threads} for numpy BLAS and for torch; "
          f"median of {args.rounds} interleaved rounds")
    for name, ms in results.items():
        print(f"  {name:<20} {ms:8.2f} ms")
    print(f"  ratio fwd+bwd funcad/torch: {results['funcad fwd+bwd'] / results['torch fwd+bwd']:.2f}x")
    print(f"  ratio train step funcad/torch: {results['funcad step (Adam)'] / results['torch step (Adam)']:.2f}x")


if __name__ == "__main__":
    main()
