"""MindSpore 2.x's functional names that are other names for funcad ops, or short exact composites of them.

Every function here is built from existing ops, so its gradients in both modes, its jit lowering and its
higher derivatives come from theirs. Argument names and defaults are MindSpore's.
"""

from __future__ import annotations

import builtins as _builtins
import math as _pymath

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.tensor import Tensor
from funcad.ops import decompositions
from funcad.ops.creation import full
from funcad.ops.linalg import einsum, matmul, tensordot
from funcad.ops.math import abs as _abs
from funcad.ops.math import (
    add,
    ceil,
    clip,
    divide,
    equal,
    floor,
    floor_divide,
    greater,
    greater_equal,
    less,
    less_equal,
    logical_and,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    power,
    subtract,
    where,
)
from funcad.ops.math import isfinite as _isfinite
from funcad.ops.math import isnan as _isnan
from funcad.ops.reduce import amax as _max
from funcad.ops.reduce import mean, norm, prod, std, var
from funcad.ops.reduce import sum as _sum
from funcad.ops.shape import broadcast_to, cast, concat, expand_dims, getitem, repeat, reshape, split, swapaxes, transpose
from funcad.ops.transcendental import reciprocal

cat = concat
mul = multiply
sub = subtract
neg = negative
pow = power  # noqa: A001 - MindSpore's name
ge, gt, le, lt, eq, ne = greater_equal, greater, less_equal, less, equal, not_equal
tensor_dot = tensordot
mm = matmul
inv = reciprocal  # MindSpore's older name of ops.reciprocal (1 / x), still in its diffusion tutorial


def unsqueeze(input, dim: int):  # noqa: A002 - MindSpore's names
    """A new axis of size 1 at ``dim``."""
    return expand_dims(input, dim)


def permute(input, axis):  # noqa: A002
    """Reorder the axes as ``axis`` lists them."""
    return transpose(input, tuple(axis))


def clamp(input, min=None, max=None):  # noqa: A002
    """Limit values to [min, max]; either bound may be None."""
    return clip(input, min, max)


def clip_by_value(x, clip_value_min=None, clip_value_max=None):
    """``clamp`` of a Tensor, or of each Tensor in a list or tuple (returned as the same kind of sequence)."""
    if isinstance(x, (list, tuple)):
        return type(x)(clip(t, clip_value_min, clip_value_max) for t in x)
    return clip(x, clip_value_min, clip_value_max)


def clip_by_global_norm(x, clip_norm: float = 1.0, use_norm=None):
    """Scale every Tensor in ``x`` by clip_norm / max(global_norm, clip_norm), the global norm being the 2-norm of
    all their elements together (or ``use_norm`` when given)."""
    tensors = tuple(x) if isinstance(x, (list, tuple)) else (x,)
    if clip_norm <= 0:
        raise ValueError(f"funcad.ops.clip_by_global_norm: clip_norm must be positive, got {clip_norm}")
    if use_norm is None:
        use_norm = norm(concat([reshape(t, (-1,)) for t in tensors]))
    scale = divide(clip_norm, maximum(use_norm, clip_norm))
    clipped = tuple(multiply(t, cast(scale, t.dtype)) for t in tensors)
    return type(x)(clipped) if isinstance(x, (list, tuple)) else clipped[0]


def clip_by_norm(x, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False):
    """Scale a Tensor, or every Tensor of a list or tuple, by ``max_norm / (total norm + 1e-6)`` where that is below 1,
    the total norm being the ``norm_type``-norm of all their elements together (``inf``: the largest magnitude), as
    MindSpore's ``ops.clip_by_norm`` and torch's ``clip_grad_norm_``."""
    tensors = tuple(x) if isinstance(x, (list, tuple)) else (x,)
    flat = concat([reshape(t, (-1,)) for t in tensors])
    total = _max(_abs(flat)) if norm_type == float("inf") else norm(flat, norm_type)
    if error_if_nonfinite and not bool(_isfinite(total)):
        raise RuntimeError(f"funcad.ops.clip_by_norm: the total norm of order {norm_type} is non-finite ({float(total)})")
    scale = minimum(divide(max_norm, add(total, 1e-6)), 1.0)
    clipped = tuple(multiply(t, cast(scale, t.dtype)) for t in tensors)
    return type(x)(clipped) if isinstance(x, (list, tuple)) else clipped[0]


