"""MindSpore's linear algebra functions beyond the factorisations: svd (MindSpore's (s, u, v)), pinv, lstsq, matrix_power,
matrix_exp, cholesky_solve, lu_solve, eig, eigvals, orgqr, vander and block_diag.

Most are built from the differentiable factorisations and solves of ``funcad.ops.decompositions``, so their gradients,
batching rules and torch translations come from those ops. ``matrix_exp`` is a primitive of its own whose rules are
its Frechet derivative, computed as the matrix exponential of a block matrix (so every order differentiates); ``eig``'s
complex eigenpairs are constants.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.batching import leading_axes_rule
from funcad.core.primitive import Primitive, compiled_as_call, primitive
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.ops import decompositions
from funcad.ops.linalg import matmul
from funcad.ops.math import divide, greater, maximum, multiply, where
from funcad.ops.reduce import amax
from funcad.ops.shape import broadcast_to, cast, concat, expand_dims, getitem, reshape, stack, swapaxes, take_along_axis

FLOATS = (np.float16, np.float32, np.float64)  # the dtypes these functions (and histc's counts) keep


def _mT(x):
    return swapaxes(x, -1, -2)


def check_floats(op: str, x) -> None:
    """A TypeError naming ``funcad.<op>`` unless ``x`` holds float16, float32 or float64 values."""
    if np.dtype(x.dtype) not in FLOATS:
        raise TypeError(f"funcad.{op}: needs float16, float32 or float64 values, got {np.dtype(x.dtype)}")


def _matrices(op: str, x, square: bool = False) -> tuple:
    """``x``'s shape, checked to hold (square) matrices in its last two axes and floating values (``op``: the name
    after ``funcad.`` in errors, ``ops.`` being added to a bare one)."""
    op = op if "." in op else "ops." + op
    shape = _shape_of(x)
    if len(shape) < 2 or (square and shape[-1] != shape[-2]):
        kind = "square matrices" if square else "matrices"
        raise ValueError(f"funcad.{op}: needs {kind} in the last two axes, got shape {shape}")
    check_floats(op, x)
    return shape


def _eye(n: int, dtype) -> Tensor:
    return Tensor._wrap(np.eye(n, dtype=np.dtype(dtype)))


# -- SVD and what is built on it ---------------------------------------------------------------------------------
def svd(input, full_matrices: bool = False, compute_uv: bool = True):  # noqa: A002 - MindSpore's names
    """MindSpore's (s, u, v) with input = u @ diag(s) @ v^T (v, not its transpose), or s alone without ``compute_uv``.
    Each singular pair's signs are fixed (the largest entry of u's column is positive). ``full_matrices`` gives the
    same thin factors for square matrices; for others the extra columns are refused (their gradient is undefined)."""
    shape = _matrices("svd", input)
    if full_matrices and compute_uv and shape[-1] != shape[-2]:
        raise NotImplementedError(f"funcad.ops.svd: full_matrices=True is supported for square matrices only (the thin SVD "
                                  f"otherwise), got shape {shape}")
    if not compute_uv:
        return decompositions.svd(input, compute_uv=False)
    u, s, vh = decompositions.svd(input)
    return s, u, _mT(vh)


def pinv_from_svd(op: str, x, atol, rtol):
    """V diag(1/s) U^T, singular values at or below max(atol, rtol * the largest) counted as zero (``op`` names the
    caller in errors)."""
    shape = _matrices(op, x)
    s, u, v = svd(x)
    if rtol is None:
        rtol = max(shape[-2:]) * np.finfo(np.dtype(x.dtype)).eps if atol is None or np.all(np.asarray(atol) <= 0) else 0.0
    cutoff = multiply(expand_dims(rtol, -1), amax(s, -1, True))  # a tolerance per matrix: a Tensor of them broadcasts
    if atol is not None:  # against the batch, its own leading axes leading the result
        cutoff = maximum(cutoff, expand_dims(atol, -1))
    keep = greater(s, cutoff)
    inv_s = where(keep, divide(1.0, where(keep, s, 1.0)), 0.0)
    return matmul(v, multiply(expand_dims(inv_s, -1), _mT(u)))


def pinv(x, *, atol=None, rtol=None, hermitian: bool = False):
    """The Moore-Penrose pseudo-inverse of each matrix from its SVD, MindSpore's (and torch's) tolerances: singular
    values at or below max(atol, rtol * the largest) count as zero; rtol defaults to max(M, N) * eps unless atol > 0.
    With ``hermitian`` the matrix is read from its lower triangle (as MindSpore does)."""
    if hermitian:
        _matrices("pinv", x, square=True)
        n = _shape_of(x)[-1]
        lower = Tensor._wrap(np.tril(np.ones((n, n), bool), -1))
        x = where(lower, x, where(_mT(lower), _mT(x), x))
    return pinv_from_svd("ops.pinv", x, atol, rtol)


def lstsq(input, A):  # noqa: A002, N803 - MindSpore's names
    """The least-squares solution y of min ||input @ y - A|| for a full-rank (m, n) ``input`` with m >= n, the
    minimum-norm one for m < n: shape (n, k) for an (m, k) ``A``, (n,) for an (m,) one."""
    shape, rhs = _shape_of(input), _shape_of(A)
    if len(shape) != 2 or len(rhs) not in (1, 2) or rhs[0] != shape[0]:
        raise ValueError(f"funcad.ops.lstsq: needs an (m, n) input and an (m, k) or (m,) A, got shapes {shape} and {rhs}")
    if np.dtype(input.dtype) != np.dtype(A.dtype):
        raise TypeError(f"funcad.ops.lstsq: input and A must share a dtype, got {np.dtype(input.dtype)} and {np.dtype(A.dtype)}")
    return matmul(pinv_from_svd("ops.lstsq", input, None, None), A)


def matrix_power_of(op: str, a, n: int):
    """a @ a @ ... (n times) by repeated squaring; n = 0 gives identities, a negative n powers the inverse (``op``
    names the caller in errors)."""
    shape = _shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"funcad.{op}: needs square matrices in the last two axes, got shape {shape}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"funcad.{op}: the exponent must be an int, got {n!r}")
    if n == 0:
        return broadcast_to(_eye(shape[-1], a.dtype), shape)
    base, n = (decompositions.inv(a), -n) if n < 0 else (a, n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def matrix_power(input, n: int):  # noqa: A002
    """``input`` (..., n, n) to the integer power ``n`` (negative: of its inverse; 0: identities)."""
    return matrix_power_of("ops.matrix_power", input, n)


# -- the matrix exponential ----------------------------------------------------------------------------------------
@primitive(**compiled_as_call(torch="linalg.matrix_exp"))
def _matrix_exp(a):
    """scipy's scaling and squaring Pade exponential of each matrix, in float32 at least, rounded to a's dtype."""
    return scipy.linalg.expm(a.astype(np.promote_types(a.dtype, np.float32))).astype(a.dtype, copy=False)


def _frechet(a, e):
    """The Frechet derivative of the exponential at ``a`` in direction ``e``: the top-right block of
    exp([[a, e], [0, a]]) (Higham 2008, 10.6), itself a matrix exponential, so every order differentiates."""
    n = _shape_of(a)[-1]
    zeros = multiply(a, 0.0)
    block = concat([concat([a, e], -1), concat([zeros, a], -1)], -2)
    return getitem(_matrix_exp(block), (Ellipsis, slice(0, n), slice(n, 2 * n)))


_matrix_exp.defvjp(lambda g, ans, a: _frechet(_mT(a), g))
_matrix_exp.defjvp(lambda t, ans, a: _frechet(a, t))
_matrix_exp.declare(batch=leading_axes_rule(_matrix_exp))


def matrix_exp(input):  # noqa: A002
    """exp(input) = sum of input^k / k! for each square matrix (float16, float32 or float64)."""
    _matrices("matrix_exp", input, square=True)
    return _matrix_exp(input)


# -- solves from factors -------------------------------------------------------------------------------------------
def cholesky_solve(input, input2, upper: bool = False):  # noqa: A002
    """x with A @ x = input for A = L @ L^T given its Cholesky factor ``input2`` (lower L, or upper U = L^T with
    ``upper``; only that triangle is read): shapes (..., N, M) and (..., N, N)."""
    b, factor = _shape_of(input), _matrices("cholesky_solve", input2, square=True)
    if len(b) < 2 or b[-2] != factor[-1]:
        raise ValueError(f"funcad.ops.cholesky_solve: input of shape {b} does not fit a factor of shape {factor} "
                         f"(expected (..., {factor[-1]}, M))")
    n = factor[-1]
    lower = where(np.tril(np.ones((n, n), bool)), _mT(input2) if upper else input2, 0.0)  # only its triangle is read
    return decompositions.solve(_mT(lower), decompositions.solve(lower, input))


def _row_order(pivots: np.ndarray) -> np.ndarray:
    """LAPACK's 1-based row swaps (row i swapped with row pivots[i] in turn) as the order of rows they give."""
    order = np.broadcast_to(np.arange(pivots.shape[-1]), pivots.shape).copy()
    for index in np.ndindex(pivots.shape[:-1]):
        row = order[index]
        for i, p in enumerate(pivots[index] - 1):
            row[i], row[p] = row[p], row[i]
    return order


