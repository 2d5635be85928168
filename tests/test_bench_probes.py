"""The bench's fresh-process probes run as modules: peak memory (funcad's child never loads torch) and standalone timing."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from harness.bench import memory  # noqa: E402
from harness.bench.fresh import fresh_python  # noqa: E402


def test_funcad_memory_probe_trains_without_loading_torch():
    code = ("import runpy, sys; sys.argv = ['memory', 'funcad eager']; runpy.run_module('harness.bench.memory', run_name='__main__'); "
            "print('torch' in sys.modules)")
    peaks, torch_loaded = fresh_python(code, 1, library_defaults=False, what="memory probe").splitlines()
    before, after = (int(v) for v in peaks.split())
    assert torch_loaded == "False"
    weights_kib = (784 * 512 + 512 * 512 + 512 * 10) * 4 / 1024
    assert before > weights_kib and after > before  # training allocates activations and gradients beyond the setup


def test_peak_memory_reads_the_childs_figures_in_mib():
    before, after = memory.peak_memory("funcad jit", 1)
    assert 10 < before < after < 4096


def test_standalone_probe_prints_one_engines_timing(tmp_path):
    data = tmp_path / "batch.npz"
    np.savez(data, x=np.ones((1, 5), np.float32), y=np.zeros((1, 3), np.float32))
    out = fresh_python(["-m", "harness.bench.standalone", "tutorial", "funcad jit", "0.01", str(data)], 1, library_defaults=True,
                       what="standalone probe")
    timing = json.loads(out)
    assert timing["rounds"] >= 5 and 0 < timing["q1_s"] <= timing["median_s"] <= timing["q3_s"]
    with pytest.raises(RuntimeError, match="standalone probe failed.*invalid choice"):
        fresh_python(["-m", "harness.bench.standalone", "tutorial", "HIPS autograd", "0.01", str(data)], 1, library_defaults=True,
                     what="standalone probe")
