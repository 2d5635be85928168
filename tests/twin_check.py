"""Shared check for the twin tests: one model in both engines computes the same outputs, gradients and statistics.

Gradients are of ``sum(output_i * cotangent_i)`` over every output, with fixed random cotangents, taken by
``funcad.grad`` on one side and by torch autograd on the other, in float64, for every floating-point input and
every trainable parameter (compared by name through the twin's name map).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

import funcad
from funcad import ops
from torch_ref.bridge import funcad_state, torch_state

TOL = dict(rtol=1e-10, atol=1e-12)


def _leaves(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [] if value is None else [value]


def _floating(value) -> bool:
    return isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)


def _funcad(value):
    if isinstance(value, tuple):
        return tuple(_funcad(v) for v in value)
    return funcad.Tensor(value) if isinstance(value, np.ndarray) else value


def funcad_run(cell, args: tuple, kwargs: dict, cotangents: list) -> tuple[list, list, dict[str, np.ndarray]]:
    """Outputs, gradients of the floating-point inputs and of the parameters by name."""
    params = cell.trainable_params()
    positions = tuple(i for i, a in enumerate(args) if _floating(a))
    inputs = [_funcad(a) for a in args]
    fkwargs = {k: _funcad(v) for k, v in kwargs.items()}
    outs = [np.asarray(o) for o in _leaves(cell(*inputs, **fkwargs))]
    if not positions and not params:
        return outs, [], {}

    def loss(*xs):
        return sum(ops.sum(o * funcad.Tensor(c)) for o, c in zip(_leaves(cell(*xs, **fkwargs)), cotangents))

    grads = funcad.grad(loss, (positions if len(positions) > 1 else positions[0]) if positions else None, params or None)(*inputs)
    input_grads, param_grads = (grads if params else (grads, ())) if positions else ((), grads)
    input_grads = [input_grads] if len(positions) == 1 else list(input_grads)
    return outs, [np.asarray(g) for g in input_grads], {p.name: np.asarray(g) for p, g in zip(params, param_grads)}


def _torch(value):
    if isinstance(value, tuple):  # a state pair: passed, not differentiated
        return tuple(torch.from_numpy(v) for v in value)
    if isinstance(value, np.ndarray):
        return torch.tensor(value, requires_grad=_floating(value))
    return value


def torch_run(module, args: tuple, kwargs: dict, cotangents: list) -> tuple[list, list, dict[str, np.ndarray]]:
    inputs = [_torch(a) for a in args]
    tkwargs = {k: _torch(v) for k, v in kwargs.items()}
    for p in module.parameters():
        p.grad = None
    with torch.no_grad():  # funcad runs the model twice too (outputs, then gradients): statistics move alike
        module(*inputs, **tkwargs)
    outs = [o for o in _leaves(module(*inputs, **tkwargs)) if isinstance(o, torch.Tensor)]
    total = sum((o * torch.from_numpy(c)).sum() for o, c in zip(outs, cotangents))
    if isinstance(total, torch.Tensor) and total.requires_grad:
        total.backward()
    grads = {n: (p.grad.numpy() if p.grad is not None else np.zeros(tuple(p.shape))) for n, p in module.named_parameters() if p.requires_grad}
    input_grads = [x.grad.numpy() if x.grad is not None else np.zeros(tuple(x.shape)) for x in inputs
                   if isinstance(x, torch.Tensor) and x.requires_grad]
    return [o.detach().numpy() for o in outs], input_grads, grads


def assert_same_model(cell, module, name_map: dict[str, str], args, train: bool, kwargs: dict | None = None,
                      grad_rtol: float | None = None) -> None:
    """Outputs, gradients (floating inputs and every trainable parameter) and all statistics agree, through ``name_map``
    (funcad -> torch). ``args`` is one input array or a tuple of call arguments; ``grad_rtol`` loosens the input
    gradients' tolerance where torch's derivative is the less accurate one."""
    args = args if isinstance(args, tuple) else (args,)
    kwargs = kwargs or {}
    cell.set_train(train)
    module.train(train)
    probe = copy.deepcopy(cell)  # a copy: statistics move once per pass on each side
    shapes = [np.shape(o) for o in _leaves(probe(*[_funcad(a) for a in args], **{k: _funcad(v) for k, v in kwargs.items()}))]
    rng = np.random.default_rng(7)
    cotangents = [rng.standard_normal(s) for s in shapes]
    f_outs, f_gx, f_grads = funcad_run(cell, args, kwargs, cotangents)
    t_outs, t_gx, t_grads = torch_run(module, args, kwargs, cotangents)
    assert len(f_outs) == len(t_outs)
    for f, t in zip(f_outs, t_outs):
        np.testing.assert_allclose(f, t, **TOL)
    for f, t in zip(f_gx, t_gx, strict=True):
        np.testing.assert_allclose(f, t, **(TOL if grad_rtol is None else {**TOL, "rtol": grad_rtol}))
    assert sorted(name_map[n] for n in f_grads) == sorted(t_grads)
    for name, grad in f_grads.items():
        np.testing.assert_allclose(grad, t_grads[name_map[name]], **TOL, err_msg=name)
    tstate = torch_state(module)
    for name, value in funcad_state(cell).items():  # running statistics after the same number of forward passes
        if name in name_map:
            np.testing.assert_allclose(np.asarray(value), tstate[name_map[name]].detach().numpy(), **TOL, err_msg=name)
