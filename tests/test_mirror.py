"""torch_ref.mirror and torch_ref.to_funcad: every supported layer and every built-in model, both directions and round
trips, against torch autograd in float64; the conventions translated; errors that name the layer and the line."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops
from harness import models as funcad_models
from tests.twin_check import assert_same_model
from torch_ref import models as torch_models
from torch_ref.layer_table import TranslationError
from torch_ref.mindspore_modules import BatchNorm1dFixed, BatchNorm2dFixed, Conv1dSame, Conv2dSame
from torch_ref.mirror import mirror, mirror_twin
from torch_ref.to_funcad import funcad_twin, to_funcad
from torch_ref.traced import TracedConstruct

RNG = np.random.default_rng(0)


def images(*shape):
    return RNG.standard_normal(shape)


# (id, funcad layer factory, input, torch class of the mirror)
LAYERS = [
    ("dense", lambda: nn.Dense(5, 3), images(4, 5), torch.nn.Linear),
    ("dense_no_bias", lambda: nn.Dense(5, 3, has_bias=False), images(2, 3, 5), torch.nn.Linear),
    ("dense_activation", lambda: nn.Dense(5, 3, activation="tanh"), images(4, 5), torch.nn.Sequential),
    ("conv_same", lambda: nn.Conv2d(3, 4, 3), images(2, 3, 6, 5), torch.nn.Conv2d),
    ("conv_same_even_kernel", lambda: nn.Conv2d(3, 4, 4, has_bias=True), images(2, 3, 6, 5), torch.nn.Conv2d),
    ("conv_same_stride", lambda: nn.Conv2d(3, 4, 3, stride=2), images(2, 3, 7, 8), Conv2dSame),
    ("conv_same_even_kernel_strides", lambda: nn.Conv2d(3, 4, 4, stride=(2, 3), has_bias=True), images(2, 3, 8, 7), Conv2dSame),
    ("conv1d_same_stride", lambda: nn.Conv1d(3, 4, 4, stride=2, dilation=2), images(2, 3, 10), Conv1dSame),
    ("conv_valid_stride", lambda: nn.Conv2d(3, 4, 3, stride=2, pad_mode="valid", has_bias=True), images(2, 3, 7, 8), torch.nn.Conv2d),
    ("conv_pad_group_dilation", lambda: nn.Conv2d(4, 6, 3, pad_mode="pad", padding=(1, 1, 2, 2), dilation=2, group=2), images(2, 4, 7, 7),
     torch.nn.Conv2d),
    ("conv_same_stride_reflect", lambda: nn.Conv2d(3, 4, 4, stride=2, padding_mode="reflect"), images(2, 3, 7, 8), Conv2dSame),
    ("conv1d_same_circular", lambda: nn.Conv1d(3, 4, 4, padding_mode="circular"), images(2, 3, 9), torch.nn.Conv1d),
    ("batchnorm1d", lambda: nn.BatchNorm1d(4), images(6, 4), torch.nn.BatchNorm1d),
    ("batchnorm1d_options", lambda: nn.BatchNorm1d(4, eps=1e-3, momentum=0.7), images(6, 4, 5), torch.nn.BatchNorm1d),
    ("batchnorm2d_batch_statistics", lambda: nn.BatchNorm2d(3, momentum=0.8, use_batch_statistics=True), images(4, 3, 5, 5),
     BatchNorm2dFixed),
    ("batchnorm1d_running_statistics", lambda: nn.BatchNorm1d(4, use_batch_statistics=False), images(6, 4), BatchNorm1dFixed),
    ("batchnorm2d_no_affine", lambda: nn.BatchNorm2d(3, affine=False), images(4, 3, 5, 5), torch.nn.BatchNorm2d),
    ("layernorm", lambda: nn.LayerNorm((5,)), images(3, 5), torch.nn.LayerNorm),
    ("layernorm_two_axes", lambda: nn.LayerNorm((4, 5), begin_norm_axis=-2, begin_params_axis=-2, epsilon=1e-3), images(3, 4, 5),
     torch.nn.LayerNorm),
    ("embedding", lambda: nn.Embedding(10, 4, padding_idx=2), RNG.integers(0, 10, (3, 5)), torch.nn.Embedding),
    ("maxpool", lambda: nn.MaxPool2d(2, 2), images(2, 3, 6, 6), torch.nn.MaxPool2d),
    ("maxpool_pad", lambda: nn.MaxPool2d(3, 1, "pad", 1), images(2, 3, 5, 5), torch.nn.MaxPool2d),
    ("avgpool", lambda: nn.AvgPool2d(2, 2), images(2, 3, 6, 6), torch.nn.AvgPool2d),
    ("avgpool_pad", lambda: nn.AvgPool2d(3, 2, "pad", 1), images(2, 3, 7, 7), torch.nn.AvgPool2d),
    ("avgpool_pad_exclude", lambda: nn.AvgPool2d(3, 2, "pad", 1, count_include_pad=False), images(2, 3, 7, 7), torch.nn.AvgPool2d),
    ("adaptive_avgpool", lambda: nn.AdaptiveAvgPool2d((2, 3)), images(2, 3, 7, 8), torch.nn.AdaptiveAvgPool2d),
    ("flatten", lambda: nn.Flatten(), images(2, 3, 4), torch.nn.Flatten),
    ("flatten_range", lambda: nn.Flatten(1, 2), images(2, 3, 4, 5), torch.nn.Flatten),
    ("dropout", lambda: nn.Dropout(0.3), images(4, 5), torch.nn.Dropout),
    ("gelu_tanh", lambda: nn.GELU(), images(4, 5), torch.nn.GELU),
    ("gelu_erf", lambda: nn.GELU(approximate=False), images(4, 5), torch.nn.GELU),
    ("leaky_relu", lambda: nn.LeakyReLU(), images(4, 5), torch.nn.LeakyReLU),
    ("elu", lambda: nn.ELU(0.5), images(4, 5), torch.nn.ELU),
    ("softmax", lambda: nn.Softmax(0), images(4, 5), torch.nn.Softmax),
    ("log_softmax", lambda: nn.LogSoftmax(), images(4, 5), torch.nn.LogSoftmax),
    ("conv1d_same", lambda: nn.Conv1d(3, 4, 3), images(2, 3, 9), torch.nn.Conv1d),
    ("conv1d_pad_stride", lambda: nn.Conv1d(3, 4, 3, stride=2, pad_mode="pad", padding=1, has_bias=True), images(2, 3, 9), torch.nn.Conv1d),
    ("conv_transpose_pad", lambda: nn.Conv2dTranspose(4, 6, 3, stride=2, pad_mode="pad", padding=1, output_padding=1, group=2, has_bias=True),
     images(2, 4, 5, 5), torch.nn.ConvTranspose2d),
    ("conv_transpose_same", lambda: nn.Conv2dTranspose(3, 4, 4, stride=2), images(2, 3, 4, 5), torch.nn.ConvTranspose2d),
    ("conv_transpose_valid_dilation", lambda: nn.Conv2dTranspose(3, 4, 2, stride=2, pad_mode="valid", dilation=(1, 2)), images(2, 3, 4, 5),
     torch.nn.ConvTranspose2d),
    ("groupnorm", lambda: nn.GroupNorm(2, 4), images(3, 4, 5, 5), torch.nn.GroupNorm),
    ("instancenorm", lambda: nn.InstanceNorm2d(3), images(2, 3, 5, 5), torch.nn.InstanceNorm2d),
    ("maxpool1d", lambda: nn.MaxPool1d(3, 2), images(2, 3, 9), torch.nn.MaxPool1d),
    ("avgpool1d_pad", lambda: nn.AvgPool1d(3, 2, "pad", 1), images(2, 3, 9), torch.nn.AvgPool1d),
    ("maxpool_ceil", lambda: nn.MaxPool2d(3, 2, ceil_mode=True), images(2, 3, 8, 8), torch.nn.MaxPool2d),
    ("avgpool_ceil", lambda: nn.AvgPool2d(3, 2, "pad", 1, ceil_mode=True), images(2, 3, 8, 8), torch.nn.AvgPool2d),
    ("adaptive_maxpool", lambda: nn.AdaptiveMaxPool2d((2, 3)), images(2, 3, 7, 8), torch.nn.AdaptiveMaxPool2d),
    ("upsample_nearest", lambda: nn.Upsample(scale_factor=2.0), images(2, 3, 4, 5), torch.nn.Upsample),
    ("upsample_bilinear", lambda: nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True), images(2, 3, 4, 5), torch.nn.Upsample),
    ("dropout2d", lambda: nn.Dropout2d(0.4), images(2, 3, 4, 4), torch.nn.Dropout2d),
    ("prelu", lambda: nn.PReLU(3), images(2, 3, 4), torch.nn.PReLU),
    ("relu6", nn.ReLU6, 4 * images(4, 5), torch.nn.ReLU6),
    ("hardswish", nn.Hardswish, 4 * images(4, 5), torch.nn.Hardswish),
    ("mish", nn.Mish, images(4, 5), torch.nn.Mish),
    ("hardtanh", lambda: nn.Hardtanh(-0.5, 2.0), images(4, 5), torch.nn.Hardtanh),
    ("selu", nn.SeLU, images(4, 5), torch.nn.SELU),
    ("celu", lambda: nn.CELU(2.0), images(4, 5), torch.nn.CELU),
    ("logsigmoid", nn.LogSigmoid, images(4, 5), torch.nn.LogSigmoid),
    ("softsign", nn.Softsign, images(4, 5), torch.nn.Softsign),
    ("tanhshrink", nn.Tanhshrink, images(4, 5), torch.nn.Tanhshrink),
    ("softmin", lambda: nn.Softmin(0), images(4, 5), torch.nn.Softmin),
    ("glu", lambda: nn.GLU(0), images(4, 5), torch.nn.GLU),
    ("softplus", lambda: nn.Softplus(2.0, 1.0), images(4, 5), torch.nn.Softplus),
    ("threshold", lambda: nn.Threshold(0.2, -1.0), images(4, 5), torch.nn.Threshold),
    ("hshrink", lambda: nn.HShrink(0.3), images(4, 5), torch.nn.Hardshrink),
    ("softshrink", lambda: nn.SoftShrink(0.3), images(4, 5), torch.nn.Softshrink),
    ("dropout1d", lambda: nn.Dropout1d(0.4), images(2, 3, 4), torch.nn.Dropout1d),
    ("dropout3d", lambda: nn.Dropout3d(0.4), images(2, 3, 2, 2, 2), torch.nn.Dropout3d),
    ("unflatten", lambda: nn.Unflatten(1, (2, 3)), images(4, 6), torch.nn.Unflatten),
    ("pixelshuffle", lambda: nn.PixelShuffle(2), images(2, 8, 3, 2), torch.nn.PixelShuffle),
    ("pixelunshuffle", lambda: nn.PixelUnshuffle(2), images(2, 2, 4, 6), torch.nn.PixelUnshuffle),
    ("adaptiveavgpool1d", lambda: nn.AdaptiveAvgPool1d(3), images(2, 3, 7), torch.nn.AdaptiveAvgPool1d),
    ("adaptivemaxpool1d", lambda: nn.AdaptiveMaxPool1d(3), images(2, 3, 7), torch.nn.AdaptiveMaxPool1d),
    ("zeropad2d", lambda: nn.ZeroPad2d((1, 0, 2, 1)), images(2, 3, 4, 4), torch.nn.ZeroPad2d),
    ("constantpad1d", lambda: nn.ConstantPad1d(2, 0.5), images(2, 3, 4), torch.nn.ConstantPad1d),
    ("reflectionpad2d", lambda: nn.ReflectionPad2d(1), images(2, 3, 4, 4), torch.nn.ReflectionPad2d),
    ("replicationpad1d", lambda: nn.ReplicationPad1d((0, 2)), images(2, 3, 4), torch.nn.ReplicationPad1d),
    ("relu", nn.ReLU, images(4, 5), torch.nn.ReLU),
    ("sigmoid", nn.Sigmoid, images(4, 5), torch.nn.Sigmoid),
    ("tanh", nn.Tanh, images(4, 5), torch.nn.Tanh),
    ("silu", nn.SiLU, images(4, 5), torch.nn.SiLU),
    ("identity", nn.Identity, images(4, 5), torch.nn.Identity),
    ("bidense", lambda: nn.BiDense(3, 4, 2), (images(5, 3), images(5, 4)), torch.nn.Bilinear),
    ("instancenorm1d", lambda: nn.InstanceNorm1d(3, eps=1e-3), images(2, 3, 6), torch.nn.InstanceNorm1d),
    ("conv1d_transpose_pad", lambda: nn.Conv1dTranspose(4, 6, 3, stride=2, pad_mode="pad", padding=1, output_padding=1, group=2,
                                                        has_bias=True), images(2, 4, 5), torch.nn.ConvTranspose1d),
    ("conv1d_transpose_same", lambda: nn.Conv1dTranspose(3, 2, 4, stride=2), images(2, 3, 5), torch.nn.ConvTranspose1d),
    ("conv1d_transpose_valid_dilation", lambda: nn.Conv1dTranspose(3, 2, 3, pad_mode="valid", dilation=2), images(2, 3, 4),
     torch.nn.ConvTranspose1d),
    ("instancenorm3d_no_affine", lambda: nn.InstanceNorm3d(2, affine=False), images(2, 2, 3, 4, 3), torch.nn.InstanceNorm3d),
    ("bidense_no_bias_batched", lambda: nn.BiDense(3, 2, 4, has_bias=False), (images(2, 5, 3), images(2, 5, 2)), torch.nn.Bilinear),
]


def _cell(factory):
    funcad.set_seed(3)
    cell = factory()
    for _, p in cell.parameters_and_names():  # away from the initial ones/zeros, so a dropped parameter shows
        if np.issubdtype(p.dtype, np.floating) and p.requires_grad:
            p.set_data(np.asarray(p) + RNG.uniform(0.1, 0.5, p.shape))
    return cell.set_dtype(funcad.float64)


# dropout masks come from each engine's own generator, so Dropout is compared in evaluation mode only
LAYER_MODES = [(*layer, train) for layer in LAYERS for train in (True, False) if not (layer[0].startswith("dropout") and train)]


@pytest.mark.parametrize("name, factory, x, torch_type, train", LAYER_MODES,
                         ids=[f"{m[0]}-{'train' if m[4] else 'eval'}" for m in LAYER_MODES])
def test_every_layer_mirrors_and_comes_back_with_the_same_values_and_gradients(name, factory, x, torch_type, train):
    cell = _cell(factory)
    twin = mirror_twin(cell)
    assert type(twin.module) is torch_type
    assert_same_model(cell, twin.module, twin.parameter_names, x, train)
    back = funcad_twin(twin.module)  # to_funcad(mirror(cell)) against the same torch module
    assert_same_model(back.cell, twin.module, back.parameter_names, x, train)


def test_hsigmoid_mirrors_to_hardsigmoid_whose_gradient_is_single_precision():
    """torch's Hardsigmoid scales its gradient by 1/6 rounded to float32 even in float64, so the twins agree to 1e-7."""
    x = 4 * images(4, 5)
    module = mirror(nn.HSigmoid())
    assert type(module) is torch.nn.Hardsigmoid and type(to_funcad(module)) is nn.HSigmoid
    tx = torch.tensor(x, requires_grad=True)
    module(tx).sum().backward()
    np.testing.assert_array_equal(np.asarray(nn.HSigmoid()(x)), module(tx).detach().numpy())
    np.testing.assert_allclose(np.asarray(funcad.grad(lambda v: ops.sum(nn.HSigmoid()(v)))(x)), tx.grad.numpy(), rtol=1e-7, atol=0)


