"""MindSpore's torch-style optimizers and schedulers (``funcad.experimental.optim``) against torch.optim, float64, step by
step, with parameter groups; a training loop written as MindSpore's tutorial writes it, compiled, against torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import funcad
from funcad import Parameter, Tensor, nn
from funcad.experimental import optim
from funcad.experimental.optim import lr_scheduler

SHAPES = [(3, 4), (4,), (2, 3), (5,)]
STEPS = 8


def _values(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def _grads(seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]


def _groups(params, spec):
    """spec: list of (parameter indices, options) -> parameter groups over ``params``."""
    return [{"params": [params[i] for i in idx], **opts} for idx, opts in spec]


def _run_both(name, spec, kwargs, torch_kwargs=None, grads=None):
    """Run optimizer ``name`` on funcad and torch with the same groups and gradients; yield both parameter lists per step."""
    values = _values()
    ours = [Parameter(v.copy(), name=f"p{i}") for i, v in enumerate(values)]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = getattr(optim, name)(_groups(ours, spec), **kwargs)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps scalar state (ASGD's eta, NAdam's mu product) in the default dtype
    try:
        ref = getattr(torch.optim, name)(_groups(theirs, spec), **(torch_kwargs if torch_kwargs is not None else kwargs))
        for step in grads or _grads():
            opt(tuple(Tensor(g) for g in step))
            for t, g in zip(theirs, step):
                t.grad = torch.tensor(g)
            ref.step()
            yield [p.asnumpy() for p in ours], [t.detach().numpy() for t in theirs], opt, ref
    finally:
        torch.set_default_dtype(default)


def _check(name, spec, kwargs, torch_kwargs=None):
    for ours, theirs, _, _ in _run_both(name, spec, kwargs, torch_kwargs):
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


TWO_GROUPS = [([0, 1], {"lr": 0.03}), ([2, 3], {"weight_decay": 0.05})]

CASES = [
    ("SGD", [([0, 1], {"lr": 0.1, "momentum": 0.9, "nesterov": True}), ([2], {"dampening": 0.3, "weight_decay": 0.1}), ([3], {"momentum": 0.0})],
     {"lr": 0.05, "momentum": 0.5}),
    ("SGD", TWO_GROUPS, {"lr": 0.05, "momentum": 0.7, "maximize": True}),
    ("Adam", TWO_GROUPS, {"lr": 0.02, "betas": (0.8, 0.95), "eps": 0.0}),
    ("Adam", [([0, 1], {"amsgrad": True}), ([2, 3], {"weight_decay": 0.1, "lr": 0.05})], {"lr": 0.01, "eps": 0.0, "maximize": True}),
    ("AdamW", [([0, 1], {"amsgrad": True, "lr": 0.05}), ([2, 3], {"weight_decay": 0.3})], {"lr": 0.01, "eps": 1e-3}),
    ("AdamW", TWO_GROUPS, {"lr": 0.01, "betas": (0.7, 0.9), "maximize": True}),
    ("Adamax", TWO_GROUPS, {"lr": 0.02, "eps": 1e-3, "betas": (0.8, 0.99)}),
    ("Adamax", TWO_GROUPS, {"lr": 0.02, "maximize": True}),
    ("Adadelta", [([0, 1], {"rho": 0.5}), ([2, 3], {"weight_decay": 0.1, "lr": 0.5})], {"lr": 1.0, "eps": 1e-3}),
    ("Adadelta", TWO_GROUPS, {"maximize": True}),
    ("Adagrad", [([0, 1], {"lr_decay": 0.1}), ([2, 3], {"initial_accumulator_value": 0.5, "weight_decay": 0.1})], {"lr": 0.1, "eps": 1e-3}),
    ("Adagrad", TWO_GROUPS, {"lr": 0.1, "maximize": True}),
    ("ASGD", [([0, 1], {"t0": 2.0, "lambd": 0.01}), ([2, 3], {"weight_decay": 0.1, "alpha": 0.5})], {"lr": 0.05}),
    ("ASGD", TWO_GROUPS, {"lr": 0.05, "t0": 0.0, "maximize": True}),
    ("NAdam", [([0, 1], {"momentum_decay": 0.1}), ([2, 3], {"weight_decay": 0.1, "betas": (0.8, 0.9)})], {"lr": 0.02, "eps": 1e-4}),
    ("RAdam", [([0, 1], {"betas": (0.5, 0.85)}), ([2, 3], {"weight_decay": 0.1})], {"lr": 0.02, "eps": 1e-4}),
    ("Rprop", [([0, 1], {"etas": (0.3, 1.5)}), ([2, 3], {"step_sizes": (0.02, 0.05)})], {"lr": 0.03}),
    ("Rprop", TWO_GROUPS, {"lr": 0.03, "maximize": True}),
    ("RMSprop", [([0, 1], {"centered": True, "momentum": 0.5}), ([2], {"weight_decay": 0.1}), ([3], {"centered": True})],
     {"lr": 0.01, "alpha": 0.9, "eps": 1e-4}),
    ("RMSprop", TWO_GROUPS, {"lr": 0.01, "momentum": 0.9, "maximize": True}),
]


@pytest.mark.parametrize("name, spec, kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_optimizer_matches_torch_step_by_step(name, spec, kwargs):
    _check(name, spec, kwargs)


def test_radam_reaches_its_rectified_steps():
    """With beta2 = 0.85 the variance length rho_t passes 5 at the 6th step: both branches of RAdam are compared above."""
    b2 = 0.85
    rho_inf = 2 / (1 - b2) - 1
    rho = [rho_inf - 2 * t * b2 ** t / (1 - b2 ** t) for t in range(1, STEPS + 1)]
    assert rho[0] <= 5 < rho[-1]


def test_adam_keeps_mindspore_eps_placement():
    """MindSpore's Adam adds eps to sqrt(v) before the bias correction (its Adam kernel), as funcad.nn.Adam does;
    torch adds it after: with eps > 0 the steps follow nn.Adam and differ from torch."""
    values, grads = _values(), _grads()
    ours = [Parameter(v.copy(), name=f"p{i}") for i, v in enumerate(values)]
    kernel = [Parameter(v.copy(), name=f"q{i}") for i, v in enumerate(values)]
    opt = optim.Adam([{"params": ours[:2], "amsgrad": False}, {"params": ours[2:], "weight_decay": 0.1, "lr": 0.05}], lr=0.01, eps=1e-2)
    ref = nn.Adam([{"params": kernel[:2]}, {"params": kernel[2:], "weight_decay": 0.1, "lr": 0.05}], learning_rate=0.01, eps=1e-2)
    for step in grads:
        opt(tuple(Tensor(g) for g in step))
        ref(tuple(Tensor(g) for g in step))
    for a, b in zip(ours, kernel):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-12)
    (_, theirs, _, _), *_ = reversed(list(_run_both("Adam", TWO_GROUPS, {"lr": 0.01, "eps": 1e-2})))
    assert not np.allclose(ours[0].asnumpy(), theirs[0], rtol=1e-6)


def test_adam_amsgrad_keeps_the_kernel_formula():
    values, grads = _values(), _grads()
    ours = [Parameter(v.copy(), name=f"p{i}") for i, v in enumerate(values)]
    kernel = [Parameter(v.copy(), name=f"q{i}") for i, v in enumerate(values)]
    opt = optim.Adam(ours, lr=0.01, eps=1e-2, amsgrad=True)
    ref = nn.Adam(kernel, learning_rate=0.01, eps=1e-2, use_amsgrad=True)
    for step in grads:
        opt(tuple(Tensor(g) for g in step))
        ref(tuple(Tensor(g) for g in step))
    for a, b in zip(ours, kernel):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-12)


def test_asgd_average_matches_torch():
    for _, _, opt, ref in _run_both("ASGD", [([0, 1], {"t0": 2.0}), ([2, 3], {"lambd": 0.1})], {"lr": 0.05}):
        torch_ax = [ref.state[p]["ax"].numpy() for group in ref.param_groups for p in group["params"]]
        for a, b in zip(opt.ax, torch_ax):
            np.testing.assert_allclose(a.asnumpy(), b, rtol=1e-11, atol=1e-13)


def test_param_groups_hold_defaults_and_an_lr_parameter():
    ps = [Parameter(v, name=f"p{i}") for i, v in enumerate(_values())]
    opt = optim.Adam([{"params": ps[:2], "lr": 0.5}, {"params": ps[2:]}], lr=0.1, weight_decay=0.01)
    assert [len(g["params"]) for g in opt.param_groups] == [2, 2]
    assert opt.param_groups[1]["weight_decay"] == 0.01 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    lrs = [g["lr"] for g in opt.param_groups]
    assert all(isinstance(lr, Parameter) and lr.ndim == 0 for lr in lrs)
    assert [float(lr.asnumpy()) for lr in lrs] == [0.5, 0.1]
    assert len(opt.lrs) == 2 and all(a is b for a, b in zip(opt.lrs, lrs))
    assert opt.group_start_id == [0, 2, 4]
    assert tuple(opt.parameters) == tuple(ps)
    plain = optim.SGD(ps, lr=0.1)
    assert len(plain.param_groups) == 1 and plain.param_groups[0]["params"] == ps


def test_add_param_group_after_steps_matches_torch():
    values, grads = _values(), _grads()
    ours = [Parameter(v.copy(), name=f"p{i}") for i, v in enumerate(values)]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = optim.Adam(ours[:2], lr=0.01, eps=0.0)
    ref = torch.optim.Adam(theirs[:2], lr=0.01, eps=0.0)
    for k, step in enumerate(grads):
        if k == 3:
            opt.add_param_group(1, {"params": ours[2:], "lr": 0.03, "amsgrad": True})  # MindSpore's signature
            ref.add_param_group({"params": theirs[2:], "lr": 0.03, "amsgrad": True})
        n = 2 if k < 3 else 4
        opt(tuple(Tensor(g) for g in step[:n]))
        for t, g in zip(theirs[:n], step):
            t.grad = torch.tensor(g)
        ref.step()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.asnumpy(), b.detach().numpy(), rtol=1e-11)
    opt.add_param_group({"params": [Parameter(np.zeros(2), name="late")]})  # torch's signature
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["lr"].name == "learning_rate_group_2"


def test_a_number_assigned_to_a_group_lr_is_used():
    for k, (ours, theirs, opt, ref) in enumerate(_run_both("SGD", TWO_GROUPS, {"lr": 0.05, "momentum": 0.5})):
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-11)
        if k == 2:  # torch's way of changing a rate, used from the next step on
            opt.param_groups[0]["lr"] = 0.2
            ref.param_groups[0]["lr"] = 0.2
    assert isinstance(opt.param_groups[0]["lr"], Parameter) and float(opt.param_groups[0]["lr"].asnumpy()) == 0.2


def test_state_is_named_per_parameter_for_checkpoints():
    ps = [Parameter(v, name=f"p{i}") for i, v in enumerate(_values())]
    names = dict(optim.AdamW(ps).parameters_and_names())
    assert {"exp_avg.p0", "exp_avg_sq.p3", "max_exp_avg_sq.p1", "step.p2", "learning_rate_group_0"} <= set(names)
    assert "p0" not in names


def test_optimizer_errors_name_what_is_wrong():
    p, q = Parameter(np.zeros(2), name="a"), Parameter(np.zeros(3), name="b")
    with pytest.raises(ValueError, match="Adam: lr must be a number >= 0"):
        optim.Adam([p], lr=-1.0)
    with pytest.raises(ValueError, match="SGD: lr must be >= 0"):
        optim.SGD([p], lr=-0.5)
    with pytest.raises(TypeError, match="SGD: lr must be an int, a float or a 0-d Tensor"):
        optim.SGD([p], lr="0.1")
    with pytest.raises(ValueError, match="betas must be two numbers in"):
        optim.AdamW([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="nesterov needs momentum > 0 and dampening 0"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="etas must be"):
        optim.Rprop([p], etas=(1.5, 1.2))
    with pytest.raises(ValueError, match="step_sizes must be"):
        optim.Rprop([p], step_sizes=(1.0, 0.1))
    with pytest.raises(ValueError, match="rho must be in"):
        optim.Adadelta([p], rho=1.5)
    with pytest.raises(TypeError, match="Adam: params must be a list"):
        optim.Adam(p)
    with pytest.raises(ValueError, match="params is empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match="a parameter group must be a dict"):
        optim.Adam([{"params": [p]}, [q]])
    with pytest.raises(ValueError, match="needs 'params'"):
        optim.Adam([{"lr": 0.1}])
    with pytest.raises(TypeError, match="not a set"):
        optim.Adam([{"params": {p}}])
    with pytest.raises(ValueError, match=r"parameters \['a'\] appear in more than one parameter group"):
        optim.Adam([{"params": [p]}, {"params": [p, q]}])
    with pytest.raises(ValueError, match="weight_decay must be a number >= 0"):
        optim.SGD([{"params": [p], "weight_decay": -1.0}], lr=0.1)
    opt = optim.Adam([p])
    with pytest.raises(ValueError, match="group_id must be 1"):
        opt.add_param_group(3, {"params": [q]})
    with pytest.raises(ValueError, match="Adam: got 2 gradients for 1 parameters"):
        opt((Tensor(np.zeros(2)), Tensor(np.zeros(3))))
    with pytest.raises(ValueError, match="lr must be >= 0"):
        opt.param_groups[0]["lr"] = -0.1
        opt((Tensor(np.zeros(2)),))


def test_a_subclass_without_an_update_rule_is_refused():
    class NoRule(optim.Optimizer):
        pass

    opt = NoRule([Parameter(np.zeros(2), name="a")], {"lr": 0.1})
    with pytest.raises(NotImplementedError, match="NoRule: an optimizer defines _update"):
        opt((Tensor(np.ones(2)),))


# -- schedulers ---------------------------------------------------------------------------------------------------------

def _lr_sequences(make_ours, make_theirs, steps=20, metrics=None):
    """Both schedulers' ``get_last_lr()`` after construction and after each of ``steps`` steps, on two groups."""
    p = [Parameter(np.zeros(2), name="a"), Parameter(np.zeros(3), name="b")]
    t = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    opt = optim.SGD([{"params": [p[0]]}, {"params": [p[1]], "lr": 0.05}], lr=0.1, momentum=0.9)
    ref = torch.optim.SGD([{"params": [t[0]]}, {"params": [t[1]], "lr": 0.05}], lr=0.1, momentum=0.9)
    ours, theirs = make_ours(opt), make_theirs(ref)
    got, want = [[float(x) for x in ours.get_last_lr()]], [list(theirs.get_last_lr())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(steps):
            args = () if metrics is None else (metrics[k],)
            ours.step(*args)
            theirs.step(*args)
            got.append([float(x) for x in ours.get_last_lr()])
            want.append(list(theirs.get_last_lr()))
            assert [float(g["lr"].asnumpy()) for g in opt.param_groups] == pytest.approx([g["lr"] for g in ref.param_groups], rel=1e-12)
    return np.array(got), np.array(want)


def _same(name, *args, **kwargs):
    return (lambda o: getattr(lr_scheduler, name)(o, *args, **kwargs), lambda o: getattr(torch.optim.lr_scheduler, name)(o, *args, **kwargs))


SCHEDULERS = {
    "StepLR": _same("StepLR", step_size=3, gamma=0.5),
    "MultiStepLR": _same("MultiStepLR", milestones=[2, 5, 5, 11], gamma=0.3),
    "ExponentialLR": _same("ExponentialLR", gamma=0.8),
    "LinearLR": _same("LinearLR", start_factor=0.25, end_factor=0.9, total_iters=6),
    "ConstantLR": _same("ConstantLR", factor=0.4, total_iters=4),
    "PolynomialLR": _same("PolynomialLR", total_iters=7, power=2.0),
    "CosineAnnealingLR": _same("CosineAnnealingLR", T_max=6, eta_min=0.001),
    "LambdaLR": _same("LambdaLR", lr_lambda=[lambda e: 0.9 ** e, lambda e: 1.0 / (e + 1)]),
    "MultiplicativeLR": _same("MultiplicativeLR", lr_lambda=lambda e: 0.95 if e % 2 else 0.8),
    "CyclicLR": (lambda o: lr_scheduler.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3, step_size_down=5, mode="triangular2"),
                 lambda o: torch.optim.lr_scheduler.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3, step_size_down=5,
                                                             mode="triangular2", cycle_momentum=False)),
    "CyclicLR-exp": (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="exp_range", gamma=0.9),
                     lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="exp_range", gamma=0.9, cycle_momentum=False)),
    "CosineAnnealingWarmRestarts": _same("CosineAnnealingWarmRestarts", T_0=3, T_mult=2, eta_min=0.002),
    "SequentialLR": (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.LinearLR(o, 0.1, total_iters=4), lr_scheduler.ExponentialLR(o, 0.7)],
                                                         milestones=[5]),
                     lambda o: torch.optim.lr_scheduler.SequentialLR(
                         o, [torch.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=4), torch.optim.lr_scheduler.ExponentialLR(o, 0.7)],
                         milestones=[5])),
    "ChainedScheduler": (lambda o: lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(o, 0.5, 3), lr_scheduler.ExponentialLR(o, 0.9)]),
                         lambda o: torch.optim.lr_scheduler.ChainedScheduler(
                             [torch.optim.lr_scheduler.ConstantLR(o, 0.5, 3), torch.optim.lr_scheduler.ExponentialLR(o, 0.9)])),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_each_scheduler_matches_torch_over_20_steps(name):
    got, want = _lr_sequences(*SCHEDULERS[name])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(np.unique(got[:, 0])) > 1  # the schedule changed the rate


