"""conv2d / max_pool2d speed against torch on LeNet-5's layers (batch 64, 1x28x28, float32).

Per layer: forward time, and backward time (the pull-back of an output cotangent to the
gradients a training step needs: weights and bias for conv1, whose input is data; input too
for conv2). Then the whole LeNet-5 forward+backward (value and gradients of the
cross-entropy loss w.r.t. all ten parameters). funcad and torch run in one process,
interleaved, and each figure is the median over repeats, with thread counts fixed.

    python benchmarks/bench_conv.py [--threads 1] [--repeats 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # torch's spinning OpenMP threads would otherwise slow numpy's BLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import funcad  # noqa: E402
from funcad import ops  # noqa: E402

BATCH = 64


def _lenet_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    shapes = {"c1.w": (6, 1, 5, 5), "c1.b": (6,), "c2.w": (16, 6, 5, 5), "c2.b": (16,), "f1.w": (120, 400), "f1.b": (120,),
              "f2.w": (84, 120), "f2.b": (84,), "f3.w": (10, 84), "f3.b": (10,)}
    return {k: (rng.standard_normal(s) * (1.0 / np.sqrt(np.prod(s[1:]) if len(s) > 1 else 1.0))).astype(np.float32) for k, s in shapes.items()}


def _funcad_lenet_loss(x, y, p):
    h = ops.max_pool2d(ops.relu(ops.conv2d(x, p["c1.w"], p["c1.b"], padding=2)), 2)
    h = ops.max_pool2d(ops.relu(ops.conv2d(h, p["c2.w"], p["c2.b"])), 2)
    h = ops.reshape(h, (h.shape[0], -1))
    h = ops.relu(ops.matmul(h, ops.transpose(p["f1.w"])) + p["f1.b"])
    h = ops.relu(ops.matmul(h, ops.transpose(p["f2.w"])) + p["f2.b"])
    return ops.cross_entropy(ops.matmul(h, ops.transpose(p["f3.w"])) + p["f3.b"], y)


def _torch_lenet_loss(x, y, p):
    h = F.max_pool2d(F.relu(F.conv2d(x, p["c1.w"], p["c1.b"], padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p["c2.w"], p["c2.b"])), 2)
    h = h.reshape(h.shape[0], -1)
    h = F.relu(F.linear(h, p["f1.w"], p["f1.b"]))
    h = F.relu(F.linear(h, p["f2.w"], p["f2.b"]))
    return F.cross_entropy(F.linear(h, p["f3.w"], p["f3.b"]), y)


def _interleaved_medians(cases: dict, repeats: int) -> dict[str, float]:
    """Run every case once per round, rounds repeated; median milliseconds per case."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * float(np.median(ts)) for name, ts in times.items()}


def _layer_cases(rng, p) -> tuple[dict, list[str]]:
    """Forward and backward of both conv layers and both pools, for funcad and torch."""
    x1 = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    x2 = rng.standard_normal((BATCH, 6, 14, 14)).astype(np.float32)
    xp1 = rng.standard_normal((BATCH, 6, 28, 28)).astype(np.float32)
    xp2 = rng.standard_normal((BATCH, 16, 10, 10)).astype(np.float32)
    t = {k: torch.from_numpy(v) for k, v in p.items()}
    layers = {
        "conv1 (1->6, k5, pad 2)": (lambda w, b: ops.conv2d(x1, w, b, padding=2), (p["c1.w"], p["c1.b"]),
                                    lambda w, b: F.conv2d(torch.from_numpy(x1), w, b, padding=2), (t["c1.w"], t["c1.b"])),
        "conv2 (6->16, k5)": (lambda x, w, b: ops.conv2d(x, w, b), (x2, p["c2.w"], p["c2.b"]),
                              lambda x, w, b: F.conv2d(x, w, b), (torch.from_numpy(x2), t["c2.w"], t["c2.b"])),
        "max_pool1 (6x28x28, k2)": (lambda x: ops.max_pool2d(x, 2), (xp1,), lambda x: F.max_pool2d(x, 2), (torch.from_numpy(xp1),)),
        "max_pool2 (16x10x10, k2)": (lambda x: ops.max_pool2d(x, 2), (xp2,), lambda x: F.max_pool2d(x, 2), (torch.from_numpy(xp2),)),
    }
    cases = {}
    for name, (ffn, fargs, tfn, targs) in layers.items():
        out, pull_back = funcad.vjp(ffn, *fargs)
        cot = rng.standard_normal(out.shape).astype(np.float32)
        cases[f"{name} fwd funcad"] = lambda ffn=ffn, fargs=fargs: ffn(*fargs)
        cases[f"{name} bwd funcad"] = lambda pull_back=pull_back, cot=cot: pull_back(cot)
        leaves = [a.clone().requires_grad_(True) for a in targs]
        t_out = tfn(*leaves)
        t_cot = torch.from_numpy(cot)
        cases[f"{name} fwd torch"] = lambda tfn=tfn, targs=targs: tfn(*targs)
        cases[f"{name} bwd torch"] = lambda t_out=t_out, leaves=leaves, t_cot=t_cot: torch.autograd.grad(t_out, leaves, t_cot, retain_graph=True)
    return cases, list(layers)


def _model_cases(rng, p) -> dict:
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    names = list(p)
    f_step = funcad.value_and_grad(lambda *vals: _funcad_lenet_loss(x, y, dict(zip(names, vals))), tuple(range(len(names))))
    t_params = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in p.items()}
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def t_step():
        loss = _torch_lenet_loss(xt, yt, t_params)
        return torch.autograd.grad(loss, list(t_params.values()))

    f_loss, f_grads = f_step(*p.values())
    t_grads = t_step()
    worst = max(float(np.max(np.abs(np.asarray(a) - b.numpy()))) for a, b in zip(f_grads, t_grads))
    t_loss = _torch_lenet_loss(xt, yt, t_params).item()
    print(f"LeNet-5 loss funcad {float(f_loss):.6f} torch {t_loss:.6f}; largest gradient difference {worst:.2e}")
    return {"LeNet-5 fwd+bwd funcad": lambda: f_step(*p.values()), "LeNet-5 fwd+bwd torch": t_step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    p = _lenet_params(rng)
    with threadpool_limits(limits=args.threads):
        layer_cases, layers = _layer_cases(rng, p)
        layer_ms = _interleaved_medians(layer_cases, args.repeats)
        model_ms = _interleaved_medians(_model_cases(rng, p), args.repeats)
    print(f"threads={args.threads} repeats={args.repeats} batch={BATCH} float32; median ms (ratio = funcad / torch)")
    print(f"{'layer':28s} {'fwd funcad':>10s} {'fwd torch':>10s} {'ratio':>6s} {'bwd funcad':>10s} {'bwd torch':>10s} {'ratio':>6s}")
    for name in layers:
        ff, ft = layer_ms[f"{name} fwd funcad"], layer_ms[f"{name} fwd torch"]
        bf, bt = layer_ms[f"{name} bwd funcad"], layer_ms[f"{name} bwd torch"]
        print(f"{name:28s} {ff:10.3f} {ft:10.3f} {ff / ft:6.2f} {bf:10.3f} {bt:10.3f} {bf / bt:6.2f}")
    mf, mt = model_ms["LeNet-5 fwd+bwd funcad"], model_ms["LeNet-5 fwd+bwd torch"]
    print(f"{'LeNet-5 fwd+bwd':28s} funcad {mf:.3f} ms, torch {mt:.3f} ms, ratio {mf / mt:.2f}")


if __name__ == "__main__":
    main()
