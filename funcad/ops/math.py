"""Elementwise ops: arithmetic, transcendental functions, activations, comparisons."""

from __future__ import annotations

import functools
import math as _pymath

import numpy as np

from funcad.core.base_ops import cast
from funcad.core.complex_parts import conj, conj_if_complex, is_complex, real
from funcad.core.lowering import impl_with_out, with_out
from funcad.core.primitive import Primitive, compiled_as_call, numpy_ufunc, primitive
from funcad.core.promotion import promote_choices, promote_mixed, promote_to_float


# -- arithmetic -------------------------------------------------------------------------------
# Binary rules map a cotangent or a tangent alike; the passes sum or broadcast it to the right shape. ``out=`` is for the
# compiler's fused steps (funcad.ops.conv_fusion), which write into the output block in place.
@primitive(promote=promote_mixed, **numpy_ufunc("add", 2, identities={1: 0, 0: 0}, torch=("add", lambda torch, x, y: x + y), complex=True))
def add(x, y, out=None):
    return np.add(x, y, out=out)


add.defelementwise(lambda v, ans, x, y: v, lambda v, ans, x, y: v)


@primitive(promote=promote_mixed, **numpy_ufunc("subtract", 2, identities={1: 0}, torch=("sub", lambda torch, x, y: x - y), complex=True))
def subtract(x, y, out=None):
    return np.subtract(x, y, out=out)


subtract.defelementwise(lambda v, ans, x, y: v, lambda v, ans, x, y: negative(v))


@primitive(promote=promote_mixed, **numpy_ufunc("multiply", 2, identities={1: 1, 0: 1}, simplify=("drop_mask_casts",),
                                                  torch=("mul", lambda torch, x, y: x * y), complex=True))
def multiply(x, y, out=None):
    return np.multiply(x, y, out=out)


# Cotangents of complex values take the conjugate derivative (torch's convention; see Primitive's ``complex``).
multiply.deflinear(lambda g, ans, x, y: multiply(g, conj_if_complex(y)), lambda g, ans, x, y: multiply(g, conj_if_complex(x)))


@primitive(promote=promote_to_float, **numpy_ufunc("divide", 2, identities={1: 1}, torch=("div", lambda torch, x, y: x / y), complex=True))
def divide(x, y, out=None):
    return np.true_divide(x, y, out=out)


divide.defvjp(lambda g, ans, x, y: divide(g, conj_if_complex(y)), lambda g, ans, x, y: negative(g) * conj_if_complex(ans / y))
divide.defjvp(lambda t, ans, x, y: divide(t, y), lambda t, ans, x, y: negative(t) * ans / y)


@primitive(**numpy_ufunc("negative", 1, torch="neg", complex=True))
def negative(x):
    return np.negative(x)


negative.deflinear(lambda g, ans, x: negative(g))


@primitive(promote=promote_mixed, **numpy_ufunc("power", 2, torch=("pow", lambda torch, x, y: x**y)))
def power(x, y):
    return np.power(x, y)


def _power_slope(x, y):
    """d/dx x**y = y * x**(y-1), zero where y == 0 (as torch: no 0 * inf at x == 0)."""
    if isinstance(y, (int, float)):
        return power(x, y - 1) * float(y) if y != 0 else x * 0.0
    return where(y == 0, 0.0, y * power(x, y - 1))


def _power_log_base(x, ans):
    """d/dy x**y = x**y * log(x), taken as 0 where x <= 0 so a zero base gives no nan."""
    return ans * log(where(x > 0, x, 1.0))


power.defelementwise(lambda v, ans, x, y: v * _power_slope(x, y), lambda v, ans, x, y: v * _power_log_base(x, ans))


