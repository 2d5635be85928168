"""Layers against their torch counterparts in float64: outputs, input gradients and parameter gradients."""

import numpy as np
import pytest
import torch

import funcad
from funcad import nn

F64 = np.float64


def _x(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("has_bias", [True, False])
def test_dense_matches_linear(has_bias, assert_matches_torch):
    cell = nn.Dense(5, 3, has_bias=has_bias, dtype=F64)
    assert_matches_torch(cell, torch.nn.Linear(5, 3, bias=has_bias, dtype=torch.float64), _x(4, 5))


def test_dense_on_3d_input_with_activation_name(assert_matches_torch):
    cell = nn.Dense(4, 6, activation="tanh", dtype=F64)
    module = torch.nn.Sequential(torch.nn.Linear(4, 6, dtype=torch.float64), torch.nn.Tanh())
    assert_matches_torch(cell, module, _x(2, 3, 4), torch_prefix="0.")


def test_dense_default_init_is_uniform_within_torch_bounds():
    funcad.set_seed(0)
    cell = nn.Dense(400, 300)
    w, b = np.asarray(cell.weight), np.asarray(cell.bias)
    bound = 1 / np.sqrt(400)
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound and abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound


def test_conv2d_default_init_matches_torch_bounds_and_named_inits_apply():
    funcad.set_seed(0)
    cell = nn.Conv2d(8, 16, 3, has_bias=True)
    bound = 1 / np.sqrt(8 * 9)
    w, b = np.asarray(cell.weight), np.asarray(cell.bias)
    assert w.shape == (16, 8, 3, 3) and 0.95 * bound < np.abs(w).max() <= bound and np.abs(b).max() <= bound
    dense = nn.Dense(3, 2, weight_init="zeros", bias_init="ones")
    np.testing.assert_array_equal(np.asarray(dense(np.ones((1, 3), np.float32))), [[1.0, 1.0]])


def _torch_conv(cin, cout, k, stride=1, dilation=1, groups=1, bias=False, pad4=(0, 0, 0, 0)):
    top, bottom, left, right = pad4
    conv = torch.nn.Conv2d(cin, cout, k, stride=stride, dilation=dilation, groups=groups, bias=bias, dtype=torch.float64)
    return torch.nn.Sequential(torch.nn.ZeroPad2d((left, right, top, bottom)), conv)


@pytest.mark.parametrize(
    "kw, pad4, size",
    [
        (dict(kernel_size=3, pad_mode="same"), (1, 1, 1, 1), (7, 7)),
        (dict(kernel_size=4, stride=2, pad_mode="same"), (1, 2, 1, 2), (8, 8)),  # asymmetric: extra on bottom/right
        (dict(kernel_size=3, stride=2, pad_mode="same"), (0, 1, 1, 1), (6, 7)),
        (dict(kernel_size=(3, 2), pad_mode="valid", has_bias=True), (0, 0, 0, 0), (6, 5)),
        (dict(kernel_size=3, pad_mode="pad", padding=(1, 2, 0, 3), stride=(2, 1)), (1, 2, 0, 3), (6, 6)),
        (dict(kernel_size=3, pad_mode="pad", padding=2, dilation=2, has_bias=True), (2, 2, 2, 2), (7, 6)),
        (dict(kernel_size=3, pad_mode="same", dilation=2), (2, 2, 2, 2), (6, 6)),
    ],
)
def test_conv2d_pad_modes_match_torch(kw, pad4, size, assert_matches_torch):
    cell = nn.Conv2d(2, 4, dtype=F64, **kw)
    module = _torch_conv(2, 4, kw["kernel_size"], kw.get("stride", 1), kw.get("dilation", 1), bias=kw.get("has_bias", False), pad4=pad4)
    assert_matches_torch(cell, module, _x(2, 2, *size), torch_prefix="1.")


def test_conv2d_groups_match_torch(assert_matches_torch):
    cell = nn.Conv2d(4, 6, 3, pad_mode="valid", group=2, has_bias=True, dtype=F64)
    assert_matches_torch(cell, _torch_conv(4, 6, 3, groups=2, bias=True), _x(2, 4, 5, 5), torch_prefix="1.")


def test_conv2d_bad_input_and_arguments():
    net = nn.SequentialCell(nn.Conv2d(3, 4, 3))
    with pytest.raises(ValueError, match=r"Conv2d '0': expected input of shape \(N, 3, H, W\), got \(2, 1, 5, 5\)"):
        net(np.zeros((2, 1, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2d '0'.*got \(1, 5, 5\)"):
        net(np.zeros((1, 5, 5), np.float32))
    with pytest.raises(ValueError, match="unknown pad_mode 'full'; valid: same, valid, pad"):
        nn.Conv2d(1, 1, 3, pad_mode="full")
    with pytest.raises(ValueError, match="Conv1d: unknown padding_mode 'symmetric'; valid: zeros, reflect, replicate, circular"):
        nn.Conv1d(1, 1, 3, padding_mode="symmetric")
    with pytest.raises(ValueError, match="only allowed with pad_mode='pad'"):
        nn.Conv2d(1, 1, 3, padding=1)
    with pytest.raises(ValueError, match="unknown initializer 'glorot'; valid names: dirac, he_normal, he_uniform"):
        nn.Conv2d(1, 1, 3, weight_init="glorot")


class _SamePool(torch.nn.Module):
    """MindSpore 'same' pooling in torch terms: pad (bottom/right first), pool; the average counts real inputs only."""

    def __init__(self, kind, k, s, pad4):
        super().__init__()
        self.kind, self.k, self.s = kind, k, s
        top, bottom, left, right = pad4
        self.pad = (left, right, top, bottom)

    def forward(self, x):
        if self.kind == "max":
            return torch.nn.functional.max_pool2d(torch.nn.functional.pad(x, self.pad, value=-torch.inf), self.k, self.s)
        total = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, self.pad), self.k, self.s)
        count = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(torch.ones_like(x), self.pad), self.k, self.s)
        return total / count


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k, s, size, pad4", [(2, 2, (5, 6), (0, 1, 0, 0)), (3, 1, (4, 5), (1, 1, 1, 1)), (3, 2, (6, 6), (0, 1, 0, 1))])
def test_pools_same_mode(kind, k, s, size, pad4, assert_matches_torch):
    cell = (nn.MaxPool2d if kind == "max" else nn.AvgPool2d)(k, s, pad_mode="same")
    assert_matches_torch(cell, _SamePool(kind, k, s, pad4), _x(2, 3, *size))


def test_pools_valid_and_pad_modes(assert_matches_torch):
    x = _x(2, 3, 7, 6)
    assert_matches_torch(nn.MaxPool2d(kernel_size=2, stride=2), torch.nn.MaxPool2d(2, 2), x)
    assert_matches_torch(nn.MaxPool2d(3, 2, pad_mode="pad", padding=1), torch.nn.MaxPool2d(3, 2, padding=1), x)
    assert_matches_torch(nn.AvgPool2d(3, 1), torch.nn.AvgPool2d(3, 1), x)
    assert_matches_torch(nn.AvgPool2d(3, 2, pad_mode="pad", padding=1), torch.nn.AvgPool2d(3, 2, padding=1), x)
    assert_matches_torch(nn.AvgPool2d(3, 2, "pad", 1, count_include_pad=False), torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False), x)
    assert_matches_torch(nn.AdaptiveAvgPool2d((3, 2)), torch.nn.AdaptiveAvgPool2d((3, 2)), x)


