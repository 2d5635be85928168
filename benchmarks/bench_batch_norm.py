"""BatchNorm with batch statistics against torch: funcad's primitives (``funcad.ops.batch_norm_train``) with their
fused kernels (``batch_norm_kernels``, "kernels") or their NumPy forms ("numpy forms"), and the same normalisation
composed from funcad ops ("composed"), eager and under funcad.jit.

1. BatchNorm alone, forward and backward, on a few shapes.
2. Whole train steps of the harness cases with BatchNorm (resnet at batch 16, mlp_bn at batch 64), with
   ``ops.batch_norm``'s training path swapped for the composition while a "composed" step runs (and is traced), and
   the kernels switched off while a "numpy forms" step runs.

One process, one thread, the variants interleaved round by round; each figure is the median over the rounds.

    python benchmarks/bench_batch_norm.py [--rounds 25]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # torch's spinning OpenMP threads would otherwise slow numpy's BLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import funcad  # noqa: E402
from funcad import ops  # noqa: E402
from funcad.jit import jit  # noqa: E402
from funcad.ops import batch_norm_kernels  # noqa: E402
from funcad.ops.batch_norm_train import batch_norm_training, channel_axes, normalize  # noqa: E402
from harness.cases import get_case  # noqa: E402

NORM = sys.modules["funcad.ops.norm"]  # the module (funcad.ops.norm is also the function ops.norm)

SHAPES = ((32, 32, 16, 16), (16, 32, 32, 32), (64, 128))
VARIANTS = ("composed", "numpy forms", "kernels")
KERNELS_APPLY = batch_norm_kernels.applies


def _composed_training(x, weight, bias, eps: float):
    """``batch_norm_training``'s contract, (y, constant statistics), from funcad ops."""
    c = x.shape[1]
    per_channel = (1, c) + (1,) * (len(x.shape) - 2)
    y, mu, var = normalize(x, channel_axes(len(x.shape)), eps)
    if weight is not None:
        y = y * ops.reshape(weight, per_channel)
    if bias is not None:
        y = y + ops.reshape(bias, per_channel)
    return y, ops.stop_gradient(ops.stack([ops.reshape(mu, (c,)), ops.reshape(var, (c,))]))


def _composed(x, w, b):
    return _composed_training(x, w, b, 1e-5)[0]


def _primitives(x, w, b):
    return ops.batch_norm(x, None, None, w, b, training=True)


def _variants(shape: tuple, rng: np.random.Generator) -> dict:
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    w, b = np.ones(shape[1], np.float32), np.zeros(shape[1], np.float32)
    variants = {}
    for name, bn in (("composed", _composed), ("numpy forms", _primitives), ("kernels", _primitives)):
        step = funcad.value_and_grad(lambda x, w, b, bn=bn: ops.sum(bn(x, w, b) * g), (0, 1, 2))
        variants[f"{name} eager"] = (lambda step=step: step(x, w, b))
        jitted = funcad.jit(step)
        variants[f"{name} jit"] = (lambda jitted=jitted: jitted(x, w, b))
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    tg = torch.from_numpy(g)

    def torch_step():
        for t in leaves:
            t.grad = None
        torch.nn.functional.batch_norm(leaves[0], None, None, leaves[1], leaves[2], True).backward(tg)

    variants["torch"] = torch_step
    return variants


def _interleaved(variants: dict, rounds: int, reps: int, before=lambda name: None) -> dict:
    times: dict = {k: [] for k in variants}
    for name, run in variants.items():
        before(name)
        run()  # a jitted step is traced here
    for _ in range(rounds):
        for name, run in variants.items():
            before(name)
            start = time.perf_counter()
            for _ in range(reps):
                run()
            times[name].append((time.perf_counter() - start) / reps)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


def _case_steps(name: str, batch: int) -> dict:
    case = get_case(name)
    x, y = case.batches(1, seed=0, batch_size=batch)[0]
    variants = {}
    for kind in VARIANTS:
        for engine in ("eager", "jit"):
            pair = case.build("float32", seed=0)
            step = jit(pair.funcad.train_step) if engine == "jit" else pair.funcad.train_step
            variants[f"{kind} {engine}"] = (lambda step=step, args=pair.funcad.prepare(x, y): step(*args))
    pair = case.build("float32", seed=0)
    xt, yt = pair.torch.prepare(x, y)
    variants["torch"] = lambda: pair.torch.trainer.step_tensors(xt, yt)
    return variants


def _select(name: str) -> None:
    """Set up the variant ``name`` runs: the composition, or the primitives with or without their kernels."""
    NORM.batch_norm_training = _composed_training if name.startswith("composed") else batch_norm_training
    batch_norm_kernels.applies = KERNELS_APPLY if name.startswith("kernels") else (lambda *arrays: False)


def _report(label: str, med: dict) -> None:
    print(f"{label}: " + "  ".join(f"{k} {v:.3f} ({v / med['torch']:.2f}x)" for k, v in med.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print("BatchNorm forward + backward (batch statistics), float32, 1 thread; ms, ratio to torch")
    with threadpool_limits(1):
        try:
            for shape in SHAPES:
                _report(str(shape), _interleaved(_variants(shape, rng), args.rounds, 5 if np.prod(shape) > 10_000 else 200, _select))
            print("train steps, BatchNorm composed or as primitives; ms, ratio to torch")
            for name, batch, reps in (("resnet", 16, 1), ("mlp_bn", 64, 20)):
                _report(f"{name}-b{batch}", _interleaved(_case_steps(name, batch), args.rounds, reps, _select))
        finally:
            _select("kernels")

if __name__ == "__main__":
    main()
