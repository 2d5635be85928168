"""Lamb and LARS: layer-wise trust ratios (a parameter's norm over its update's norm) with MindSpore's formulas."""

from __future__ import annotations

from collections.abc import Callable

from funcad import ops
from funcad.core.tensor import Parameter, Tensor
from funcad.nn.optim.adam import _check_betas
from funcad.nn.optim.optimizer import Optimizer, _non_negative, add_decay, scalar_as


def _norm(x: Tensor) -> Tensor:
    return ops.sqrt(ops.sum(x * x))


def _trust_ratio(w_norm: Tensor, d_norm: Tensor, coefficient: float = 1.0, offset: Tensor | float = 0.0) -> Tensor:
    """coefficient * ||w|| / (||d|| + offset) where both norms are positive, else 1: a zero weight (a fresh bias) or a
    zero update keeps the plain step. The denominator is made safe so the unused branch divides by no zero."""
    both = ops.logical_and(w_norm > 0, d_norm > 0)
    return ops.where(both, coefficient * w_norm / (ops.where(both, d_norm, 1.0) + offset), 1.0)


class Lamb(Optimizer):
    r"""LAMB, Adam with a layer-wise trust ratio (MindSpore's ``nn.Lamb``). With t the 1-based step and weight decay
    decoupled (not added to the gradient)::

        m <- b1 * m + (1 - b1) * g;  v <- b2 * v + (1 - b2) * g * g
        r = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + weight_decay * p
        trust = clip(||p|| / ||r||, 0, 10)       (1 when ||p|| or ||r|| is 0)
        p <- p - lr * trust * r

    ``learning_rate`` has no default, as in MindSpore, and there is no ``loss_scale``. MindSpore's GPU kernel takes
    ||r|| with eps inside the square root, sqrt(v_hat + eps); this follows the documented r above. torch has no Lamb.
    """

    centralizes_gradients = False

    def __init__(self, params, learning_rate, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-6, weight_decay: float = 0.0):
        super().__init__(learning_rate, params, weight_decay)
        _check_betas("Lamb", beta1, beta2, eps, low_open=True)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.moments1 = self._state("lamb_m")
        self.moments2 = self._state("lamb_v")

    def _updates(self, grads, lr):
        b1, b2, eps = self.beta1, self.beta2, self.eps
        t = self._step_number()
        keep1, keep2 = 1.0 - ops.power(b1, t), 1.0 - ops.power(b2, t)
        for p, g, m, v, wd in zip(self.parameters, grads, self.moments1, self.moments2, self._decays_now()):
            m_new = b1 * m + (1.0 - b1) * g
            v_new = b2 * v + (1.0 - b2) * (g * g)
            r = add_decay((m_new / ops.cast(keep1, p.dtype)) / (ops.sqrt(v_new / ops.cast(keep2, p.dtype)) + eps), p, wd)
            trust = ops.clip_by_value(_trust_ratio(_norm(p), _norm(r)), 0.0, 10.0)
            yield p, scalar_as(lr, p) * trust, r, [(m, m_new), (v, v_new)]


def _default_lars_filter(p: Parameter) -> bool:
    return "LayerNorm" not in (p.name or "") and "bias" not in (p.name or "")


class LARS(Optimizer):
    r"""LARS (MindSpore's ``nn.LARS``): rescales each gradient by a layer-wise trust ratio, then lets the wrapped
    ``optimizer`` step. For a parameter ``lars_filter`` accepts, with weight_decay the one the wrapped optimizer
    had for it::

        ratio = coefficient * ||p|| / (||g|| + weight_decay * ||p|| + epsilon)   (1 when ||p|| or ||g|| is 0)
        ratio <- min(ratio / lr, 1)                                              (use_clip; lr: the wrapped rate)
        g <- ratio * (g + weight_decay * p)

    As in MindSpore, LARS takes the weight decay over: the wrapped optimizer no longer decays, so a parameter the
    filter rejects (default: names with 'LayerNorm' or 'bias') gets its gradient unchanged and no decay. The wrapped
    optimizer keeps its learning rate, step counter and state; ``loss_scale`` is divided out before the ratio.
    torch has no LARS.
    """

    def __init__(self, optimizer: Optimizer, epsilon: float = 1e-05, coefficient: float = 0.001, use_clip: bool = False,
                 lars_filter: Callable[[Parameter], bool] = _default_lars_filter):
        owner = "LARS"
        if not isinstance(optimizer, Optimizer) or isinstance(optimizer, LARS):
            raise TypeError(f"{owner}: optimizer must be a funcad optimizer (not a LARS), got {type(optimizer).__name__}")
        if not isinstance(use_clip, bool):
            raise TypeError(f"{owner}: use_clip must be a bool, got {use_clip!r}")
        if not callable(lars_filter):
            raise TypeError(f"{owner}: lars_filter must be a callable of a Parameter, got {lars_filter!r}")
        self.epsilon = _non_negative(owner, "epsilon", epsilon)
        self.coefficient = _non_negative(owner, "coefficient", coefficient)
        self.use_clip = use_clip
        self.optimizer = optimizer
        # the wrapped optimizer's parameters, rates and step counter, so that get_lr and the checks read the same
        self.parameters = optimizer.parameters
        self.learning_rate, self.group_rates = optimizer.learning_rate, optimizer.group_rates
        self.global_step = optimizer.global_step
        self.loss_scale, optimizer.loss_scale = optimizer.loss_scale, 1.0
        self.weight_decay = optimizer.weight_decay
        self.weight_decays, optimizer.weight_decays = optimizer.weight_decays, (0.0,) * len(optimizer.parameters)
        self.lars_flags: tuple[bool, ...] = tuple(bool(lars_filter(p)) for p in self.parameters)

    def parameters_and_names(self):
        """The wrapped optimizer's state: LARS itself keeps none."""
        return self.optimizer.parameters_and_names()

    def update_parameters_name(self, prefix: str) -> None:
        self.optimizer.update_parameters_name(prefix)

    def _lr_now(self):
        return self.optimizer._lr_now()

    def _scaled(self, grads, lr):
        for p, g, wd, flag in zip(self.parameters, grads, self._decays_now(), self.lars_flags):
            if not flag:
                yield g
                continue
            w_norm = _norm(p)
            ratio = _trust_ratio(w_norm, _norm(g), self.coefficient, scalar_as(wd, p) * w_norm + self.epsilon)
            if self.use_clip:
                ratio = ops.minimum(ratio / scalar_as(lr, p), 1.0)
            yield ratio * add_decay(g, p, wd)

    def _updates(self, grads, lr):
        # lazily: each gradient is rescaled just before the wrapped optimizer updates its parameter
        yield from self.optimizer._updates(self._scaled(grads, lr), lr)
