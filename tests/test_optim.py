"""Optimizers over several steps: against their formulas written out in numpy, and against torch.optim
where the formulas coincide. Also the all-or-nothing update and argument errors."""

import numpy as np
import pytest
import torch

import funcad
from funcad import Parameter, nn
from funcad.core.tensor import parameter_hooks

SHAPES = [(3, 4), (4,)]
STEPS = 5


def _grads(seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s) for s in SHAPES] for _ in range(STEPS)]


def _params(seed=1, names=("w", "b")):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.normal(size=s), name=n) for s, n in zip(SHAPES, names)]


def _run(opt_factory, grads, names=("w", "b")):
    params = _params(names=names)
    opt = opt_factory(params)
    for g in grads:
        opt(tuple(funcad.Tensor(x) for x in g))
    return [np.asarray(p) for p in params], opt


def _torch_optimizer(opt_factory, grads):
    """torch's parameters after the steps, as arrays, and the torch optimizer (for its state)."""
    params = [torch.tensor(np.asarray(p), requires_grad=True) for p in _params()]
    opt = opt_factory(params)
    for g in grads:
        for p, x in zip(params, g):
            p.grad = torch.from_numpy(x.copy())
        opt.step()
    return [p.detach().numpy() for p in params], opt


def _torch_run(opt_factory, grads):
    return _torch_optimizer(opt_factory, grads)[0]


def _close(actual, expected):
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-14)


