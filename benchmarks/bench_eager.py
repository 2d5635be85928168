"""Eager value_and_grad of the quickstart MLP loss: funcad vs HIPS autograd vs PyTorch, one process.

The MLP is 784-512-512-10 with ReLU, batch 64, float32, mean cross-entropy on class indices.
All three engines compute the same loss and the gradients of all six weight arrays. Rounds are
interleaved (funcad, autograd, torch, funcad, ...) and medians are reported, so drift in machine
load hits every engine alike. Also measured: funcad's per-op dispatch overhead on a 1-element tensor,
on concrete values and under ``grad``.

torch's OpenMP workers spin after each op and then steal the cores OpenBLAS (numpy) needs in the
same process; ``OMP_WAIT_POLICY=PASSIVE`` is set before torch is imported to stop that. torch's
intra-op threads and numpy's BLAS threads are both fixed to ``--threads`` (via threadpoolctl) and
printed with the results. The default is 1: with more threads than idle cores, OpenBLAS's spinning
workers and torch's pool take turns stalling each other and the medians stop meaning anything.

Run: ``PYTHONPATH=. python benchmarks/bench_eager.py [--rounds N]``
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import funcad  # noqa: E402
from funcad import ops  # noqa: E402
from harness.bench import autograd_port  # noqa: E402

SIZES = (784, 512, 512, 10)
BATCH = 64


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        weights.append(rng.uniform(-bound, bound, (fan_out,)).astype(np.float32))
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH).astype(np.int64)
    return weights, x, y


def funcad_step(weights, x, y):
    params = [funcad.Parameter(w, name=f"p{i}") for i, w in enumerate(weights)]
    w1, b1, w2, b2, w3, b3 = params

    def forward_fn(inputs, targets):
        h = ops.relu(ops.matmul(inputs, w1.T) + b1)
        h = ops.relu(ops.matmul(h, w2.T) + b2)
        logits = ops.matmul(h, w3.T) + b3
        return ops.cross_entropy(logits, targets)

    grad_fn = funcad.value_and_grad(forward_fn, None, params)
    xt, yt = funcad.Tensor(x), funcad.Tensor(y)
    return lambda: grad_fn(xt, yt), lambda out: [np.asarray(g) for g in out[1]]


def autograd_step(weights, x, y):
    from autograd import value_and_grad

    vg = value_and_grad(autograd_port.loss_function("mlp"))
    return lambda: vg(list(weights), x, y), lambda out: [np.asarray(g) for g in out[1]]


def torch_step(weights, x, y):
    import torch

    params = [torch.tensor(w, requires_grad=True) for w in weights]
    w1, b1, w2, b2, w3, b3 = params
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        for p in params:
            p.grad = None
        h = torch.relu(xt @ w1.T + b1)
        h = torch.relu(h @ w2.T + b2)
        loss = torch.nn.functional.cross_entropy(h @ w3.T + b3, yt)
        loss.backward()
        return loss, [p.grad for p in params]

    return step, lambda out: [g.numpy() for g in out[1]]


def time_call(fn, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def dispatch_overhead(inner: int = 20000) -> dict:
    """Microseconds per tiny op: numpy itself, funcad concrete, funcad and autograd under grad (forward + backward)."""
    a = funcad.Tensor(np.ones(1, np.float32))
    b = funcad.Tensor(np.ones(1, np.float32))
    raw = np.ones(1, np.float32)
    chain = 100

    import autograd
    import autograd.numpy as anp

    def product_chain(factor, finish=lambda z: z):
        def run(x):
            z = x
            for _ in range(chain):
                z = z * factor
            return finish(z)

        return run

    concrete = product_chain(b)
    g = funcad.grad(product_chain(b, ops.sum))
    numpy_only = product_chain(raw)
    autograd_traced = product_chain(raw, anp.sum)

    ag = autograd.grad(autograd_traced)
    reps = max(inner // chain, 1)
    out = {}
    cases = (("numpy", lambda: numpy_only(raw)), ("funcad_concrete", lambda: concrete(a)), ("funcad_grad_fwd_bwd", lambda: g(a)),
             ("autograd_grad_fwd_bwd", lambda: ag(raw)))
    for name, fn in cases:
        out[name] = statistics.median(time_call(fn, reps) for _ in range(7)) / chain * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--inner", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="threads for torch (intra-op) and for numpy's BLAS alike")
    args = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads, user_api="blas")
    blas = [f"{i['internal_api']}={i['num_threads']}" for i in threadpool_info() if i["user_api"] == "blas"]
    weights, x, y = make_data()
    engines = {"funcad": funcad_step(weights, x, y), "autograd": autograd_step(weights, x, y), "torch": torch_step(weights, x, y)}

    reference = engines["torch"][1](engines["torch"][0]())
    for name, (step, grads_of) in engines.items():
        for got, want in zip(grads_of(step()), reference):
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5, err_msg=f"{name} gradients disagree with torch")

    times: dict = {name: [] for name in engines}
    for _ in range(args.rounds):
        for name, (step, _) in engines.items():
            times[name].append(time_call(step, args.inner))
    med = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}

    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} torch threads={torch.get_num_threads()} "
          f"numpy BLAS threads: {', '.join(blas)} cores={os.cpu_count()} torch {torch.__version__} numpy {np.__version__}")
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float32: median ms per value_and_grad over {args.rounds} rounds x {args.inner} calls")
    for name, ms in med.items():
        print(f"  {name:9s} {ms:8.3f} ms")
    print(f"  funcad / autograd = {med['funcad'] / med['autograd']:.3f}  (target <= 0.5)")
    print(f"  funcad / torch    = {med['funcad'] / med['torch']:.3f}  (target <= 1.5)")
    print("  fastest round, ms: " + ", ".join(f"{name} {min(ts) * 1e3:.3f}" for name, ts in times.items()))
    print("per-op dispatch, microseconds per elementwise multiply on a 1-element tensor:")
    for name, us in dispatch_overhead().items():
        print(f"  {name:20s} {us:7.2f} us")


if __name__ == "__main__":
    main()
