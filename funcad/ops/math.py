"""Elementwise ops: arithmetic, transcendental functions, activations, comparisons."""

from __future__ import annotations

import functools
import math as _pymath

import numpy as np

from funcad.core.backend import xp
from funcad.core.primitive import primitive
from funcad.ops.shape import cast, unbroadcast


def _ub(g, x):
    """Sum a cotangent down to x's shape (x may be a Python scalar)."""
    return unbroadcast(g, getattr(x, "shape", ()))


# -- arithmetic -------------------------------------------------------------------------------
@primitive
def add(x, y):
    return xp.add(x, y)


@primitive
def subtract(x, y):
    return xp.subtract(x, y)


@primitive
def multiply(x, y):
    return xp.multiply(x, y)


@primitive
def divide(x, y):
    return xp.true_divide(x, y)


@primitive
def negative(x):
    return xp.negative(x)


@primitive
def power(x, y):
    return xp.power(x, y)


add.defvjp(lambda g, ans, x, y: _ub(g, x), lambda g, ans, x, y: _ub(g, y))
add.defjvp(lambda t, ans, x, y: _bcast(t, ans), lambda t, ans, x, y: _bcast(t, ans))
subtract.defvjp(lambda g, ans, x, y: _ub(g, x), lambda g, ans, x, y: _ub(negative(g), y))
subtract.defjvp(lambda t, ans, x, y: _bcast(t, ans), lambda t, ans, x, y: _bcast(negative(t), ans))
multiply.defvjp(lambda g, ans, x, y: _ub(multiply(g, y), x), lambda g, ans, x, y: _ub(multiply(g, x), y))
multiply.defjvp(lambda t, ans, x, y: _bcast(multiply(t, y), ans), lambda t, ans, x, y: _bcast(multiply(t, x), ans))
divide.defvjp(lambda g, ans, x, y: _ub(divide(g, y), x), lambda g, ans, x, y: _ub(negative(g) * ans / y, y))
divide.defjvp(lambda t, ans, x, y: _bcast(t / y, ans), lambda t, ans, x, y: _bcast(negative(t) * ans / y, ans))
negative.defvjp(lambda g, ans, x: negative(g))
negative.defjvp(lambda t, ans, x: negative(t))


def _power_slope(x, y):
    """d/dx x**y = y * x**(y-1), zero where y == 0 (as torch: no 0 * inf at x == 0)."""
    if isinstance(y, (int, float)):
        return power(x, y - 1) * float(y) if y != 0 else x * 0.0
    return where(y == 0, 0.0, y * power(x, y - 1))


def _power_log_base(x, ans):
    """d/dy x**y = x**y * log(x), taken as 0 where x <= 0 so a zero base gives no nan."""
    return ans * log(where(x > 0, x, 1.0))


power.defvjp(lambda g, ans, x, y: _ub(g * _power_slope(x, y), x), lambda g, ans, x, y: _ub(g * _power_log_base(x, ans), y))
power.defjvp(lambda t, ans, x, y: _bcast(t * _power_slope(x, y), ans), lambda t, ans, x, y: _bcast(t * _power_log_base(x, ans), ans))


def _bcast(t, like):
    from funcad.ops.shape import broadcast_to

    return t if tuple(t.shape) == tuple(like.shape) else broadcast_to(t, tuple(like.shape))


@primitive
def floor_divide(x, y):
    return xp.floor_divide(x, y)


@primitive
def remainder(x, y):
    return xp.remainder(x, y)


remainder.defvjp(lambda g, ans, x, y: _ub(g, x), lambda g, ans, x, y: _ub(negative(g) * floor_divide(x, y), y))
remainder.defjvp(lambda t, ans, x, y: _bcast(t, ans), lambda t, ans, x, y: _bcast(negative(t) * floor_divide(x, y), ans))


# -- unary functions --------------------------------------------------------------------------
@primitive
def exp(x):
    return xp.exp(x)


@primitive
def log(x):
    return xp.log(x)


@primitive
def log1p(x):
    return xp.log1p(x)


@primitive
def expm1(x):
    return xp.expm1(x)


@primitive
def sqrt(x):
    return xp.sqrt(x)


@primitive
def rsqrt(x):
    return 1.0 / xp.sqrt(x)


@primitive
def square(x):
    return xp.square(x)


@primitive
def abs(x):  # noqa: A001 - numpy's name
    return xp.abs(x)


@primitive
def sign(x):
    return xp.sign(x)


@primitive
def sin(x):
    return xp.sin(x)


@primitive
def cos(x):
    return xp.cos(x)


@primitive
def tan(x):
    return xp.tan(x)


@primitive
def tanh(x):
    return xp.tanh(x)


