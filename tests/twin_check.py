"""Shared checks for the twin tests: one model in both engines computes the same outputs, gradients and statistics.

Gradients are of ``sum(output * cotangent)`` with a fixed random cotangent, taken by ``funcad.grad`` on one side
and by torch autograd on the other, in float64, and compared parameter by parameter through the twin's name map.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

import funcad
from funcad import ops
from torch_ref.bridge import funcad_state, torch_state

TOL = dict(rtol=1e-10, atol=1e-12)


def funcad_run(cell, x: np.ndarray, cotangent: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
    """Output, input gradient (None for integer inputs) and parameter gradients by name."""
    params = cell.trainable_params()
    names = [p.name for p in params]
    inputs = funcad.Tensor(x)
    out = np.asarray(cell(inputs))
    floating = np.issubdtype(x.dtype, np.floating)
    grads = funcad.grad(lambda v: ops.sum(cell(v) * funcad.Tensor(cotangent)), 0 if floating else None, params or None)(inputs)
    input_grad, param_grads = (grads if params else (grads, ())) if floating else (None, grads)
    return out, (np.asarray(input_grad) if floating else None), {n: np.asarray(g) for n, g in zip(names, param_grads)}


def torch_run(module, x: np.ndarray, cotangent: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
    floating = np.issubdtype(x.dtype, np.floating)
    inputs = torch.tensor(x, requires_grad=floating)
    with torch.no_grad():
        out = module(inputs).numpy()
    for p in module.parameters():
        p.grad = None
    (module(inputs) * torch.from_numpy(cotangent)).sum().backward()
    grads = {n: (p.grad.numpy() if p.grad is not None else np.zeros(tuple(p.shape))) for n, p in module.named_parameters() if p.requires_grad}
    return out, (inputs.grad.numpy() if floating else None), grads


def assert_same_model(cell, module, name_map: dict[str, str], x: np.ndarray, train: bool) -> None:
    """Outputs, gradients (input and every trainable parameter) and all statistics agree, through ``name_map`` (funcad -> torch)."""
    cell.set_train(train)
    module.train(train)
    out = np.asarray(copy.deepcopy(cell)(funcad.Tensor(x)))  # a copy: statistics move once per pass on each side
    cotangent = np.random.default_rng(7).standard_normal(out.shape)
    f_out, f_gx, f_grads = funcad_run(cell, x, cotangent)
    t_out, t_gx, t_grads = torch_run(module, x, cotangent)
    np.testing.assert_allclose(f_out, t_out, **TOL)
    if f_gx is not None:
        np.testing.assert_allclose(f_gx, t_gx, **TOL)
    assert sorted(name_map[n] for n in f_grads) == sorted(t_grads)
    for name, grad in f_grads.items():
        np.testing.assert_allclose(grad, t_grads[name_map[name]], **TOL, err_msg=name)
    tstate = torch_state(module)
    for name, value in funcad_state(cell).items():  # running statistics after the same number of forward passes
        if name in name_map:
            np.testing.assert_allclose(np.asarray(value), tstate[name_map[name]].detach().numpy(), **TOL, err_msg=name)