def lu_solve(b, LU_data, LU_pivots):  # noqa: N803 - MindSpore's names
    """x with A @ x = b for A = P @ L @ U given as LAPACK's (and torch.linalg.lu_factor's) compact LU matrix and its
    1-based int pivots: shapes (..., m, k), (..., m, m) and (..., m)."""
    shape, rhs = _matrices("lu_solve", LU_data, square=True), _shape_of(b)
    if isinstance(LU_pivots, Tracer):
        raise TypeError("funcad.ops.lu_solve: LU_pivots must be known values, not computed inside a traced function")
    pivots = np.asarray(LU_pivots._data if isinstance(LU_pivots, Tensor) else LU_pivots)
    m = shape[-1]
    if len(rhs) < 2 or rhs[-2] != m or pivots.shape[-1:] != (m,) or pivots.dtype.kind not in "iu":
        raise ValueError(f"funcad.ops.lu_solve: needs b (..., {m}, k) and int LU_pivots (..., {m}) for LU_data of shape {shape}, "
                         f"got {rhs} and {pivots.dtype}{pivots.shape}")
    if pivots.size and (pivots.min() < 1 or pivots.max() > m):
        raise ValueError(f"funcad.ops.lu_solve: LU_pivots must lie in [1, {m}] (1-based, as LAPACK's), got {pivots.min()}..{pivots.max()}")
    order = _row_order(pivots)
    lead = np.broadcast_shapes(rhs[:-2], shape[:-2], pivots.shape[:-1])
    rows = take_along_axis(broadcast_to(b, lead + tuple(rhs[-2:])), np.broadcast_to(order, lead + (m,))[..., None], -2)
    strict = Tensor._wrap(np.tril(np.ones((m, m), bool), -1))
    unit_lower = where(strict, LU_data, _eye(m, LU_data.dtype))
    upper = where(np.triu(np.ones((m, m), bool)), LU_data, 0.0)
    return decompositions.solve(upper, decompositions.solve(unit_lower, rows))


