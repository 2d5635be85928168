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

    def max(self, axis=None, keepdims=False, *, initial=None, where=None, return_indices=False, keep_dims=None):
        """MindSpore's Tensor.max: the values alone, ``(values, indices)`` with ``return_indices=True``."""
        return _extremum(self, "max", axis, _keep(keepdims, keep_dims), initial, where, return_indices)

    def min(self, axis=None, keepdims=False, *, initial=None, where=None, return_indices=False, keep_dims=None):
        """MindSpore's Tensor.min: the values alone, ``(values, indices)`` with ``return_indices=True``."""
        return _extremum(self, "min", axis, _keep(keepdims, keep_dims), initial, where, return_indices)

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

    def repeat(self, repeats, axis=None):
        return _ops.repeat(self, repeats, axis)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    def to(self, dtype):
        return _ops.cast(self, dtype)

    def type_as(self, other):
        """This Tensor cast to ``other``'s dtype."""
        return _ops.cast(self, other.dtype)

    def view_as(self, other):
        """This Tensor reshaped to ``other``'s shape."""
        return _ops.reshape(self, tuple(other.shape))

    reshape_as = view_as

    def expand(self, *size):
        """This Tensor broadcast to ``size`` (``t.expand(2, 3)`` or ``t.expand((2, 3))``; -1 keeps a dimension)."""
        return _ops.broadcast_to(self, size[0] if len(size) == 1 and not isinstance(size[0], (int, np.integer)) else size)

    def new_zeros(self, size, dtype=None):
        """Zeros of shape ``size``, in this Tensor's dtype unless ``dtype`` is given."""
        return _ops.zeros(size, self.dtype if dtype is None else dtype)

    def new_ones(self, size, dtype=None):
        """Ones of shape ``size``, in this Tensor's dtype unless ``dtype`` is given."""
        return _ops.ones(size, self.dtype if dtype is None else dtype)

    def new_full(self, size, fill_value, dtype=None):
        """``fill_value`` in every element of shape ``size``, in this Tensor's dtype unless ``dtype`` is given."""
        return _ops.full(size, fill_value, self.dtype if dtype is None else dtype)

    def positive(self):
        return self

    def clone(self):
        """A copy of this Tensor (an equal value: funcad's Tensors are never written in place)."""
        return self.copy()

    def ndimension(self) -> int:
        return self.ndim

    @property
    def mT(self):
        """The last two axes swapped."""
        return _ops.swapaxes(self, -2, -1)

    @property
    def mH(self):
        """The conjugate of the last two axes swapped."""
        return _ops.conj(self.mT)

    @property
    def H(self):
        """The conjugate transpose of a 2-D Tensor."""
        if self.ndim != 2:
            raise ValueError(f"Tensor.H: expected a 2-D Tensor, got shape {self.shape}; use mH for a batch of matrices")
        return self.mH

    def permute(self, *axis):
        """The axes reordered as listed (``t.permute(1, 0)`` or ``t.permute((1, 0))``)."""
        return _ops.permute(self, axis[0] if len(axis) == 1 and isinstance(axis[0], (tuple, list)) else axis)

    def ravel(self):
        return _ops.reshape(self, (-1,))

    def expand_as(self, x):
        """This Tensor broadcast to ``x``'s shape (MindSpore's name for the argument)."""
        return _ops.broadcast_to(self, tuple(x.shape))

    def where(self, condition, y):
        """This Tensor where ``condition``, else ``y``."""
        return _ops.where(condition, self, y)

    def select(self, condition, y):
        """This Tensor where ``condition``, else ``y`` (MindSpore's Tensor.select: ``ops.select(condition, self, y)``)."""
        return _ops.select(condition, self, y)

    def argmax_with_value(self, axis: int = 0, keep_dims: bool = False):
        """(indices, values) of the maxima along ``axis``: MindSpore's order, the reverse of ``ops.max``'s."""
        values, indices = _ops.max(self, axis, keep_dims)
        return indices, values

    def argmin_with_value(self, axis: int = 0, keep_dims: bool = False):
        """(indices, values) of the minima along ``axis``: MindSpore's order, the reverse of ``ops.min``'s."""
        values, indices = _ops.min(self, axis, keep_dims)
        return indices, values

    def contiguous(self):
        """This Tensor: funcad's values are always laid out contiguously for the ops that read them."""
        return self

    def is_contiguous(self) -> bool:
        return True


