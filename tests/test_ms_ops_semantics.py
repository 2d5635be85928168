"""funcad.ops against MindSpore 2.x's documented semantics: the example outputs its documentation prints (copied by
hand), and numpy and torch (float64 autograd) for values and gradients. Each function here once differed from
MindSpore without an error: a tuple where MindSpore returns one, sizes read as section counts, other defaults."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import Tensor, ops
from funcad.testing import assert_close as _assert_close

RNG = np.random.default_rng(5)
TIES = np.array([[3.0, 3.0, 1.0, 0.5], [0.0, 5.0, 5.0, -1.0], [2.0, -4.0, 2.0, 2.0]])  # tied extrema in every row


def assert_close(actual, expected, **tolerances) -> None:
    """funcad.testing.assert_close, with the documentation's printed values given as nested lists."""
    _assert_close(actual, np.asarray(expected) if isinstance(expected, list) else expected, **tolerances)


def _np(t) -> np.ndarray:
    return np.asarray(t)


def _torch_grad(fn, x: np.ndarray) -> np.ndarray:
    """d sum(fn(x) * w) / dx by torch autograd in float64, w a fixed random weight of the output's shape."""
    xt = torch.tensor(x, requires_grad=True)
    out = fn(xt)
    (out * torch.tensor(np.linspace(0.5, 1.5, out.numel()).reshape(out.shape))).sum().backward()
    return xt.grad.numpy()


def _funcad_grad(fn, x: np.ndarray) -> np.ndarray:
    def loss(a):
        out = fn(a)
        return ops.sum(out * Tensor(np.linspace(0.5, 1.5, int(np.prod(out.shape))).reshape(out.shape)))
    return _np(funcad.grad(loss)(Tensor(x)))


# -- ops.max / ops.min: (values, indices) ---------------------------------------------------------------------------
def test_max_and_min_print_the_documented_example():
    x = Tensor(np.array([0.0, 0.4, 0.6, 0.7, 0.1]), funcad.float32)
    output, index = ops.max(x)
    assert float(output) == pytest.approx(0.7) and int(index) == 0  # axis None: the index is 0, as documented
    output, index = ops.min(x, keepdims=True)
    assert float(output) == 0.0 and int(index) == 0


@pytest.mark.parametrize("op, np_value, np_index", [(ops.max, np.max, np.argmax), (ops.min, np.min, np.argmin)])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_and_min_along_an_axis_give_the_values_and_the_first_index(op, np_value, np_index, axis, keepdims):
    values, indices = op(Tensor(TIES), axis, keepdims)
    assert_close(values, np_value(TIES, axis=axis, keepdims=keepdims))
    np.testing.assert_array_equal(_np(indices), np_index(TIES, axis=axis, keepdims=keepdims))  # first of the ties
    assert indices.dtype == np.int32  # MindSpore's ArgMaxWithValue index type


def test_unpacking_max_of_a_two_row_tensor_gives_values_and_indices_not_rows():
    x = Tensor(np.array([[1.0, 9.0, 3.0], [7.0, 2.0, 8.0]]))
    v, i = ops.max(x, 1)
    assert_close(v, [9.0, 8.0])
    np.testing.assert_array_equal(_np(i), [1, 2])


def test_max_and_min_take_initial_and_where_as_numpy():
    x = RNG.standard_normal((3, 5))
    mask = RNG.random((3, 5)) > 0.4
    for op, reduce, arg in ((ops.max, np.max, np.argmax), (ops.min, np.min, np.argmin)):
        values, indices = op(Tensor(x), 1, initial=0.25, where=Tensor(mask))
        assert_close(values, reduce(x, axis=1, initial=0.25, where=mask))
        filled = np.where(mask, np.maximum(x, 0.25) if op is ops.max else np.minimum(x, 0.25), 0.25)
        np.testing.assert_array_equal(_np(indices), arg(filled, axis=1))
    assert_close(ops.amax(Tensor(x), (0, 1), initial=5.0), 5.0)
    assert_close(ops.amin(Tensor(x), 0, where=Tensor(mask), initial=9.0), np.min(x, axis=0, where=mask, initial=9.0))


def test_max_refuses_what_mindspore_refuses():
    x = Tensor(TIES)
    with pytest.raises(TypeError, match=r"funcad.ops.max: axis must be an int or None, got \(0, 1\)"):
        ops.max(x, (0, 1))
    with pytest.raises(ValueError, match="funcad.ops.min: where= needs an initial="):
        ops.min(x, 0, where=Tensor(TIES > 0))
    with pytest.raises(TypeError, match="funcad.ops.amax: initial must be a number, got str"):
        ops.amax(x, 0, initial="0")


