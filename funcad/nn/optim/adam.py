"""Adam and AdamWeightDecay with MindSpore's update formulas."""

from __future__ import annotations

import numpy as np

from funcad import ops
from funcad.nn.optim.optimizer import Optimizer, scalar_as


def _check_betas(owner: str, beta1: float, beta2: float, eps: float) -> None:
    for name, b in (("beta1", beta1), ("beta2", beta2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{owner}: {name} must be in [0, 1), got {b}")
    if not eps > 0.0:
        raise ValueError(f"{owner}: eps must be > 0, got {eps}")


class Adam(Optimizer):
    r"""Adam (MindSpore's ``nn.Adam``). With g = grad + weight_decay * p (L2, as torch.optim.Adam) and t the
    1-based step::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g * g
        l = lr * sqrt(1 - b2^t) / (1 - b1^t)
        p <- p - l * m / (sqrt(v) + eps)                               (use_nesterov=False)
        p <- p - l * (b1 * m + (1 - b1) * g) / (sqrt(v) + eps)         (use_nesterov=True)

    With ``use_amsgrad`` the denominator uses vhat <- max(vhat, v), the largest second moment so far (AMSGrad).

    Differs from torch.optim.Adam only in where eps sits: torch divides by sqrt(v / (1 - b2^t)) + eps, i.e.
    MindSpore's eps equals torch's eps * sqrt(1 - b2^t). With eps -> 0 the two coincide. torch has no nesterov.
    """

    def __init__(self, params, learning_rate=1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, *,
                 weight_decay: float = 0.0, use_nesterov: bool = False, use_locking: bool = False, use_amsgrad: bool = False,
                 loss_scale: float = 1.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        _check_betas("Adam", beta1, beta2, eps)
        if use_nesterov and use_amsgrad:
            raise ValueError("Adam: use_nesterov and use_amsgrad cannot both be True (MindSpore has no such update)")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.use_nesterov, self.use_amsgrad, self.use_locking = bool(use_nesterov), bool(use_amsgrad), bool(use_locking)
        self.moment1 = self._state("moment1")
        self.moment2 = self._state("moment2")
        self.vhat = self._state("vhat") if self.use_amsgrad else ()

    def _updates(self, grads, lr):
        grads = self.decay_weight(grads)
        b1, b2, eps = self.beta1, self.beta2, self.eps
        t = ops.cast(self.global_step + 1, np.float64)
        scale = ops.sqrt(1.0 - ops.power(b2, t)) / (1.0 - ops.power(b1, t))
        vhats = self.vhat or (None,) * len(self.parameters)
        for p, g, m, v, vhat in zip(self.parameters, grads, self.moment1, self.moment2, vhats):
            m_new = b1 * m + (1.0 - b1) * g
            v_new = b2 * v + (1.0 - b2) * (g * g)
            writes = [(m, m_new), (v, v_new)]
            if vhat is not None:
                v_new = ops.maximum(vhat, v_new)
                writes.append((vhat, v_new))
            direction = b1 * m_new + (1.0 - b1) * g if self.use_nesterov else m_new
            step_size = scalar_as(lr, p) * ops.cast(scale, p.dtype)
            yield p, step_size, direction / (ops.sqrt(v_new) + eps), writes


class AdamWeightDecay(Optimizer):
    r"""Adam with decoupled weight decay (MindSpore's ``nn.AdamWeightDecay``)::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g * g
        update = m / (sqrt(v) + eps) + weight_decay * p        (decay only for decaying parameters)
        p <- p - lr * update

    Unlike torch.optim.AdamW there is no bias correction of m and v, and the decay is lr * weight_decay * p
    added to the step (torch: p * (1 - lr * weight_decay) before the step, same first order). Default eps 1e-6.
    """

    def __init__(self, params, learning_rate=1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-6, weight_decay: float = 0.0):
        super().__init__(learning_rate, params, weight_decay)
        _check_betas("AdamWeightDecay", beta1, beta2, eps)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.moment1 = self._state("moment1")
        self.moment2 = self._state("moment2")

    def _updates(self, grads, lr):
        b1, b2, eps = self.beta1, self.beta2, self.eps
        for p, g, m, v, wd in zip(self.parameters, grads, self.moment1, self.moment2, self.weight_decays):
            m_new = b1 * m + (1.0 - b1) * g
            v_new = b2 * v + (1.0 - b2) * (g * g)
            update = m_new / (ops.sqrt(v_new) + eps)
            if wd > 0.0:
                update = update + wd * p
            yield p, scalar_as(lr, p), update, [(m, m_new), (v, v_new)]
