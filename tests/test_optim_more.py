"""AdaMax, Adadelta, Rprop, ASGD, Lamb, LARS, FTRL, ProximalAdagrad and LazyAdam over several steps: against
torch.optim where it has the same algorithm, else against MindSpore's documented formula written out in numpy;
also argument errors and a jitted training step against the eager one."""

import numpy as np
import pytest
import torch
from test_optim import _params, _run
from test_optim import _torch_optimizer as _torch_run

import funcad
from funcad import Parameter, nn
from funcad.jit import jit

SHAPES = [(3, 4), (4,)]
STEPS = 6


def _grads(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s) for s in SHAPES] for _ in range(steps)]


def _start():
    return [np.asarray(p).copy() for p in _params()]


def _close(actual, expected, rtol=1e-12):
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-14)


# -- torch has the same algorithm --------------------------------------------------------------------------------
@pytest.mark.parametrize("wd", [0.0, 0.05])
def test_adamax_equals_torch_when_eps_vanishes(wd):
    grads = _grads()
    ours, _ = _run(lambda ps: nn.AdaMax(ps, 0.02, 0.8, 0.95, eps=1e-300, weight_decay=wd), grads)
    theirs, _ = _torch_run(lambda ps: torch.optim.Adamax(ps, 0.02, betas=(0.8, 0.95), eps=0.0, weight_decay=wd), grads)
    _close(ours, theirs)


def _np_adamax(grads, lr, b1, b2, eps, torch_eps=False):
    ps, ms, vs = _start(), [np.zeros(s) for s in SHAPES], [np.zeros(s) for s in SHAPES]
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            ms[i] = b1 * ms[i] + (1 - b1) * g
            if torch_eps:
                vs[i] = np.maximum(b2 * vs[i], np.abs(g) + eps)
                ps[i] = ps[i] - lr / (1 - b1**t) * ms[i] / vs[i]
            else:
                vs[i] = np.maximum(b2 * vs[i], np.abs(g))
                ps[i] = ps[i] - lr / (1 - b1**t) * ms[i] / (vs[i] + eps)
    return ps


def test_adamax_puts_eps_after_the_maximum_where_torch_puts_it_inside():
    grads = _grads()
    ours, opt = _run(lambda ps: nn.AdaMax(ps, 0.02, eps=0.3), grads)
    _close(ours, _np_adamax(grads, 0.02, 0.9, 0.999, 0.3))
    theirs, _ = _torch_run(lambda ps: torch.optim.Adamax(ps, 0.02, eps=0.3), grads)
    _close(theirs, _np_adamax(grads, 0.02, 0.9, 0.999, 0.3, torch_eps=True))
    assert np.abs(ours[0] - theirs[0]).max() > 1e-5
    assert [p.name for _, p in opt.parameters_and_names()] == ["learning_rate", "global_step", "moment1.w", "moment1.b", "moment2.w", "moment2.b"]


@pytest.mark.parametrize("lr, rho, eps, wd", [(1.0, 0.9, 1e-6, 0.0), (0.5, 0.7, 1e-3, 0.1)])
def test_adadelta_matches_torch(lr, rho, eps, wd):
    grads = _grads()
    ours, opt = _run(lambda ps: nn.Adadelta(ps, lr, rho, eps, weight_decay=wd), grads)
    theirs, topt = _torch_run(lambda ps: torch.optim.Adadelta(ps, lr, rho=rho, eps=eps, weight_decay=wd), grads)
    _close(ours, theirs)
    state = topt.state[topt.param_groups[0]["params"][0]]
    _close([np.asarray(opt.accum[0]), np.asarray(opt.accum_update[0])], [state["square_avg"].numpy(), state["acc_delta"].numpy()])


