"""Conv1d, Conv2dTranspose, GroupNorm, InstanceNorm2d, ReLU6, PReLU, Hardswish, Mish, Dropout2d, Upsample, the 1-D
pools, ceil_mode, AdaptiveMaxPool2d and BatchNorm's use_batch_statistics against torch in float64 (outputs, input
and parameter gradients), and each family under funcad.jit."""

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops
from funcad.testing import check_grads

F64 = np.float64
T64 = torch.float64


def _normal(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


def _randomise(cell, seed=3):
    rng = np.random.default_rng(seed)
    for _, p in cell.parameters_and_names():
        p.set_data(rng.uniform(0.5, 1.5, size=p.shape))


class _Padded(torch.nn.Module):
    """torch's layer after an explicit (possibly uneven) zero padding, or before a crop of its output."""

    def __init__(self, layer, pad=None, crop=None):
        super().__init__()
        self.pad, self.crop, self.layer = pad, crop, layer

    def forward(self, x):
        if self.pad is not None:
            x = torch.nn.functional.pad(x, self.pad)
        y = self.layer(x)
        return y if self.crop is None else y[(Ellipsis, *(slice(a, a + n) for a, n in self.crop))]


# -- convolutions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("options, torch_pad", [
    ({"pad_mode": "same", "stride": 2}, (0, 1)),       # L=8, k=3, s=2: total padding 1, on the right
    ({"pad_mode": "same", "dilation": 2}, (2, 2)),
    ({"pad_mode": "valid", "stride": 2, "group": 2}, (0, 0)),
    ({"pad_mode": "pad", "padding": 2, "has_bias": True}, (2, 2)),
    ({"pad_mode": "pad", "padding": (0, 2), "has_bias": True}, (0, 2)),
])
def test_conv1d_matches_torch(options, torch_pad, assert_layer_matches):
    cell = nn.Conv1d(4, 6, 3, **options, dtype=F64)
    torch_options = {"stride": options.get("stride", 1), "dilation": options.get("dilation", 1), "groups": options.get("group", 1)}
    module = _Padded(torch.nn.Conv1d(4, 6, 3, bias=options.get("has_bias", False), **torch_options, dtype=T64), pad=torch_pad)
    assert_layer_matches(cell, module, (_normal(2, 4, 8),), torch_prefix="layer.")


@pytest.mark.parametrize("options, torch_options", [
    ({"pad_mode": "pad", "padding": 1, "stride": 2, "output_padding": 1, "has_bias": True},
     {"padding": 1, "stride": 2, "output_padding": 1}),
    ({"pad_mode": "valid", "stride": 2, "dilation": 2}, {"stride": 2, "dilation": 2}),
    ({"pad_mode": "pad", "padding": 2, "stride": 3, "group": 2, "has_bias": True}, {"padding": 2, "stride": 3, "groups": 2}),
])
def test_conv2d_transpose_matches_torch(options, torch_options, assert_layer_matches):
    cell = nn.Conv2dTranspose(4, 6, 3, **options, dtype=F64)
    module = torch.nn.ConvTranspose2d(4, 6, 3, bias=options.get("has_bias", False), **torch_options, dtype=T64)
    assert_layer_matches(cell, module, (_normal(2, 4, 5, 6),))


@pytest.mark.parametrize("kernel, stride, crop", [(3, 2, ((0, 10), (0, 12))), (4, 2, ((1, 10), (1, 12))), (3, 1, ((1, 5), (1, 6)))])
def test_conv2d_transpose_same_mode_is_the_cropped_full_transpose(kernel, stride, crop, assert_layer_matches):
    """'same': output H * stride, the full transposed convolution cropped by the 'same' padding (the extra on the bottom)."""
    cell = nn.Conv2dTranspose(3, 2, kernel, stride=stride, has_bias=True, dtype=F64)
    module = _Padded(torch.nn.ConvTranspose2d(3, 2, kernel, stride=stride, dtype=T64), crop=crop)
    assert_layer_matches(cell, module, (_normal(2, 3, 5, 6),), torch_prefix="layer.")


