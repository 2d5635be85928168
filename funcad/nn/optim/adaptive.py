"""RMSProp, Adagrad, Adadelta, ProximalAdagrad and FTRL with MindSpore's update formulas (those of TensorFlow 1's
optimizers)."""

from __future__ import annotations

from funcad import ops
from funcad.nn.optim.optimizer import Optimizer, _in_range, _non_negative, scalar_as


class RMSProp(Optimizer):
    r"""RMSProp (MindSpore's ``nn.RMSProp``). With g = grad + weight_decay * p::

        s <- decay * s + (1 - decay) * g * g                        (s starts at ones)
        a <- decay * a + (1 - decay) * g                            (centered only; a starts at zeros)
        m <- momentum * m + lr * g / sqrt(s + epsilon)              (centered: sqrt(s - a * a + epsilon))
        p <- p - m

    torch.optim.RMSprop differs: its mean square starts at zeros, its eps sits outside the square root
    (sqrt(s) + eps), and its momentum buffer holds g / sqrt(s) with lr applied after (the same for a constant lr).
    """

    def __init__(self, params, learning_rate=0.1, decay: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-10,
                 use_locking: bool = False, centered: bool = False, loss_scale: float = 1.0, weight_decay: float = 0.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"RMSProp: decay must be in [0, 1], got {decay}")
        if not epsilon > 0.0:
            raise ValueError(f"RMSProp: epsilon must be > 0, got {epsilon}")
        self.decay, self.epsilon = float(decay), float(epsilon)
        self.momentum = _non_negative("RMSProp", "momentum", momentum)
        self.centered, self.use_locking = bool(centered), bool(use_locking)
        self.mean_square = self._state("mean_square", 1.0)
        self.mean_grad = self._state("mean_grad") if self.centered else ()
        self.moment = self._state("moment")

    def _updates(self, grads, lr):
        rho, eps, u = self.decay, self.epsilon, self.momentum
        means = self.mean_grad or (None,) * len(self.parameters)
        for p, g, s, a, m in zip(self.parameters, self._decayed_grads(grads), self.mean_square, means, self.moment):
            s_new = rho * s + (1.0 - rho) * (g * g)
            writes = [(s, s_new)]
            spread = s_new
            if a is not None:
                a_new = rho * a + (1.0 - rho) * g
                writes.append((a, a_new))
                spread = s_new - a_new * a_new
            m_new = u * m + scalar_as(lr, p) * g / ops.sqrt(spread + eps)
            writes.append((m, m_new))
            yield p, 1.0, m_new, writes


