"""``funcad.scipy.special``: erf, erfc, gammaln, digamma, polygamma, logit, expit, logsumexp and xlogy, with rules
in both modes. The special functions call scipy's (imported on first use, as ops.erf does)."""

from __future__ import annotations

import math as _pymath

import numpy as np

from funcad.core.primitive import compiled_as_call, primitive
from funcad.ops.math import erf, exp, isinf, log, log1p, logical_and, logical_or, multiply, negative, sigmoid, square, where
from funcad.ops.reduce import logsumexp as _logsumexp

__all__ = ["digamma", "erf", "erfc", "expit", "gammaln", "logit", "logsumexp", "polygamma", "psi", "xlogy"]

expit = sigmoid
_TWO_OVER_SQRT_PI = 2.0 / _pymath.sqrt(_pymath.pi)


def _scipy(name: str):
    import scipy.special

    return getattr(scipy.special, name)


@primitive(**compiled_as_call(elementwise=True, torch="erfc"))
def erfc(x):
    return _scipy("erfc")(x)


@primitive(**compiled_as_call(elementwise=True, torch="lgamma"))
def gammaln(x):
    """log|Gamma(x)|."""
    return _scipy("gammaln")(x)


@primitive(**compiled_as_call(elementwise=True, torch="polygamma"))
def polygamma(n, x):
    """The n-th derivative of digamma (n = 0: digamma itself); n is an integer constant."""
    return _scipy("polygamma")(n, x).astype(np.result_type(x, np.float32))


def digamma(x):
    """d/dx log Gamma(x)."""
    return polygamma(0, x)


psi = digamma
erfc.defelementwise(lambda v, ans, x: negative(v * _TWO_OVER_SQRT_PI * exp(negative(square(x)))))
gammaln.defelementwise(lambda v, ans, x: v * polygamma(0, x))
polygamma.defelementwise(None, lambda v, ans, n, x: v * polygamma(n + 1, x))


def logit(p):
    """log(p / (1 - p))."""
    return log(p) - log1p(negative(p))


def xlogy(x, y):
    """x * log(y), and 0 where x is 0 (even where y is 0); the derivative in x is log(y), 0 where x = 0 and y <= 0."""
    undefined = logical_and(x == 0, logical_or(y <= 0, isinf(y)))
    return multiply(x, log(where(undefined, 1.0, y)))


def logsumexp(a, axis=None, b=None, keepdims: bool = False):
    """log(sum(b * exp(a))) computed stably; ``b`` (positive weights) defaults to ones."""
    if b is not None:
        if np.any(np.asarray(b) <= 0):
            raise ValueError("funcad.scipy.special.logsumexp: the weights b must be positive")
        a = a + log(b)
    return _logsumexp(a, axis=axis, keepdims=keepdims)