def div(input, other, *, rounding_mode: str | None = None):  # noqa: A002
    """True division (integers give float32, as MindSpore's), or rounded toward -inf ("floor") or zero ("trunc")."""
    if rounding_mode is None:
        return divide(input, other)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        quotient = divide(input, other)
        rounded = where(less(quotient, 0), ceil(quotient), floor(quotient))
        return rounded if _is_float(input) or _is_float(other) else cast(rounded, np.result_type(_dtype(input), _dtype(other)))
    raise ValueError(f"funcad.ops.div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


def _dtype(x) -> np.dtype:
    return np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype


def _is_float(x) -> bool:
    return _dtype(x).kind == "f"


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):  # noqa: A002
    """|input - other| <= atol + rtol * |other| elementwise (a bool Tensor, no gradient)."""
    gap = _abs(subtract(input, other))
    close = logical_and(less_equal(gap, add(atol, multiply(rtol, _abs(other)))), _isfinite(gap))
    close = logical_or(close, equal(input, other))  # equal infinities
    if equal_nan:
        close = logical_or(close, logical_and(_isnan(input), _isnan(other)))
    return close


# -- splitting and slicing --------------------------------------------------------------------------------
def _axis_index(ndim: int, axis: int, index) -> tuple:
    return (slice(None),) * (axis % ndim) + (index,)


