"""MindSpore 2.x's piecewise and shrinking activations, each a short exact composite of other ops.

Their gradients in both modes, jit lowering, batching and torch translation come from the ops they are made of.
Where a function has a kink, the gradient there is torch's: the clipping activations (relu6, hardtanh, hardsigmoid)
pass no gradient at their bounds, and the shrinking ones none at +-lambd.
"""

from __future__ import annotations

from funcad.core.base_ops import shape_of as _shape_of
from funcad.ops.activation import elu
from funcad.ops.math import abs as _abs
from funcad.ops.math import clip, greater, less, logical_and, relu, sigmoid, softplus, tanh, where
from funcad.ops.nn import softmax
from funcad.ops.shape import cast, reshape, split_numpy, stop_gradient

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def relu6(x):
    """min(max(x, 0), 6)."""
    return where(less(x, 6.0), relu(x), 6.0)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0):  # noqa: A002 - MindSpore's names
    """``input`` clipped to [min_val, max_val]; the gradient is 1 strictly inside, 0 outside and at the bounds."""
    if min_val > max_val:
        raise ValueError(f"funcad.ops.hardtanh: min_val {min_val} is above max_val {max_val}")
    inside = logical_and(greater(input, min_val), less(input, max_val))
    return where(inside, input, stop_gradient(clip(input, min_val, max_val)))


def hardsigmoid(input):  # noqa: A002
    """relu6(x + 3) / 6."""
    return relu6(input + 3.0) / 6.0


def hardswish(x):
    """x * relu6(x + 3) / 6, in torch's order of operations."""
    return x * relu6(x + 3.0) / 6.0


def mish(x):
    """x * tanh(softplus(x))."""
    return x * tanh(softplus(x))


def selu(input_x):
    """SCALE * elu(x, ALPHA) with the self-normalising constants of Klambauer et al. (2017)."""
    return elu(input_x, SELU_ALPHA) * SELU_SCALE


def celu(x, alpha: float = 1.0):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise ValueError("funcad.ops.celu: alpha must not be 0")
    return elu(x * (1.0 / alpha), 1.0) * alpha


def logsigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), finite for large |x|."""
    return -softplus(-x)


def softsign(x):
    """x / (1 + |x|)."""
    return x / (_abs(x) + 1.0)


def softshrink(x, lambd: float = 0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    _check_lambd("softshrink", lambd)
    return where(greater(x, lambd), x - lambd, where(less(x, -lambd), x + lambd, 0.0))


def hardshrink(x, lambd: float = 0.5):
    """x where |x| > lambd, else 0."""
    _check_lambd("hardshrink", lambd)
    return where(greater(_abs(x), lambd), x, 0.0)


def _check_lambd(op: str, lambd: float) -> None:
    if lambd < 0:
        raise ValueError(f"funcad.ops.{op}: lambd must be >= 0, got {lambd}")


def tanhshrink(input):  # noqa: A002
    """x - tanh(x)."""
    return input - tanh(input)


def softmin(x, axis: int = -1, *, dtype=None):
    """softmax(-x) along ``axis``, of ``x`` cast to ``dtype`` first when given (MindSpore 2.x's keyword)."""
    return softmax(-(x if dtype is None else cast(x, dtype)), axis)


def glu(x, axis: int = -1):
    """a * sigmoid(b), a and b the two halves of ``x`` along ``axis`` (whose size must be even)."""
    size = _shape_of(x)[axis]
    if size % 2:
        raise ValueError(f"funcad.ops.glu: axis {axis} of shape {_shape_of(x)} has odd size {size}; it must split in halves")
    a, b = split_numpy(x, 2, axis)
    return a * sigmoid(b)


def threshold(input, thr: float, value: float):  # noqa: A002
    """``input`` where it is above ``thr``, else ``value``."""
    return where(greater(input, thr), input, float(value))


def prelu(x, weight):
    """x where x > 0, else weight * x; ``weight`` holds one slope, or one per channel (axis 1 of ``x``)."""
    shape, slopes = _shape_of(x), _shape_of(weight)
    if len(slopes) != 1 or slopes[0] != 1 and (len(shape) < 2 or shape[1] != slopes[0]):
        raise ValueError(f"funcad.ops.prelu: weight of shape {slopes} does not fit input of shape {shape}: it needs one slope "
                         f"or one per channel (axis 1)")
    w = reshape(weight, slopes + (1,) * (len(shape) - 2)) if len(shape) >= 2 else weight
    return where(greater(x, 0.0), x, w * x)
