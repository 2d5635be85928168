"""MindSpore 2.x's signatures over funcad's kernels: ``broadcast_to`` keeping -1 dimensions, ``softmax(..., dtype=)``,
``avg_pool2d(..., ceil_mode=True)``, ``conv2d``'s positional ``pad_mode``, ``fast_gelu``, and ``input=`` by keyword
for ops whose first argument funcad names ``x``."""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable

from funcad.core.base_ops import broadcast_to as _broadcast_to
from funcad.ops.conv import conv2d as _conv2d
from funcad.ops.nn import softmax as _softmax
from funcad.ops.pool import avg_pool2d as _avg_pool2d
from funcad.ops.primitive_classes import _fast_gelu
from funcad.ops.shape import _shape_of, cast


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


def conv2d(input, weight, bias=None, stride=1, *args, **kwargs):  # noqa: A002 - MindSpore's name
    """``conv2d`` taking MindSpore 2.x's positional order too: (input, weight, bias, stride, pad_mode, padding, dilation,
    groups), recognised by a string after ``stride``; otherwise funcad's (..., stride, padding, dilation, groups,
    algorithm, *, pad_mode)."""
    if args and isinstance(args[0], str):
        if len(args) > 4:
            raise TypeError(f"funcad.ops.conv2d: MindSpore's order takes at most 8 positional arguments, got {4 + len(args)}")
        kwargs.update(zip(("pad_mode", "padding", "dilation", "groups"), args))
        args = ()
    return _conv2d(input, weight, bias, stride, *args, **kwargs)


def fast_gelu(x):
    """MindSpore's FastGeLU, x / (1 + exp(-1.702 |x|)) * exp(0.851 (x - |x|)), which is x * sigmoid(1.702 x)."""
    return _fast_gelu(x)


def avg_pool2d(input_x, kernel_size=1, stride=1, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = 0):
    """``avg_pool2d`` with MindSpore 2.x's ``ceil_mode``: a last partial window is kept and averaged over its part
    inside the padded input (over its real inputs without ``count_include_pad``), the rule of ``nn.AvgPool2d``, which
    computes it."""
    if not ceil_mode:
        return _avg_pool2d(input_x, kernel_size, stride, padding, count_include_pad=count_include_pad, divisor_override=divisor_override)
    if divisor_override:
        raise NotImplementedError("funcad.ops.avg_pool2d: ceil_mode=True with a divisor_override is not supported")
    from funcad.nn.layer.pooling import AvgPool2d  # the layer holds the partial-window rule; nn imports ops

    stride = kernel_size if stride is None else stride
    return AvgPool2d(kernel_size, stride, "pad", padding, ceil_mode=True, count_include_pad=count_include_pad)(input_x)


_FIRST_NAMES = ("x", "input_x")


def _first_parameter(fn: Callable) -> str | None:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if not params or params[0].kind not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        return None
    if any(p.name == "input" for p in params):
        return None
    return params[0].name


def accepting_input(fn: Callable) -> Callable:
    """``fn`` also taking its first argument as ``input=`` (MindSpore 2.x's name for it)."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if "input" in kwargs:
            if args:
                raise TypeError(f"funcad.ops.{fn.__name__}: input given both by position and as input=")
            args = (kwargs.pop("input"),)
        return fn(*args, **kwargs)

    return call


def accept_input_keyword(namespace: dict) -> None:
    """Give every public function of ``namespace`` whose first argument is named ``x`` or ``input_x`` MindSpore's
    ``input=`` keyword too. Primitives take it in ``Primitive.__call__``."""
    for name, fn in list(namespace.items()):
        if not name.startswith("_") and inspect.isfunction(fn) and _first_parameter(fn) in _FIRST_NAMES:
            namespace[name] = accepting_input(fn)
