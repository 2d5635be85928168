"""Matrix functions and decompositions with reverse and forward rules: inv, solve, det, slogdet, cholesky, qr, eigh, svd.

All act on the last two axes and batch over the others (numpy.linalg's convention), so under vmap the batch axis
just moves to the front (solve's operands also get their stacks of matrices aligned). A decomposition with several
outputs is one primitive per output (eigh's values and vectors, svd's U, S and Vh), each computing the same numpy
factorisation; their rules are the standard ones (Giles 2008; Murray 2016 for Cholesky; Townsend 2016 for the SVD).
Rules assume distinct eigenvalues and singular values (where the derivative exists).
"""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.batching import batch_first, leading_axes_rule
from funcad.core.primitive import Primitive, compiled_as_call, primitive
from funcad.core.tensor import Tensor
from funcad.ops.linalg import einsum, matmul
from funcad.ops.math import multiply, negative, subtract, where
from funcad.ops.shape import expand_dims, reshape, swapaxes


def _factor(name: str, factorise, index: int) -> Primitive:
    """A primitive for output ``index`` of the numpy factorisation ``factorise`` (one per output, as rules are)."""
    prim = Primitive(name, lambda a: factorise(a)[index], **compiled_as_call())
    prim.__doc__ = f"Output {index} of numpy.linalg.{factorise.__name__}."
    return prim


def _mT(x):
    return swapaxes(x, -1, -2)


def _square(op: str, a) -> None:
    shape = _shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"funcad.ops.{op}: needs square matrices in the last two axes, got shape {shape}")


def _diag_embed(v):
    """(..., n) -> (..., n, n) with v on the diagonal."""
    n = _shape_of(v)[-1]
    return where(np.eye(n, dtype=bool), expand_dims(v, -1), Tensor._wrap(np.zeros((), np.dtype(v.dtype))))


def _diagonal(m):
    return einsum("...ii->...i", m)


def _off_diagonal_reciprocal(w):
    """F[..., i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it."""
    gaps = subtract(expand_dims(w, -2), expand_dims(w, -1))
    off = ~np.eye(_shape_of(w)[-1], dtype=bool)
    return where(off, 1.0 / where(off, gaps, 1.0), 0.0)


# -- inverse and solve --------------------------------------------------------------------------------------
@primitive(**compiled_as_call())
def _inv(a):
    return np.linalg.inv(a)


_inv.defvjp(lambda g, ans, a: negative(matmul(_mT(ans), matmul(g, _mT(ans)))))
_inv.defjvp(lambda t, ans, a: negative(matmul(ans, matmul(t, ans))))


def inv(a):
    """The inverse of each square matrix."""
    _square("inv", a)
    return _inv(a)


def _as_columns(b, vector: bool):
    return expand_dims(b, -1) if vector else b


def _from_columns(x, vector: bool):
    return x[..., 0] if vector else x


@primitive(**compiled_as_call())
def _solve(a, b, vector):
    if vector:
        return np.linalg.solve(a, b[..., None])[..., 0]
    return np.linalg.solve(a, b)


def _solve_da(g, ans, a, b, vector):
    gb = _solve(_mT(a), g, vector)
    return negative(matmul(_as_columns(gb, vector), _mT(_as_columns(ans, vector))))


_solve.defvjp(_solve_da, lambda g, ans, a, b, vector: _solve(_mT(a), g, vector), None)
_solve.defjvp(lambda t, ans, a, b, vector: negative(_solve(a, _from_columns(matmul(t, _as_columns(ans, vector)), vector), vector)),
              lambda t, ans, a, b, vector: _solve(a, t, vector), None)


def _solve_rule(args, dims, /):
    """Both operands batch-first, each member's stack of matrices padded with unit axes to the longer one's, so
    numpy's right-aligned broadcasting pairs members with members and stacks with stacks."""
    (a, b, vector), (da, db) = args, dims[:2]
    lead_a = len(_shape_of(a)) - (da is not None) - 2
    lead_b = len(_shape_of(b)) - (db is not None) - (1 if vector else 2)
    lead = max(lead_a, lead_b)

    def aligned(x, dim, own):
        if dim is None or own == lead:
            return batch_first(x, dim)
        x = batch_first(x, dim)
        return reshape(x, (x.shape[0],) + (1,) * (lead - own) + tuple(x.shape[1:]))

    return _solve(aligned(a, da, lead_a), aligned(b, db, lead_b), vector), 0


_solve.declare(batch=_solve_rule)