# -- independent numpy formulas ------------------------------------------------------------------
def _np_sgd(grads, lr, u, d, wd, nesterov):
    ps = [np.asarray(p).copy() for p in _params()]
    vs = [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(grads):
        for i, g in enumerate(gs):
            g = g + wd * ps[i]
            vs[i] = g if t == 0 else u * vs[i] + (1 - d) * g
            ps[i] = ps[i] - lr * (g + u * vs[i] if nesterov else vs[i])
    return ps


def _np_adam(grads, lr, b1, b2, eps, wd, nesterov):
    ps = [np.asarray(p).copy() for p in _params()]
    ms = [np.zeros_like(p) for p in ps]
    vs = [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            g = g + wd * ps[i]
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            direction = b1 * ms[i] + (1 - b1) * g if nesterov else ms[i]
            ps[i] = ps[i] - step * direction / (np.sqrt(vs[i]) + eps)
    return ps


@pytest.mark.parametrize(
    "u, d, wd, nesterov",
    [(0.0, 0.0, 0.0, False), (0.9, 0.0, 0.0, False), (0.9, 0.3, 0.0, False), (0.8, 0.0, 0.01, True), (0.5, 0.2, 0.05, False)],
)
def test_sgd_matches_formula_and_torch(u, d, wd, nesterov):
    grads = _grads()
    ours, _ = _run(lambda ps: nn.SGD(ps, 0.05, momentum=u, dampening=d, weight_decay=wd, nesterov=nesterov), grads)
    _close(ours, _np_sgd(grads, 0.05, u, d, wd, nesterov))
    _close(ours, _torch_run(lambda ps: torch.optim.SGD(ps, 0.05, momentum=u, dampening=d, weight_decay=wd, nesterov=nesterov), grads))


def test_sgd_without_momentum_applies_dampening_after_the_first_step():
    grads = _grads()
    ours, _ = _run(lambda ps: nn.SGD(ps, 0.1, dampening=0.5), grads)
    _close(ours, _np_sgd(grads, 0.1, 0.0, 0.5, 0.0, False))


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_formula_and_torch(nesterov):
    grads = _grads()
    ours, opt = _run(lambda ps: nn.Momentum(ps, 0.02, 0.9, weight_decay=0.1, use_nesterov=nesterov), grads)
    _close(ours, _np_sgd(grads, 0.02, 0.9, 0.0, 0.1, nesterov))
    _close(ours, _torch_run(lambda ps: torch.optim.SGD(ps, 0.02, momentum=0.9, weight_decay=0.1, nesterov=nesterov), grads))
    assert int(opt.global_step) == STEPS and [m.name for m in opt.moments] == ["moments.w", "moments.b"]


@pytest.mark.parametrize("wd, nesterov", [(0.0, False), (0.1, False), (0.0, True)])
def test_adam_matches_mindspore_formula(wd, nesterov):
    grads = _grads()
    ours, _ = _run(lambda ps: nn.Adam(ps, 0.01, 0.8, 0.95, 1e-3, weight_decay=wd, use_nesterov=nesterov), grads)
    _close(ours, _np_adam(grads, 0.01, 0.8, 0.95, 1e-3, wd, nesterov))


def test_adam_equals_torch_when_eps_vanishes_and_differs_otherwise():
    grads = _grads()
    ours, _ = _run(lambda ps: nn.Adam(ps, 0.01, eps=1e-300, weight_decay=0.05), grads)
    _close(ours, _torch_run(lambda ps: torch.optim.Adam(ps, 0.01, eps=0.0, weight_decay=0.05), grads))
    ours, _ = _run(lambda ps: nn.Adam(ps, 0.01, eps=1.0), grads)
    theirs = _torch_run(lambda ps: torch.optim.Adam(ps, 0.01, eps=1.0), grads)
    assert np.abs(ours[0] - theirs[0]).max() > 1e-4


def test_adam_weight_decay_formula_has_no_bias_correction():
    grads = _grads()
    b1, b2, eps, wd, lr = 0.9, 0.99, 1e-6, 0.1, 0.01
    ours, _ = _run(lambda ps: nn.AdamWeightDecay(ps, lr, b1, b2, eps, wd), grads, names=("w", "bn.gamma"))
    ps = [np.asarray(p).copy() for p in _params()]
    ms = [np.zeros_like(p) for p in ps]
    vs = [np.zeros_like(p) for p in ps]
    for gs in grads:
        for i, g in enumerate(gs):
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            update = ms[i] / (np.sqrt(vs[i]) + eps) + (wd * ps[i] if i == 0 else 0.0)  # 'gamma' is not decayed
            ps[i] = ps[i] - lr * update
    _close(ours, ps)


def _np_rmsprop(grads, lr, rho, u, eps, wd, centered, loss_scale=1.0):
    ps = [np.asarray(p).copy() for p in _params()]
    ss = [np.ones_like(p) for p in ps]
    avgs = [np.zeros_like(p) for p in ps]
    moms = [np.zeros_like(p) for p in ps]
    for gs in grads:
        for i, g in enumerate(gs):
            g = g / loss_scale + wd * ps[i]
            ss[i] = rho * ss[i] + (1 - rho) * g * g
            avgs[i] = rho * avgs[i] + (1 - rho) * g
            spread = ss[i] - avgs[i] ** 2 if centered else ss[i]
            moms[i] = u * moms[i] + lr * g / np.sqrt(spread + eps)
            ps[i] = ps[i] - moms[i]
    return ps


@pytest.mark.parametrize("u, wd, centered, loss_scale", [(0.0, 0.0, False, 1.0), (0.9, 0.01, False, 1.0), (0.5, 0.0, True, 8.0)])
def test_rmsprop_matches_mindspore_formula(u, wd, centered, loss_scale):
    grads = _grads()
    scaled = [[g * loss_scale for g in gs] for gs in grads]
    ours, opt = _run(lambda ps: nn.RMSProp(ps, 0.01, 0.8, u, 1e-6, centered=centered, loss_scale=loss_scale, weight_decay=wd), scaled)
    _close(ours, _np_rmsprop(scaled, 0.01, 0.8, u, 1e-6, wd, centered, loss_scale))
    names = [p.name for _, p in opt.parameters_and_names()]
    assert "mean_square.w" in names and ("mean_grad.b" in names) == centered


def test_rmsprop_differs_from_torch_by_its_initial_mean_square_and_eps():
    grads = _grads()
    ours, _ = _run(lambda ps: nn.RMSProp(ps, 0.01, 0.9, epsilon=1e-8), grads)
    theirs = _torch_run(lambda ps: torch.optim.RMSprop(ps, 0.01, alpha=0.9, eps=1e-8), grads)
    assert np.abs(ours[0] - theirs[0]).max() > 1e-3


@pytest.mark.parametrize("update_slots", [True, False])
def test_adagrad_matches_formula_and_torch(update_slots):
    grads = _grads()
    ours, _ = _run(lambda ps: nn.Adagrad(ps, accum=0.2, learning_rate=0.05, update_slots=update_slots, weight_decay=0.01), grads)
    ps = [np.asarray(p).copy() for p in _params()]
    hs = [np.full_like(p, 0.2) for p in ps]
    for gs in grads:
        for i, g in enumerate(gs):
            g = g + 0.01 * ps[i]
            hs[i] = hs[i] + g * g if update_slots else hs[i]
            ps[i] = ps[i] - 0.05 * g / np.sqrt(hs[i])
    _close(ours, ps)
    if update_slots:
        _close(ours, _torch_run(lambda ps: torch.optim.Adagrad(ps, 0.05, initial_accumulator_value=0.2, eps=0.0, weight_decay=0.01), grads))


def test_weight_decay_skips_beta_and_gamma_parameters():
    grads = [[np.zeros(s) for s in SHAPES]]
    ours, _ = _run(lambda ps: nn.SGD(ps, 0.5, weight_decay=0.1), grads, names=("dense.weight", "bn.beta"))
    start = [np.asarray(p) for p in _params()]
    _close(ours, [start[0] * (1 - 0.05), start[1]])


def test_callable_learning_rate_sees_the_step_counter():
    grads = _grads()
    ours, opt = _run(lambda ps: nn.SGD(ps, lambda step: 0.1 * 0.5**step), grads)
    ps = [np.asarray(p).copy() for p in _params()]
    for t, gs in enumerate(grads):
        lr = float(np.float32(0.1) * np.float32(0.5) ** t)  # 0.5 ** (int32 step) is float32, as in MindSpore
        ps = [p - lr * g for p, g in zip(ps, gs)]
    _close(ours, ps)
    assert float(opt.get_lr()) == pytest.approx(0.1 * 0.5**STEPS)


def test_float32_parameters_stay_float32():
    p = Parameter(np.ones(3, np.float32), name="w")
    opt = nn.Adam([p], learning_rate=lambda step: funcad.Tensor(np.float64(0.1)))
    opt((funcad.Tensor(np.ones(3, np.float32)),))
    assert p.dtype == np.float32 and opt.moment1[0].dtype == np.float32


def test_state_lives_in_non_trainable_parameters_written_by_set_data():
    params = _params()
    opt = nn.Adam(params)
    assert all(isinstance(m, Parameter) and not m.requires_grad for m in opt.moment1 + opt.moment2 + (opt.global_step,))
    assert opt.parameters == tuple(params)
    writes = []

    parameter_hooks.write = lambda param, value: writes.append(param)
    try:
        opt(tuple(funcad.Tensor(g) for g in _grads()[0]))
    finally:
        parameter_hooks.write = None
    assert {id(w) for w in writes} == {id(p) for p in params + list(opt.moment1 + opt.moment2) + [opt.global_step]}


def test_bad_gradients_leave_everything_untouched():
    params = _params()
    opt = nn.Momentum(params, 0.1, 0.9)
    before = [np.asarray(p).copy() for p in params]
    good = [funcad.Tensor(g) for g in _grads()[0]]
    with pytest.raises(ValueError, match="got 1 gradients for 2 parameters; nothing was updated"):
        opt((good[0],))
    with pytest.raises(ValueError, match=r"#1 b: parameter \(4,\), gradient \(5,\)"):
        opt((good[0], funcad.Tensor(np.zeros(5))))
    with pytest.raises(TypeError, match="grads must be a tuple"):
        opt(good[0])
    for p, b in zip(params, before):
        np.testing.assert_array_equal(np.asarray(p), b)
    assert int(opt.global_step) == 0 and not np.asarray(opt.moments[0]).any()


def test_a_learning_rate_callable_returning_an_array_is_an_error_before_any_write():
    params = _params()
    before = [np.asarray(p).copy() for p in params]
    opt = nn.Momentum(params, lambda step: funcad.Tensor(np.full(4, 0.1)), 0.9)
    with pytest.raises(ValueError, match=r"must return a number or a 0-d \(or one-element\) Tensor, got Tensor of shape \(4,\); nothing was updated"):
        opt(tuple(funcad.Tensor(g) for g in _grads()[0]))
    for p, b in zip(params, before):
        np.testing.assert_array_equal(np.asarray(p), b)
    assert int(opt.global_step) == 0 and not np.asarray(opt.moments[1]).any()


def test_constructor_errors():
    with pytest.raises(ValueError, match="learning_rate must be a non-negative number"):
        nn.SGD(_params(), -1.0)
    with pytest.raises(TypeError, match=r"params\[1\] is a ndarray, not a Parameter"):
        nn.SGD([_params()[0], np.ones(2)])
    with pytest.raises(ValueError, match="params is empty"):
        nn.Adam([])
    with pytest.raises(ValueError, match="nesterov needs momentum > 0"):
        nn.SGD(_params(), nesterov=True)
    with pytest.raises(ValueError, match="beta1 must be in"):
        nn.Adam(_params(), beta1=1.0)
    p = _params()[0]
    with pytest.raises(ValueError, match="appears more than once"):
        nn.SGD([p, p])
    with pytest.raises(ValueError, match=r"RMSProp: decay must be in \[0, 1\], got 1.5"):
        nn.RMSProp(_params(), decay=1.5)
    with pytest.raises(ValueError, match="Adagrad: accum must be > 0"):
        nn.Adagrad(_params(), accum=0.0)
    with pytest.raises(ValueError, match="RMSProp: loss_scale must be > 0"):
        nn.RMSProp(_params(), loss_scale=0.0)


def _groups(params):
    w, b = params
    return [{"params": [w], "weight_decay": 0.05}, {"params": [b], "lr": 0.3}, {"order_params": [b, w]}]


def test_parameter_groups_take_their_own_learning_rate_and_weight_decay_like_torch_groups():
    """MindSpore's groups (order_params reversing the gradient order) against torch's param groups."""
    grads = _grads()
    params = _params()
    opt = nn.Momentum(_groups(params), learning_rate=0.01, momentum=0.9)
    assert [p.name for p in opt.parameters] == ["b", "w"]
    for g in grads:
        opt(tuple(funcad.Tensor(x) for x in reversed(g)))
    want = _torch_run(lambda ps: torch.optim.SGD([{"params": [ps[0]], "weight_decay": 0.05}, {"params": [ps[1]], "lr": 0.3}], lr=0.01,
                                                 momentum=0.9), grads)
    _close([np.asarray(p) for p in params], want)


def test_a_grouped_adam_steps_each_group_as_its_own_adam_would():
    grads = _grads()
    params = _params()
    opt = nn.Adam(_groups(params), learning_rate=0.01)
    for g in grads:
        opt(tuple(funcad.Tensor(x) for x in reversed(g)))
    alone = _params()
    separate = (nn.Adam([alone[0]], learning_rate=0.01, weight_decay=0.05), nn.Adam([alone[1]], learning_rate=0.3))
    for g in grads:
        for one, x in zip(separate, g):
            one((funcad.Tensor(x),))
    for got, want in zip(params, alone):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_parameter_groups_name_what_is_wrong():
    w, b = _params()
    with pytest.raises(ValueError, match="parameter group 0 needs 'params'"):
        nn.SGD([{"param": [w]}], 0.1)
    with pytest.raises(ValueError, match=r"order_params leaves out grouped parameters \['b'\]"):
        nn.SGD([{"params": [w, b]}, {"order_params": [w]}], 0.1)
    with pytest.raises(ValueError, match=r"order_params holds parameters in no group \['b'\]"):
        nn.SGD([{"params": [w]}, {"order_params": [w, b]}], 0.1)
    with pytest.raises(TypeError, match="params\\[1\\] is a Parameter among parameter groups"):
        nn.SGD([{"params": [w]}, b], 0.1)
    with pytest.raises(NotImplementedError, match="AdamWeightDecay: grad_centralization in parameter groups is not supported"):
        nn.AdamWeightDecay([{"params": [w], "grad_centralization": True}], 0.1)


@pytest.mark.parametrize("make", [lambda ps, **kw: nn.Momentum(ps, 0.1, 0.9, 0.01, **kw),
                                  lambda ps, **kw: nn.SGD(ps, 0.1, momentum=0.5, weight_decay=0.01, **kw),
                                  lambda ps, **kw: nn.Adam(ps, 0.01, weight_decay=0.01, **kw)], ids=["Momentum", "SGD", "Adam"])
def test_loss_scale_divides_the_gradients_back(make):
    """MindSpore's loss_scale: gradients of a loss scaled by 64 (a power of two: exact) step as the unscaled ones."""
    rng = np.random.default_rng(2)
    start = rng.normal(size=(3, 2)).astype(np.float32)
    plain, scaled = Parameter(funcad.Tensor(start.copy()), name="w"), Parameter(funcad.Tensor(start.copy()), name="w")
    opt, opt_scaled = make([plain]), make([scaled], loss_scale=64.0)
    for _ in range(3):
        g = rng.normal(size=(3, 2)).astype(np.float32)
        opt((funcad.Tensor(g),))
        opt_scaled((funcad.Tensor(g * 64),))
    np.testing.assert_array_equal(scaled.asnumpy(), plain.asnumpy())
    assert not np.array_equal(plain.asnumpy(), start)
    with pytest.raises(ValueError, match="loss_scale must be > 0"):
        make([plain], loss_scale=0.0)


def test_decay_weight_adds_the_decay_multiplied_by_the_loss_scale_as_mindspore_keeps_it():
    """A ``construct`` copied from MindSpore's optimizers calls ``decay_weight`` on the still-scaled gradients and then
    ``scale_grad``: MindSpore keeps weight_decay * loss_scale, so the decay that acts is weight_decay itself."""
    w = Parameter(funcad.Tensor(np.array([[1.0, -2.0]])), name="w")
    opt = nn.Momentum([w], 0.1, 0.9, weight_decay=0.01, loss_scale=64.0)
    g = np.array([[64.0, 128.0]])
    decayed = opt.decay_weight((funcad.Tensor(g),))[0]
    np.testing.assert_allclose(decayed.asnumpy(), g + 0.01 * 64.0 * w.asnumpy(), rtol=1e-15)
    np.testing.assert_allclose(opt.scale_grad((decayed,))[0].asnumpy(), g / 64.0 + 0.01 * w.asnumpy(), rtol=1e-15)
