"""harness.compare and harness.testing.assert_parity on a user's own pair of models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import harness
import torch_ref
from funcad import nn
from harness.testing import assert_parity
from harness.timing import fixed_threads
from harness.usermodel import UserModelError
from torch_ref.bridge import BridgeError


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with fixed_threads(1):
        yield


class FuncadNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(4, 6)
        self.act = nn.ReLU()
        self.out = nn.Dense(6, 3)

    def construct(self, x):
        return self.out(self.act(self.fc(x)))


class TorchNet(torch.nn.Module):
    def __init__(self, act=torch.nn.ReLU):
        super().__init__()
        self.fc = torch.nn.Linear(4, 6)
        self.act = act()
        self.out = torch.nn.Linear(6, 3)

    def forward(self, x):
        return self.out(self.act(self.fc(x)))


def _data(n=3):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 3, 8)) for _ in range(n)]


def test_compare_returns_tables_and_leaves_the_models_alone():
    cell, module = FuncadNet(), TorchNet()
    before = np.asarray(cell.fc.weight).copy()
    module_before = module.fc.weight.detach().clone()
    result = harness.compare(cell, module, _data(), loss="cross_entropy", optimizer="adam", learning_rate=1e-2, steps=4, timing=False)
    assert result.passed
    assert set(result.grads["parameter"]) == {"fc.weight", "fc.bias", "out.weight", "out.bias"}
    assert list(result.losses["step"][result.losses["dtype"] == "float32"]) == [0, 1, 2, 3]
    assert result.timings.empty and result.failures().empty
    np.testing.assert_array_equal(np.asarray(cell.fc.weight), before)
    assert torch.equal(module.fc.weight, module_before)


def test_compare_times_both_engines_when_asked():
    torch.set_num_threads(2)
    try:
        result = harness.compare(FuncadNet(), TorchNet(), _data(1), steps=1, dtype="float32", timing=True)
        assert torch.get_num_threads() == 2  # restored after the run
    finally:
        torch.set_num_threads(1)
    assert {"funcad", "torch"} <= set(result.timings["engine"])
    assert set(result.timings["phase"]) == {"forward", "forward+backward", "train step"}
    assert set(result.timings["threads"]) == {1}  # timed on equal terms, as the CLI does


def test_assert_parity_names_what_disagrees():
    with pytest.raises(AssertionError) as err:
        assert_parity(FuncadNet(), TorchNet(torch.nn.Tanh), _data(), steps=2)
    message = str(err.value)
    assert "forward" in message and "gradient: dtype float32, parameter fc.weight" in message


def test_compare_rejects_mismatched_models_with_the_list():
    class Other(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 6)
            self.head = torch.nn.Linear(6, 3)

    with pytest.raises(BridgeError, match="in funcad but not in torch: out.weight, out.bias"):
        harness.compare(FuncadNet(), Other(), _data(), steps=1, timing=False)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        harness.compare(FuncadNet(), TorchNet(), _data(), loss="hinge")


def test_compare_per_sample_gradients_on_a_user_model():
    result = harness.compare(FuncadNet(), TorchNet(), _data(1), steps=1, dtype="float64", timing=False, per_sample=True)
    table = result.per_sample
    assert set(table["parameter"]) == {"fc.weight", "fc.bias", "out.weight", "out.bias"}
    assert set(table["shape"]) >= {"(8, 6, 4)", "(8, 3)"}  # one gradient per sample of the batch of 8
    assert (table["verdict"] == "pass").all() and (table["max_abs"] < 1e-12).all()
    assert result.passed and result.failures().empty


def test_compare_per_sample_fails_on_a_per_sample_difference(monkeypatch):
    real = nn.per_sample_grads
    monkeypatch.setattr(nn, "per_sample_grads", lambda *a, **k: tuple(g * 1.001 for g in real(*a, **k)))
    result = harness.compare(FuncadNet(), TorchNet(), _data(1), steps=1, dtype="float64", timing=False, per_sample=True)
    assert not result.passed
    assert set(result.failures()["table"]) == {"per_sample_gradient"}


def test_compare_per_sample_says_why_a_batch_norm_model_is_not_compared():
    cell = nn.SequentialCell(nn.Dense(4, 6), nn.BatchNorm1d(6), nn.Dense(6, 3))
    result = harness.compare(cell, None, _data(1), steps=1, dtype="float64", timing=False, per_sample=True)
    assert result.per_sample.empty
    assert "BatchNorm1d makes a sample's loss depend on more than that sample" in result.result.per_sample.skipped


class PartlyTrainedNet(torch.nn.Module):
    """A frozen first layer (fine-tuning) and a layer the forward never uses."""

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(4, 6)
        self.backbone.requires_grad_(False)
        self.head = torch.nn.Linear(6, 3)
        self.unused = torch.nn.Linear(6, 3)

    def forward(self, x):
        return self.head(torch.relu(self.backbone(x)))


def test_compare_a_torch_model_with_frozen_and_unused_parameters():
    """The twin keeps the backbone frozen (neither side updates it); the unused layer has no torch gradient, which the
    comparison reads as funcad's zeros."""
    module = PartlyTrainedNet()
    trained = {name: p.requires_grad for name, p in torch_ref.to_funcad(module).parameters_and_names()}
    assert trained == {"backbone.weight": False, "backbone.bias": False, "head.weight": True, "head.bias": True, "unused.weight": True,
                       "unused.bias": True}
    result = harness.compare(module, data=_data(), optimizer="adam", learning_rate=1e-2, steps=3, timing=False)
    assert result.passed, result.failures()
    assert "backbone.weight" not in set(result.grads["parameter"])
    assert "head.weight" in set(result.grads["parameter"])


def test_mirror_keeps_a_frozen_parameter_frozen():
    cell = FuncadNet()
    cell.fc.weight.requires_grad = False
    mirrored = torch_ref.mirror(cell)
    assert not mirrored.fc.weight.requires_grad and mirrored.fc.bias.requires_grad and mirrored.out.weight.requires_grad


class MaskedNet(torch.nn.Module):
    """An additive mask buffer holding -inf, registered as attention masks usually are."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.register_buffer("mask", torch.tensor([0.0, float("-inf"), 0.0]))

    def forward(self, x):
        return self.fc(x) + self.mask.clamp(min=-1e4)


def test_compare_a_model_holding_an_infinite_buffer_passes_and_reports_no_event():
    result = harness.compare(MaskedNet(), data=_data(), steps=3, timing=False)
    assert result.passed, result.failures()


class TwoHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x), x.sum(1)


@pytest.mark.parametrize("given", ["data", "input_shape"])
def test_a_model_returning_several_outputs_is_named_with_their_shapes(given):
    kwargs = {"data": _data()} if given == "data" else {"input_shape": (8, 4)}
    with pytest.raises(UserModelError, match=rf"{given}: the model returns 2 outputs \(\(8, 3\), \(8,\)\); a comparison trains on one"):
        harness.compare(TwoHeads(), steps=2, timing=False, **kwargs)
