"""Intra-op parallelism: a kernel splits its batch into blocks of samples and runs them on the cores numpy's BLAS may use.

A convolution's blocks of samples are independent (each writes its own rows of the output, or its own per-sample
partial sums), and numpy releases the GIL in the copies and matrix products a block is made of, so two cores run two
blocks at once. OpenBLAS cannot do this for such kernels: their products are per sample and too small for it to split.

The thread count is numpy's BLAS setting (``threadpoolctl.threadpool_limits``, ``OPENBLAS_NUM_THREADS``): one knob for
both, and a limit of 1 runs every block on the calling thread. While blocks run in parallel, BLAS is held at one thread
per call so the threads do not compete for the cores. Results never depend on the thread count: blocks write disjoint
outputs, and every sum over the batch is taken afterwards, in batch order.

A compiled program also hands whole ops it needs only later (a convolution's weight gradient, read by the optimizer at
the end of the step) to another core while it goes on with the backward pass (``Aside``): the same kernels, on one
thread each, so the values are those of a single thread too.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_lock = threading.Lock()
_on_pool = threading.local()  # .thread is True on the pool's threads: a kernel there runs its blocks itself
_pool: ThreadPoolExecutor | None = None
_inside = 0  # parallel regions running now (BLAS is held at one thread while any is)
_saved_blas_threads = 1


@functools.cache
def _numpy_blas():
    """threadpoolctl's controller of the BLAS numpy calls (the one loaded from numpy's directories), or None."""
    from threadpoolctl import ThreadpoolController

    blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    numpy_prefix = os.path.dirname(os.path.realpath(np.__file__))  # numpy/ and the wheel's numpy.libs/ beside it
    own = [lib for lib in blas if os.path.realpath(lib.filepath).startswith(numpy_prefix)]
    return (own or blas or [None])[0]


def threads() -> int:
    """How many threads a kernel may run its blocks on: numpy's BLAS thread count now, at most the usable cores."""
    blas = _numpy_blas()
    if blas is None:
        return 1
    return max(1, min(int(blas.get_num_threads()), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


# Least arithmetic (floating-point operations of a kernel's matrix products) for which a kernel wakes other threads:
# waking one costs about 0.1 ms on a virtual machine (Xeon, 2 vCPUs, KVM), and two blocks running at once there are
# each up to 1.4x slower than alone, so below this the blocks run faster on the calling thread. Measured there: a
# residual CNN's train step at batch 16 (convolutions of 85 MFLOP and less) takes 10.8 ms on one thread and 13 ms with
# every convolution on two; at batch 64, 44 ms and 39 ms.
PARALLEL_MIN_FLOPS = 6 * 10**7


def workers_for(flops: int) -> int:
    """Threads for a kernel whose products take ``flops``: ``threads()``, or 1 below PARALLEL_MIN_FLOPS."""
    return threads() if flops >= PARALLEL_MIN_FLOPS else 1


def blocks(n: int, sample_bytes: int, block_bytes: int, workers: int) -> list[slice]:
    """Consecutive slices of a batch of ``n``: blocks of about ``block_bytes`` (so a block's temporaries stay in cache),
    at least one per worker and a multiple of the workers in number, as even in size as the batch allows."""
    count = -(-n // max(1, block_bytes // max(sample_bytes, 1)))
    count = min(n, -(-max(count, workers) // workers) * workers) if workers > 1 else count
    bounds = np.linspace(0, n, count + 1).round().astype(int) if count else [0]
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def run(task: Callable[[slice, int], None], parts: Sequence[slice], workers: int) -> None:
    """``task(part, slot)`` for every part: slot ``k`` takes parts k, k + workers, ... in order on its own thread (slot 0
    on the caller's), so a kernel gives each slot its own scratch buffers. Returns when all are done; raises the first
    error."""
    workers = min(workers, len(parts))
    if workers <= 1 or getattr(_on_pool, "thread", False):  # a pool thread waiting on the pool could wait on itself
        for part in parts:
            task(part, 0)
        return

    def slot(k: int) -> None:
        for part in parts[k::workers]:
            task(part, k)

    pool = _enter(workers)
    try:
        others = [pool.submit(slot, k) for k in range(1, workers)]
        try:
            slot(0)
        finally:
            errors = [f.exception() for f in others]  # waits for every slot, so no block outlives the kernel's buffers
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
    finally:
        _leave()


def _mark_pool_thread() -> None:
    _on_pool.thread = True


def _enter(workers: int) -> ThreadPoolExecutor:
    global _pool, _inside, _saved_blas_threads
    with _lock:
        if _pool is None or _pool._max_workers < workers - 1:
            _pool = ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="funcad-block", initializer=_mark_pool_thread)
        if _inside == 0:
            blas = _numpy_blas()
            _saved_blas_threads = blas.get_num_threads()
            blas.set_num_threads(1)
        _inside += 1
        return _pool


def _leave() -> None:
    global _inside
    with _lock:
        _inside -= 1
        if _inside == 0:
            _numpy_blas().set_num_threads(_saved_blas_threads)


class _Done:
    """A task run on the calling thread: its value, with a Future's ``result()``."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class Aside:
    """Tasks a compiled program runs on another core while it goes on, for one call of the program.

    The first ``submit`` decides: with one thread (``threads()``) every task runs at once on the calling thread; with
    more, the tasks queue on a pool thread and the call is a parallel region (BLAS and the kernels' blocks on one
    thread each, so the two threads do not compete for the cores) until ``close``. ``close`` waits for every task,
    so none outlives the arrays it reads, whatever happened to the call meanwhile.
    """

    __slots__ = ("_pool", "_futures")

    @staticmethod
    def worth(node) -> bool:
        """Whether a compiled node of the op is large enough to run aside (a subclass knows its op's arithmetic)."""
        return True

    def __init__(self):
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list = []

    def submit(self, fn: Callable, *args, **kwargs):
        """``fn(*args, **kwargs)``, now or on the pool thread; the returned object's ``result()`` is its value."""
        if self._pool is None:
            if threads() < 2:
                return _Done(fn(*args, **kwargs))
            self._pool = _enter(2)
        future = self._pool.submit(fn, *args, **kwargs)
        self._futures.append(future)
        return future

    def close(self) -> None:
        if self._pool is None:
            return
        try:
            for future in self._futures:
                future.exception()  # waits; a task's error was raised by its result() if the program got that far
        finally:
            self._pool = None
            _leave()
