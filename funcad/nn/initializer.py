"""Seeded parameter initialisers with MindSpore's names (``mindspore.common.initializer``).

Every draw comes from funcad's global generator, so ``funcad.set_seed(n)`` makes a network's
initial parameters reproducible. Values are drawn in float64 and then cast to the requested dtype.
"""

from __future__ import annotations

import math
import numbers

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


class Initializer:
    """Base class: ``init(shape)`` returns a float64 numpy array of that shape; ``init(arr)`` (MindSpore's form) fills
    the numpy array ``arr`` in place. A subclass defines ``_values(shape)``, or MindSpore's ``_initialize(arr)``,
    which fills a zero float64 array in place (how a user's initializer written for MindSpore does it)."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs  # MindSpore's subclasses pass their arguments up: super().__init__(sigma=sigma)

    def __call__(self, shape_or_array) -> np.ndarray:
        if isinstance(shape_or_array, np.ndarray):
            shape_or_array[...] = self._values(shape_or_array.shape)
            return shape_or_array
        return self._values((shape_or_array,) if isinstance(shape_or_array, numbers.Integral) else tuple(shape_or_array))

    def _values(self, shape: tuple) -> np.ndarray:
        """A float64 array of ``shape`` drawn or filled by this initialiser."""
        arr = np.zeros(shape)
        self._initialize(arr)
        return arr

    def _initialize(self, arr: np.ndarray) -> None:
        raise NotImplementedError(f"{type(self).__name__}: an Initializer defines _values(shape), or _initialize(arr) filling arr in place")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Zero(Initializer):
    def _values(self, shape):
        return np.zeros(shape)


class One(Initializer):
    def _values(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value: float):
        self.value = value

    def _values(self, shape):
        return np.full(shape, float(self.value))


class Normal(Initializer):
    """N(mean, sigma^2); MindSpore's default sigma is 0.01."""

    def __init__(self, sigma: float = 0.01, mean: float = 0.0):
        self.sigma, self.mean = sigma, mean

    def _values(self, shape):
        return global_rng().normal(self.mean, self.sigma, size=shape)


class Uniform(Initializer):
    """U(-scale, scale); MindSpore's default scale is 0.07."""

    def __init__(self, scale: float = 0.07):
        self.scale = scale

    def _values(self, shape):
        return global_rng().uniform(-self.scale, self.scale, size=shape)


class TruncatedNormal(Initializer):
    """N(mean, sigma^2) with draws outside [a, b] redrawn."""

    def __init__(self, sigma: float = 0.01, mean: float = 0.0, a: float = -2.0, b: float = 2.0):
        self.sigma, self.mean, self.a, self.b = sigma, mean, a, b

    def _values(self, shape):
        return _truncated_normal(self.mean, self.sigma, self.a, self.b, shape)


