"""Shared fixtures: the check of a funcad Cell against a torch module with the same weights, in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import ops


def _copy_weights(cell, module, torch_prefix: str = "") -> None:
    """Copy every funcad parameter into the torch module under its torch state_dict name."""
    names = cell.torch_parameter_names()
    state = module.state_dict()
    with torch.no_grad():
        for name, p in cell.parameters_and_names():
            state[torch_prefix + names[name]].copy_(torch.from_numpy(np.array(p)))


def _assert_matches_torch(cell, module, x, torch_prefix: str = "", seed: int = 0, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """Same output, input gradient and parameter gradients for a random cotangent (float64)."""
    _copy_weights(cell, module, torch_prefix)
    tx = torch.tensor(np.asarray(x), requires_grad=np.issubdtype(np.asarray(x).dtype, np.floating))
    ty = module(tx)
    cot = np.random.default_rng(seed).normal(size=tuple(ty.shape))
    (ty * torch.from_numpy(cot)).sum().backward()

    weights = cell.trainable_params()
    differentiate_input = tx.requires_grad

    def loss(inp):
        out = cell(inp)
        return ops.sum(out * cot), out

    positions = 0 if differentiate_input else None
    (_, out), grads = funcad.value_and_grad(loss, positions, weights or None, has_aux=True)(x)
    np.testing.assert_allclose(np.asarray(out), ty.detach().numpy(), rtol=rtol, atol=atol)
    gx, gw = (grads if weights else (grads, ())) if differentiate_input else (None, grads)
    if differentiate_input:
        np.testing.assert_allclose(np.asarray(gx), tx.grad.numpy(), rtol=rtol, atol=atol)
    names = cell.torch_parameter_names()
    torch_params = dict(module.named_parameters())
    by_id = {id(p): n for n, p in cell.parameters_and_names()}
    for w, g in zip(weights, gw):
        expected = torch_params[torch_prefix + names[by_id[id(w)]]].grad
        np.testing.assert_allclose(np.asarray(g), expected.numpy(), rtol=rtol, atol=atol, err_msg=by_id[id(w)])


@pytest.fixture
def copy_weights():
    """``copy_weights(cell, module, torch_prefix="")``: every funcad parameter into the torch module by its torch name."""
    return _copy_weights


@pytest.fixture
def assert_matches_torch():
    """``assert_matches_torch(cell, module, x, ...)``: same output, input and parameter gradients as torch (float64)."""
    return _assert_matches_torch
