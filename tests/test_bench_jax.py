"""JAX as a bench peer: its ratio columns and target, its note on threads, its train step in process and in a fresh one."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")

from harness.bench import standalone, tables, targets  # noqa: E402
from harness.bench.engines import train_steps  # noqa: E402
from harness.bench.fresh import fresh_python  # noqa: E402
from harness.cases import get_case  # noqa: E402


def _timing(ms: float) -> dict:
    return {"median_s": ms / 1e3, "q1_s": ms / 1e3, "q3_s": ms / 1e3, "iqr_s": 0.0, "rounds": 5, "number": 1}


RESULTS = {("mlp-b64", 1): {"funcad jit": _timing(2.4), "torch eager": _timing(3.9), "JAX jit": _timing(3.0)},
           ("mlp-b64", 2): {"funcad jit": _timing(2.0), "torch eager": _timing(4.4), "JAX jit": _timing(2.5)}}


def test_tables_give_funcad_jit_over_jax_where_jax_was_measured():
    header, rows, _ = tables.build_table(RESULTS)
    assert header[-1] == "jit/JAX" and [r[-1] for r in rows] == [f"{2.4 / 3.0:.2f}", f"{2.0 / 2.5:.2f}"]
    best_header, best_rows = tables.best_table(RESULTS)
    assert best_header[-1] == "jit/JAX" and best_rows[0][-1] == f"{2.0 / 2.5:.2f}"
    alone_header, alone_rows = tables.standalone_table(RESULTS)
    assert alone_header[-1] == "jit/JAX at bests (threads)" and alone_rows[0][-1] == f"{2.0 / 2.5:.2f} (2 vs 2)"
    without = {key: {e: t for e, t in timings.items() if e != "JAX jit"} for key, timings in RESULTS.items()}
    assert "jit/JAX" not in tables.build_table(without)[0] and "jit/JAX" not in tables.best_table(without)[0]


def test_target_and_thread_note_for_jax():
    line = next(t for t in targets.target_lines(RESULTS, None) if "jit / JAX jit on mlp-b64" in t)
    assert line.startswith(f"- jit / JAX jit on mlp-b64: {2.0 / 2.5:.2f} (target <= 1.0) met (funcad jit at 2 threads, JAX jit at 2 threads)")
    assert any("XLA's own CPU thread pool" in n for n in tables.thread_notes(RESULTS, [1, 2]))
    assert not any("XLA" in n for n in tables.thread_notes({("mlp-b64", 1): {"torch eager": _timing(1.0)}}, [1]))


def test_jax_train_step_starts_from_the_cases_weights_and_learns():
    x, y = get_case("mlp").batches(1, seed=0, batch_size=16)[0]
    steps = train_steps("mlp", 16, ["JAX jit", "torch eager"], (x, y))
    losses = [float(steps["JAX jit"]()) for _ in range(3)]
    np.testing.assert_allclose(losses[0], float(steps["torch eager"]()), rtol=1e-5)  # float32, same initial weights
    assert losses[2] < losses[0]


def test_standalone_probe_times_jax_in_a_fresh_process(tmp_path):
    assert "JAX jit" in standalone.STANDALONE_ENGINES
    data = tmp_path / "batch.npz"
    np.savez(data, x=np.ones((1, 5), np.float32), y=np.zeros((1, 3), np.float32))
    timing = json.loads(fresh_python(["-m", "harness.bench.standalone", "tutorial", "JAX jit", "0.01", str(data)], 1,
                                     library_defaults=True, what="standalone JAX"))
    assert timing["rounds"] >= 5 and timing["median_s"] > 0
