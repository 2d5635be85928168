"""RMSProp and Adagrad with MindSpore's update formulas (those of TensorFlow 1's optimizers)."""

from __future__ import annotations

from funcad import ops
from funcad.nn.optim.optimizer import Optimizer, _non_negative, scalar_as


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
        for p, g, s, a, m in zip(self.parameters, self.decay_weight(grads), self.mean_square, means, self.moment):
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
        for p, g, h in zip(self.parameters, self.decay_weight(grads), self.accum):
            h_new = h + g * g if self.update_slots else h
            yield p, scalar_as(lr, p), g / ops.sqrt(h_new), [(h, h_new)] if self.update_slots else []
