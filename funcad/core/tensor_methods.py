"""Methods MindSpore's Tensor has beyond numpy's array protocol (reductions with MindSpore's argument names, named
arithmetic, conversions, elementwise functions), each one ``funcad.ops`` op; a mixin of ``Tensor``.

``funcad.ops`` registers itself here at import (through ``Tensor``'s ``bind_ops``), so this module imports no op.
"""

from __future__ import annotations

import numpy as np

_ops = None


def bind_ops(module) -> None:
    global _ops
    _ops = module


class TensorMethods:
    """The methods; ``Tensor`` inherits them."""

    __slots__ = ()

    def sum(self, axis=None, dtype=None, keepdims=False, initial=None):
        out = _ops.sum(self if dtype is None else _ops.cast(self, dtype), axis=axis, keepdims=keepdims)
        return out if initial is None else out + initial

    def mean(self, axis=None, keep_dims=False, *, keepdims=None):
        return _ops.mean(self, axis=axis, keepdims=_keep(keep_dims, keepdims))

    def max(self, axis=None, keepdims=False, *, keep_dims=None):
        return _ops.max(self, axis=axis, keepdims=_keep(keepdims, keep_dims))

    def min(self, axis=None, keepdims=False, *, keep_dims=None):
        return _ops.min(self, axis=axis, keepdims=_keep(keepdims, keep_dims))

    def prod(self, axis=None, keep_dims=False, *, keepdims=None):
        return _ops.prod(self, axis=axis, keepdims=_keep(keep_dims, keepdims))

    def var(self, axis=None, ddof=0, keepdims=False, *, keep_dims=None):
        return _ops.var(self, axis=axis, ddof=ddof, keepdims=_keep(keepdims, keep_dims))

    def std(self, axis=None, ddof=0, keepdims=False, *, keep_dims=None):
        return _ops.std(self, axis=axis, ddof=ddof, keepdims=_keep(keepdims, keep_dims))

    def argmax(self, axis=None, keepdims=False):
        out = _ops.argmax(self, axis=axis)
        return _ops.expand_dims(out, axis) if keepdims and axis is not None else out

    def argmin(self, axis=None, keepdims=False):
        out = _ops.argmin(self, axis=axis)
        return _ops.expand_dims(out, axis) if keepdims and axis is not None else out

    def add(self, other):
        return _ops.add(self, other)

    def sub(self, other):
        return _ops.subtract(self, other)

    def mul(self, other):
        return _ops.multiply(self, other)

    def div(self, other):
        return _ops.divide(self, other)


    def all(self, axis=None, keep_dims=False):
        """Whether every element (along ``axis``) is non-zero, as a bool Tensor."""
        zeros = _ops.sum(_ops.cast(_ops.equal(self, 0), "int32"), axis=axis, keepdims=keep_dims)
        return _ops.equal(zeros, 0)

    def any(self, axis=None, keep_dims=False):
        """Whether some element (along ``axis``) is non-zero, as a bool Tensor."""
        nonzeros = _ops.sum(_ops.cast(_ops.not_equal(self, 0), "int32"), axis=axis, keepdims=keep_dims)
        return _ops.greater(nonzeros, 0)

    def cumsum(self, axis=None, dtype=None):
        return _ops.cumsum(self if dtype is None else _ops.cast(self, dtype), axis=axis)

    def tile(self, reps):
        return _ops.tile(self, reps)

    def repeat(self, repeats, axis=None):
        return _ops.repeat(self, repeats, axis)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    def to(self, dtype):
        return _ops.cast(self, dtype)

    def float(self):
        return _ops.cast(self, np.float32)

    def half(self):
        return _ops.cast(self, np.float16)

    def double(self):
        return _ops.cast(self, np.float64)

    def int(self):
        return _ops.cast(self, np.int32)

    def long(self):
        return _ops.cast(self, np.int64)


def _keep(value: bool, alias: bool | None) -> bool:
    """``keepdims``/``keep_dims``: MindSpore's methods use both spellings; either is taken."""
    return bool(value if alias is None else alias)


def _elementwise_method(name: str, op_name: str):
    def method(self):
        return getattr(_ops, op_name)(self)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``funcad.ops.{op_name}`` of this Tensor."
    return method


# Elementwise methods MindSpore's Tensor has, each the op of the same meaning
_ELEMENTWISE_METHODS = {
    "exp": "exp", "expm1": "expm1", "log": "log", "log1p": "log1p", "sqrt": "sqrt", "rsqrt": "rsqrt", "square": "square",
    "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu", "abs": "abs",
    "absolute": "abs", "neg": "negative", "negative": "negative", "sign": "sign", "floor": "floor", "ceil": "ceil",
    "round": "round", "erf": "erf", "isfinite": "isfinite", "isnan": "isnan", "isinf": "isinf", "logical_not": "logical_not",
}
for _name, _op in _ELEMENTWISE_METHODS.items():
    setattr(TensorMethods, _name, _elementwise_method(_name, _op))
