"""torch_ref: the bridge's checks and copies, the MindSpore-exact Adam, the imperative pipeline, the model mirrors."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import funcad
from funcad import nn
from harness import models as funcad_models
from torch_ref import models as torch_models
from torch_ref.bridge import BridgeError, copy_funcad_to_torch, copy_torch_to_funcad, default_name_map, match_names
from torch_ref.optim import MindSporeAdam, make_torch_optimizer
from torch_ref.pipeline import TorchTrainer, train

PAIRS = [
    (funcad_models.TutorialLinear, torch_models.TutorialLinear, (5,)),
    (funcad_models.LogisticRegression, torch_models.LogisticRegression, (4, 30)),
    (funcad_models.QuickstartMLP, torch_models.QuickstartMLP, (2, 1, 28, 28)),
    (funcad_models.LeNet5, torch_models.LeNet5, (2, 1, 28, 28)),
    (funcad_models.MLPBatchNorm, torch_models.MLPBatchNorm, (4, 1, 28, 28)),
]


@pytest.mark.parametrize("make_f, make_t, shape", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_mirrors_compute_the_same_forward_in_float64_after_a_copy(make_f, make_t, shape):
    funcad.set_seed(1)
    cell = make_f()
    cell.set_dtype(np.float64)
    module = make_t().double()
    copy_funcad_to_torch(cell, module)
    x = np.random.default_rng(0).standard_normal(shape)
    cell.set_train(False)
    module.eval()
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(cell(funcad.Tensor(x))), expected, rtol=1e-12, atol=1e-12)


def test_copy_back_and_forth_round_trips_every_value():
    funcad.set_seed(0)
    cell = funcad_models.MLPBatchNorm()
    module = torch_models.MLPBatchNorm()
    copy_torch_to_funcad(module, cell)
    state = dict(module.state_dict())
    for fname, tname in default_name_map(cell).items():
        np.testing.assert_array_equal(np.asarray(dict(cell.parameters_and_names())[fname]), state[tname].numpy())
    np.testing.assert_array_equal(np.asarray(cell.layers[1].moving_variance), module.layers[1].running_var.numpy())


def test_bridge_lists_missing_unexpected_and_shape_mismatches_and_writes_nothing():
    cell = nn.SequentialCell(OrderedDict(fc=nn.Dense(4, 3), extra=nn.Dense(2, 2)))  # named layers, never called
    module = torch.nn.Sequential(OrderedDict(fc=torch.nn.Linear(5, 3), other=torch.nn.Linear(2, 2)))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    with pytest.raises(BridgeError) as err:
        copy_funcad_to_torch(cell, module)
    message = str(err.value)
    assert "in funcad but not in torch: extra.weight, extra.bias" in message
    assert "in torch but not in funcad: other.weight, other.bias" in message
    assert "shape of fc.weight: funcad (3, 4) vs torch fc.weight (3, 5)" in message
    for k, v in module.state_dict().items():
        assert torch.equal(v, before[k])


def test_bridge_reports_dtype_mismatch_and_uses_a_name_map():
    params = {"bn.gamma": np.zeros(3, np.float32)}
    with pytest.raises(BridgeError, match="dtype of bn.gamma: funcad float32 vs torch bn.weight float64"):
        match_names(params, {"bn.weight": torch.zeros(3, dtype=torch.float64)}, {"bn.gamma": "bn.weight"})
    assert match_names(params, {"bn.weight": torch.zeros(3)}, lambda n: n.replace("gamma", "weight")) == [("bn.gamma", "bn.weight")]


def _adam_reference(p, grads, lr, b1, b2, eps):
    """MindSpore's Adam written out in float64 numpy, independently of both implementations."""
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return p


def test_mindspore_adam_follows_mindspores_formula_and_differs_from_torch_adam():
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(6)
    grads = [rng.standard_normal(6) * 1e-4 for _ in range(4)]
    lr, eps = 0.1, 1e-4  # eps comparable to sqrt(v): where the two formulas part
    ms_param = torch.nn.Parameter(torch.tensor(p0))
    st_param = torch.nn.Parameter(torch.tensor(p0))
    ms, stock = MindSporeAdam([ms_param], lr=lr, eps=eps), torch.optim.Adam([st_param], lr=lr, eps=eps)
    for g in grads:
        for opt, param in ((ms, ms_param), (stock, st_param)):
            param.grad = torch.tensor(g)
            opt.step()
    expected = _adam_reference(p0, grads, lr, 0.9, 0.999, eps)
    np.testing.assert_allclose(ms_param.detach().numpy(), expected, rtol=1e-12)
    assert np.abs(st_param.detach().numpy() - expected).max() > 1e-3


def test_exact_variant_skips_weight_decay_where_funcad_does():
    w = torch.nn.Parameter(torch.ones(2))
    gamma = torch.nn.Parameter(torch.ones(2))
    opt = make_torch_optimizer("momentum", [("w", w), ("bn.gamma", gamma)], "exact", lr=0.1, momentum=0.9, weight_decay=0.5,
                               decays=lambda n: "gamma" not in n)
    w.grad, gamma.grad = torch.zeros(2), torch.zeros(2)
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), 1 - 0.1 * 0.5)
    np.testing.assert_allclose(gamma.detach().numpy(), 1.0)
    with pytest.raises(ValueError, match="unknown optimizer kind 'rmsprop'"):
        make_torch_optimizer("rmsprop", [("w", w)], lr=0.1)


def test_pipeline_matches_a_hand_written_loop_and_casts_dtype():
    torch.manual_seed(0)
    model = torch_models.LogisticRegression(3)
    reference = torch_models.LogisticRegression(3)
    reference.load_state_dict(model.state_dict())
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((5, 3)).astype(np.float32), rng.integers(0, 2, (5, 1)).astype(np.float32)) for _ in range(3)]
    losses = train(model, torch.nn.BCEWithLogitsLoss(), torch.optim.SGD(model.parameters(), lr=0.5), batches, dtype="float64", device="cpu")
    reference.double()
    opt = torch.optim.SGD(reference.parameters(), lr=0.5)
    expected = []
    for x, y in batches:
        opt.zero_grad()
        logits = reference(torch.tensor(x, dtype=torch.float64))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(y, dtype=torch.float64))
        loss.backward()
        opt.step()
        expected.append(loss.item())
    np.testing.assert_allclose(losses, expected, rtol=1e-14)
    assert model.linear.weight.dtype == torch.float64


def test_trainer_gradients_leave_parameters_untouched():
    trainer = TorchTrainer(torch_models.LogisticRegression(3), torch.nn.BCEWithLogitsLoss(),
                           lambda named: torch.optim.SGD([p for _, p in named], lr=1.0), "float32", "cpu")
    before = trainer.state()
    loss, grads = trainer.loss_and_grads(np.ones((2, 3), np.float32), np.ones((2, 1), np.float32))
    assert set(grads) == {"linear.weight", "linear.bias"} and np.isfinite(loss)
    for k, v in trainer.state().items():
        np.testing.assert_array_equal(v, before[k])
