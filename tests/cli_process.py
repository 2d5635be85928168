"""Run ``funcad-compare`` in a real Python process (this checkout on PYTHONPATH), optionally after a few lines of
Python that slow or break one part of the harness, so exit codes and signals are seen as a shell sees them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--steps", "2", "--no-timing", "--dtype", "float32"]
#: Makes writing a report hang, after touching the file ``writing`` (so a test knows the report is being written).
SLOW_WRITE = ("import pathlib, time\nimport harness.plots as plots\n"
              "def slow(*args, **kwargs):\n    pathlib.Path('writing').touch()\n    time.sleep(120)\n"
              "plots.gradient_errors = slow\n")


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def command(args: list[str], prelude: str = "") -> list[str]:
    code = f"{prelude}\nimport sys\nfrom harness.cli import main\nsys.exit(main({args!r}))\n"
    return [sys.executable, "-c", code]


def run(args: list[str], cwd: Path, prelude: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command(args, prelude), cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)


def start(args: list[str], cwd: Path, prelude: str = "") -> subprocess.Popen:
    return subprocess.Popen(command(args, prelude), cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
