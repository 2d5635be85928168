"""The bench's cases and, per case, a zero-argument train step for every engine measured in process.

Engines: funcad eager, funcad jit, PyTorch eager, the BLAS floor of the jitted step and, where it convolves, its
convolution floor (the convolutions' products alone); the peers HIPS autograd and JAX jit
when installed and the case has a port; torch.compile when asked for (its compilation takes tens of seconds per case on
a small machine). A missing peer is noted, not fatal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from funcad.jit import jit
from harness.bench import autograd_port, jax_port
from harness.bench.floor import MatmulRecorder, blas_floor
from harness.cases import get_case

# (label, case name, batch size)
CASES = [("tutorial", "tutorial", None), ("mlp-b64", "mlp", 64), ("mlp-b256", "mlp", 256), ("lenet-b64", "lenet", 64),
         ("mlp_bn-b64", "mlp_bn", 64), ("resnet-b16", "resnet", 16), ("conv1d-b32", "conv1d", 32), ("lstm-b16", "lstm", 16),
         ("transformer-b16", "transformer", 16)]
# The layer cases get a quarter of --budget each, so that the default bench takes about as long as before they joined;
# their steps last milliseconds, so a quarter still gives dozens of rounds.
BUDGET_SHARE = {"resnet-b16": 0.25, "conv1d-b32": 0.25, "lstm-b16": 0.25, "transformer-b16": 0.25}


def case_budget(label: str, budget_s: float) -> float:
    """Seconds of timing for the case labelled ``label`` when ``--budget`` asks for ``budget_s``."""
    return budget_s * BUDGET_SHARE.get(label, 1.0)
CORE_ENGINES = ("funcad eager", "funcad jit", "torch eager")
PEERS = {"HIPS autograd": autograd_port, "JAX jit": jax_port}  # each port: INSTALL, UNPORTED, batch, train_step


def peer_step(engine: str, case_name: str, x, y) -> Callable[[], object] | None:
    """A peer's zero-argument train step on the batch, from the case's initial float32 parameters; None where the peer has
    no port of the case. ImportError when the peer is not installed."""
    port = PEERS[engine]
    initial = get_case(case_name).build("float32", seed=0).funcad
    params = [np.array(p.asnumpy()) for p in initial.optimizer.parameters]
    step = port.train_step(case_name, params, initial.optimizer)
    return None if step is None else partial(step, *port.batch(*initial.prepare(x, y)))


def train_steps(case_name: str, batch_size, engines=CORE_ENGINES, batch: tuple | None = None) -> dict[str, Callable[[], object]]:
    """Zero-argument train steps of the named engines (core engines or ``PEERS``) on ``batch`` (default: the case's first
    batch), each on its own model built with seed 0."""
    case = get_case(case_name)
    x, y = batch if batch is not None else case.batches(1, seed=0, batch_size=batch_size)[0]
    steps = {}
    for engine in engines:
        if engine in PEERS:
            steps[engine] = peer_step(engine, case_name, x, y)
            continue
        pair = case.build("float32", seed=0)
        if engine == "torch eager":
            steps[engine] = partial(pair.torch.trainer.step_tensors, *pair.torch.prepare(x, y))
        else:
            step = jit(pair.funcad.train_step) if engine == "funcad jit" else pair.funcad.train_step
            steps[engine] = partial(step, *pair.funcad.prepare(x, y))
    return steps


def case_engines(case_name: str, batch_size, use_torch_compile: bool) -> tuple[dict, dict, list[str]]:
    """Zero-argument train-step callables per engine, extra facts (compile times), and notes on skipped peers."""
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
    if recorder.conv_calls:
        engines["conv floor"] = blas_floor(recorder.conv_calls)
    for engine, port in PEERS.items():
        try:
            step = peer_step(engine, case_name, x, y)
        except ImportError:
            notes.append(f"{engine} not installed ({port.INSTALL}): skipped")
            continue
        if step is None:
            notes.append(f"{case_name}: {engine} not measured ({port.UNPORTED})")
            continue
        start = time.perf_counter()
        step()
        facts[f"{engine} first step s"] = time.perf_counter() - start
        engines[engine] = step
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
