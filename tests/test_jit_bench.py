"""funcad-compare bench: the BLAS floor replays the products a step makes; a small run writes a whole report."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("torch")

from harness import bench  # noqa: E402


def test_recorder_sees_layouts_and_floor_replays_them():
    a = np.ones((3, 4), np.float32)
    b = np.ones((5, 4), np.float32)
    with bench.MatmulRecorder() as recorder:
        np.matmul(a, b.T)
    assert isinstance(np.matmul, np.ufunc)  # restored on exit
    assert recorder.calls == [(((3, 4), np.dtype(np.float32), False), ((4, 5), np.dtype(np.float32), True))]
    operand = bench._operand(recorder.calls[0][1], np.random.default_rng(0))
    assert operand.shape == (4, 5) and operand.flags.f_contiguous and not operand.flags.c_contiguous
    bench.blas_floor(recorder.calls)()


def test_unknown_case_is_a_usage_error(capsys):
    assert bench.main(["--cases", "resnet"]) == 2
    assert "known: tutorial" in capsys.readouterr().err


def test_small_run_writes_table_csv_and_plot(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # with --malloc default: nothing to re-execute for, so it runs in this process
    for name in bench.RETAIN_MALLOC:
        monkeypatch.delenv(name, raising=False)
    assert bench.main(["--cases", "tutorial", "--budget", "0.2", "--threads", "1", "--no-memory", "--malloc", "default",
                       "--out", str(tmp_path)]) == 0
    (folder,) = tmp_path.glob("bench-*")
    text = (folder / "bench.md").read_text()
    assert "| tutorial |" in text and "jit / torch on tutorial" in text and "threads" in text
    rows = list(csv.DictReader((folder / "bench.csv").open()))
    engines = {r["engine"] for r in rows}
    assert {"funcad eager", "funcad jit", "torch eager", "BLAS floor"} <= engines
    assert all(float(r["median_ms"]) > 0 for r in rows)
    assert (folder / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert "| tutorial |" in capsys.readouterr().out
