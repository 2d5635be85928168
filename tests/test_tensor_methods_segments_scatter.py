"""Tensor.unsorted_segment_min/max/prod and Tensor.scatter_div/mul/max/min (MindSpore's methods, which run
ops.unsorted_segment_* and ops.tensor_scatter_*), against numpy and the outputs MindSpore's documentation prints."""

import numpy as np
import pytest

import funcad
from funcad import Tensor

RNG = np.random.default_rng(11)


@pytest.mark.parametrize("method, reduce, empty", [("unsorted_segment_min", np.minimum, np.finfo(np.float64).max),
                                                   ("unsorted_segment_max", np.maximum, np.finfo(np.float64).min),
                                                   ("unsorted_segment_prod", np.multiply, 1.0)])
def test_unsorted_segment_methods_equal_numpy(method, reduce, empty):
    x = RNG.standard_normal((6, 3))
    ids = np.array([2, 0, 2, 2, 0, 1])
    want = np.full((4, 3), empty)  # segment 3 holds nothing
    for row, k in zip(x, ids):
        want[k] = reduce(want[k], row)
    got = getattr(Tensor(x), method)(Tensor(ids.astype(np.int32)), 4)
    np.testing.assert_array_equal(got.asnumpy(), want)
    np.testing.assert_array_equal(getattr(Tensor(x), method)(segment_ids=Tensor(ids.astype(np.int32)), num_segments=4).asnumpy(), want)


def test_unsorted_segment_methods_print_mindspore_s_documented_outputs():
    x = Tensor(np.array([[1, 2, 3], [4, 5, 6], [4, 2, 1]], np.float32))
    np.testing.assert_array_equal(x.unsorted_segment_min(Tensor(np.array([0, 1, 1], np.int32)), 2).asnumpy(), [[1, 2, 3], [4, 2, 1]])
    np.testing.assert_array_equal(x.unsorted_segment_prod(Tensor(np.array([0, 1, 0], np.int32)), 2).asnumpy(), [[4, 4, 3], [4, 5, 6]])


@pytest.mark.parametrize("method, combine", [("scatter_div", np.divide), ("scatter_mul", np.multiply),
                                             ("scatter_max", np.maximum), ("scatter_min", np.minimum)])
def test_scatter_methods_equal_numpy(method, combine):
    """Index vectors in the last axis of ``indices``; a repeated position combines each update in turn."""
    x = RNG.standard_normal((4, 3))
    indices = np.array([[0, 1], [3, 2], [0, 1], [2, 0]])
    updates = RNG.uniform(0.5, 2.0, 4) * RNG.choice([-1.0, 1.0], 4)
    want = x.copy()
    for (i, j), u in zip(indices, updates):
        want[i, j] = combine(want[i, j], u)
    got = getattr(Tensor(x), method)(Tensor(indices.astype(np.int32)), Tensor(updates))
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-15)
    np.testing.assert_array_equal(x, Tensor(x).asnumpy())  # a new Tensor: the input is left as it was
    rows = getattr(Tensor(x), method)(Tensor(np.array([[1], [3]], np.int64)), Tensor(np.full((2, 3), 2.0)))
    want_rows = x.copy()
    want_rows[[1, 3]] = combine(x[[1, 3]], 2.0)
    np.testing.assert_allclose(rows.asnumpy(), want_rows, rtol=1e-15)


def test_scatter_methods_print_mindspore_s_documented_outputs():
    x = Tensor(np.array([[-0.1, 0.3, 3.6], [0.4, 0.5, -3.2]], np.float32))
    at = Tensor(np.array([[0, 0], [0, 0]], np.int32))
    np.testing.assert_allclose(x.scatter_div(at, Tensor(np.array([1.0, 2.0], np.float32))).asnumpy(), [[-0.05, 0.3, 3.6], [0.4, 0.5, -3.2]])
    np.testing.assert_allclose(x.scatter_mul(at, Tensor(np.array([1.0, 2.2], np.float32))).asnumpy(), [[-0.22, 0.3, 3.6], [0.4, 0.5, -3.2]],
                               rtol=1e-6)


def test_segment_prod_and_scatter_mul_methods_differentiate_in_closed_form():
    """d sum(segment products) / dx_i is the product of the others in x_i's segment; d sum(scatter_mul) / dx is 1, or the
    product of the updates at a scattered position."""
    x = RNG.uniform(0.5, 2.0, (5, 2))
    ids = np.array([1, 0, 1, 1, 0])
    grad = funcad.grad(lambda a: a.unsorted_segment_prod(Tensor(ids.astype(np.int32)), 2).sum())(Tensor(x))
    products = np.stack([x[ids == k].prod(0) for k in range(2)])
    np.testing.assert_allclose(np.asarray(grad), products[ids] / x, rtol=1e-13)
    indices, updates = np.array([[0, 1], [4, 0], [0, 1]], np.int32), np.array([3.0, -2.0, 0.5])
    grad = funcad.grad(lambda a: a.scatter_mul(Tensor(indices), Tensor(updates)).sum())(Tensor(x))
    want = np.ones_like(x)
    want[0, 1], want[4, 0] = 3.0 * 0.5, -2.0
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-15)