@primitive(promote=promote_mixed, **numpy_ufunc("floor_divide", 2, emit=None, takes_out=False, torch=("floor_divide", lambda torch, x, y: x // y)))
def floor_divide(x, y):
    return np.floor_divide(x, y)


floor_divide.nondifferentiable()


@primitive(promote=promote_mixed, **numpy_ufunc("remainder", 2, emit=None, takes_out=False, torch=("remainder", lambda torch, x, y: x % y)))
def remainder(x, y):
    return np.remainder(x, y)


remainder.defelementwise(lambda v, ans, x, y: v, lambda v, ans, x, y: negative(v) * floor_divide(x, y))


# -- unary functions --------------------------------------------------------------------------
# One rule per op serves both modes: it applies the derivative to a cotangent or a tangent alike.
def unary(name: str, rule, promote=promote_to_float, numpy_name: str | None = None) -> Primitive:
    """The numpy ufunc ``np.<numpy_name>`` (default ``name``) as the primitive ``name``, whose derivative is
    ``rule(v, ans, x)``; integers become float32 first (``promote``), as in MindSpore, unless the function keeps them
    (square); torch's function has the primitive's name."""
    numpy_name = numpy_name or name
    prim = Primitive(name, getattr(np, numpy_name), promote=promote, **numpy_ufunc(numpy_name, 1, torch=name))
    prim.__doc__ = f"numpy.{numpy_name}, elementwise."
    return prim.defelementwise(rule)


exp = unary("exp", lambda v, ans, x: v * ans)
log = unary("log", lambda v, ans, x: v / x)
log1p = unary("log1p", lambda v, ans, x: v / (x + 1.0))
expm1 = unary("expm1", lambda v, ans, x: v * (ans + 1.0))
sqrt = unary("sqrt", lambda v, ans, x: v * 0.5 / ans)
square = unary("square", lambda v, ans, x: v * 2.0 * x, promote=None)
sin = unary("sin", lambda v, ans, x: v * cos(x))
cos = unary("cos", lambda v, ans, x: negative(v * sin(x)))
tan = unary("tan", lambda v, ans, x: v * (1.0 + ans * ans))
tanh = unary("tanh", lambda v, ans, x: v * (1.0 - ans * ans))


@primitive(promote=promote_to_float, **compiled_as_call(elementwise=True, torch="rsqrt"))
def rsqrt(x):
    return 1.0 / np.sqrt(x)


rsqrt.defelementwise(lambda v, ans, x: v * -0.5 * ans / x)


@primitive(**compiled_as_call(elementwise=True, torch="abs"))
def abs(x):  # noqa: A001 - numpy's name
    """|x|; the modulus of a complex x (a real result)."""
    return np.abs(x)


def _unit(z, modulus):
    """z / |z| for complex z, 0 at 0; differentiable, unlike sign, which is a constant for real numbers only."""
    return z / where(modulus == 0, 1.0, modulus)


# For complex z: the cotangent g z / |z| (torch's convention), the tangent Re(conj(z) t) / |z|
abs.defvjp(lambda g, ans, x: g * _unit(x, ans) if is_complex(x) else g * sign(x))
abs.defjvp(lambda t, ans, x: real(conj(_unit(x, ans)) * t) if is_complex(x) else t * sign(x))


@primitive(**compiled_as_call(elementwise=True, torch="sgn", complex=True))
def sign(x):
    # MindSpore's Sign gives 0 for NaN, where numpy's gives NaN
    s = np.sign(x)
    if s.dtype.kind == "f":
        s = np.where(np.isnan(s), s.dtype.type(0), s) if s.ndim else (s.dtype.type(0) if np.isnan(s) else s)
    return s


sign.nondifferentiable()


@primitive(**compiled_as_call(elementwise=True, torch="sigmoid"))
def sigmoid(x):
    # exp(-logaddexp(0, -x)) is stable for large |x| in both directions.
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False) if hasattr(x, "dtype") else 1.0 / (1.0 + _pymath.exp(-x))


sigmoid.defelementwise(lambda v, ans, x: v * ans * (1.0 - ans))


@functools.lru_cache(maxsize=8)
def _zeros(shape: tuple, dtype: np.dtype) -> np.ndarray:
    z = np.zeros(shape, dtype)
    z.flags.writeable = False
    return z


@primitive(**compiled_as_call(emit=impl_with_out, elementwise=True, takes_out=True, torch=("relu", lambda torch, x, out=None: torch.relu(x))))
def relu(x, out=None):
    """max(x, 0), against a cached array of zeros for float arrays: numpy's two-array loop is several times faster than
    its array-scalar one, with the same values. Compiled programs call this too, with ``out=``."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return np.maximum(x, _zeros(x.shape, x.dtype), out=out)
    return np.maximum(x, 0, out=out)


def _emit_relu_grad(a, node, out, em):
    """g * (x > 0), the mask computed into a scratch array."""
    if len(a) != 2 or not node.args[1].is_var:
        return None
    mask = em.scratch(node.args[1].shape, np.bool_)
    return with_out(f"np.multiply({a[0]}, np.greater({a[1]}, 0, out={mask}))", out)


@primitive(**compiled_as_call(emit=_emit_relu_grad, elementwise=True, takes_out=True))
def _relu_grad(g, x, out=None):
    """``g`` where ``x > 0``, else 0: relu's VJP as one op (the boolean mask converts exactly); ``x`` may be relu's input or
    its output, positive at the same places."""
    return np.multiply(g, np.greater(x, 0), out=out)


@primitive(**compiled_as_call(elementwise=True, torch="nn.functional.softplus"))
def _softplus(x):
    return np.logaddexp(0, x).astype(x.dtype, copy=False) if hasattr(x, "dtype") else np.logaddexp(0, x)


def softplus(input, beta: float = 1, threshold: float = 20):  # noqa: A002 - MindSpore's names
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (MindSpore's and torch's signature).
    With the defaults it is computed exactly (log1p(exp(x)) differs from x by under 2e-9 past the threshold)."""
    if beta == 1 and threshold == 20:
        return _softplus(input)
    scaled = multiply(input, float(beta))
    return where(scaled > threshold, input, _softplus(scaled) / float(beta))


@primitive(**compiled_as_call(elementwise=True, torch="erf"))
def erf(x):
    from scipy.special import erf as _scipy_erf  # scipy takes a while to import: only when erf is used

    return _scipy_erf(x)


# A cast mask times g (numpy's multiply is about 3x faster than its where on float arrays), the mask taken from the
# output, positive exactly where x is: x need not be kept, and a compiled relu may overwrite it.
relu.defelementwise(lambda v, ans, x: _relu_grad(v, ans))
# The mask is piecewise constant in x: x contributes nothing, in either mode.
_relu_grad.defelementwise(lambda v, ans, g, x: _relu_grad(v, x), None)
_softplus.defelementwise(lambda v, ans, x: v * sigmoid(x))
_TWO_OVER_SQRT_PI = 2.0 / _pymath.sqrt(_pymath.pi)
erf.defelementwise(lambda v, ans, x: v * _TWO_OVER_SQRT_PI * exp(negative(square(x))))


# -- piecewise ---------------------------------------------------------------------------------
@primitive(promote=promote_choices, **compiled_as_call(emit=lambda a, node, out, em: f"np.where({', '.join(a)})" if len(a) == 3 else None,
                              elementwise=True, broadcasts=True, torch="where"))
def where(condition, x, y):
    return np.where(condition, x, y)


where.defelementwise(None, lambda v, ans, c, x, y: where(c, v, 0.0), lambda v, ans, c, x, y: where(c, 0.0, v))


def _split_ties(g, x, y, x_loses):
    """Gradient share of ``x`` in max/min: none where it loses, half where it ties, all elsewhere, a NaN on
    either side included (as torch and MindSpore: both inputs of a NaN output get the whole gradient)."""
    share = where(x == y, 0.5, where(x_loses, 0.0, 1.0))
    return g * cast(share, g.dtype)


@primitive(promote=promote_mixed, **numpy_ufunc("maximum", 2,
                                                 torch=("maximum", lambda torch, x, y: torch.maximum(torch.as_tensor(x), torch.as_tensor(y)))))
def maximum(x, y):
    return np.maximum(x, y)


@primitive(promote=promote_mixed, **numpy_ufunc("minimum", 2,
                                                 torch=("minimum", lambda torch, x, y: torch.minimum(torch.as_tensor(x), torch.as_tensor(y)))))
def minimum(x, y):
    return np.minimum(x, y)


maximum.defelementwise(lambda v, ans, x, y: _split_ties(v, x, y, x < y), lambda v, ans, x, y: _split_ties(v, y, x, y < x))
minimum.defelementwise(lambda v, ans, x, y: _split_ties(v, x, y, x > y), lambda v, ans, x, y: _split_ties(v, y, x, y > x))


def clip(x, min=None, max=None):  # noqa: A002 - numpy's names
    """Limit values to [min, max] (Tensors allowed as bounds); the gradient rules follow torch.clamp."""
    if min is None and max is None:
        raise ValueError("funcad.ops.clip: at least one of min and max must be given")
    return _clip(x, min, max)


@primitive(**compiled_as_call(elementwise=True, broadcasts=True, torch="clamp"))
def _clip(x, lo, hi):
    return np.clip(x, lo, hi)


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


_clip.defelementwise(
    lambda v, ans, x, lo, hi: where(_inside(x, lo, hi), v, 0.0),
    lambda v, ans, x, lo, hi: where(_below(x, lo, hi), v, 0.0),
    lambda v, ans, x, lo, hi: where(_above(x, lo, hi), v, 0.0),
)


# -- no gradient ---------------------------------------------------------------------------------
def _constant_op(name: str, fn, declarations: dict) -> Primitive:
    """A numpy function whose output is a constant by nature: no gradient, declared so."""
    prim = Primitive(name, fn, **declarations)
    prim.__doc__ = f"numpy.{fn.__name__}; its output is a constant (no gradient)."
    return prim.nondifferentiable()


def constant_ufunc(name: str, arity: int, torch) -> Primitive:
    return _constant_op(name, getattr(np, name), numpy_ufunc(name, arity, torch=torch))


floor, ceil, logical_not, isnan, isinf, isfinite = (constant_ufunc(name, 1, name) for name in
                                                    ("floor", "ceil", "logical_not", "isnan", "isinf", "isfinite"))
# Comparisons by Python's operators, which take a number on either side as numpy's ufuncs do (torch.eq takes a tensor first).
equal = constant_ufunc("equal", 2, ("eq", lambda torch, x, y: x == y))
not_equal = constant_ufunc("not_equal", 2, ("ne", lambda torch, x, y: x != y))
less = constant_ufunc("less", 2, ("lt", lambda torch, x, y: x < y))
less_equal = constant_ufunc("less_equal", 2, ("le", lambda torch, x, y: x <= y))
greater = constant_ufunc("greater", 2, ("gt", lambda torch, x, y: x > y))
greater_equal = constant_ufunc("greater_equal", 2, ("ge", lambda torch, x, y: x >= y))
logical_and, logical_or, logical_xor = (constant_ufunc(name, 2, name) for name in ("logical_and", "logical_or", "logical_xor"))
round = _constant_op("round", np.round,  # noqa: A001 - numpy's name
                     compiled_as_call(elementwise=True, torch=("round", lambda torch, a, decimals=0, out=None: torch.round(a, decimals=decimals))))
