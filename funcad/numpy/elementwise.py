"""numpy's elementwise functions beyond funcad.ops: hyperbolic and inverse trigonometric functions, arctan2, hypot,
logaddexp, exp2, log2, log10 and friends. Each is a numpy ufunc primitive with one rule serving both modes; integers
give float32, as ``mindspore.numpy``'s do, not numpy's float64."""

from __future__ import annotations

import math as _pymath

import numpy as np

from funcad.core.complex_parts import angle, conj, imag, real
from funcad.core.primitive import numpy_ufunc, primitive
from funcad.core.promotion import promote_to_float
from funcad.ops.math import abs as fabs
from funcad.ops.math import divide, exp, negative, sqrt, square

__all__ = ["angle", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "cbrt", "conj", "conjugate", "cosh", "deg2rad",
           "exp2", "fabs", "hypot", "imag", "log10", "log2", "logaddexp", "logaddexp2", "rad2deg", "real", "reciprocal", "sign", "sinh"]

_LN2 = _pymath.log(2.0)
_LN10 = _pymath.log(10.0)


def _ufunc(name: str, arity: int = 1):
    """numpy's ufunc as a primitive; integer arguments become float32 first, as in MindSpore's numpy."""
    return primitive(promote=promote_to_float, **numpy_ufunc(name, arity))(getattr(np, name))


sinh, cosh, arcsinh, arccosh, arctanh, arcsin, arccos, arctan, exp2, log2, log10, cbrt, deg2rad, rad2deg = (
    _ufunc(name) for name in ("sinh", "cosh", "arcsinh", "arccosh", "arctanh", "arcsin", "arccos", "arctan", "exp2", "log2",
                              "log10", "cbrt", "deg2rad", "rad2deg"))
arctan2, hypot, logaddexp, logaddexp2 = (_ufunc(name, 2) for name in ("arctan2", "hypot", "logaddexp", "logaddexp2"))

# numpy's sign keeps NaN (funcad.ops.sign gives MindSpore's 0 there); integers stay integers
sign = primitive(**numpy_ufunc("sign", 1, torch="sgn", complex=True))(np.sign)
sign.nondifferentiable()

sinh.defelementwise(lambda v, ans, x: v * cosh(x))
cosh.defelementwise(lambda v, ans, x: v * sinh(x))
arcsinh.defelementwise(lambda v, ans, x: v / sqrt(square(x) + 1.0))
arccosh.defelementwise(lambda v, ans, x: v / sqrt(square(x) - 1.0))
arctanh.defelementwise(lambda v, ans, x: v / (1.0 - square(x)))
arcsin.defelementwise(lambda v, ans, x: v / sqrt(1.0 - square(x)))
arccos.defelementwise(lambda v, ans, x: negative(v / sqrt(1.0 - square(x))))
arctan.defelementwise(lambda v, ans, x: v / (1.0 + square(x)))
exp2.defelementwise(lambda v, ans, x: v * ans * _LN2)
log2.defelementwise(lambda v, ans, x: v / (x * _LN2))
log10.defelementwise(lambda v, ans, x: v / (x * _LN10))
cbrt.defelementwise(lambda v, ans, x: v / (3.0 * square(ans)))
deg2rad.defelementwise(lambda v, ans, x: v * (_pymath.pi / 180.0))
rad2deg.defelementwise(lambda v, ans, x: v * (180.0 / _pymath.pi))
arctan2.defelementwise(lambda v, ans, y, x: v * x / (square(x) + square(y)), lambda v, ans, y, x: negative(v * y / (square(x) + square(y))))
hypot.defelementwise(lambda v, ans, x, y: v * x / ans, lambda v, ans, x, y: v * y / ans)
logaddexp.defelementwise(lambda v, ans, x, y: v * exp(x - ans), lambda v, ans, x, y: v * exp(y - ans))
logaddexp2.defelementwise(lambda v, ans, x, y: v * exp((x - ans) * _LN2), lambda v, ans, x, y: v * exp((y - ans) * _LN2))


def reciprocal(x):
    """1 / x."""
    return divide(1.0, x)


conjugate = conj
