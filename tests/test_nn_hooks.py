"""Hooks with MindSpore's names: they see the real values and gradients (checked against closed forms and torch's
hooks), can replace them, are removed by their handles, and refuse what they cannot do under jit or a wrong shape."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops
from funcad.testing import assert_close

X = np.array([1.0, -2.0, 3.0])


def test_tensor_hook_on_an_intermediate_scales_its_gradient_as_mindspore_s_tutorial():
    def f(x, y):
        z = x * y
        z.register_hook(lambda g: g * 2)
        return z * y

    gx, gy = funcad.grad(f, (0, 1))(np.float32(1.0), np.float32(2.0))
    assert_close(gx, 8.0)  # the tutorial's (8, 6)
    assert_close(gy, 6.0)


def test_tensor_hook_on_an_input_sees_its_gradient_and_is_removed_by_its_handle():
    x = funcad.Tensor(X)
    seen = []
    handle = x.register_hook(lambda g: seen.append(np.asarray(g)))
    assert_close(funcad.grad(lambda a: ops.sum(a * a))(x), 2 * X)
    assert_close(seen[0], 2 * X)
    handle.remove()
    funcad.grad(lambda a: ops.sum(a * a))(x)
    assert len(seen) == 1


def test_hook_backward_reads_and_replaces_the_gradient():
    seen = []
    hook = ops.HookBackward(lambda grads: seen.append(grads) or (grads[0] * 0.5,))
    g = funcad.grad(lambda x: ops.sum(ops.exp(hook(x))))(X)
    assert_close(g, 0.5 * np.exp(X))
    assert isinstance(seen[0], tuple) and len(seen[0]) == 1
    assert_close(seen[0][0], np.exp(X))


def test_cell_hooks_match_torch_s_module_hooks():
    funcad.set_seed(0)
    cell = nn.Dense(3, 2, dtype=funcad.float64)
    module = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(cell.weight.asnumpy()))
        module.bias.copy_(torch.tensor(cell.bias.asnumpy()))
    x = np.random.default_rng(0).standard_normal((4, 3))
    record, t_record = {}, {}

    def keep(table):
        def hook(cell_or_module, grad_output):
            table["gout"] = grad_output[0]

        return hook

    handles = [
        cell.register_forward_pre_hook(lambda c, inputs: (inputs[0] * 2.0,)),
        cell.register_forward_hook(lambda c, inputs, out: out + 1.0),
        cell.register_backward_pre_hook(keep(record)),
        cell.register_backward_hook(lambda c, gin, gout: (gin[0] * 3.0,)),
    ]
    module.register_forward_pre_hook(lambda m, inputs: (inputs[0] * 2.0,))
    module.register_forward_hook(lambda m, inputs, out: out + 1.0)
    module.register_full_backward_pre_hook(keep(t_record))
    module.register_full_backward_hook(lambda m, gin, gout: (gin[0] * 3.0,))
    u = np.random.default_rng(1).standard_normal((4, 2))
    out, pullback = funcad.vjp(cell, x)
    tx = torch.tensor(x, requires_grad=True)
    t_out = module(tx)
    t_out.backward(torch.tensor(u))
    assert_close(out, t_out.detach().numpy())
    (gx,) = pullback(u)
    assert_close(gx, tx.grad.numpy())
    assert_close(record["gout"], t_record["gout"].numpy())
    for h in handles:
        h.remove()
    assert_close(cell(x), x @ cell.weight.asnumpy().T + cell.bias.asnumpy())


class _TwoOut(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(3, 2, dtype=funcad.float64)

    def construct(self, x, y):
        h = self.dense(x)
        return h * y, ops.tanh(h) + y


class _TorchTwoOut(torch.nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.dense = torch.nn.Linear(3, 2).double()
        with torch.no_grad():
            self.dense.weight.copy_(torch.tensor(cell.dense.weight.asnumpy()))
            self.dense.bias.copy_(torch.tensor(cell.dense.bias.asnumpy()))

    def forward(self, x, y):
        h = self.dense(x)
        return h * y, torch.tanh(h) + y


def test_backward_hooks_of_a_cell_with_two_inputs_and_two_outputs_match_torch_s_full_backward_hooks():
    funcad.set_seed(3)
    cell = _TwoOut()
    module = _TorchTwoOut(cell)
    rng = np.random.default_rng(4)
    x, y, u0, u1 = rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    record, t_record = {}, {}

    def pre(table):
        def hook(_, grad_output):
            table["gout"] = grad_output
            return grad_output[0], grad_output[1] * 2.0

        return hook

    def post(table):
        def hook(_, grad_input, grad_output):
            table["gin"], table["gout_seen"] = grad_input, grad_output
            return grad_input[0] * 3.0, grad_input[1]

        return hook

    cell.register_backward_pre_hook(pre(record))
    cell.register_backward_hook(post(record))
    module.register_full_backward_pre_hook(pre(t_record))
    module.register_full_backward_hook(post(t_record))
    outs, pullback = funcad.vjp(cell, x, y)
    gx, gy = pullback((u0, u1))
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    t_outs = module(tx, ty)
    torch.autograd.backward(t_outs, (torch.tensor(u0), torch.tensor(u1)))
    for o, t in zip(outs, t_outs):
        assert_close(o, t.detach().numpy())
    assert_close(gx, tx.grad.numpy())
    assert_close(gy, ty.grad.numpy())
    for key in ("gout", "gin", "gout_seen"):
        assert len(record[key]) == len(t_record[key]) == 2
        for ours, theirs in zip(record[key], t_record[key]):
            assert_close(ours, theirs.numpy())


def test_backward_hook_of_a_first_layer_fires_with_none_when_only_weights_are_differentiated():
    funcad.set_seed(5)
    cell = _TwoOut()
    module = _TorchTwoOut(cell)
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    record, t_record = {}, {}

    def post(table):
        def hook(_, grad_input, grad_output):
            table["gin"], table["gout"] = grad_input, grad_output

        return hook

    cell.register_backward_hook(post(record))
    module.register_full_backward_hook(post(t_record))
    weights = cell.trainable_params()

    def loss(a, b):
        first, second = cell(a, b)
        return ops.sum(first ** 2) + ops.sum(second)

    grads = funcad.grad(loss, None, weights)(x, y)
    t_outs = module(torch.tensor(x), torch.tensor(y))
    with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed with respect to module outputs"):
        ((t_outs[0] ** 2).sum() + t_outs[1].sum()).backward()
    assert record["gin"] == t_record["gin"] == (None, None)
    for ours, theirs in zip(record["gout"], t_record["gout"]):
        assert_close(ours, theirs.numpy())
    assert_close(grads[0], module.dense.weight.grad.numpy())


def test_hooks_refuse_jit_and_wrong_shapes_by_name():
    hook = ops.HookBackward(lambda grads: (grads[0],))
    with pytest.raises(RuntimeError, match="ops.HookBackward: gradient hooks run in eager mode only"):
        funcad.jit(funcad.grad(lambda x: ops.sum(hook(x) ** 2)))(X)
    bad = ops.HookBackward(lambda grads: (ops.sum(grads[0]),))
    with pytest.raises(ValueError, match=r"ops.HookBackward: hook <lambda> returned a gradient of shape \(\) for one of shape \(3,\)"):
        funcad.grad(lambda x: ops.sum(bad(x) ** 2))(X)
    cell = nn.ReLU()
    cell.register_backward_hook(lambda c, gin, gout: (gin[0][:1],))
    with pytest.raises(ValueError, match=r"ReLU backward hook: hook <lambda> returned a gradient of shape \(1,\) for one of shape \(3,\)"):
        funcad.grad(lambda x: ops.sum(cell(x)))(X)
    two = _TwoOut()
    two.register_backward_pre_hook(lambda c, gout: (gout[0],))
    with pytest.raises(ValueError, match="_TwoOut backward pre-hook: hook <lambda> returned 1 gradients for 2"):
        funcad.grad(lambda x: ops.sum(two(x, np.ones(2))[0]))(X)
    with pytest.raises(RuntimeError, match="_TwoOut.register_backward_pre_hook: gradient hooks run in eager mode only"):
        funcad.jit(funcad.grad(lambda x: ops.sum(two(x, np.ones(2))[1])))(X)