def _extremum(x, op: str, axis, keepdims: bool, initial, where, return_indices: bool):
    """Tensor.max/min as MindSpore's: ``ops.max``/``ops.min`` over one axis or all (their tuple with
    ``return_indices``), ``ops.amax``/``ops.amin`` over a tuple or list of axes, which has no index to give."""
    if isinstance(axis, (tuple, list)):
        if return_indices:
            raise ValueError(f"Tensor.{op}: return_indices=True needs one int axis or None, got axis={axis!r}")
        return getattr(_ops, f"a{op}")(x, axis, keepdims, initial=initial, where=where)
    values, indices = getattr(_ops, op)(x, axis, keepdims, initial=initial, where=where)
    return (values, indices) if return_indices else values


def _keep(value: bool, alias: bool | None) -> bool:
    """``keepdims``/``keep_dims``: MindSpore's methods use both spellings; either is taken."""
    return bool(value if alias is None else alias)


def _op_method(name: str, op_name: str, keyword: str | None = None):
    """A method calling ``funcad.ops.<op_name>`` with the Tensor first; ``keyword`` is MindSpore's name of the method's
    first argument, taken by keyword too (``t.mul(value=2)``) and passed to the op by position."""

    def method(self, *args, **kwargs):
        if keyword in kwargs:
            if args:
                raise TypeError(f"Tensor.{name}: {keyword} given both by position and as {keyword}=")
            args = (kwargs.pop(keyword),)
        return getattr(_ops, op_name)(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``funcad.ops.{op_name}`` with this Tensor as its first argument."
    return method


# Methods MindSpore's Tensor has, each the op of the same meaning with the Tensor as its first argument
_OP_METHODS = {
    "exp": "exp", "expm1": "expm1", "log": "log", "log1p": "log1p", "sqrt": "sqrt", "rsqrt": "rsqrt", "square": "square",
    "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu", "abs": "abs",
    "absolute": "abs", "neg": "negative", "negative": "negative", "sign": "sign", "floor": "floor", "ceil": "ceil",
    "round": "round", "erf": "erf", "isfinite": "isfinite", "isnan": "isnan", "isinf": "isinf", "logical_not": "logical_not",
    "real": "real", "imag": "imag", "conj": "conj", "angle": "angle",
    "softmax": "softmax", "log_softmax": "log_softmax", "masked_fill": "masked_fill", "gather": "gather",
    "gather_elements": "gather_elements", "gather_nd": "gather_nd", "index_select": "index_select", "sort": "sort",
    "argsort": "argsort", "topk": "topk", "nonzero": "nonzero", "equal": "equal", "not_equal": "not_equal",
    "greater": "greater", "greater_equal": "greater_equal", "less": "less", "less_equal": "less_equal", "narrow": "narrow",
    "chunk": "chunk", "split": "split", "logsumexp": "logsumexp", "amax": "amax", "amin": "amin", "diag": "diag",
    "trace": "trace", "tril": "tril", "triu": "triu", "flip": "flip", "roll": "roll", "repeat_interleave": "repeat_interleave",
    "outer": "outer", "inner": "inner", "clamp": "clamp", "maximum": "maximum", "minimum": "minimum",
    "logical_and": "logical_and", "logical_or": "logical_or", "logical_xor": "logical_xor", "bmm": "bmm", "mm": "mm",
    "cumprod": "cumprod", "isclose": "isclose", "take_along_axis": "take_along_axis", "unique": "unique",
    "eq": "equal", "ne": "not_equal", "gt": "greater", "ge": "greater_equal", "lt": "less", "le": "less_equal",
    "lerp": "lerp", "scatter": "scatter", "masked_select": "masked_select", "unbind": "unbind", "diagonal": "diagonal",
    "addmm": "addmm", "addcmul": "addcmul", "addcdiv": "addcdiv", "addmv": "addmv", "addr": "addr", "bitwise_and": "bitwise_and",
    "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor", "nansum": "nansum", "nanmean": "nanmean", "count_nonzero": "count_nonzero",
    "erfc": "erfc", "lgamma": "lgamma", "digamma": "digamma", "reciprocal": "reciprocal", "log2": "log2", "log10": "log10",
    "exp2": "exp2", "sinh": "sinh", "cosh": "cosh", "asin": "asin", "acos": "acos", "atan": "atan", "asinh": "asinh",
    "acosh": "acosh", "atanh": "atanh", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "atan2": "atan2", "hypot": "hypot",
    "fmod": "fmod", "remainder": "remainder", "floor_divide": "floor_divide", "true_divide": "true_divide", "logaddexp": "logaddexp",
    "deg2rad": "deg2rad", "rad2deg": "rad2deg", "trunc": "trunc", "frac": "frac", "logit": "logit", "diff": "diff",
    "nan_to_num": "nan_to_num", "movedim": "movedim", "moveaxis": "moveaxis", "rot90": "rot90", "kron": "kron", "cross": "cross",
    "fmax": "fmax", "fmin": "fmin", "heaviside": "heaviside", "xlogy": "xlogy", "inverse": "inverse", "det": "det",
    "slogdet": "slogdet", "cholesky": "cholesky", "vecdot": "vecdot", "unflatten": "unflatten", "sgn": "sgn", "signbit": "signbit",
    "isposinf": "isposinf", "isneginf": "isneginf", "add": "add", "sub": "subtract", "mul": "multiply", "div": "div", "tile": "tile",
    "svd": "svd", "matrix_power": "matrix_power", "histc": "histc", "bincount": "bincount", "searchsorted": "searchsorted",
    "argwhere": "argwhere", "unique_consecutive": "unique_consecutive", "msort": "msort", "renorm": "renorm", "lu_solve": "lu_solve",
    "cholesky_solve": "cholesky_solve", "adjoint": "adjoint", "aminmax": "aminmax", "arccosh": "acosh", "arcsinh": "asinh",
    "arctanh": "atanh", "arctan2": "atan2", "cummax": "cummax", "cummin": "cummin", "multiply": "multiply", "divide": "div",
    "subtract": "subtract", "dot": "dot", "hsplit": "hsplit", "vsplit": "vsplit", "dsplit": "dsplit", "tensor_split": "tensor_split",
    "eigvals": "eigvals", "fliplr": "fliplr", "flipud": "flipud", "float_power": "float_power", "gcd": "gcd", "lcm": "lcm",
    "ldexp": "ldexp", "logaddexp2": "logaddexp2", "logcumsumexp": "logcumsumexp", "logdet": "logdet", "ger": "ger",
    "hardshrink": "hardshrink", "inv": "inv", "is_complex": "is_complex", "is_floating_point": "is_floating_point", "median": "median",
    "nanmedian": "nanmedian", "orgqr": "orgqr", "swapdims": "swapdims", "t": "t", "baddbmm": "baddbmm", "bernoulli": "bernoulli",
    "index_fill": "index_fill", "index_add": "index_add", "unfold": "unfold", "multinomial": "multinomial",
    "unsorted_segment_min": "unsorted_segment_min", "unsorted_segment_max": "unsorted_segment_max",
    "unsorted_segment_prod": "unsorted_segment_prod",
    # MindSpore's Tensor.scatter_div/mul/max/min run the tensor_scatter_* ops (index vectors in the last axis of indices)
    "scatter_div": "tensor_scatter_div", "scatter_mul": "tensor_scatter_mul", "scatter_max": "tensor_scatter_max",
    "scatter_min": "tensor_scatter_min",
}
# The casts MindSpore's Tensor names (t.float() is t.astype(float32))
_CASTS = {"float": np.float32, "half": np.float16, "double": np.float64, "int": np.int32, "long": np.int64, "short": np.int16,
          "byte": np.uint8, "bool": np.bool_}


def _cast_method(name: str, dtype):
    def method(self):
        return _ops.cast(self, dtype)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"This Tensor cast to {np.dtype(dtype).name}."
    return method


for _name, _dtype in _CASTS.items():
    setattr(TensorMethods, _name, _cast_method(_name, _dtype))

# MindSpore 2.3's name of a method's first argument where the op names it otherwise (Tensor.mul(value=2))
_METHOD_KEYWORDS = dict.fromkeys(("mul", "multiply", "div", "divide", "true_divide"), "value")
for _name, _op in _OP_METHODS.items():
    setattr(TensorMethods, _name, _op_method(_name, _op, _METHOD_KEYWORDS.get(_name)))
