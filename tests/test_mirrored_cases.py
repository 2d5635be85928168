"""The built-in cases whose torch side is built by torch_ref.mirror, and dropout masks shared by both engines.

(Their funcad-vs-torch agreement is checked with every other case in test_harness_parity.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops
from harness.cases import CASES, OptimizerSpec, user_case
from torch_ref import layers_sequence, to_funcad
from torch_ref.dropout import aligned_masks, set_mask_key


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
    dropouts = [m for m in module.modules() if type(m) is torch.nn.Dropout and m.training and m.p > 0]
    assert len(dropouts) == 6  # dropout, dropout1, dropout2 in each of 2 layers
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
    x, _ = data[0]
    assert np.abs(pair.funcad.forward(x) - pair.torch.trainer.forward(x)).max() > 1e-3  # torch's own generator


@pytest.mark.parametrize("funcad_layer, torch_layer, shape", [(nn.Dropout, torch.nn.Dropout, (4, 5)), (nn.Dropout1d, torch.nn.Dropout1d, (4, 3, 5)),
                                                               (nn.Dropout2d, torch.nn.Dropout2d, (4, 3, 2, 5)),
                                                               (nn.Dropout3d, torch.nn.Dropout3d, (2, 3, 2, 2, 5))])
def test_aligned_masks_reproduce_funcad_masks_call_by_call(funcad_layer, torch_layer, shape):
    x = np.ones(shape, np.float32)
    ours, theirs = funcad_layer(p=0.3).set_train(True), torch_layer(0.3).train()
    set_mask_key(11, 40, "funcad")
    set_mask_key(11, 40, "torch")
    with aligned_masks():
        draws = [(np.asarray(ours(funcad.Tensor(x))), theirs(torch.from_numpy(x)).numpy()) for _ in range(3)]
        assert theirs.eval()(torch.from_numpy(x)).numpy().min() == 1.0
    for mine, torchs in draws:
        np.testing.assert_array_equal(mine, torchs)
    assert len({m.tobytes() for m, _ in draws}) == 3  # a fresh mask per call
    assert (draws[0][0] == 0).any()


class _FunctionalDropout(torch.nn.Module):
    """Dropout by function and by a subclass of torch's layer, as users write them."""

    class _Scaled(torch.nn.Dropout):
        def forward(self, x):
            return 2.0 * super().forward(x)

    def __init__(self):
        super().__init__()
        self.drop = self._Scaled(0.4)

    def forward(self, x):
        return self.drop(torch.nn.functional.dropout(x, 0.2, training=self.training))


def test_aligned_masks_reach_functional_dropout_and_subclassed_layers_and_then_step_aside():
    x = np.ones((6, 7))
    set_mask_key(3, 0, "funcad")
    expected = 2.0 * np.asarray(ops.dropout(ops.dropout(funcad.Tensor(x), 0.2), 0.4))
    set_mask_key(3, 0, "torch")
    original = torch.nn.functional.dropout
    with aligned_masks():
        np.testing.assert_array_equal(_FunctionalDropout().train()(torch.from_numpy(x)).numpy(), expected)
    assert torch.nn.functional.dropout is original


def test_a_torch_encoder_layer_whose_attention_dropout_is_off_keeps_it_off_in_its_twin():
    """``layer.self_attn.dropout = 0`` beside the layer's own dropout 0.1: the twin's attention draws nothing, so in
    training the two agree under aligned masks (before, the twin applied 0.1 inside its attention)."""
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True, dtype=torch.float64)
    layer.self_attn.dropout = 0.0
    case = user_case(to_funcad(layer), layer, "mse", OptimizerSpec("sgd", 0.1),
                     [(np.random.default_rng(1).standard_normal((3, 5, 8)), np.zeros((3, 5, 8)))])
    pair = case.build("float64")
    assert pair.funcad.net.self_attn.dropout == 0.0 and pair.funcad.net.dropout_num == 0.1
    x, _ = case.batches(1)[0]
    np.testing.assert_allclose(pair.funcad.forward(x), pair.torch.forward(x), rtol=1e-10, atol=1e-12)


def test_compared_calls_draw_aligned_masks_and_timed_calls_run_torchs_own_kernels():
    """Timing compares nothing, so torch runs there as it runs alone (its own dropout and attention kernels), not the
    aligned parts that make the compared calls' masks funcad's."""
    pair = CASES["transformer"].build("float32")
    module = pair.torch.trainer.model
    native = (torch.nn.functional.dropout, torch.nn.functional.scaled_dot_product_attention)
    seen = []
    module.register_forward_pre_hook(lambda m, args: seen.append(
        (torch.nn.functional.dropout, torch.nn.functional.scaled_dot_product_attention) == native))
    x, y = CASES["transformer"].batches(1, batch_size=4)[0]
    pair.torch.forward(x)
    pair.torch.time_forward(*pair.torch.prepare(x, y))
    assert seen == [False, True]
