"""Shared fixtures: every test starts and ends in PYNATIVE_MODE with the default context; a funcad Cell checked
against its torch counterpart with the same weights, and a funcad op against its torch counterpart, in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import ops
from funcad.context import reset_context
from funcad.testing import assert_close, check_grads


@pytest.fixture(autouse=True)
def _default_context():
    reset_context()
    yield
    reset_context()


def _copy_weights(cell, module, torch_prefix: str = "") -> None:
    """Copy every funcad parameter into the torch module under its torch state_dict name."""
    names = cell.torch_parameter_names()
    state = module.state_dict()
    with torch.no_grad():
        for name, p in cell.parameters_and_names():
            state[torch_prefix + names[name]].copy_(torch.from_numpy(np.array(p)))


def _to_torch(value):
    """Nested tuples of arrays as torch tensors; floating-point ones require grad."""
    if isinstance(value, (tuple, list)):
        return type(value)(_to_torch(v) for v in value)
    if isinstance(value, np.ndarray):
        return torch.tensor(value, requires_grad=np.issubdtype(value.dtype, np.floating))
    return value


def _torch_kwargs(kwargs: dict) -> dict:
    """Keyword arguments for the torch call: arrays (masks, lengths) as tensors."""
    return {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def _leaves(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [] if value is None else [value]


def _is_float_array(value) -> bool:
    leaves = _leaves(value)
    return bool(leaves) and all(isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating) for v in leaves)


def _assert_layer_matches(cell, module, args: tuple, kwargs: dict | None = None, torch_call=None, torch_prefix: str = "",
                         seed: int = 0, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """``cell(*args, **kwargs)`` against ``torch_call(module, *torch_args)`` (default ``module(*torch_args, **kwargs)``).

    Floating-point arrays in ``args`` (possibly inside tuples) are differentiated; other arguments pass through.
    """
    kwargs = kwargs or {}
    _copy_weights(cell, module, torch_prefix)
    module.zero_grad(set_to_none=True)
    targs = _to_torch(args)
    tout = torch_call(module, *targs) if torch_call is not None else module(*targs, **_torch_kwargs(kwargs))
    touts = [t for t in _leaves(tout) if isinstance(t, torch.Tensor)]
    rng = np.random.default_rng(seed)
    cots = [rng.normal(size=tuple(t.shape)) for t in touts]
    total = sum((t * torch.from_numpy(c)).sum() for t, c in zip(touts, cots) if t.requires_grad)
    if isinstance(total, torch.Tensor):
        total.backward()

    positions = tuple(i for i, a in enumerate(args) if _is_float_array(a))
    weights = cell.trainable_params()

    def loss(*inputs):
        outs = _leaves(cell(*inputs, **kwargs))
        return (sum(ops.sum(o * c) for o, c in zip(outs, cots)), *outs)

    grad_fn = funcad.value_and_grad(loss, positions or None, weights or None, has_aux=True)
    (_, *outs), grads = grad_fn(*args)
    assert len(outs) == len(touts), f"{len(outs)} outputs against torch's {len(touts)}"
    for i, (o, t) in enumerate(zip(outs, touts)):
        np.testing.assert_allclose(np.asarray(o), t.detach().numpy(), rtol=rtol, atol=atol, err_msg=f"output {i}")
    if positions and weights:
        input_grads, weight_grads = grads
    elif positions:
        input_grads, weight_grads = grads, ()
    else:
        input_grads, weight_grads = (), grads
    if len(positions) == 1:  # one input gradient comes back bare; a list of weights always gives a tuple
        input_grads = (input_grads,)
    for pos, g in zip(positions, input_grads):
        for k, (gi, ti) in enumerate(zip(_leaves(g), _leaves(targs[pos]))):
            expected = ti.grad.numpy() if ti.grad is not None else np.zeros(tuple(ti.shape))
            np.testing.assert_allclose(np.asarray(gi), expected, rtol=rtol, atol=atol, err_msg=f"gradient of input {pos}[{k}]")
    names = cell.torch_parameter_names()
    torch_params = dict(module.named_parameters())
    by_id = {id(p): n for n, p in cell.parameters_and_names()}
    for w, g in zip(weights, weight_grads):
        param = torch_params[torch_prefix + names[by_id[id(w)]]]
        expected = param.grad.numpy() if param.grad is not None else np.zeros(tuple(param.shape))
        np.testing.assert_allclose(np.asarray(g), expected, rtol=rtol, atol=atol, err_msg=f"gradient of {by_id[id(w)]}")


@pytest.fixture
def copy_weights():
    """``copy_weights(cell, module, torch_prefix="")``: every funcad parameter into the torch module by its torch name."""
    return _copy_weights


@pytest.fixture
def assert_layer_matches():
    """``assert_layer_matches(cell, module, args, kwargs=None, torch_call=None, ...)``: the outputs, the gradients of the
    floating-point inputs and of the parameters equal torch's (float64), for random cotangents on every output."""
    return _assert_layer_matches


