"""More of MindSpore 2.x's functional names: shape utilities, masks, products and reductions that are short exact
composites of funcad ops (so their gradients, jit lowering and batching come from those), and a few integer and
predicate functions whose outputs are constants.

Argument names and defaults are MindSpore's.
"""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.tensor import Tensor
from funcad.ops import decompositions
from funcad.ops.aliases import hstack
from funcad.ops.creation import arange, zeros_like
from funcad.ops.linalg import einsum, matmul, outer
from funcad.ops.math import (
    abs,
    add,
    constant_ufunc,
    equal,
    greater,
    isinf,
    isnan,
    less,
    log,
    logical_and,
    maximum,
    minimum,
    multiply,
    power,
    sign,
    subtract,
    where,
)
from funcad.ops.reduce import amax, amin, sum
from funcad.ops.sampling import rand, randn
from funcad.ops.shape import cast, concat, expand_dims, flip, getitem, reshape, split_numpy, stack, swapaxes, transpose
from funcad.ops.slicing import unstack
from funcad.ops.transcendental import logaddexp, trunc

absolute = abs
sgn = sign


def unbind(input, dim: int = 0) -> tuple:  # noqa: A002 - MindSpore's names
    """The slices along ``dim``, that axis removed: ``ops.unstack`` with MindSpore 2.x's (and torch's) name ``dim``."""
    return tuple(unstack(input, dim))


swapdims = swapaxes
ger = outer
gcd = constant_ufunc("gcd", 2, "gcd")
lcm = constant_ufunc("lcm", 2, "lcm")
bitwise_and, bitwise_or, bitwise_xor = (constant_ufunc(name, 2, name) for name in ("bitwise_and", "bitwise_or", "bitwise_xor"))
invert = constant_ufunc("invert", 1, "bitwise_not")  # MindSpore's ops.invert: every bit flipped (not, for booleans)
signbit = constant_ufunc("signbit", 1, "signbit")


def t(input):  # noqa: A002 - MindSpore's names
    """A matrix transposed (a vector as it is)."""
    return transpose(input) if len(_shape_of(input)) == 2 else input


def adjoint(x):
    """The conjugate transpose of the last two axes (real inputs: the transpose)."""
    return swapaxes(x, -1, -2)


def ravel(input):  # noqa: A002
    return reshape(input, (-1,))


def numel(input) -> int:  # noqa: A002
    return int(np.prod(_shape_of(input), dtype=np.int64))


def rank(input_x) -> int:
    return len(_shape_of(input_x))


def shape(input_x) -> tuple:
    """The shape as a tuple of ints (MindSpore's ``ops.shape``; ``funcad.ops.shape`` the module is imported by path)."""
    return tuple(_shape_of(input_x))


def size(input_x) -> int:
    """The number of elements."""
    return int(np.prod(_shape_of(input_x), dtype=np.int64))


def dtype(input_x):
    """The dtype (a ``funcad`` dtype, as MindSpore's ``ops.dtype`` gives)."""
    return input_x.dtype if isinstance(input_x, Tensor) else Tensor(np.asarray(input_x)).dtype


def addn(x):
    """The sum of a list or tuple of Tensors of one shape, added in order."""
    total = x[0]
    for item in x[1:]:
        total = add(total, item)
    return total


def fliplr(input):  # noqa: A002
    return flip(input, 1)


def flipud(input):  # noqa: A002
    return flip(input, 0)


def rot90(input, k: int = 1, dims=(0, 1)):  # noqa: A002
    """``input`` turned by k quarter turns from the first of ``dims`` toward the second (numpy's and torch's rot90)."""
    a, b = dims
    k %= 4
    if k == 1:
        return swapaxes(flip(input, b), a, b)
    if k == 2:
        return flip(input, (a, b))
    if k == 3:
        return flip(swapaxes(input, a, b), b)
    return input


def _at_least(tensors, rank_: int, shape_for):
    """Each input with at least ``rank_`` axes (``shape_for`` places a smaller one's axes); one input gives one result."""
    single = not isinstance(tensors, (list, tuple))
    out = [x if len(_shape_of(x)) >= rank_ else reshape(x, shape_for(_shape_of(x))) for x in ([tensors] if single else tensors)]
    return out[0] if single else tuple(out)


