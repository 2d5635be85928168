"""What each part of funcad.jit buys: train-step time of one case compiled with passes and buffers switched off and on.

Variants, interleaved round by round in one process (medians, interquartile ranges):

- eager: the plain train step, op by op through the tracers of value_and_grad.
- bare: traced and generated as numpy code, but no passes and no buffer planning.
- passes: fold, simplify, CSE, transposed products, DCE; every value a fresh array.
- passes+buffers: the default; intermediates in preallocated arrays (``out=``), Parameter updates
  computed into their unreferenced previous arrays.

Run: ``PYTHONPATH=. python benchmarks/bench_jit_passes.py [--case mlp] [--batch 64] [--threads 1] [--budget 10]``
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402

from funcad.jit import jit  # noqa: E402
from harness.cases import get_case  # noqa: E402
from harness.timing import interleaved  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="mlp")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--budget", type=float, default=10.0)
    args = parser.parse_args()
    case = get_case(args.case)
    x, y = case.batches(1, seed=0, batch_size=args.batch)[0]
    variants = {"eager": None, "bare": {"passes": (), "buffers": False}, "passes": {"buffers": False}, "passes+buffers": {}}
    steps = {}
    for name, options in variants.items():
        engine = case.build("float32", seed=0).funcad
        xf, yf = engine.prepare(x, y)
        step = engine.train_step if options is None else jit(engine.train_step, **options)
        steps[name] = (lambda step=step, xf=xf, yf=yf: step(xf, yf))
        if options is not None:
            ops_left = len(step.lower(xf, yf).graph.nodes)
            print(f"{name}: {ops_left} nodes after passes")
    with threadpool_limits(args.threads):
        timings = interleaved(steps, budget_s=args.budget, warmup=3, max_rounds=200)
    print(f"\n{args.case} batch {args.batch}, {args.threads} BLAS thread(s): median ms (IQR)")
    base = timings["eager"]["median_s"]
    for name, t in timings.items():
        print(f"  {name:16s} {t['median_s'] * 1e3:8.3f} ({t['iqr_s'] * 1e3:.3f})  x{base / t['median_s']:.2f} vs eager")


if __name__ == "__main__":
    main()
