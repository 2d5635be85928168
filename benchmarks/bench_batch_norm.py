"""BatchNorm with batch statistics, forward and backward, against torch: funcad's primitives
(``funcad.ops.batch_norm_train``) and the same normalisation composed from funcad ops, eager and under funcad.jit.

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
from funcad.ops.batch_norm_train import channel_axes, normalize  # noqa: E402

SHAPES = ((32, 32, 16, 16), (16, 32, 32, 32), (64, 128))


def _composed(x, w, b):
    per_channel = (1, x.shape[1]) + (1,) * (len(x.shape) - 2)
    y, _, _ = normalize(x, channel_axes(len(x.shape)), 1e-5)
    return y * ops.reshape(w, per_channel) + ops.reshape(b, per_channel)


def _primitives(x, w, b):
    return ops.batch_norm(x, None, None, w, b, training=True)[0]


def _variants(shape: tuple, rng: np.random.Generator) -> dict:
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    w, b = np.ones(shape[1], np.float32), np.zeros(shape[1], np.float32)
    variants = {}
    for name, bn in (("composed", _composed), ("primitives", _primitives)):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print("BatchNorm forward + backward (batch statistics), float32, 1 thread; ms, ratio to torch")
    with threadpool_limits(1):
        for shape in SHAPES:
            variants = _variants(shape, rng)
            reps = 5 if np.prod(shape) > 10_000 else 200
            times: dict = {k: [] for k in variants}
            for run in variants.values():
                run()
            for _ in range(args.rounds):
                for name, run in variants.items():
                    start = time.perf_counter()
                    for _ in range(reps):
                        run()
                    times[name].append((time.perf_counter() - start) / reps)
            med = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
            print(f"{shape}: " + "  ".join(f"{k} {v:.3f} ({v / med['torch']:.2f}x)" for k, v in med.items()))


if __name__ == "__main__":
    main()
