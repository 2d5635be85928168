"""Interleaved wall-clock timing of several engines in one process: medians and interquartile ranges.

Each round runs every engine once (in a rotating order) under each setting compared (thread counts), so drifts in
machine load hit all engines and settings alike; fast calls are repeated inside a sample so that one sample lasts at
least ``min_sample_s`` and timer resolution does not dominate. The number of rounds is fitted to a time budget,
within [min_rounds, max_rounds].
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

#: A time, or a ratio of times, is noisy when an interquartile range exceeds this share of its median (steady runs
#: here: 5-15%): the machine's speed changed while measuring, so a rerun may land elsewhere.
NOISY_SPREAD = 0.2


def spread(*timings) -> float:
    """The largest interquartile range relative to its median among ``timings`` (mappings with ``iqr_s`` and
    ``median_s``): the spread of a ratio of two timings. Above ``NOISY_SPREAD`` it is noisy."""
    return max(float(t["iqr_s"]) / float(t["median_s"]) for t in timings)


def interleaved(callables: dict[str, Callable[[], object]], budget_s: float = 1.0, warmup: int = 2, min_rounds: int = 5,
                max_rounds: int = 30, min_sample_s: float = 2e-3) -> dict[str, dict]:
    """``{engine: {"median_s", "q1_s", "q3_s", "iqr_s", "rounds", "number"}}`` for each zero-argument callable."""
    return interleaved_settings(callables, [None], lambda _: None, budget_s, warmup, min_rounds, max_rounds, min_sample_s)[None]


def interleaved_settings(callables: dict[str, Callable[[], object]], settings: Sequence[Hashable],
                         use_setting: Callable[[Hashable], object], budget_s: float = 1.0, warmup: int = 2,
                         min_rounds: int = 5, max_rounds: int = 30, min_sample_s: float = 2e-3) -> dict[Hashable, dict[str, dict]]:
    """``{setting: {engine: timing}}``: every round samples every engine under every setting (``use_setting(s)`` is
    called before the samples of setting ``s``), so a slow stretch of the machine hits all settings alike instead of
    whichever one was being timed when it came; ``budget_s`` covers all settings together."""
    number, per_round = {}, 0.0
    for setting in settings:
        use_setting(setting)
        for name, fn in callables.items():
            for _ in range(warmup):
                fn()
            start = time.perf_counter()
            fn()
            once = max(time.perf_counter() - start, 1e-7)
            number[setting, name] = max(1, int(min_sample_s / once))
            per_round += once * number[setting, name]
    rounds = int(min(max(budget_s / max(per_round, 1e-9), min_rounds), max_rounds))
    names, order = list(callables), list(settings)
    samples: dict[tuple, list[float]] = {key: [] for key in number}
    for r in range(rounds):
        first, shift = r % len(order), r % len(names)
        for setting in order[first:] + order[:first]:
            use_setting(setting)
            for name in names[shift:] + names[:shift]:
                fn, n = callables[name], number[setting, name]
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[setting, name].append((time.perf_counter() - start) / n)
    out: dict[Hashable, dict[str, dict]] = {setting: {} for setting in settings}
    for (setting, name), s in samples.items():
        q1, med, q3 = (float(v) for v in np.percentile(s, [25, 50, 75]))
        out[setting][name] = {"median_s": med, "q1_s": q1, "q3_s": q3, "iqr_s": q3 - q1, "rounds": rounds,
                              "number": number[setting, name]}
    return out


@contextmanager
def thread_switch() -> Iterator[Callable[[int], None]]:
    """Yield ``use(n)``, which sets ``n`` torch intra-op threads and ``n`` threads in every thread pool loaded so far
    (numpy's BLAS, OpenMP); both are restored on exit. Switching costs about 0.1 ms, so settings can alternate
    between timed samples."""
    import torch
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    original = controller.limit(limits=None)  # remembers every pool's current count
    before = torch.get_num_threads()

    def use(n: int) -> None:
        torch.set_num_threads(n)
        controller.limit(limits=n)

    try:
        yield use
    finally:
        original.restore_original_limits()
        torch.set_num_threads(before)


@contextmanager
def fixed_threads(n: int = 1) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads and ``n`` numpy BLAS threads, restoring both after.

    With more than one of each, torch's OpenMP workers and OpenBLAS's threads fight over the cores in one
    process (unless OMP_WAIT_POLICY=PASSIVE was set before torch was imported) and both slow down.
    """
    with thread_switch() as use:
        use(n)
        yield
