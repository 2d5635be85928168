"""Interleaved wall-clock timing of several engines in one process: medians and interquartile ranges.

Each round runs every engine once (in a rotating order) so drifts in machine load hit all of them alike; fast
calls are repeated inside a sample so that one sample lasts at least ``min_sample_s`` and timer resolution does not
dominate. The number of rounds is fitted to a time budget, within [min_rounds, max_rounds].
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np


def interleaved(callables: dict[str, Callable[[], object]], budget_s: float = 1.0, warmup: int = 2, min_rounds: int = 5,
                max_rounds: int = 30, min_sample_s: float = 2e-3) -> dict[str, dict]:
    """``{engine: {"median_s", "q1_s", "q3_s", "iqr_s", "rounds", "number"}}`` for each zero-argument callable."""
    number, per_round = {}, 0.0
    for name, fn in callables.items():
        for _ in range(warmup):
            fn()
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        number[name] = max(1, int(min_sample_s / once))
        per_round += once * number[name]
    rounds = int(min(max(budget_s / max(per_round, 1e-9), min_rounds), max_rounds))
    names = list(callables)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            fn, n = callables[name], number[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
    out = {}
    for name, s in samples.items():
        q1, med, q3 = (float(v) for v in np.percentile(s, [25, 50, 75]))
        out[name] = {"median_s": med, "q1_s": q1, "q3_s": q3, "iqr_s": q3 - q1, "rounds": rounds, "number": number[name]}
    return out


@contextmanager
def fixed_threads(n: int = 1) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads and ``n`` numpy BLAS threads, restoring both after.

    With more than one of each, torch's OpenMP workers and OpenBLAS's threads fight over the cores in one
    process (unless OMP_WAIT_POLICY=PASSIVE was set before torch was imported) and both slow down.
    """
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)
