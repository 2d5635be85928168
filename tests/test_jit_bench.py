"""funcad-compare bench: the BLAS floor replays the products a step makes; fresh processes get the intended environment;
a small run writes a whole report with its interleaved and standalone sections."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("torch")

from harness.bench import cli, engines, floor, fresh, standalone, tables, targets  # noqa: E402
from harness.bench.engines import CORE_ENGINES  # noqa: E402


def test_recorder_sees_layouts_and_floor_replays_them():
    a = np.ones((3, 4), np.float32)
    b = np.ones((5, 4), np.float32)
    with floor.MatmulRecorder() as recorder:
        np.matmul(a, b.T)
    assert isinstance(np.matmul, np.ufunc)  # restored on exit
    assert recorder.calls == [(((3, 4), np.dtype(np.float32), False), ((4, 5), np.dtype(np.float32), True))]
    operand = floor._operand(recorder.calls[0][1], np.random.default_rng(0))
    assert operand.shape == (4, 5) and operand.flags.f_contiguous and not operand.flags.c_contiguous
    floor.blas_floor(recorder.calls)()


def test_conv_floor_keeps_the_products_of_the_convolution_kernels_alone():
    from funcad import ops

    x, w = np.ones((2, 3, 6, 6), np.float32), np.ones((4, 3, 3, 3), np.float32)
    with floor.MatmulRecorder() as recorder:
        y = ops.conv2d(x, w, padding=1)
        np.matmul(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32))
    assert len(recorder.conv_calls) >= 1 and recorder.conv_calls == recorder.calls[:-1]
    assert recorder.calls[-1] == (((2, 3), np.dtype(np.float32), False), ((3, 2), np.dtype(np.float32), False))
    (a, _, _), (b, _, _) = recorder.conv_calls[0]
    assert a[-2:] == (4, 27) and b[-2] == 27  # kernels (O, C kh kw) times im2col columns
    np.testing.assert_array_equal(np.asarray(y)[0, 0, 1:-1, 1:-1], 27.0)


def test_the_conv_floor_gets_a_column_and_a_target_where_a_case_convolves():
    results = {("resnet-b16", 1): {"funcad jit": _timing(12.0), "torch eager": _timing(10.0), "BLAS floor": _timing(6.0),
                                   "conv floor": _timing(5.0)},
               ("mlp-b64", 1): {"funcad jit": _timing(2.0), "torch eager": _timing(3.0), "BLAS floor": _timing(1.0)}}
    header, rows, _ = tables.build_table(results)
    at = header.index("jit/conv floor")
    assert [r[at] for r in rows] == ["2.40", "-"]
    lines = targets.target_lines(results, None)
    assert "- jit / conv floor on resnet-b16: 2.40 (target <= 1.5) NOT met" in "\n".join(lines)
    assert "- jit / conv floor on lenet-b64: not measured" in lines
    assert "jit/conv floor" not in tables.build_table({("mlp-b64", 1): results[("mlp-b64", 1)]})[0]


def test_unknown_case_is_a_usage_error(capsys):
    assert cli.main(["--cases", "vgg"]) == 2
    assert "known: tutorial" in capsys.readouterr().err


def test_help_lists_the_layer_cases_and_their_smaller_budget(capsys):
    assert cli.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for label in ("resnet-b16", "conv1d-b32", "lstm-b16", "transformer-b16"):
        assert label in text
    assert "a quarter of it for resnet, conv1d, lstm, transformer" in text


def test_a_case_name_selects_its_layer_case():
    args = cli._parse(["--cases", "lstm", "transformer-b16"])
    assert [label for label, _, _ in args.cases] == ["lstm-b16", "transformer-b16"]
    assert engines.case_budget("lstm-b16", 12.0) == 3.0 and engines.case_budget("mlp-b64", 12.0) == 12.0


def test_layer_cases_are_judged_on_jit_and_eager_against_torch():
    results = {("lstm-b16", 1): {"funcad eager": _timing(16.0), "funcad jit": _timing(9.0), "torch eager": _timing(10.0)},
               ("resnet-b16", 1): {"funcad eager": _timing(14.0), "funcad jit": _timing(13.0), "torch eager": _timing(10.0)}}
    lines = targets.target_lines(results, None)
    assert next(t for t in lines if "jit / torch on lstm-b16" in t).startswith("- jit / torch on lstm-b16: 0.90 (target <= 1.0) met")
    assert next(t for t in lines if "eager / torch on lstm-b16" in t).startswith("- eager / torch on lstm-b16: 1.60 (target <= 1.5) NOT met")
    assert next(t for t in lines if "jit / torch on resnet-b16" in t).startswith("- jit / torch on resnet-b16: 1.30 (target <= 1.2) NOT met")
    assert next(t for t in lines if "eager / torch on resnet-b16" in t).startswith("- eager / torch on resnet-b16: 1.40 (target <= 1.5) met")
    assert "- jit / torch on transformer-b16: not measured" in lines


def test_negative_sample_length_is_a_usage_error(capsys):
    assert cli.main(["--sample-ms", "-1"]) == 2
    assert "--sample-ms must be 0 or more, got -1" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value", [("--budget", "-1"), ("--standalone-budget", "-0.5"), ("--budget", "nan")])
def test_negative_or_nan_budget_is_a_usage_error(flag, value, capsys):
    assert cli.main([f"{flag}={value}"]) == 2
    assert f"{flag} must be 0 or more, got {float(value):g}" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0", "two"])
def test_bad_thread_count_is_a_usage_error(bad, capsys):
    assert cli.main(["--threads", bad]) == 2
    assert "--threads" in capsys.readouterr().err


def test_thread_settings():
    assert cli.thread_settings("both", 2, crowded=False) == [1, 2]
    assert cli.thread_settings(None, 2, crowded=False) == [1, 2]
    assert cli.thread_settings(None, 2, crowded=True) == [1]
    assert cli.thread_settings(3, 2, crowded=False) == [3]
    assert cli.thread_settings("both", 1, crowded=False) == [1]


def _timing(ms: float) -> dict:
    return {"median_s": ms / 1e3, "q1_s": ms / 1e3, "q3_s": ms / 1e3, "iqr_s": 0.0, "rounds": 5, "number": 1}


def test_targets_take_each_engine_at_its_best_thread_setting():
    # torch faster at 1 thread (PASSIVE wake-ups), funcad jit faster at 2: the honest ratio is 2.0 / 3.9
    results = {("mlp-b64", 1): {"funcad jit": _timing(2.4), "torch eager": _timing(3.9)},
               ("mlp-b64", 2): {"funcad jit": _timing(2.0), "torch eager": _timing(4.4)}}
    line = next(t for t in targets.target_lines(results, None) if "jit / torch on mlp-b64" in t)
    assert f"{2.0 / 3.9:.2f}" in line and "funcad jit at 2 threads, torch eager at 1 thread" in line
    header, rows, records = tables.build_table(results)
    assert header[:2] == ["case", "threads"] and [r[:2] for r in rows] == [["mlp-b64", "1"], ["mlp-b64", "2"]]
    assert rows[1][header.index("jit/torch")] == f"{2.0 / 4.4:.2f}"  # the first table compares at equal threads
    _, best_rows = tables.best_table(results)
    assert best_rows == [["mlp-b64", "2.000 (2)", "3.900 (1)", f"{2.0 / 3.9:.2f}", "-", "-", "-"]]
    note = tables.thread_notes(results, [1, 2])[1]
    assert "mlp-b64 3.900 ms at 1 vs 4.400 ms at 2" in note


def test_fresh_python_drops_bench_settings_only_for_library_defaults(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    for name, value in fresh.RETAIN_MALLOC.items():
        monkeypatch.setenv(name, value)
    names = ["OMP_WAIT_POLICY", *fresh.RETAIN_MALLOC, "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"]
    code = f"import os; print([os.environ.get(n) for n in {names!r}])"
    assert fresh.fresh_python(code, 2, library_defaults=True, what="probe") == f"{[None, None, None, '2', '2']}\n"
    assert fresh.fresh_python(code, 1, library_defaults=False, what="probe") == f"{['PASSIVE', *fresh.RETAIN_MALLOC.values(), '1', '1']}\n"
    with pytest.raises(RuntimeError, match="standalone x failed.*boom"):
        fresh.fresh_python("raise SystemExit('boom')", 1, library_defaults=True, what="standalone x")


def test_standalone_table_and_targets_take_each_engine_at_its_standalone_best():
    interleaved = {("mlp-b64", 1): {"funcad jit": _timing(2.4), "torch eager": _timing(3.9), "BLAS floor": _timing(1.0)},
                   ("mlp-b64", 2): {"funcad jit": _timing(2.0), "torch eager": _timing(4.4), "BLAS floor": _timing(0.8)}}
    alone = {("mlp-b64", 1): {"funcad eager": _timing(9.0), "funcad jit": _timing(3.3), "torch eager": _timing(3.3)},
             ("mlp-b64", 2): {"funcad eager": _timing(7.0), "funcad jit": _timing(2.0), "torch eager": _timing(1.6)}}
    header, rows = tables.standalone_table(alone)
    assert header[1:7] == [f"{e} ms (IQR), {t} thr" for e in CORE_ENGINES for t in (1, 2)]
    assert rows == [["mlp-b64", "9.000 (0.000)", "**7.000 (0.000)**", "3.300 (0.000)", "**2.000 (0.000)**", "3.300 (0.000)",
                     "**1.600 (0.000)**", f"{2.0 / 1.6:.2f} (2 vs 2)", f"{7.0 / 1.6:.2f} (2 vs 2)"]]
    lines = targets.target_lines(interleaved, None, alone)
    mlp = next(t for t in lines if "jit / torch on mlp-b64" in t)
    assert mlp.startswith(f"- jit / torch on mlp-b64: {2.0 / 3.9:.2f} (target <= 0.7) met")  # still judged on the interleaved run
    assert mlp.endswith(f"; standalone {2.0 / 1.6:.2f} (funcad jit at 2, torch eager at 2)")
    floor = next(t for t in lines if "jit / BLAS floor" in t)
    assert "not measured" in floor  # mlp-b256 absent from both
    floor_only = targets.target_lines({("mlp-b256", 1): {"funcad jit": _timing(2.0), "BLAS floor": _timing(1.0)}}, None,
                                    {("mlp-b256", 1): {"funcad jit": _timing(2.0)}})
    assert next(t for t in floor_only if "BLAS floor" in t).endswith("; standalone not measured (BLAS floor runs in-process only)")


def test_a_target_measured_with_a_wide_spread_says_it_is_noisy():
    def timing(ms, iqr_ms):
        return _timing(ms) | {"iqr_s": iqr_ms / 1e3}

    quiet = {("mlp-b256", 2): {"funcad jit": timing(5.6, 0.4), "BLAS floor": timing(5.1, 0.3)}}
    noisy = {("mlp-b256", 2): {"funcad jit": timing(6.4, 2.4), "BLAS floor": timing(5.5, 0.3)}}
    quiet_line = next(t for t in targets.target_lines(quiet, None) if "BLAS floor" in t)
    noisy_line = next(t for t in targets.target_lines(noisy, None) if "BLAS floor" in t)
    assert "met" in quiet_line and "noisy" not in quiet_line
    assert f"{6.4 / 5.5:.2f} (target <= 1.15) NOT met" in noisy_line
    assert noisy_line.endswith(f"; noisy: an interquartile range of {2.4 / 6.4:.0%} of the median (the machine's speed changed "
                               "while measuring), so a rerun may land on the other side of the target")


def test_small_run_writes_table_csv_and_plot(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # with --malloc default: nothing to re-execute for, so it runs in this process
    for name in fresh.RETAIN_MALLOC:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(standalone, "STANDALONE_ENGINES", ("funcad jit", "torch eager"))  # a fresh process costs seconds: two suffice
    assert cli.main(["--cases", "tutorial", "--budget", "0.2", "--standalone-budget", "0.05", "--threads", "1", "--no-memory",
                       "--malloc", "default", "--sample-ms", "5", "--out", str(tmp_path)]) == 0
    (folder,) = tmp_path.glob("bench-*")
    text = (folder / "bench.md").read_text()
    assert "| tutorial | 1 |" in text and "jit / torch on tutorial" in text and "OMP_WAIT_POLICY=PASSIVE" in text
    assert "--threads both" in text  # one setting measured: the report says how to see torch's best
    assert "## Standalone" in text and "| tutorial | **" in text
    assert next(t for t in text.splitlines() if "jit / torch on tutorial" in t).split("; standalone ")[1][0].isdigit()
    rows = list(csv.DictReader((folder / "bench.csv").open()))
    assert {r["threads"] for r in rows} == {"1"}
    engines = {m: {r["engine"] for r in rows if r["measurement"] == m} for m in ("interleaved", "standalone")}
    assert {"funcad eager", "funcad jit", "torch eager", "BLAS floor"} <= engines["interleaved"]
    assert engines["standalone"] == {"funcad jit", "torch eager"} and len(rows) == len(engines["interleaved"]) + 2
    assert all(float(r["median_ms"]) > 0 for r in rows)
    # a tutorial step takes well under a millisecond: a 5 ms sample runs several in a row
    assert all(int(r["calls_per_sample"]) > 1 for r in rows if r["measurement"] == "interleaved")
    assert "for at least 5 ms" in text
    assert (folder / "bench.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "| tutorial |" in out and "standalone tutorial @ 1 thread:" in out


def test_standalone_times_a_peer_only_on_the_cases_it_has_a_port_of(monkeypatch):
    class LeNetOnlyPort:
        @staticmethod
        def loss_function(case_name):
            return (lambda ps, x, y: 0.0) if case_name == "lenet" else None

    asked = []

    def fake_python(args, threads, library_defaults, what):
        asked.append((args[2], args[3]))
        return '{"median_s": 0.001, "q1_s": 0.001, "q3_s": 0.001, "iqr_s": 0.0, "rounds": 5, "number": 1}'

    monkeypatch.setitem(standalone.PEERS, "JAX jit", LeNetOnlyPort)
    monkeypatch.setattr(standalone, "STANDALONE_ENGINES", CORE_ENGINES + ("JAX jit",))
    monkeypatch.setattr(standalone, "fresh_python", fake_python)
    results = standalone.time_alone([("lstm-b16", "lstm", 16), ("lenet-b64", "lenet", 64)], [1], 0.5)
    assert list(results[("lstm-b16", 1)]) == list(CORE_ENGINES)
    assert list(results[("lenet-b64", 1)]) == list(CORE_ENGINES) + ["JAX jit"]
    assert ("lstm", "JAX jit") not in asked and ("lenet", "JAX jit") in asked