@pytest.mark.parametrize("kwargs", [dict(patience=2, factor=0.5, min_lr=[0.0, 0.02]), dict(mode="max", threshold_mode="abs", threshold=0.1,
                                                                                           patience=1, cooldown=2)])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.85, 0.9, 0.9, 0.9, 0.9, 0.8, 1.2, 1.3, 1.3, 1.3, 1.3, 1.3, 1.0, 1.0, 1.0]
    got, want = _lr_sequences(lambda o: lr_scheduler.ReduceLROnPlateau(o, **kwargs),
                              lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **kwargs), metrics=metrics)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[-1, 0] < got[0, 0]


@pytest.mark.parametrize("name, kwargs", [("StepLR", dict(step_size=3, gamma=0.5)), ("MultiStepLR", dict(milestones=[2, 5, 5], gamma=0.3)),
                                          ("ExponentialLR", dict(gamma=0.8)), ("LinearLR", dict(start_factor=0.25, total_iters=6)),
                                          ("ConstantLR", dict(factor=0.4, total_iters=4)), ("PolynomialLR", dict(total_iters=7, power=2.0)),
                                          ("CosineAnnealingLR", dict(T_max=6))])
def test_step_with_an_epoch_uses_the_closed_form_like_torch(name, kwargs):
    epochs = [4, 9, 2, 6, 7]
    p, t = Parameter(np.zeros(2), name="a"), torch.zeros(2, requires_grad=True)
    ours = getattr(lr_scheduler, name)(optim.SGD([p], lr=0.1), **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(torch.optim.SGD([t], lr=0.1), **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for e in epochs:
            ours.step(e)
            theirs.step(e)
            assert float(ours.get_last_lr()[0]) == pytest.approx(theirs.get_last_lr()[0], rel=1e-12)


def test_warm_restarts_take_fractional_epochs_like_torch():
    p, t = Parameter(np.zeros(2), name="a"), torch.zeros(2, requires_grad=True)
    ours = lr_scheduler.CosineAnnealingWarmRestarts(optim.SGD([p], lr=0.1), T_0=2, T_mult=3)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(torch.optim.SGD([t], lr=0.1), T_0=2, T_mult=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for e in [0.5, 1.25, 2.5, 7.75, 1.0, 12.0]:
            ours.step(e)
            theirs.step(e)
            assert float(ours.get_last_lr()[0]) == pytest.approx(theirs.get_last_lr()[0], rel=1e-12)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        ours.step(-1)


def test_mindspore_documented_outputs():
    """The printed outputs of MindSpore's ExponentialLR and LRScheduler (a ConstantLR written as a subclass) examples."""
    net = nn.Dense(8, 2)
    scheduler = lr_scheduler.ExponentialLR(optim.Adam(net.trainable_params(), 0.01), gamma=0.5)
    seen = []
    for _ in range(3):
        scheduler.step()
        seen.append(float(scheduler.get_last_lr()[0]))
    assert seen == pytest.approx([0.005, 0.0025, 0.00125], rel=1e-12)

    class ConstantLR(lr_scheduler.LRScheduler):
        def __init__(self, optimizer, factor=0.5, total_iters=3, last_epoch=-1):
            self.factor, self.total_iters = factor, total_iters
            super().__init__(optimizer, last_epoch)

        def get_lr(self):
            if self.last_epoch == 0:
                return [lr * self.factor for lr in self._last_lr]
            if self.last_epoch != self.total_iters:
                return [lr * 1.0 for lr in self._last_lr]
            return [lr / self.factor for lr in self._last_lr]

    scheduler = ConstantLR(optim.SGD(net.trainable_params(), 0.01))
    seen = []
    for _ in range(4):
        scheduler.step()
        seen.append(float(scheduler.get_last_lr()[0]))
    assert seen == pytest.approx([0.005, 0.005, 0.01, 0.01], rel=1e-12)


def test_scheduler_errors_name_what_is_wrong():
    p = Parameter(np.zeros(2), name="a")
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(TypeError, match="StepLR: expected a funcad.experimental.optim Optimizer, got SGD"):
        lr_scheduler.StepLR(nn.SGD([p], 0.1), 2)
    with pytest.raises(ValueError, match="last_epoch must be an int >= -1"):
        lr_scheduler.StepLR(opt, 2, last_epoch=-3)
    with pytest.raises(KeyError, match="no 'initial_lr'"):
        lr_scheduler.StepLR(opt, 2, last_epoch=4)
    with pytest.raises(ValueError, match="start_factor must be in"):
        lr_scheduler.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="end_factor must be in"):
        lr_scheduler.LinearLR(opt, end_factor=2.0)
    with pytest.raises(ValueError, match="factor must be in"):
        lr_scheduler.ConstantLR(opt, factor=1.5)
    with pytest.raises(ValueError, match="expected 1 lr_lambda functions"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0, lambda e: 1.0])
    with pytest.raises(ValueError, match="mode must be one of"):
        lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="sine")
    with pytest.raises(ValueError, match="scale_mode must be"):
        lr_scheduler.CyclicLR(opt, 0.01, 0.1, scale_fn=lambda x: 1.0, scale_mode="epoch")
    with pytest.raises(ValueError, match="T_0 must be a positive int"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="T_mult must be an int >= 1"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="expected 1 milestones for 2 schedulers"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(opt, 3)], milestones=[])
    with pytest.raises(ValueError, match="needs at least one scheduler"):
        lr_scheduler.SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match="ChainedScheduler: needs at least one scheduler"):
        lr_scheduler.ChainedScheduler([])
    other = optim.SGD([Parameter(np.zeros(1), name="c")], lr=0.1)
    with pytest.raises(ValueError, match="same optimizer"):
        lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(other, 2)])
    with pytest.raises(ValueError, match="factor must be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(TypeError, match="metrics must be a number"):
        lr_scheduler.ReduceLROnPlateau(opt).step("low")

    class NoRule(lr_scheduler.LRScheduler):
        pass

    with pytest.raises(NotImplementedError, match="NoRule: a scheduler defines get_lr"):
        NoRule(opt)


# -- MindSpore's tutorial loop, compiled ---------------------------------------------------------------------------------

class _Net(nn.Cell):
    def __init__(self, w1, b1, w2, b2):
        super().__init__()
        self.fc1 = nn.Dense(4, 6, weight_init=Tensor(w1), bias_init=Tensor(b1), dtype=funcad.float64)
        self.fc2 = nn.Dense(6, 3, weight_init=Tensor(w2), bias_init=Tensor(b2), dtype=funcad.float64)
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(x)))


