"""Smooth and leaky activations (torch.nn.functional semantics), each one primitive.

One numpy forward per activation and one derivative written in funcad ops, shared by its
VJP (g * f'(x)) and JVP (t * f'(x)) rules, so higher derivatives come from the derivative's ops.
"""

from __future__ import annotations

import math

import numpy as np

from funcad.core.primitive import Primitive, compiled_as_call
from funcad.ops.math import erf, exp, sigmoid, tanh, where
from funcad.ops.shape import cast

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


def _elementwise(name: str, forward, derivative, torch) -> Primitive:
    """A primitive ``forward(x, **opts)`` whose gradient is ``derivative(x, ans, **opts)`` times the incoming one; ``torch``
    is its torch translation (``Primitive``'s declaration)."""
    prim = Primitive(name, forward, **compiled_as_call(elementwise=True, torch=torch))
    return prim.defelementwise(lambda v, ans, x, **opts: v * derivative(x, ans, **opts))


def _gelu_exact(x):
    return x * (0.5 * (1.0 + erf.impl(x * _SQRT_HALF)))


def _gelu_tanh(x):
    return x * (0.5 * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))))


def _gelu_exact_derivative(x, ans):
    """Phi(x) + x phi(x)."""
    return 0.5 * (1.0 + erf(x * _SQRT_HALF)) + x * exp(x * x * -0.5) * _INV_SQRT_2PI


def _gelu_tanh_derivative(x, ans):
    t = tanh((x + x * x * x * _GELU_CUBIC) * _SQRT_2_OVER_PI)
    return 0.5 * (1.0 + t) + x * 0.5 * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + x * x * (3.0 * _GELU_CUBIC))


_gelu_prims = {
    "none": _elementwise("gelu", _gelu_exact, _gelu_exact_derivative, "nn.functional.gelu"),
    "tanh": _elementwise("gelu_tanh", _gelu_tanh, _gelu_tanh_derivative, lambda torch, x: torch.nn.functional.gelu(x, approximate="tanh")),
}


def gelu(x, approximate: str = "none"):
    """x * Phi(x) (``approximate='none'``) or torch's tanh approximation (``approximate='tanh'``)."""
    if approximate not in _gelu_prims:
        raise ValueError(f"funcad.ops.gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _gelu_prims[approximate](x)


def _silu_forward(x):
    return x / (1.0 + np.exp(-x))


def _silu_derivative(x, ans):
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


_silu = _elementwise("silu", _silu_forward, _silu_derivative, "nn.functional.silu")


def silu(x):
    """x * sigmoid(x) (also called swish)."""
    return _silu(x)


_leaky_relu = _elementwise(
    "leaky_relu",
    lambda x, negative_slope: np.where(x > 0, x, x * negative_slope),
    lambda x, ans, negative_slope: cast(where(x > 0, 1.0, negative_slope), x.dtype),  # two scalars would make it float64
    "nn.functional.leaky_relu",
)


def leaky_relu(input, alpha: float = 0.2, *, negative_slope: float | None = None):  # noqa: A002 - MindSpore's names
    """x where x > 0, else alpha * x (the slope at 0 is alpha, as torch). MindSpore 2.x's default slope is 0.2
    (torch's is 0.01); ``negative_slope`` is torch's and later MindSpore's name for ``alpha``."""
    return _leaky_relu(input, negative_slope=float(alpha if negative_slope is None else negative_slope))


_elu = _elementwise(
    "elu",
    lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
    lambda x, ans, alpha: where(x > 0, 1.0, exp(where(x > 0, 0.0, x)) * alpha),
    "nn.functional.elu",
)


def elu(x, alpha: float = 1.0):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return _elu(x, alpha=float(alpha))
