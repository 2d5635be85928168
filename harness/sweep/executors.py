"""Where a sweep's points run: in this process, on a local process pool, or on a Dask cluster.

Every executor has ``map_unordered(fn, items)``, yielding ``(item, result)`` as results arrive; ``result`` is
``fn(item)``, or a ``Failure`` when no answer came back (the worker process died, the call could not be sent).
No item is ever dropped: a worker that dies mid-point has its point retried, and a point that keeps killing its
worker comes back as a Failure.

- ``SerialExecutor``: one point after another in this process (measurements, debugging).
- ``LocalExecutor``: a pool of worker processes on this machine. When a worker dies the pool breaks; the points
  that were in flight are then rerun one at a time, so the one that kills its worker is found and retried alone
  (``MAX_DEATHS`` times) while the others simply finish.
- ``DaskExecutor``: a ``dask.distributed`` cluster, an existing one (``scheduler``) or a ``LocalCluster`` started
  for the sweep. Dask's scheduler reruns a task whose worker died, up to its ``allowed-failures`` setting (3 by
  default), then reports ``KilledWorker``. With ``one_per_host`` (timed sweeps) a point holds a cluster-wide lock
  named after its machine, so timed points never share a machine.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context

#: How often a point may kill its local worker process before it is given up as a Failure.
MAX_DEATHS = 2
DASK_INSTALL_HINT = 'pip install -e ".[sweep]"'
#: Settings of the LocalCluster a sweep starts: no statistical profiler and slower housekeeping ticks. A Dask worker
#: runs its task in a thread beside its event loop, and on a busy machine each wake-up of that loop costs the task a
#: handover of the GIL; a sweep needs none of the dashboard's fine-grained numbers.
QUIET_WORKERS = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
                 "distributed.admin.system-monitor.interval": "1s", "distributed.worker.memory.monitor-interval": "1s"}


@dataclass(frozen=True)
class Failure:
    """An item that got no answer from its worker, and why."""

    message: str


class SerialExecutor:
    """Run each item in this process, in order."""

    name, workers = "serial", 1

    def describe(self) -> str:
        return "serial (one point after another in the driving process)"

    def map_unordered(self, fn: Callable, items: Sequence) -> Iterator[tuple[object, object]]:
        for item in items:
            yield item, fn(item)

    def close(self) -> None:
        pass


def _exit_with_parent(parent: int) -> None:
    """In a pool worker: exit when the process that started the pool is gone (killed with SIGKILL, say)."""

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


class LocalExecutor:
    """A pool of ``workers`` processes on this machine (spawned: no thread state of this process is inherited)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def describe(self) -> str:
        return f"local process pool, {self.workers} worker{'s' if self.workers > 1 else ''}"

    def _fresh_pool(self) -> ProcessPoolExecutor:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"), initializer=_exit_with_parent,
                                         initargs=(os.getpid(),))
        return self._pool

    def map_unordered(self, fn: Callable, items: Sequence) -> Iterator[tuple[object, object]]:
        """Items are hashable (a point that kills its worker is counted by item)."""
        queue, suspects, deaths = deque(items), deque(), {}
        pool = self._pool or self._fresh_pool()
        running: dict = {}
        while queue or suspects or running:
            if suspects and not running:  # after a death, each point that was in flight runs alone
                item = suspects.popleft()
                try:
                    yield item, _answer(pool.submit(fn, item))
                except BrokenProcessPool:
                    pool = self._fresh_pool()
                    deaths[item] = deaths.get(item, 0) + 1
                    if deaths[item] >= MAX_DEATHS:
                        yield item, Failure(f"its worker process died each of the {deaths[item]} times it ran alone "
                                            "(killed, or out of memory); given up")
                    else:
                        suspects.appendleft(item)
                continue
            while queue and not suspects and len(running) < self.workers:
                item = queue.popleft()
                running[pool.submit(fn, item)] = item
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                item = running.pop(future)
                try:
                    yield item, _answer(future)
                except BrokenProcessPool:
                    broken = True
                    suspects.append(item)
            if broken:
                suspects.extend(running.values())
                running.clear()
                pool = self._fresh_pool()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _answer(future) -> object:
    """The future's value, or a Failure for an error other than a broken pool (which the caller handles)."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise
    except Exception as exc:
        return Failure(f"{type(exc).__name__}: {exc}")


class DaskUnavailable(ImportError):
    """``--executor dask`` without dask installed."""


def require_dask() -> None:
    """Raise DaskUnavailable, saying how to install it, unless dask.distributed can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise DaskUnavailable(f"--executor dask needs dask.distributed, which is not installed ({exc}); "
                              f"install it with: {DASK_INSTALL_HINT}") from None


def _one_per_host(fn: Callable, item):
    """Run ``fn(item)`` holding the cluster-wide lock of this machine, so no other timed point runs beside it."""
    from distributed import Lock

    with Lock(f"funcad-sweep-timing-{socket.gethostname()}"):
        return fn(item)


class DaskExecutor:
    """Points as tasks on a Dask cluster: ``scheduler`` (``tcp://HOST:PORT``), or a LocalCluster of ``workers`` processes."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None, one_per_host: bool = False):
        require_dask()
        from distributed import Client, LocalCluster

        self.one_per_host, self._cluster = one_per_host, None
        if scheduler is None:
            import dask

            with dask.config.set(QUIET_WORKERS):
                self._cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                             dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self._cluster)
            self.where = "a LocalCluster started for the sweep"
        else:
            self.client = Client(scheduler, timeout="10s")
            self.where = f"the cluster at {scheduler}"
        self.workers = max(len(self.client.nthreads()), 1)

    def describe(self) -> str:
        return f"dask, {self.where}, {self.workers} worker{'s' if self.workers > 1 else ''}"

    def map_unordered(self, fn: Callable, items: Sequence) -> Iterator[tuple[object, object]]:
        from distributed import as_completed

        task = partial(_one_per_host, fn) if self.one_per_host else fn
        futures = {self.client.submit(task, item, pure=False): item for item in items}
        for future in as_completed(futures):
            item = futures.pop(future)
            try:
                yield item, future.result()
            except Exception as exc:
                why = ("its worker died each time it ran it (KilledWorker: killed, or out of memory)"
                       if type(exc).__name__ == "KilledWorker" else f"{type(exc).__name__}: {exc}")
                yield item, Failure(why)
            future.release()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