def test_max_values_send_the_gradient_to_the_first_extremum_as_torch_max_dim():
    for axis in (0, 1):
        assert_close(_funcad_grad(lambda a, axis=axis: ops.max(a, axis)[0], TIES), _torch_grad(lambda t, axis=axis: torch.max(t, axis).values, TIES))
        assert_close(_funcad_grad(lambda a, axis=axis: ops.min(a, axis, True)[0], TIES),
                     _torch_grad(lambda t, axis=axis: torch.min(t, axis, keepdim=True).values, TIES))
    # every element at once: tied maxima share it (MindSpore's ReduceMax rule, torch.amax's too)
    assert_close(_funcad_grad(lambda a: ops.max(a)[0].reshape((1,)), TIES), _torch_grad(lambda t: torch.amax(t).reshape(1), TIES))
    assert_close(_funcad_grad(lambda a: ops.amax(a, 1), TIES), _torch_grad(lambda t: torch.amax(t, 1), TIES))


def test_max_runs_under_jit_and_vmap():
    x = RNG.standard_normal((4, 6))
    jitted = funcad.jit(lambda a: ops.max(a, 1))
    for got, want in zip(jitted(Tensor(x)), ops.max(Tensor(x), 1)):
        np.testing.assert_array_equal(_np(got), _np(want))
    grad = funcad.jit(funcad.grad(lambda a: ops.sum(ops.min(a, 0)[0] ** 2)))
    xt = torch.tensor(x, requires_grad=True)
    (torch.min(xt, 0).values ** 2).sum().backward()
    assert_close(grad(Tensor(x)), xt.grad.numpy())
    values, indices = funcad.vmap(lambda row: ops.max(row, 0))(Tensor(x))
    assert_close(values, x.max(axis=1))
    np.testing.assert_array_equal(_np(indices), x.argmax(axis=1))


def test_tensor_max_and_min_methods_give_values_unless_asked_for_indices():
    x = Tensor(TIES)
    assert_close(x.max(1), TIES.max(1))
    assert_close(x.min(), TIES.min())
    assert_close(x.max(axis=(0, 1), keepdims=True), TIES.max(keepdims=True))
    values, indices = x.min(0, return_indices=True)
    assert_close(values, TIES.min(0))
    np.testing.assert_array_equal(_np(indices), TIES.argmin(0))
    assert_close(x.max(1, initial=4.0), np.max(TIES, 1, initial=4.0))
    with pytest.raises(ValueError, match=r"Tensor.max: return_indices=True needs one int axis or None, got axis=\(0, 1\)"):
        x.max((0, 1), return_indices=True)


def test_numpy_namespace_keeps_numpy_max_and_split():
    import funcad.numpy as fnp
    assert_close(fnp.max(TIES, axis=1), TIES.max(axis=1))
    assert_close(fnp.min(TIES), TIES.min())
    assert [p.shape for p in fnp.split(TIES, [1, 3], axis=1)] == [(3, 1), (3, 2), (3, 1)]  # numpy's cut indices
    with pytest.raises(ValueError, match="funcad.numpy.split: axis 1 of size 4 does not divide into 3 sections"):
        fnp.split(TIES, 3, axis=1)
    with pytest.raises(ValueError, match="ops.Split: axis 0 of size 3 does not divide into 2 sections"):
        ops.Split(0, 2)(Tensor(TIES))


# -- ops.split: sizes; ops.tensor_split: sections ---------------------------------------------------------------------
def test_split_prints_the_documented_example():
    pieces = ops.split(Tensor(np.arange(9).astype("float32")), 3)
    assert isinstance(pieces, tuple)
    assert [_np(p).tolist() for p in pieces] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]


@pytest.mark.parametrize("sizes", [4, 3, 9, 10, [2, 3, 4], (1, 0, 8), [9]])
def test_split_matches_torch_split(sizes):
    x = RNG.standard_normal((2, 9, 3))
    got = ops.split(Tensor(x), sizes, axis=1)
    want = torch.split(torch.tensor(x), sizes, dim=1)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_close(g, w.numpy())
    assert [tuple(p.shape) for p in Tensor(x).split(sizes, 1)] == [tuple(w.shape) for w in want]  # Tensor.split is ops.split


