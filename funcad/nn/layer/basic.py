"""Dense, Flatten, Dropout, Dropout2d and Identity."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from funcad import ops
from funcad.core.dtypes import float32
from funcad.core.tensor import Parameter
from funcad.nn.cell import Cell
from funcad.nn.initializer import HeUniform, Uniform, initializer
from funcad.nn.layer.activation import get_activation
from funcad.ops.random_nn import channel_dropout


def positive_int(value, owner: str, what: str) -> int:
    """``value`` as an int, or a ValueError naming the layer and argument: a size of 0, a negative one, a float or a bool
    would otherwise fail later, inside an initialiser or a product, with a message about something else."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {what} must be a positive int, got {value!r}")
    return int(value)


def check_input(cell: Cell, x, rank: int | tuple, features: dict[int, int] | None = None, expected: str = "") -> None:
    """Raise a ValueError naming ``cell``'s path when ``x`` has the wrong rank or feature sizes.

    ``rank`` is the required ndim (or a tuple of allowed ones; a negative entry ``-k`` means "at least k");
    ``features`` maps axis -> required size.
    """
    shape = tuple(x.shape)
    ok = False
    for r in rank if isinstance(rank, tuple) else (rank,):
        if (len(shape) >= -r) if r < 0 else (len(shape) == r):
            ok = True
            break
    if ok and features:
        for axis, size in features.items():
            if shape[axis] != size:
                ok = False
                break
    if not ok:
        raise ValueError(f"{cell._where()}: expected input of shape {expected}, got {shape}")


class Identity(Cell):
    def construct(self, x):
        return x


class Flatten(Cell):
    """Flatten dimensions ``start_dim..end_dim`` (default: everything but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def construct(self, x):
        ndim = len(x.shape)
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not 0 <= start <= end < max(ndim, 1):
            raise ValueError(f"{self._where()}: cannot flatten dims {self.start_dim}..{self.end_dim} of an input of shape {tuple(x.shape)}")
        return ops.flatten(x, start, end)

    def extend_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Cell):
    """Split axis ``axis`` into ``unflattened_size`` (the inverse of Flatten)."""

    def __init__(self, axis: int, unflattened_size: tuple):
        super().__init__()
        self.axis, self.unflattened_size = int(axis), tuple(int(n) for n in unflattened_size)

    def construct(self, x):
        shape = tuple(x.shape)
        axis = self.axis % len(shape) if shape else 0
        if not shape or int(np.prod(self.unflattened_size)) != shape[axis]:
            raise ValueError(f"{self._where()}: axis {self.axis} of shape {shape} cannot be split into {self.unflattened_size}")
        return ops.reshape(x, shape[:axis] + self.unflattened_size + shape[axis + 1:])

    def extend_repr(self) -> str:
        return f"axis={self.axis}, unflattened_size={self.unflattened_size}"


class _PixelShuffle(Cell):
    """Moves channels into pixels or back (``op``, whose factor the subclass keeps under its MindSpore name)."""

    op: Callable

    def _set_factor(self, name: str, value: int) -> None:
        setattr(self, name, positive_int(value, type(self).__name__, name))
        self._factor = getattr(self, name)

    def construct(self, x):
        return type(self).op(x, self._factor)


class PixelShuffle(_PixelShuffle):
    """(N, C * r * r, H, W) -> (N, C, H * r, W * r), r = ``upscale_factor``."""

    op = staticmethod(ops.pixel_shuffle)

    def __init__(self, upscale_factor: int):
        super().__init__()
        self._set_factor("upscale_factor", upscale_factor)


class PixelUnshuffle(_PixelShuffle):
    """(N, C, H * r, W * r) -> (N, C * r * r, H, W), r = ``downscale_factor``."""

    op = staticmethod(ops.pixel_unshuffle)

    def __init__(self, downscale_factor: int):
        super().__init__()
        self._set_factor("downscale_factor", downscale_factor)


class ChannelShuffle(Cell):
    """(N, C, ...) with its C channels regrouped from ``groups`` groups (ShuffleNet): ``ops.channel_shuffle``."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = positive_int(groups, "ChannelShuffle", "groups")

    def construct(self, x):
        return ops.channel_shuffle(x, self.groups)

    def extend_repr(self) -> str:
        return f"groups={self.groups}"