def test_rprop_matches_torch_and_decays_weights_which_torch_cannot():
    grads = _grads(steps=10)
    grads = [[g if t % 3 else -g for g in gs] for t, gs in enumerate(grads)]  # sign flips exercise etaminus
    ours, opt = _run(lambda ps: nn.Rprop(ps, 0.05, etas=(0.4, 1.3), step_sizes=(1e-3, 0.08)), grads)
    theirs, topt = _torch_run(lambda ps: torch.optim.Rprop(ps, 0.05, etas=(0.4, 1.3), step_sizes=(1e-3, 0.08)), grads)
    _close(ours, theirs)
    _close([np.asarray(opt.step_size[0])], [topt.state[topt.param_groups[0]["params"][0]]["step_size"].numpy()])
    # weight decay folds into the gradient before its sign is taken: a zero gradient then still shrinks |p|
    zero = [[np.zeros(s) for s in SHAPES]]
    decayed, _ = _run(lambda ps: nn.Rprop(ps, 0.05, weight_decay=0.1), zero)
    _close(decayed, [p - 0.05 * np.sign(p) for p in _start()])


@pytest.mark.parametrize("t0, wd", [(2.0, 0.0), (1e6, 0.03)])
def test_asgd_matches_torch_including_the_average(t0, wd):
    grads = _grads()
    ours, opt = _run(lambda ps: nn.ASGD(ps, 0.05, lambd=0.01, alpha=0.6, t0=t0, weight_decay=wd), grads)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps eta and mu in the default dtype
    try:
        theirs, topt = _torch_run(lambda ps: torch.optim.ASGD(ps, 0.05, lambd=0.01, alpha=0.6, t0=t0, weight_decay=wd), grads)
    finally:
        torch.set_default_dtype(default)
    _close(ours, theirs)
    for p, ax, eta, mu in zip(topt.param_groups[0]["params"], opt.ax, opt.eta, opt.mu):
        state = topt.state[p]
        _close([np.asarray(ax), np.asarray(eta), np.asarray(mu)], [state["ax"].numpy(), state["eta"].numpy(), state["mu"].numpy()])
    assert [m.name for m in opt.mu] == ["mu_w", "mu_b"] and opt.ax[0].name == "ax_.w"


# -- MindSpore's formulas written out in numpy -------------------------------------------------------------------
def _np_lamb(grads, lr, b1, b2, eps, decays):
    ps, ms, vs = _start(), [np.zeros(s) for s in SHAPES], [np.zeros(s) for s in SHAPES]
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            r = (ms[i] / (1 - b1**t)) / (np.sqrt(vs[i] / (1 - b2**t)) + eps) + decays[i] * ps[i]
            w_norm, r_norm = np.linalg.norm(ps[i]), np.linalg.norm(r)
            trust = np.clip(w_norm / r_norm, 0.0, 10.0) if w_norm > 0 and r_norm > 0 else 1.0
            ps[i] = ps[i] - lr[i] * trust * r
    return ps


def test_lamb_matches_its_formula_with_decoupled_decay_skipping_gamma():
    grads = _grads()
    ours, opt = _run(lambda ps: nn.Lamb(ps, 0.01, 0.8, 0.95, 1e-4, weight_decay=0.1), grads, names=("w", "bn.gamma"))
    _close(ours, _np_lamb(grads, [0.01, 0.01], 0.8, 0.95, 1e-4, [0.1, 0.0]))
    assert opt.moments1[0].name == "lamb_m.w" and opt.moments2[1].name == "lamb_v.bn.gamma"


def test_lamb_parameter_groups_and_the_trust_ratio_clip():
    grads = _grads()
    params = _params()
    opt = nn.Lamb([{"params": [params[0]], "weight_decay": 0.2}, {"params": [params[1]], "lr": 0.03}], learning_rate=0.01)
    for g in grads:
        opt(tuple(funcad.Tensor(x) for x in g))
    _close([np.asarray(p) for p in params], _np_lamb(grads, [0.01, 0.03], 0.9, 0.999, 1e-6, [0.2, 0.0]))
    # a weight 100x its update's norm: the ratio is clipped to 10
    p = Parameter(np.full(4, 100.0), name="w")
    nn.Lamb([p], 0.1)((funcad.Tensor(np.ones(4)),))
    np.testing.assert_allclose(np.asarray(p), 100.0 - 0.1 * 10.0 * (1.0 / (1.0 + 1e-6)), rtol=1e-12)


