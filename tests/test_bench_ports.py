"""The bench's peer ports compute what the cases compute: loss and gradients equal torch's on the same float64 weights."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from harness.bench import autograd_port  # noqa: E402
from harness.cases import get_case  # noqa: E402


def _reference(case_name: str, batch_size):
    """(numpy parameters in the Cell's order, x, y, torch's loss, torch's gradients in the same order), float64."""
    case = get_case(case_name)
    x, y = case.batches(1, seed=0, batch_size=batch_size)[0]
    pair = case.build("float64", seed=0)
    params = [np.array(p.asnumpy()) for p in pair.funcad.optimizer.parameters]
    xf, yf = (np.asarray(v) for v in pair.funcad.prepare(x, y))
    loss, grads = pair.torch.trainer.loss_and_grads(x, y)
    assert [g.shape for g in grads.values()] == [p.shape for p in params]  # the same order on both sides
    return params, xf, yf, loss, list(grads.values())


@pytest.mark.parametrize("case_name, batch_size", [("tutorial", None), ("mlp", 8), ("mlp_bn", 8)])
def test_autograd_port_matches_torch_loss_and_gradients(case_name, batch_size):
    from autograd import value_and_grad

    params, x, y, torch_loss, torch_grads = _reference(case_name, batch_size)
    loss, grads = value_and_grad(autograd_port.loss_function(case_name))(params, x, y)
    np.testing.assert_allclose(loss, torch_loss, rtol=1e-12)
    for got, want in zip(grads, torch_grads):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_autograd_port_is_absent_for_convolutions():
    assert autograd_port.loss_function("lenet") is None


@pytest.mark.parametrize("case_name, batch_size", [("tutorial", None), ("mlp_bn", 8)])
def test_autograd_port_steps_like_torchs_optimizer(case_name, batch_size):
    case = get_case(case_name)
    x, y = case.batches(1, seed=0, batch_size=batch_size)[0]
    pair = case.build("float64", seed=0)
    params = [np.array(p.asnumpy()) for p in pair.funcad.optimizer.parameters]
    step = autograd_port.train_step(case_name, params, pair.funcad.optimizer)
    xf, yf = (np.asarray(v) for v in pair.funcad.prepare(x, y))
    for _ in range(2):  # the second step uses the momentum buffer
        loss = step(xf, yf)
        torch_loss = pair.torch.trainer.train_step(x, y)
        np.testing.assert_allclose(loss, torch_loss, rtol=1e-12)
    for got, want in zip(params, pair.torch.trainer.model.parameters()):
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-10, atol=1e-13)