@primitive
def sigmoid(x):
    # exp(-logaddexp(0, -x)) is stable for large |x| in both directions.
    return xp.exp(-xp.logaddexp(0, -x)).astype(x.dtype, copy=False) if hasattr(x, "dtype") else 1.0 / (1.0 + _pymath.exp(-x))


@functools.lru_cache(maxsize=8)
def _zeros(shape: tuple, dtype: np.dtype) -> np.ndarray:
    z = np.zeros(shape, dtype)
    z.flags.writeable = False
    return z


@primitive
def relu(x):
    """max(x, 0), against a cached array of zeros for float arrays: numpy's two-array loop is several times faster than
    its array-scalar one, with the same values."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return xp.maximum(x, _zeros(x.shape, x.dtype))
    return xp.maximum(x, 0)


@primitive
def _relu_grad(g, x):
    """``g`` where ``x > 0``, else 0: relu's VJP as one op (the boolean mask converts exactly); ``x`` may be relu's input or
    its output, positive at the same places."""
    return xp.multiply(g, xp.greater(x, 0))


@primitive
def softplus(x):
    return xp.logaddexp(0, x).astype(x.dtype, copy=False) if hasattr(x, "dtype") else np.logaddexp(0, x)


@primitive
def erf(x):
    from scipy.special import erf as _erf

    return _erf(x)


exp.defvjp(lambda g, ans, x: g * ans)
exp.defjvp(lambda t, ans, x: t * ans)
log.defvjp(lambda g, ans, x: g / x)
log.defjvp(lambda t, ans, x: t / x)
log1p.defvjp(lambda g, ans, x: g / (x + 1.0))
log1p.defjvp(lambda t, ans, x: t / (x + 1.0))
expm1.defvjp(lambda g, ans, x: g * (ans + 1.0))
expm1.defjvp(lambda t, ans, x: t * (ans + 1.0))
sqrt.defvjp(lambda g, ans, x: g * 0.5 / ans)
sqrt.defjvp(lambda t, ans, x: t * 0.5 / ans)
rsqrt.defvjp(lambda g, ans, x: g * -0.5 * ans / x)
rsqrt.defjvp(lambda t, ans, x: t * -0.5 * ans / x)
square.defvjp(lambda g, ans, x: g * 2.0 * x)
square.defjvp(lambda t, ans, x: t * 2.0 * x)
abs.defvjp(lambda g, ans, x: g * sign(x))
abs.defjvp(lambda t, ans, x: t * sign(x))
sin.defvjp(lambda g, ans, x: g * cos(x))
sin.defjvp(lambda t, ans, x: t * cos(x))
cos.defvjp(lambda g, ans, x: negative(g * sin(x)))
cos.defjvp(lambda t, ans, x: negative(t * sin(x)))
tan.defvjp(lambda g, ans, x: g * (1.0 + ans * ans))
tan.defjvp(lambda t, ans, x: t * (1.0 + ans * ans))
tanh.defvjp(lambda g, ans, x: g * (1.0 - ans * ans))
tanh.defjvp(lambda t, ans, x: t * (1.0 - ans * ans))
sigmoid.defvjp(lambda g, ans, x: g * ans * (1.0 - ans))
sigmoid.defjvp(lambda t, ans, x: t * ans * (1.0 - ans))
# A cast mask times g (numpy's multiply is about 3x faster than its where on float arrays), the mask taken from the
# output, positive exactly where x is: x need not be kept, and a compiled relu may overwrite it.
relu.defvjp(lambda g, ans, x: _relu_grad(g, ans))
relu.defjvp(lambda t, ans, x: _relu_grad(t, ans))
# The mask is piecewise constant in x: x contributes nothing, in either mode.
_relu_grad.defvjp(lambda ct, ans, g, x: _relu_grad(ct, x), None)
_relu_grad.defjvp(lambda t, ans, g, x: _relu_grad(t, x), lambda t, ans, g, x: None)
softplus.defvjp(lambda g, ans, x: g * sigmoid(x))
softplus.defjvp(lambda t, ans, x: t * sigmoid(x))
_TWO_OVER_SQRT_PI = 2.0 / _pymath.sqrt(_pymath.pi)
erf.defvjp(lambda g, ans, x: g * _TWO_OVER_SQRT_PI * exp(negative(square(x))))
erf.defjvp(lambda t, ans, x: t * _TWO_OVER_SQRT_PI * exp(negative(square(x))))


# -- piecewise ---------------------------------------------------------------------------------
@primitive
def where(condition, x, y):
    return xp.where(condition, x, y)


where.defvjp(
    None,
    lambda g, ans, c, x, y: _ub(where(c, g, 0.0), x),
    lambda g, ans, c, x, y: _ub(where(c, 0.0, g), y),
)
where.defjvp(None, lambda t, ans, c, x, y: _bcast(where(c, t, 0.0), ans), lambda t, ans, c, x, y: _bcast(where(c, 0.0, t), ans))


def _split_ties(g, x, y, take_x):
    """Gradient share of ``x`` in max/min: all where it wins, half where it ties (as torch)."""
    share = where(x == y, 0.5, where(take_x, 1.0, 0.0))
    return g * cast(share, g.dtype)


@primitive
def maximum(x, y):
    return xp.maximum(x, y)


@primitive
def minimum(x, y):
    return xp.minimum(x, y)


maximum.defvjp(lambda g, ans, x, y: _ub(_split_ties(g, x, y, x > y), x), lambda g, ans, x, y: _ub(_split_ties(g, y, x, y > x), y))
minimum.defvjp(lambda g, ans, x, y: _ub(_split_ties(g, x, y, x < y), x), lambda g, ans, x, y: _ub(_split_ties(g, y, x, y < x), y))
maximum.defjvp(lambda t, ans, x, y: _bcast(_split_ties(t, x, y, x > y), ans), lambda t, ans, x, y: _bcast(_split_ties(t, y, x, y > x), ans))
minimum.defjvp(lambda t, ans, x, y: _bcast(_split_ties(t, x, y, x < y), ans), lambda t, ans, x, y: _bcast(_split_ties(t, y, x, y < x), ans))


def clip(x, min=None, max=None):  # noqa: A002 - numpy's names
    """Limit values to [min, max] (Tensors allowed as bounds); the gradient rules follow torch.clamp."""
    if min is None and max is None:
        raise ValueError("funcad.ops.clip: at least one of min and max must be given")
    return _clip(x, min, max)


@primitive
def _clip(x, lo, hi):
    return xp.clip(x, lo, hi)


def _inside(x, lo, hi):
    """Where x passes through: inside [lo, hi], a tie with a bound counting as inside."""
    mask = None
    if lo is not None:
        mask = x >= lo
    if hi is not None:
        upper = x <= hi
        mask = upper if mask is None else logical_and(mask, upper)
    return mask


def _below(x, lo, hi):
    """Where the lower bound is the output: x under it, and it under the upper bound."""
    return x < lo if hi is None else logical_and(x < lo, lo < hi)


def _above(x, lo, hi):
    """Where the upper bound is the output: x over it, or it at or under the lower bound."""
    return x > hi if lo is None else logical_or(x > hi, hi <= lo)


def _masked(g, mask, like):
    return _ub(where(mask, g, 0.0), like)


_clip.defvjp(
    lambda g, ans, x, lo, hi: _masked(g, _inside(x, lo, hi), x),
    lambda g, ans, x, lo, hi: _masked(g, _below(x, lo, hi), lo),
    lambda g, ans, x, lo, hi: _masked(g, _above(x, lo, hi), hi),
)
_clip.defjvp(
    lambda t, ans, x, lo, hi: _bcast(where(_inside(x, lo, hi), t, 0.0), ans),
    lambda t, ans, x, lo, hi: _bcast(where(_below(x, lo, hi), t, 0.0), ans),
    lambda t, ans, x, lo, hi: _bcast(where(_above(x, lo, hi), t, 0.0), ans),
)


# -- no gradient ---------------------------------------------------------------------------------
def _constant_op(name, fn):
    @primitive
    def op(*args, **kwargs):  # kwargs are numpy's static options, e.g. round's decimals
        return fn(*args, **kwargs)

    op.name = name
    op.__doc__ = f"numpy.{fn.__name__}; its output is a constant (no gradient)."
    return op


floor = _constant_op("floor", xp.floor)
ceil = _constant_op("ceil", xp.ceil)
round = _constant_op("round", xp.round)  # noqa: A001 - numpy's name
equal = _constant_op("equal", xp.equal)
not_equal = _constant_op("not_equal", xp.not_equal)
less = _constant_op("less", xp.less)
less_equal = _constant_op("less_equal", xp.less_equal)
greater = _constant_op("greater", xp.greater)
greater_equal = _constant_op("greater_equal", xp.greater_equal)
logical_and = _constant_op("logical_and", xp.logical_and)
logical_or = _constant_op("logical_or", xp.logical_or)
logical_xor = _constant_op("logical_xor", xp.logical_xor)
logical_not = _constant_op("logical_not", xp.logical_not)
isnan = _constant_op("isnan", xp.isnan)
isinf = _constant_op("isinf", xp.isinf)
isfinite = _constant_op("isfinite", xp.isfinite)