def _np_lars_momentum(grads, lr, u, wd, eps, coef, clip, lars_on):
    ps, vs = _start(), [np.zeros(s) for s in SHAPES]
    for gs in grads:
        for i, g in enumerate(gs):
            if lars_on[i]:
                w_norm, g_norm = np.linalg.norm(ps[i]), np.linalg.norm(g)
                ratio = coef * w_norm / (g_norm + wd[i] * w_norm + eps) if w_norm > 0 and g_norm > 0 else 1.0
                if clip:
                    ratio = min(ratio / lr, 1.0)
                g = ratio * (g + wd[i] * ps[i])
            vs[i] = u * vs[i] + g
            ps[i] = ps[i] - lr * vs[i]
    return ps


@pytest.mark.parametrize("clip, coef", [(False, 0.01), (True, 0.001)])
def test_lars_rescales_gradients_for_the_wrapped_momentum(clip, coef):
    grads = _grads()
    ours, lars = _run(lambda ps: nn.LARS(nn.Momentum(ps, 0.1, 0.9, weight_decay=0.05), epsilon=1e-5, coefficient=coef, use_clip=clip),
                      grads, names=("dense.weight", "dense.bias"))
    # the default filter leaves the bias out: its gradient passes unchanged and, as in MindSpore, undecayed
    _close(ours, _np_lars_momentum(grads, 0.1, 0.9, [0.05, 0.05], 1e-5, coef, clip, [True, False]))
    assert int(lars.optimizer.global_step) == STEPS and [n for n, _ in lars.parameters_and_names()][:2] == ["learning_rate", "global_step"]
    assert lars.optimizer.weight_decays == (0.0, 0.0) and lars.lars_flags == (True, False)


def test_lars_with_groups_loss_scale_and_a_custom_filter():
    grads = _grads()
    params = _params()
    inner = nn.SGD([{"params": [params[0]], "weight_decay": 0.1}, {"params": [params[1]]}], 0.2, momentum=0.5, loss_scale=4.0)
    lars = nn.LARS(inner, coefficient=0.02, lars_filter=lambda p: True)
    for g in grads:
        lars(tuple(funcad.Tensor(4.0 * x) for x in g))
    _close([np.asarray(p) for p in params], _np_lars_momentum(grads, 0.2, 0.5, [0.1, 0.0], 1e-5, 0.02, False, [True, True]))


def _np_ftrl(grads, lr, accum0, lr_power, l1, l2, wd):
    ps = _start()
    hs, us = [np.full(s, accum0) for s in SHAPES], [np.zeros(s) for s in SHAPES]
    for gs in grads:
        for i, g in enumerate(gs):
            g = g + wd * ps[i]
            h_new = hs[i] + g * g
            us[i] = us[i] + g - (h_new ** -lr_power - hs[i] ** -lr_power) / lr * ps[i]
            value = (np.sign(us[i]) * l1 - us[i]) / (h_new ** -lr_power / lr + 2 * l2)
            ps[i] = np.where(np.abs(us[i]) > l1, value, 0.0)
            hs[i] = h_new
    return ps


@pytest.mark.parametrize("lr_power, l1, l2, wd", [(-0.5, 0.0, 0.0, 0.0), (-0.5, 0.3, 0.1, 0.02), (-0.3, 0.05, 0.0, 0.0)])
def test_ftrl_matches_its_formula(lr_power, l1, l2, wd):
    grads = _grads()
    ours, opt = _run(lambda ps: nn.FTRL(ps, 0.2, 0.05, lr_power, l1, l2, weight_decay=wd), grads, names=("w", "bn.beta"))
    _close(ours, _np_ftrl(grads, 0.05, 0.2, lr_power, l1, l2, wd))  # no beta/gamma filter: bn.beta decays too
    if l1 > 0.2:
        assert (ours[0] == 0.0).any()
    assert [m.name for m in opt.moments] == ["moments.w", "moments.bn.beta"] and opt.linear[0].name == "linear.w"


def _np_proximal(grads, lr, accum0, l1, l2, decays):
    ps, hs = _start(), [np.full(s, accum0) for s in SHAPES]
    for gs in grads:
        for i, g in enumerate(gs):
            g = g + decays[i] * ps[i]
            hs[i] = hs[i] + g * g
            v = ps[i] - lr[i] * g / np.sqrt(hs[i])
            ps[i] = np.sign(v) / (1 + lr[i] * l2) * np.maximum(np.abs(v) - lr[i] * l1, 0.0)
    return ps


