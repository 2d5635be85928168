"""SGD, ASGD and Rprop of ``mindspore.experimental.optim`` (torch.optim's formulas, as MindSpore's)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from funcad import ops
from funcad.core.tensor import Tensor
from funcad.experimental.optim.optimizer import Optimizer, as_dtype_of, check_non_negative
from funcad.nn.optim.optimizer import add_decay


def _first(t, p):
    """1 on a parameter's first update, else 0, in p's dtype: a slot that starts at zero plus ``_first * x`` is x on
    the first update and unchanged (exactly) afterwards."""
    return ops.cast(t == 1.0, p.dtype)


class SGD(Optimizer):
    """SGD with momentum (torch.optim.SGD): g <- g + weight_decay p; buf <- g on the first update, else
    momentum buf + (1 - dampening) g; p <- p - lr (g + momentum buf if nesterov else buf)."""

    _slots = (("accum", 0.0),)

    def __init__(self, params: Iterable, lr: float | Tensor, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, *,
                 maximize: bool = False):
        owner = type(self).__name__
        check_non_negative(owner, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
        if nesterov and (momentum <= 0.0 or dampening != 0.0):
            raise ValueError(f"{owner}: nesterov needs momentum > 0 and dampening 0, got momentum {momentum}, dampening {dampening}")
        super().__init__(params, dict(lr=lr, momentum=float(momentum), dampening=float(dampening), weight_decay=weight_decay,
                                      nesterov=bool(nesterov), maximize=bool(maximize)))

    def _update(self, p, g, lr, t, group, state):
        g = add_decay(g, p, group["weight_decay"])
        momentum = group["momentum"]
        if momentum == 0.0:
            return lr, g, []
        buf = state["accum"]
        buf_new = ops.where(t == 1.0, g, momentum * buf + (1.0 - group["dampening"]) * g)
        direction = g + momentum * buf_new if group["nesterov"] else buf_new
        return lr, direction, [(buf, buf_new)]


class ASGD(Optimizer):
    """Averaged SGD (torch.optim.ASGD): p <- p (1 - lambd eta) - eta g with eta = lr on the first update, then
    eta <- lr / (1 + lambd lr t)^alpha; the average ax of the iterates starts at step t0 (mu = 1 / max(1, t - t0))."""

    _slots = (("ax", 0.0),)
    _scalar_slots = (("eta", 0.0), ("mu", 1.0))

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0.0,
                 maximize: bool = False):
        check_non_negative(type(self).__name__, weight_decay=weight_decay, lambd=lambd, t0=t0)
        super().__init__(params, dict(lr=lr, lambd=float(lambd), alpha=float(alpha), t0=float(t0), weight_decay=weight_decay,
                                      maximize=bool(maximize)))

    def _update(self, p, g, lr, t, group, state):
        lambd, eta, mu, ax = group["lambd"], state["eta"], state["mu"], state["ax"]
        g = add_decay(g, p, group["weight_decay"])
        eta_now = as_dtype_of(eta, p) + _first(t, p) * lr  # torch sets eta to lr when the parameter's state is made
        new = p * (1.0 - lambd * eta_now) - eta_now * g
        mu_p = as_dtype_of(mu, p)
        ax_new = ops.where(mu == 1.0, new, ax + (new - ax) * mu_p)
        rate = ops.cast(lr, np.float64) if isinstance(lr, Tensor) else lr
        eta_new = rate / ops.power(1.0 + lambd * rate * t, group["alpha"])
        mu_new = 1.0 / ops.maximum(t - group["t0"], 1.0)
        return None, new, [(ax, ax_new), (eta, eta_new), (mu, mu_new)]


class Rprop(Optimizer):
    """Rprop (torch.optim.Rprop): each element's step size starts at lr, grows by etaplus while the gradient keeps
    its sign and shrinks by etaminus when it flips (that element then skips its update), clipped to step_sizes;
    p <- p - sign(g) step_size."""

    _slots = (("prev", 0.0), ("step_size", 0.0))

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-2, etas: tuple[float, float] = (0.5, 1.2), step_sizes: tuple[float,
                 float] = (1e-6, 50), *, maximize: bool = False):
        owner = type(self).__name__
        if len(etas) != 2 or not (0.0 < etas[0] < 1.0 < etas[1]):
            raise ValueError(f"{owner}: etas must be (etaminus, etaplus) with 0 < etaminus < 1 < etaplus, got {etas!r}")
        if len(step_sizes) != 2 or not 0.0 <= step_sizes[0] <= step_sizes[1]:
            raise ValueError(f"{owner}: step_sizes must be (min, max) with 0 <= min <= max, got {step_sizes!r}")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=bool(maximize)))

    def _update(self, p, g, lr, t, group, state):
        etaminus, etaplus = group["etas"]
        low, high = group["step_sizes"]
        prev, size = state["prev"], state["step_size"]
        sign = ops.sign(g * prev)
        factor = ops.where(sign > 0, etaplus, ops.where(sign < 0, etaminus, 1.0))
        size_new = ops.clip_by_value((size + _first(t, p) * lr) * ops.cast(factor, p.dtype), low, high)
        g = ops.where(sign < 0, 0.0 * g, g)
        return None, p - ops.sign(g) * size_new, [(prev, g), (size, size_new)]


__all__ = ["SGD", "ASGD", "Rprop"]
