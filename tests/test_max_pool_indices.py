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
    with pytest.raises(ValueError, match=r"MaxPool2d: data_format='NHWC': only 'NCHW' is supported"):
        nn.MaxPool2d(2, data_format="NHWC")
    with pytest.raises(ValueError, match=r"MaxPool3d: dilation must be a positive int or a tuple of 3 of them, got \(2, 0, 1\)"):
        nn.MaxPool3d(2, dilation=(2, 0, 1))


_TORCH_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_LAYERS = {1: (nn.MaxPool1d, torch.nn.MaxPool1d), 2: (nn.MaxPool2d, torch.nn.MaxPool2d), 3: (nn.MaxPool3d, torch.nn.MaxPool3d)}
_SHAPES = {1: (2, 3, 13), 2: (2, 3, 9, 10), 3: (2, 2, 7, 9, 8)}


def _layer_case(cell, want_values, want_indices, reference_input):
    """The layer's values and indices equal torch's, and its gradient (through the values) torch autograd's."""
    x = reference_input.detach().numpy()
    values, indices = cell(x)
    np.testing.assert_array_equal(np.asarray(values), want_values.detach().numpy())
    np.testing.assert_array_equal(np.asarray(indices), want_indices.numpy())
    assert np.asarray(indices).dtype == np.int64
    cot = RNG.standard_normal(tuple(want_values.shape))
    (want_values * torch.tensor(cot)).sum().backward()
    grad = funcad.grad(lambda a: ops.sum(cell(a)[0] * cot))(x)
    np.testing.assert_allclose(np.asarray(grad), reference_input.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("pad_mode, padding", [("valid", 0), ("pad", 1)])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_dilated_layers_equal_torch_s(rank, pad_mode, padding, ceil_mode):
    """MaxPool1d/2d/3d with dilation 2 and indices: values, indices and gradients as torch's in float64; ceil_mode's last
    partial window follows the dilated kernel's span."""
    x = RNG.standard_normal(_SHAPES[rank])
    tx = torch.tensor(x, requires_grad=True)
    values, indices = _TORCH_POOL[rank](tx, 3, 2, padding, 2, ceil_mode=ceil_mode, return_indices=True)
    cell = _LAYERS[rank][0](3, 2, pad_mode, padding, dilation=2, return_indices=True, ceil_mode=ceil_mode)
    _layer_case(cell, values, indices, tx)


def _same_reference(x: np.ndarray, kernel: int, stride: int, dilation: int):
    """MindSpore's 'same' by hand: ceil(n / stride) outputs, the padding the dilated span needs (odd extra at the end) as
    -inf, torch's pool over that; its indices moved back into the unpadded input."""
    spatial = x.shape[2:]
    totals = [max((-(-n // stride) - 1) * stride + dilation * (kernel - 1) + 1 - n, 0) for n in spatial]
    widths = [(t // 2, t - t // 2) for t in totals]
    tx = torch.tensor(x, requires_grad=True)
    flat_widths = [w for pair in reversed(widths) for w in pair]
    padded = F.pad(tx, flat_widths, value=-np.inf)
    values, indices = _TORCH_POOL[len(spatial)](padded, kernel, stride, 0, dilation, return_indices=True)
    coords = np.unravel_index(indices.numpy(), padded.shape[2:])
    unpadded = np.ravel_multi_index(tuple(c - lo for c, (lo, _) in zip(coords, widths)), spatial)
    return tx, values, torch.tensor(unpadded), max(max(w) for w in widths)


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("kernel, stride, dilation", [(3, 1, 2), (2, 2, 2), (3, 2, 3)])
def test_dilated_same_layers_equal_an_explicitly_padded_torch_pool(rank, kernel, stride, dilation):
    """'same' pads for the dilated span (here beyond the half kernel torch's pools take, too): values, indices into the
    unpadded input, gradients."""
    x = RNG.standard_normal(_SHAPES[rank])
    tx, values, indices, widest = _same_reference(x, kernel, stride, dilation)
    assert values.shape[2:] == tuple(-(-n // stride) for n in x.shape[2:])
    cell = _LAYERS[rank][0](kernel, stride, "same", dilation=dilation, return_indices=True)
    _layer_case(cell, values, indices, tx)
    if (kernel, dilation) == (3, 2):
        assert widest > kernel // 2  # the case the ops alone would refuse
    np.testing.assert_array_equal(np.asarray(_LAYERS[rank][0](kernel, stride, "same", dilation=dilation)(x)), values.detach().numpy())


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_dilated_layers_with_indices_translate_both_ways(rank):
    funcad_type, torch_type = _LAYERS[rank]
    x = RNG.standard_normal(_SHAPES[rank])
    module = torch_type(3, 2, 1, 2, return_indices=True, ceil_mode=True)
    want_values, want_indices = module(torch.tensor(x))
    cell = funcad_type(3, 2, "pad", 1, dilation=2, return_indices=True, ceil_mode=True)
    twin = funcad_twin(module).cell
    assert (type(twin), twin.dilation, twin.return_indices) == (funcad_type, cell.dilation, True)
    values, indices = twin(x)
    np.testing.assert_array_equal(np.asarray(values), want_values.numpy())
    np.testing.assert_array_equal(np.asarray(indices), want_indices.numpy())
    back_values, back_indices = mirror(cell)(torch.tensor(x))
    assert torch.equal(back_indices, want_indices) and torch.equal(back_values, want_values)