def test_pool_defaults_and_errors():
    x = _x(1, 1, 3, 3)
    np.testing.assert_array_equal(np.asarray(nn.MaxPool2d()(x)), x)  # kernel 1, stride 1
    with pytest.raises(ValueError, match=r"MaxPool2d \(root\): expected input of shape \(N, C, H, W\), got \(3, 3\)"):
        nn.MaxPool2d(2)(x[0, 0])
    with pytest.raises(ValueError, match="unknown pad_mode 'SAME_UPPER'"):
        nn.AvgPool2d(2, pad_mode="SAME_UPPER")


@pytest.mark.parametrize(
    "cell, module",
    [
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.Softmax(), torch.nn.Softmax(-1)),
        (nn.LogSoftmax(axis=1), torch.nn.LogSoftmax(1)),
        (nn.Flatten(), torch.nn.Flatten()),
        (nn.Flatten(0, 1), torch.nn.Flatten(0, 1)),
    ],
)
def test_parameterless_layers(cell, module, assert_matches_torch):
    assert_matches_torch(cell, module, _x(2, 3, 4))


@pytest.mark.parametrize("start, end", [(1, -1), (0, 1), (1, 2)])
def test_flatten_of_an_empty_batch_keeps_the_other_sizes_as_torch(start, end):
    x = np.zeros((0, 2, 3, 4), dtype=np.float32)
    assert nn.Flatten(start, end)(funcad.Tensor(x)).shape == tuple(torch.nn.Flatten(start, end)(torch.from_numpy(x)).shape)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: nn.Dense(0, 3), "Dense: in_channels must be a positive int, got 0"),
        (lambda: nn.Dense(3, -2), "Dense: out_channels must be a positive int, got -2"),
        (lambda: nn.Dense(2.5, 3), "Dense: in_channels must be a positive int, got 2.5"),
        (lambda: nn.Dense(True, 3), "Dense: in_channels must be a positive int, got True"),
        (lambda: nn.Conv2d(0, 4, 3), "Conv2d: in_channels must be a positive int, got 0"),
        (lambda: nn.Conv2d(3, 0, 3), "Conv2d: out_channels must be a positive int, got 0"),
        (lambda: nn.Embedding(0, 3), "Embedding: vocab_size must be a positive int, got 0"),
        (lambda: nn.Embedding(3, 0), "Embedding: embedding_size must be a positive int, got 0"),
        (lambda: nn.BatchNorm2d(0), "BatchNorm2d: num_features must be a positive int, got 0"),
    ],
)
def test_layer_sizes_must_be_positive_ints(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="unknown activation 'relu7'; valid names: celu, elu, fast_gelu, gelu"):
        nn.Dense(2, 2, activation="relu7")


def test_layers_print_their_configuration_as_mindspore_does():
    assert repr(nn.InstanceNorm1d(2, affine=False)) == "InstanceNorm1d(num_features=2, eps=1e-05, affine=False)"
    assert repr(nn.InstanceNorm3d(4, eps=1e-3)) == "InstanceNorm3d(num_features=4, eps=0.001, affine=True)"
    assert "padding_mode='reflect'" in repr(nn.Conv2d(1, 2, 3, padding_mode="reflect")) and "padding_mode" not in repr(nn.Conv2d(1, 2, 3))
    assert repr(nn.BiDense(2, 3, 4)) == "BiDense(in1_channels=2, in2_channels=3, out_channels=4, has_bias=True)"