@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.01, 0.2)])
def test_proximal_adagrad_matches_its_formula_with_groups(l1, l2):
    grads = _grads()
    params = _params()
    opt = nn.ProximalAdagrad([{"params": [params[0]], "weight_decay": 0.05}, {"params": [params[1]], "lr": 0.2}], accum=0.3,
                             learning_rate=0.1, l1=l1, l2=l2)
    for g in grads:
        opt(tuple(funcad.Tensor(x) for x in g))
    _close([np.asarray(p) for p in params], _np_proximal(grads, [0.1, 0.2], 0.3, l1, l2, [0.05, 0.0]))


@pytest.mark.parametrize("nesterov, wd", [(False, 0.0), (True, 0.02)])
def test_lazy_adam_is_adams_formula_on_dense_gradients(nesterov, wd):
    grads = _grads()
    b1, b2, eps, lr = 0.8, 0.95, 1e-3, 0.01
    ours, opt = _run(lambda ps: nn.LazyAdam(ps, lr, b1, b2, eps, use_nesterov=nesterov, weight_decay=wd), grads)
    ps, ms, vs = _start(), [np.zeros(s) for s in SHAPES], [np.zeros(s) for s in SHAPES]
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            g = g + wd * ps[i]
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            direction = b1 * ms[i] + (1 - b1) * g if nesterov else ms[i]
            ps[i] = ps[i] - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * direction / (np.sqrt(vs[i]) + eps)
    _close(ours, ps)
    assert opt.moment1[0].name == "moment1.w"