def chunk(input, chunks: int, axis: int = 0):  # noqa: A002
    """Split into ``chunks`` pieces of ceil(size / chunks) along ``axis``, the last one smaller (fewer pieces
    when the size does not need them all), as MindSpore's and torch's chunk."""
    shape = _shape_of(input)
    if not isinstance(chunks, int) or chunks <= 0:
        raise ValueError(f"funcad.ops.chunk: chunks must be a positive int, got {chunks!r}")
    if not shape:
        raise ValueError("funcad.ops.chunk: needs an input of at least one dimension, got a scalar")
    size = shape[axis]
    step = max(1, -(-size // chunks))
    return split(input, step, axis=axis)


def narrow(input, axis: int, start: int, length: int):  # noqa: A002
    """The slice [start, start + length) along ``axis``."""
    shape = _shape_of(input)
    size = shape[axis]
    if not (0 <= start <= size and 0 <= length <= size - start):
        raise ValueError(f"funcad.ops.narrow: start {start} and length {length} do not fit axis {axis} of shape {shape}")
    return getitem(input, _axis_index(len(shape), axis, slice(start, start + length)))


def roll(input, shifts, dims=None):  # noqa: A002
    """Shift elements by ``shifts`` along ``dims`` (the flattened input when None), wrapping around."""
    if dims is None:
        return reshape(roll(reshape(input, (-1,)), shifts, 0), _shape_of(input))
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"funcad.ops.roll: shifts {shifts} and dims {dims} must have the same length")
    out = input
    ndim = len(_shape_of(input))
    for shift, dim in zip(shifts, dims):
        size = _shape_of(input)[dim]
        cut = (-shift) % size if size else 0
        if cut:
            out = concat([getitem(out, _axis_index(ndim, dim, slice(cut, None))), getitem(out, _axis_index(ndim, dim, slice(0, cut)))], dim)
    return out


# -- products -----------------------------------------------------------------------------------------------
def bmm(input_x, mat2):
    """Batched matrix product of (..., n, m) and (..., m, p) stacks."""
    if len(_shape_of(input_x)) < 3 or len(_shape_of(mat2)) < 3:
        raise ValueError(f"funcad.ops.bmm: needs batches of matrices (3 dimensions or more), got {_shape_of(input_x)} and {_shape_of(mat2)}")
    return matmul(input_x, mat2)


def _scaled_sum(input, product, beta, alpha):  # noqa: A002
    product = product if alpha == 1 else multiply(product, alpha)
    if beta == 0:  # MindSpore and torch ignore input then (even its NaNs)
        return product
    return add(input if beta == 1 else multiply(input, beta), product)


def baddbmm(input, batch1, batch2, beta=1, alpha=1):  # noqa: A002
    """beta * input + alpha * bmm(batch1, batch2)."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):  # noqa: A002
    """beta * input + alpha * (mat1 @ mat2)."""
    if len(_shape_of(mat1)) != 2 or len(_shape_of(mat2)) != 2:
        raise ValueError(f"funcad.ops.addmm: mat1 and mat2 must be matrices, got {_shape_of(mat1)} and {_shape_of(mat2)}")
    return _scaled_sum(input, matmul(mat1, mat2), beta, alpha)


def mv(input, vec):  # noqa: A002
    """Matrix-vector product."""
    if len(_shape_of(input)) != 2 or len(_shape_of(vec)) != 1:
        raise ValueError(f"funcad.ops.mv: needs a matrix and a vector, got {_shape_of(input)} and {_shape_of(vec)}")
    return matmul(input, vec)


def bias_add(input_x, bias):
    """Add a per-channel bias along axis 1 (NCHW and (N, C) layouts)."""
    shape = _shape_of(input_x)
    if len(shape) < 2 or _shape_of(bias) != (shape[1],):
        raise ValueError(f"funcad.ops.bias_add: bias of shape {_shape_of(bias)} does not match channel axis 1 of {shape}")
    return add(input_x, reshape(bias, (shape[1],) + (1,) * (len(shape) - 2)))


# -- triangles and diagonals --------------------------------------------------------------------------------
def _triangle(op: str, input, diagonal: int, keep):  # noqa: A002
    shape = _shape_of(input)
    if len(shape) < 2:
        raise ValueError(f"funcad.ops.{op}: needs at least 2 dimensions, got shape {shape}")
    rows, cols = np.indices(shape[-2:])
    return where(keep(cols - rows, diagonal), input, Tensor._wrap(np.zeros((), _dtype(input))))


def tril(input, diagonal: int = 0):  # noqa: A002
    """The lower triangle of the last two axes (elements with col - row <= diagonal), zeros above."""
    return _triangle("tril", input, diagonal, np.less_equal)


def triu(input, diagonal: int = 0):  # noqa: A002
    """The upper triangle of the last two axes (elements with col - row >= diagonal), zeros below."""
    return _triangle("triu", input, diagonal, np.greater_equal)


def diag(input):  # noqa: A002
    """A tensor of rank 2k holding the rank-k input on its diagonal (a 1-D input gives a diagonal matrix)."""
    shape = _shape_of(input)
    if not shape:
        raise ValueError("funcad.ops.diag: needs an input of at least one dimension, got a scalar")
    n = _pymath.prod(shape)
    flat = broadcast_to(reshape(input, (1, n)), (n, n))
    square = where(np.eye(n, dtype=bool), flat, Tensor._wrap(np.zeros((), _dtype(input))))
    return reshape(square, shape + shape)


def diagflat(input, offset: int = 0):  # noqa: A002
    """The flattened input on diagonal ``offset`` of a square matrix (above the main one for offset > 0), zeros elsewhere."""
    n = _pymath.prod(_shape_of(input))
    m = n + _builtins.abs(offset)
    flat = reshape(input, (n,))
    if offset:
        flat = concat([flat, Tensor._wrap(np.zeros(m - n, _dtype(input)))], 0)
    # entry (r, c) of the diagonal holds flat[r] above the main diagonal, flat[c] below it
    values = broadcast_to(reshape(flat, (m, 1) if offset >= 0 else (1, m)), (m, m))
    return where(np.eye(m, k=offset, dtype=bool), values, Tensor._wrap(np.zeros((), _dtype(input))))


def trace(input):  # noqa: A002
    """Sum of the main diagonal of a matrix."""
    if len(_shape_of(input)) != 2:
        raise ValueError(f"funcad.ops.trace: needs a matrix, got shape {_shape_of(input)}")
    return einsum("ii->", input)


def cumprod(input, dim: int, dtype=None):  # noqa: A002
    """Running products along ``dim``; each is a ``prod`` of a prefix, so zeros get exact gradients."""
    if dtype is not None:
        input = cast(input, dtype)
    shape = _shape_of(input)
    ndim = len(shape)
    prefixes = [prod(getitem(input, _axis_index(ndim, dim, slice(0, k + 1))), axis=dim, keepdims=True) for k in range(shape[dim])]
    if not prefixes:
        return input
    out = concat(prefixes, dim)
    return out if out.dtype == _dtype(input) else cast(out, _dtype(input))  # numpy's prod widens int32; MindSpore keeps it


# -- selection, distances, shuffles ---------------------------------------------------------------------------
def select(cond, x, y):
    """``x`` where ``cond``, else ``y`` (MindSpore's name for ``where``)."""
    return where(cond, x, y)


def repeat_interleave(input, repeats, axis: int | None = None):  # noqa: A002
    """Each element repeated ``repeats`` times along ``axis`` (the flattened input without one)."""
    return repeat(input, repeats, axis)


def fill(type, shape, value):  # noqa: A002 - MindSpore's names
    """A Tensor of ``shape`` filled with ``value``, of dtype ``type``."""
    return full(shape, value, dtype=type)


def inner(input, other):  # noqa: A002
    """Sums of products over the last axes: shape input.shape[:-1] + other.shape[:-1] (a product for scalars)."""
    if not _shape_of(input) or not _shape_of(other):
        return multiply(input, other)
    return tensordot(input, other, ([-1], [-1]))


def dist(input, other, p: float = 2):  # noqa: A002
    """The p-norm of ``input - other`` over all elements."""
    return norm(reshape(subtract(input, other), (-1,)), ord=p)


def cdist(x1, x2, p: float = 2.0):
    """p-norm distances between the rows of (..., P, M) ``x1`` and (..., R, M) ``x2``: shape (..., P, R)."""
    s1, s2 = _shape_of(x1), _shape_of(x2)
    if len(s1) < 2 or len(s1) != len(s2) or s1[-1] != s2[-1]:
        raise ValueError(f"funcad.ops.cdist: needs (..., P, M) and (..., R, M) inputs of one rank, got {s1} and {s2}")
    return norm(subtract(expand_dims(x1, -2), expand_dims(x2, -3)), ord=p, axis=-1)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """The cosine of the angle between ``x1`` and ``x2`` (broadcast together) along ``dim``: each divided by its 2-norm,
    kept at least ``eps`` (torch's form), then their dot product."""
    n1 = maximum(norm(x1, axis=dim, keepdims=True), eps)
    n2 = maximum(norm(x2, axis=dim, keepdims=True), eps)
    return _sum(multiply(divide(x1, n1), divide(x2, n2)), axis=dim)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """The p-norm of ``x1 - x2 + eps`` along the last axis (``eps`` keeps the norm differentiable where the rows meet)."""
    return norm(add(subtract(x1, x2), eps), ord=p, axis=-1, keepdims=keepdim)


def any(input, axis=None, keep_dims: bool = False, *, keepdims: bool | None = None):  # noqa: A001, A002 - MindSpore's names
    """Whether any element along ``axis`` (all axes by default) is nonzero."""
    keep = keep_dims if keepdims is None else keepdims
    return greater(_sum(cast(not_equal(input, 0), np.int32), axis=axis, keepdims=keep), 0)


def all(input, axis=None, keep_dims: bool = False, *, keepdims: bool | None = None):  # noqa: A001, A002
    """Whether every element along ``axis`` (all axes by default) is nonzero."""
    keep = keep_dims if keepdims is None else keepdims
    return equal(_sum(cast(equal(input, 0), np.int32), axis=axis, keepdims=keep), 0)


def count_nonzero(input, axis=None, keep_dims: bool = False, dtype=np.int32, *, keepdims: bool | None = None):  # noqa: A002
    """The number of nonzero elements along ``axis`` (all axes when None or ``()``, MindSpore's default), as ``dtype``
    (MindSpore's int32 by default)."""
    axis = None if isinstance(axis, (tuple, list)) and not axis else axis
    return cast(_sum(cast(not_equal(input, 0), np.int64), axis=axis, keepdims=keep_dims if keepdims is None else keepdims), dtype)


def addcmul(input, tensor1, tensor2, value=1):  # noqa: A002
    """input + value * tensor1 * tensor2."""
    return add(input, multiply(multiply(tensor1, tensor2), value))


def addcdiv(input, tensor1, tensor2, value=1):  # noqa: A002
    """input + value * tensor1 / tensor2."""
    return add(input, multiply(divide(tensor1, tensor2), value))


def true_divide(dividend, divisor):
    return divide(dividend, divisor)


def rsub(input, other, alpha=1):  # noqa: A002
    """other - alpha * input."""
    return subtract(other, multiply(input, alpha))


def diff(x, n: int = 1, axis: int = -1, prepend=None, append=None):
    """The n-th forward difference along ``axis``, after joining ``prepend`` and ``append`` to ``x`` there."""
    parts = [p for p in (prepend, x, append) if p is not None]
    x = concat(parts, axis) if len(parts) > 1 else x
    axis = axis % len(_shape_of(x))
    for _ in range(int(n)):
        length = _shape_of(x)[axis]
        head = (slice(None),) * axis
        x = subtract(getitem(x, head + (slice(1, length),)), getitem(x, head + (slice(0, length - 1),)))
    return x


def nan_to_num(input, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None):  # noqa: A002
    """``input`` with NaN, +inf and -inf replaced (by 0 and the dtype's largest and lowest finite values by default)."""
    info = np.finfo(np.dtype(input.dtype))
    high = info.max if posinf is None else posinf
    low = info.min if neginf is None else neginf
    return where(_isnan(input), float(nan), where(equal(input, np.inf), float(high), where(equal(input, -np.inf), float(low), input)))


def movedim(x, source, destination):
    """``x`` with the axes at ``source`` moved to ``destination`` (ints or sequences of them); the rest keep their order."""
    ndim = len(_shape_of(x))
    sources = [int(a) % ndim for a in np.atleast_1d(source)]
    order = [a for a in range(ndim) if a not in sources]
    for position, axis in sorted(zip((int(a) % ndim for a in np.atleast_1d(destination)), sources)):
        order.insert(position, axis)
    return transpose(x, tuple(order))


moveaxis = movedim


def unflatten(input, axis: int, unflattened_size):  # noqa: A002
    """``input`` with ``axis`` split into ``unflattened_size`` (one entry may be -1)."""
    shape = _shape_of(input)
    axis = axis % len(shape)
    return reshape(input, shape[:axis] + tuple(unflattened_size) + shape[axis + 1:])


def vstack(inputs):
    """Rows stacked: 1-D inputs become rows, then all are joined along the first axis."""
    return concat([reshape(t, (1, -1)) if len(_shape_of(t)) == 1 else t for t in inputs], 0)


row_stack = vstack


def positive(input):  # noqa: A002
    """The input itself; MindSpore refuses booleans."""
    if _dtype(input) == np.bool_:
        raise TypeError("funcad.ops.positive: a bool input is not supported (as in MindSpore)")
    return input


def hstack(tensors):
    """Joined along the second axis (the first for 1-D inputs)."""
    return concat(list(tensors), 0 if _builtins.all(len(_shape_of(t)) == 1 for t in tensors) else 1)


def std_mean(input, axis=None, ddof: int = 0, keepdims: bool = False):  # noqa: A002
    """(standard deviation, mean) along ``axis``."""
    return std(input, axis, ddof, keepdims), mean(input, axis, keepdims=keepdims)


def var_mean(input, axis=None, ddof: int = 0, keepdims: bool = False):  # noqa: A002
    """(variance, mean) along ``axis``."""
    return var(input, axis, ddof, keepdims), mean(input, axis, keepdims=keepdims)


def inverse(input):  # noqa: A002
    """The inverse of each square matrix."""
    return decompositions.inv(input)


def cholesky(input_x, upper: bool = False):
    """The Cholesky factor of each symmetric positive definite matrix: lower L (L @ L^T), or upper U = L^T."""
    lower = decompositions.cholesky(input_x)
    return swapaxes(lower, -1, -2) if upper else lower


def qr(input, mode: str = "reduced"):  # noqa: A002
    """(Q, R) of each matrix, reduced (MindSpore's and torch's default; the only mode here)."""
    if mode != "reduced":
        raise NotImplementedError(f"funcad.ops.qr: mode={mode!r} is not supported (the reduced QR is)")
    return decompositions.qr(input)


def pixel_shuffle(input, upscale_factor: int):  # noqa: A002
    """(..., C * r * r, H, W) -> (..., C, H * r, W * r): each group of r * r channels becomes an r x r block of pixels."""
    shape, r = _shape_of(input), int(upscale_factor)
    if len(shape) < 3 or r < 1 or shape[-3] % (r * r):
        raise ValueError(f"funcad.ops.pixel_shuffle: needs (..., C * {r}^2, H, W) with upscale_factor >= 1, got shape {shape}")
    lead, (c, h, w) = shape[:-3], shape[-3:]
    k = len(lead)
    blocks = reshape(input, lead + (c // (r * r), r, r, h, w))
    order = tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2)
    return reshape(transpose(blocks, order), lead + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor: int):  # noqa: A002
    """(..., C, H * r, W * r) -> (..., C * r * r, H, W), the inverse of ``pixel_shuffle``."""
    shape, r = _shape_of(input), int(downscale_factor)
    if len(shape) < 3 or r < 1 or shape[-2] % r or shape[-1] % r:
        raise ValueError(f"funcad.ops.pixel_unshuffle: needs (..., C, H, W) with H and W divisible by downscale_factor {r}, got shape {shape}")
    lead, (c, h, w) = shape[:-3], shape[-3:]
    k = len(lead)
    pixels = reshape(input, lead + (c, h // r, r, w // r, r))
    order = tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3)
    return reshape(transpose(pixels, order), lead + (c * r * r, h // r, w // r))


def lerp(input, end, weight):  # noqa: A002
    """input + weight * (end - input)."""
    return add(input, multiply(weight, subtract(end, input)))
