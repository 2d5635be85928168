"""Max pooling's choice of input per window (funcad.ops.pool) against torch's own max pools' indices and gradients:
ties, NaN, -inf (whole windows of -inf beside the padding, which ties with it), padding, strides and dilation, in
every floating dtype."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import ops
from funcad.ops import pool
from funcad.ops.conv_geometry import Geometry


def _torch_pool(x: np.ndarray, kernel, stride, padding, dilation):
    t = torch.from_numpy(x.astype(np.float32)).to(torch.bfloat16) if x.dtype == ml_dtypes.bfloat16 else torch.from_numpy(x)
    values, index = F.max_pool2d(t, kernel, stride, padding, dilation, return_indices=True)
    return values.float().numpy(), index.numpy()


def _inputs(rng, shape, dtype):
    x = rng.integers(-2, 3, shape).astype(np.float64)  # few values: many ties
    x[rng.random(shape) < 0.1] = np.nan
    x[rng.random(shape) < 0.1] = -np.inf
    x[0, 0] = -np.inf
    x[0, 0, 0, -1] = 9.0  # a finite value the flat index of a padding tap would reach
    x[0, 1, :2] = np.nan  # windows with several NaN
    return x.astype(dtype)


GEOMETRIES = [(2, 2, 0), (3, 1, 1), (3, 2, 1), ((3, 2), (1, 2), (1, 0))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("kernel, stride, padding", GEOMETRIES)
def test_the_argmax_primitive_chooses_torchs_input(dtype, kernel, stride, padding):
    x = _inputs(np.random.default_rng(0), (2, 3, 7, 8), dtype)
    k, s, p = (v if isinstance(v, tuple) else (v, v) for v in (kernel, stride, padding))
    _, expected = _torch_pool(x, k, s, p, 1)
    got = pool._max_pool_argmax.impl(x, geo=Geometry(k, s, (p[0], p[0], p[1], p[1]), (1, 1)))
    n, c, h, w = x.shape
    np.testing.assert_array_equal(got - (np.arange(n * c) * h * w).reshape(n, c, 1, 1), expected)


@pytest.mark.parametrize("kernel, stride, padding, dilation", [g + (1,) for g in GEOMETRIES] + [(2, 1, 1, 2), (3, 2, 1, (2, 1))])
def test_max_pool2d_values_and_indices_are_torchs_where_windows_hold_only_minus_infinity(kernel, stride, padding, dilation):
    x = _inputs(np.random.default_rng(1), (2, 3, 7, 8), np.float64)
    values, index = ops.max_pool2d(funcad.Tensor(x), kernel, stride, padding, dilation, return_indices=True)
    expected_values, expected_index = _torch_pool(x, kernel, stride, padding, dilation)
    np.testing.assert_array_equal(np.asarray(values), expected_values)
    np.testing.assert_array_equal(np.asarray(index), expected_index)


@pytest.mark.parametrize("op, torch_op, shape, kwargs", [
    (ops.max_pool3d, F.max_pool3d, (1, 2, 5, 6, 5), {"kernel_size": 3, "stride": 2, "padding": 1}),
])
def test_the_general_max_pools_route_gradients_as_torch_through_ties_nan_and_minus_infinity_windows(op, torch_op, shape, kwargs):
    x = _inputs(np.random.default_rng(2), shape, np.float64)
    g = np.random.default_rng(3).standard_normal(torch_op(torch.from_numpy(x), **kwargs).shape)
    grad = funcad.grad(lambda a: (op(a, **kwargs) * funcad.Tensor(g)).sum())(funcad.Tensor(x))
    tx = torch.from_numpy(x).requires_grad_(True)
    (torch_op(tx, **kwargs) * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(np.asarray(grad), tx.grad.numpy(), rtol=1e-14, atol=0)  # overlapping windows add in another order


def test_max_pool3d_gives_a_tie_across_frames_to_the_first_frame_as_torch():
    """The depth step took amax, whose gradient splits between equal maxima: a third to each of three frames where
    torch's max_pool3d gives it all to the first."""
    x = np.zeros((1, 1, 3, 2, 2))
    grad = funcad.grad(lambda a: ops.max_pool3d(a, (3, 2, 2)).sum())(funcad.Tensor(x))
    tx = torch.from_numpy(x).requires_grad_(True)
    F.max_pool3d(tx, (3, 2, 2)).sum().backward()
    np.testing.assert_array_equal(np.asarray(grad), tx.grad.numpy())
    assert np.asarray(grad)[0, 0, 0, 0, 0] == 1.0