@pytest.mark.parametrize("name, kwargs, make_scheduler", [
    ("SGD", dict(lr=0.1, momentum=0.9), lambda o, m: m.StepLR(o, step_size=2, gamma=0.5)),
    ("AdamW", dict(lr=0.01), lambda o, m: m.CosineAnnealingLR(o, T_max=3)),
    ("RMSprop", dict(lr=0.01, centered=True), lambda o, m: m.LinearLR(o, start_factor=0.2, total_iters=4)),
])
def test_tutorial_training_loop_compiled_with_jit_matches_torch(name, kwargs, make_scheduler):
    rng = np.random.default_rng(3)
    w1, b1, w2, b2 = rng.standard_normal((6, 4)), rng.standard_normal(6), rng.standard_normal((3, 6)), rng.standard_normal(3)
    batches = [(rng.standard_normal((8, 4)), rng.standard_normal((8, 3))) for _ in range(3)]

    net = _Net(w1, b1, w2, b2)
    loss_fn = nn.MSELoss()
    weights = [p for p in net.trainable_params() if "weight" in p.name]
    biases = [p for p in net.trainable_params() if "bias" in p.name]
    optimizer = getattr(optim, name)([{"params": weights, "weight_decay": 0.01}, {"params": biases, "lr": kwargs["lr"] * 2}], **kwargs)
    scheduler = make_scheduler(optimizer, lr_scheduler)

    def forward_fn(data, label):
        return loss_fn(net(data), label)

    grad_fn = funcad.value_and_grad(forward_fn, None, optimizer.parameters)

    @funcad.jit
    def train_step(data, label):
        loss, grads = grad_fn(data, label)
        optimizer(grads)
        return loss

    tnet = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)).double()
    with torch.no_grad():
        for layer, (w, b) in zip((tnet[0], tnet[2]), ((w1, b1), (w2, b2))):
            layer.weight.copy_(torch.tensor(w))
            layer.bias.copy_(torch.tensor(b))
    tweights, tbiases = [tnet[0].weight, tnet[2].weight], [tnet[0].bias, tnet[2].bias]
    topt = getattr(torch.optim, name)([{"params": tweights, "weight_decay": 0.01}, {"params": tbiases, "lr": kwargs["lr"] * 2}], **kwargs)
    tsched = make_scheduler(topt, torch.optim.lr_scheduler)

    for _ in range(5):
        for x, y in batches:
            loss = train_step(Tensor(x), Tensor(y))
            topt.zero_grad()
            tloss = torch.nn.functional.mse_loss(tnet(torch.tensor(x)), torch.tensor(y))
            tloss.backward()
            topt.step()
            assert float(loss) == pytest.approx(tloss.item(), rel=1e-10)
        scheduler.step()
        tsched.step()
    np.testing.assert_allclose(net.fc1.weight.asnumpy(), tnet[0].weight.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(net.fc2.bias.asnumpy(), tnet[2].bias.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert train_step.trace_count == 1  # traced once: the rates the scheduler set reached the compiled step


def test_mindspore_module_paths_import():
    import importlib

    assert importlib.import_module("funcad.experimental.optim.adamw").AdamW is optim.AdamW
    assert importlib.import_module("funcad.experimental.optim.rmsprop").RMSprop is optim.RMSprop
    assert importlib.import_module("funcad.experimental.optim.asgd").ASGD is optim.ASGD
    assert funcad.experimental.optim.lr_scheduler.StepLR is lr_scheduler.StepLR


def test_a_subclass_written_with_construct_reads_its_groups():
    """An optimizer written as MindSpore's own: ``defaults``, ``param_groups``, ``group_start_id``, a ``construct``."""

    class Momentum(optim.Optimizer):
        def __init__(self, params, lr, momentum=0.9):
            super().__init__(params, dict(lr=lr, momentum=momentum))
            self.moments = self.parameters.clone(prefix="moments", init="zeros")

        def construct(self, gradients):
            for group_id, group in enumerate(self.param_groups):
                for i in range(self.group_start_id[group_id], self.group_start_id[group_id + 1]):
                    funcad.ops.assign(self.moments[i], self.moments[i] * group["momentum"] + gradients[i])
                    funcad.ops.assign(self.parameters[i], self.parameters[i] - self.moments[i] * group["lr"])
            return True

    values = _values()
    params = [Parameter(v.copy(), name=f"p{i}") for i, v in enumerate(values)]
    custom = Momentum(_groups(params, TWO_GROUPS[:1] + [([2, 3], {"momentum": 0.9})]), lr=0.05)
    scheduler = lr_scheduler.ExponentialLR(custom, gamma=0.5)
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    ref = torch.optim.SGD(_groups(theirs, TWO_GROUPS[:1] + [([2, 3], {})]), lr=0.05, momentum=0.9)
    tsched = torch.optim.lr_scheduler.ExponentialLR(ref, gamma=0.5)
    for step in _grads():
        custom(tuple(Tensor(g) for g in step))
        for t, g in zip(theirs, step):
            t.grad = torch.tensor(g)
        ref.step()
        scheduler.step()
        tsched.step()
    for a, b in zip(params, theirs):
        np.testing.assert_allclose(a.asnumpy(), b.detach().numpy(), rtol=1e-11)


def _float32_run(name, compiled):
    """Four steps of optimizer ``name`` on float32 parameters in two groups, a scheduler halving the rates between
    steps; the parameters after, and the step function."""
    w = Parameter(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), name="w")
    b = Parameter(np.linspace(-1, 1, 3, dtype=np.float32), name="b")
    opt = getattr(optim, name)([{"params": [w], "weight_decay": 0.1}, {"params": [b], "lr": 0.02}], lr=0.01)
    scheduler = lr_scheduler.ExponentialLR(opt, 0.5)
    grad_fn = funcad.value_and_grad(lambda x: ((funcad.ops.matmul(x, w) + b) ** 2).sum(), None, opt.parameters)

    def train_step(x):
        loss, grads = grad_fn(x)
        opt(grads)
        return loss

    step = funcad.jit(train_step) if compiled else train_step
    for k in range(4):
        step(Tensor(np.full((4, 2), 1.0 + k, dtype=np.float32)))
        scheduler.step()
    assert w.dtype == funcad.float32 and b.dtype == funcad.float32
    return (w.asnumpy(), b.asnumpy()), step


@pytest.mark.parametrize("name", [n for n in optim.__all__ if n not in ("Optimizer", "lr_scheduler")])
def test_float32_compiled_step_equals_eager_and_is_traced_once(name):
    """Every optimizer under funcad.jit, float32: the same parameters as eagerly (tested against torch above), from one trace."""
    eager, _ = _float32_run(name, compiled=False)
    jitted, step = _float32_run(name, compiled=True)
    assert step.trace_count == 1
    for e, j in zip(eager, jitted):
        np.testing.assert_allclose(j, e, rtol=2e-6, atol=1e-7)
    assert not np.allclose(eager[0], np.linspace(-1, 1, 6).reshape(2, 3))
