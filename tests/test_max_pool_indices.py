"""max_pool2d's indices (return_indices) and ceil_mode, by op, by layer and through torch_ref, against torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import nn, ops
from torch_ref import mirror
from torch_ref.to_funcad import funcad_twin

RNG = np.random.default_rng(5)
GEOMETRIES = [(2, 2, 0, False), (3, 2, 1, False), (3, 2, 1, True), (2, 2, 1, True), (3, 1, 1, False), ((3, 2), (2, 3), (1, 0), True),
              (2, 3, 0, True)]


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", GEOMETRIES)
def test_values_indices_and_gradient_equal_torch_s(kernel, stride, padding, ceil_mode):
    x = RNG.standard_normal((2, 3, 7, 8))
    x[0, 0, :2, :2] = 1.5  # a tie: the first in scan order wins, as torch
    x[1, 2, 3, 3] = np.nan  # NaN wins its windows, as torch
    tx = torch.tensor(x, requires_grad=True)
    values, indices = F.max_pool2d(tx, kernel, stride, padding, ceil_mode=ceil_mode, return_indices=True)
    cot = RNG.standard_normal(tuple(values.shape))
    (values.nan_to_num() * torch.tensor(cot)).sum().backward()
    pool = lambda a: ops.max_pool2d(a, kernel, stride, padding, return_indices=True, ceil_mode=ceil_mode)  # noqa: E731
    for run in (pool, funcad.jit(pool)):
        v, i = run(x)
        np.testing.assert_array_equal(np.asarray(v), values.detach().numpy())
        np.testing.assert_array_equal(np.asarray(i), indices.numpy())
        assert np.asarray(i).dtype == np.int64
    grad = funcad.grad(lambda a: ops.sum(ops.nan_to_num(pool(a)[0]) * cot))(x)
    np.testing.assert_array_equal(np.asarray(grad), tx.grad.numpy())


@pytest.mark.parametrize("rank", [1, 2])
def test_layers_return_indices_as_torch_s_and_translate_both_ways(rank):
    shape, funcad_type, torch_type = ((2, 3, 11), nn.MaxPool1d, torch.nn.MaxPool1d) if rank == 1 else ((2, 3, 7, 6), nn.MaxPool2d, torch.nn.MaxPool2d)
    x = RNG.standard_normal(shape)
    module = torch_type(3, 2, 1, return_indices=True, ceil_mode=True)
    want_values, want_indices = module(torch.tensor(x))
    cell = funcad_type(3, 2, "pad", 1, return_indices=True, ceil_mode=True)
    for layer in (cell, funcad_twin(module).cell):
        values, indices = layer(x)
        np.testing.assert_array_equal(np.asarray(values), want_values.numpy())
        np.testing.assert_array_equal(np.asarray(indices), want_indices.numpy())
    back_values, back_indices = mirror(cell)(torch.tensor(x))
    assert torch.equal(back_indices, want_indices) and torch.equal(back_values, want_values)


DILATED = [(3, 2, 1, 2, False), ((2, 3), (1, 2), (1, 0), (2, 1), True), (2, 1, 1, 3, True), (3, 3, (1, 1), (1, 2), False)]


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", DILATED)
def test_dilated_values_indices_and_gradient_equal_torch_s(kernel, stride, padding, dilation, ceil_mode):
    """Dilated windows (the tap path): values, torch's flat indices into each plane, and gradients, eager and under jit."""
    x = RNG.standard_normal((2, 3, 9, 10))
    x[0, 0, :4, :4] = 1.5  # ties: the first tap in scan order wins, as torch
    x[1, 2, 4, 4] = np.nan
    tx = torch.tensor(x, requires_grad=True)
    values, indices = F.max_pool2d(tx, kernel, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
    cot = RNG.standard_normal(tuple(values.shape))
    (values.nan_to_num() * torch.tensor(cot)).sum().backward()
    pool = lambda a: ops.max_pool2d(a, kernel, stride, padding, dilation, return_indices=True, ceil_mode=ceil_mode)  # noqa: E731
    for run in (pool, funcad.jit(pool)):
        v, i = run(x)
        np.testing.assert_array_equal(np.asarray(v), values.detach().numpy())
        np.testing.assert_array_equal(np.asarray(i), indices.numpy())
    g = funcad.grad(lambda a: ops.sum(ops.nan_to_num(pool(a)[0]) * cot))(x)
    np.testing.assert_allclose(np.asarray(g), tx.grad.numpy(), rtol=1e-12)


def test_options_funcad_lacks_are_named():
    with pytest.raises(ValueError, match=r"funcad.ops.max_pool2d: padding \(2, 2, 2, 2\) must be at most half the kernel \(2, 2\)"):
        ops.max_pool2d(np.zeros((1, 1, 6, 6)), 2, padding=2, dilation=2)
    with pytest.raises(ValueError, match=r"max_pool2d: input \(1, 1, 4, 4\) padded by \(0, 0, 0, 0\) is smaller than the dilated kernel \(5, 5\)"):
        ops.max_pool2d(np.zeros((1, 1, 4, 4)), 3, dilation=2)
    with pytest.raises(ValueError, match=r"funcad.ops.max_pool2d: kernel_size \(2, 2\), stride \(2, 2\) and dilation \(0, 2\) must be positive"):
        ops.max_pool2d(np.zeros((1, 1, 4, 4)), 2, dilation=(0, 2))
    with pytest.raises(ValueError, match=r"funcad.ops.max_pool2d: expected a floating-point 4-D input \(N, C, H, W\), got float64\[1, 4, 4\]"):
        ops.max_pool2d(np.zeros((1, 4, 4)), 2, dilation=2)
    with pytest.raises(ValueError, match=r"funcad.ops.max_pool3d: expected a floating-point 5-D input \(N, C, D, H, W\), got int64\[1, 1, 4, 4\]"):
        ops.max_pool3d(np.zeros((1, 1, 4, 4), np.int64), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"MaxPool2d: dilation=\(2, 1\), data_format='NCHW': only dilation 1"):
        nn.MaxPool2d(2, dilation=(2, 1))
