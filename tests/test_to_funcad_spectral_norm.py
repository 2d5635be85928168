"""Spectral normalisation both ways: torch's ``nn.utils.parametrizations.spectral_norm`` and its older hook
``nn.utils.spectral_norm`` through ``to_funcad`` and back through ``mirror``, and funcad's own ``nn.SpectralNorm`` /
``nn.spectral_norm``. Outputs, every gradient and the power iteration's vectors agree with torch in float64 over
several SGD steps, in training and evaluation modes, eagerly and under ``funcad.jit``; sigma converges to numpy's
largest singular value."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn as tnn

import funcad
import harness
from funcad import nn, ops
from tests.twin_check import TOL
from torch_ref.bridge import funcad_state, torch_state
from torch_ref.layer_table import TranslationError
from torch_ref.mirror import mirror_twin
from torch_ref.to_funcad import funcad_twin

RNG = np.random.default_rng(3)
PARAMETRIZATION = tnn.utils.parametrizations.spectral_norm
HOOK = tnn.utils.spectral_norm


class _Critic(tnn.Module):
    """A GAN critic as people write it: spectral-normalised convolutions (one transposed: dim 1 by default) and head."""

    def __init__(self, sn, **options):
        super().__init__()
        self.conv = sn(tnn.Conv2d(2, 3, 3, padding=1), **options)
        self.up = sn(tnn.ConvTranspose2d(3, 2, 2, stride=2))
        self.head = sn(tnn.Linear(2 * 8 * 8, 3), n_power_iterations=2, eps=1e-6)

    def forward(self, x):
        h = torch.nn.functional.leaky_relu(self.conv(x), 0.2)
        return self.head(torch.tanh(self.up(h)).flatten(1))


def _linear(sn, **options):
    return tnn.Sequential(sn(tnn.Linear(5, 4), **options), tnn.Tanh(), sn(tnn.Linear(4, 3)))


def _conv_dim_2_and_bias():
    """A weight normalised along its kernel rows (dim 2) and a 1-D bias (normalised to unit length, no vectors)."""
    conv = PARAMETRIZATION(tnn.Conv2d(2, 3, 3, padding=1), dim=2)
    PARAMETRIZATION(conv, "bias")
    return tnn.Sequential(conv, tnn.Flatten(), tnn.Linear(48, 3))


MODELS = {
    "linear, parametrization": lambda: _linear(PARAMETRIZATION),
    "linear dim 1, 3 iterations, parametrization": lambda: _linear(PARAMETRIZATION, dim=1, n_power_iterations=3),
    "linear, hook": lambda: _linear(HOOK),
    "linear dim 1, 3 iterations, hook": lambda: _linear(HOOK, dim=1, n_power_iterations=3),
    "conv critic, parametrization": lambda: _Critic(PARAMETRIZATION),
    "conv critic dim 1, parametrization": lambda: _Critic(PARAMETRIZATION, dim=1),
    "conv critic, hook": lambda: _Critic(HOOK),
    "conv dim 2 and bias, parametrization": _conv_dim_2_and_bias,
}
INPUTS = {"linear": (6, 5), "conv": (2, 2, 4, 4)}


def _vectors(state: dict) -> dict:
    return {name: np.array(np.asarray(value)) for name, value in state.items() if name.endswith(("_u", "_v"))}


def _train_and_compare(cell, module, names: dict, x: np.ndarray, train: bool, steps: int = 3, lr: float = 0.1) -> None:
    """``steps`` SGD steps on both sides, one forward each: outputs, every gradient and the vectors (moved by torch's power
    iteration in training mode, kept in evaluation mode) agree at each."""
    cell.set_train(train)
    module.train(train)
    before = _vectors(torch_state(module))
    cotangent = np.random.default_rng(1).standard_normal(tuple(copy.deepcopy(cell)(funcad.Tensor(x)).shape))
    weights = cell.trainable_params()
    grad_fn = funcad.value_and_grad(lambda x: (lambda out: (ops.sum(out * funcad.Tensor(cotangent)), out))(cell(x)), None, weights,
                                    has_aux=True)
    for _ in range(steps):
        (_, f_out), f_grads = grad_fn(funcad.Tensor(x))
        f_grads = {p.name: np.asarray(g) for p, g in zip(weights, f_grads)}
        module.zero_grad()
        t_out = module(torch.tensor(x))
        (t_out * torch.tensor(cotangent)).sum().backward()
        t_grads = {n: p.grad.numpy() for n, p in module.named_parameters()}
        np.testing.assert_allclose(np.asarray(f_out), t_out.detach().numpy(), **TOL)
        assert sorted(names[n] for n in f_grads) == sorted(t_grads)
        for name, grad in f_grads.items():
            np.testing.assert_allclose(grad, t_grads[names[name]], **TOL, err_msg=name)
        tstate = torch_state(module)
        for name, value in _vectors(funcad_state(cell)).items():
            np.testing.assert_allclose(value, tstate[names[name]].numpy(), **TOL, err_msg=name)
        params = dict(cell.parameters_and_names())
        with torch.no_grad():
            for name, grad in f_grads.items():
                params[name].set_data(np.asarray(params[name]) - lr * grad)
                tstate[names[name]].sub_(lr * torch.tensor(t_grads[names[name]]))
    after = _vectors(torch_state(module))
    moved = [not np.array_equal(before[k], after[k]) for k in before]
    assert any(moved) if train else not any(moved)  # (a vector of one element never moves)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_to_funcad_follows_torch_step_by_step(model, train):
    torch.manual_seed(0)
    module = MODELS[model]().double()
    twin = funcad_twin(module)
    names = twin.parameter_names
    assert any(n.endswith(("weight.original", "weight_orig")) for n in names) and any(n.endswith(("_u", "weight_u")) for n in names)
    assert {p.name for p in twin.cell.trainable_params()} == {n for n, t in names.items() if not t.endswith(("_u", "_v"))}
    x = RNG.standard_normal(INPUTS[model.split()[0].rstrip(",")])
    _train_and_compare(twin.cell, module, names, x, train)


@pytest.mark.parametrize("model", ["conv critic, parametrization", "conv critic, hook", "conv dim 2 and bias, parametrization"])
def test_mirror_of_the_twin_and_round_trip(model):
    torch.manual_seed(1)
    module = MODELS[model]().double()
    cell = funcad_twin(module).cell
    back = mirror_twin(cell)
    assert sorted(torch_state(back.module)) == sorted(torch_state(module))  # torch's own names again
    x = RNG.standard_normal(INPUTS["conv"])
    _train_and_compare(cell, back.module, back.parameter_names, x, train=True)


class _FuncadCritic(nn.Cell):
    """A funcad network using the two forms directly: a SpectralNorm Cell on a raw weight, and spectral_norm on layers."""

    def __init__(self):
        super().__init__()
        self.raw = funcad.Parameter(RNG.standard_normal((4, 5)))
        self.sn = nn.SpectralNorm(self.raw, n_power_iterations=2)
        self.conv = nn.spectral_norm(nn.Conv2d(1, 2, 3, pad_mode="pad", padding=1, has_bias=True, dtype=funcad.float64))
        self.embed = nn.spectral_norm(nn.Embedding(6, 4), "embedding_table")
        self.up = nn.spectral_norm(nn.Conv2dTranspose(2, 1, 2, stride=2, pad_mode="valid", dtype=funcad.float64), eps=1e-8)

    def construct(self, x):
        h = ops.tanh(self.up(self.conv(x)))  # (N, 1, 8, 8)
        rows = ops.reshape(h, (x.shape[0], 8, 8))[:, :, :5]
        ids = ops.cast(ops.arange(8) % 6, funcad.int32)
        return ops.matmul(rows, ops.transpose(self.sn(self.raw), (1, 0))) + ops.sum(self.embed(ids))


def test_mirror_of_funcad_spectral_norms():
    cell = _FuncadCritic()
    cell.set_dtype(funcad.float64)
    twin = mirror_twin(cell)
    assert twin.parameter_names["embed.embedding_table_orig"] == "embed.weight_orig"
    assert twin.parameter_names["up.weight_u"] == "up.weight_u" and twin.module.up.weight_u.shape == (1,)  # dim 1 of (in, out, kh, kw)
    x = RNG.standard_normal((2, 1, 4, 4))
    for train in (True, False):
        _train_and_compare(cell, twin.module, twin.parameter_names, x, train, steps=2)


@pytest.mark.parametrize("sn", [PARAMETRIZATION, HOOK], ids=["parametrization", "hook"])
def test_jit_step_updates_the_vectors_as_eager(sn):
    torch.manual_seed(2)
    module = _Critic(sn).double()
    eager, compiled = funcad_twin(module).cell, funcad_twin(module).cell
    eager.set_train()
    compiled.set_train()
    x = funcad.Tensor(RNG.standard_normal((2, 2, 4, 4)))
    weights = compiled.trainable_params()
    grad_fn = funcad.value_and_grad(lambda x: ops.sum(compiled(x) ** 2), None, weights)

    @funcad.jit
    def step(x):
        loss, grads = grad_fn(x)
        for p, g in zip(weights, grads):
            ops.assign_sub(p, 0.05 * g)
        return loss

    eager_grad = funcad.value_and_grad(lambda x: ops.sum(eager(x) ** 2), None, eager.trainable_params())
    for _ in range(3):
        loss, expected = step(x), eager_grad(x)
        np.testing.assert_allclose(np.asarray(loss), np.asarray(expected[0]), **TOL)
        for p, g in zip(eager.trainable_params(), expected[1]):
            ops.assign_sub(p, 0.05 * g)
        for (name, a), (_, b) in zip(funcad_state(compiled).items(), funcad_state(eager).items()):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL, err_msg=name)
    assert not any("weight" in cell.__dict__ for _, cell in compiled.cells_and_names())  # no weight of a traced call outlives it
    moved = funcad_twin(module).cell
    assert any(not np.array_equal(np.asarray(a), np.asarray(b)) for (_, a), (_, b) in zip(funcad_state(compiled).items(),
                                                                                           funcad_state(moved).items()))


def test_sigma_converges_to_the_largest_singular_value():
    shape = (3, 4, 2)
    for dim in (0, 1, 2):  # a weight whose matrix along dim has singular values 5, 2, 1 (, 0.5): the iteration converges fast
        rows = shape[dim]
        left, _ = np.linalg.qr(RNG.standard_normal((rows, rows)))
        right, _ = np.linalg.qr(RNG.standard_normal((24 // rows, rows)))
        matrix = left @ np.diag([5.0, 2.0, 1.0, 0.5][:rows]) @ right.T
        others = [n for d, n in enumerate(shape) if d != dim]
        weight = np.moveaxis(matrix.reshape(rows, *others), 0, dim)
        sn = nn.SpectralNorm(weight, n_power_iterations=40, dim=dim)
        sn.set_train()
        np.testing.assert_allclose(np.asarray(sn(funcad.Tensor(weight))), weight / 5.0, rtol=1e-12)
    vector = RNG.standard_normal(5)
    np.testing.assert_allclose(np.asarray(nn.SpectralNorm(vector)(funcad.Tensor(vector))), vector / np.linalg.norm(vector), rtol=1e-12)


@pytest.mark.parametrize("sn, trained", [(PARAMETRIZATION, "conv.parametrizations.weight.original"), (HOOK, "conv.weight_orig")])
def test_harness_compare_runs_a_spectral_normalised_critic(sn, trained):
    """Both forms, the hook's included: it leaves a computed ``weight`` on the module, which no deep copy can take."""
    torch.manual_seed(3)
    data = [(RNG.standard_normal((4, 2, 4, 4)).astype(np.float32), RNG.integers(0, 3, 4))] * 2
    critic = _Critic(sn)
    vectors = [b.detach().clone() for b in critic.buffers()]
    result = harness.compare(critic, data=data, steps=2, timing=False)
    assert result.passed and trained in set(result.result.grads.parameter)
    assert all(torch.equal(a, b) for a, b in zip(vectors, critic.buffers()))  # the user's module is left as it was