class Adagrad(Optimizer):
    r"""Adagrad (MindSpore's ``nn.Adagrad``). With g = grad + weight_decay * p::

        h <- h + g * g          (h starts at ``accum``; not updated when update_slots=False)
        p <- p - lr * g / sqrt(h)

    Equal to torch.optim.Adagrad(initial_accumulator_value=accum, eps=0, lr_decay=0).
    """

    def __init__(self, params, accum: float = 0.1, learning_rate=0.001, update_slots: bool = True, loss_scale: float = 1.0,
                 weight_decay: float = 0.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        if not accum > 0.0:
            raise ValueError(f"Adagrad: accum must be > 0 (it divides the first step), got {accum}")
        self.update_slots = bool(update_slots)
        self.accum = self._state("accum", accum)

    def _updates(self, grads, lr):
        for p, g, h in zip(self.parameters, self._decayed_grads(grads), self.accum):
            h_new = h + g * g if self.update_slots else h
            yield p, scalar_as(lr, p), g / ops.sqrt(h_new), [(h, h_new)] if self.update_slots else []


class Adadelta(Optimizer):
    r"""Adadelta (MindSpore's ``nn.Adadelta``, the ApplyAdadelta kernel). With g = grad + weight_decay * p::

        accum <- rho * accum + (1 - rho) * g * g
        update = sqrt(accum_update + epsilon) * g / sqrt(accum + epsilon)
        accum_update <- rho * accum_update + (1 - rho) * update * update
        p <- p - lr * update

    The same formula and defaults as torch.optim.Adadelta (lr 1.0, rho 0.9, eps 1e-6).
    """

    def __init__(self, params, learning_rate=1.0, rho: float = 0.9, epsilon: float = 1e-6, loss_scale: float = 1.0, weight_decay: float = 0.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.rho = _in_range("Adadelta", "rho", rho, 0.0, 1.0)
        self.epsilon = _non_negative("Adadelta", "epsilon", epsilon)
        self.accum = self._state("accum")
        self.accum_update = self._state("accum_update")

    def _updates(self, grads, lr):
        rho, eps = self.rho, self.epsilon
        for p, g, a, u in zip(self.parameters, self._decayed_grads(grads), self.accum, self.accum_update):
            a_new = rho * a + (1.0 - rho) * (g * g)
            update = ops.sqrt(u + eps) * g / ops.sqrt(a_new + eps)
            u_new = rho * u + (1.0 - rho) * (update * update)
            yield p, scalar_as(lr, p), update, [(a, a_new), (u, u_new)]


class ProximalAdagrad(Optimizer):
    r"""Adagrad followed by the proximal step of an L1 and an L2 penalty (MindSpore's ``nn.ProximalAdagrad``, the
    ApplyProximalAdagrad kernel). With g = grad + weight_decay * p::

        accum <- accum + g * g                        (starts at ``accum``)
        v = p - lr * g / sqrt(accum)
        p <- sign(v) / (1 + lr * l2) * max(|v| - lr * l1, 0)

    The L1 term sets small weights to exactly zero, which is why it is applied as a proximal step and not as a
    gradient. torch has no such optimizer.
    """

    def __init__(self, params, accum: float = 0.1, learning_rate=0.001, l1: float = 0.0, l2: float = 0.0, use_locking: bool = False,
                 loss_scale: float = 1.0, weight_decay: float = 0.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        owner = "ProximalAdagrad"
        start = _non_negative(owner, "accum", accum)
        self.l1, self.l2 = _non_negative(owner, "l1", l1), _non_negative(owner, "l2", l2)
        self.use_locking = bool(use_locking)
        self.accum = self._state("accum", start)

    def _updates(self, grads, lr):
        for p, g, h in zip(self.parameters, self._decayed_grads(grads), self.accum):
            h_new = h + g * g
            rate = scalar_as(lr, p)
            v = p - rate * g / ops.sqrt(h_new)
            shrunk = ops.maximum(ops.abs(v) - rate * self.l1, 0.0)
            yield p, None, ops.sign(v) * shrunk / (1.0 + rate * self.l2), [(h, h_new)]


class FTRL(Optimizer):
    r"""Follow-the-regularized-leader (MindSpore's ``nn.FTRL``, the ApplyFtrl kernel), an online optimizer whose L1
    term gives sparse weights. With g = grad + weight_decay * p and q = -lr_power::

        accum_new = accum + g * g                     (accum starts at ``initial_accum``)
        linear <- linear + g - (accum_new^q - accum^q) / lr * p
        p <- (sign(linear) * l1 - linear) / (accum_new^q / lr + 2 * l2)   if |linear| > l1, else 0
        accum <- accum_new

    As in MindSpore, ``learning_rate`` must be a fixed number (no schedule, no per-group ``lr``) and, without
    parameter groups, ``weight_decay`` applies to every parameter (no 'beta'/'gamma' filter). torch has no FTRL.
    """

    def __init__(self, params, initial_accum: float = 0.1, learning_rate=0.001, lr_power: float = -0.5, l1: float = 0.0, l2: float = 0.0,
                 use_locking: bool = False, loss_scale: float = 1.0, weight_decay: float = 0.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        owner = "FTRL"
        if callable(self.learning_rate) or (self.group_rates is not None and any(r is not self.learning_rate for r in self.group_rates)):
            raise ValueError(f"{owner}: learning_rate must be one fixed number (no schedule, list or per-group 'lr'), got {learning_rate!r}")
        if not self.learning_rate > 0.0:
            raise ValueError(f"{owner}: learning_rate must be > 0 (it divides the update), got {learning_rate!r}")
        start = _non_negative(owner, "initial_accum", initial_accum)
        self.lr_power = _in_range(owner, "lr_power", lr_power, float("-inf"), 0.0)
        self.l1, self.l2 = _non_negative(owner, "l1", l1), _non_negative(owner, "l2", l2)
        self.use_locking = bool(use_locking)
        if self.group_rates is None:
            self.weight_decays = (self.weight_decay,) * len(self.parameters)
        self.moments = self._state("moments", start)
        self.linear = self._state("linear")

    def _power(self, accum):
        q = -self.lr_power
        return ops.sqrt(accum) if q == 0.5 else ops.pow(accum, q)

    def _updates(self, grads, lr):
        l1, l2 = self.l1, self.l2
        for p, g, h, u in zip(self.parameters, self._decayed_grads(grads), self.moments, self.linear):
            h_new = h + g * g
            rate = scalar_as(lr, p)
            h_pow = self._power(h_new)
            u_new = u + g - (h_pow - self._power(h)) / rate * p
            value = (ops.sign(u_new) * l1 - u_new) / (h_pow / rate + 2.0 * l2)
            yield p, None, ops.where(ops.abs(u_new) > l1, value, 0.0), [(h, h_new), (u, u_new)]
