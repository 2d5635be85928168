"""``funcad-compare bench``: train-step speed of funcad (eager and jit) against PyTorch eager and peers.

For each case (tutorial, mlp at batch 64 and 256, lenet at batch 64, mlp_bn) the engines take turns in one
process, round by round (``harness.timing``), and the medians and interquartile ranges of the per-step
times are reported with the ratios the targets are stated in.

- A sample is a run of consecutive steps of one engine lasting at least ``--sample-ms`` (default 20 ms),
  as a training loop runs them: each step finds its weights and its interpreter state where the previous
  step left them. A single step right after the other engines' steps (``--sample-ms 0``) measures every
  engine with its caches evicted by the others' weights instead: slower for all, and more so for
  whichever engine touches more memory or code per step.

- Engines: funcad eager, funcad jit, PyTorch eager; HIPS autograd (numpy, functional) when installed
  and the case has a port below; JAX when installed; torch.compile with ``--torch-compile`` (its
  compilation takes tens of seconds per case on a small machine). A missing peer is noted, not fatal.
- BLAS floor: the matrix products one jitted step performs (recorded from ``numpy.matmul`` calls,
  so the im2col products inside the convolutions count too), replayed alone on arrays of the same
  shapes and memory layouts into preallocated outputs. No engine on this machine beats it.
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
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

# (label, case name, batch size)
CASES = [("tutorial", "tutorial", None), ("mlp-b64", "mlp", 64), ("mlp-b256", "mlp", 256), ("lenet-b64", "lenet", 64),
         ("mlp_bn-b64", "mlp_bn", 64)]
TARGETS = [  # (label, numerator, denominator, case label, bound)
    ("jit / torch", "funcad jit", "torch eager", "mlp-b64", 0.7),
    ("jit / torch", "funcad jit", "torch eager", "tutorial", 0.5),
    ("jit / torch", "funcad jit", "torch eager", "lenet-b64", 1.0),
    ("jit / BLAS floor", "funcad jit", "BLAS floor", "mlp-b256", 1.15),
    ("eager / autograd", "funcad eager", "HIPS autograd", "mlp-b64", 0.5),
]
MEMORY_STEPS = 100
STANDALONE_ENGINES = ("funcad eager", "funcad jit", "torch eager")
# glibc: serve blocks up to 32 MiB from the heap and keep up to 256 MiB of freed memory instead of trimming it
RETAIN_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "268435456"}


# -- the BLAS floor ------------------------------------------------------------------------------------------------
class MatmulRecorder:
    """Records the operand shapes and layouts of every ``numpy.matmul`` call made while active."""

    def __init__(self):
        self.calls: list = []

    def __enter__(self):
        self.original = np.matmul
        original, calls = self.original, self.calls

        def recording(a, b, *args, **kwargs):
            calls.append((_layout(a), _layout(b)))
            return original(a, b, *args, **kwargs)

        np.matmul = recording
        return self

    def __exit__(self, *exc):
        np.matmul = self.original
        return False


def _layout(a) -> tuple:
    """(shape, dtype, swapped): ``swapped`` when the array is its last two axes swapped over a C-contiguous one."""
    a = np.asarray(a)
    swapped = a.ndim >= 2 and not a.flags.c_contiguous and np.swapaxes(a, -1, -2).flags.c_contiguous
    return a.shape, a.dtype, swapped


def _operand(layout, rng) -> np.ndarray:
    shape, dtype, swapped = layout
    if swapped:
        return np.swapaxes(rng.standard_normal(shape[:-2] + shape[::-1][:2]).astype(dtype), -1, -2)
    return rng.standard_normal(shape).astype(dtype)


def blas_floor(calls: list) -> Callable[[], None]:
    """A callable running just the recorded products, into preallocated outputs."""
    rng = np.random.default_rng(0)
    work = []
    for la, lb in calls:
        a, b = _operand(la, rng), _operand(lb, rng)
        work.append((a, b, np.matmul(a, b)))

    def run():
        for a, b, out in work:
            np.matmul(a, b, out=out)

    return run


# -- HIPS autograd ports of the cases ----------------------------------------------------------------------------------
def _autograd_step(case_name: str, params: list, optimizer) -> Callable | None:
    """A train step written the HIPS autograd way (functional, numpy), or None where no port exists (convolutions)."""
    import autograd.numpy as anp
    from autograd import value_and_grad
    from autograd.scipy.special import logsumexp

    def cross_entropy(z, y):
        logp = z - logsumexp(z, axis=1, keepdims=True)
        return -anp.mean(logp[np.arange(len(y)), y])

    if case_name == "tutorial":
        def loss(ps, x, y):
            z = anp.dot(x, ps[0]) + ps[1]
            return anp.mean((1.0 - y) * z + anp.logaddexp(0.0, -z))
    elif case_name == "mlp":
        def loss(ps, x, y):
            h = anp.reshape(x, (x.shape[0], -1))
            for w, b in zip(ps[0:-2:2], ps[1:-2:2]):
                h = anp.maximum(anp.dot(h, w.T) + b, 0.0)
            return cross_entropy(anp.dot(h, ps[-2].T) + ps[-1], y)
    elif case_name == "mlp_bn":
        def loss(ps, x, y):
            w1, b1, gamma, beta, w2, b2 = ps
            h = anp.dot(anp.reshape(x, (x.shape[0], -1)), w1.T) + b1
            mu = anp.mean(h, axis=0)
            var = anp.mean((h - mu) ** 2, axis=0)
            h = anp.maximum((h - mu) / anp.sqrt(var + 1e-5) * gamma + beta, 0.0)
            return cross_entropy(anp.dot(h, w2.T) + b2, y)
    else:
        return None
    grad_fn = value_and_grad(loss)
    lr, momentum, decay = optimizer.learning_rate, getattr(optimizer, "momentum", 0.0), optimizer.weight_decay
    velocity = [np.zeros_like(p) for p in params]

    def step(x, y):
        value, grads = grad_fn(params, x, y)
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g + decay * p if decay else g
            if momentum:
                velocity[i] = momentum * velocity[i] + g
                g = velocity[i]
            params[i] = p - lr * g
        return value

    return step


# -- one case --------------------------------------------------------------------------------------------------------
def train_steps(case_name: str, batch_size, engines=STANDALONE_ENGINES, batch: tuple | None = None) -> dict[str, Callable[[], object]]:
    """Zero-argument train steps of the named core engines on ``batch`` (default: the case's first batch), each on its own
    model built with seed 0."""
    from funcad.jit import jit
    from harness.cases import get_case

    case = get_case(case_name)
    x, y = batch if batch is not None else case.batches(1, seed=0, batch_size=batch_size)[0]
    steps = {}
    for engine in engines:
        pair = case.build("float32", seed=0)
        if engine == "torch eager":
            steps[engine] = partial(pair.torch.trainer.step_tensors, *pair.torch.prepare(x, y))
        else:
            step = jit(pair.funcad.train_step) if engine == "funcad jit" else pair.funcad.train_step
            steps[engine] = partial(step, *pair.funcad.prepare(x, y))
    return steps


def _case_engines(case_name: str, batch_size, use_torch_compile: bool) -> tuple[dict, dict, list[str]]:
    """Zero-argument train-step callables per engine, extra facts (compile times), and notes on skipped peers."""
    import torch

    from harness.cases import get_case

    case = get_case(case_name)
    x, y = case.batches(1, seed=0, batch_size=batch_size)[0]
    engines = train_steps(case_name, batch_size, batch=(x, y))
    facts, notes = {}, []
    start = time.perf_counter()
    engines["funcad jit"]()
    facts["jit trace+compile+first step s"] = time.perf_counter() - start
    with MatmulRecorder() as recorder:
        engines["funcad jit"]()
    engines["BLAS floor"] = blas_floor(recorder.calls)
    try:
        initial = case.build("float32", seed=0).funcad
        params = [np.array(p.asnumpy()) for p in initial.optimizer.parameters]
        ag_step = _autograd_step(case_name, params, initial.optimizer)
        if ag_step is None:
            notes.append(f"{case_name}: HIPS autograd not measured (no convolution primitive; a port would measure scipy, not autograd)")
        else:
            xa, ya = (np.asarray(v) for v in initial.prepare(x, y))
            engines["HIPS autograd"] = lambda: ag_step(xa, ya)
    except ImportError:
        notes.append("HIPS autograd not installed (pip install autograd): skipped")
    if use_torch_compile:
        try:
            pair = case.build("float32", seed=0)
            trainer, (xt, yt) = pair.torch.trainer, pair.torch.prepare(x, y)
            trainer.model = torch.compile(trainer.model)
            start = time.perf_counter()
            trainer.step_tensors(xt, yt)
            facts["torch.compile s"] = time.perf_counter() - start
            engines["torch.compile"] = lambda: trainer.step_tensors(xt, yt)
        except Exception as err:  # noqa: BLE001 - any compiler failure is reported, not fatal
            notes.append(f"{case_name}: torch.compile failed ({type(err).__name__}: {str(err).splitlines()[0][:120]}): skipped")
    return engines, facts, notes


# -- fresh processes: memory and standalone timing ---------------------------------------------------------------------
def fresh_python(code: str, threads: int, library_defaults: bool, what: str) -> str:
    """Standard output of ``code`` run by a fresh interpreter that can import this repository, ``threads`` threads for torch and BLAS.

    ``library_defaults`` drops the benchmark's own settings (OMP_WAIT_POLICY, glibc malloc thresholds) so each library runs
    as a user who imports it alone would run it; otherwise the child runs with OMP_WAIT_POLICY=PASSIVE and this process's malloc.
    """
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    if library_defaults:
        for name in ("OMP_WAIT_POLICY", *RETAIN_MALLOC):
            env.pop(name, None)
    else:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


_STANDALONE_RUN = """
import json
import numpy as np
from harness.bench import train_steps
from harness.timing import interleaved
saved = np.load({data!r})
steps = train_steps({case!r}, {batch!r}, [{engine!r}], (saved["x"], saved["y"]))
print(json.dumps(interleaved(steps, budget_s={budget!r}, warmup=3, max_rounds=200)[{engine!r}]))
"""


def standalone(cases: list[tuple[str, str, int | None]], settings: list[int], budget_s: float) -> dict:
    """{(case label, threads): {engine: timing}}: each core engine timed alone in a fresh process with its libraries' defaults.

    The batch is made here once per case and handed over in a file: making it (image data) costs a child about a second.
    """
    from harness.cases import get_case

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as folder:
        for label, case_name, batch in cases:
            data = str(Path(folder) / f"{label}.npz")
            x, y = get_case(case_name).batches(1, seed=0, batch_size=batch)[0]
            np.savez(data, x=x, y=y)
            for threads in settings:
                code = {e: _STANDALONE_RUN.format(case=case_name, batch=batch, engine=e, budget=budget_s, data=data) for e in STANDALONE_ENGINES}
                results[(label, threads)] = {
                    e: json.loads(fresh_python(code[e], threads, library_defaults=True, what=f"standalone {e} on {label}")) for e in code}
                print(f"  standalone {label} @ {threads} thread{'s' * (threads > 1)}: "
                      + ", ".join(f"{e} {_ms(t['median_s'])} ms" for e, t in results[(label, threads)].items()), flush=True)
    return results


# -- memory ----------------------------------------------------------------------------------------------------------
_FUNCAD_PROBE = """
import numpy as np, funcad
from funcad import nn
from harness.models import QuickstartMLP
funcad.set_seed(0)
net = QuickstartMLP(); net.set_train(True)
opt = nn.SGD(net.trainable_params(), 1e-2); loss_fn = nn.CrossEntropyLoss()
def forward_fn(x, y):
    logits = net(x); return loss_fn(logits, y), logits
grad_fn = funcad.value_and_grad(forward_fn, None, opt.parameters, has_aux=True)
{decorator}def train_step(x, y):
    (loss, _), grads = grad_fn(x, y); opt(grads); return loss
"""
_MEMORY_PROBE = {
    "funcad eager": _FUNCAD_PROBE.format(decorator=""),
    "funcad jit": _FUNCAD_PROBE.format(decorator="@funcad.jit\n"),
    "torch eager": """
import numpy as np, torch
from torch_ref.models import QuickstartMLP
torch.manual_seed(0)
net = QuickstartMLP(); opt = torch.optim.SGD(net.parameters(), lr=1e-2); loss_fn = torch.nn.CrossEntropyLoss()
def train_step(x, y):
    opt.zero_grad(); loss = loss_fn(net(x), y); loss.backward(); opt.step(); return loss
""",
}
_MEMORY_RUN = """
def peak_kib():  # VmHWM is this process's own high-water mark (ru_maxrss would include the parent's, carried over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
rng = np.random.default_rng(0)
x = rng.standard_normal((256, 1, 28, 28)).astype(np.float32); y = rng.integers(0, 10, 256)
{convert}
before = peak_kib()
for _ in range({steps}):
    train_step(x, y)
print(before, peak_kib())
"""


def peak_memory(engine: str, threads: int) -> tuple[float, float]:
    """(peak RSS MiB after imports and setup, peak RSS MiB after 100 steps) of a fresh process."""
    library = "torch" if engine == "torch eager" else "funcad.Tensor"  # both share the arrays' memory
    convert = f"x, y = {library}.from_numpy(x), {library}.from_numpy(y)"
    code = _MEMORY_PROBE[engine] + _MEMORY_RUN.format(convert=convert, steps=MEMORY_STEPS)
    out = fresh_python(code, threads, library_defaults=False, what=f"memory probe for {engine}")
    before_kib, after_kib = (int(v) for v in out.split())
    return before_kib / 1024.0, after_kib / 1024.0


# -- environment -----------------------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(threads: int) -> dict:
    import torch
    from threadpoolctl import threadpool_info

    import funcad

    versions = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__, "funcad": funcad.__version__}
    for peer in ("autograd", "jax"):
        try:
            module = __import__(peer)
            versions[peer] = getattr(module, "__version__", "installed")
        except ImportError:
            versions[peer] = "not installed"
    pools = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads)" for p in threadpool_info()]
    return {
        "machine": f"{platform.machine()} {_cpu_model()}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}",
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "threads": f"torch {torch.get_num_threads()} intra-op threads; native pools: {'; '.join(pools)}; requested {threads}",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "malloc": ", ".join(f"{k}={os.environ[k]}" for k in RETAIN_MALLOC if k in os.environ) or "glibc defaults",
        "load average": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


# -- report ------------------------------------------------------------------------------------------------------------
def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def build_table(results: dict, measurement: str = "interleaved") -> tuple[list[str], list[list[str]], list[dict]]:
    """Markdown header, rows and tidy CSV records from {(case label, threads): {engine: timing}}; ratios at equal threads."""
    engines = []
    for timings in results.values():
        engines += [e for e in timings if e not in engines]
    header = (["case", "threads"] + [f"{e} ms (IQR)" for e in engines]
              + ["jit/torch", "eager/torch", "jit/eager", "jit/floor", "eager/autograd"])
    rows, records = [], []
    for (case, threads), timings in results.items():
        med = {e: t["median_s"] for e, t in timings.items()}

        def ratio(a, b, med=med):
            return f"{med[a] / med[b]:.2f}" if a in med and b in med else "-"

        cells = [f"{_ms(timings[e]['median_s'])} ({_ms(timings[e]['iqr_s'])})" if e in timings else "-" for e in engines]
        rows.append([case, str(threads)] + cells + [ratio("funcad jit", "torch eager"), ratio("funcad eager", "torch eager"),
                                                    ratio("funcad jit", "funcad eager"), ratio("funcad jit", "BLAS floor"),
                                                    ratio("funcad eager", "HIPS autograd")])
        for e, t in timings.items():
            records.append({"measurement": measurement, "case": case, "threads": threads, "engine": e, "median_ms": t["median_s"] * 1e3,
                            "q1_ms": t["q1_s"] * 1e3, "q3_ms": t["q3_s"] * 1e3, "rounds": t["rounds"], "calls_per_sample": t["number"],
                            "ratio_to_torch_eager": t["median_s"] / med["torch eager"] if "torch eager" in med else float("nan")})
    return header, rows, records


def best_settings(results: dict) -> dict[str, dict[str, tuple[dict, int]]]:
    """{case label: {engine: (timing, threads)}}: each engine at the thread setting where its median was lowest."""
    best: dict[str, dict[str, tuple[dict, int]]] = {}
    for (case, threads), timings in results.items():
        for engine, t in timings.items():
            held = best.setdefault(case, {}).get(engine)
            if held is None or t["median_s"] < held[0]["median_s"]:
                best[case][engine] = (t, threads)
    return best


def best_table(results: dict) -> tuple[list[str], list[list[str]]]:
    """Each engine at its best thread setting, and the ratios between those bests (what the targets judge)."""
    best = best_settings(results)
    engines = list(dict.fromkeys(e for timings in best.values() for e in timings))
    header = ["case"] + [f"{e} ms (threads)" for e in engines] + ["jit/torch", "eager/torch", "jit/floor", "eager/autograd"]
    rows = []
    for case, held in best.items():
        def ratio(a, b, held=held):
            return f"{held[a][0]['median_s'] / held[b][0]['median_s']:.2f}" if a in held and b in held else "-"

        cells = [f"{_ms(held[e][0]['median_s'])} ({held[e][1]})" if e in held else "-" for e in engines]
        rows.append([case] + cells + [ratio("funcad jit", "torch eager"), ratio("funcad eager", "torch eager"),
                                      ratio("funcad jit", "BLAS floor"), ratio("funcad eager", "HIPS autograd")])
    return header, rows


def standalone_table(results: dict) -> tuple[list[str], list[list[str]]]:
    """Per case: each engine's standalone median (IQR) at every thread setting, its best in bold, and the ratios between bests."""
    settings = sorted({t for _, t in results})
    best = best_settings(results)
    header = (["case"] + [f"{e} ms (IQR), {t} thr" for e in STANDALONE_ENGINES for t in settings]
              + ["jit/torch at bests (threads)", "eager/torch at bests (threads)"])
    rows = []
    for case, held in best.items():
        cells = []
        for e in STANDALONE_ENGINES:
            for t in settings:
                timing = results.get((case, t), {}).get(e)
                cell = f"{_ms(timing['median_s'])} ({_ms(timing['iqr_s'])})" if timing else "-"
                cells.append(f"**{cell}**" if timing and held[e][1] == t else cell)
        ratios = [_best_ratio(held, num, "torch eager") for num in ("funcad jit", "funcad eager")]
        rows.append([case] + cells + [f"{r:.2f} ({n} vs {d})" if r else "-" for r, n, d in ratios])
    return header, rows


def _best_ratio(held: dict, num: str, den: str) -> tuple[float | None, int | None, int | None]:
    """(ratio, numerator's threads, denominator's threads) between two engines' best settings; Nones when either is missing."""
    if num not in held or den not in held:
        return None, None, None
    return held[num][0]["median_s"] / held[den][0]["median_s"], held[num][1], held[den][1]


def thread_notes(results: dict, settings: list[int]) -> list[str]:
    """Why the thread setting matters for torch under OMP_WAIT_POLICY=PASSIVE, with this run's own torch figures."""
    notes = ["Threads: in each setting torch's intra-op threads and numpy's BLAS threads are both limited to that number. "
             "The process runs with OMP_WAIT_POLICY=PASSIVE, so idle OpenMP workers sleep instead of spinning on the cores "
             "numpy's BLAS needs; the price is that every multi-threaded torch op wakes its workers, so torch's small steps "
             "are slower at several threads than at one. numpy's OpenBLAS workers, in turn, keep spinning for a while after "
             "each product (OpenBLAS's default): while an engine runs single-threaded work (Python, elementwise numpy, torch "
             "at one thread) the other cores stay busy, which costs nothing on idle cores but can slow that work where a host "
             "runs two virtual cores on one physical core. Ratios in the first table compare engines at equal threads; the "
             "targets compare each engine at its best setting."]
    if len(settings) > 1:
        low, high = min(settings), max(settings)
        figures = [f"{case} {_ms(results[(case, low)]['torch eager']['median_s'])} ms at {low} vs "
                   f"{_ms(results[(case, high)]['torch eager']['median_s'])} ms at {high}"
                   for case in dict.fromkeys(c for c, _ in results)
                   if "torch eager" in results.get((case, low), {}) and "torch eager" in results.get((case, high), {})]
        notes.append("torch eager train step by thread count: " + "; ".join(figures) + ".")
    else:
        notes.append(f"Only {settings[0]} thread{'s' * (settings[0] > 1)} measured: an engine may be faster at another setting "
                     "(torch at 1 thread under PASSIVE wait, BLAS-bound steps at all cores); pass --threads both to compare each "
                     "engine at its best setting.")
    return notes


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# A target line warns when an engine's interquartile range exceeds this share of its median (steady runs here: 5-15%).
NOISY_SPREAD = 0.2


def target_lines(results: dict, memory: dict | None, alone: dict | None = None) -> list[str]:
    """The issue's targets, each engine taken at its best measured thread setting (named in the line), judged on the
    interleaved measurement; with ``alone`` (standalone results) each line also gives the standalone ratio."""
    best = best_settings(results)
    alone_best = best_settings(alone) if alone else None
    lines = []
    for label, num, den, case, bound in TARGETS:
        held = best.get(case, {})
        if num in held and den in held:
            (tn, n_threads), (td, d_threads) = held[num], held[den]
            value = tn["median_s"] / td["median_s"]
            line = (f"- {label} on {case}: {value:.2f} (target <= {bound}) {'met' if value <= bound else 'NOT met'} "
                    f"({num} at {n_threads} thread{'s' * (n_threads > 1)}, {den} at {d_threads} thread{'s' * (d_threads > 1)})")
            spread = max(t["iqr_s"] / t["median_s"] for t in (tn, td))
            if spread > NOISY_SPREAD:
                line += (f"; noisy: an interquartile range of {spread:.0%} of the median (the machine's speed changed while "
                         "measuring), so a rerun may land on the other side of the target")
            if alone_best is not None:
                ratio, n_alone, d_alone = _best_ratio(alone_best.get(case, {}), num, den)
                line += (f"; standalone {ratio:.2f} ({num} at {n_alone}, {den} at {d_alone})" if ratio else
                         f"; standalone not measured ({den if den not in STANDALONE_ENGINES else num} runs in-process only)")
            lines.append(line)
        else:
            lines.append(f"- {label} on {case}: not measured")
    if memory:
        jit_peak, torch_peak = memory["funcad jit"][1], memory["torch eager"][1]
        ratio = jit_peak / torch_peak
        lines.append(f"- peak RSS of {MEMORY_STEPS} steps, mlp b256: funcad jit {jit_peak:.0f} MiB, torch eager {torch_peak:.0f} MiB, "
                     f"ratio {ratio:.2f} (target <= 1.2) {'met' if ratio <= 1.2 else 'NOT met'}")
    return lines


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys((r["case"], r["threads"]) for r in records))
    engines = [e for e in dict.fromkeys(r["engine"] for r in records) if e != "torch eager"]
    fig, ax = plt.subplots(figsize=(max(9, 1.2 * len(groups)), 4.5))
    width = 0.8 / max(len(engines), 1)
    for i, engine in enumerate(engines):
        values = [next((r["ratio_to_torch_eager"] for r in records if (r["case"], r["threads"]) == g and r["engine"] == engine), np.nan)
                  for g in groups]
        ax.bar(np.arange(len(groups)) + i * width, values, width, label=engine)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(groups)) + width * (len(engines) - 1) / 2, [f"{c}\n{t} thr" for c, t in groups], fontsize=8)
    ax.set_ylabel("median train-step time / torch eager (log)")
    ax.set_title("train step, float32, ratio to PyTorch eager at the same thread count (lower is faster)")
    ax.legend(fontsize=8, ncol=len(engines), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out_root: Path, markdown: str, records: list[dict]) -> Path:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    final = out_root / f"bench-{stamp}"
    out_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".bench-", dir=out_root))
    try:
        (staging / "bench.md").write_text(markdown)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
        (staging / "bench.csv").write_text(buffer.getvalue())
        plot([r for r in records if r["measurement"] == "interleaved"], staging / "bench.png")
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a report is for everyone who can read reports/
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


