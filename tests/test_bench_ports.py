"""The bench's peer ports compute what the cases compute: loss and gradients equal torch's on the same float64 weights,
and their train steps (optimizer included) step as torch's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from funcad import nn  # noqa: E402
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


def _steps_like_torch(port, case_name: str, batch_size) -> None:
    """Three steps of the port's train step give torch's losses and leave torch's parameters (float64)."""
    case = get_case(case_name)
    x, y = case.batches(1, seed=0, batch_size=batch_size)[0]
    pair = case.build("float64", seed=0)
    params = [np.array(p.asnumpy()) for p in pair.funcad.optimizer.parameters]
    step = port.train_step(case_name, params, pair.funcad.optimizer)
    xf, yf = (np.asarray(v) for v in pair.funcad.prepare(x, y))
    for _ in range(3):  # later steps use the momentum buffers and Adam's step count
        loss = step(xf, yf)
        np.testing.assert_allclose(loss, pair.torch.trainer.train_step(x, y), rtol=1e-12)
    for got, want in zip(params, pair.torch.trainer.model.parameters()):
        np.testing.assert_allclose(np.asarray(got), want.detach().numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("case_name, batch_size", [("tutorial", None), ("mlp_bn", 8)])
def test_autograd_port_steps_like_torchs_optimizer(case_name, batch_size):
    _steps_like_torch(autograd_port, case_name, batch_size)


@pytest.fixture
def jax_x64():
    """jax_port with 64-bit floats enabled for the test (JAX computes in float32 unless told otherwise)."""
    jax = pytest.importorskip("jax")
    from harness.bench import jax_port

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield jax_port
    finally:
        jax.config.update("jax_enable_x64", before)


JAX_CASES = [("tutorial", None), ("mlp", 8), ("lenet", 4), ("mlp_bn", 8)]


@pytest.mark.parametrize("case_name, batch_size", JAX_CASES)
def test_jax_port_matches_torch_loss_and_gradients(jax_x64, case_name, batch_size):
    import jax

    params, x, y, torch_loss, torch_grads = _reference(case_name, batch_size)
    loss, grads = jax.value_and_grad(jax_x64.loss_function(case_name))(params, x, y)
    assert loss.dtype == np.float64
    np.testing.assert_allclose(loss, torch_loss, rtol=1e-12)
    for got, want in zip(grads, torch_grads):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case_name, batch_size", JAX_CASES)
def test_jax_jitted_step_steps_like_torchs_optimizer(jax_x64, case_name, batch_size):
    _steps_like_torch(jax_x64, case_name, batch_size)  # SGD (tutorial, mlp), Adam (lenet), Momentum with weight decay (mlp_bn)


def test_jax_port_refuses_an_optimizer_it_does_not_port(jax_x64):
    pair = get_case("mlp").build("float64", seed=0)
    nesterov = nn.Momentum(pair.funcad.optimizer.parameters, 0.1, 0.9, use_nesterov=True)
    with pytest.raises(ValueError, match="JAX port: Momentum with a learning-rate schedule or Nesterov momentum is not ported"):
        jax_x64.train_step("mlp", [np.asarray(p) for p in nesterov.parameters], nesterov)