def solve(a, b):
    """x with a @ x = b; ``b`` is a vector (..., n) when it has one axis, else a stack of (n, k) matrices."""
    _square("solve", a)
    n = _shape_of(a)[-1]
    vector = len(_shape_of(b)) == 1
    if _shape_of(b)[-1 if vector else -2] != n:
        raise ValueError(f"funcad.ops.solve: b of shape {_shape_of(b)} does not fit a of shape {_shape_of(a)}")
    return _solve(a, b, vector)


# -- determinants -------------------------------------------------------------------------------------------
@primitive(**compiled_as_call())
def _det(a):
    return np.linalg.det(a)


def _trace_of_inv_times(a, t):
    return einsum("...ij,...ji->...", inv(a), t)


_det.defvjp(lambda g, ans, a: multiply(expand_dims(expand_dims(multiply(g, ans), -1), -1), _mT(inv(a))))
_det.defjvp(lambda t, ans, a: multiply(ans, _trace_of_inv_times(a, t)))


def det(a):
    """The determinant of each square matrix."""
    _square("det", a)
    return _det(a)


_det_sign, _logabsdet = (_factor(name, np.linalg.slogdet, i) for i, name in enumerate(("det_sign", "logabsdet")))


_logabsdet.defvjp(lambda g, ans, a: multiply(expand_dims(expand_dims(g, -1), -1), _mT(inv(a))))
_logabsdet.defjvp(lambda t, ans, a: _trace_of_inv_times(a, t))
_det_sign.nondifferentiable()


def slogdet(a):
    """(sign, log|det|) of each square matrix; the sign is a constant."""
    _square("slogdet", a)
    return _det_sign(a), _logabsdet(a)


# -- Cholesky -----------------------------------------------------------------------------------------------
def _phi(m):
    """The lower triangle with the diagonal halved."""
    n = _shape_of(m)[-1]
    weights = np.tril(np.ones((n, n))) - 0.5 * np.eye(n)
    return multiply(m, Tensor._wrap(weights.astype(np.dtype(m.dtype))))


@primitive(**compiled_as_call())
def _cholesky(a):
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError as err:
        raise np.linalg.LinAlgError(f"funcad.ops.cholesky: the matrix is not positive definite ({err})") from None


def _cholesky_vjp(g, ans, a):
    l_inv = inv(ans)
    s = matmul(_mT(l_inv), matmul(_phi(matmul(_mT(ans), g)), l_inv))
    return multiply(0.5, s + _mT(s))


_cholesky.defvjp(_cholesky_vjp)
_cholesky.defjvp(lambda t, ans, a: matmul(ans, _phi(matmul(inv(ans), matmul(multiply(0.5, t + _mT(t)), _mT(inv(ans)))))))


def cholesky(a):
    """The lower-triangular L with L @ L.T = a for each symmetric positive definite matrix (read from its lower
    triangle, as numpy does; the gradient is the symmetric one)."""
    _square("cholesky", a)
    return _cholesky(a)


# -- QR (reduced, rows >= columns) ---------------------------------------------------------------------------
_qr_q, _qr_r = (_factor(name, np.linalg.qr, i) for i, name in enumerate(("qr_q", "qr_r")))


def _qr_vjp(gq, gr, a):
    """PyTorch's reduced-QR cotangent (rows >= columns): [gQ + Q sym(triu(gR R^T - Q^T gQ))] R^-T."""
    q, r = _qr_q(a), _qr_r(a)
    m = matmul(gr, _mT(r)) if gr is not None else negative(matmul(_mT(q), gq))
    n = _shape_of(r)[-1]
    upper = multiply(m, Tensor._wrap(np.triu(np.ones((n, n))).astype(np.dtype(m.dtype))))
    sym = upper + _mT(upper)
    sym = sym - multiply(0.5, _diag_embed(_diagonal(sym)))
    total = matmul(q, sym)
    if gq is not None:
        total = total + gq
    return matmul(total, _mT(inv(r)))


def _qr_jvp_parts(t, a):
    """(dQ, dR): with X = Q^T t R^-1 and O = the skew part of X's strict lower triangle, dQ = Q (O - X) + t R^-1
    and dR = (X - O) R (JAX's rule)."""
    q, r = _qr_q(a), _qr_r(a)
    t_rinv = matmul(t, inv(r))
    x = matmul(_mT(q), t_rinv)
    n = _shape_of(r)[-1]
    strict = multiply(x, Tensor._wrap(np.tril(np.ones((n, n)), -1).astype(np.dtype(x.dtype))))
    skew = strict - _mT(strict)
    return matmul(q, skew - x) + t_rinv, matmul(x - skew, r)


