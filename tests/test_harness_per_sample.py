"""The harness's per-sample gradient comparison: funcad and torch.func agree per parameter on the mlp and lenet
cases in float64, and the comparison sees a gradient that is off."""

from __future__ import annotations

import pytest

from harness.per_sample import per_sample_differences


@pytest.mark.parametrize("case", ["mlp", "lenet"])
def test_per_sample_gradients_agree_with_torch_func(case):
    diffs = per_sample_differences(case, batch_size=3)
    assert diffs and all(d < 1e-10 for d in diffs.values()), diffs


def test_the_comparison_sees_a_different_loss(monkeypatch):
    from funcad import nn

    real = nn.per_sample_grads
    monkeypatch.setattr(nn, "per_sample_grads", lambda *a, **k: tuple(g * 1.001 for g in real(*a, **k)))
    assert max(per_sample_differences("mlp", batch_size=2).values()) > 1e-8
