"""The padding, shuffling, unflattening and 1-D adaptive pooling layers, Dropout1d, HuberLoss, KLDivLoss and CellDict
against their torch counterparts in float64 (outputs and every gradient), and under funcad.jit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops

RNG = np.random.default_rng(3)


def _normal(*shape):
    return RNG.standard_normal(shape)


LAYERS = {
    "zeropad2d": (nn.ZeroPad2d((1, 2, 0, 3)), torch.nn.ZeroPad2d((1, 2, 0, 3)), (2, 3, 4, 5)),
    "constantpad1d": (nn.ConstantPad1d(2, -1.5), torch.nn.ConstantPad1d(2, -1.5), (2, 3, 4)),
    "constantpad2d": (nn.ConstantPad2d((0, 1, 2, 3), 0.25), torch.nn.ConstantPad2d((0, 1, 2, 3), 0.25), (3, 4, 5)),
    "constantpad3d": (nn.ConstantPad3d(1, 2.0), torch.nn.ConstantPad3d(1, 2.0), (1, 2, 3, 3, 2)),
    "reflectionpad1d": (nn.ReflectionPad1d((2, 1)), torch.nn.ReflectionPad1d((2, 1)), (2, 3, 5)),
    "reflectionpad2d": (nn.ReflectionPad2d((1, 2, 2, 0)), torch.nn.ReflectionPad2d((1, 2, 2, 0)), (2, 3, 4, 5)),
    "reflectionpad3d": (nn.ReflectionPad3d(1), torch.nn.ReflectionPad3d(1), (1, 2, 3, 4, 3)),
    "replicationpad1d": (nn.ReplicationPad1d(3), torch.nn.ReplicationPad1d(3), (2, 3, 4)),
    "replicationpad2d": (nn.ReplicationPad2d((0, 3, 1, 1)), torch.nn.ReplicationPad2d((0, 3, 1, 1)), (2, 3, 4, 5)),
    "replicationpad3d": (nn.ReplicationPad3d((1, 0, 0, 2, 1, 1)), torch.nn.ReplicationPad3d((1, 0, 0, 2, 1, 1)), (1, 2, 3, 4, 3)),
    "pixelshuffle": (nn.PixelShuffle(2), torch.nn.PixelShuffle(2), (2, 8, 3, 4)),
    "pixelunshuffle": (nn.PixelUnshuffle(3), torch.nn.PixelUnshuffle(3), (2, 2, 6, 3)),
    "unflatten": (nn.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3)), (4, 6, 2)),
    "adaptiveavgpool1d": (nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3), (2, 3, 8)),
    "adaptivemaxpool1d": (nn.AdaptiveMaxPool1d(4), torch.nn.AdaptiveMaxPool1d(4), (2, 3, 7)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_torch(name, assert_layer_matches):
    cell, module, shape = LAYERS[name]
    assert_layer_matches(cell, module, (_normal(*shape),))


@pytest.mark.parametrize("name", ["reflectionpad2d", "pixelshuffle", "adaptivemaxpool1d"])
def test_layer_compiled_with_its_gradient_equals_eager(name):
    cell, _, shape = LAYERS[name]
    x = _normal(*shape)
    step = funcad.value_and_grad(lambda v: ops.sum(cell(v) ** 2))
    for eager, compiled in zip(step(x), funcad.jit(step)(x)):
        np.testing.assert_array_equal(np.asarray(eager), np.asarray(compiled))


def test_dropout1d_zeros_whole_channels():
    x = np.ones((40, 50, 6))
    cell = nn.Dropout1d(p=0.3)
    np.testing.assert_array_equal(np.asarray(cell(x)), x)  # evaluation mode
    y = np.asarray(cell.set_train()(x))
    assert (y == y[..., :1]).all() and set(np.unique(y)) == {0.0, 1.0 / 0.7}
    assert 0.25 < (y[..., 0] == 0).mean() < 0.35
    with pytest.raises(ValueError, match=r"Dropout1d.*\(N, C, L\) or \(C, L\)"):
        cell(np.ones((2, 3, 4, 5)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("delta", [1.0, 0.3])
def test_huber_loss_matches_torch(reduction, delta, assert_layer_matches):
    x, y = _normal(4, 5), _normal(4, 5)
    assert_layer_matches(nn.HuberLoss(reduction, delta), torch.nn.HuberLoss(reduction, delta), (x, y))


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides:UserWarning")  # torch announces a future change of its "mean"
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_kl_div_loss_matches_torch(reduction, assert_layer_matches):
    logits, labels = np.log(RNG.dirichlet(np.ones(4), 3)), RNG.dirichlet(np.ones(4), 3)
    assert_layer_matches(nn.KLDivLoss(reduction), torch.nn.KLDivLoss(reduction=reduction), (logits, labels))


def test_cell_dict_registers_its_cells_by_name_and_mirrors_to_module_dict():
    from torch_ref.mirror import mirror_twin
    from torch_ref.to_funcad import to_funcad

    cells = nn.CellDict({"encoder": nn.Dense(3, 4), "head": nn.Dense(4, 2)})
    cells["act"] = nn.ReLU()
    assert list(cells) == ["encoder", "head", "act"] and "head" in cells and len(cells) == 3
    assert [name for name, _ in cells.parameters_and_names()] == ["encoder.weight", "encoder.bias", "head.weight", "head.bias"]
    twin = mirror_twin(cells)
    assert type(twin.module) is torch.nn.ModuleDict and list(twin.module) == ["encoder", "head", "act"]
    assert twin.parameter_names["head.weight"] == "head.weight"
    back = to_funcad(twin.module)
    assert type(back) is nn.CellDict and list(back) == list(cells)
    np.testing.assert_array_equal(np.asarray(back["encoder"].weight), np.asarray(cells["encoder"].weight))
    del cells["act"]
    assert list(cells.keys()) == ["encoder", "head"]


def test_bad_padding_and_shapes_name_the_layer():
    with pytest.raises(ValueError, match=r"ReflectionPad2d: padding must be a non-negative int or 4 of them"):
        nn.ReflectionPad2d((1, 2))
    with pytest.raises(ValueError, match=r"Unflatten.*axis 1 of shape \(4, 6\) cannot be split into \(4, 2\)"):
        nn.Unflatten(1, (4, 2))(np.ones((4, 6)))
    with pytest.raises(ValueError, match="HuberLoss: delta must be > 0"):
        nn.HuberLoss(delta=0.0)
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be one of"):
        nn.KLDivLoss("average")