# -- eigenpairs of general matrices (constants) ---------------------------------------------------------------------
def _complex_eig(a):
    values, vectors = np.linalg.eig(a)
    kind = np.result_type(a.dtype, np.complex64)
    return values.astype(kind, copy=False), vectors.astype(kind, copy=False)


_eig_values, _eig_vectors = (Primitive(f"eig_{name}", lambda a, i=i: _complex_eig(a)[i], **compiled_as_call(complex=True))
                             for i, name in enumerate(("values", "vectors")))
for _index, _prim in enumerate((_eig_values, _eig_vectors)):
    _prim.__doc__ = f"Output {_index} of numpy.linalg.eig, always complex (as MindSpore's and torch's)."
    _prim.nondifferentiable().declare(batch=leading_axes_rule(_prim), torch=lambda torch, a, i=_index: torch.linalg.eig(a)[i])


def _eig_input(op: str, a) -> None:
    shape = _shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"funcad.ops.{op}: needs square matrices in the last two axes, got shape {shape}")
    if np.dtype(a.dtype) not in (np.float32, np.float64, np.complex64, np.complex128):
        raise TypeError(f"funcad.ops.{op}: needs float32, float64, complex64 or complex128 values, got {np.dtype(a.dtype)}")


def eig(A):  # noqa: N803 - MindSpore's name
    """(eigenvalues, eigenvectors as unit columns) of each square matrix, complex64 for float32 input and complex128
    for float64, as constants. Their order and phases are LAPACK's (geev), as numpy's and torch's."""
    _eig_input("eig", A)
    return _eig_values(A), _eig_vectors(A)


