"""Peak memory: resident set size of ``MEMORY_STEPS`` train steps of mlp at batch 256, one fresh process per engine.

The parent calls ``peak_memory``; each child is ``python -m harness.bench.memory ENGINE``, which imports only what that
engine needs (funcad's children never load torch), trains, and prints its peak RSS in KiB after setup and after the steps.
This module imports nothing heavy at its top for that reason.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from harness.bench.fresh import fresh_python

MEMORY_STEPS = 100
MEMORY_ENGINES = ("funcad eager", "funcad jit", "torch eager")


def peak_memory(engine: str, threads: int) -> tuple[float, float]:
    """(peak RSS MiB after imports and setup, peak RSS MiB after ``MEMORY_STEPS`` steps) of a fresh process."""
    out = fresh_python(["-m", "harness.bench.memory", engine], threads, library_defaults=False, what=f"memory probe for {engine}")
    before_kib, after_kib = (int(v) for v in out.split())
    return before_kib / 1024.0, after_kib / 1024.0


def _peak_kib() -> int:
    """This process's own high-water mark, VmHWM (ru_maxrss would include the parent's, carried over exec)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def _funcad_step(use_jit: bool) -> tuple[Callable, Callable]:
    """(train step, batch conversion) of the quickstart MLP in funcad, imported here so that torch's child does not load it."""
    import funcad
    from funcad import nn
    from harness.models import QuickstartMLP

    funcad.set_seed(0)
    net = QuickstartMLP()
    net.set_train(True)
    opt, loss_fn = nn.SGD(net.trainable_params(), 1e-2), nn.CrossEntropyLoss()
    grad_fn = funcad.value_and_grad(lambda x, y: loss_fn(net(x), y), None, opt.parameters)

    def train_step(x, y):
        loss, grads = grad_fn(x, y)
        opt(grads)
        return loss

    return (funcad.jit(train_step) if use_jit else train_step), funcad.Tensor.from_numpy


def _torch_step() -> tuple[Callable, Callable]:
    """(train step, batch conversion) of the quickstart MLP in torch, imported here so that funcad's children do not load it."""
    import torch

    from torch_ref.models import QuickstartMLP

    torch.manual_seed(0)
    net = QuickstartMLP()
    opt, loss_fn = torch.optim.SGD(net.parameters(), lr=1e-2), torch.nn.CrossEntropyLoss()

    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return train_step, torch.from_numpy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.bench.memory", description="peak RSS of mlp b256 train steps")
    parser.add_argument("engine", choices=MEMORY_ENGINES)
    engine = parser.parse_args(argv).engine
    step, convert = _torch_step() if engine == "torch eager" else _funcad_step(engine == "funcad jit")
    rng = np.random.default_rng(0)
    x, y = convert(rng.standard_normal((256, 1, 28, 28)).astype(np.float32)), convert(rng.integers(0, 10, 256))
    before = _peak_kib()
    for _ in range(MEMORY_STEPS):
        step(x, y)
    print(before, _peak_kib())


if __name__ == "__main__":
    main()