TORCH_LAYERS = [
    ("linear", lambda: torch.nn.Linear(5, 3), images(4, 5)),
    ("conv_padding_same", lambda: torch.nn.Conv2d(3, 4, 3, padding="same"), images(2, 3, 5, 5)),
    ("conv_padding_pair", lambda: torch.nn.Conv2d(3, 4, (3, 5), stride=(2, 1), padding=(1, 2), bias=False), images(2, 3, 6, 7)),
    ("conv_valid", lambda: torch.nn.Conv2d(3, 4, 3, padding="valid"), images(2, 3, 5, 5)),
    ("conv_reflect", lambda: torch.nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="reflect"), images(2, 3, 5, 6)),
    ("conv_replicate_same", lambda: torch.nn.Conv2d(3, 4, (2, 3), padding="same", padding_mode="replicate"), images(2, 3, 5, 6)),
    ("conv_circular_stride", lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1, padding_mode="circular"), images(2, 3, 5, 6)),
    ("conv1d_reflect", lambda: torch.nn.Conv1d(3, 4, 3, padding=2, padding_mode="reflect"), images(2, 3, 7)),
    ("batchnorm2d", lambda: torch.nn.BatchNorm2d(3, momentum=0.2, eps=1e-4), images(4, 3, 5, 5)),
    ("layernorm", lambda: torch.nn.LayerNorm([4, 5]), images(3, 4, 5)),
    ("embedding", lambda: torch.nn.Embedding(9, 3), RNG.integers(0, 9, (2, 4))),
    ("maxpool_default_stride", lambda: torch.nn.MaxPool2d(2), images(2, 3, 6, 6)),
    ("avgpool_padding", lambda: torch.nn.AvgPool2d(3, 2, padding=1), images(2, 3, 7, 7)),
    ("leaky_relu_default", lambda: torch.nn.LeakyReLU(), images(4, 5)),
    ("gelu_default", lambda: torch.nn.GELU(), images(4, 5)),
    ("softplus_default", lambda: torch.nn.Softplus(), 10 * images(4, 5)),
    ("hardshrink_default", lambda: torch.nn.Hardshrink(), images(4, 5)),
    ("celu_default", lambda: torch.nn.CELU(), images(4, 5)),
    ("sequential", lambda: torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)), images(3, 5)),
]