# -- main --------------------------------------------------------------------------------------------------------------
def _threads_arg(text: str) -> str | int:
    if text == "both":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of threads or 'both', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"threads must be >= 1, got {value}")
    return value


def thread_settings(requested: str | int | None, cores: int, crowded: bool) -> list[int]:
    """The thread counts to measure: ``both`` -> [1, cores]; a number -> [it]; default: both, or [1] on a crowded machine."""
    if requested is None:
        requested = 1 if crowded else "both"
    if requested == "both":
        return sorted({1, cores})
    return [int(requested)]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="funcad-compare bench", description="Train-step speed: funcad eager and jit vs PyTorch eager and peers")
    p.add_argument("--cases", nargs="+", default=[c[0] for c in CASES], metavar="CASE",
                   help=f"case labels, or case names for all their batch sizes (default: all of {', '.join(c[0] for c in CASES)})")
    p.add_argument("--budget", type=float, default=12.0, help="seconds of timing per case and thread setting (default 12)")
    p.add_argument("--sample-ms", type=float, default=20.0,
                   help="least duration of one timed sample of consecutive steps of an engine (default 20; 0: one step per sample)")
    p.add_argument("--threads", type=_threads_arg, default=None, metavar="N|both",
                   help="threads for torch and numpy's BLAS: a number, or both (1 and all cores; each engine's best is judged). "
                        "Default: both on several cores, 1 when the load average reaches the core count")
    p.add_argument("--out", default="reports", help="directory receiving bench-<timestamp>/ (default reports)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--standalone-budget", type=float, default=1.0,
                   help="seconds of timing per engine, case and thread setting in the standalone fresh processes (default 1)")
    p.add_argument("--no-standalone", action="store_true", help="skip the standalone fresh-process timings")
    p.add_argument("--torch-compile", action="store_true", help="also time torch.compile (compiles each case first: slow)")
    p.add_argument("--malloc", choices=("retain", "default"), default="retain",
                   help="glibc malloc settings of the benchmark process: keep freed memory (default) or glibc's defaults")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:
        return 0 if stop.code == 0 else 2
    labels = {c[0]: c for c in CASES}
    unknown = [c for c in args.cases if c not in labels and not any(c == name for _, name, _ in CASES)]
    if unknown:
        print(f"funcad-compare bench: unknown case(s) {', '.join(unknown)}; known: {', '.join(labels)}", file=sys.stderr)
        return 2
    for flag, value in (("--sample-ms", args.sample_ms), ("--budget", args.budget), ("--standalone-budget", args.standalone_budget)):
        if not value >= 0:  # NaN fails too
            print(f"funcad-compare bench: {flag} must be 0 or more, got {value:g}", file=sys.stderr)
            return 2
    args.cases = [label for label, name, _ in CASES if label in args.cases or name in args.cases]
    wanted = {"OMP_WAIT_POLICY": "PASSIVE"} | (RETAIN_MALLOC if args.malloc == "retain" else {})
    unwanted = [k for k in RETAIN_MALLOC if args.malloc == "default" and k in os.environ]
    if any(os.environ.get(k) != v for k, v in wanted.items()) or unwanted:
        # libgomp and glibc read these once, at load: run again in a process that has them from the start
        env = {k: v for k, v in os.environ.items() if k not in unwanted} | wanted
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
        return subprocess.run([sys.executable, "-m", "harness.bench", *argv], env=env).returncode

    from harness.timing import interleaved_settings, thread_switch

    started = time.perf_counter()
    out_root = Path(args.out)
    try:  # fail before the long measurements, not after them
        out_root.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=out_root))
    except OSError as err:
        print(f"funcad-compare bench: cannot write a report in {out_root}: {err.strerror or err}", file=sys.stderr)
        return 2
    results, facts, notes = {}, {}, []
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    crowded = load >= cores  # as many runnable tasks as cores already: a BLAS thread waiting for its peer stalls every product
    if load > 0.5 * cores:
        busy = f"machine busy at the start (load average {load:.2f} on {cores} cores): every engine is slowed"
        if crowded:
            busy += ", and multi-threaded BLAS collapses when one of its threads is descheduled"
            if args.threads is None:
                busy += "; so one thread per engine was used (pass --threads to choose)"
        notes.append(busy)
        print("warning: " + busy, file=sys.stderr)
    settings = thread_settings(args.threads, cores, crowded)
    if "jax" not in sys.modules:
        try:
            __import__("jax")
            notes.append("JAX is installed but has no port of these cases yet: not measured")
        except ImportError:
            notes.append("JAX not installed: skipped")
    if not args.torch_compile:
        notes.append("torch.compile not timed (pass --torch-compile; it compiles every case first)")
    thread_lines = {}
    for label in args.cases:
        _, case_name, batch = labels[label]
        engines, case_facts, case_notes = _case_engines(case_name, batch, args.torch_compile)
        notes += [n for n in case_notes if n not in notes]
        facts[label] = case_facts
        with thread_switch() as use:  # entered after the build, so it covers every library loaded by then
            timed = interleaved_settings(engines, settings, use, budget_s=args.budget * len(settings), warmup=3,
                                         max_rounds=200, min_sample_s=args.sample_ms / 1e3)
            for threads in settings:
                use(threads)
                env = environment(threads)
                thread_lines[threads] = env.pop("threads")
        for threads in settings:
            results[(label, threads)] = timed[threads]
            print(f"  {label} @ {threads} thread{'s' * (threads > 1)}: "
                  + ", ".join(f"{e} {_ms(t['median_s'])} ms" for e, t in timed[threads].items()), flush=True)
    env |= {f"threads, setting {t}": line for t, line in thread_lines.items()}
    memory = None
    if not args.no_memory:
        memory = {e: peak_memory(e, settings[-1]) for e in _MEMORY_PROBE}
    alone = None if args.no_standalone else standalone([labels[c] for c in args.cases], settings, args.standalone_budget)
    header, rows, records = build_table(results)
    best_header, best_rows = best_table(results)
    setting_text = " and ".join(str(t) for t in settings)
    lines = ["# funcad-compare bench", "",
             f"Median train-step time in ms (interquartile range) over interleaved rounds (each round times every engine at "
             f"every thread setting), float32; threads {setting_text} (torch intra-op = numpy BLAS), "
             f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; each sample times consecutive steps of one engine "
             f"for at least {args.sample_ms:g} ms (steps per sample in bench.csv).", "",
             markdown_table(header, rows), "",
             "## Each engine at its best thread setting", "", markdown_table(best_header, best_rows), ""]
    if alone:
        records += build_table(alone, "standalone")[2]
        lines += ["## Standalone: each engine alone in a fresh process, library defaults", "",
                  f"Median train-step time in ms (interquartile range) of each engine timed alone for about {args.standalone_budget:g} s "
                  "in a fresh process per case and thread setting, with its libraries' default environment (no OMP_WAIT_POLICY, glibc "
                  "malloc defaults; OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to the setting; funcad's processes load torch too, as the "
                  "case definitions build both models, but run no torch op while timed). Bold: each engine's best setting, which the "
                  "ratios compare.", "", markdown_table(*standalone_table(alone)), "",
                  "It differs from the interleaved tables because there all engines share one process run with OMP_WAIT_POLICY=PASSIVE "
                  "(which slows torch's multi-threaded ops) and with glibc malloc keeping freed memory (which spares funcad page faults), "
                  "while here each library runs alone with its own defaults: read the interleaved ratios as same-process, these as each "
                  "engine's standalone best.", ""]
    lines += ["## Targets", "", "Judged on the interleaved, one-process measurement, as the issue defines them; the standalone ratio at "
              "each engine's standalone best follows each line." if alone else "Judged on the interleaved, one-process measurement.", "",
              *target_lines(results, memory, alone), ""]
    if memory:
        lines += [f"## Memory (peak RSS, fresh process each, {settings[-1]} thread{'s' * (settings[-1] > 1)})", ""]
        lines += [f"- {e}: {after:.0f} MiB after {MEMORY_STEPS} steps of mlp b256 ({before:.0f} MiB after imports and setup)"
                  for e, (before, after) in memory.items()]
        lines.append("")
    lines += ["## Compile times", ""] + [f"- {c}: " + ", ".join(f"{k} {v:.2f}" for k, v in f.items()) for c, f in facts.items()] + [""]
    lines += ["## Environment", ""] + [f"- {k}: {v}" for k, v in env.items()] + [""]
    lines += ["## Notes", ""] + [f"- {n}" for n in thread_notes(results, settings) + notes] + [
        "- BLAS floor: the numpy.matmul calls of one jitted step (im2col products of convolutions included), replayed alone.",
        f"- total benchmark time {time.perf_counter() - started:.0f} s", ""]
    markdown = "\n".join(lines)
    folder = write_report(out_root, markdown, records)
    print(markdown)
    print(f"report: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