def _truncated_normal(mean: float, sigma: float, a: float, b: float, shape: tuple) -> np.ndarray:
    """N(mean, sigma^2) draws, each outside [a, b] redrawn."""
    rng = global_rng()
    out = rng.normal(mean, sigma, size=shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = rng.normal(mean, sigma, size=int(bad.sum()))
        bad = (out < a) | (out > b)
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

    def _values(self, shape):
        bound = math.sqrt(3.0) * self._std(shape)
        return global_rng().uniform(-bound, bound, size=shape)


class HeNormal(_Kaiming):
    """N(0, (gain / sqrt(fan))^2)."""

    def _values(self, shape):
        return global_rng().normal(0.0, self._std(shape), size=shape)


class XavierUniform(Initializer):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""

    def __init__(self, gain: float = 1):
        self.gain = gain

    def _values(self, shape):
        fan_in, fan_out = _fans(tuple(shape))
        bound = self.gain * math.sqrt(6.0 / (fan_in + fan_out))
        return global_rng().uniform(-bound, bound, size=shape)


class XavierNormal(Initializer):
    """N(0, gain^2 * 2 / (fan_in + fan_out))."""

    def __init__(self, gain: float = 1):
        self.gain = gain

    def _values(self, shape):
        fan_in, fan_out = _fans(tuple(shape))
        return global_rng().normal(0.0, self.gain * math.sqrt(2.0 / (fan_in + fan_out)), size=shape)

def _check_rank(owner: str, shape: tuple, ranks: tuple) -> None:
    if len(shape) not in ranks:
        raise ValueError(f"{owner}: initialises tensors of {' or '.join(map(str, ranks))} dimensions, got shape {shape}")


class Identity(Initializer):
    """The identity matrix (ones on the main diagonal) of a 2-D shape."""

    def _values(self, shape):
        _check_rank("Identity", shape, (2,))
        return np.eye(*shape)


class Sparse(Initializer):
    """N(0, sigma^2) with ceil(sparsity * rows) entries of every column, picked at random, set to zero (2-D)."""

    def __init__(self, sparsity: float, sigma: float = 0.01):
        self.sparsity, self.sigma = sparsity, sigma

    def _values(self, shape):
        _check_rank("Sparse", shape, (2,))
        rows, cols = shape
        rng = global_rng()
        out = rng.normal(0.0, self.sigma, size=shape)
        zeros = int(math.ceil(self.sparsity * rows))
        for col in range(cols):
            out[rng.permutation(rows)[:zeros], col] = 0.0
        return out


class Dirac(Initializer):
    """A convolution kernel (3-, 4- or 5-D) that passes its input through: in each of ``groups`` groups of output
    channels, output channel i takes input channel i at the kernel's centre."""

    def __init__(self, groups: int = 1):
        self.groups = groups

    def _values(self, shape):
        _check_rank("Dirac", shape, (3, 4, 5))
        if shape[0] % self.groups:
            raise ValueError(f"Dirac: the first dimension of shape {shape} must be divisible by groups={self.groups}")
        out = np.zeros(shape)
        per_group = shape[0] // self.groups
        centre = tuple(n // 2 for n in shape[2:])
        for g in range(self.groups):
            for i in range(min(per_group, shape[1])):
                out[(g * per_group + i, i) + centre] = 1.0
        return out


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain``: rows x (the product of the other dimensions), from the QR
    decomposition of a standard normal draw with the signs of R's diagonal folded into Q (torch's rule)."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def _values(self, shape):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: initialises tensors of at least 2 dimensions, got shape {shape}")
        rows = shape[0]
        cols = int(np.prod(shape)) // rows
        draw = global_rng().normal(size=(rows, cols))
        q, r = np.linalg.qr(draw.T if rows < cols else draw)
        q = q * np.sign(np.diag(r))
        return (self.gain * (q.T if rows < cols else q)).reshape(shape)


class VarianceScaling(Initializer):
    """Draws of variance scale / n, n the fan in, the fan out or their mean (``mode`` 'fan_avg'): 'uniform'
    U(-sqrt(3 scale / n), sqrt(3 scale / n)), 'untruncated_normal' N(0, scale / n), 'truncated_normal' (the default)
    N(0, (sqrt(scale / n) / 0.8796...)^2) kept within [-2, 2], MindSpore's bounds (absolute, not in deviations)."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal"):
        if not scale > 0:
            raise ValueError(f"VarianceScaling: scale must be > 0, got {scale!r}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(f"VarianceScaling: distribution must be 'uniform', 'truncated_normal' or 'untruncated_normal', got {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def _values(self, shape):
        fan_in, fan_out = _fans(tuple(shape))
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return global_rng().uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return global_rng().normal(0.0, math.sqrt(variance), size=shape)
        return _truncated_normal(0.0, math.sqrt(variance) / 0.87962566103423978, -2.0, 2.0, shape)


# Looked up case-insensitively, as MindSpore does: each class's lower-cased name ('heuniform', 'zero') and its alias.
_ALIASES = {"zeros": Zero, "ones": One, "he_uniform": HeUniform, "he_normal": HeNormal, "xavier_uniform": XavierUniform,
            "xavier_normal": XavierNormal}
_CLASSES = (Zero, One, Normal, Uniform, TruncatedNormal, HeUniform, HeNormal, XavierUniform, XavierNormal, Identity, Dirac, Orthogonal,
            VarianceScaling)
_BY_NAME = {**{cls.__name__.lower(): cls for cls in _CLASSES}, **_ALIASES}


def initializer(init, shape=None, dtype=float32) -> Tensor:
    """A Tensor of ``shape`` filled by ``init``: an Initializer, one of its names ('normal', 'he_uniform',
    'xavier_uniform', 'zeros', 'ones', ...), a number (constant) or an array/Tensor of exactly that shape (``shape``
    None: the array's own, as MindSpore's)."""
    if shape is None:
        if not isinstance(init, (Tensor, np.ndarray)):
            raise ValueError(f"initializer: shape may be None only for an array or Tensor init, got {type(init).__name__}")
        shape = np.shape(init)
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