@pytest.mark.parametrize("name, factory, x", TORCH_LAYERS, ids=[layer[0] for layer in TORCH_LAYERS])
def test_torch_layers_come_to_funcad_and_back_with_the_same_values_and_gradients(name, factory, x):
    torch.manual_seed(0)
    module = factory().double()
    twin = funcad_twin(module)
    assert_same_model(twin.cell, module, twin.parameter_names, x, train=True)
    again = mirror_twin(twin.cell)  # mirror(to_funcad(module))
    assert type(again.module) is type(module)
    assert_same_model(twin.cell, again.module, again.parameter_names, x, train=True)


TOKENS = np.array([[3, 7, 1, 9, 2, 0, 0], [5, 5, 8, 1, 4, 6, 2], [9, 2, 0, 0, 0, 0, 0]])

# (funcad model, hand-written torch model or None, input, training mode: dropout is compared in harness runs and in
# test_kernel_dropout, where both engines draw the same masks, so the transformer runs in evaluation and the LSTM
# classifier without dropout)
BUILT_IN = [
    (funcad_models.TutorialLinear, torch_models.TutorialLinear, images(5), True),
    (funcad_models.LogisticRegression, torch_models.LogisticRegression, images(4, 30), True),
    (funcad_models.QuickstartMLP, torch_models.QuickstartMLP, images(3, 1, 28, 28), True),
    (funcad_models.LeNet5, torch_models.LeNet5, images(3, 1, 28, 28), True),
    (funcad_models.MLPBatchNorm, torch_models.MLPBatchNorm, images(4, 1, 28, 28), True),
    (funcad_models.SmallResNet, None, images(3, 3, 32, 32), True),
    (funcad_models.SignalCNN, None, images(4, 1, 64), True),
    (lambda: funcad_models.LSTMClassifier(dropout=0.0), None, TOKENS, True),
    (lambda: funcad_models.TransformerClassifier(length=TOKENS.shape[1]), None, TOKENS, False),
]
BUILT_IN_IDS = [b[0].__name__ for b in BUILT_IN[:-2]] + ["LSTMClassifier", "TransformerClassifier"]


