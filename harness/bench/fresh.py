"""Fresh interpreters for the probes that must not share the benchmark's process (standalone timing, peak memory).

Imports nothing heavy: the memory probe of funcad runs in a process that must not load torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# glibc: serve blocks up to 32 MiB from the heap and keep up to 256 MiB of freed memory instead of trimming it
RETAIN_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "268435456"}
REPOSITORY = str(Path(__file__).resolve().parents[2])


def importable_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with this repository first on PYTHONPATH, so that a child imports this checkout's code."""
    return env | {"PYTHONPATH": os.pathsep.join([REPOSITORY, env.get("PYTHONPATH", "")])}


def fresh_python(command: str | list[str], threads: int, library_defaults: bool, what: str) -> str:
    """Standard output of a fresh interpreter running ``command`` (Python source, or the arguments after the interpreter,
    e.g. ``["-m", "harness.bench.standalone", ...]``) with ``threads`` threads for torch and BLAS.

    ``library_defaults`` drops the benchmark's own settings (OMP_WAIT_POLICY, glibc malloc thresholds) so each library runs
    as a user who imports it alone would run it; otherwise the child runs with OMP_WAIT_POLICY=PASSIVE and this process's malloc.
    """
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    if library_defaults:
        for name in ("OMP_WAIT_POLICY", *RETAIN_MALLOC):
            env.pop(name, None)
    else:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    arguments = ["-c", command] if isinstance(command, str) else command
    done = subprocess.run([sys.executable, *arguments], capture_output=True, text=True, env=importable_env(env), timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout
