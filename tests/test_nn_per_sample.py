"""Per-sample gradients of Cells (an MLP and a small LeNet) against torch.func's vmap(grad(functional_call)), in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call, grad, vmap

import funcad
from funcad import nn, ops
from funcad.testing import assert_close
from tests.conftest import _copy_weights


def _mlp():
    cell = nn.SequentialCell(nn.Dense(6, 5, dtype=funcad.float64), nn.ReLU(), nn.Dense(5, 3, dtype=funcad.float64))
    module = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    return cell, module, np.random.default_rng(0).standard_normal((7, 6))


def _lenet():
    cell = nn.SequentialCell(nn.Conv2d(1, 2, 3, pad_mode="valid", has_bias=True, dtype=funcad.float64), nn.ReLU(), nn.MaxPool2d(2, 2),
                             nn.Flatten(), nn.Dense(8, 3, dtype=funcad.float64))
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(8, 3)).double()
    return cell, module, np.random.default_rng(1).standard_normal((5, 1, 6, 6))


@pytest.mark.parametrize("build", [_mlp, _lenet])
def test_per_sample_gradients_match_torch_func(build):
    funcad.set_seed(0)
    cell, module, x = build()
    _copy_weights(cell, module)
    y = np.random.default_rng(2).integers(0, 3, x.shape[0])
    grads = nn.per_sample_grads(cell, ops.cross_entropy, x, y)

    params = {k: v.detach() for k, v in module.named_parameters()}

    def sample_loss(p, xi, yi):
        return torch.nn.functional.cross_entropy(functional_call(module, p, (xi[None],)), yi[None])

    expected = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, torch.tensor(x), torch.tensor(y))
    names = cell.torch_parameter_names()
    for (name, _), g in zip(cell.parameters_and_names(), grads):
        assert g.shape == (x.shape[0],) + tuple(expected[names[name]].shape[1:])
        assert_close(g, expected[names[name]].numpy(), rtol=1e-9, atol=1e-11, msg=name)


def test_the_one_liner_equals_the_helper_and_runs_under_jit():
    funcad.set_seed(0)
    cell, _, x = _mlp()
    y = np.arange(x.shape[0]) % 3
    weights = cell.trainable_params()

    def forward(xi, yi):
        return ops.cross_entropy(cell(ops.expand_dims(xi, 0)), ops.expand_dims(yi, 0))

    one_liner = funcad.vmap(funcad.grad(forward, None, weights), in_axes=(0, 0))
    for a, b, c in zip(one_liner(x, y), funcad.jit(one_liner)(x, y), nn.per_sample_grads(cell, ops.cross_entropy, x, y)):
        assert_close(a, c)
        assert_close(b, c, rtol=1e-12, atol=1e-14)