@pytest.mark.parametrize("make_cell, make_module, x, train", BUILT_IN, ids=BUILT_IN_IDS)
def test_every_built_in_model_mirrors_and_round_trips(make_cell, make_module, x, train):
    cell = _cell(make_cell)
    twin = mirror_twin(cell)
    assert_same_model(cell, twin.module, twin.parameter_names, x, train=train)
    back = funcad_twin(twin.module)
    assert_same_model(back.cell, twin.module, back.parameter_names, x, train=train)
    assert sorted(back.parameter_names.values()) == sorted(twin.parameter_names.values())
    if make_module is not None:  # the hand-written torch model: to_funcad, then mirror again
        torch.manual_seed(0)
        module = make_module().double()
        from_torch = funcad_twin(module)
        assert_same_model(from_torch.cell, module, from_torch.parameter_names, x, train=train)
        again = mirror_twin(from_torch.cell)
        assert [n for n, _ in again.module.named_parameters()] == [n for n, _ in module.named_parameters()]
        assert_same_model(from_torch.cell, again.module, again.parameter_names, x, train=train)


def test_the_mirror_translates_mindspore_conventions_into_torch_ones():
    cell = nn.SequentialCell(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=0.8, eps=1e-3), nn.Flatten(), nn.Dense(4 * 25, 6),
                             nn.LayerNorm((6,)), nn.Embedding(5, 2))
    module = mirror(cell)
    conv, bn, _, _, norm, emb = module
    assert conv.bias is None and conv.padding == "same"
    assert bn.momentum == pytest.approx(0.2) and bn.eps == 1e-3
    assert norm.eps == 1e-7  # MindSpore's default, not torch's 1e-5
    np.testing.assert_array_equal(emb.weight.detach().numpy(), np.asarray(cell[5].embedding_table))
    names = mirror_twin(cell).parameter_names
    assert names["1.gamma"] == "1.weight" and names["1.moving_variance"] == "1.running_var" and names["5.embedding_table"] == "5.weight"


