"""The cases written the HIPS autograd way (functional, numpy): the bench's peer and ``benchmarks/bench_eager.py``'s.

autograd is optional (the ``bench`` extra): it is imported when a port is asked for, and an ImportError says it is absent.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

PORTED = ("tutorial", "mlp", "mlp_bn")  # no convolution primitive in autograd: a lenet port would measure scipy, not autograd


def loss_function(case_name: str) -> Callable | None:
    """``loss(params, x, y)`` of the case on a list of numpy parameters in the Cell's order, or None where no port exists."""
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    def cross_entropy(z, y):
        logp = z - logsumexp(z, axis=1, keepdims=True)
        return -anp.mean(logp[np.arange(len(y)), y])

    if case_name == "tutorial":
        def loss(ps, x, y):
            z = anp.dot(x, ps[0]) + ps[1]
            return anp.mean((1.0 - y) * z + anp.logaddexp(0.0, -z))
    elif case_name == "mlp":
        def loss(ps, x, y):
            h = anp.reshape(x, (x.shape[0], -1))
            for w, b in zip(ps[0:-2:2], ps[1:-2:2]):
                h = anp.maximum(anp.dot(h, w.T) + b, 0.0)
            return cross_entropy(anp.dot(h, ps[-2].T) + ps[-1], y)
    elif case_name == "mlp_bn":
        def loss(ps, x, y):
            w1, b1, gamma, beta, w2, b2 = ps
            h = anp.dot(anp.reshape(x, (x.shape[0], -1)), w1.T) + b1
            mu = anp.mean(h, axis=0)
            var = anp.mean((h - mu) ** 2, axis=0)
            h = anp.maximum((h - mu) / anp.sqrt(var + 1e-5) * gamma + beta, 0.0)
            return cross_entropy(anp.dot(h, w2.T) + b2, y)
    else:
        return None
    return loss


def train_step(case_name: str, params: list, optimizer) -> Callable | None:
    """``step(x, y) -> loss``: value_and_grad and the case's SGD/momentum update with weight decay where the optimizer
    applies it, of ``params`` (replaced in place in the list), or None where no port exists."""
    from autograd import value_and_grad

    loss = loss_function(case_name)
    if loss is None:
        return None
    grad_fn = value_and_grad(loss)
    lr, momentum = optimizer.learning_rate, getattr(optimizer, "momentum", 0.0)
    decays = [optimizer.weight_decay if flag else 0.0 for flag in optimizer.decay_flags]  # MindSpore skips beta and gamma
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
