"""MindSpore 2.x functional-differentiation tutorials (Advanced Automatic Differentiation, Automatic
Vectorization), their published code with ``mindspore`` replaced by ``funcad``. Each snippet's result is compared
with the tutorial's published output and with an independent reference (closed form or torch.func).
"""

import re

import numpy as np
import pytest
import torch

import funcad as mindspore
import funcad as ms
import funcad.nn as nn
import funcad.numpy as mnp
import funcad.ops as ops
from funcad import Tensor, grad, vmap


def published(text):
    """The numbers of a tutorial's printed Tensor, in the order printed."""
    return np.array([float(v) for v in re.findall(r"-?\d+\.\d+e[+-]\d+", text)])


def numbers(*tensors):
    return np.concatenate([np.asarray(t.asnumpy(), np.float64).ravel() for t in tensors])


# -- derivation: first-order derivation --------------------------------------------------------------------------
x = Tensor([3.0], dtype=ms.float32)
y = Tensor([5.0], dtype=ms.float32)


class WeightedNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.z = ms.Parameter(ms.Tensor(np.array([1.0], np.float32)), name='z')

    def construct(self, x, y):
        out = x * x * y * self.z
        return out


def test_derivation_first_order_inputs():
    net = WeightedNet()
    grad_fn = ms.grad(net, grad_position=(0, 1))
    gradients = grad_fn(x, y)
    # published: (Tensor(... value= [ 3.00000000e+01]), Tensor(... value= [ 9.00000000e+00])); closed form 2xyz, x*x*z
    np.testing.assert_array_equal(numbers(*gradients), published("[ 3.00000000e+01] [ 9.00000000e+00]"))
    assert [g.shape for g in gradients] == [(1,), (1,)] and gradients[0].dtype == ms.float32


def test_derivation_first_order_weights():
    net = WeightedNet()
    params = ms.ParameterTuple(net.trainable_params())
    output = ms.grad(net, grad_position=None, weights=params)(x, y)
    assert isinstance(output, tuple) and len(output) == 1
    np.testing.assert_array_equal(numbers(*output), published("[ 4.50000000e+01]"))  # x*x*y


