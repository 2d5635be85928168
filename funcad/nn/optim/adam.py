"""Adam, AdamWeightDecay, LazyAdam and AdaMax with MindSpore's update formulas."""

from __future__ import annotations

from funcad import ops
from funcad.nn.optim.optimizer import Optimizer, _in_range, add_decay, scalar_as


def _check_betas(owner: str, beta1: float, beta2: float, eps: float, *, low_open: bool = False) -> None:
    """beta1 and beta2 in [0, 1) ((0, 1) where MindSpore asks so), eps > 0."""
    for name, b in (("beta1", beta1), ("beta2", beta2)):
        _in_range(owner, name, b, 0.0, 1.0, low_open=low_open, high_open=True)
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

    def __init__(self, params, learning_rate=1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, use_locking: bool = False,
                 use_nesterov: bool = False, weight_decay: float = 0.0, loss_scale: float = 1.0, use_amsgrad: bool = False):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        owner = type(self).__name__
        _check_betas(owner, beta1, beta2, eps, low_open=owner != "Adam")
        if use_nesterov and use_amsgrad:
            raise ValueError(f"{owner}: use_nesterov and use_amsgrad cannot both be True (MindSpore has no such update)")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.use_nesterov, self.use_amsgrad, self.use_locking = bool(use_nesterov), bool(use_amsgrad), bool(use_locking)
        self.moment1 = self._state("moment1")
        self.moment2 = self._state("moment2")
        self.vhat = self._state("vhat") if self.use_amsgrad else ()

    def _updates(self, grads, lr):
        grads = self._decayed_grads(grads)
        b1, b2, eps = self.beta1, self.beta2, self.eps
        t = self._step_number()
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


class LazyAdam(Adam):
    r"""MindSpore's ``nn.LazyAdam``: with dense gradients (the only kind funcad makes) MindSpore runs the Adam kernel,
    so the update is exactly :class:`Adam`'s (L2 weight decay folded into g, nesterov optional)::

        m <- b1 * m + (1 - b1) * g;  v <- b2 * v + (1 - b2) * g * g
        p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    The lazy part (updating only the rows a sparse gradient touches) has nothing to act on here.
    """

    def __init__(self, params, learning_rate=1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, use_locking: bool = False,
                 use_nesterov: bool = False, weight_decay: float = 0.0, loss_scale: float = 1.0):
        super().__init__(params, learning_rate, beta1, beta2, eps, weight_decay=weight_decay, use_nesterov=use_nesterov,
                         use_locking=use_locking, loss_scale=loss_scale)


class AdaMax(Optimizer):
    r"""AdaMax, Adam under the infinity norm (MindSpore's ``nn.AdaMax``, the ApplyAdaMax kernel). With
    g = grad + weight_decay * p and t the 1-based step::

        m <- b1 * m + (1 - b1) * g
        v <- max(b2 * v, |g|)
        p <- p - lr / (1 - b1^t) * m / (v + eps)

    torch.optim.Adamax puts eps inside the maximum instead, v <- max(b2 * v, |g| + eps), and divides by v; the two
    agree as eps -> 0.
    """

    def __init__(self, params, learning_rate=0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-08, weight_decay: float = 0.0,
                 loss_scale: float = 1.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        _check_betas("AdaMax", beta1, beta2, eps, low_open=True)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.moment1 = self._state("moment1")
        self.moment2 = self._state("moment2")

    def _updates(self, grads, lr):
        b1, b2, eps = self.beta1, self.beta2, self.eps
        correction = 1.0 / (1.0 - ops.power(b1, self._step_number()))
        for p, g, m, v in zip(self.parameters, self._decayed_grads(grads), self.moment1, self.moment2):
            m_new = b1 * m + (1.0 - b1) * g
            v_new = ops.maximum(b2 * v, ops.abs(g))
            step_size = scalar_as(lr, p) * ops.cast(correction, p.dtype)
            yield p, step_size, m_new / (v_new + eps), [(m, m_new), (v, v_new)]


class AdamWeightDecay(Optimizer):
    r"""Adam with decoupled weight decay (MindSpore's ``nn.AdamWeightDecay``)::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g * g
        update = m / (sqrt(v) + eps) + weight_decay * p        (decay only for decaying parameters)
        p <- p - lr * update

    Unlike torch.optim.AdamW there is no bias correction of m and v, and the decay is lr * weight_decay * p
    added to the step (torch: p * (1 - lr * weight_decay) before the step, same first order). Default eps 1e-6.
    """

    centralizes_gradients = False

    def __init__(self, params, learning_rate=1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-6, weight_decay: float = 0.0):
        super().__init__(learning_rate, params, weight_decay)
        _check_betas("AdamWeightDecay", beta1, beta2, eps)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.moment1 = self._state("moment1")
        self.moment2 = self._state("moment2")

    def _updates(self, grads, lr):
        b1, b2, eps = self.beta1, self.beta2, self.eps
        for p, g, m, v, wd in zip(self.parameters, grads, self.moment1, self.moment2, self._decays_now()):
            m_new = b1 * m + (1.0 - b1) * g
            v_new = b2 * v + (1.0 - b2) * (g * g)
            update = add_decay(m_new / (ops.sqrt(v_new) + eps), p, wd)
            yield p, scalar_as(lr, p), update, [(m, m_new), (v, v_new)]
