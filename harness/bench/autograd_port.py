"""The cases written the HIPS autograd way (functional, numpy): the bench's peer and ``benchmarks/bench_eager.py``'s.

autograd is optional (the ``bench`` extra): it is imported when a port is asked for, and an ImportError says it is absent.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.bench.losses import CaseLosses

INSTALL = "pip install autograd"
UNPORTED = ("no port: autograd has no convolution primitive (a port would measure scipy, not autograd), and the recurrent and "
            "attention cases are not written for it")


def loss_function(case_name: str) -> Callable | None:
    """``loss(params, x, y)`` of the case on a list of numpy parameters in the Cell's order, or None where no port exists."""
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    return CaseLosses(anp, logsumexp).for_case(case_name)


def batch(x, y) -> tuple:
    """The batch as numpy arrays, which autograd computes on."""
    return np.asarray(x), np.asarray(y)


def train_step(case_name: str, params: list, optimizer) -> Callable | None:
    """``step(x, y) -> loss``: value_and_grad and the case's SGD/momentum update with weight decay where the optimizer
    applies it, of ``params`` (replaced in place in the list), or None where no port exists."""
    from autograd import value_and_grad

    loss = loss_function(case_name)
    if loss is None:
        return None
    grad_fn = value_and_grad(loss)
    lr, momentum = float(optimizer.learning_rate), getattr(optimizer, "momentum", 0.0)
    decays = list(optimizer.weight_decays)  # MindSpore skips beta and gamma
    velocity = [np.zeros_like(p) for p in params]

    def step(x, y):
        value, grads = grad_fn(params, x, y)
        for i, (p, g, decay) in enumerate(zip(params, grads, decays)):
            g = g + decay * p if decay else g
            if momentum:
                velocity[i] = momentum * velocity[i] + g
                g = velocity[i]
            params[i] = p - lr * g
        return value

    return step