class Dense(Cell):
    """y = activation(x @ weight.T + bias), weight laid out (out_channels, in_channels) as torch's Linear.

    Defaults as MindSpore 2.x (and torch.nn.Linear): weight HeUniform(negative_slope=sqrt(5)), i.e.
    U(-1/sqrt(in), 1/sqrt(in)), and bias U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_channels: int, out_channels: int, weight_init=None, bias_init=None, has_bias: bool = True,
                 activation=None, dtype=float32):
        super().__init__()
        self.in_channels, self.out_channels = positive_int(in_channels, "Dense", "in_channels"), positive_int(out_channels, "Dense", "out_channels")
        self.has_bias = has_bias
        if weight_init is None:
            weight_init = HeUniform(math.sqrt(5))
        self.weight = Parameter(initializer(weight_init, (self.out_channels, self.in_channels), dtype))
        if has_bias:
            if bias_init is None:
                bias_init = Uniform(1.0 / math.sqrt(self.in_channels))
            self.bias = Parameter(initializer(bias_init, (self.out_channels,), dtype))
        else:
            self.bias = None
        self.activation = get_activation(activation) if isinstance(activation, str) else activation
        self._input_features, self._input_shape = {-1: self.in_channels}, f"(*, {self.in_channels})"

    def construct(self, x):
        check_input(self, x, -1, self._input_features, self._input_shape)
        y = ops.dense(x, self.weight, self.bias)
        return self.activation(y) if self.activation is not None else y

    def extend_repr(self) -> str:
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}, has_bias={self.has_bias}"


class BiDense(Cell):
    """y = x1 @ weight @ x2 + bias per output channel: weight (out_channels, in1_channels, in2_channels), as torch's
    Bilinear. Defaults as MindSpore 2.x (and torch): weight and bias U(-1/sqrt(in1), 1/sqrt(in1))."""

    def __init__(self, in1_channels: int, in2_channels: int, out_channels: int, weight_init=None, bias_init=None, has_bias: bool = True,
                 dtype=float32):
        super().__init__()
        self.in1_channels, self.in2_channels, self.out_channels = (positive_int(v, "BiDense", name) for v, name in (
            (in1_channels, "in1_channels"), (in2_channels, "in2_channels"), (out_channels, "out_channels")))
        self.has_bias = has_bias
        bound = Uniform(1.0 / math.sqrt(self.in1_channels))
        self.weight = Parameter(initializer(bound if weight_init is None else weight_init, (self.out_channels, self.in1_channels,
                                                                                            self.in2_channels), dtype))
        self.bias = Parameter(initializer(bound if bias_init is None else bias_init, (self.out_channels,), dtype)) if has_bias else None

    def construct(self, input1, input2):
        check_input(self, input1, -1, {-1: self.in1_channels}, f"(*, {self.in1_channels})")
        check_input(self, input2, -1, {-1: self.in2_channels}, f"(*, {self.in2_channels})")
        return ops.bidense(input1, input2, self.weight, self.bias)

    def extend_repr(self) -> str:
        return (f"in1_channels={self.in1_channels}, in2_channels={self.in2_channels}, out_channels={self.out_channels}, "
                f"has_bias={self.has_bias}")


class ClipByNorm(Cell):
    """``x * clip_norm / max(||x||, clip_norm)``: the input scaled down to an L2-norm of at most ``clip_norm``, the norm
    taken over ``axis`` (None: every axis), as MindSpore's ``nn.ClipByNorm``; a zero norm leaves the input as it is."""

    def __init__(self, axis=None):
        super().__init__()
        self.axis = axis

    def construct(self, x, clip_norm):
        squares = ops.sum(x * x, self.axis, keepdims=True)
        positive = squares > 0
        norm = ops.where(positive, ops.sqrt(ops.where(positive, squares, 1.0)), squares)  # no NaN slope at a zero norm
        return x * clip_norm / ops.maximum(norm, clip_norm)

    def extend_repr(self) -> str:
        return f"axis={self.axis}"


