"""Adadelta, Adagrad and RMSprop of ``mindspore.experimental.optim`` (torch.optim's formulas, as MindSpore's)."""

from __future__ import annotations

from collections.abc import Iterable

from funcad import ops
from funcad.core.tensor import Tensor
from funcad.experimental.optim.optimizer import Optimizer, as_dtype_of, check_non_negative
from funcad.nn.optim.optimizer import add_decay


class Adadelta(Optimizer):
    """Adadelta (torch.optim.Adadelta): s <- rho s + (1 - rho) g^2; delta = sqrt(u + eps) / sqrt(s + eps) g;
    u <- rho u + (1 - rho) delta^2; p <- p - lr delta."""

    _slots = (("square_avg", 0.0), ("acc_delta", 0.0))

    def __init__(self, params: Iterable, lr: float | Tensor = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0, *,
                 maximize: bool = False):
        owner = type(self).__name__
        check_non_negative(owner, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"{owner}: rho must be in [0, 1], got {rho!r}")
        super().__init__(params, dict(lr=lr, rho=float(rho), eps=float(eps), weight_decay=weight_decay, maximize=bool(maximize)))

    def _update(self, p, g, lr, t, group, state):
        rho, eps = group["rho"], group["eps"]
        g = add_decay(g, p, group["weight_decay"])
        square = rho * state["square_avg"] + (1.0 - rho) * (g * g)
        delta = ops.sqrt(state["acc_delta"] + eps) / ops.sqrt(square + eps) * g
        acc = rho * state["acc_delta"] + (1.0 - rho) * (delta * delta)
        return lr, delta, [(state["square_avg"], square), (state["acc_delta"], acc)]


class Adagrad(Optimizer):
    """Adagrad (torch.optim.Adagrad): s <- s + g^2 (s starts at the constructor's initial_accumulator_value, as in
    torch and MindSpore a group's own value is not used);
    p <- p - lr / (1 + (t - 1) lr_decay) g / (sqrt(s) + eps)."""

    _slots = (("accum", "initial_accumulator_value"),)

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False):
        check_non_negative(type(self).__name__, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=float(lr_decay), weight_decay=weight_decay,
                                      initial_accumulator_value=float(initial_accumulator_value), eps=float(eps), maximize=bool(maximize)))

    def _update(self, p, g, lr, t, group, state):
        g = add_decay(g, p, group["weight_decay"])
        accum = state["accum"] + g * g
        step = lr / as_dtype_of(1.0 + (t - 1.0) * group["lr_decay"], p)
        return step, g / (ops.sqrt(accum) + group["eps"]), [(state["accum"], accum)]


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop): s <- alpha s + (1 - alpha) g^2; centered: a <- alpha a + (1 - alpha) g and
    the denominator sqrt(s - a^2) + eps, else sqrt(s) + eps; with momentum buf <- momentum buf + g / denominator and
    p <- p - lr buf, else p <- p - lr g / denominator."""

    _slots = (("mean_square", 0.0), ("mean_grad", 0.0), ("moment", 0.0))

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0,
                 centered: bool = False, maximize: bool = False):
        check_non_negative(type(self).__name__, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        super().__init__(params, dict(lr=lr, alpha=float(alpha), eps=float(eps), weight_decay=weight_decay, momentum=float(momentum),
                                      centered=bool(centered), maximize=bool(maximize)))

    def _update(self, p, g, lr, t, group, state):
        alpha, momentum = group["alpha"], group["momentum"]
        g = add_decay(g, p, group["weight_decay"])
        square = alpha * state["mean_square"] + (1.0 - alpha) * (g * g)
        writes = [(state["mean_square"], square)]
        if group["centered"]:
            mean = alpha * state["mean_grad"] + (1.0 - alpha) * g
            writes.append((state["mean_grad"], mean))
            square = square - mean * mean
        direction = g / (ops.sqrt(square) + group["eps"])
        if momentum > 0.0:
            direction = momentum * state["moment"] + direction
            writes.append((state["moment"], direction))
        return lr, direction, writes


__all__ = ["Adadelta", "Adagrad", "RMSprop"]