def test_conv2d_transpose_uneven_padding_and_higher_order_gradients(assert_layer_matches):
    cell = nn.Conv2dTranspose(2, 3, (3, 2), stride=2, pad_mode="pad", padding=(0, 1, 1, 0), has_bias=True, dtype=F64)
    module = _Padded(torch.nn.ConvTranspose2d(2, 3, (3, 2), stride=2, dtype=T64), crop=((0, 10), (1, 7)))
    x = _normal(2, 2, 5, 4)
    assert_layer_matches(cell, module, (x,), torch_prefix="layer.")
    check_grads(lambda x: ops.sum(ops.tanh(cell(x))), (x[:1],), order=2)


# -- normalisation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("groups, shape, affine", [(1, (2, 6, 3, 4), True), (2, (2, 6, 5), True), (6, (3, 6, 2, 2), True), (3, (2, 6), False)])
def test_group_norm_matches_torch(groups, shape, affine, assert_layer_matches):
    cell = nn.GroupNorm(groups, 6, eps=1e-4, affine=affine, dtype=F64)
    _randomise(cell)
    assert_layer_matches(cell, torch.nn.GroupNorm(groups, 6, eps=1e-4, affine=affine, dtype=T64), (_normal(*shape) * 2 + 1,))


@pytest.mark.parametrize("affine", [True, False])
def test_instance_norm_matches_torch_in_training_and_evaluation(affine, assert_layer_matches):
    cell = nn.InstanceNorm2d(3, affine=affine, dtype=F64)
    _randomise(cell)
    module = torch.nn.InstanceNorm2d(3, affine=affine, dtype=T64)
    x = _normal(2, 3, 4, 5) * 3 - 1
    assert_layer_matches(cell, module, (x,))
    cell.set_train()
    module.train()
    assert_layer_matches(cell, module, (x,))
    assert nn.InstanceNorm2d(3).affine and [n for n, _ in nn.InstanceNorm2d(3).parameters_and_names()] == ["gamma", "beta"]


@pytest.mark.parametrize("train, forced", [(False, True), (True, False)])
def test_batch_norm_use_batch_statistics_overrides_the_mode(train, forced, assert_layer_matches):
    """True: batch statistics (and running updates) even in evaluation; False: running statistics even in training."""
    cell = nn.BatchNorm2d(3, use_batch_statistics=forced, momentum=0.7, dtype=F64).set_train(train)
    _randomise(cell)
    module = torch.nn.BatchNorm2d(3, momentum=0.3, dtype=T64).train(forced)
    x = _normal(4, 3, 2, 2)
    assert_layer_matches(cell, module, (x,))
    np.testing.assert_allclose(np.asarray(cell.moving_mean), module.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(cell.moving_variance), module.running_var.numpy(), rtol=1e-12)


# -- activations -----------------------------------------------------------------------------------
BOUNDARIES = np.array([-3.0, 0.0, 3.0, 6.0, -4.0, 7.0])


class _HardsigmoidInDouble(torch.nn.Module):
    """torch's Hardsigmoid scales its gradient by 1/6 in single precision; its relu6 form is the double-precision reference."""

    def forward(self, x):
        return torch.nn.functional.relu6(x + 3.0) / 6.0


ACTIVATIONS = {
    "relu6": (nn.ReLU6(), torch.nn.ReLU6()), "hardswish": (nn.HSwish(), torch.nn.Hardswish()), "mish": (nn.Mish(), torch.nn.Mish()),
    "hardsigmoid": (nn.HSigmoid(), _HardsigmoidInDouble()),
    "hardtanh": (nn.Hardtanh(-3.0, 6.0), torch.nn.Hardtanh(-3.0, 6.0)), "selu": (nn.SeLU(), torch.nn.SELU()),
    "celu": (nn.CELU(2.0), torch.nn.CELU(2.0)), "logsigmoid": (nn.LogSigmoid(), torch.nn.LogSigmoid()),
    "softsign": (nn.Softsign(), torch.nn.Softsign()), "tanhshrink": (nn.Tanhshrink(), torch.nn.Tanhshrink()),
    "softmin": (nn.Softmin(0), torch.nn.Softmin(0)), "glu": (nn.GLU(), torch.nn.GLU()),
    "softplus": (nn.Softplus(2.0, 6.0), torch.nn.Softplus(2.0, 6.0)), "threshold": (nn.Threshold(3.0, -1.5), torch.nn.Threshold(3.0, -1.5)),
    "hshrink": (nn.HShrink(3.0), torch.nn.Hardshrink(3.0)), "softshrink": (nn.SoftShrink(3.0), torch.nn.Softshrink(3.0)),
}