def test_split_gradient_matches_torch_and_runs_under_jit():
    x = RNG.standard_normal((4, 7))
    def ours(a):
        return ops.concat([p * (i + 1.0) for i, p in enumerate(ops.split(a, 3, axis=1))], axis=1)
    def theirs(t):
        return torch.cat([p * (i + 1.0) for i, p in enumerate(torch.split(t, 3, dim=1))], dim=1)
    assert_close(_funcad_grad(ours, x), _torch_grad(theirs, x))
    assert_close(funcad.jit(ours)(Tensor(x)), theirs(torch.tensor(x)).numpy())
    assert_close(funcad.vmap(lambda row: ops.split(row, [2, 5])[1])(Tensor(x)), x[:, 2:])


def test_split_refuses_sizes_that_do_not_fit():
    x = Tensor(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"funcad.ops.split: sizes \(2, 2\) do not add up to axis 1 of size 5"):
        ops.split(x, [2, 2], axis=1)
    with pytest.raises(ValueError, match="funcad.ops.split: split_size_or_sections must be positive, got 0"):
        ops.split(x, 0)
    with pytest.raises(TypeError, match="funcad.ops.split: split_size_or_sections must be an int or a tuple/list of ints, got 2.5"):
        ops.split(x, 2.5)
    with pytest.raises(ValueError, match=r"funcad.ops.split: axis 2 is out of range for shape \(2, 5\)"):
        ops.split(x, 1, axis=2)


def test_tensor_split_prints_the_documented_example_and_matches_torch():
    pieces = ops.tensor_split(Tensor(np.arange(9).astype("float32")), 3)
    assert [_np(p).tolist() for p in pieces] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
    x = RNG.standard_normal((3, 7))
    for sections in (3, 4, 7, 9, [1, 4], (2, 2, 6)):
        got = ops.tensor_split(Tensor(x), sections, axis=1)
        want = torch.tensor_split(torch.tensor(x), sections, dim=1)
        assert [tuple(g.shape) for g in got] == [tuple(w.shape) for w in want]
        for g, w in zip(got, want):
            assert_close(g, w.numpy())
    with pytest.raises(ValueError, match="funcad.ops.tensor_split: the number of sections must be positive, got 0"):
        ops.tensor_split(Tensor(x), 0)
    with pytest.raises(ValueError, match="funcad.ops.tensor_split: needs an input of at least one dimension"):
        ops.tensor_split(Tensor(1.0), 2)


def test_chunk_still_cuts_into_that_many_pieces():
    x = RNG.standard_normal((2, 7))
    for got, want in zip(ops.chunk(Tensor(x), 3, axis=1), torch.chunk(torch.tensor(x), 3, dim=1)):
        assert_close(got, want.numpy())


# -- other defaults and names MindSpore 2.x has ------------------------------------------------------------------------
def test_smooth_l1_loss_is_unreduced_by_default_as_documented():
    logits = Tensor(np.array([1, 2, 3]), funcad.float32)
    labels = Tensor(np.array([1, 2, 2]), funcad.float32)
    assert_close(ops.smooth_l1_loss(logits, labels), [0.0, 0.0, 0.5])
    assert_close(ops.smooth_l1_loss(logits, labels, reduction="mean"), 0.5 / 3)


def test_leaky_relu_slope_is_0_2_by_default_as_documented():
    x = Tensor(np.array([[-1.0, 4.0, -8.0], [2.0, -5.0, 9.0]]), funcad.float32)
    assert_close(ops.leaky_relu(x), [[-0.2, 4.0, -1.6], [2.0, -1.0, 9.0]])
    assert_close(ops.leaky_relu(x, alpha=0.5), ops.leaky_relu(x, negative_slope=0.5))
    from torch_ref.torch_functions import FUNCTIONS  # the torch translation keeps torch's default slope, 0.01
    xt = torch.tensor(_np(x))
    assert_close(FUNCTIONS[F.leaky_relu](x), F.leaky_relu(xt).numpy())


def test_avg_pool2d_strides_by_one_by_default_as_documented():
    x = Tensor(np.arange(1 * 3 * 3 * 4).reshape((1, 3, 3, 4)), funcad.float32)
    want = [[[[2.5, 3.5, 4.5], [6.5, 7.5, 8.5]], [[14.5, 15.5, 16.5], [18.5, 19.5, 20.5]], [[26.5, 27.5, 28.5], [30.5, 31.5, 32.5]]]]
    assert_close(ops.avg_pool2d(x, kernel_size=2, stride=1), want)
    assert_close(ops.avg_pool2d(x, 2), want)