@pytest.fixture
def assert_matches_torch():
    """``assert_matches_torch(cell, module, x, ...)``: the same check for a Cell of one input ``x``."""
    return lambda cell, module, x, **options: _assert_layer_matches(cell, module, (x,), **options)


@pytest.fixture
def torch_kwargs():
    """``torch_kwargs(kwargs)``: keyword arguments for the torch call, arrays (masks, lengths) as tensors."""
    return _torch_kwargs


def _assert_op_matches_torch(fc, th, arrays, diff=None, fd=True, fwd=True, order=1, seed=0, fd_rtol=None, rtol=1e-9,
                             atol=1e-11, forward_rtol=1e-10, forward_atol=1e-12) -> None:
    """Forward values and gradients (positions ``diff``, default all) of funcad ``fc`` against torch ``th`` for a random
    cotangent; with ``fd``, reverse (and with ``fwd`` forward) mode against finite differences up to ``order``."""
    diff = tuple(range(len(arrays))) if diff is None else tuple(diff)
    rng = np.random.default_rng(seed)
    out = fc(*arrays)
    ts = [torch.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    t_out = th(*ts)
    assert_close(out, t_out.detach().numpy(), rtol=forward_rtol, atol=forward_atol)
    w = rng.standard_normal(np.shape(np.asarray(out)))
    grads = funcad.grad(lambda *a: ops.sum(fc(*a) * w), diff)(*arrays)
    grads = grads if isinstance(grads, tuple) else (grads,)
    if t_out.requires_grad:
        (t_out * torch.tensor(w)).sum().backward()
    for i, g in zip(diff, grads):
        expected = ts[i].grad.numpy() if ts[i].grad is not None else np.zeros_like(arrays[i])
        assert_close(g, expected, rtol=rtol, atol=atol, msg=f"gradient of argument {i}: ")
    if fd:
        def only_diff(*xs):
            full = list(arrays)
            for i, x in zip(diff, xs):
                full[i] = x
            return fc(*full)

        check_grads(only_diff, [arrays[i] for i in diff], order=order, modes=("rev", "fwd") if fwd else ("rev",), rtol=fd_rtol)


@pytest.fixture(scope="session")  # session-wide: hypothesis refuses function-scoped fixtures in @given tests
def assert_op_matches_torch():
    """``assert_op_matches_torch(fc, th, arrays, diff=None, fd=True, fwd=True, order=1, seed=0, fd_rtol=None, rtol=1e-9)``:
    funcad op ``fc`` against torch function ``th`` (values, gradients), then against finite differences."""
    return _assert_op_matches_torch


@pytest.fixture(scope="session")
def assert_op_close_to_torch():
    """``assert_op_close_to_torch(fc, th, arrays, rtol=1e-10, atol=1e-10)``: values and the gradients of every array agree
    with torch within one tolerance (no finite differences: for ops with kinks, pools, ties)."""
    def check(fc, th, arrays, rtol: float = 1e-10, atol: float = 1e-10) -> None:
        _assert_op_matches_torch(fc, th, arrays, fd=False, rtol=rtol, atol=atol, forward_rtol=rtol, forward_atol=atol)

    return check


@pytest.fixture
def float64_default():
    """Tensors the forwards create without a dtype are float64, as in the harness's float64 run."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(default)
