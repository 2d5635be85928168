"""The built-in cases whose torch side is built by torch_ref.mirror, and dropout masks shared by both engines.

(Their funcad-vs-torch agreement is checked with every other case in test_harness_parity.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops
from harness.cases import CASES, OptimizerSpec, user_case
from torch_ref import layers_sequence
from torch_ref.dropout import AlignedDropout, align_dropout, set_mask_key


@pytest.mark.parametrize("name, torch_layer", [("resnet", torch.nn.BatchNorm2d), ("conv1d", torch.nn.Conv1d), ("lstm", layers_sequence.LSTM),
                                               ("transformer", torch.nn.TransformerEncoderLayer)])
def test_mirrored_cases_train_a_torch_model_made_of_torch_layers(name, torch_layer):
    case = CASES[name]
    assert case.torch_model is None
    pair = case.build("float64")
    module = pair.torch.trainer.model
    assert any(type(m) is torch_layer for m in module.modules())
    assert set(pair.torch.to_torch) == {p.name for p in pair.funcad.net.trainable_params()} | {
        n for n, p in pair.funcad.net.parameters_and_names() if not p.requires_grad}
    x, y = case.batches(1, batch_size=4)[0]
    np.testing.assert_allclose(pair.funcad.forward(x), pair.torch.forward(x), rtol=1e-10, atol=1e-12)


def test_the_transformer_case_draws_dropout_in_training_with_aligned_masks():
    pair = CASES["transformer"].build("float64")
    module = pair.torch.trainer.model
    assert sum(type(m) is AlignedDropout for m in module.modules()) == 6  # dropout, dropout1, dropout2 in each of 2 layers
    x, y = CASES["transformer"].batches(1, batch_size=8)[0]
    first_f, first_t = pair.funcad.forward(x), pair.torch.forward(x)
    second_f = pair.funcad.forward(x)
    np.testing.assert_allclose(first_f, first_t, rtol=1e-10, atol=1e-12)
    assert np.abs(first_f - second_f).max() > 1e-3  # each call draws fresh masks


def _dropout_case():
    funcad.set_seed(0)
    cell = nn.SequentialCell(nn.Dense(6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Dense(16, 2))
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((8, 6)), rng.standard_normal((8, 2))) for _ in range(3)]
    return user_case(cell, None, "mse", OptimizerSpec("sgd", 0.1), data), data


def test_both_engines_draw_the_same_dropout_masks_at_every_step_in_both_dtypes():
    case, data = _dropout_case()
    pairs = [case.build(dtype) for dtype in ("float32", "float64")]
    for x, y in data:
        losses = [(p.funcad.step(x, y), p.torch.step(x, y)) for p in pairs]
        for funcad_loss, torch_loss in losses:
            assert funcad_loss == pytest.approx(torch_loss, rel=1e-5)
        assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-5)  # float32 and float64 draw the same masks too
    np.testing.assert_allclose(pairs[1].funcad.state()["3.weight"], pairs[1].torch.state()["3.weight"], rtol=1e-12)


def test_without_aligned_masks_the_engines_would_differ():
    case, data = _dropout_case()
    pair = case.build("float64")
    module = pair.torch.trainer.model
    module[2] = torch.nn.Dropout(0.5)  # torch's own generator
    x, _ = data[0]
    assert np.abs(pair.funcad.forward(x) - pair.torch.forward(x)).max() > 1e-3


def test_aligned_dropout_reproduces_funcad_masks_call_by_call():
    x = np.ones((4, 5), np.float32)
    dropout = AlignedDropout(0.3).train()
    set_mask_key(11, 40, "funcad")
    set_mask_key(11, 40, "torch")
    for _ in range(3):
        np.testing.assert_array_equal(np.asarray(ops.dropout(funcad.Tensor(x), p=0.3)), dropout(torch.from_numpy(x)).numpy())
    assert np.asarray(dropout.eval()(torch.from_numpy(x))).min() == 1.0


def test_align_dropout_replaces_nested_dropouts_only():
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.2), torch.nn.Sequential(torch.nn.Dropout(0.4)), torch.nn.Dropout2d())
    assert align_dropout(module) == 2
    assert type(module[1]) is AlignedDropout and module[2][0].p == 0.4 and type(module[3]) is torch.nn.Dropout2d
