"""MindSpore's N-d gathers and scatters, index_select/index_add/masked_select, distances, pixel shuffles, kl_div and
conv1d against torch in float64 (values and gradients, and finite differences), and their errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import ops

TF = torch.nn.functional
RNG = np.random.default_rng(21)
A = RNG.standard_normal((4, 3, 2))
ROWS = np.array([[0, 2], [3, 1], [0, 2]])  # (0, 2) twice: scatters accumulate


def test_gather_nd_picks_slices_and_elements(assert_op_matches_torch):
    assert_op_matches_torch(lambda a: ops.gather_nd(a, ROWS), lambda a: a[ROWS[:, 0], ROWS[:, 1]], [A])
    assert_op_matches_torch(lambda a: ops.gather_nd(a, np.array([[[1], [3]]])), lambda a: a[np.array([[1, 3]])], [A])


def test_scatter_nd_and_tensor_scatter_add_accumulate_repeats(assert_op_matches_torch):
    updates = RNG.standard_normal((3, 2))

    def torch_scatter(u, base=None):
        out = torch.zeros((4, 3, 2), dtype=torch.float64) if base is None else base.clone()
        return out.index_put((torch.tensor(ROWS[:, 0]), torch.tensor(ROWS[:, 1])), u, accumulate=True)

    assert_op_matches_torch(lambda u: ops.scatter_nd(ROWS, u, (4, 3, 2)), torch_scatter, [updates])
    assert_op_matches_torch(lambda a, u: ops.tensor_scatter_add(a, ROWS, u), lambda a, u: torch_scatter(u, a), [A, updates])
    assert_op_matches_torch(lambda a, u: ops.tensor_scatter_sub(a, ROWS, u), lambda a, u: torch_scatter(-u, a), [A, updates])


def test_tensor_scatter_update_replaces_and_passes_no_gradient_to_what_it_replaced(assert_op_matches_torch):
    rows, updates = ROWS[:2], RNG.standard_normal((2, 2))

    def torch_update(a, u):
        return a.index_put((torch.tensor(rows[:, 0]), torch.tensor(rows[:, 1])), u)

    assert_op_matches_torch(lambda a, u: ops.tensor_scatter_update(a, rows, u), torch_update, [A, updates])


def test_index_select_index_add_and_masked_select(assert_op_matches_torch):
    index = np.array([2, 0, 2])
    assert_op_matches_torch(lambda a: ops.index_select(a, 1, index), lambda a: torch.index_select(a, 1, torch.tensor(index)), [A])
    y = RNG.standard_normal((4, 3, 2))
    assert_op_matches_torch(lambda a, b: ops.index_add(a, index, b, 1), lambda a, b: a.index_add(1, torch.tensor(index), b), [A, y])
    mask = RNG.random((3, 2)) > 0.5
    assert_op_matches_torch(lambda a: ops.masked_select(a, mask), lambda a: torch.masked_select(a, torch.tensor(mask)), [A])


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, np.inf])
def test_distances(assert_op_matches_torch, p):
    x1, x2 = RNG.standard_normal((2, 4, 3)), RNG.standard_normal((2, 5, 3))
    assert_op_matches_torch(lambda a, b: ops.cdist(a, b, p), lambda a, b: torch.cdist(a, b, p), [x1, x2])
    assert_op_matches_torch(lambda a, b: ops.dist(a, b, p), lambda a, b: torch.dist(a, b, p), [x1[0], x2[0, :4]])


def test_inner_select_repeat_interleave_and_fill(assert_op_matches_torch):
    b = RNG.standard_normal((5, 2))
    assert_op_matches_torch(ops.inner, torch.inner, [A, b])
    cond = A > 0
    assert_op_matches_torch(lambda a, c: ops.select(cond, a, c), lambda a, c: torch.where(torch.tensor(cond), a, c), [A, -A])
    assert_op_matches_torch(lambda a: ops.repeat_interleave(a, np.array([1, 0, 2]), 1),
                            lambda a: torch.repeat_interleave(a, torch.tensor([1, 0, 2]), 1), [A])
    filled = ops.fill(funcad.float16, (2, 3), 1.5)
    assert filled.dtype == funcad.float16 and np.array_equal(np.asarray(filled), np.full((2, 3), 1.5))


def test_pixel_shuffle_and_unshuffle(assert_op_matches_torch):
    x = RNG.standard_normal((2, 2, 8, 3, 2))
    assert_op_matches_torch(lambda a: ops.pixel_shuffle(a, 2), lambda a: TF.pixel_shuffle(a, 2), [x])
    assert_op_matches_torch(lambda a: ops.pixel_unshuffle(a, 2), lambda a: TF.pixel_unshuffle(a, 2), [x.reshape(2, 2, 2, 6, 4)])
    np.testing.assert_array_equal(np.asarray(ops.pixel_unshuffle(ops.pixel_shuffle(x, 2), 2)), x)


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides:UserWarning")  # torch announces a future change of its "mean"
@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "batchmean"])
def test_kl_div_with_zero_labels(assert_op_matches_torch, reduction):
    logits = np.log(RNG.dirichlet(np.ones(5), 3))
    labels = RNG.dirichlet(np.ones(5), 3)
    assert_op_matches_torch(lambda a, t: ops.kl_div(a, t, reduction), lambda a, t: TF.kl_div(a, t, reduction=reduction), [logits, labels])
    labels[0, 1] = 0.0  # a zero label adds 0; its own gradient (torch: nan) is not compared
    assert_op_matches_torch(lambda a, t: ops.kl_div(a, t, reduction), lambda a, t: TF.kl_div(a, t, reduction=reduction), [logits, labels],
                            diff=(0,))


@pytest.mark.parametrize("stride, padding, dilation, groups", [(1, 0, 1, 1), (2, (1, 2), 1, 1), (1, 2, 2, 2)])
def test_conv1d(assert_op_matches_torch, stride, padding, dilation, groups):
    x, w, b = RNG.standard_normal((2, 4, 9)), RNG.standard_normal((6, 4 // groups, 3)), RNG.standard_normal(6)
    left, right = (padding, padding) if isinstance(padding, int) else padding
    assert_op_matches_torch(lambda a, k, c: ops.conv1d(a, k, c, stride, padding, dilation, groups),
                            lambda a, k, c: TF.conv1d(TF.pad(a, (left, right)), k, c, stride, 0, dilation, groups), [x, w, b])


def test_bad_input_names_the_op_and_the_shapes():
    with pytest.raises(ValueError, match=r"gather_nd: indices must be integers of shape \(\.\.\., k\) with 1 <= k <= 3 \(the target's rank, "
                                         r"shape \(4, 3, 2\)\); got int64 of shape \(2, 4\)"):
        ops.gather_nd(A, np.zeros((2, 4), np.int64))
    with pytest.raises(IndexError, match=r"scatter_nd: indices must lie in \[0, 3\) \(column 1, axis 1 of shape \(4, 3\)\)"):
        ops.scatter_nd(np.array([[0, 3]]), np.ones(1), (4, 3))
    with pytest.raises(ValueError, match=r"tensor_scatter_add: updates of shape \(3,\) do not fit .* expected \(2, 2\)"):
        ops.tensor_scatter_add(A, ROWS[:2], np.ones(3))
    with pytest.raises(ValueError, match=r"tensor_scatter_update: indices repeat position \[0, 2\]"):
        ops.tensor_scatter_update(A, ROWS, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"index_add: y of shape \(4, 2, 2\) does not fit 3 indices on axis 1"):
        ops.index_add(A, np.array([0, 1, 2]), np.ones((4, 2, 2)), 1)
    with pytest.raises(ValueError, match=r"cdist: needs \(\.\.\., P, M\) and \(\.\.\., R, M\) inputs of one rank, got \(4, 3\) and \(4, 2\)"):
        ops.cdist(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"pixel_shuffle: needs \(\.\.\., C \* 2\^2, H, W\)"):
        ops.pixel_shuffle(np.ones((1, 3, 2, 2)), 2)
    with pytest.raises(ValueError, match="kl_div: reduction must be"):
        ops.kl_div(np.zeros(2), np.ones(2), "average")
    with pytest.raises(ValueError, match=r"conv1d: expected a 3-D input \(N, C, L\)"):
        ops.conv1d(np.ones((2, 3)), np.ones((1, 3, 1)))


def test_indices_known_only_when_compiled_are_refused_under_jit():
    with pytest.raises(TypeError, match="index_add: indices must be known while compiling"):
        funcad.jit(lambda a, i: ops.index_add(a, i, a[:2], 0))(A, funcad.Tensor(np.array([0, 2])))
    with pytest.raises(TypeError, match="masked_select: the output's shape depends on the input's values"):
        funcad.jit(lambda a, m: ops.masked_select(a, m))(A, funcad.Tensor(A > 0))


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides:UserWarning")
@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "batchmean"])
def test_kl_div_with_log_target(assert_op_matches_torch, reduction):
    logits, labels = np.log(RNG.dirichlet(np.ones(5), 3)), np.log(RNG.dirichlet(np.ones(5), 3))
    assert_op_matches_torch(lambda a, t: ops.kl_div(a, t, reduction, log_target=True),
                            lambda a, t: TF.kl_div(a, t, reduction=reduction, log_target=True), [logits, labels])