@pytest.mark.parametrize("cell, module", ACTIVATIONS.values(), ids=ACTIVATIONS.keys())
def test_activations_match_torch_including_at_their_kinks(cell, module, assert_layer_matches):
    x = np.concatenate([_normal(30) * 4, BOUNDARIES]).reshape(3, 12)
    assert_layer_matches(cell, module, (x,))


@pytest.mark.parametrize("channel, shape", [(1, (2, 3, 4)), (3, (2, 3, 4, 2)), (3, (2, 3))])
def test_prelu_matches_torch(channel, shape, assert_layer_matches):
    cell = nn.PReLU(channel, w=np.array([0.1, -0.3, 0.6])[:channel], dtype=F64)
    module = torch.nn.PReLU(channel, dtype=T64)
    x = _normal(*shape)
    x.flat[0] = 0.0
    assert_layer_matches(cell, module, (x,))
    assert cell.torch_parameter_names() == {"w": "weight"}
    assert nn.get_activation("prelu").w.shape == (1,) and float(np.asarray(nn.PReLU().w)[0]) == pytest.approx(0.25)


# -- pooling ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel, stride, padding, size", [(3, 2, 0, (6, 7)), (2, 2, 1, (5, 5)), (3, 3, 1, (7, 5)), (3, 3, 0, (4, 8))])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool2d_ceil_mode_matches_torch(kind, kernel, stride, padding, size, ceil_mode, assert_layer_matches):
    mode = "pad" if padding else "valid"
    if kind == "max":
        cell = nn.MaxPool2d(kernel, stride, pad_mode=mode, padding=padding, ceil_mode=ceil_mode)
        module = torch.nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode)
        assert_layer_matches(cell, module, (_normal(2, 3, *size),))
        return
    for include in (True, False):
        cell = nn.AvgPool2d(kernel, stride, pad_mode=mode, padding=padding, ceil_mode=ceil_mode, count_include_pad=include)
        module = torch.nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode, count_include_pad=include)
        assert_layer_matches(cell, module, (_normal(2, 3, *size),))


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", [(3, 2, 0, False), (3, 2, 1, True), (2, 3, 1, True)])
def test_pool1d_matches_torch(kernel, stride, padding, ceil_mode, assert_layer_matches):
    mode = "pad" if padding else "valid"
    x = _normal(2, 3, 9)
    module = torch.nn.MaxPool1d(kernel, stride, padding, ceil_mode=ceil_mode)
    assert_layer_matches(nn.MaxPool1d(kernel, stride, mode, padding, ceil_mode=ceil_mode), module, (x,))
    for include in (True, False):
        cell = nn.AvgPool1d(kernel, stride, mode, padding, ceil_mode, count_include_pad=include)
        assert_layer_matches(cell, torch.nn.AvgPool1d(kernel, stride, padding, ceil_mode, count_include_pad=include), (x,))


def test_pool1d_same_mode_pads_the_right_end():
    x = _normal(1, 2, 7)
    padded = np.pad(x, ((0, 0), (0, 0), (0, 1)), constant_values=-np.inf)
    np.testing.assert_array_equal(np.asarray(nn.MaxPool1d(2, 2, "same")(x)), padded.reshape(1, 2, 4, 2).max(-1))


@pytest.mark.parametrize("output_size", [(2, 3), 3, (None, 2), (5, 7)])
def test_adaptive_max_pool_matches_torch(output_size, assert_layer_matches):
    assert_layer_matches(nn.AdaptiveMaxPool2d(output_size), torch.nn.AdaptiveMaxPool2d(output_size), (_normal(2, 3, 7, 9),))


# -- dropout and resizing --------------------------------------------------------------------------
def test_dropout2d_zeros_whole_channels():
    x = np.ones((40, 50, 3, 3))
    cell = nn.Dropout2d(p=0.4)
    np.testing.assert_array_equal(np.asarray(cell(x)), x)  # evaluation mode
    y = np.asarray(cell.set_train()(x))
    per_channel = y.reshape(40, 50, 9)
    assert (per_channel == per_channel[..., :1]).all()
    assert set(np.unique(per_channel)) == {0.0, 1.0 / 0.6}
    assert 0.35 < (per_channel[..., 0] == 0).mean() < 0.45
    assert nn.Dropout2d(keep_prob=0.9).p == pytest.approx(0.1)


