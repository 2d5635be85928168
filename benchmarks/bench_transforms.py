"""Benchmarks of the transforms beyond grad, each against torch.func in the same process (interleaved medians).

- per-sample gradients of the quickstart MLP (784-512-512-10, batch 64): funcad's jitted ``vmap(grad)`` against one
  jitted batched gradient step (the target: within 2x), against torch.func's ``vmap(grad(functional_call))`` and
  against the bandwidth floor (every sample's weight gradient as an outer product, written once into its buffer);
- the Hessian of a scalar function of 100 inputs: funcad's ``hessian`` (jitted and eager) against torch.func's and,
  when JAX is installed (the ``bench`` extra), against jitted ``jax.jacfwd(jax.jacrev(f))`` (the target: within 3x);
- ``Cell.recompute()``: peak traced memory (tracemalloc) of one gradient of a 20-block MLP at batch 256, every block
  recomputed against none, with the largest gradient difference.

Run: ``PYTHONPATH=. python benchmarks/bench_transforms.py [--budget SECONDS]``; prints one line per measurement.
"""

from __future__ import annotations

import argparse
import tracemalloc

import numpy as np
import torch
from torch.func import functional_call, grad, hessian, vmap

import funcad
from funcad import nn, ops
from harness.timing import fixed_threads, interleaved


def _mlp_cells():
    funcad.set_seed(0)
    cell = nn.SequentialCell(nn.Flatten(), nn.Dense(784, 512), nn.ReLU(), nn.Dense(512, 512), nn.ReLU(), nn.Dense(512, 10))
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                 torch.nn.ReLU(), torch.nn.Linear(512, 10))
    with torch.no_grad():
        for p, q in zip(cell.trainable_params(), module.parameters()):
            q.copy_(torch.from_numpy(np.array(p)))
    return cell, module


def per_sample_timings(batch: int = 64, budget_s: float = 4.0) -> dict:
    cell, module = _mlp_cells()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    weights = cell.trainable_params()

    def sample_loss(xi, yi):
        return ops.cross_entropy(cell(ops.expand_dims(xi, 0)), ops.expand_dims(yi, 0))

    per_sample = funcad.jit(funcad.vmap(funcad.grad(sample_loss, None, weights)))
    batched = funcad.jit(funcad.grad(lambda xb, yb: ops.cross_entropy(cell(xb), yb), None, weights))
    params = {k: v.detach() for k, v in module.named_parameters()}

    def torch_sample_loss(p, xi, yi):
        return torch.nn.functional.cross_entropy(functional_call(module, p, (xi[None],)), yi[None])

    torch_per_sample = vmap(grad(torch_sample_loss), in_dims=(None, 0, 0))
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    return interleaved({"funcad jit(vmap(grad))": lambda: per_sample(x, y), "funcad jit(grad) batched": lambda: batched(x, y),
                        "torch.func vmap(grad)": lambda: torch_per_sample(params, tx, ty),
                        "floor: outer products": _outer_products_floor(weights, batch)}, budget_s=budget_s)


def _outer_products_floor(weights, batch: int):
    """A zero-argument call writing ``batch`` float32 gradients of every weight once: each (out, in) weight's as the
    outer products of per-sample output and input vectors, each bias's as a copy of the output vectors. No per-sample
    gradient can be produced with less memory traffic than this."""
    rng = np.random.default_rng(3)
    parts = []
    for w in weights:
        shape = tuple(w.shape)
        buf = np.empty((batch,) + shape, np.float32)
        rows = rng.standard_normal((batch, shape[0], 1)).astype(np.float32)
        cols = rng.standard_normal((batch, 1) + shape[1:]).astype(np.float32) if len(shape) == 2 else None
        parts.append((buf, rows[..., 0] if cols is None else rows, cols))

    def run():
        for buf, rows, cols in parts:
            if cols is None:
                np.copyto(buf, rows)
            else:
                np.multiply(rows, cols, out=buf)

    return run


def hessian_timings(n: int = 100, budget_s: float = 4.0) -> dict:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)) / n
    x = rng.standard_normal(n)

    def f(v):
        return ops.sum(ops.tanh(ops.matmul(a, v)) ** 2) + ops.sum(ops.exp(v * 0.1))

    def tf(v):
        return (torch.tanh(ta @ v) ** 2).sum() + torch.exp(v * 0.1).sum()

    ta, tx = torch.from_numpy(a), torch.from_numpy(x)
    eager, jitted, torch_h = funcad.hessian(f), funcad.jit(funcad.hessian(f)), hessian(tf)
    assert np.allclose(np.asarray(jitted(x)), torch_h(tx).numpy(), rtol=1e-9, atol=1e-12)
    engines = {"funcad hessian": lambda: eager(x), "funcad jit(hessian)": lambda: jitted(x), "torch.func hessian": lambda: torch_h(tx)}
    jax_h = _jax_hessian(a, x)
    if jax_h is not None:
        engines["jax jit(jacfwd(jacrev))"] = jax_h
    return interleaved(engines, budget_s=budget_s)


def _jax_hessian(a: np.ndarray, x: np.ndarray):
    """A zero-argument call of jitted jax.jacfwd(jax.jacrev(f)) on the same function in float64, or None without JAX."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    ja, jx = jnp.asarray(a), jnp.asarray(x)
    h = jax.jit(jax.jacfwd(jax.jacrev(lambda v: jnp.sum(jnp.tanh(ja @ v) ** 2) + jnp.sum(jnp.exp(v * 0.1)))))
    h(jx).block_until_ready()
    return lambda: h(jx).block_until_ready()


def recompute_memory(depth: int = 20, width: int = 512, batch: int = 256) -> dict:
    """Peak bytes allocated during one gradient, with every block recomputed and without, and the gradients' largest
    difference."""
    x = np.random.default_rng(2).standard_normal((batch, width)).astype(np.float32)
    peaks, grads = {}, {}
    for recompute in (False, True):
        funcad.set_seed(0)
        blocks = [nn.SequentialCell(nn.Dense(width, width), nn.Tanh()) for _ in range(depth)]
        net = nn.SequentialCell(*[b.recompute() if recompute else b for b in blocks])
        step = funcad.grad(lambda v, net=net: ops.sum(net(v) ** 2), None, net.trainable_params())
        tracemalloc.start()
        grads[recompute] = step(x)
        peaks[recompute] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(grads[False], grads[True]))
    return {"peak_off_mb": peaks[False] / 2**20, "peak_on_mb": peaks[True] / 2**20, "max_grad_diff": diff}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=4.0, help="seconds of timing per benchmark")
    budget = parser.parse_args(argv).budget
    with fixed_threads(1):
        torch.set_num_threads(1)
        for title, timings in (("per-sample gradients, mlp batch 64", per_sample_timings(budget_s=budget)),
                               ("hessian of a 100-input scalar function", hessian_timings(budget_s=budget))):
            print(title)
            for name, t in timings.items():
                print(f"  {name:28s} median {t['median_s'] * 1e3:8.3f} ms  (IQR {t['iqr_s'] * 1e3:.3f} ms, {t['rounds']} rounds)")
    memory = recompute_memory()
    print("recompute, 20-block MLP (512 wide, batch 256), one gradient")
    print(f"  peak memory: {memory['peak_off_mb']:.1f} MiB without, {memory['peak_on_mb']:.1f} MiB with recompute; "
          f"largest gradient difference {memory['max_grad_diff']:.3g}")


if __name__ == "__main__":
    main()
