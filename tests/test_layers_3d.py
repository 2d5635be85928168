"""The 3-D layers and ops (composites of the 2-D kernels) against torch in float64: values and gradients over their
options, eager and under funcad.jit, second order and vmap; round trips through mirror and to_funcad; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import nn, ops
from torch_ref.mirror import mirror
from torch_ref.to_funcad import to_funcad

RNG = np.random.default_rng(3)
X = RNG.standard_normal((2, 4, 5, 6, 5))
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def _check(fn, torch_fn, *arrays, jit: bool = True):
    """fn(*arrays) and its gradient w.r.t. every array equal torch's, eagerly and under funcad.jit."""
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = torch_fn(*tensors)
    cot = RNG.standard_normal(tuple(out.shape))
    (out * torch.from_numpy(cot)).sum().backward()
    positions = tuple(range(len(arrays)))

    def loss(*args):
        return ops.sum(fn(*args) * cot)

    runs = [funcad.value_and_grad(loss, positions)] + ([funcad.jit(funcad.value_and_grad(loss, positions))] if jit else [])
    for run in runs:
        value, grads = run(*arrays)
        grads = grads if isinstance(grads, tuple) else (grads,)
        np.testing.assert_allclose(float(value), float((out.detach() * torch.from_numpy(cot)).sum()), rtol=1e-10)
        for g, t in zip(grads, tensors):
            np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(np.asarray(fn(*arrays)), out.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("options", [
    dict(), dict(stride=2, padding=1), dict(stride=(2, 1, 3), padding=(1, 0, 2), dilation=(2, 1, 1)),
    dict(groups=2, padding=(0, 1, 1), dilation=(1, 2, 1)), dict(groups=4, stride=(1, 2, 2)),
], ids=str)
def test_conv3d_matches_torch(options):
    groups = options.get("groups", 1)
    w = RNG.standard_normal((4, 4 // groups, 2, 3, 2))
    b = RNG.standard_normal(4)
    _check(lambda x, w, b: ops.conv3d(x, w, b, **options), lambda x, w, b: F.conv3d(x, w, b, **options), X, w, b)


def test_conv3d_uneven_padding_is_explicit_padding():
    w = RNG.standard_normal((3, 4, 3, 2, 3))
    pads = (0, 2, 1, 0, 2, 1)
    _check(lambda x, w: ops.conv3d(x, w, padding=pads), lambda x, w: F.conv3d(F.pad(x, (2, 1, 1, 0, 0, 2)), w), X, w)


def test_conv3d_second_order_matches_torch():
    w = RNG.standard_normal((3, 4, 2, 2, 2))
    tx, tw = torch.tensor(X, requires_grad=True), torch.tensor(w, requires_grad=True)
    gx, = torch.autograd.grad(F.conv3d(tx, tw, stride=(2, 1, 1), padding=1).pow(2).sum(), tx, create_graph=True)
    gx.pow(2).sum().backward()

    def inner(x, w):
        return ops.sum(funcad.grad(lambda x: ops.sum(ops.conv3d(x, w, stride=(2, 1, 1), padding=1) ** 2))(x) ** 2)

    gx2, gw2 = funcad.grad(inner, (0, 1))(X, w)
    np.testing.assert_allclose(np.asarray(gx2), tx.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(np.asarray(gw2), tw.grad.numpy(), rtol=1e-9)


def test_conv3d_vmaps_over_filters_and_inputs():
    ws = RNG.standard_normal((3, 2, 4, 2, 2, 2))
    batched = funcad.vmap(lambda w: ops.conv3d(X, w, padding=1))(ws)
    for i, w in enumerate(ws):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(ops.conv3d(X, w, padding=1)), rtol=1e-12, atol=1e-12)
    per_sample = funcad.vmap(lambda x: ops.max_pool3d(x[None], 2)[0])(X)
    np.testing.assert_allclose(np.asarray(per_sample), np.asarray(ops.max_pool3d(X, 2)))


@pytest.mark.parametrize("options", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
], ids=str)
def test_max_pool3d_matches_torch(options):
    _check(lambda x: ops.max_pool3d(x, **options), lambda x: F.max_pool3d(x, **options), X)


@pytest.mark.parametrize("options", [
    dict(kernel_size=2, stride=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), dict(kernel_size=2, stride=1, divisor_override=3),
], ids=str)
def test_avg_pool3d_matches_torch(options):
    torch_options = dict(options, divisor_override=options.get("divisor_override"))
    _check(lambda x: ops.avg_pool3d(x, **options), lambda x: F.avg_pool3d(x, **torch_options), X)


def test_avg_pool3d_defaults_are_mindspore_s():
    """MindSpore's ops.avg_pool3d: kernel 1, stride 1 (torch's stride defaults to the kernel)."""
    np.testing.assert_allclose(np.asarray(ops.avg_pool3d(X)), X)
    np.testing.assert_allclose(np.asarray(ops.avg_pool3d(X, 2)), F.avg_pool3d(torch.tensor(X), 2, 1).numpy(), rtol=1e-12)


@pytest.mark.parametrize("size", [1, (3, 2, 4), (None, 4, 1), 5])
def test_adaptive_pools_3d_match_torch(size):
    _check(lambda x: ops.adaptive_avg_pool3d(x, size), lambda x: F.adaptive_avg_pool3d(x, size), X)
    _check(lambda x: ops.adaptive_max_pool3d(x, size), lambda x: F.adaptive_max_pool3d(x, size), X)


# -- layers --------------------------------------------------------------------------------------------------------------

def _same_values_and_grads(cell, x, rtol=1e-9):
    """``cell`` and its mirror give the same output and input and weight gradients."""
    module = mirror(cell)
    tx = torch.tensor(x, requires_grad=True)
    out = module(tx)
    cot = RNG.standard_normal(tuple(out.shape))
    (out * torch.from_numpy(cot)).sum().backward()
    weights = cell.trainable_params()
    _, grads = funcad.value_and_grad(lambda v: ops.sum(cell(v) * cot), 0, weights or None)(x)
    np.testing.assert_allclose(np.asarray(cell(x)), out.detach().numpy(), rtol=rtol, atol=1e-11)
    np.testing.assert_allclose(np.asarray(grads[0] if weights else grads), tx.grad.numpy(), rtol=rtol, atol=1e-11)
    torch_grads, names = {name: p.grad for name, p in module.named_parameters()}, cell.torch_parameter_names()
    for p, g in zip(weights, grads[1] if weights else ()):
        np.testing.assert_allclose(np.asarray(g), torch_grads[names.get(p.name, p.name)].numpy(), rtol=rtol, atol=1e-11)
    return module


@pytest.mark.parametrize("options", [
    dict(pad_mode="same"), dict(pad_mode="same", stride=2), dict(pad_mode="valid", stride=(1, 2, 1), dilation=(2, 1, 1)),
    dict(pad_mode="pad", padding=(1, 0, 2), group=2, has_bias=True), dict(pad_mode="pad", padding=1, padding_mode="reflect"),
], ids=str)
def test_conv3d_layer_mirrors(options):
    cell = nn.Conv3d(4, 6, (2, 3, 3), dtype=funcad.float64, **options)
    _same_values_and_grads(cell, X)


def test_conv3d_layer_defaults_are_mindspore_s():
    cell = nn.Conv3d(4, 6, 3)
    assert (cell.pad_mode, cell.has_bias, cell.bias, cell.weight.shape) == ("same", False, None, (6, 4, 3, 3, 3))
    assert cell(X.astype(np.float32)).shape == (2, 6, 5, 6, 5)


@pytest.mark.parametrize("options", [
    dict(pad_mode="valid", stride=2), dict(pad_mode="pad", padding=1, stride=2, output_padding=1, has_bias=True),
    dict(pad_mode="same", stride=(1, 2, 2), kernel_size=(3, 4, 2)), dict(pad_mode="pad", padding=(1, 0, 1), group=2, dilation=(1, 2, 1)),
], ids=str)
def test_conv3d_transpose_layer_mirrors(options):
    options = dict(dict(kernel_size=3), **options)
    cell = nn.Conv3dTranspose(4, 2, dtype=funcad.float64, **options)
    _same_values_and_grads(cell, X)


def test_conv3d_transpose_keeps_mindspore_s_argument_order():
    cell = nn.Conv3dTranspose(4, 2, 3, 2, "pad", 1, 1, 1, 1)  # stride, pad_mode, padding, dilation, group, output_padding
    assert (cell.dilation, cell.group, cell.output_padding) == ((1, 1, 1), 1, (1, 1, 1))
    assert cell(X.astype(np.float32)).shape == (2, 2, 10, 12, 10)


@pytest.mark.parametrize("cell", [
    lambda: nn.MaxPool3d(2, 2), lambda: nn.MaxPool3d(3, 2, "pad", 1, ceil_mode=True), lambda: nn.MaxPool3d((2, 3, 2), (1, 2, 2), "pad", (1, 1, 0)),
    lambda: nn.AvgPool3d(2, 1), lambda: nn.AvgPool3d(3, 2, "pad", 1, count_include_pad=False),
    lambda: nn.AvgPool3d(3, 2, "pad", 1, ceil_mode=True), lambda: nn.AvgPool3d(2, 2, divisor_override=3),
    lambda: nn.AdaptiveAvgPool3d((3, None, 2)), lambda: nn.AdaptiveMaxPool3d(2),
], ids=["max", "max_ceil", "max_pad", "avg", "avg_exclude", "avg_ceil", "avg_divisor", "adaptive_avg", "adaptive_max"])
def test_pool_layers_mirror(cell):
    _same_values_and_grads(cell(), X)


def test_same_mode_pools_follow_mindspore():
    """'same': output ceil(size / stride), the odd padding at the end; the average counts the real inputs only."""
    y = nn.MaxPool3d(2, 2, "same")(X)
    assert y.shape == (2, 4, 3, 3, 3)
    padded = F.pad(torch.tensor(X), (0, 1, 0, 0, 0, 1), value=float("-inf"))
    np.testing.assert_allclose(np.asarray(y), F.max_pool3d(padded, 2).numpy())
    mean = nn.AvgPool3d(3, 2, "same")(X)
    pads = (1, 1, 0, 1, 1, 1)  # (W, H, D) as F.pad reads them: 'same' for sizes (5, 6, 5), kernel 3, stride 2
    sums, counts = (F.avg_pool3d(F.pad(torch.tensor(a), pads), 3, 2) for a in (X, np.ones_like(X)))
    np.testing.assert_allclose(np.asarray(mean), (sums / counts).numpy(), rtol=1e-12)


@pytest.mark.parametrize("use_batch_statistics", [None, True, False])
def test_batch_norm3d_trains_and_evaluates_as_torch(use_batch_statistics):
    cell = nn.BatchNorm3d(4, momentum=0.8, use_batch_statistics=use_batch_statistics, dtype=funcad.float64)
    cell.gamma.set_data(RNG.uniform(0.5, 1.5, 4))
    cell.beta.set_data(RNG.standard_normal(4))
    cell.set_train(True)
    module = mirror(cell)
    assert abs(module.momentum - 0.2) < 1e-12
    for _ in range(2):  # two steps of the running statistics each
        np.testing.assert_allclose(np.asarray(cell(X)), module(torch.tensor(X)).detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(cell.moving_mean), module.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(cell.moving_variance), module.running_var.numpy(), rtol=1e-12)
    cell.set_train(False)
    module.eval()
    np.testing.assert_allclose(np.asarray(cell(X)), module(torch.tensor(X)).detach().numpy(), rtol=1e-10, atol=1e-12)
    for training in (True, False):  # gradients of the input, gamma and beta in both modes
        _same_values_and_grads(cell.set_train(training) or cell, X)


class _Torch3d(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(4, 6, 3, padding=1)
        self.bn = torch.nn.BatchNorm3d(6, momentum=0.3)
        self.pool = torch.nn.MaxPool3d(2, ceil_mode=True)
        self.up = torch.nn.ConvTranspose3d(6, 3, 2, stride=2, bias=False)
        self.avg = torch.nn.AvgPool3d(3, 1, 1, count_include_pad=False)
        self.head = torch.nn.AdaptiveAvgPool3d((2, 1, 2))
        self.gate = torch.nn.AdaptiveMaxPool3d(1)

    def forward(self, x):
        h = self.pool(torch.relu(self.bn(self.conv(x))))
        h = self.avg(self.up(h))
        return self.head(h).flatten(1) * self.gate(h).flatten(1)[:, :1]


@pytest.mark.parametrize("training", [True, False])
def test_torch_model_with_3d_layers_round_trips(training):
    torch.manual_seed(0)
    model = _Torch3d().double().train(training)
    cell = to_funcad(model)
    assert isinstance(cell.conv, nn.Conv3d) and isinstance(cell.bn, nn.BatchNorm3d) and isinstance(cell.up, nn.Conv3dTranspose)
    assert abs(cell.bn.momentum - 0.7) < 1e-12 and {"gamma", "beta", "moving_mean", "moving_variance"} <= {
        p.name.split(".")[-1] for p in cell.bn.get_parameters()}
    expected = model(torch.tensor(X)).detach().numpy()
    np.testing.assert_allclose(np.asarray(cell(X)), expected, rtol=1e-9, atol=1e-12)
    back = mirror(cell)
    assert isinstance(back.conv, torch.nn.Conv3d) and isinstance(back.up, torch.nn.ConvTranspose3d)
    np.testing.assert_allclose(back(torch.tensor(X)).detach().numpy(), np.asarray(cell(X)), rtol=1e-9, atol=1e-12)


# -- errors ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, x, message", [
    (lambda: nn.Conv3d(4, 2, 3), X[:, :, 0], r"Conv3d.*expected input of shape \(N, 4, D, H, W\), got \(2, 4, 6, 5\)"),
    (lambda: nn.Conv3d(3, 2, 3), X, r"Conv3d.*\(N, 3, D, H, W\), got \(2, 4, 5, 6, 5\)"),
    (lambda: nn.Conv3dTranspose(4, 2, 3), X[:, :, 0], r"Conv3dTranspose.*\(N, 4, D, H, W\), got \(2, 4, 6, 5\)"),
    (lambda: nn.MaxPool3d(2), X[:, :, 0], r"MaxPool3d.*\(N, C, D, H, W\), got \(2, 4, 6, 5\)"),
    (lambda: nn.AvgPool3d(2), X[0], r"AvgPool3d.*\(N, C, D, H, W\), got \(4, 5, 6, 5\)"),
    (lambda: nn.AdaptiveAvgPool3d(2), X[:, :, 0], r"AdaptiveAvgPool3d.*\(N, C, D, H, W\), got \(2, 4, 6, 5\)"),
    (lambda: nn.BatchNorm3d(3), X, r"BatchNorm3d.*\(N, 3, D, H, W\), got \(2, 4, 5, 6, 5\)"),
    (lambda: nn.Conv3d(4, 2, (6, 1, 1), pad_mode="valid"), X, r"conv3d: input \(2, 4, 5, 6, 5\) padded by .* smaller than the dilated kernel"),
    (lambda: nn.MaxPool3d(6), X, r"max_pool3d: input \(2, 4, 5, 6, 5\) .* smaller than the kernel \(6, 6, 6\)"),
], ids=["conv_4d", "conv_channels", "transpose_4d", "max_4d", "avg_4d", "adaptive_4d", "bn_channels", "conv_kernel", "pool_kernel"])
def test_bad_input_names_the_layer_and_shapes(make, x, message):
    with pytest.raises(ValueError, match=message):
        make()(x)


def test_bad_op_arguments_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"funcad.ops.conv3d: expected a 5-D input .* got input \(2, 4, 6, 5\)"):
        ops.conv3d(X[:, :, 0], RNG.standard_normal((2, 4, 1, 1, 1)))
    with pytest.raises(ValueError, match=r"funcad.ops.conv3d: input \(2, 4, 5, 6, 5\) has 4 channels but weight \(2, 3, 1, 1, 1\)"):
        ops.conv3d(X, RNG.standard_normal((2, 3, 1, 1, 1)))
    with pytest.raises(ValueError, match=r"funcad.ops.avg_pool3d: padding \(2, 2, 0, 0, 0, 0\) must be at most half the kernel \(2, 2, 2\)"):
        ops.avg_pool3d(X, 2, padding=(2, 0, 0))
    with pytest.raises(ValueError, match=r"funcad.ops.adaptive_max_pool3d: expected a 5-D input"):
        ops.adaptive_max_pool3d(X[0], 2)
    with pytest.raises(ValueError, match=r"funcad.ops.max_pool3d: padding \(2, 2, 2, 2, 2, 2\) must be at most half the kernel \(2, 2, 2\)"):
        ops.max_pool3d(X, 2, padding=2, dilation=2)
    with pytest.raises(NotImplementedError, match="funcad.ops.adaptive_max_pool3d: return_indices=True is not supported"):
        ops.adaptive_max_pool3d(X, 2, return_indices=True)
    with pytest.raises(ValueError, match=r"Conv3d: padding must be a non-negative int, \(pd, ph, pw\) or \(head, tail"):
        nn.Conv3d(4, 2, 3, pad_mode="pad", padding=(1, 2))
    with pytest.raises(ValueError, match=r"Conv3d: padding \(1, 1, 1\) is only allowed with pad_mode='pad'"):
        nn.Conv3d(4, 2, 3, padding=(1, 1, 1))


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode",
                         [(2, 1, 0, 1, False), (3, 2, 1, 2, True), ((2, 3, 2), (1, 2, 2), (1, 1, 0), (2, 1, 2), False)])