def atleast_1d(inputs):
    return _at_least(inputs, 1, lambda s: (1,))


def atleast_2d(inputs):
    return _at_least(inputs, 2, lambda s: (1,) + (s or (1,)))


def atleast_3d(inputs):
    return _at_least(inputs, 3, lambda s: (1, 1, 1) if not s else (1, s[0], 1) if len(s) == 1 else s + (1,))


def dstack(inputs):
    """Joined along the third axis, each input made at least 3-D."""
    return concat(list(atleast_3d(tuple(inputs))), 2)


def column_stack(tensors):
    """1-D inputs as columns, joined with the 2-D ones along the second axis."""
    return hstack([reshape(x, (-1, 1)) if len(_shape_of(x)) == 1 else x for x in tensors])


def _split_on(op: str, axis: int, input, indices_or_sections):  # noqa: A002
    shape = _shape_of(input)
    if isinstance(indices_or_sections, (int, np.integer)):
        n = int(indices_or_sections)
        if shape[axis] % n:
            raise ValueError(f"funcad.ops.{op}: axis {axis} of shape {shape} does not split into {n} equal parts")
        indices_or_sections = list(np.arange(1, n) * (shape[axis] // n))
    return tuple(split_numpy(input, [int(i) for i in indices_or_sections], axis))


def tensor_split(input, indices_or_sections, axis: int = 0) -> tuple:  # noqa: A002 - MindSpore's names
    """MindSpore 2.x's ``ops.tensor_split`` (numpy.array_split): ``n`` sections, the first ``size % n`` of them one
    element longer, or the pieces between the listed indices."""
    shape = _shape_of(input)
    if not shape:
        raise ValueError("funcad.ops.tensor_split: needs an input of at least one dimension, got a scalar")
    if isinstance(indices_or_sections, (int, np.integer)) and not isinstance(indices_or_sections, bool):
        n = int(indices_or_sections)
        if n <= 0:
            raise ValueError(f"funcad.ops.tensor_split: the number of sections must be positive, got {n}")
        size = shape[axis]
        indices_or_sections = np.cumsum(size // n + (np.arange(n) < size % n))[:-1].tolist()
    return tuple(split_numpy(input, [int(i) for i in indices_or_sections], axis))


def hsplit(input, indices_or_sections):  # noqa: A002
    return _split_on("hsplit", 0 if len(_shape_of(input)) == 1 else 1, input, indices_or_sections)


def vsplit(input, indices_or_sections):  # noqa: A002
    return _split_on("vsplit", 0, input, indices_or_sections)


def dsplit(input, indices_or_sections):  # noqa: A002
    return _split_on("dsplit", 2, input, indices_or_sections)


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1):  # noqa: A002
    """The diagonal (``offset`` above the main one) of the matrices in ``dim1``, ``dim2``, as a new last axis."""
    ndim = len(_shape_of(input))
    dim1, dim2 = dim1 % ndim, dim2 % ndim
    rest = [a for a in np.arange(ndim).tolist() if a not in (dim1, dim2)]
    x = transpose(input, (*rest, dim1, dim2))
    n, m = _shape_of(x)[-2:]
    rows = np.arange(max(0, -offset), min(n, m - offset))
    return getitem(x, (Ellipsis, rows, rows + offset))


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1):  # noqa: A002
    """Matrices with the last axis of ``input`` on their diagonal (``offset`` above the main one), zeros elsewhere."""
    if (dim1, dim2) != (-2, -1):
        raise NotImplementedError(f"funcad.ops.diag_embed: dim1={dim1}, dim2={dim2}: only the last two axes (-2, -1) are supported")
    n = _shape_of(input)[-1] + (offset if offset >= 0 else -offset)
    basis = np.zeros((_shape_of(input)[-1], n, n), np.dtype(input.dtype))
    rows = np.arange(_shape_of(input)[-1])
    basis[rows, rows + max(0, -offset), rows + max(0, offset)] = 1
    return einsum("...k,kij->...ij", input, basis)


def matrix_band_part(x, lower: int, upper: int):
    """The band of each matrix: ``lower`` diagonals below the main one and ``upper`` above (a negative count: all)."""
    n, m = _shape_of(x)[-2:]
    i, j = np.arange(n)[:, None], np.arange(m)[None, :]
    keep = ((lower < 0) | (i - j <= lower)) & ((upper < 0) | (j - i <= upper))
    return where(keep, x, zeros_like(x))


def sequence_mask(lengths, maxlen: int | None = None):
    """mask[..., j] = j < lengths[...]: True over each sequence's length (``maxlen`` default: the longest)."""
    limit = int(np.max(np.asarray(lengths))) if maxlen is None else int(maxlen)
    return less(arange(limit), expand_dims(lengths, -1))


def kron(input, other):  # noqa: A002
    """The Kronecker product of two matrices."""
    (a, b), (c, d) = _shape_of(input), _shape_of(other)
    return reshape(einsum("ij,kl->ikjl", input, other), (a * c, b * d))


def cross(input, other, dim=None):  # noqa: A002
    """The cross product of 3-vectors along ``dim`` (default: the first axis of size 3)."""
    shape = _shape_of(input)
    axis = next(i for i, s in enumerate(shape) if s == 3) if dim is None else dim % len(shape)
    a, b = unstack(input, axis), unstack(other, axis)
    return stack([subtract(multiply(a[1], b[2]), multiply(a[2], b[1])), subtract(multiply(a[2], b[0]), multiply(a[0], b[2])),
                  subtract(multiply(a[0], b[1]), multiply(a[1], b[0]))], axis)


def addmv(input, mat, vec, beta=1, alpha=1):  # noqa: A002
    """beta * input + alpha * (mat @ vec)."""
    return add(multiply(input, beta), multiply(matmul(mat, vec), alpha))


def addr(x, vec1, vec2, beta=1, alpha=1):
    """beta * x + alpha * outer(vec1, vec2)."""
    return add(multiply(x, beta), multiply(outer(vec1, vec2), alpha))


def vecdot(x, y, *, axis: int = -1):
    """The dot product of ``x`` and ``y`` (broadcast together) along ``axis``."""
    return sum(multiply(x, y), axis=axis)


def frac(x):
    """x - trunc(x): the fractional part, with x's sign."""
    return subtract(x, trunc(x))


def fmax(input, other):  # noqa: A002
    """The larger of the two, a NaN on one side ignored."""
    return where(isnan(input), other, where(isnan(other), input, maximum(input, other)))


def fmin(input, other):  # noqa: A002
    """The smaller of the two, a NaN on one side ignored."""
    return where(isnan(input), other, where(isnan(other), input, minimum(input, other)))


def float_power(input, exponent):  # noqa: A002
    """input ** exponent computed in float64."""
    return power(cast(input, np.float64), float(exponent) if isinstance(exponent, (int, float)) else cast(exponent, np.float64))


def ldexp(x, other):
    """x * 2 ** other."""
    return multiply(x, power(2.0, float(other) if isinstance(other, (int, float)) else cast(other, np.dtype(x.dtype))))


def logaddexp2(input, other):  # noqa: A002
    """log2(2**input + 2**other)."""
    ln2 = float(np.log(2.0))
    return multiply(logaddexp(multiply(input, ln2), multiply(other, ln2)), 1.0 / ln2)


def heaviside(input, values):  # noqa: A002
    """0 where input < 0, 1 where input > 0, ``values`` where input is 0 (a constant)."""
    return where(equal(input, 0), values, cast(greater(input, 0), np.dtype(input.dtype)))


def isposinf(input):  # noqa: A002
    return logical_and(isinf(input), greater(input, 0))


def isneginf(input):  # noqa: A002
    return logical_and(isinf(input), less(input, 0))


def is_floating_point(input) -> bool:  # noqa: A002
    return np.dtype(input.dtype).kind == "f"


def is_complex(input) -> bool:  # noqa: A002
    return np.dtype(input.dtype).kind == "c"


def nansum(input, axis=None, keepdims: bool = False, *, dtype=None):  # noqa: A002
    """The sum with NaNs counted as zero."""
    total = sum(where(isnan(input), 0.0, input), axis=axis, keepdims=keepdims)
    return total if dtype is None else cast(total, dtype)


def nanmean(input, axis=None, keepdims: bool = False, *, dtype=None):  # noqa: A002
    """The mean of the elements that are not NaN; only floating inputs (which alone can hold NaN), as in MindSpore."""
    if np.dtype(input.dtype).kind != "f":
        raise TypeError(f"funcad.ops.nanmean: the input must be floating point, got {np.dtype(input.dtype)}")
    counted = sum(cast(~isnan(input), np.dtype(input.dtype)), axis=axis, keepdims=keepdims)
    mean_ = nansum(input, axis, keepdims) / counted
    return mean_ if dtype is None else cast(mean_, dtype)


def aminmax(input, *, axis: int = 0, keepdims: bool = False):  # noqa: A002
    """(minimum, maximum) along ``axis``."""
    return amin(input, axis, keepdims), amax(input, axis, keepdims)


def trapz(y, x=None, *, dx=None, dim: int = -1):
    """The trapezoidal rule along ``dim``: spacing from the sample points ``x``, else ``dx`` (default 1)."""
    n = _shape_of(y)[dim]
    head = (slice(None),) * (dim % len(_shape_of(y)))
    pairs = add(getitem(y, head + (slice(1, n),)), getitem(y, head + (slice(0, n - 1),)))
    if x is not None:
        m = _shape_of(x)[dim]
        xhead = (slice(None),) * (dim % len(_shape_of(x)))
        steps = subtract(getitem(x, xhead + (slice(1, m),)), getitem(x, xhead + (slice(0, m - 1),)))
        return sum(multiply(pairs, steps), axis=dim) * 0.5
    return sum(pairs, axis=dim) * (0.5 * (1.0 if dx is None else dx))


def logdet(input):  # noqa: A002
    """log(det(input)): NaN for a negative determinant."""
    return log(decompositions.det(input))


def repeat_elements(x, rep: int, axis: int = 0):
    """Each slice along ``axis`` repeated ``rep`` times in place (MindSpore's repeat_interleave)."""
    shape = _shape_of(x)
    axis %= len(shape)
    tiled = stack([x] * rep, axis + 1)
    return reshape(tiled, shape[:axis] + (shape[axis] * rep,) + shape[axis + 1:])


def range(start, end, step):  # noqa: A001 - MindSpore's name
    """[start, end) in steps of ``step``."""
    return arange(start, end, step)


def rand_like(input, seed: int | None = None, *, dtype=None):  # noqa: A002
    return rand(*_shape_of(input), dtype=dtype or input.dtype, seed=seed)


def randn_like(input, seed: int | None = None, *, dtype=None):  # noqa: A002
    return randn(*_shape_of(input), dtype=dtype or input.dtype, seed=seed)


def bernoulli(input, p=0.5, seed: int | None = None):  # noqa: A002
    """Ones with probability ``p`` and zeros, of ``input``'s shape and dtype (a constant)."""
    return cast(less(rand(*_shape_of(input), dtype=np.float32, seed=seed), p), np.dtype(input.dtype))


def index_fill(x, axis: int, index, value):
    """``x`` with the slices along ``axis`` at ``index`` set to ``value``."""
    shape = _shape_of(x)
    axis %= len(shape)
    mask = np.zeros(shape[axis], bool)
    mask[np.asarray(index._data if isinstance(index, Tensor) else index)] = True
    return where(mask.reshape((-1,) + (1,) * (len(shape) - axis - 1)), value, x)


def bidense(input1, input2, weight, bias=None):
    """input1 @ weight[o] @ input2 for each output channel o, plus ``bias``: weight (out, in1, in2)."""
    y = einsum("...i,oij,...j->...o", input1, weight, input2)
    return y if bias is None else add(y, bias)
