"""Adam, AdamW, Adamax, NAdam and RAdam of ``mindspore.experimental.optim`` (torch.optim's formulas; Adam keeps
MindSpore's kernel, see its docstring)."""

from __future__ import annotations

from collections.abc import Iterable

from funcad import ops
from funcad.core.tensor import Tensor
from funcad.experimental.optim.optimizer import Optimizer, as_dtype_of, check_betas, check_non_negative
from funcad.nn.optim.optimizer import add_decay


def _moments(g, b1: float, b2: float, state: dict) -> tuple:
    """(m, v, their writes): m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2."""
    m = b1 * state["exp_avg"] + (1.0 - b1) * g
    v = b2 * state["exp_avg_sq"] + (1.0 - b2) * (g * g)
    return m, v, [(state["exp_avg"], m), (state["exp_avg_sq"], v)]


def _amsgrad(v, state: dict, writes: list):
    """AMSGrad's running maximum of v (recorded among the writes)."""
    vmax = ops.maximum(state["max_exp_avg_sq"], v)
    writes.append((state["max_exp_avg_sq"], vmax))
    return vmax


class _AdamFamily(Optimizer):
    """Shared argument checks of the Adam variants."""

    def __init__(self, params: Iterable, lr: float | Tensor, betas: tuple[float, float], eps: float, weight_decay: float, **options):
        owner = type(self).__name__
        check_non_negative(owner, lr=lr if not hasattr(lr, "ndim") else float(lr), eps=eps, weight_decay=weight_decay)
        check_betas(owner, betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, **options))


class Adam(_AdamFamily):
    r"""Adam (``mindspore.experimental.optim.Adam``). With g <- g + weight_decay * p and t the step::

        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  (amsgrad: v <- max(vmax, v), kept as vmax)
        p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    MindSpore runs its Adam and ApplyAdamWithAmsgrad kernels, which add eps to sqrt(v) before the bias correction:
    torch.optim.Adam divides by sqrt(v / (1 - b2^t)) + eps instead, so MindSpore's eps equals torch's eps *
    sqrt(1 - b2^t); at eps = 0 the two are the same. This follows MindSpore.
    """

    _slots = (("exp_avg", 0.0), ("exp_avg_sq", 0.0), ("max_exp_avg_sq", 0.0))

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad=amsgrad, maximize=maximize)

    def _update(self, p, g, lr, t, group, state):
        b1, b2 = group["betas"]
        g = add_decay(g, p, group["weight_decay"])
        m, v, writes = _moments(g, b1, b2, state)
        if group["amsgrad"]:
            v = _amsgrad(v, state, writes)
        scale = as_dtype_of(ops.sqrt(1.0 - ops.power(b2, t)) / (1.0 - ops.power(b1, t)), p)
        return lr * scale, m / (ops.sqrt(v) + group["eps"]), writes


class AdamW(_AdamFamily):
    """AdamW (torch.optim.AdamW's formula, as MindSpore's): p <- p (1 - lr weight_decay), then Adam's step with eps
    added after the bias correction: p <- p - lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)."""

    _slots = Adam._slots

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad=amsgrad, maximize=maximize)

    def _update(self, p, g, lr, t, group, state):
        b1, b2 = group["betas"]
        m, v, writes = _moments(g, b1, b2, state)
        if group["amsgrad"]:
            v = _amsgrad(v, state, writes)
        denom = ops.sqrt(v) / as_dtype_of(ops.sqrt(1.0 - ops.power(b2, t)), p) + group["eps"]
        new = p * (1.0 - lr * group["weight_decay"]) - (lr / as_dtype_of(1.0 - ops.power(b1, t), p)) * (m / denom)
        return None, new, writes


class Adamax(_AdamFamily):
    """Adamax: u <- max(b2 u, |g| + eps), p <- p - lr / (1 - b1^t) * m / u (L2 weight decay in g)."""

    _slots = (("exp_avg", 0.0), ("exp_inf", 0.0))

    def __init__(self, params: Iterable, lr: float | Tensor = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, maximize=maximize)

    def _update(self, p, g, lr, t, group, state):
        b1, b2 = group["betas"]
        g = add_decay(g, p, group["weight_decay"])
        m = b1 * state["exp_avg"] + (1.0 - b1) * g
        u = ops.maximum(b2 * state["exp_inf"], ops.abs(g) + group["eps"])
        step = lr / as_dtype_of(1.0 - ops.power(b1, t), p)
        return step, m / u, [(state["exp_avg"], m), (state["exp_inf"], u)]


class NAdam(_AdamFamily):
    """NAdam (torch.optim.NAdam): momentum schedule mu_t = b1 (1 - 0.96^(t momentum_decay) / 2), their running
    product, and a step mixing the gradient and the first moment; eps after the bias correction."""

    _slots = (("exp_avg", 0.0), ("exp_avg_sq", 0.0))
    _scalar_slots = (("mu_product", 1.0),)

    def __init__(self, params: Iterable, lr: float | Tensor = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3):
        check_non_negative(type(self).__name__, momentum_decay=momentum_decay)
        super().__init__(params, lr, betas, eps, weight_decay, momentum_decay=momentum_decay)

    def _update(self, p, g, lr, t, group, state):
        b1, b2 = group["betas"]
        decay = group["momentum_decay"]
        g = add_decay(g, p, group["weight_decay"])
        m, v, writes = _moments(g, b1, b2, state)
        mu = b1 * (1.0 - 0.5 * ops.power(0.96, t * decay))
        mu_next = b1 * (1.0 - 0.5 * ops.power(0.96, (t + 1.0) * decay))
        product = state["mu_product"] * mu
        writes.append((state["mu_product"], product))
        product, mu, mu_next = as_dtype_of(product, p), as_dtype_of(mu, p), as_dtype_of(mu_next, p)
        denom = ops.sqrt(v / as_dtype_of(1.0 - ops.power(b2, t), p)) + group["eps"]
        direction = ((1.0 - mu) / (1.0 - product)) * g + (mu_next / (1.0 - product * mu_next)) * m
        return lr, direction / denom, writes


class RAdam(_AdamFamily):
    """RAdam (torch.optim.RAdam): Adam's step rectified by the variance of the adaptive rate once its length
    rho_t exceeds 5, plain momentum SGD with bias correction before."""

    _slots = (("exp_avg", 0.0), ("exp_avg_sq", 0.0))

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, betas, eps, weight_decay)

    def _update(self, p, g, lr, t, group, state):
        b1, b2 = group["betas"]
        g = add_decay(g, p, group["weight_decay"])
        m, v, writes = _moments(g, b1, b2, state)
        b2_t = ops.power(b2, t)
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * t * b2_t / (1.0 - b2_t)
        rectified = rho_t > 5.0
        safe_rho = ops.where(rectified, rho_t, 6.0 + 0.0 * rho_t)  # the unused branch stays finite
        rect = ops.sqrt((safe_rho - 4.0) * (safe_rho - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe_rho))
        m_hat = m / as_dtype_of(1.0 - ops.power(b1, t), p)
        adaptive = as_dtype_of(ops.sqrt(1.0 - b2_t), p) / (ops.sqrt(v) + group["eps"]) * as_dtype_of(rect, p)
        return lr, ops.where(rectified, m_hat * adaptive, m_hat), writes


__all__ = ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"]