def test_avg_pool2d_takes_mindspore_s_argument_order():
    x = RNG.standard_normal((2, 3, 6, 7))
    xt = torch.tensor(x)
    # the fifth positional argument is ceil_mode, the sixth count_include_pad, then divisor_override
    assert_close(ops.avg_pool2d(Tensor(x), 3, 2, 1, False, False), F.avg_pool2d(xt, 3, 2, 1, False, False).numpy())
    assert_close(ops.avg_pool2d(Tensor(x), 2, 2, 0, False, True, 3), F.avg_pool2d(xt, 2, 2, 0, divisor_override=3).numpy())
    assert_close(_funcad_grad(lambda a: ops.avg_pool2d(a, 2, 1, 1, divisor_override=5), x),
                 _torch_grad(lambda t: F.avg_pool2d(t, 2, 1, 1, divisor_override=5), x))
    assert_close(ops.avg_pool2d(Tensor(x), 2, 2, 0, True), F.avg_pool2d(xt, 2, 2, 0, True).numpy())  # ceil_mode, as nn.AvgPool2d


def test_softplus_takes_beta_and_threshold():
    x = Tensor(np.array([0.1, 0.2, 30, 25]), funcad.float32)
    assert_close(ops.softplus(x), [0.74439657, 0.7981388, 30.0, 25.0], rtol=1e-6)  # the documented example
    y = RNG.standard_normal((3, 4)) * 4
    assert_close(ops.softplus(Tensor(y), 2.0, 3.0), F.softplus(torch.tensor(y), 2.0, 3.0).numpy())
    assert_close(_funcad_grad(lambda a: ops.softplus(a, beta=0.5, threshold=1.0), y), _torch_grad(lambda t: F.softplus(t, 0.5, 1.0), y))


def test_creation_ops_take_mindspore_s_keyword_names():
    assert_close(ops.arange(2, end=7, step=2), np.arange(2, 7, 2))
    assert ops.arange(start=1, end=4).dtype == np.int64 and ops.arange(0, 1.0, 0.5).dtype == np.float32
    assert_close(ops.linspace(start=1.0, end=10.0, steps=5), np.linspace(1.0, 10.0, 5).astype(np.float32))
    assert_close(ops.linspace(0, stop=1, num=3), [0.0, 0.5, 1.0])  # numpy's names still read
    with pytest.raises(TypeError, match="funcad.ops.linspace: missing the end value"):
        ops.linspace(0.0)


def test_shape_and_reduction_ops_take_mindspore_s_keyword_names():
    x = RNG.standard_normal((2, 3, 4))
    assert_close(ops.flip(Tensor(x), dims=(0, 2)), torch.flip(torch.tensor(x), dims=(0, 2)).numpy())
    assert_close(ops.flip(Tensor(x), [1]), x[:, ::-1])
    with pytest.raises(TypeError, match="funcad.ops.flip: give the axes once"):
        ops.flip(Tensor(x), dims=0, axis=0)
    assert_close(_funcad_grad(lambda a: ops.flip(a, dims=1) * a, x), _torch_grad(lambda t: torch.flip(t, dims=(1,)) * t, x))
    slices = ops.unbind(Tensor(x), dim=2)
    assert isinstance(slices, tuple) and len(slices) == 4
    assert_close(slices[1], x[:, :, 1])
    total = ops.sum(Tensor(x.astype(np.float32)), dim=1, dtype=funcad.float64)
    assert total.dtype == np.float64
    assert_close(total, x.astype(np.float32).astype(np.float64).sum(1))
    running = ops.cumsum(Tensor(np.arange(6, dtype=np.int32).reshape((2, 3))), 1, dtype=funcad.float32)
    assert running.dtype == np.float32
    assert_close(running, [[0.0, 1.0, 3.0], [3.0, 7.0, 12.0]])


def test_count_nonzero_counts_every_element_for_an_empty_axis_tuple():
    x = Tensor(np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]]))
    assert int(ops.count_nonzero(x, ())) == 3  # MindSpore's default axis=() means every axis
    assert ops.count_nonzero(x).dtype == np.int32
    np.testing.assert_array_equal(_np(ops.count_nonzero(x, 1, dtype=funcad.int64)), [2, 1])
