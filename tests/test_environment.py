"""harness.environment: one description of what timings depend on, for the run report and the bench."""

from __future__ import annotations

import os
import platform

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from harness.environment import environment  # noqa: E402


def test_environment_names_versions_threads_malloc_and_load(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "123")
    env = environment(threads=2)
    assert list(env) == ["machine", "versions", "torch device", "threads", "OMP_WAIT_POLICY", "malloc", "load average"]
    assert f"{os.cpu_count()} logical cores" in env["machine"] and platform.machine() in env["machine"]
    assert f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}" in env["versions"]
    assert "autograd " in env["versions"] and "jax " in env["versions"]
    assert env["threads"].startswith(f"torch {torch.get_num_threads()} intra-op threads") and env["threads"].endswith("; requested 2")
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and "MALLOC_TRIM_THRESHOLD_=123" in env["malloc"]
    assert len(env["load average"].split(", ")) == 3


def test_environment_reports_the_device_asked_for_and_no_requested_threads_by_default(monkeypatch):
    for name in [k for k in os.environ if k.startswith("MALLOC_")]:
        monkeypatch.delenv(name)
    env = environment("cpu")
    assert env["torch device"] == "cpu" and "requested" not in env["threads"] and env["malloc"] == "glibc defaults"