_qr_q.defvjp(lambda g, ans, a: _qr_vjp(g, None, a))
_qr_r.defvjp(lambda g, ans, a: _qr_vjp(None, g, a))
_qr_q.defjvp(lambda t, ans, a: _qr_jvp_parts(t, a)[0])
_qr_r.defjvp(lambda t, ans, a: _qr_jvp_parts(t, a)[1])


def qr(a):
    """The reduced QR factorisation (Q, R) of each matrix with at least as many rows as columns."""
    shape = _shape_of(a)
    if len(shape) < 2 or shape[-2] < shape[-1]:
        raise ValueError(f"funcad.ops.qr: needs matrices with rows >= columns in the last two axes, got shape {shape}")
    return _qr_q(a), _qr_r(a)


# -- symmetric eigendecomposition ---------------------------------------------------------------------------
_eigh_values, _eigh_vectors = (_factor(name, np.linalg.eigh, i) for i, name in enumerate(("eigh_values", "eigh_vectors")))


def _sym(t):
    return multiply(0.5, t + _mT(t))


def _eigh_vectors_vjp(g, ans, a):
    w = _eigh_values(a)
    inner = multiply(_off_diagonal_reciprocal(w), matmul(_mT(ans), g))
    return _sym(matmul(ans, matmul(inner, _mT(ans))))


def _eigh_vectors_jvp(t, ans, a):
    w = _eigh_values(a)
    return matmul(ans, multiply(_off_diagonal_reciprocal(w), matmul(_mT(ans), matmul(_sym(t), ans))))


_eigh_values.defvjp(lambda g, ans, a: _sym(matmul(_eigh_vectors(a), matmul(_diag_embed(g), _mT(_eigh_vectors(a))))))
_eigh_values.defjvp(lambda t, ans, a: _diagonal(matmul(_mT(_eigh_vectors(a)), matmul(_sym(t), _eigh_vectors(a)))))
_eigh_vectors.defvjp(_eigh_vectors_vjp)
_eigh_vectors.defjvp(_eigh_vectors_jvp)


def eigh(a):
    """(ascending eigenvalues, orthonormal eigenvectors as columns) of each symmetric matrix. Gradients treat the
    input as symmetric (they are symmetric); eigenvectors' need distinct eigenvalues."""
    _square("eigh", a)
    return _eigh_values(a), _eigh_vectors(a)


def eigvalsh(a):
    """The ascending eigenvalues of each symmetric matrix."""
    _square("eigvalsh", a)
    return _eigh_values(a)


# -- singular value decomposition (thin) --------------------------------------------------------------------
def _fixed_signs(u, s, vh, xp=np):
    """(U, S, Vh) with each singular pair's signs chosen so the entry of largest magnitude in U's column is positive:
    numpy's and torch's LAPACK builds may flip a pair, so both fix the same choice (locally constant, so the rules
    hold). ``xp`` is numpy, or torch for the mirror's translation."""
    take = np.take_along_axis if xp is np else xp.take_along_dim
    flip = take(u, xp.abs(u).argmax(-2)[..., None, :], -2) < 0  # (..., 1, k)
    return xp.where(flip, -u, u), s, xp.where(flip.swapaxes(-1, -2), -vh, vh)


def _thin_svd(a):
    return _fixed_signs(*np.linalg.svd(a, full_matrices=False))


def _torch_thin_svd(torch, a):
    return _fixed_signs(*torch.linalg.svd(a, full_matrices=False), xp=torch)


_svd_u, _svd_vh = _factor("svd_u", _thin_svd, 0), _factor("svd_vh", _thin_svd, 2)


@primitive(**compiled_as_call())
def _svd_s(a):
    return np.linalg.svd(a, compute_uv=False)


def _svd_parts(a):
    return _svd_u(a), _svd_s(a), _svd_vh(a)


def _svd_f(s):
    """F[i, j] = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it."""
    return _off_diagonal_reciprocal(multiply(s, s))


