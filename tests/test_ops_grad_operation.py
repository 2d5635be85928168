"""ops.GradOperation against closed-form gradients and torch autograd: get_all, get_by_list, sens_param."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops
from funcad.core import pytree
from funcad.testing import assert_close

X = np.array([[1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])


def _net():
    funcad.set_seed(0)
    return nn.Dense(3, 2, dtype=funcad.float64)


def _torch_grads(net, x, y, sens):
    w = torch.tensor(net.weight.asnumpy(), requires_grad=True)
    b = torch.tensor(net.bias.asnumpy(), requires_grad=True)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    out = (tx @ w.T + b) * ty
    out.backward(torch.tensor(sens))
    return tx.grad.numpy(), ty.grad.numpy(), w.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("get_all", [False, True])
@pytest.mark.parametrize("get_by_list", [False, True])
@pytest.mark.parametrize("sens_param", [False, True])
def test_grad_operation_matches_torch(get_all, get_by_list, sens_param):
    net = _net()
    y = np.array([2.0, -1.0])
    sens = np.random.default_rng(0).standard_normal((2, 2)) if sens_param else np.ones((2, 2))
    gx, gy, gw, gb = _torch_grads(net, X, y, sens)
    weights = funcad.ParameterTuple(net.trainable_params())
    fn = ops.GradOperation(get_all, get_by_list, sens_param)(lambda a, b: net(a) * b, weights)
    got = fn(X, y, sens) if sens_param else fn(X, y)
    inputs = (gx, gy) if get_all else gx
    expected = ((inputs, (gw, gb)) if get_all else (gw, gb)) if get_by_list else inputs
    got_leaves, got_def = pytree.flatten(got)
    expected_leaves, expected_def = pytree.flatten(expected)
    assert got_def == expected_def
    for g, e in zip(got_leaves, expected_leaves):
        assert_close(g, e)


def test_grad_operation_needs_weights_for_get_by_list():
    with pytest.raises(ValueError, match="get_by_list=True needs the weights"):
        ops.GradOperation(get_by_list=True)(lambda a: a)


def test_grad_operation_leaves_inputs_it_does_not_return_undifferentiated():
    """Integer labels beside the inputs: only the returned gradients' inputs are differentiated (closed form of
    sum((x W^T + b) * onehot(labels)): d/dx = onehot W, d/dW = onehot^T x, d/db = column sums of onehot)."""
    net = _net()
    labels = np.array([1, 0])
    onehot = np.eye(2)[labels]

    def picked(x, y):
        return ops.sum(net(x) * ops.one_hot(y, 2, funcad.float64))

    x, y = funcad.Tensor(X), funcad.Tensor(labels.astype(np.int32))
    weights = funcad.ParameterTuple(net.trainable_params())
    assert_close(ops.GradOperation()(picked)(x, y), onehot @ net.weight.asnumpy())
    gw, gb = ops.GradOperation(get_by_list=True)(picked, weights)(x, y)
    assert_close(gw, onehot.T @ X)
    assert_close(gb, onehot.sum(0))
    with pytest.raises(TypeError, match="position 1 has dtype Int32"):
        ops.GradOperation(get_all=True)(picked)(x, y)