def test_derivation_auxiliary_outputs(capsys):
    net = nn.Dense(10, 1)
    loss_fn = nn.MSELoss()

    def forward(inputs, labels):
        logits = net(inputs)
        loss = loss_fn(logits, labels)
        return loss, logits

    inputs = Tensor(np.random.randn(16, 10).astype(np.float32))
    labels = Tensor(np.random.randn(16, 1).astype(np.float32))

    grad_fn = ms.grad(forward, grad_position=0, weights=None, has_aux=True)
    inputs_gradient, (aux_logits,) = grad_fn(inputs, labels)
    print(len(inputs_gradient), aux_logits.shape)
    assert capsys.readouterr().out == "16 (16, 1)\n"  # the tutorial shows "16, (16, 1)", not print's own format

    w, b = (torch.tensor(p.asnumpy(), dtype=torch.float64) for p in net.trainable_params())
    xt = torch.tensor(inputs.asnumpy(), dtype=torch.float64, requires_grad=True)
    loss = ((xt @ w.T + b - torch.tensor(labels.asnumpy(), dtype=torch.float64)) ** 2).mean()
    np.testing.assert_allclose(inputs_gradient.asnumpy(), torch.autograd.grad(loss, xt)[0].numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(aux_logits.asnumpy(), (xt @ w.T + b).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stopped, printed", [(True, "[5.0]"), (False, "[10.0]")])
def test_derivation_stop_gradient(stopped, printed):
    class Net(nn.Cell):
        def __init__(self):
            super().__init__()

        def construct(self, x, y):
            out1 = x * y
            out2 = x * y
            if stopped:
                out2 = ops.stop_gradient(out2)  # Stop computing the gradient of the out2 operator.
            out = out1 + out2
            return out

    net = Net()
    grad_fn = ms.grad(net)
    output = grad_fn(x, y)
    assert output.asnumpy().tolist() == eval(printed)  # y, or 2y without stop_gradient


class SinNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.sin = ops.Sin()

    def construct(self, x):
        out = self.sin(x)
        return out


class SinCosNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.sin = ops.Sin()
        self.cos = ops.Cos()

    def construct(self, x):
        out1 = self.sin(x)
        out2 = self.cos(x)
        return out1, out2


@pytest.mark.parametrize("net_class, printed, closed_form", [
    (SinNet, "[-0.]\n", lambda v: -np.sin(v)),
    (SinCosNet, "[1.]\n", lambda v: -np.sin(v) - np.cos(v)),
])
def test_derivation_single_input_second_order(net_class, printed, closed_form, capsys):
    x_train = ms.Tensor(np.array([3.1415926]), dtype=ms.float32)

    net = net_class()
    firstgrad = ms.grad(net)
    secondgrad = ms.grad(firstgrad)
    output = secondgrad(x_train)

    result = np.around(output.asnumpy(), decimals=2)
    print(result)
    assert capsys.readouterr().out == printed
    np.testing.assert_allclose(output.asnumpy(), closed_form(np.float32(3.1415926)), atol=1e-6)


def test_derivation_multiple_input_second_order(capsys):
    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.sin = ops.Sin()
            self.cos = ops.Cos()

        def construct(self, x, y):
            out1 = self.sin(x) - self.cos(y)
            out2 = self.cos(x) - self.sin(y)
            return out1, out2

    x_train = Tensor(np.array([3.1415926]), dtype=ms.float32)
    y_train = Tensor(np.array([3.1415926]), dtype=ms.float32)

    net = Net()
    firstgrad = ms.grad(net, grad_position=(0, 1))
    secondgrad = ms.grad(firstgrad, grad_position=(0, 1))
    output = secondgrad(x_train, y_train)

    print(np.around(output[0].asnumpy(), decimals=2))
    print(np.around(output[1].asnumpy(), decimals=2))
    assert capsys.readouterr().out == "[1.]\n[-1.]\n"

    def summed(a, b):
        return (torch.sin(a) - torch.cos(b) + torch.cos(a) - torch.sin(b)).sum()
    def first_grads_summed(a, b):  # reverse mode sums the outputs: the second grad differentiates gx + gy
        return sum(g.sum() for g in torch.func.grad(summed, argnums=(0, 1))(a, b))
    t = torch.tensor([3.1415926], dtype=torch.float64)
    reference = torch.func.grad(first_grads_summed, argnums=(0, 1))(t, t)
    np.testing.assert_allclose(numbers(*output), torch.cat(reference).numpy(), atol=1e-6)


# -- vmap: Automatic Vectorization ------------------------------------------------------------------------------
CONV_ROW = "[ 8.00000000e+00,  1.40000000e+01,  2.00000000e+01]"
vx = mnp.arange(5).astype('float32')
vw = mnp.array([1., 2., 3.])


def convolve(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(mnp.dot(x[i - 1 : i + 2], w))
    return mnp.stack(output)


x_batch = mnp.stack([vx, vx, vx])
w_batch = mnp.stack([vw, vw, vw])


def manually_batch_conv(x_batch, w_batch):
    output = []
    for i in range(x_batch.shape[0]):
        output.append(convolve(x_batch[i], w_batch[i]))
    return mnp.stack(output)


def manually_vectorization_conv(x_batch, w_batch):
    output = []
    for i in range(1, x_batch.shape[-1] - 1):
        output.append(mnp.sum(x_batch[:, i - 1 : i + 2] * w_batch, axis=1))
    return mnp.stack(output, axis=1)


def transposed_axes_conv(x_batch, w_batch):
    w_batch_t = ops.transpose(w_batch, (1, 0))
    auto_vectorization_conv = vmap(convolve, in_axes=(0, 1), out_axes=1)
    output = auto_vectorization_conv(x_batch, w_batch_t)
    return ops.transpose(output, (1, 0))


@pytest.mark.parametrize("batched", [
    manually_batch_conv, manually_vectorization_conv, vmap(convolve), transposed_axes_conv,
    lambda x_batch, w_batch: vmap(convolve, in_axes=(0, None), out_axes=0)(x_batch, vw),
], ids=["for_loop", "manual_vectorization", "vmap", "in_axes_out_axes", "in_axes_none"])
def test_vmap_convolution(batched):
    single = convolve(vx, vw)
    assert single.shape == (3,) and single.dtype == mindspore.float32
    np.testing.assert_array_equal(numbers(single), published(CONV_ROW))
    output = batched(x_batch, w_batch)
    assert output.shape == (3, 3) and output.dtype == mindspore.float32
    np.testing.assert_array_equal(numbers(output), published(CONV_ROW * 3))
    np.testing.assert_array_equal(output.asnumpy(), np.convolve(np.arange(5.0), [3., 2., 1.], "valid")[None].repeat(3, 0))


def test_vmap_nested_vmap():
    hyper_x = Tensor([[1., 2., 3., 4., 5.], [2., 3., 4., 5., 6.], [3., 4., 5., 6., 7.]], mindspore.float32)
    hyper_w = Tensor([[1., 1., 1.], [2., 2., 2.], [3., 3., 3.]], mindspore.float32)

    hyper_vmap_ger = vmap(vmap(convolve, in_axes=[None, 0]), in_axes=[0, None])
    output = hyper_vmap_ger(hyper_x, hyper_w)
    assert output.shape == (3, 3, 3)
    np.testing.assert_array_equal(numbers(output), published("""
        [[[ 6.00000000e+00,  9.00000000e+00,  1.20000000e+01], [ 1.20000000e+01,  1.80000000e+01,  2.40000000e+01],
          [ 1.80000000e+01,  2.70000000e+01,  3.60000000e+01]],
         [[ 9.00000000e+00,  1.20000000e+01,  1.50000000e+01], [ 1.80000000e+01,  2.40000000e+01,  3.00000000e+01],
          [ 2.70000000e+01,  3.60000000e+01,  4.50000000e+01]],
         [[ 1.20000000e+01,  1.50000000e+01,  1.80000000e+01], [ 2.40000000e+01,  3.00000000e+01,  3.60000000e+01],
          [ 3.60000000e+01,  4.50000000e+01,  5.40000000e+01]]]"""))
    windows = np.lib.stride_tricks.sliding_window_view(hyper_x.asnumpy(), 3, axis=1)   # (3, 3, 3): x, position, tap
    np.testing.assert_array_equal(output.asnumpy(), np.einsum("ipk,jk->ijp", windows, hyper_w.asnumpy()))


def forward_fn(x, y):
    out = x + 2 * y
    out = ops.sin(out)
    reduce_sum = ops.ReduceSum()
    return reduce_sum(out)


@pytest.mark.parametrize("order", ["grad_of_vmap", "vmap_of_grad"])
def test_vmap_composed_with_grad(order):
    x_hat = Tensor([[1., 2., 3.], [2., 3., 4.]], mindspore.float32)
    y_hat = Tensor([[2., 3., 4.], [3., 4., 5.]], mindspore.float32)

    if order == "grad_of_vmap":
        transformed = grad(vmap(forward_fn), grad_position=(0, 1))
    else:
        transformed = vmap(grad(forward_fn, grad_position=(0, 1)))
    gradients = transformed(x_hat, y_hat)
    assert isinstance(gradients, tuple) and [g.shape for g in gradients] == [(2, 3), (2, 3)]
    np.testing.assert_allclose(numbers(*gradients), published("""
        [[ 2.83662200e-01, -1.45500034e-01,  4.42569796e-03], [-1.45500034e-01,  4.42569796e-03,  1.36737213e-01]]
        [[ 5.67324400e-01, -2.91000068e-01,  8.85139592e-03], [-2.91000068e-01,  8.85139592e-03,  2.73474425e-01]]"""),
        rtol=1e-5, atol=1e-7)

    def torch_forward(a, b):
        return torch.sin(a + 2 * b).sum()
    xt, yt = (torch.tensor(t.asnumpy(), dtype=torch.float64) for t in (x_hat, y_hat))
    reference = torch.func.vmap(torch.func.grad(torch_forward, argnums=(0, 1)))(xt, yt)
    np.testing.assert_allclose(numbers(*gradients), torch.cat([r.ravel() for r in reference]).numpy(), rtol=1e-5, atol=1e-7)
