"""MindSpore's published examples for the ops funcad offers under its names, run with the imports changed, against the
outputs MindSpore's documentation prints (float32, compared to the printed digits)."""

from __future__ import annotations

import numpy as np
import pytest

import funcad as ms
from funcad import Parameter, Tensor, nn, ops


@pytest.mark.parametrize("mode", ["PYNATIVE_MODE", "GRAPH_MODE"])
def test_derivative_example_with_primitive_classes_sin_and_exp(mode):
    """mindspore.ops.derivative's example: a Cell built from ops.Sin() and ops.Exp(), its third derivative (the
    example sets GRAPH_MODE: construct is compiled)."""
    ms.set_context(mode=getattr(ms, mode))

    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.sin = ops.Sin()
            self.exp = ops.Exp()

        def construct(self, x):
            out1 = self.sin(x)
            out2 = self.exp(out1)
            return out2

    primals = Tensor(np.array([[1, 2], [3, 4]]).astype(np.float32))
    net = Net()
    third = ms.grad(ms.grad(ms.grad(net)))  # elementwise: each grad of the summed output is the next derivative
    np.testing.assert_allclose(np.asarray(net(primals)), [[2.319777, 2.4825778], [1.1515628, 0.4691642]], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(third(primals)), [[-4.0515366, 3.6724353], [0.5053504, -0.52061415]], rtol=1e-5)
    assert third(primals).dtype == np.float32


def test_topk_example():
    x = ms.Tensor([[0.5368, 0.2447, 0.4302, 0.9673],
                   [0.4388, 0.6525, 0.4685, 0.1868],
                   [0.3563, 0.5152, 0.9675, 0.8230]], dtype=ms.float32)
    values, indices = ops.topk(x, 2, dim=1)
    np.testing.assert_array_equal(np.asarray(values), np.array([[0.9673, 0.5368], [0.6525, 0.4685], [0.9675, 0.8230]], np.float32))
    np.testing.assert_array_equal(np.asarray(indices), [[3, 0], [1, 2], [2, 3]])
    assert indices.dtype == np.int32


def test_tensor_tutorial_cat_and_stack():
    data1 = Tensor(np.array([[0, 1], [2, 3]]).astype(np.float32))
    data2 = Tensor(np.array([[4, 5], [6, 7]]).astype(np.float32))
    np.testing.assert_array_equal(np.asarray(ops.cat((data1, data2))), [[0, 1], [2, 3], [4, 5], [6, 7]])
    assert ops.stack([data1, data2]).shape == (2, 2, 2)
    np.testing.assert_array_equal(np.asarray(ops.mul(data1, data2)), [[0, 5], [12, 21]])


def test_primitive_class_examples():
    x = Tensor(np.array([[1, 2, 3], [4, 5, 6]]).astype(np.float32))
    y = Tensor(np.array([[1, 2], [3, 4], [5, 6]]).astype(np.float32))
    np.testing.assert_array_equal(np.asarray(ops.MatMul()(x, y)), [[22, 28], [49, 64]])
    np.testing.assert_array_equal(np.asarray(ops.MatMul(transpose_a=True, transpose_b=True)(y, x)), [[22, 49], [28, 64]])
    np.testing.assert_array_equal(np.asarray(ops.ReduceSum(keep_dims=True)(x, 1)), [[6], [15]])
    np.testing.assert_array_equal(np.asarray(ops.ReduceMean()(x)), 3.5)
    np.testing.assert_array_equal(np.asarray(ops.Concat(axis=1)((x, x))).shape, (2, 6))
    assert ops.ExpandDims()(x, 0).shape == (1, 2, 3) and ops.Squeeze(0)(ops.ExpandDims()(x, 0)).shape == (2, 3)
    np.testing.assert_allclose(np.asarray(ops.Softmax(axis=-1)(Tensor(np.array([1, 2, 3, 4, 5]).astype(np.float32)))),
                               [0.01165623, 0.03168492, 0.08612854, 0.23412167, 0.6364086], rtol=1e-6)


class _MatMulNet(nn.Cell):
    """The network of MindSpore's GradOperation tutorial: x * z @ y with a Parameter z."""

    def __init__(self):
        super().__init__()
        self.matmul = ops.MatMul()
        self.z = Parameter(Tensor(np.array([1.0], np.float32)), name="z")

    def construct(self, x, y):
        x = x * self.z
        out = self.matmul(x, y)
        return out


X = Tensor([[0.8, 0.6, 0.2], [1.8, 1.3, 1.1]], dtype=ms.float32)
Y = Tensor([[0.11, 3.3, 1.1], [1.1, 0.2, 1.4], [1.1, 2.2, 0.3]], dtype=ms.float32)


def test_grad_operation_tutorial():
    net = _MatMulNet()
    wrt_x = ops.GradOperation()(net)(X, Y)
    np.testing.assert_allclose(np.asarray(wrt_x), [[4.5099998, 2.7, 3.6000001], [4.5099998, 2.7, 3.6000001]], rtol=1e-6)
    all_inputs = ops.GradOperation(get_all=True)(net)(X, Y)
    assert isinstance(all_inputs, tuple) and len(all_inputs) == 2
    np.testing.assert_allclose(np.asarray(all_inputs[1]), np.asarray(X).sum(0)[:, None].repeat(3, 1), rtol=1e-6)  # d(x @ y)/dy
    by_list = ops.GradOperation(get_by_list=True)(net, net.trainable_params())(X, Y)
    assert isinstance(by_list, tuple)
    np.testing.assert_allclose(np.asarray(by_list[0]), [21.536], rtol=1e-6)
    sens = Tensor([[0.1, 0.6, 0.2], [0.8, 1.3, 1.1]], dtype=ms.float32)
    with_sens = ops.GradOperation(sens_param=True)(net)(X, Y, sens)
    np.testing.assert_allclose(np.asarray(with_sens), [[2.211, 0.51, 1.49], [5.588, 2.68, 4.07]], rtol=1e-6)
    both = ops.GradOperation(get_all=True, get_by_list=True)(net, net.trainable_params())(X, Y)
    np.testing.assert_allclose(np.asarray(both[0][0]), np.asarray(wrt_x))
    np.testing.assert_allclose(np.asarray(both[1][0]), [21.536], rtol=1e-6)
    with pytest.raises(ValueError, match="funcad.ops.GradOperation: get_by_list=True needs the weights"):
        ops.GradOperation(get_by_list=True)(net)