class _OwnWeight(tnn.Module):
    def __init__(self):
        super().__init__()
        self.weight = tnn.Parameter(torch.randn(3, 4))

    def forward(self, x):
        return x @ self.weight.t()


class _OwnFuncadWeight(nn.Cell):
    def __init__(self):
        super().__init__()
        self.weight = funcad.Parameter(np.ones((3, 4)))

    def construct(self, x):
        return ops.matmul(x, ops.transpose(self.weight, (1, 0)))


@pytest.mark.parametrize("make, error, message", [
    (lambda: nn.SpectralNorm(np.ones((2, 3)), dim=2), IndexError, r"SpectralNorm: dim=2 is out of range for a weight of shape \(2, 3\)"),
    (lambda: nn.SpectralNorm(np.ones((2, 3)), n_power_iterations=0), ValueError, "n_power_iterations must be a positive int, got 0"),
    (lambda: nn.spectral_norm(nn.spectral_norm(nn.Dense(3, 2))), RuntimeError, r"Dense \(root\)\.weight is spectral-normalised already"),
    (lambda: nn.spectral_norm(nn.ReLU()), ValueError, r"ReLU \(root\) has no Parameter 'weight' \(it has none\)"),
    (lambda: nn.SpectralNorm(np.ones((2, 3)))(funcad.Tensor(np.ones((3, 3)))), ValueError,
     r"a weight of shape \(3, 3\) is a \(3, 3\) matrix along dim 0, but the singular vectors u and v make it \(2, 3\)"),
    (lambda: nn.SpectralNorm(np.ones(3))(funcad.Tensor(np.ones((3, 3)))), ValueError, r"made for a 1-D weight, got one of shape \(3, 3\)"),
    (lambda: funcad_twin(tnn.Sequential(HOOK(_OwnWeight()))), TranslationError,
     r"_OwnWeight at '0': nn.utils.spectral_norm's hook is translated on the layers of torch_ref.layer_table only"),
    (lambda: mirror_twin(nn.SequentialCell(nn.spectral_norm(_OwnFuncadWeight()))), TranslationError,
     r"_OwnFuncadWeight at '0': funcad.nn.spectral_norm is mirrored on the layers of torch_ref.layer_table only"),
])
def test_bad_uses_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_other_hooks_beside_spectral_norm_are_still_refused():
    linear = HOOK(tnn.Linear(3, 2))
    linear.register_forward_pre_hook(lambda module, args: None)
    with pytest.raises(TranslationError, match="Linear at the root: its forward pre-hooks"):
        funcad_twin(copy.deepcopy(linear))
