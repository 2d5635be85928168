"""``funcad-compare bench``: train-step speed of funcad (eager and jit) against PyTorch eager and peers.

For each case (tutorial, mlp at batch 64 and 256, lenet at batch 64, mlp_bn; resnet, conv1d, lstm and transformer with
a quarter of the time budget each) the engines take turns in one
process, round by round (``harness.timing``), and the medians and interquartile ranges of the per-step
times are reported with the ratios the targets are stated in.

- A sample is a run of consecutive steps of one engine lasting at least ``--sample-ms`` (default 20 ms),
  as a training loop runs them: each step finds its weights and its interpreter state where the previous
  step left them. A single step right after the other engines' steps (``--sample-ms 0``) measures every
  engine with its caches evicted by the others' weights instead: slower for all, and more so for
  whichever engine touches more memory or code per step.

- Engines: funcad eager, funcad jit, PyTorch eager; HIPS autograd (numpy, functional) when installed
  and the case has a port; JAX (jit) when installed; torch.compile with ``--torch-compile`` (its
  compilation takes tens of seconds per case on a small machine). A missing peer is noted, not fatal.
- BLAS floor: the matrix products one jitted step performs (recorded from ``numpy.matmul`` calls,
  so the im2col products inside the convolutions count too), replayed alone on arrays of the same
  shapes and memory layouts into preallocated outputs. No engine on this machine beats it. The conv floor
  (cases that convolve): those of the products the convolution kernels make, alone.
- Standalone: the interleaved process is a compromise no single-engine user lives with (PASSIVE wait for torch,
  retained malloc, two libraries sharing the cores), so each case is also timed per engine and per thread setting
  in a fresh process with the libraries' own default environment, and the ratios are given at each engine's
  standalone best. The targets are judged on the interleaved measurement; the standalone ratio stands beside each.
- Memory: peak resident set size of 100 steps of mlp batch 256, funcad eager, funcad jit and torch
  eager, each in a fresh process that imports only what that engine needs.
- Threads are fixed for torch and numpy's BLAS alike, and recorded. ``--threads both`` (the default on a
  machine with several cores) measures every case at 1 thread and at all cores, and the targets compare
  each engine at its best setting; ``--threads N`` measures N only. The settings alternate round by round
  as the engines do, so a slow stretch of the machine cannot fall on one setting alone and decide which
  is an engine's best. When the load average already reaches the core count the default is 1 (a
  descheduled BLAS thread stalls every product).
  torch's OpenMP workers spin after each op and slow the BLAS numpy uses in the same process, so
  the benchmark runs with ``OMP_WAIT_POLICY=PASSIVE`` (re-executing itself if torch was loaded
  without it). The price: every multi-threaded torch op wakes sleeping workers, so small steps run
  slower on torch at 2 threads than at 1; hence both settings, and the report explains it.
- glibc's malloc returns large freed blocks to the system and maps fresh ones, so every step that
  allocates big temporaries (im2col columns in convolutions) pays page faults again. By default the
  benchmark process runs with ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` raised (freed memory
  is kept for reuse, as long-running training processes usually want); it applies to every engine in
  the process and is recorded. ``--malloc default`` measures with glibc's defaults.

Writes ``reports/bench-<timestamp>/`` (bench.md, bench.csv, bench.png) whole or not at all, and
prints the table.

Modules, one job each: ``engines`` (the cases and each engine's train step), ``floor`` (the BLAS floor),
``losses``, ``autograd_port`` and ``jax_port`` (the cases written for the peers HIPS autograd and JAX, with jit),
``standalone`` and ``memory`` (fresh-process probes, run as ``python -m harness.bench.standalone`` and
``python -m harness.bench.memory``, started through ``fresh``), ``records`` (what a run measured), ``tables``,
``targets``, ``plot`` and ``report`` (what it writes), ``cli`` (flags and the order of the measurements). ``main`` is
loaded on first use, so that a probe importing this package loads nothing it does not need.
"""

from __future__ import annotations

import importlib

__all__ = ["main"]


def __getattr__(name: str):
    if name != "main":
        raise AttributeError(f"module 'harness.bench' has no attribute {name!r}")
    return importlib.import_module("harness.bench.cli").main
