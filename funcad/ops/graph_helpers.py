"""Small MindSpore primitives the model zoo's training cells and optimizers are written with: ``FloatStatus`` (the
overflow flag of gradient checks), ``Partial`` (binds a MultitypeFuncGraph's first arguments for ``HyperMap``),
``tuple_to_array`` (constants such as a clipping norm, as Tensors) and ``ApplyMomentum`` (the update of
MindSpore's Momentum, which optimizers copied from it call)."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable

import numpy as np

from funcad.core.tensor import Parameter, Tensor
from funcad.ops.aliases import all as _all
from funcad.ops.math import isfinite, logical_not
from funcad.ops.shape import cast, reshape
from funcad.ops.state import assign


class FloatStatus:
    """``P.FloatStatus()(x)``: a (1,)-shaped Tensor of x's dtype, 1 where x holds a NaN or an infinity, else 0."""

    def __call__(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        if not np.issubdtype(np.dtype(x.dtype), np.floating):
            raise TypeError(f"FloatStatus: the input must be a float Tensor, got {x.dtype}")
        return reshape(cast(logical_not(_all(isfinite(x))), x.dtype), (1,))


class Partial:
    """``ops.Partial()(fn, *args)``: ``fn`` with its first arguments bound (what ``HyperMap`` maps in MindSpore's
    optimizers and gradient clipping)."""

    def __call__(self, fn: Callable, *args) -> functools.partial:
        if not callable(fn):
            raise TypeError(f"Partial: the first input must be callable, got {type(fn).__name__}")
        return functools.partial(fn, *args)


def tuple_to_array(input_x: tuple) -> Tensor:
    """A tuple of numbers as a 1-D Tensor: int32 when the first is an int, else float32 (MindSpore's rule)."""
    if not isinstance(input_x, tuple) or not input_x:
        raise ValueError(f"tuple_to_array: input_x must be a non-empty tuple of numbers, got {input_x!r}")
    if not all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in input_x):
        raise TypeError(f"tuple_to_array: every element must be a number, got {input_x!r}")
    dtype = np.int32 if isinstance(input_x[0], numbers.Integral) else np.float32
    return Tensor(np.array(input_x, dtype=dtype))


class ApplyMomentum:
    """``P.ApplyMomentum(use_nesterov=False)(variable, accumulation, learning_rate, gradient, momentum)``: MindSpore's
    momentum step on two Parameters, in place::

        accumulation <- accumulation * momentum + gradient * gradient_scale
        variable <- variable - lr * accumulation                                    (plain)
        variable <- variable - lr * (gradient * gradient_scale + momentum * accumulation)   (use_nesterov)

    Returns the updated ``variable``. Under ``funcad.jit`` the writes are compiled as every Parameter write is."""

    def __init__(self, use_nesterov: bool = False, use_locking: bool = False, gradient_scale: float = 1.0):
        self.use_nesterov, self.use_locking, self.gradient_scale = bool(use_nesterov), bool(use_locking), float(gradient_scale)

    def __call__(self, variable: Parameter, accumulation: Parameter, learning_rate, gradient, momentum) -> Parameter:
        for name, value in (("variable", variable), ("accumulation", accumulation)):
            if not isinstance(value, Parameter):
                raise TypeError(f"ApplyMomentum: {name} must be a Parameter (it is updated in place), got {type(value).__name__}")
        if tuple(variable.shape) != tuple(accumulation.shape) or tuple(np.shape(gradient)) != tuple(variable.shape):
            raise ValueError(f"ApplyMomentum: variable {tuple(variable.shape)}, accumulation {tuple(accumulation.shape)} and "
                             f"gradient {tuple(np.shape(gradient))} must have one shape")
        gradient = gradient * self.gradient_scale if self.gradient_scale != 1.0 else gradient
        accumulated = assign(accumulation, accumulation * momentum + gradient)
        step = gradient + accumulated * momentum if self.use_nesterov else accumulated
        return assign(variable, variable - learning_rate * step)