def eigvals(A):  # noqa: N803
    """The (complex, constant) eigenvalues of each square matrix, in ``eig``'s order."""
    _eig_input("eigvals", A)
    return _eig_values(A)


# -- Householder products, Vandermonde and block-diagonal matrices --------------------------------------------------
def orgqr(input, input2):  # noqa: A002
    """The first n columns of the product H_1 ... H_k of Householder reflections H_i = I - tau_i v_i v_i^T (LAPACK's
    orgqr, torch's householder_product): v_i is column i of ``input`` (..., m, n) below the diagonal, with a 1 on
    it; ``input2`` (..., k) holds tau, k <= n <= m."""
    shape, tau = _matrices("orgqr", input), _shape_of(input2)
    m, n = shape[-2:]
    if m < n or not tau or tau[-1] > n or tuple(tau[:-1]) != tuple(shape[:-2]):
        raise ValueError(f"funcad.ops.orgqr: needs input (..., m, n) with m >= n and input2 (..., k) with k <= n, got shapes {shape} and {tau}")
    reflectors = where(np.tril(np.ones((m, n), bool), -1), input, _eye(m, input.dtype)[:, :n])
    q = broadcast_to(_eye(m, input.dtype), tuple(shape[:-2]) + (m, m))
    for i in range(tau[-1]):
        v = getitem(reflectors, (Ellipsis, slice(None), slice(i, i + 1)))  # (..., m, 1)
        scale = expand_dims(getitem(input2, (Ellipsis, slice(i, i + 1))), -1)  # (..., 1, 1)
        q = q - multiply(scale, matmul(matmul(q, v), _mT(v)))
    return getitem(q, (Ellipsis, slice(None), slice(0, n)))


def vander(x, N: int | None = None):  # noqa: N803 - MindSpore's name
    """The Vandermonde matrix of 1-D ``x``: column j is x^(N - 1 - j) (decreasing powers, as numpy's), N = len(x) by
    default. Powers are products, so the gradient is defined at 0 too."""
    shape = _shape_of(x)
    if len(shape) != 1:
        raise ValueError(f"funcad.ops.vander: needs a 1-D input, got shape {shape}")
    n = shape[0] if N is None else N
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"funcad.ops.vander: N must be a non-negative int, got {N!r}")
    columns = [Tensor._wrap(np.ones(shape, np.dtype(x.dtype)))] if n else []
    for _ in range(1, n):
        columns.append(multiply(columns[-1], x))
    if not columns:
        return Tensor._wrap(np.zeros((shape[0], 0), np.dtype(x.dtype)))
    return stack(columns[::-1], 1)


def block_diag(*inputs):
    """The inputs (0-D, 1-D as one row, or 2-D) along the diagonal of one matrix, zeros elsewhere; the dtype is the
    inputs' common one."""
    if not inputs:
        raise ValueError("funcad.ops.block_diag: needs at least one input")
    blocks = []
    for i, t in enumerate(inputs):
        shape = _shape_of(t)
        if len(shape) > 2:
            raise ValueError(f"funcad.ops.block_diag: input {i} has shape {shape}; inputs must have at most 2 dimensions")
        blocks.append(reshape(t, (1, 1) if not shape else (1, shape[0]) if len(shape) == 1 else shape))
    dtype = np.result_type(*(np.dtype(b.dtype) for b in blocks))
    widths = [_shape_of(b)[1] for b in blocks]
    total, start, rows = sum(widths), 0, []
    for b, w in zip(blocks, widths):
        height = _shape_of(b)[0]
        parts = [Tensor._wrap(np.zeros((height, start), dtype)), cast(b, dtype), Tensor._wrap(np.zeros((height, total - start - w), dtype))]
        rows.append(concat(parts, 1))
        start += w
    return concat(rows, 0)