# -- shared machinery: schedules, loss scale, float32 ---------------------------------------------------------------
FACTORIES = {
    "AdaMax": lambda ps, **kw: nn.AdaMax(ps, 0.01, weight_decay=0.01, **kw),
    "Adadelta": lambda ps, **kw: nn.Adadelta(ps, 0.5, weight_decay=0.01, **kw),
    "FTRL": lambda ps, **kw: nn.FTRL(ps, learning_rate=0.05, l1=0.01, l2=0.01, weight_decay=0.01, **kw),
    "ProximalAdagrad": lambda ps, **kw: nn.ProximalAdagrad(ps, learning_rate=0.05, l1=0.01, weight_decay=0.01, **kw),
    "LazyAdam": lambda ps, **kw: nn.LazyAdam(ps, 0.01, weight_decay=0.01, **kw),
    "LARS": lambda ps, **kw: nn.LARS(nn.Momentum(ps, 0.1, 0.9, 0.01, **kw), coefficient=0.01),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_loss_scale_divides_the_gradients_back(name):
    rng = np.random.default_rng(2)
    start = rng.normal(size=(3, 2)).astype(np.float32)
    plain, scaled = Parameter(funcad.Tensor(start.copy()), name="w"), Parameter(funcad.Tensor(start.copy()), name="w")
    opt, opt_scaled = FACTORIES[name]([plain]), FACTORIES[name]([scaled], loss_scale=64.0)
    for _ in range(3):
        g = rng.normal(size=(3, 2)).astype(np.float32)
        opt((funcad.Tensor(g),))
        opt_scaled((funcad.Tensor(g * 64),))
    np.testing.assert_allclose(scaled.asnumpy(), plain.asnumpy(), rtol=1e-6)
    assert plain.dtype == np.float32 and not np.array_equal(plain.asnumpy(), start)


@pytest.mark.parametrize("name", ["AdaMax", "Adadelta", "Rprop", "ASGD", "Lamb", "ProximalAdagrad", "LazyAdam"])
def test_a_learning_rate_list_steps_as_each_rate_would(name):
    """A per-step list of rates steps as the same rates given by a schedule of the step counter, and differently from
    a constant rate."""
    make = {"AdaMax": nn.AdaMax, "Adadelta": nn.Adadelta, "Rprop": nn.Rprop, "ASGD": nn.ASGD, "Lamb": nn.Lamb,
            "ProximalAdagrad": lambda ps, lr: nn.ProximalAdagrad(ps, learning_rate=lr), "LazyAdam": nn.LazyAdam}[name]
    rates = [0.05, 0.02, 0.01, 0.005]
    grads = _grads(steps=4)
    listed, opt = _run(lambda ps: make(ps, rates), grads)
    scheduled, _ = _run(lambda ps: make(ps, lambda step: funcad.ops.where(step < 1, 0.05, funcad.ops.where(step < 2, 0.02,
                                                                             funcad.ops.where(step < 3, 0.01, 0.005)))), grads)
    _close(listed, scheduled, rtol=1e-6)  # the list is stored as float32, as in MindSpore
    constant, _ = _run(lambda ps: make(ps, 0.05), grads)
    if name == "Rprop":  # Rprop reads the rate once, as its first step sizes
        _close(listed, constant, rtol=1e-6)
    else:
        assert np.abs(listed[0] - constant[0]).max() > 1e-6
    assert float(opt.get_lr()) == pytest.approx(0.005)


# -- errors ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda ps: nn.AdaMax(ps, beta1=0.0), r"AdaMax: beta1 must be in \(0, 1\), got 0.0"),
    (lambda ps: nn.AdaMax(ps, eps=0.0), "AdaMax: eps must be > 0, got 0.0"),
    (lambda ps: nn.Adadelta(ps, rho=1.5), r"Adadelta: rho must be in \[0, 1\], got 1.5"),
    (lambda ps: nn.Adadelta(ps, epsilon=-1e-6), "Adadelta: epsilon must be a non-negative number, got -1e-06"),
    (lambda ps: nn.Rprop(ps, etas=(1.5, 1.2)), r"Rprop: etaminus \(etas\[0\]\) must be in \(0, 1\), got 1.5"),
    (lambda ps: nn.Rprop(ps, etas=(0.5, 0.9)), r"Rprop: etaplus \(etas\[1\]\) must be in \(1, inf\], got 0.9"),
    (lambda ps: nn.Rprop(ps, etas=0.5), "Rprop: etas must be a tuple of two floats, got 0.5"),
    (lambda ps: nn.Rprop(ps, step_sizes=(1.0, 0.1)), r"Rprop: the minimal step size must not exceed the maximal one, got step_sizes=\(1.0, 0.1\)"),
    (lambda ps: nn.ASGD(ps, lambd=-1.0), "ASGD: lambd must be a non-negative number, got -1.0"),
    (lambda ps: nn.ASGD(ps, learning_rate=-0.1), "ASGD: learning_rate must be a non-negative number, got -0.1"),
    (lambda ps: nn.Lamb(ps, 0.1, beta2=1.0), r"Lamb: beta2 must be in \(0, 1\), got 1.0"),
    (lambda ps: nn.Lamb(ps, 0.1, weight_decay=-0.1), "Lamb: weight_decay must be a non-negative number, got -0.1"),
    (lambda ps: nn.FTRL(ps, lr_power=0.5), r"FTRL: lr_power must be in \[-inf, 0\], got 0.5"),
    (lambda ps: nn.FTRL(ps, l1=-0.1), "FTRL: l1 must be a non-negative number, got -0.1"),
    (lambda ps: nn.FTRL(ps, initial_accum=-1.0), "FTRL: initial_accum must be a non-negative number, got -1.0"),
    (lambda ps: nn.FTRL(ps, learning_rate=[0.1, 0.2]), r"FTRL: learning_rate must be one fixed number .*got \[0.1, 0.2\]"),
    (lambda ps: nn.FTRL(ps, learning_rate=0.0), "FTRL: learning_rate must be > 0 .*got 0.0"),
    (lambda ps: nn.ProximalAdagrad(ps, l2=-0.5), "ProximalAdagrad: l2 must be a non-negative number, got -0.5"),
    (lambda ps: nn.ProximalAdagrad(ps, loss_scale=0.0), "ProximalAdagrad: loss_scale must be > 0, got 0.0"),
    (lambda ps: nn.LazyAdam(ps, beta1=1.0), r"LazyAdam: beta1 must be in \(0, 1\), got 1.0"),
    (lambda ps: nn.LARS(nn.SGD(ps), epsilon=-1.0), "LARS: epsilon must be a non-negative number, got -1.0"),
])
def test_bad_arguments_name_the_optimizer_and_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make(_params())