class Norm(Cell):
    """``sqrt(sum(x ** 2))`` over ``axis`` (``()``: every axis), as MindSpore's ``nn.Norm`` (the model zoo's gradient
    clipping takes global norms with it). Without ``keep_dims``, as MindSpore's, every axis of length 1 left
    afterwards is squeezed away, not only the reduced ones."""

    def __init__(self, axis=(), keep_dims: bool = False):
        super().__init__()
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        if not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise TypeError(f"Norm: axis must be an int or a tuple of ints, got {axis!r}")
        self.axis, self.keep_dims = tuple(axes), bool(keep_dims)

    def construct(self, x):
        x = ops.sqrt(ops.sum(ops.square(x), self.axis or None, keepdims=True))
        return x if self.keep_dims else ops.squeeze(x)

    def extend_repr(self) -> str:
        return f"axis={self.axis}, keep_dims={self.keep_dims}"


class OneHot(Cell):
    """MindSpore's ``nn.OneHot(axis=-1, depth=1, on_value=1.0, off_value=0.0, dtype=float32)``: integer indices
    encoded along a new axis ``axis``, ``on_value`` where the index points and ``off_value`` elsewhere."""

    def __init__(self, axis: int = -1, depth: int = 1, on_value: float = 1.0, off_value: float = 0.0, dtype=float32):
        super().__init__()
        self.axis, self.depth, self.on_value, self.off_value, self.dtype = axis, int(depth), on_value, off_value, dtype

    def construct(self, indices):
        on, off = (ops.cast(ops.full((), v, float32), self.dtype) for v in (self.on_value, self.off_value))
        return ops.one_hot(indices, self.depth, on, off, self.axis)

    def extend_repr(self) -> str:
        return f"axis={self.axis}, depth={self.depth}, on_value={self.on_value}, off_value={self.off_value}"


class Dropout(Cell):
    """Zero each element with probability ``p`` while training and scale the rest by 1/(1-p); identity in
    evaluation mode. MindSpore 2.x's signature: the first positional argument is the deprecated ``keep_prob``
    (= 1 - p, in (0, 1]), so ``Dropout(0.8)`` keeps 80%; ``p=`` (the drop probability, as torch's) wins when given.
    Each call draws a fresh mask from funcad's global generator."""

    def __init__(self, keep_prob: float = 0.5, p: float | None = None, dtype=None):
        super().__init__()
        if p is None:
            if not 0.0 < keep_prob <= 1.0:
                raise ValueError(f"Dropout: keep_prob (keep probability) must be in (0, 1], got {keep_prob}")
            p = 1.0 - keep_prob
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p (drop probability) must be in [0, 1), got {p}")
        self.p = float(p)

    def construct(self, x):
        if not self.training or self.p == 0.0:
            return x
        return ops.dropout(x, p=self.p, training=True)

    def extend_repr(self) -> str:
        return f"p={self.p}"


class _ChannelDropout(Dropout):
    """Zero whole channels of (N, C, *spatial) (or (C, *spatial)) inputs with probability ``p`` while training,
    scaling the rest by 1/(1-p); identity in evaluation mode. One mask value per (sample, channel), from funcad's
    random key. ``spatial`` (the number of spatial axes) and ``expected`` are set by each subclass."""

    spatial: int
    expected: str

    def __init__(self, p: float = 0.5, *, keep_prob: float | None = None):
        super().__init__(p=p if keep_prob is None else 1.0 - keep_prob)

    def construct(self, x):
        check_input(self, x, (self.spatial + 1, self.spatial + 2), None, self.expected)
        if not self.training:
            return x
        return channel_dropout(x, self.p, self.spatial, self._where())


class Dropout1d(_ChannelDropout):
    spatial, expected = 1, "(N, C, L) or (C, L)"


class Dropout2d(_ChannelDropout):
    spatial, expected = 2, "(N, C, H, W) or (C, H, W)"


class Dropout3d(_ChannelDropout):
    spatial, expected = 3, "(N, C, D, H, W) or (C, D, H, W)"
