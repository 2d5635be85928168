"""MindSpore 2.x's signatures over funcad's kernels: ``broadcast_to`` keeping -1 dimensions, ``softmax(..., dtype=)``,
``avg_pool2d(..., ceil_mode=True)``, the positional ``pad_mode`` of ``conv1d``/``conv2d``/``conv3d``, ``flatten``'s
``order``, ``subtract(..., alpha=)`` and ``fast_gelu`` (MindSpore's keyword names for the other ops come from ``funcad.ops.ms_keywords``)."""

from __future__ import annotations

import numbers
from collections.abc import Callable

from funcad.core.base_ops import broadcast_to as _broadcast_to
from funcad.ops.conv import conv1d as _conv1d
from funcad.ops.conv import conv2d as _conv2d
from funcad.ops.math import multiply as _multiply
from funcad.ops.math import subtract as _subtract
from funcad.ops.nn import softmax as _softmax
from funcad.ops.pool import avg_pool2d as _avg_pool2d
from funcad.ops.primitive_classes import _fast_gelu
from funcad.ops.shape import _shape_of, cast, reshape, transpose
from funcad.ops.shape import flatten as _flatten
from funcad.ops.volume import conv3d as _conv3d


def broadcast_to(input, shape):  # noqa: A002 - MindSpore's name
    """``input`` broadcast to ``shape``; a -1 in ``shape`` keeps the input's size there (aligned from the right), as
    MindSpore's, and may not stand where the input has no dimension."""
    target = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    if -1 in target:
        have = _shape_of(input)
        lead = len(target) - len(have)
        if lead < 0 or -1 in target[:lead]:
            raise ValueError(f"funcad.ops.broadcast_to: a -1 in shape {target} must stand over one of the input's dimensions "
                             f"{have} (aligned from the right)")
        target = tuple(have[i - lead] if s == -1 else s for i, s in enumerate(target))
    return _broadcast_to(input, target)


def softmax(input, axis: int = -1, *, dtype=None):  # noqa: A002 - MindSpore's name
    """Softmax over ``axis``, of the input cast to ``dtype`` first when given (MindSpore 2.x's keyword)."""
    return _softmax(input if dtype is None else cast(input, dtype), axis)


def subtract(input, other, *, alpha=1):  # noqa: A002 - MindSpore's name
    """``input - alpha * other`` (MindSpore 2.x's ``alpha``); with the default it is the subtract primitive itself."""
    return _subtract(input, other if alpha == 1 else _multiply(other, alpha))


_MS_CONV_TAIL = ("pad_mode", "padding", "dilation", "groups")  # MindSpore 2.x's positions after stride


def _ms_conv(kernel: Callable) -> Callable:
    """``kernel`` (funcad's conv1d, conv2d or conv3d) taking MindSpore 2.x's positional order too: (input, weight, bias,
    stride, pad_mode, padding, dilation, groups), recognised by a string after ``stride``; otherwise funcad's (...,
    stride, padding, dilation, groups[, algorithm], *, pad_mode)."""
    op = kernel.__name__

    def conv(input, weight, bias=None, stride: int | tuple = 1, *args, **kwargs):  # noqa: A002 - MindSpore's name
        if args and isinstance(args[0], str):
            if len(args) > len(_MS_CONV_TAIL):
                raise TypeError(f"funcad.ops.{op}: MindSpore's order takes at most 8 positional arguments, got {4 + len(args)}")
            given = dict(zip(_MS_CONV_TAIL, args))
            twice = sorted(given.keys() & kwargs.keys())
            if twice:
                raise TypeError(f"funcad.ops.{op}: {', '.join(twice)} given both by position and by keyword")
            kwargs.update(given)
            args = ()
        return kernel(input, weight, bias, stride, *args, **kwargs)

    conv.__name__ = conv.__qualname__ = op
    conv.__doc__ = f"{kernel.__doc__}\n\n    MindSpore 2.x's positional order is taken too: {_ms_conv.__doc__.split(': ', 1)[1]}"
    return conv


conv1d = _ms_conv(_conv1d)
conv2d = _ms_conv(_conv2d)
conv3d = _ms_conv(_conv3d)


def flatten(input, order: str | int = "C", *dims: int, start_dim: int | None = None, end_dim: int | None = None):  # noqa: A002
    """MindSpore 2.x's ``flatten(input, order='C', *, start_dim=1, end_dim=-1)``: axes start_dim..end_dim merged into
    one; 'F' merges in column-major order (the axes reversed first, as MindSpore's does). A 0-D or 1-D input becomes
    1-D, whatever the dims, as in MindSpore. An int second argument reads funcad's positional form ``(input, start_dim, end_dim)``."""
    if not isinstance(order, str):
        if start_dim is not None or len(dims) > 1 or (dims and end_dim is not None):
            raise TypeError(f"funcad.ops.flatten: expected (input, start_dim, end_dim), got start_dim {order!r}, {dims!r} and "
                            f"start_dim={start_dim!r}, end_dim={end_dim!r}")
        order, start_dim, end_dim = "C", order, dims[0] if dims else end_dim
    elif dims:
        raise TypeError(f"funcad.ops.flatten: after order={order!r}, start_dim and end_dim are keyword arguments, got {dims!r}")
    if order not in ("C", "F"):
        raise ValueError(f"funcad.ops.flatten: order must be 'C' or 'F', got {order!r}")
    start, end = 1 if start_dim is None else int(start_dim), -1 if end_dim is None else int(end_dim)
    rank = len(_shape_of(input))
    if rank < 2:
        return reshape(input, (-1,))
    if not (-rank <= start < rank and -rank <= end < rank) or start % rank > end % rank:
        raise ValueError(f"funcad.ops.flatten: start_dim {start} and end_dim {end} must lie in [-{rank}, {rank}) with start_dim not "
                         f"after end_dim, for an input of shape {_shape_of(input)}")
    if order == "F":
        input = transpose(input, tuple(reversed(range(rank))))  # noqa: A001
    return _flatten(input, start, end)


def fast_gelu(x):
    """MindSpore's FastGeLU, x / (1 + exp(-1.702 |x|)) * exp(0.851 (x - |x|)), which is x * sigmoid(1.702 x)."""
    return _fast_gelu(x)


def avg_pool2d(input_x, kernel_size=1, stride=1, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = 0):
    """``avg_pool2d`` with MindSpore 2.x's ``ceil_mode``: a last partial window is kept and averaged over its part
    inside the padded input (over its real inputs without ``count_include_pad``; a non-zero ``divisor_override``
    divides every window's sum instead), the rule of ``nn.AvgPool2d``, which computes it."""
    if not ceil_mode:
        return _avg_pool2d(input_x, kernel_size, stride, padding, count_include_pad=count_include_pad, divisor_override=divisor_override)
    from funcad.nn.layer.pooling import AvgPool2d  # the layer holds the partial-window rule; nn imports ops

    stride = kernel_size if stride is None else stride
    return AvgPool2d(kernel_size, stride, "pad", padding, ceil_mode=True, count_include_pad=count_include_pad,
                     divisor_override=divisor_override or None)(input_x)
