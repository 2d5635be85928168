"""MindSpore's primitive classes: an instance called equals torch's (or numpy's) result, with MindSpore's
attribute semantics (transpose flags, keep_dims, an empty axis meaning every axis), and differentiates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import ops
from funcad.ops.primitive_classes import CLASS_NAMES
from funcad.testing import assert_close, check_grads

RNG = np.random.default_rng(5)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((3, 4))
P = RNG.uniform(0.1, 0.9, (3, 4))
T = torch.tensor

UNARY = {"Sin": torch.sin, "Cos": torch.cos, "Tan": torch.tan, "Exp": torch.exp, "Log": torch.log, "Log1p": torch.log1p,
         "Expm1": torch.expm1, "Sqrt": torch.sqrt, "Rsqrt": torch.rsqrt, "Square": torch.square, "Abs": torch.abs,
         "Neg": torch.neg, "Tanh": torch.tanh, "Sigmoid": torch.sigmoid, "ReLU": torch.relu, "Softplus": torch.nn.functional.softplus,
         "Erf": torch.erf, "Reciprocal": torch.reciprocal}
BINARY = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div, "RealDiv": torch.div, "Pow": torch.pow,
          "Maximum": torch.maximum, "Minimum": torch.minimum}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_class_matches_torch_and_differentiates(name):
    op = getattr(ops, name)()
    assert_close(op(P), UNARY[name](T(P)).numpy(), rtol=1e-12)
    check_grads(op, (P,), order=2)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_class_matches_torch_and_differentiates(name):
    op = getattr(ops, name)()
    assert_close(op(P, B), BINARY[name](T(P), T(B)).numpy(), rtol=1e-12)
    check_grads(op, (P, B), order=2)


@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_transpose_flags(ta, tb):
    x = A.T.copy() if ta else A
    y = B if tb else B.T.copy()
    expected = T(A) @ T(B).T
    assert_close(ops.MatMul(transpose_a=ta, transpose_b=tb)(x, y), expected.numpy(), rtol=1e-12)
    batch_x, batch_y = np.stack([x, 2 * x]), np.stack([y, y])
    assert_close(ops.BatchMatMul(ta, tb)(batch_x, batch_y), torch.stack([expected, 2 * expected]).numpy(), rtol=1e-12)
    check_grads(ops.MatMul(transpose_a=ta, transpose_b=tb), (x, y), order=2)


@pytest.mark.parametrize("name, torch_fn", [("ReduceSum", torch.sum), ("ReduceMean", torch.mean), ("ReduceProd", torch.prod),
                                            ("ReduceMax", torch.amax), ("ReduceMin", torch.amin)])
def test_reductions_keep_dims_and_the_empty_axis(name, torch_fn):
    cls = getattr(ops, name)
    assert_close(cls()(A), torch_fn(T(A)).numpy(), rtol=1e-12)  # axis=() reduces every axis
    assert_close(cls(keep_dims=True)(A, 1), torch_fn(T(A), 1, keepdim=True).numpy(), rtol=1e-12)
    assert cls(keep_dims=True)(A).shape == (1, 1)
    check_grads(lambda x: cls(keep_dims=True)(x, (0, 1)), (A,), order=2)


def test_shape_classes_match_numpy():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert ops.Reshape()(x, (6, 4)).shape == (6, 4)
    np.testing.assert_array_equal(np.asarray(ops.Transpose()(x, (2, 0, 1))), x.transpose(2, 0, 1))
    assert ops.Cast()(x, funcad.float32).dtype == np.float32
    assert ops.ExpandDims()(x, 1).shape == (2, 1, 3, 4)
    assert ops.Squeeze()(x[:, None, :1, :1]).shape == (2,) and ops.Squeeze(axis=1)(x[:, None]).shape == (2, 3, 4)
    np.testing.assert_array_equal(np.asarray(ops.Concat(axis=1)((x, x))), np.concatenate((x, x), 1))
    np.testing.assert_array_equal(np.asarray(ops.Stack(axis=-1)((x, x))), np.stack((x, x), -1))
    pieces = ops.Split(axis=2, output_num=2)(x)
    assert isinstance(pieces, tuple) and [p.shape for p in pieces] == [(2, 3, 2), (2, 3, 2)]
    np.testing.assert_array_equal(np.asarray(ops.Tile()(x, (1, 2, 1))), np.tile(x, (1, 2, 1)))
    assert ops.Shape()(x) == (2, 3, 4) and ops.Size()(x) == 24 and ops.Rank()(x) == 3
    assert ops.Flatten()(x).shape == (2, 12)


def test_selection_and_creation_classes():
    assert_close(ops.Softmax(axis=0)(A), torch.softmax(T(A), 0).numpy(), rtol=1e-12)
    assert_close(ops.LogSoftmax()(A), torch.log_softmax(T(A), -1).numpy(), rtol=1e-12)
    assert_close(ops.Gather()(A, np.array([2, 0]), 1), A[:, [2, 0]])
    assert_close(ops.GatherD()(A, 0, np.array([[2, 0, 1, 1]])), torch.gather(T(A), 0, T([[2, 0, 1, 1]])).numpy())
    values, indices = ops.TopK()(A, 2)
    t_values, t_indices = torch.topk(T(A), 2)
    assert_close(values, t_values.numpy()) and np.testing.assert_array_equal(np.asarray(indices), t_indices.numpy())
    assert_close(ops.Sort(axis=0, descending=True)(A)[0], torch.sort(T(A), 0, descending=True)[0].numpy())
    argmax = ops.Argmax(axis=1)(A)
    assert argmax.dtype == np.int32 and np.array_equal(np.asarray(argmax), A.argmax(1))
    assert np.array_equal(np.asarray(ops.Argmin(axis=0, output_type=funcad.int64)(A)), A.argmin(0))
    assert_close(ops.Select()(A > 0, A, B), np.where(A > 0, A, B))
    assert_close(ops.AddN()((A, B, A)), 2 * A + B)
    hot = ops.OneHot()(np.array([1, 0, 2]), 3, 5.0, -1.0)
    assert hot.dtype == np.float32 and np.array_equal(np.asarray(hot), [[-1, 5, -1], [5, -1, -1], [-1, -1, 5]])
    filled = ops.Fill()(funcad.float32, (2, 2), 3.0)
    assert filled.dtype == np.float32 and np.all(np.asarray(filled) == 3.0)
    assert ops.Ones()((2, 3), funcad.float32).dtype == np.float32 and ops.Zeros()(4, funcad.int32).shape == (4,)
    assert_close(ops.BiasAdd()(A, B[0]), A + B[0])
    assert ops.Depend()(A, B) is A
    assert ops.DType()(A.astype(np.float32)) == np.float32
    assert ops.Eye()(2, 3, funcad.int32).dtype == np.int32 and np.array_equal(np.asarray(ops.Eye()(2, 3, funcad.int32)), np.eye(2, 3))
    index, values = ops.ArgMaxWithValue(axis=1)(A)
    t_values, t_index = torch.max(T(A), 1)
    assert index.dtype == np.int32 and np.array_equal(np.asarray(index), t_index.numpy())
    assert_close(values, t_values.numpy())
    index, values = ops.ArgMinWithValue(axis=0, keep_dims=True)(A)
    assert index.shape == (1, 4) and np.array_equal(np.asarray(values), A.min(0, keepdims=True))
    check_grads(lambda a: ops.ArgMaxWithValue(axis=1)(a)[1], (A,), order=2)


def test_classes_print_as_mindspore_primitives_and_differentiate_inside_grad():
    assert repr(ops.MatMul(transpose_b=True)) == "Prim[MatMul]<transpose_a=False, transpose_b=True>"
    assert repr(ops.Sin()) == "Prim[Sin]"
    reduce_sum, sin = ops.ReduceSum(keep_dims=False), ops.Sin()
    g = funcad.grad(lambda x: reduce_sum(sin(x), (0, 1)))(A)
    assert_close(g, np.cos(A))


def test_every_class_is_exported():
    assert all(callable(getattr(ops, name)) for name in CLASS_NAMES)
    assert len(CLASS_NAMES) >= 80


def test_layer_classes_match_the_nn_layers_and_torch():
    x = RNG.standard_normal((2, 3, 7, 6))
    w = RNG.standard_normal((4, 3, 3, 3))
    same = funcad.nn.Conv2d(3, 4, 3, stride=2, pad_mode="same")
    same.weight.set_data(w)
    assert_close(ops.Conv2D(4, 3, pad_mode="same", stride=2)(x, w), same(x), rtol=1e-6)  # the layer holds float32 weights
    tf = torch.nn.functional
    assert_close(ops.Conv2D(4, 3, pad_mode="pad", pad=1, dilation=2)(x, w), tf.conv2d(T(x), T(w), padding=1, dilation=2).numpy(), rtol=1e-12)
    assert_close(ops.Conv2D(4, 3)(x, w), tf.conv2d(T(x), T(w)).numpy(), rtol=1e-12)
    assert_close(ops.MaxPool(2, 2)(x), tf.max_pool2d(T(x), 2, 2).numpy())
    assert_close(ops.MaxPool(3, 2, "same")(x), funcad.nn.MaxPool2d(3, 2, "same")(x))
    assert_close(ops.AvgPool(3, 2, "same")(x), funcad.nn.AvgPool2d(3, 2, "same")(x))
    assert_close(ops.AvgPool(2, 2)(x), tf.avg_pool2d(T(x), 2, 2).numpy(), rtol=1e-12)
    assert_close(ops.L2Loss()(A), (T(A) ** 2).sum().numpy() / 2)
    labels = np.eye(4)[[1, 0, 3]]
    loss, dlogits = ops.SoftmaxCrossEntropyWithLogits()(A, labels)
    assert_close(loss, tf.cross_entropy(T(A), T(labels), reduction="none").numpy(), rtol=1e-12)
    assert_close(dlogits, funcad.grad(lambda a: ops.sum(ops.SoftmaxCrossEntropyWithLogits()(a, labels)[0]))(A), rtol=1e-12)
    assert_close(ops.SigmoidCrossEntropyWithLogits()(A, P), tf.binary_cross_entropy_with_logits(T(A), T(P), reduction="none").numpy())
    assert_close(ops.Elu(0.5)(A), tf.elu(T(A), 0.5).numpy())
    check_grads(lambda a, k: ops.Conv2D(4, 3, pad_mode="same")(a, k), (x[:1], w), order=2)
    with pytest.raises(ValueError, match="funcad.ops.MaxPool: pad_mode must be 'same' or 'valid', got 'pad'"):
        ops.MaxPool(2, 2, "pad")


def test_dropout_class_returns_the_output_and_its_mask():
    x = np.ones((1, 2, 3, 4, 5), np.float32)
    output, mask = ops.Dropout(keep_prob=0.5)(x)  # MindSpore's example, with the CPU's mask: x's shape and dtype
    assert output.shape == mask.shape == x.shape and mask.dtype == np.float32
    assert set(np.unique(np.asarray(mask))) <= {0.0, 1.0}
    np.testing.assert_array_equal(np.asarray(output), np.asarray(mask) * 2.0)
    fixed = [np.asarray(ops.Dropout(0.8, Seed0=1, Seed1=2)(x)[1]) for _ in range(2)]
    np.testing.assert_array_equal(fixed[0], fixed[1])
    funcad.set_seed(4)
    first = np.asarray(ops.Dropout(0.5)(x)[1])
    second = np.asarray(ops.Dropout(0.5)(x)[1])
    assert not np.array_equal(first, second)  # fresh masks from the random key
    g = funcad.grad(lambda a: ops.sum(ops.Dropout(0.5, Seed0=7)(a)[0]))(A)
    _, kept = ops.Dropout(0.5, Seed0=7)(A)
    assert_close(g, np.asarray(kept) * 2.0)
    big = np.asarray(ops.Dropout(0.7, Seed0=5)(np.ones(20000))[1])
    assert abs(big.mean() - 0.7) < 0.02
    with pytest.raises(ValueError, match="funcad.ops.Dropout: keep_prob must be in \\(0, 1\\], got 0.0"):
        ops.Dropout(0.0)


def test_layouts_and_axes_funcad_lacks_are_refused_by_name():
    with pytest.raises(NotImplementedError, match="funcad.ops.Conv2D: data_format 'NHWC' is not supported"):
        ops.Conv2D(4, 3, data_format="NHWC")
    with pytest.raises(NotImplementedError, match="funcad.ops.MaxPool: data_format 'NHWC' is not supported"):
        ops.MaxPool(2, 2, data_format="NHWC")


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot_puts_the_new_axis_where_asked_with_the_values_given(axis):
    idx = np.array([[0, 2], [1, 1], [2, 0]])
    want = np.moveaxis(np.where(np.eye(3, dtype=bool)[idx], 4.0, -0.5), -1, axis).astype(np.float32)
    for got in (ops.OneHot(axis=axis)(idx, 3, funcad.Tensor(4.0), funcad.Tensor(-0.5)), ops.one_hot(idx, 3, 4.0, -0.5, axis)):
        assert got.dtype == funcad.float32
        np.testing.assert_array_equal(np.asarray(got), want)
    np.testing.assert_array_equal(np.asarray(ops.one_hot(idx, 3, funcad.float64)), np.eye(3)[idx])
