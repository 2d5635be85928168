"""Rprop with MindSpore's update formula."""

from __future__ import annotations

from funcad import ops
from funcad.nn.optim.optimizer import Optimizer, _in_range, _non_negative, scalar_as


def _pair(owner: str, name: str, value) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{owner}: {name} must be a tuple of two floats, got {value!r}")
    return tuple(value)


class Rprop(Optimizer):
    r"""Resilient backpropagation (MindSpore's ``nn.Rprop``): each weight moves by its own step size against the
    sign of its gradient; the step grows while the sign holds and shrinks when it flips. With g = grad +
    weight_decay * p, etas = (etaminus, etaplus), step_sizes = (min, max) and step sizes starting at lr::

        s = sign(g * prev)
        step <- clip(step * (etaplus if s > 0, etaminus if s < 0, else 1), min, max)
        g <- 0 where s < 0          (no move just after a sign flip)
        p <- p - sign(g) * step;  prev <- g

    The same formula and etas/step_sizes defaults as torch.optim.Rprop, which has no weight decay and a default lr
    of 0.01 (MindSpore's is 0.1).
    """

    def __init__(self, params, learning_rate=0.1, etas: tuple[float, float] = (0.5, 1.2), step_sizes: tuple[float, float] = (1e-6, 50.0),
                 weight_decay: float = 0.0):
        super().__init__(learning_rate, params, weight_decay)
        owner = "Rprop"
        etaminus, etaplus = _pair(owner, "etas", etas)
        self.etaminus = _in_range(owner, "etaminus (etas[0])", etaminus, 0.0, 1.0, low_open=True, high_open=True)
        self.etaplus = _in_range(owner, "etaplus (etas[1])", etaplus, 1.0, float("inf"), low_open=True)
        low, high = _pair(owner, "step_sizes", step_sizes)
        self.step_size_min = _non_negative(owner, "step_sizes[0]", low)
        self.step_size_max = _non_negative(owner, "step_sizes[1]", high)
        if self.step_size_min > self.step_size_max:
            raise ValueError(f"{owner}: the minimal step size must not exceed the maximal one, got step_sizes={step_sizes!r}")
        self.prev = self._state("prev")
        self.step_size = self._state("step_size")

    def _updates(self, grads, lr):
        first = ops.equal(self.global_step, 0)
        for p, g, prev, size in zip(self.parameters, self._decayed_grads(grads), self.prev, self.step_size):
            size_now = ops.where(first, ops.ones_like(size) * scalar_as(lr, p), size)
            s = ops.sign(g * prev)
            factor = ops.where(s > 0, self.etaplus, ops.where(s < 0, self.etaminus, 1.0))
            size_new = ops.clip_by_value(size_now * factor, self.step_size_min, self.step_size_max)
            g_new = ops.where(s < 0, 0.0, g)
            yield p, 1.0, ops.sign(g_new) * size_new, [(prev, g_new), (size, size_new)]
