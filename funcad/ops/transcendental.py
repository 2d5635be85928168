"""Hyperbolic and inverse trigonometric functions, base-2 and base-10 logarithms and powers, and the binary functions
atan2, hypot, logaddexp and fmod: MindSpore's ops and torch's functions of the same names.

Each is a numpy ufunc primitive (so jit emits it inline and vmap maps it elementwise) whose rule is its derivative,
written in funcad ops, so derivatives of any order follow.
"""

from __future__ import annotations

import math as _pymath

import numpy as np

from funcad.core.primitive import numpy_ufunc, primitive
from funcad.core.promotion import promote_to_float
from funcad.ops.math import clip, constant_ufunc, exp, log, negative, rsqrt, square, unary

_LN2, _LN10 = _pymath.log(2.0), _pymath.log(10.0)

sinh = unary("sinh", lambda v, ans, x: v * cosh(x))
cosh = unary("cosh", lambda v, ans, x: v * sinh(x))
asinh = unary("asinh", lambda v, ans, x: v * rsqrt(square(x) + 1.0), numpy_name="arcsinh")
acosh = unary("acosh", lambda v, ans, x: v * rsqrt(square(x) - 1.0), numpy_name="arccosh")
atanh = unary("atanh", lambda v, ans, x: v / (1.0 - square(x)), numpy_name="arctanh")
asin = unary("asin", lambda v, ans, x: v * rsqrt(1.0 - square(x)), numpy_name="arcsin")
acos = unary("acos", lambda v, ans, x: negative(v * rsqrt(1.0 - square(x))), numpy_name="arccos")
atan = unary("atan", lambda v, ans, x: v / (1.0 + square(x)), numpy_name="arctan")
log2 = unary("log2", lambda v, ans, x: v / (x * _LN2))
log10 = unary("log10", lambda v, ans, x: v / (x * _LN10))
exp2 = unary("exp2", lambda v, ans, x: v * ans * _LN2)
reciprocal = unary("reciprocal", lambda v, ans, x: negative(v * square(ans)))
trunc = constant_ufunc("trunc", 1, "trunc")
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh  # MindSpore's other spellings


@primitive(promote=promote_to_float, **numpy_ufunc("arctan2", 2, torch="atan2"))
def atan2(input, other):  # noqa: A002 - MindSpore's names
    """The angle of the point (other, input): arctan(input / other) in the right quadrant."""
    return np.arctan2(input, other)


def _over_squared_radius(v, y, x):
    return v / (square(x) + square(y))


atan2.defelementwise(lambda v, ans, y, x: _over_squared_radius(v * x, y, x), lambda v, ans, y, x: negative(_over_squared_radius(v * y, y, x)))
arctan2 = atan2  # MindSpore's other spelling


@primitive(promote=promote_to_float, **numpy_ufunc("hypot", 2, torch="hypot"))
def hypot(input, other):  # noqa: A002
    """sqrt(input**2 + other**2) without overflow in the squares."""
    return np.hypot(input, other)


hypot.defelementwise(lambda v, ans, x, y: v * x / ans, lambda v, ans, x, y: v * y / ans)


@primitive(promote=promote_to_float, **numpy_ufunc("logaddexp", 2, torch="logaddexp"))
def logaddexp(input, other):  # noqa: A002
    """log(exp(input) + exp(other)) without overflow."""
    return np.logaddexp(input, other)


logaddexp.defelementwise(lambda v, ans, x, y: v * exp(x - ans), lambda v, ans, x, y: v * exp(y - ans))


@primitive(promote=promote_to_float, **numpy_ufunc("fmod", 2, torch="fmod"))
def fmod(input, other):  # noqa: A002
    """The remainder of input / other truncated toward zero: the sign of input (C's fmod; ``remainder`` floors)."""
    return np.fmod(input, other)


fmod.defelementwise(lambda v, ans, x, y: v, lambda v, ans, x, y: negative(v * trunc(x / y)))


def deg2rad(x):
    """Degrees to radians."""
    return x * (np.pi / 180.0)


def rad2deg(x):
    """Radians to degrees."""
    return x * (180.0 / np.pi)


def logit(input, eps: float | None = None):  # noqa: A002
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when ``eps`` is given (torch's and MindSpore's)."""
    p = input if eps is None else clip(input, eps, 1.0 - eps)
    return log(p / (1.0 - p))

