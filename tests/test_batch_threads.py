"""batch_threads: blocks cover the batch in order, every part runs once on its slot, errors and BLAS settings come back."""

import os
import threading

import pytest
from threadpoolctl import threadpool_limits

from funcad.ops import batch_threads


@pytest.mark.parametrize("n, sample_bytes, block_bytes, workers", [(16, 100, 400, 1), (16, 100, 400, 2), (5, 100, 10**6, 2),
                                                                    (3, 100, 100, 4), (1, 10, 10, 2), (0, 10, 10, 2), (31, 7, 50, 3)])
def test_blocks_cover_the_batch_in_order(n, sample_bytes, block_bytes, workers):
    parts = batch_threads.blocks(n, sample_bytes, block_bytes, workers)
    assert [i for p in parts for i in range(p.start, p.stop)] == list(range(n))
    assert all(p.stop > p.start for p in parts)
    per_block = max(1, block_bytes // sample_bytes)
    assert len(parts) >= min(n, -(-n // per_block))  # no block much larger than block_bytes allows
    if workers > 1 and n >= workers:
        assert len(parts) % workers == 0 or len(parts) == n


def test_run_gives_each_slot_its_parts_in_order_on_one_thread_slot_0_the_callers():
    parts = [slice(i, i + 1) for i in range(7)]
    seen = []
    batch_threads.run(lambda part, slot: seen.append((part.start, slot, threading.get_ident())), parts, 3)
    assert sorted(s[0] for s in seen) == list(range(7))
    for slot in range(3):
        mine = [s for s in seen if s[1] == slot]
        assert [s[0] for s in mine] == list(range(7))[slot::3]
        assert len({s[2] for s in mine}) == 1
    assert {s[2] for s in seen if s[1] == 0} == {threading.get_ident()}


@pytest.mark.parametrize("failing_slot", [0, 1])
def test_an_error_in_any_slot_is_raised_after_every_slot_finished_and_blas_threads_come_back(failing_slot):
    finished = []

    def task(part, slot):
        if slot == failing_slot:
            raise ValueError(f"block {part.start}")
        finished.append(part.start)

    with threadpool_limits(2):
        before = batch_threads._numpy_blas().get_num_threads()
        with pytest.raises(ValueError, match="block"):
            batch_threads.run(task, [slice(i, i + 1) for i in range(4)], 2)
        assert batch_threads._numpy_blas().get_num_threads() == before
    assert sorted(finished) == ([1, 3] if failing_slot == 0 else [0, 2])


def test_blas_runs_one_thread_per_call_inside_a_parallel_region_and_threads_follow_the_blas_limit():
    inside = []
    with threadpool_limits(2):
        assert batch_threads.threads() == min(2, os.cpu_count())
        batch_threads.run(lambda part, slot: inside.append(batch_threads._numpy_blas().get_num_threads()), [slice(0, 1), slice(1, 2)], 2)
    assert inside == [1, 1]
    with threadpool_limits(1):
        assert batch_threads.threads() == 1
        assert batch_threads.workers_for(10**12) == 1


def test_a_kernel_run_aside_on_the_pool_runs_its_blocks_itself(monkeypatch):
    """A task on the pool's thread waiting for blocks queued behind itself would wait forever: it runs them itself."""
    monkeypatch.setattr(batch_threads, "threads", lambda: 2)
    seen = []

    def kernel():
        batch_threads.run(lambda part, slot: seen.append((part.start, slot, threading.get_ident())), [slice(i, i + 1) for i in range(4)], 2)
        return threading.get_ident()

    with threadpool_limits(2):
        aside = batch_threads.Aside()
        try:
            task = aside.submit(kernel)
            pool_thread = task.result(timeout=30)
        finally:
            aside.close()
    assert pool_thread != threading.get_ident()
    assert [s[:2] for s in seen] == [(0, 0), (1, 0), (2, 0), (3, 0)] and {s[2] for s in seen} == {pool_thread}
    assert batch_threads._inside == 0