def test_name_and_path_maps_cover_nested_cells_and_a_dense_activation():
    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.head = nn.Dense(4, 3, activation="relu")
            self.body = nn.SequentialCell(nn.Dense(3, 3), nn.BatchNorm1d(3))

        def construct(self, x):
            return self.body(self.head(x))

    twin = mirror_twin(Net())
    assert twin.parameter_names["head.weight"] == "head.linear.weight"
    assert twin.parameter_names["body.1.moving_mean"] == "body.1.running_mean"
    assert twin.module_paths == {"": "", "head": "head", "head.activation": "head.activation", "body": "body", "body.0": "body.0",
                                 "body.1": "body.1"}
    assert twin.module.get_submodule("head.activation").__class__ is torch.nn.ReLU


class Residual(nn.Cell):
    """Children, arithmetic, funcad ops, a tuple unpacked, an augmented assignment and a Parameter of its own."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(4, 4)
        self.unused = nn.Dense(2, 2)
        self.scale = funcad.Parameter(np.full(4, 0.5), name="scale")

    def construct(self, x):
        h = self.fc(x)
        a, b = (h, x)
        y = ops.relu(a) * self.scale - b / 2.0
        y += x
        return ops.softmax(ops.matmul(y, ops.transpose(x, (1, 0))))


def test_a_user_cell_with_arithmetic_ops_and_own_parameters_round_trips():
    cell = _cell(Residual)
    twin = mirror_twin(cell)
    assert isinstance(twin.module, TracedConstruct)
    assert [n for n, _ in twin.module.named_parameters()] == ["scale", "fc.weight", "fc.bias", "unused.weight", "unused.bias"]
    x = images(3, 4)
    assert type(twin.module.graph_module(torch.from_numpy(x))).__name__ == "Residual"
    assert_same_model(cell, twin.module, twin.parameter_names, x, train=True)
    back = funcad_twin(twin.module)
    assert_same_model(back.cell, twin.module, back.parameter_names, x, train=True)


class Stack(nn.SequentialCell):
    """A SequentialCell subclass that keeps its construct: a torch Sequential."""


def test_a_sequential_subclass_without_its_own_construct_is_a_torch_sequential():
    module = mirror(Stack(nn.Dense(3, 4), nn.ReLU()))
    assert type(module) is torch.nn.Sequential and type(module[0]) is torch.nn.Linear


class TorchBlock(torch.nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, channels, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.nn.functional.relu(self.bn(self.conv(x)) + x)


class TorchNet(torch.nn.Module):
    """Custom blocks in a ModuleList, an own parameter, view/size, functional calls with keyword arguments."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.blocks = torch.nn.ModuleList([TorchBlock(4), TorchBlock(4)])
        self.scale = torch.nn.Parameter(torch.full((1,), 1.5))
        self.fc = torch.nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        x = torch.nn.functional.relu(self.stem(x))
        for block in self.blocks:
            x = block(x)
        x = x.view(x.size(0), -1) * self.scale
        return torch.nn.functional.log_softmax(self.fc(x), dim=1)