def _svd_vjp(gu, gs, gvh, a):
    """Townsend's thin-SVD cotangent; the terms of the cotangents that are None are left out."""
    u, s, vh = _svd_parts(a)
    v = _mT(vh)
    m, n = _shape_of(a)[-2:]
    k = _shape_of(s)[-1]
    f = _svd_f(s)
    s_mat = _diag_embed(s)
    if gs is not None:
        return matmul(u, matmul(_diag_embed(gs), vh))
    if gu is not None:
        j = multiply(f, matmul(_mT(u), gu))
        total = matmul(u, matmul(matmul(j + _mT(j), s_mat), vh))
        if m > k:
            eye_m = Tensor._wrap(np.eye(m, dtype=np.dtype(a.dtype)))
            total = total + matmul(subtract(eye_m, matmul(u, _mT(u))), matmul(gu, matmul(_diag_embed(1.0 / s), vh)))
        return total
    gv = _mT(gvh)
    j = multiply(f, matmul(_mT(v), gv))
    total = matmul(u, matmul(matmul(s_mat, j + _mT(j)), vh))
    if n > k:
        eye_n = Tensor._wrap(np.eye(n, dtype=np.dtype(a.dtype)))
        total = total + matmul(u, matmul(_diag_embed(1.0 / s), _mT(matmul(subtract(eye_n, matmul(v, vh)), gv))))
    return total


def _svd_jvp_parts(t, a):
    """(dU, dS, dVh) for a tangent t of a."""
    u, s, vh = _svd_parts(a)
    v = _mT(vh)
    m, n = _shape_of(a)[-2:]
    f = _svd_f(s)
    s_mat = _diag_embed(s)
    p = matmul(_mT(u), matmul(t, v))
    ds = _diagonal(p)
    du = matmul(u, multiply(f, matmul(p, s_mat) + matmul(s_mat, _mT(p))))
    dv = matmul(v, multiply(f, matmul(s_mat, p) + matmul(_mT(p), s_mat)))
    inv_s = _diag_embed(1.0 / s)
    if m > _shape_of(s)[-1]:
        eye_m = Tensor._wrap(np.eye(m, dtype=np.dtype(a.dtype)))
        du = du + matmul(subtract(eye_m, matmul(u, _mT(u))), matmul(t, matmul(v, inv_s)))
    if n > _shape_of(s)[-1]:
        eye_n = Tensor._wrap(np.eye(n, dtype=np.dtype(a.dtype)))
        dv = dv + matmul(subtract(eye_n, matmul(v, vh)), matmul(_mT(t), matmul(u, inv_s)))
    return du, ds, _mT(dv)


_svd_u.defvjp(lambda g, ans, a: _svd_vjp(g, None, None, a))
_svd_s.defvjp(lambda g, ans, a: _svd_vjp(None, g, None, a))
_svd_vh.defvjp(lambda g, ans, a: _svd_vjp(None, None, g, a))
_svd_u.defjvp(lambda t, ans, a: _svd_jvp_parts(t, a)[0])
_svd_s.defjvp(lambda t, ans, a: _svd_jvp_parts(t, a)[1])
_svd_vh.defjvp(lambda t, ans, a: _svd_jvp_parts(t, a)[2])


def svd(a, full_matrices: bool = False, compute_uv: bool = True):
    """The thin SVD (U, S, Vh) of each matrix, or S alone without ``compute_uv``. U's and Vh's gradients need
    distinct non-zero singular values; S's exist wherever they are distinct."""
    if len(_shape_of(a)) < 2:
        raise ValueError(f"funcad.ops.svd: needs matrices in the last two axes, got shape {_shape_of(a)}")
    if full_matrices and compute_uv:
        raise NotImplementedError("funcad.ops.svd: full_matrices=True is not supported (the thin SVD is)")
    return _svd_parts(a) if compute_uv else _svd_s(a)


for _prim in (_inv, _det, _det_sign, _logabsdet, _cholesky, _qr_q, _qr_r, _eigh_values, _eigh_vectors, _svd_u, _svd_s, _svd_vh):
    _prim.declare(batch=leading_axes_rule(_prim))
# torch's translations (the mirror's): eigh's vectors are fixed only up to sign, so they have none (svd's signs are fixed
# by ``_fixed_signs`` on both sides)
_inv.declare(torch="linalg.inv")
_det.declare(torch="linalg.det")
_cholesky.declare(torch="linalg.cholesky")
_solve.declare(torch=lambda torch, a, b, vector: torch.linalg.solve(a, b))
for _index, _prim in enumerate((_det_sign, _logabsdet)):
    _prim.declare(torch=lambda torch, a, i=_index: torch.linalg.slogdet(a)[i])
for _index, _prim in enumerate((_qr_q, _qr_r)):
    _prim.declare(torch=lambda torch, a, i=_index: torch.linalg.qr(a)[i])
_svd_s.declare(torch="linalg.svdvals")
for _index, _prim in ((0, _svd_u), (2, _svd_vh)):
    _prim.declare(torch=lambda torch, a, i=_index: _torch_thin_svd(torch, a)[i])