@pytest.mark.parametrize("options, shape", [
    ({"scale_factor": 2}, (2, 3, 4, 5)), ({"size": (7, 3)}, (2, 3, 4, 5)), ({"scale_factor": 1.7, "mode": "bilinear"}, (2, 3, 4, 5)),
    ({"size": (7, 9), "mode": "bilinear", "align_corners": True}, (1, 2, 4, 5)), ({"size": 3, "mode": "bilinear"}, (1, 2, 5, 6)),
    ({"scale_factor": 3, "mode": "linear"}, (2, 3, 4)), ({"size": 2, "mode": "nearest"}, (2, 3, 5)),
    ({"scale_factor": 1.5, "mode": "bilinear", "recompute_scale_factor": True}, (1, 1, 3, 5)),
])
def test_upsample_matches_torch(options, shape, assert_layer_matches):
    assert_layer_matches(nn.Upsample(**options), torch.nn.Upsample(**options), (_normal(*shape),))


# -- compiled ----------------------------------------------------------------------------------------
def test_each_family_compiled_with_its_gradient_equals_eager():
    funcad.set_seed(2)
    net = nn.SequentialCell(
        nn.Conv2dTranspose(2, 4, 3, stride=2, has_bias=True, dtype=F64), nn.GroupNorm(2, 4, dtype=F64), nn.PReLU(4, dtype=F64), nn.Mish(),
        nn.Dropout2d(0.3), nn.MaxPool2d(3, 2, ceil_mode=True), nn.Upsample(scale_factor=2, mode="bilinear"), nn.InstanceNorm2d(4, dtype=F64),
        nn.Hardswish(), nn.AvgPool2d(3, 2, ceil_mode=True), nn.AdaptiveMaxPool2d((2, 3)), nn.ReLU6(), nn.Flatten(),
    ).set_train()
    conv1d = nn.SequentialCell(nn.Conv1d(2, 3, 3, has_bias=True, dtype=F64), nn.AvgPool1d(2, 2, ceil_mode=True), nn.MaxPool1d(2))
    x = _normal(2, 2, 5, 5)

    def loss(x):
        return ops.sum(ops.square(net(x))) + ops.sum(conv1d(x[:, :, 0]))

    weights = net.trainable_params() + conv1d.trainable_params()
    step = funcad.value_and_grad(loss, 0, weights)
    funcad.set_seed(5)
    eager_loss, (eager_gx, eager_gw) = step(x)
    funcad.set_seed(5)
    jit_loss, (jit_gx, jit_gw) = funcad.jit(step)(x)
    np.testing.assert_allclose(np.asarray(jit_loss), np.asarray(eager_loss), rtol=1e-12)
    for a, b in zip([jit_gx, *jit_gw], [eager_gx, *eager_gw]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)


def test_bad_arguments_name_the_layer_and_values():
    net = nn.SequentialCell(nn.Conv1d(3, 4, 3), nn.GroupNorm(2, 4))
    with pytest.raises(ValueError, match=r"Conv1d '0': expected input of shape \(N, 3, L\), got \(2, 5, 7\)"):
        net(np.zeros((2, 5, 7), np.float32))
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels 5 must be divisible by num_groups 2"):
        nn.GroupNorm(2, 5)
    with pytest.raises(ValueError, match=r"Conv2dTranspose: output_padding must be non-negative and smaller than stride \(2, 2\)"):
        nn.Conv2dTranspose(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"Upsample: give exactly one of size and scale_factor"):
        nn.Upsample()
    with pytest.raises(ValueError, match=r"Upsample \(root\): mode 'bilinear' takes 4-D inputs, got shape \(2, 3, 4\)"):
        nn.Upsample(scale_factor=2, mode="bilinear")(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"PReLU \(root\): expected input of shape \(N, 3, \*\) for 3 slopes, got \(2, 4\)"):
        nn.PReLU(3)(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"AdaptiveMaxPool2d \(root\): output_size must be a positive int, None or a pair of them, got 0"):
        nn.AdaptiveMaxPool2d(0)(np.zeros((1, 1, 4, 4), np.float32))
