"""The bench's cases as pure losses of a parameter list, written once over a numpy-like module for the peers that
differentiate such functions: HIPS autograd (``autograd.numpy``) and JAX (``jax.numpy``).

Parameters come in the funcad Cell's order (``optimizer.parameters``), which is also torch's ``named_parameters`` order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class CaseLosses:
    """``loss(params, x, y)`` per case, written with ``xp`` (a numpy-like module) and its ``logsumexp``."""

    def __init__(self, xp, logsumexp: Callable):
        self.xp, self.logsumexp = xp, logsumexp

    def for_case(self, case_name: str) -> Callable | None:
        """The case's loss, or None where this peer has no port of it."""
        return {"tutorial": self.tutorial, "mlp": self.mlp, "mlp_bn": self.mlp_bn}.get(case_name)

    def cross_entropy(self, z, y):
        """Mean cross-entropy of logits ``z`` against class indices ``y``."""
        logp = z - self.logsumexp(z, axis=1, keepdims=True)
        return -self.xp.mean(logp[np.arange(len(y)), y])

    def dense(self, h, w, b):
        """A Dense layer: ``w`` is (out, in), as in funcad and torch."""
        return self.xp.dot(h, w.T) + b

    def tutorial(self, ps, x, y):
        """The seed's linear model with mean BCE on logits."""
        z = self.xp.dot(x, ps[0]) + ps[1]
        return self.xp.mean((1.0 - y) * z + self.xp.logaddexp(0.0, -z))

    def mlp(self, ps, x, y):
        """Dense layers with ReLU between them, cross-entropy on the last."""
        h = self.xp.reshape(x, (x.shape[0], -1))
        for w, b in zip(ps[0:-2:2], ps[1:-2:2]):
            h = self.xp.maximum(self.dense(h, w, b), 0.0)
        return self.cross_entropy(self.dense(h, ps[-2], ps[-1]), y)

    def mlp_bn(self, ps, x, y):
        """Dense, BatchNorm on the batch's statistics (training mode), ReLU, Dense, cross-entropy."""
        xp = self.xp
        w1, b1, gamma, beta, w2, b2 = ps
        h = self.dense(xp.reshape(x, (x.shape[0], -1)), w1, b1)
        mu = xp.mean(h, axis=0)
        var = xp.mean((h - mu) ** 2, axis=0)
        h = xp.maximum((h - mu) / xp.sqrt(var + 1e-5) * gamma + beta, 0.0)
        return self.cross_entropy(self.dense(h, w2, b2), y)
