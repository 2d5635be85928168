"""SGD, Momentum and ASGD with MindSpore's update formulas."""

from __future__ import annotations

from funcad import ops
from funcad.nn.optim.optimizer import Optimizer, _non_negative, scalar_as


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum (MindSpore's ``nn.SGD``).

    With g = grad + weight_decay * p::

        v <- u * v + (1 - dampening) * g          (on the first step v <- g)
        p <- p - lr * (g + u * v)   if nesterov
        p <- p - lr * v             otherwise

    Equal to ``torch.optim.SGD`` for every momentum/dampening/nesterov/weight_decay setting with momentum > 0.
    With momentum == 0 torch ignores dampening, whereas this formula scales later steps by (1 - dampening).
    """

    def __init__(self, params, learning_rate=0.1, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, loss_scale: float = 1.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.momentum = _non_negative("SGD", "momentum", momentum)
        self.dampening = _non_negative("SGD", "dampening", dampening)
        if nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ValueError(f"SGD: nesterov needs momentum > 0 and dampening == 0, got momentum={momentum}, dampening={dampening}")
        self.nesterov = bool(nesterov)
        self.stateless = self.momentum == 0.0 and self.dampening == 0.0
        self.accum = () if self.stateless else self._state("accum")

    def _updates(self, grads, lr):
        grads = self._decayed_grads(grads)
        if self.stateless:
            for p, g in zip(self.parameters, grads):
                yield p, scalar_as(lr, p), g, []
            return
        u, keep = self.momentum, 1.0 - self.dampening
        first = ops.equal(self.global_step, 0)
        for p, g, v in zip(self.parameters, grads, self.accum):
            v_new = u * v + keep * g
            if self.dampening != 0.0:
                v_new = ops.where(first, g, v_new)
            direction = g + u * v_new if self.nesterov else v_new
            yield p, scalar_as(lr, p), direction, [(v, v_new)]


class Momentum(Optimizer):
    r"""Momentum SGD (MindSpore's ``nn.Momentum``). With g = grad + weight_decay * p::

        v <- u * v + g
        p <- p - lr * (g + u * v)   if use_nesterov
        p <- p - lr * v             otherwise

    Identical to ``torch.optim.SGD(momentum=u, dampening=0, nesterov=use_nesterov)``.
    """

    def __init__(self, params, learning_rate, momentum: float, weight_decay: float = 0.0, loss_scale: float = 1.0,
                 use_nesterov: bool = False):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.momentum = _non_negative("Momentum", "momentum", momentum)
        self.use_nesterov = bool(use_nesterov)
        self.moments = self._state("moments")

    def _updates(self, grads, lr):
        grads = self._decayed_grads(grads)
        u = self.momentum
        for p, g, v in zip(self.parameters, grads, self.moments):
            v_new = u * v + g
            direction = g + u * v_new if self.use_nesterov else v_new
            yield p, scalar_as(lr, p), direction, [(v, v_new)]


class ASGD(Optimizer):
    r"""Averaged stochastic gradient descent (MindSpore's ``nn.ASGD``). With g = grad + weight_decay * p, t the
    1-based step, and per parameter a step size eta (lr on the first step) and an averaging weight mu (starts at 1)::

        p <- p * (1 - lambd * eta) - eta * g
        ax <- p                        if mu == 1
        ax <- ax + (p - ax) * mu       otherwise
        eta <- lr / (1 + lambd * lr * t)^alpha
        mu <- 1 / max(1, t - t0)

    ``ax``, the running average of the parameters from step t0 on, is what ASGD hands back for evaluation. The same
    formula as torch.optim.ASGD (whose default lr is 0.01 where MindSpore's is 0.1).
    """

    def __init__(self, params, learning_rate=0.1, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0.0):
        super().__init__(learning_rate, params, weight_decay)
        self.lambd = _non_negative("ASGD", "lambd", lambd)
        self.alpha = _non_negative("ASGD", "alpha", alpha)
        self.t0 = _non_negative("ASGD", "t0", t0)
        self.eta = self._scalar_state("eta_", 0.0)
        self.mu = self._scalar_state("mu_", 1.0)
        self.ax = self._state("ax_")

    def _updates(self, grads, lr):
        first = ops.equal(self.global_step, 0)
        t = self._step_number()
        for p, g, eta, mu, ax in zip(self.parameters, self._decayed_grads(grads), self.eta, self.mu, self.ax):
            rate = scalar_as(lr, p)
            eta_now = ops.where(first, rate, eta)
            delta = eta_now * (self.lambd * p + g)
            p_new = p - delta
            ax_new = ops.where(ops.equal(mu, 1.0), p_new, ax + (p_new - ax) * mu)
            step = ops.cast(t, p.dtype)
            eta_new = rate / ops.pow(1.0 + self.lambd * rate * step, self.alpha)
            mu_new = 1.0 / ops.maximum(step - self.t0, 1.0)
            yield p, 1.0, delta, [(eta, eta_new), (mu, mu_new), (ax, ax_new)]
