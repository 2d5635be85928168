"""MindSpore's slicing functions (slice, strided_slice, unstack, meshgrid), lerp, unsorted_segment_sum and the primitive
classes over them and over the new layer functions, against numpy and torch (values and gradients in float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import ops

TF = torch.nn.functional
RNG = np.random.default_rng(13)
A = RNG.standard_normal((3, 4, 5))


def test_slices_read_what_numpy_reads(assert_op_matches_torch):
    np.testing.assert_array_equal(np.asarray(ops.slice(A, (1, 0, 2), (2, -1, 3))), A[1:3, :, 2:5])
    cases = [((0, 3, 4), (3, 0, 0), (2, -1, -2), {}), ((1, 1, 0), (2, 4, 5), (1, 2, 1), {"shrink_axis_mask": 1}),
             ((2, 0, 1), (0, 4, 3), (-1, 1, 1), {"begin_mask": 1, "end_mask": 5})]
    ellipsis_and_new_axes = [
        ((0, 0, 1, 0), (1, 0, 4, 0), (1, 1, 2, 1), {"ellipsis_mask": 2, "new_axis_mask": 8}, (slice(0, 1), ..., slice(1, 4, 2), None)),
        ((0, 2), (0, 0), (1, 1), {"new_axis_mask": 1, "shrink_axis_mask": 2}, (None, 2)),
    ]
    for begin, end, strides, masks, index in ellipsis_and_new_axes:
        np.testing.assert_array_equal(np.asarray(ops.strided_slice(A, begin, end, strides, **masks)), A[index])
    for begin, end, strides, masks in cases:
        index = []
        for i, (b, e, s) in enumerate(zip(begin, end, strides)):
            shrink = masks.get("shrink_axis_mask", 0) >> i & 1
            index.append(b if shrink else slice(None if masks.get("begin_mask", 0) >> i & 1 else b,
                                                None if masks.get("end_mask", 0) >> i & 1 else e, s))
        expected = A[tuple(index)]
        np.testing.assert_array_equal(np.asarray(ops.strided_slice(A, begin, end, strides, **masks)), expected)
        np.testing.assert_array_equal(np.asarray(ops.StridedSlice(**masks)(A, begin, end, strides)), expected)
    for axis in (0, 1, -1):
        for got, want in zip(ops.unstack(A, axis), np.moveaxis(A, axis, 0)):
            np.testing.assert_array_equal(np.asarray(got), want)
    assert_op_matches_torch(lambda a: ops.strided_slice(a, (2, 3), (0, 0), (-1, -2)), lambda a: a.flip(0, 1)[0:2, 0:3:2], [A[:, :, 0]])


@pytest.mark.parametrize("indexing", ["xy", "ij"])
def test_meshgrid_matches_numpy_and_torch(indexing, assert_op_matches_torch):
    vectors = [RNG.standard_normal(n) for n in (2, 3, 4)]
    for got, want in zip(ops.Meshgrid(indexing)(tuple(vectors)), np.meshgrid(*vectors, indexing=indexing)):
        np.testing.assert_array_equal(np.asarray(got), want)
    assert_op_matches_torch(lambda a, b: ops.meshgrid(a, b, indexing=indexing)[0] * ops.meshgrid(a, b, indexing=indexing)[1],
                            lambda a, b: torch.mul(*torch.meshgrid(a, b, indexing=indexing)), vectors[:2])


def test_lerp_and_unsorted_segment_sum(assert_op_matches_torch):
    x, y, w = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)), RNG.uniform(0, 1, (3, 4))
    assert_op_matches_torch(ops.lerp, torch.lerp, [x, y, w])
    ids = np.array([2, 0, 2, 3])
    expected = np.zeros((5, 3))
    np.add.at(expected, ids, x.T)
    np.testing.assert_allclose(np.asarray(ops.unsorted_segment_sum(x.T, ids, 5)), expected, rtol=1e-15)
    assert_op_matches_torch(lambda v: ops.UnsortedSegmentSum()(v, ids, 5),
                            lambda v: torch.zeros(5, 3, dtype=torch.float64).index_add(0, torch.tensor(ids), v), [x.T])
    with pytest.raises(IndexError, match=r"unsorted_segment_sum: segment_ids must lie in \[0, 3\)"):
        ops.unsorted_segment_sum(x.T, ids, 3)


def test_layer_classes_match_torch(assert_op_matches_torch):
    x, gamma, beta = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    layer_norm = ops.LayerNorm(begin_norm_axis=1, begin_params_axis=1, epsilon=1e-5)
    assert_op_matches_torch(lambda a, g, b: layer_norm(a, g, b)[0], lambda a, g, b: TF.layer_norm(a, (3, 4), g, b, 1e-5), [x, gamma, beta])
    _, mean, var = layer_norm(x, gamma, beta)
    assert mean.shape == (2, 1, 1) and np.allclose(np.asarray(var)[:, 0, 0], x.reshape(2, -1).var(axis=1))
    assert_op_matches_torch(lambda a: ops.L2Normalize(axis=1, epsilon=1e-12)(a), lambda a: TF.normalize(a, dim=1, eps=1e-6), [x])
    labels = np.array([1, 0, 3])
    logits = RNG.standard_normal((3, 4))
    assert_op_matches_torch(lambda a: ops.SparseSoftmaxCrossEntropyWithLogits()(a, labels), lambda a: TF.cross_entropy(a, torch.tensor(labels)),
                            [logits])
    np.testing.assert_array_equal(np.asarray(ops.Pad(((1, 0), (0, 2), (1, 1)))(x)), np.pad(x, ((1, 0), (0, 2), (1, 1))))
    assert_op_matches_torch(lambda a: ops.GeLU()(a), lambda a: TF.gelu(a, approximate="tanh"), [x])
    with pytest.raises(ValueError, match=r"LayerNorm: gamma of shape \(4,\) must be x's axes from begin_params_axis 1 on, \(3, 4\)"):
        layer_norm(x, gamma[0], beta)
    t_logits = torch.tensor(logits, requires_grad=True)
    TF.cross_entropy(t_logits, torch.tensor(labels)).backward()
    np.testing.assert_allclose(np.asarray(ops.SparseSoftmaxCrossEntropyWithLogits(is_grad=True)(logits, labels)), t_logits.grad.numpy(),
                               rtol=1e-12, atol=1e-15)


def test_shape_classes_match_numpy():
    m = RNG.standard_normal((4, 4))
    np.testing.assert_array_equal(np.asarray(ops.Tril(-1)(m)), np.tril(m, -1))
    np.testing.assert_array_equal(np.asarray(ops.Triu(1)(m)), np.triu(m, 1))
    np.testing.assert_allclose(np.asarray(ops.Einsum("ij,jk->ik")((m, m.T))), m @ m.T, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(ops.BroadcastTo((2, 4, 4))(m)), np.broadcast_to(m, (2, 4, 4)))
    np.testing.assert_array_equal(np.asarray(ops.GatherNd()(m, np.array([[0, 1], [3, 2]]))), m[[0, 3], [1, 2]])
    np.testing.assert_allclose(np.asarray(ops.Lerp()(m, m.T, 0.5)), (m + m.T) / 2, rtol=1e-15)


def test_bad_slices_name_the_op_and_the_shape():
    with pytest.raises(ValueError, match=r"slice: begin 2 and size 3 do not fit axis 0 of shape \(3, 4, 5\)"):
        ops.slice(A, (2, 0, 0), (3, 1, 1))
    with pytest.raises(ValueError, match=r"strided_slice: .* with at most one ellipsis \(mask 3\)"):
        ops.strided_slice(A, (0, 0), (1, 1), (1, 1), ellipsis_mask=3)
    with pytest.raises(ValueError, match="strided_slice: stride 0 is 0"):
        ops.strided_slice(A, (0,), (1,), (0,))
    with pytest.raises(ValueError, match=r"meshgrid: inputs must be 1-D, got shapes \[\(2, 2\)\]"):
        ops.meshgrid(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"Pad: paddings \(\(1, 1\),\) need one \(before, after\) pair per axis of shape \(3, 4, 5\)"):
        ops.Pad(((1, 1),))(funcad.Tensor(A))


def test_assign_classes_write_parameters():
    p = funcad.Parameter(np.zeros(3), name="p")
    ops.Assign()(p, np.array([1.0, 2.0, 3.0]))
    ops.AssignAdd()(p, np.ones(3))
    np.testing.assert_array_equal(np.asarray(p), [2.0, 3.0, 4.0])