def test_lars_type_errors():
    with pytest.raises(TypeError, match="LARS: optimizer must be a funcad optimizer .*got list"):
        nn.LARS(_params())
    with pytest.raises(TypeError, match="LARS: use_clip must be a bool, got 1"):
        nn.LARS(nn.SGD(_params()), use_clip=1)
    with pytest.raises(TypeError, match="LARS: optimizer must be a funcad optimizer"):
        nn.LARS(nn.LARS(nn.SGD(_params())))


def test_bad_gradients_leave_every_state_untouched():
    params = _params()
    opt = nn.ASGD(params, 0.1, t0=0.0)
    with pytest.raises(ValueError, match=r"ASGD: gradient shapes do not match parameters \(#1 b: parameter \(4,\), gradient \(5,\)\)"):
        opt((funcad.Tensor(np.ones((3, 4))), funcad.Tensor(np.ones(5))))
    assert int(opt.global_step) == 0 and float(opt.eta[0]) == 0.0 and not np.asarray(opt.ax[0]).any()


# -- a tiny model trained under funcad.jit leaves what eager training leaves ---------------------------------------------
JIT_FACTORIES = {
    "AdaMax": lambda ps: nn.AdaMax(ps, 1e-2, weight_decay=1e-3),
    "Adadelta": lambda ps: nn.Adadelta(ps, 1.0, weight_decay=1e-3),
    "Rprop": lambda ps: nn.Rprop(ps, 0.01, weight_decay=1e-3),
    "ASGD": lambda ps: nn.ASGD(ps, 0.05, t0=1.0),
    "Lamb": lambda ps: nn.Lamb(ps, 1e-2, weight_decay=1e-2),
    "LARS": lambda ps: nn.LARS(nn.Momentum(ps, 0.1, 0.9, weight_decay=1e-3), coefficient=0.02, use_clip=True),
    "FTRL": lambda ps: nn.FTRL(ps, learning_rate=0.1, l1=1e-3, l2=1e-3),
    "ProximalAdagrad": lambda ps: nn.ProximalAdagrad(ps, learning_rate=0.05, l1=1e-3),
    "LazyAdam": lambda ps: nn.LazyAdam(ps, 1e-2, use_nesterov=True),
}


def _model(name):
    funcad.set_seed(11)
    net = nn.SequentialCell([nn.Dense(5, 8), nn.ReLU(), nn.Dense(8, 3)]).set_train()
    opt = JIT_FACTORIES[name](net.trainable_params())
    loss_fn = nn.CrossEntropyLoss()
    grad_fn = funcad.value_and_grad(lambda x, y: loss_fn(net(x), y), None, opt.parameters)

    def train_step(x, y):
        loss, grads = grad_fn(x, y)
        opt(grads)
        return loss

    state = [p for _, p in net.parameters_and_names()] + [p for _, p in opt.parameters_and_names()]
    return train_step, state


@pytest.mark.parametrize("name", sorted(JIT_FACTORIES))
def test_jitted_training_leaves_the_state_eager_training_leaves(name):
    rng = np.random.default_rng(3)
    batches = [(rng.standard_normal((6, 5)).astype(np.float32), rng.integers(0, 3, 6)) for _ in range(4)]
    eager_step, eager_state = _model(name)
    eager_losses = [float(eager_step(x, y).asnumpy()) for x, y in batches]
    step, state = _model(name)
    compiled = jit(step)
    losses = [float(compiled(x, y).asnumpy()) for x, y in batches]
    assert compiled.trace_count == 1
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    assert eager_losses[-1] != eager_losses[0]
    for p, q in zip(state, eager_state):
        assert p.name == q.name and p.dtype == q.dtype
        np.testing.assert_allclose(p.asnumpy(), q.asnumpy(), rtol=1e-5, atol=1e-6, err_msg=p.name)
    fresh = _model(name)[1]
    changed = [p.name for p, q in zip(state, fresh) if not np.array_equal(p.asnumpy(), q.asnumpy())]
    assert "global_step" in changed and len(changed) >= len(state) // 2