def test_a_custom_torch_model_is_traced_into_funcad_and_mirrored_back():
    torch.manual_seed(0)
    module = TorchNet().double()
    twin = funcad_twin(module)
    assert [n for n, _ in twin.cell.parameters_and_names()][:4] == ["scale", "stem.weight", "stem.bias", "blocks.0.conv.weight"]
    assert twin.parameter_names["blocks.1.bn.moving_mean"] == "blocks.1.bn.running_mean"
    x = images(3, 1, 6, 6)
    assert_same_model(twin.cell, module, twin.parameter_names, x, train=True)
    again = mirror_twin(twin.cell)
    assert_same_model(twin.cell, again.module, again.parameter_names, x, train=True)


def test_a_traced_cell_runs_under_jit_as_eagerly():
    torch.manual_seed(0)
    cell = to_funcad(torch_models.LeNet5().double())
    x = funcad.Tensor(images(2, 1, 28, 28))
    np.testing.assert_array_equal(np.asarray(funcad.jit(lambda v: cell(v))(x)), np.asarray(cell(x)))


# -- errors ------------------------------------------------------------------------------------------------------------

def test_an_untranslatable_layer_names_its_path_and_class():
    with pytest.raises(TranslationError, match=r"Conv2dTranspose at '0': pad_mode='same' trims \[2, 1\] rows and columns, an odd number"):
        mirror(nn.SequentialCell(nn.Conv2dTranspose(3, 3, (3, 2))))


