"""Torch optimizers for the harness: stock ``torch.optim`` where funcad's (MindSpore's) formula is the same,
and an exact torch implementation where it is not, so a case can choose which one its mirror trains with.

Where the formulas agree (stock is exact):
- SGD without dampening: ``p -= lr * (g + wd * p)``.
- Momentum / SGD with momentum: ``v = momentum * v + g``; ``p -= lr * v`` (Nesterov: ``p -= lr * (g + momentum * v)``);
  MindSpore starts ``v`` at zero, torch at ``g`` on the first step: the same value.

Where they differ:
- Adam: MindSpore folds both bias corrections into the step size,
  ``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``, ``p -= lr_t * m / (sqrt(v) + eps)``, so epsilon is added to the
  *uncorrected* ``sqrt(v)``; torch adds it to ``sqrt(v / (1 - beta2^t))``. Written in one form, MindSpore's epsilon is
  larger than torch's by ``1 / sqrt(1 - beta2^t)`` (22x at t=1), which matters where ``sqrt(v)`` is comparable to eps.
  ``MindSporeAdam`` implements MindSpore's formula.
- Weight decay filter: MindSpore's optimizers skip parameters whose name contains ``beta`` or ``gamma`` (norm
  layers) by default; torch decays every parameter. ``make_torch_optimizer`` takes a per-name ``decays``
  predicate and builds parameter groups so the exact variant decays the same parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

ADAM_EPSILON_NOTE = (
    "Adam: funcad (MindSpore) adds eps to the uncorrected sqrt(v) (lr_t = lr*sqrt(1-beta2^t)/(1-beta1^t)); "
    "torch.optim.Adam adds it to the bias-corrected sqrt(v_hat): MindSpore's eps is in effect 1/sqrt(1-beta2^t) times larger"
)
WEIGHT_DECAY_FILTER_NOTE = (
    "weight decay: funcad (MindSpore) skips parameters named *beta*/*gamma*; torch.optim decays every parameter in its group"
)


class MindSporeAdam(torch.optim.Optimizer):
    """Adam with MindSpore's update: ``p -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)``.

    Weight decay is L2 added to the gradient before the moments (as MindSpore's ``Adam`` and ``torch.optim.Adam``).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, nesterov: bool = False):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1) or weight_decay < 0:
            raise ValueError(f"MindSporeAdam: invalid hyperparameters lr={lr}, betas={betas}, eps={eps}, weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, nesterov=nesterov))

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                lr_t = group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t)
                direction = m.mul(beta1).add(g, alpha=1 - beta1) if group["nesterov"] else m
                p.sub_(lr_t * direction / (v.sqrt() + group["eps"]))
        return loss


def make_torch_optimizer(kind: str, named_params: Iterable[tuple[str, torch.nn.Parameter]], variant: str = "exact", *,
                         lr: float, momentum: float = 0.0, weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999),
                         eps: float = 1e-8, nesterov: bool = False, decays: Callable[[str], bool] | None = None) -> torch.optim.Optimizer:
    """The torch optimizer for funcad's ``kind`` ('sgd', 'momentum', 'adam').

    ``variant='exact'`` reproduces funcad's formula (MindSporeAdam; weight decay only where ``decays(name)``);
    ``variant='stock'`` is plain ``torch.optim`` with every parameter decayed.
    """
    if variant not in ("exact", "stock"):
        raise ValueError(f"make_torch_optimizer: variant must be 'exact' or 'stock', got {variant!r}")
    named = list(named_params)
    if variant == "exact" and weight_decay and decays is not None:
        groups = [
            {"params": [p for n, p in named if decays(n)], "weight_decay": weight_decay},
            {"params": [p for n, p in named if not decays(n)], "weight_decay": 0.0},
        ]
        groups = [g for g in groups if g["params"]]
    else:
        groups = [{"params": [p for _, p in named], "weight_decay": weight_decay}]
    if kind in ("sgd", "momentum"):
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    if kind == "adam":
        if variant == "exact":
            return MindSporeAdam(groups, lr=lr, betas=betas, eps=eps, nesterov=nesterov)
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps)
    raise ValueError(f"make_torch_optimizer: unknown optimizer kind {kind!r}; known: sgd, momentum, adam")
