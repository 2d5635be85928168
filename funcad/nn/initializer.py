"""Seeded parameter initialisers with MindSpore's names (``mindspore.common.initializer``).

Every draw comes from funcad's global generator, so ``funcad.set_seed(n)`` makes a network's
initial parameters reproducible. Values are drawn in float64 and then cast to the requested dtype.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod

import numpy as np

from funcad.core.dtypes import float32
from funcad.core.seed import global_rng
from funcad.core.tensor import Tensor


def _fans(shape: tuple) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight laid out as torch does: (out, in, *kernel)."""
    if len(shape) < 2:
        raise ValueError(f"fan in/out needs a weight with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (same table as MindSpore and torch)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; valid: {', '.join(linear + ('tanh', 'relu', 'leaky_relu', 'selu'))}")


class Initializer(ABC):
    """Base class: ``init(shape)`` returns a float64 numpy array of that shape."""

    @abstractmethod
    def __call__(self, shape: tuple) -> np.ndarray:
        """A float64 array of ``shape`` drawn or filled by this initialiser."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Zero(Initializer):
    def __call__(self, shape):
        return np.zeros(shape)


class One(Initializer):
    def __call__(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value: float):
        self.value = value

    def __call__(self, shape):
        return np.full(shape, float(self.value))


class Normal(Initializer):
    """N(mean, sigma^2); MindSpore's default sigma is 0.01."""

    def __init__(self, sigma: float = 0.01, mean: float = 0.0):
        self.sigma, self.mean = sigma, mean

    def __call__(self, shape):
        return global_rng().normal(self.mean, self.sigma, size=shape)


class Uniform(Initializer):
    """U(-scale, scale); MindSpore's default scale is 0.07."""

    def __init__(self, scale: float = 0.07):
        self.scale = scale

    def __call__(self, shape):
        return global_rng().uniform(-self.scale, self.scale, size=shape)


class TruncatedNormal(Initializer):
    """N(mean, sigma^2) with draws outside [a, b] redrawn."""

    def __init__(self, sigma: float = 0.01, mean: float = 0.0, a: float = -2.0, b: float = 2.0):
        self.sigma, self.mean, self.a, self.b = sigma, mean, a, b

    def __call__(self, shape):
        rng = global_rng()
        out = rng.normal(self.mean, self.sigma, size=shape)
        bad = (out < self.a) | (out > self.b)
        while bad.any():
            out[bad] = rng.normal(self.mean, self.sigma, size=int(bad.sum()))
            bad = (out < self.a) | (out > self.b)
        return out


class _Kaiming(Initializer):
    def __init__(self, negative_slope: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
        if mode not in ("fan_in", "fan_out"):
            raise ValueError(f"{type(self).__name__}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
        self.negative_slope, self.mode, self.nonlinearity = negative_slope, mode, nonlinearity

    def _std(self, shape) -> float:
        fan_in, fan_out = _fans(tuple(shape))
        fan = fan_in if self.mode == "fan_in" else fan_out
        return calculate_gain(self.nonlinearity, self.negative_slope) / math.sqrt(fan)


class HeUniform(_Kaiming):
    """U(-b, b) with b = gain * sqrt(3 / fan); with negative_slope=sqrt(5) this is torch's Linear/Conv default."""

    def __call__(self, shape):
        bound = math.sqrt(3.0) * self._std(shape)
        return global_rng().uniform(-bound, bound, size=shape)


class HeNormal(_Kaiming):
    """N(0, (gain / sqrt(fan))^2)."""

    def __call__(self, shape):
        return global_rng().normal(0.0, self._std(shape), size=shape)


class XavierUniform(Initializer):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""

    def __init__(self, gain: float = 1):
        self.gain = gain

    def __call__(self, shape):
        fan_in, fan_out = _fans(tuple(shape))
        bound = self.gain * math.sqrt(6.0 / (fan_in + fan_out))
        return global_rng().uniform(-bound, bound, size=shape)


class XavierNormal(Initializer):
    """N(0, gain^2 * 2 / (fan_in + fan_out))."""

    def __init__(self, gain: float = 1):
        self.gain = gain

    def __call__(self, shape):
        fan_in, fan_out = _fans(tuple(shape))
        return global_rng().normal(0.0, self.gain * math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


# Looked up case-insensitively, as MindSpore does: each class's lower-cased name ('heuniform', 'zero') and its alias.
_ALIASES = {"zeros": Zero, "ones": One, "he_uniform": HeUniform, "he_normal": HeNormal, "xavier_uniform": XavierUniform,
            "xavier_normal": XavierNormal}
_CLASSES = (Zero, One, Normal, Uniform, TruncatedNormal, HeUniform, HeNormal, XavierUniform, XavierNormal)
_BY_NAME = {**{cls.__name__.lower(): cls for cls in _CLASSES}, **_ALIASES}


def initializer(init, shape, dtype=float32) -> Tensor:
    """A Tensor of ``shape`` filled by ``init``: an Initializer, one of its names ('normal', 'he_uniform',
    'xavier_uniform', 'zeros', 'ones', ...), a number (constant) or an array/Tensor of exactly that shape."""
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(int(n) for n in shape)
    if isinstance(init, str):
        cls = _BY_NAME.get(init.lower())
        if cls is None:
            names = sorted(set(_ALIASES) | {cls.__name__.lower() for cls in _CLASSES if cls not in _ALIASES.values()})
            raise ValueError(f"unknown initializer {init!r}; valid names: {', '.join(names)} (any case), "
                             f"or a class name: {', '.join(cls.__name__ for cls in _CLASSES)}")
        init = cls()
    if isinstance(init, Initializer):
        values = init(shape)
    elif isinstance(init, (bool, np.bool_)):
        raise TypeError("initializer: init must be an Initializer, a name, a number or an array, not a bool")
    elif isinstance(init, numbers.Number):
        values = np.full(shape, init)
    elif isinstance(init, (Tensor, np.ndarray)):
        values = np.asarray(init)
        if values.shape != shape:
            raise ValueError(f"initializer: array of shape {values.shape} given for a parameter of shape {shape}")
    else:
        names = ", ".join(sorted(_BY_NAME))
        raise TypeError(f"initializer: init must be an Initializer, a name ({names}), a number or an array, got {type(init).__name__}")
    return Tensor._wrap(np.array(values, dtype=np.dtype(dtype)))