def test_untranslatable_torch_modules_name_the_module_path_and_node():
    class UsesHistc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 3)

        def forward(self, x):
            return torch.histc(self.fc(x), 4)

    with pytest.raises(TranslationError, match=r"UsesHistc at 'inner': node 'histc' \(.*\) at .*test_mirror.py:\d+: "
                                               r"`return torch.histc\(self.fc\(x\), 4\)`: torch.histc has no funcad translation"):
        to_funcad(torch.nn.Sequential(OrderedDict(inner=UsesHistc())))
    with pytest.raises(TranslationError, match=r"LPPool3d at '0': torch.nn.LPPool3d has no funcad translation .*; its "
                                               r"forward does not translate either: .*torch.nn.functional.lp_pool3d has no funcad "
                                               r"translation"):
        to_funcad(torch.nn.Sequential(torch.nn.LPPool3d(2, 2)))

    class DataDependent(torch.nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    untraceable = to_funcad(DataDependent())  # tracing again with the input shapes known, at the first call, fails too
    with pytest.raises(TranslationError, match=r"DataDependent at the root: torch.fx cannot trace forward .*, nor with the input shapes"):
        untraceable(np.ones((2, 3)))
    renormed = to_funcad(torch.nn.Embedding(5, 3, max_norm=1.0))  # no rule takes max_norm: traced, and refused at the call
    with pytest.raises(NotImplementedError, match=r"torch.nn.functional.embedding: max_norm/scale_grad_by_freq/sparse=\(1.0, False, False\) "
                                                  "has no funcad translation"):
        renormed(np.array([[0, 4]]))