def test_max_pool3d_indices_and_dilation_equal_torch_s(kernel, stride, padding, dilation, ceil_mode):
    """return_indices (torch's flat position in each (n, c) volume) and dilation: values, indices and gradients."""
    x = RNG.standard_normal((2, 3, 6, 7, 7))
    x[0, 0, :3, :3, :3] = 2.5  # ties: the first tap in scan order wins, as torch
    tx = torch.tensor(x, requires_grad=True)
    values, indices = F.max_pool3d(tx, kernel, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
    cot = RNG.standard_normal(tuple(values.shape))
    (values * torch.tensor(cot)).sum().backward()
    pool = lambda a: ops.max_pool3d(a, kernel, stride, padding, dilation, ceil_mode, return_indices=True)  # noqa: E731
    for run in (pool, funcad.jit(pool)):
        v, i = run(x)
        np.testing.assert_array_equal(np.asarray(v), values.detach().numpy())
        np.testing.assert_array_equal(np.asarray(i), indices.numpy())
        assert np.asarray(i).dtype == np.int64
    g = funcad.grad(lambda a: ops.sum(pool(a)[0] * cot))(x)
    np.testing.assert_allclose(np.asarray(g), tx.grad.numpy(), rtol=1e-12)
    no_indices = ops.max_pool3d(x, kernel, stride, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(np.asarray(no_indices), values.detach().numpy())
