"""funcad.numpy (elementwise family, joining, NaN reductions, linalg, fft helpers) and funcad.scipy.special: values and
gradients against torch in float64, finite differences to second order in both modes, jit equal to eager, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
import funcad.numpy as fnp
from funcad import ops
from funcad.jit import jit
from funcad.numpy import elementwise, joining, reductions, signatures
from funcad.scipy import special
from funcad.testing import assert_close, check_grads

RNG = np.random.default_rng(3)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((3, 4))
UNIT = np.tanh(A) * 0.9  # inside (-1, 1)
POS = np.abs(A) + 0.5
ABOVE_ONE = POS + 1.0
SQ = RNG.standard_normal((4, 4)) + 4 * np.eye(4)  # well conditioned
TALL = RNG.standard_normal((5, 3))
WIDE = RNG.standard_normal((3, 5))
V3 = RNG.standard_normal((4, 3))
W3 = RNG.standard_normal((4, 3))
WITH_NAN = np.where(RNG.random((3, 4)) < 0.25, np.nan, A)
WITH_NAN[0] = A[0]  # every column keeps a value


def _sym(a):
    return a + ops.transpose(a)


def _torch_sym(a):
    return a + a.T


def _columns_signless(v):
    """Eigen- and singular vectors are defined up to sign: compare v * sign(first row)."""
    return v * ops.sign(v[..., :1, :])


T = torch
# name -> (funcad fn, torch fn, float64 args); every argument is differentiated
CASES = {
    "sign": (lambda a: fnp.sign(a) * a, lambda t: t.sign() * t, (A,)),  # sign is constant: its product carries the gradient
    "sinh": (fnp.sinh, T.sinh, (A,)), "cosh": (fnp.cosh, T.cosh, (A,)), "arcsinh": (fnp.arcsinh, T.asinh, (A,)),
    "arccosh": (fnp.arccosh, T.acosh, (ABOVE_ONE,)), "arctanh": (fnp.arctanh, T.atanh, (UNIT,)), "arcsin": (fnp.arcsin, T.asin, (UNIT,)),
    "arccos": (fnp.arccos, T.acos, (UNIT,)), "arctan": (fnp.arctan, T.atan, (A,)), "arctan2": (fnp.arctan2, T.atan2, (A, B)),
    "hypot": (fnp.hypot, T.hypot, (A, B)), "logaddexp": (fnp.logaddexp, T.logaddexp, (A, B)), "logaddexp2": (fnp.logaddexp2, T.logaddexp2, (A, B)),
    "exp2": (fnp.exp2, T.exp2, (A,)), "log2": (fnp.log2, T.log2, (POS,)), "log10": (fnp.log10, T.log10, (POS,)),
    "reciprocal": (fnp.reciprocal, T.reciprocal, (POS,)), "fabs": (fnp.fabs, T.abs, (A,)),
    "cbrt": (fnp.cbrt, lambda t: t.sign() * t.abs() ** (1 / 3), (A,)),
    "deg2rad": (fnp.deg2rad, T.deg2rad, (A,)), "rad2deg": (fnp.rad2deg, T.rad2deg, (A,)),
    "real": (fnp.real, T.real, (A,)), "conj": (fnp.conj, T.conj, (A,)), "conjugate": (fnp.conjugate, T.conj, (A,)),
    "imag": (lambda a: fnp.imag(a) + a, lambda a: a, (A,)),
    "vstack": (lambda a, b: fnp.vstack([a, b[0]]), lambda a, b: T.vstack([a, b[0]]), (A, B)),
    "hstack": (lambda a, b: fnp.hstack([a, b]), lambda a, b: T.hstack([a, b]), (A, B)),
    "dstack": (lambda a, b: fnp.dstack([a, b]), lambda a, b: T.dstack([a, b]), (A, B)),
    "column_stack": (lambda a, b: fnp.column_stack([a[0], b.T]), lambda a, b: T.column_stack([a[0], b.T]), (A, B)),
    "atleast_1d": (fnp.atleast_1d, T.atleast_1d, (A[0, 0],)), "atleast_2d": (fnp.atleast_2d, T.atleast_2d, (A[0],)),
    "atleast_3d": (fnp.atleast_3d, T.atleast_3d, (A[0],)),
    "array_split": (lambda a: fnp.array_split(a, 3, axis=1)[0], lambda a: T.tensor_split(a, 3, 1)[0], (A,)),
    "vsplit": (lambda a: fnp.vsplit(a, [1])[1], lambda a: T.vsplit(a, [1])[1], (A,)),
    "hsplit": (lambda a: fnp.hsplit(a, 2)[1], lambda a: T.hsplit(a, 2)[1], (A,)),
    "dsplit": (lambda a: fnp.dsplit(a[None], 2)[0], lambda a: T.dsplit(a[None], 2)[0], (A,)),
    "moveaxis": (lambda a: fnp.moveaxis(a[None], 0, -1), lambda a: T.moveaxis(a[None], 0, -1), (A,)),
    "rot90": (lambda a: fnp.rot90(a, 3), lambda a: T.rot90(a, 3), (A,)),
    "kron": (fnp.kron, T.kron, (A[:2, :3], B[:, :2])), "inner": (fnp.inner, T.inner, (A, B)),
    "cross": (fnp.cross, lambda a, b: T.linalg.cross(a, b), (V3, W3)),
    "ravel": (fnp.ravel, T.ravel, (A,)), "take": (lambda a: fnp.take(a, [0, 5, 5]), lambda a: T.take(a, T.tensor([0, 5, 5])), (A,)),
    "take_axis": (lambda a: fnp.take(a, [2, 0], axis=1), lambda a: a[:, [2, 0]], (A,)),
    "append": (lambda a, b: fnp.append(a, b, axis=0), lambda a, b: T.cat([a, b], 0), (A, B)),
    "append_flat": (fnp.append, lambda a, b: T.cat([a.ravel(), b.ravel()]), (A, B)),
    "diff": (lambda a: fnp.diff(a, 2), lambda a: T.diff(a, 2), (A,)),
    "meshgrid": (lambda a, b: fnp.meshgrid(a, b)[0] * fnp.meshgrid(a, b)[1], lambda a, b: (lambda g: g[0] * g[1])(T.meshgrid(a, b, indexing="xy")),
                 (A[0], B[1, :3])),
    "average": (lambda a, w: fnp.average(a, 1, w[0]), lambda a, w: (a * w[0]).sum(1) / w[0].sum(), (A, POS)),
    "ptp": (lambda a: fnp.ptp(a, axis=0), lambda a: a.amax(0) - a.amin(0), (A,)),
    "nansum": (lambda a: fnp.nansum(a, axis=0), lambda a: T.nansum(a, 0), (WITH_NAN,)),
    "nanmean": (lambda a: fnp.nanmean(a, axis=1, keepdims=True), lambda a: T.nanmean(a, 1, keepdim=True), (WITH_NAN,)),
    "nanprod": (lambda a: fnp.nanprod(a, axis=0), lambda a: T.where(T.isnan(a), 1.0, a).prod(0), (WITH_NAN,)),
    "nanmax": (lambda a: fnp.nanmax(a, axis=0), lambda a: T.where(T.isnan(a), -T.inf, a).amax(0), (WITH_NAN,)),
    "nanmin": (lambda a: fnp.nanmin(a, axis=0), lambda a: T.where(T.isnan(a), T.inf, a).amin(0), (WITH_NAN,)),
    "nanvar": (lambda a: fnp.nanvar(a, axis=0, ddof=1), lambda a: _torch_nanvar(a, 1), (WITH_NAN,)),
    "nanstd": (lambda a: fnp.nanstd(a, axis=0), lambda a: _torch_nanvar(a, 0).sqrt(), (WITH_NAN,)),
    "where": (lambda a, b: fnp.where(a > 0, a, b), lambda a, b: T.where(a > 0, a, b), (A, B)),
    "cumprod": (lambda a: fnp.cumprod(a), lambda a: T.cumprod(a.reshape(-1), 0), (A,)),
    "diag": (fnp.diag, T.diag, (SQ,)), "diagonal": (fnp.diagonal, T.diagonal, (SQ,)),
    "sort": (lambda a: fnp.sort(a, axis=0), lambda a: T.sort(a, 0)[0], (A,)),
    "inv": (fnp.linalg.inv, T.linalg.inv, (SQ,)), "det": (fnp.linalg.det, T.linalg.det, (SQ,)),
    "slogdet": (lambda a: fnp.linalg.slogdet(a)[1], lambda a: T.linalg.slogdet(a)[1], (SQ - 6 * np.eye(4),)),
    "solve": (fnp.linalg.solve, T.linalg.solve, (SQ, A.T.copy())),
    "solve_vector": (fnp.linalg.solve, T.linalg.solve, (SQ, A[0])),
    "cholesky": (lambda a: fnp.linalg.cholesky(ops.matmul(a, ops.transpose(a))), lambda a: T.linalg.cholesky(a @ a.T), (SQ,)),
    "qr": (lambda a: fnp.linalg.qr(a)[0] + ops.sum(fnp.linalg.qr(a)[1]), lambda a: T.linalg.qr(a)[0] + T.linalg.qr(a)[1].sum(), (TALL,)),
    "eigh_values": (lambda a: fnp.linalg.eigh(_sym(a))[0], lambda a: T.linalg.eigh(_torch_sym(a))[0], (SQ,)),
    "eigh_vectors": (lambda a: _columns_signless(fnp.linalg.eigh(_sym(a))[1]),
                     lambda a: (lambda v: v * v[:1].sign())(T.linalg.eigh(_torch_sym(a))[1]), (SQ,)),
    "eigvalsh": (lambda a: fnp.linalg.eigvalsh(_sym(a)), lambda a: T.linalg.eigvalsh(_torch_sym(a)), (SQ,)),
    "svd_values": (lambda a: fnp.linalg.svd(a, compute_uv=False), T.linalg.svdvals, (TALL,)),
    "svd_u": (lambda a: _columns_signless(fnp.linalg.svd(a)[0]),
              lambda a: (lambda u: u * u[:1].sign())(T.linalg.svd(a, full_matrices=False)[0]), (TALL,)),
    "svd_vh": (lambda a: _columns_signless(ops.transpose(fnp.linalg.svd(a)[2])),
               lambda a: (lambda v: v * v[:1].sign())(T.linalg.svd(a, full_matrices=False)[2].T), (WIDE,)),
    "pinv": (fnp.linalg.pinv, T.linalg.pinv, (WIDE,)),
    "matrix_power": (lambda a: fnp.linalg.matrix_power(a, 3), lambda a: T.linalg.matrix_power(a, 3), (SQ,)),
    "matrix_power_negative": (lambda a: fnp.linalg.matrix_power(a, -2), lambda a: T.linalg.matrix_power(a, -2), (SQ,)),
    "norm_nuc": (lambda a: fnp.linalg.norm(a, "nuc"), lambda a: T.linalg.matrix_norm(a, "nuc"), (TALL,)),
    "norm_2": (lambda a: ops.norm(a, 2, axis=(0, 1)), lambda a: T.linalg.matrix_norm(a, 2), (WIDE,)),
    "norm_minus_2": (lambda a: fnp.linalg.norm(a, -2), lambda a: T.linalg.matrix_norm(a, -2), (TALL,)),
    "angle": (lambda a, b: fnp.angle(a + 1j * b), lambda a, b: T.angle(a + 1j * b), (A, B)),
    "fft": (lambda a: _parts(fnp.fft.fft(a, 6, axis=0)), lambda a: _parts(T.fft.fft(a, 6, dim=0)), (A,)),
    "ifft": (lambda a: _parts(fnp.fft.ifft(a, norm="ortho")), lambda a: _parts(T.fft.ifft(a, norm="ortho")), (A,)),
    "rfft": (lambda a: _parts(fnp.fft.rfft(a, 5)), lambda a: _parts(T.fft.rfft(a, 5)), (A,)),
    "irfft": (lambda a, b: fnp.fft.irfft(a + 1j * b, 7, axis=0), lambda a, b: T.fft.irfft(a + 1j * b, 7, dim=0), (A, B)),
    "hfft": (lambda a, b: fnp.fft.hfft(a + 1j * b), lambda a, b: T.fft.hfft(a + 1j * b), (A, B)),
    "ihfft": (lambda a: _parts(fnp.fft.ihfft(a, axis=0)), lambda a: _parts(T.fft.ihfft(a, dim=0)), (A,)),
    "fft2": (lambda a: _parts(fnp.fft.fft2(a, (4, 4))), lambda a: _parts(T.fft.fft2(a, (4, 4))), (A,)),
    "ifft2": (lambda a, b: _parts(fnp.fft.ifft2(a + 1j * b)), lambda a, b: _parts(T.fft.ifft2(a + 1j * b)), (A, B)),
    "rfft2": (lambda a: _parts(fnp.fft.rfft2(a, norm="forward")), lambda a: _parts(T.fft.rfft2(a, norm="forward")), (A,)),
    "irfft2": (lambda a, b: fnp.fft.irfft2(a + 1j * b), lambda a, b: T.fft.irfft2(a + 1j * b), (A, B)),
    "fftn": (lambda a: _parts(fnp.fft.fftn(a, axes=(1,))), lambda a: _parts(T.fft.fftn(a, dim=(1,))), (A,)),
    "ifftn": (lambda a, b: _parts(fnp.fft.ifftn(a + 1j * b)), lambda a, b: _parts(T.fft.ifftn(a + 1j * b)), (A, B)),
    "rfftn": (lambda a: _parts(fnp.fft.rfftn(a, (2, 6))), lambda a: _parts(T.fft.rfftn(a, (2, 6))), (A,)),
    "irfftn": (lambda a, b: fnp.fft.irfftn(a + 1j * b, axes=(0,)), lambda a, b: T.fft.irfftn(a + 1j * b, dim=(0,)), (A, B)),
    "fftshift": (fnp.fft.fftshift, T.fft.fftshift, (RNG.standard_normal((3, 5)),)),
    "ifftshift": (lambda a: fnp.fft.ifftshift(a, axes=1), lambda a: T.fft.ifftshift(a, dim=1), (RNG.standard_normal((3, 5)),)),
    "erf": (special.erf, T.special.erf, (A,)), "erfc": (special.erfc, T.special.erfc, (A,)),
    "gammaln": (special.gammaln, T.special.gammaln, (POS,)), "digamma": (special.digamma, T.special.digamma, (POS,)),
    "psi": (special.psi, T.special.psi, (POS,)), "polygamma": (lambda a: special.polygamma(2, a), lambda a: T.special.polygamma(2, a), (POS,)),
    "logit": (special.logit, T.special.logit, (1 / (1 + np.exp(-A)),)), "expit": (special.expit, T.special.expit, (A,)),
    "logsumexp": (lambda a: special.logsumexp(a, axis=1), lambda a: T.logsumexp(a, 1), (A,)),
    "xlogy": (special.xlogy, T.special.xlogy, (np.where(A > 0.5, 0.0, A), POS)),
}


def _parts(z):
    """A real function of a complex result that sees both its parts (funcad's or torch's)."""
    return z.real - 0.5 * z.imag if isinstance(z, T.Tensor) else fnp.real(z) - 0.5 * fnp.imag(z)


def _torch_nanvar(a, ddof):
    keep = ~T.isnan(a)
    n = keep.sum(0)
    mean = T.where(keep, a, 0.0).sum(0) / n
    return T.where(keep, (T.where(keep, a, 0.0) - mean) ** 2, 0.0).sum(0) / (n - ddof)


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_torch_and_finite_differences(name, assert_op_matches_torch):
    fc, th, args = CASES[name]
    assert_op_matches_torch(fc, th, list(args), order=2, rtol=1e-7)


def test_every_public_function_has_a_case():
    public = {n for m in (elementwise, joining, reductions, signatures, fnp.linalg, fnp.fft, special) for n in m.__all__}
    eager_only_or_constant = {"fftfreq", "rfftfreq", "count_nonzero"}  # no gradient to check: values checked below
    assert sorted(public - set(CASES) - eager_only_or_constant - {"eigh", "svd", "qr", "slogdet", "norm"}) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_under_jit_equal_to_eager_with_gradients(name):
    fc, _, args = CASES[name]
    f64 = [np.asarray(a, np.float64) for a in args]
    np.testing.assert_array_equal(np.asarray(jit(fc)(*f64)), np.asarray(fc(*f64)))
    grad_fn = funcad.grad(lambda *xs: ops.sum(fc(*xs)), tuple(range(len(args))))
    eager, compiled = grad_fn(*f64), jit(grad_fn)(*f64)
    for e, c in zip(eager if isinstance(eager, tuple) else (eager,), compiled if isinstance(compiled, tuple) else (compiled,)):
        np.testing.assert_array_equal(np.asarray(c), np.asarray(e))


@pytest.mark.parametrize("fn, args", [
    (fnp.sinh, (A,)), (fnp.arctan2, (A, B)), (fnp.hypot, (A, B)), (fnp.log10, (POS,)), (fnp.reciprocal, (POS,)),
    (fnp.nanmean, (WITH_NAN,)), (fnp.linalg.inv, (SQ,)), (fnp.linalg.det, (SQ,)), (lambda a: fnp.linalg.svd(a)[1], (TALL,)),
    (special.gammaln, (POS,)), (special.digamma, (POS,)), (special.erfc, (A,)), (special.xlogy, (A, POS)),
    (lambda a: special.xlogy(a * 0, a), (A,)),
])
def test_float32_in_float32_out(fn, args):
    out = fn(*(a.astype(np.float32) for a in args))
    assert out.dtype == np.float32


def test_where_with_one_argument_is_numpy_nonzero_and_eager_only():
    for ours, theirs in zip(fnp.where(A > 0), np.where(A > 0)):
        np.testing.assert_array_equal(np.asarray(ours), theirs)
    with pytest.raises(TypeError, match="funcad.ops.nonzero: the output's shape depends on the input's values"):
        jit(lambda a: fnp.where(a > 0)[0])(A)
    with pytest.raises(ValueError, match="funcad.numpy.where: give both x and y, or neither"):
        fnp.where(A > 0, A)


def test_counts_and_sizes_match_numpy():
    np.testing.assert_array_equal(np.asarray(fnp.count_nonzero(A > 0, axis=1)), np.count_nonzero(A > 0, axis=1))
    assert fnp.count_nonzero(A > 0).dtype == np.int64
    assert (fnp.ndim(A), fnp.shape(A), fnp.size(A)) == (2, (3, 4), 12)
    assert fnp.random.RandomState(0).randn(3).shape == (3,)  # autograd.numpy.random is numpy's
    np.testing.assert_array_equal(np.asarray(fnp.identity(3)), np.identity(3))


def test_frequencies_match_numpy():
    np.testing.assert_array_equal(np.asarray(fnp.fft.fftfreq(7, 0.5)), np.fft.fftfreq(7, 0.5))
    np.testing.assert_array_equal(np.asarray(fnp.fft.rfftfreq(8)), np.fft.rfftfreq(8))


def test_decompositions_reconstruct_their_input_and_batch():
    batch = RNG.standard_normal((2, 5, 3))
    u, s, vh = fnp.linalg.svd(batch)
    assert_close(ops.matmul(u * ops.expand_dims(s, -2), vh), batch, rtol=1e-12, atol=1e-12)
    q, r = fnp.linalg.qr(batch)
    assert_close(ops.matmul(q, r), batch, rtol=1e-12, atol=1e-12)
    sym = batch @ batch.transpose(0, 2, 1) + np.eye(5)
    w, v = fnp.linalg.eigh(sym)
    assert_close(ops.matmul(v * ops.expand_dims(w, -2), ops.swapaxes(v, -1, -2)), sym, rtol=1e-10, atol=1e-10)
    sign, logdet = fnp.linalg.slogdet(sym)
    assert_close(sign * ops.exp(logdet), np.linalg.det(sym), rtol=1e-10)
    check_grads(lambda a: fnp.linalg.slogdet(a)[1], (sym,), order=2)


def test_numpy_style_constructors():
    x = fnp.array([1.0, 2.0])
    assert isinstance(x, funcad.Tensor) and fnp.asarray(x) is x and fnp.asarray(x, fnp.float32).dtype == np.float32
    source = np.ones(2)
    copied = fnp.array(source)
    source[0] = 5.0
    assert np.asarray(copied)[0] == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: fnp.linalg.inv(A), r"funcad.ops.inv: needs square matrices in the last two axes, got shape \(3, 4\)"),
    (lambda: fnp.linalg.solve(SQ, A), r"funcad.ops.solve: b of shape \(3, 4\) does not fit a of shape \(4, 4\)"),
    (lambda: fnp.linalg.qr(WIDE), r"funcad.ops.qr: needs matrices with rows >= columns in the last two axes, got shape \(3, 5\)"),
    (lambda: fnp.linalg.cholesky(-np.eye(2)), "funcad.ops.cholesky: the matrix is not positive definite"),
    (lambda: fnp.linalg.inv(np.zeros((2, 2))), "funcad.ops.inv: Singular matrix"),
    (lambda: fnp.linalg.matrix_power(A, 2), r"funcad.numpy.linalg.matrix_power: needs square matrices in the last two axes, got shape \(3, 4\)"),
    (lambda: fnp.linalg.svd(A, full_matrices=True), "funcad.ops.svd: full_matrices=True is not supported"),
    (lambda: fnp.cross(A, B), r"funcad.numpy.cross: needs 3-vectors along axis -1, got shapes \(3, 4\) and \(3, 4\)"),
    (lambda: fnp.array_split(A, 0), "funcad.numpy.array_split: the number of sections must be positive, got 0"),
    (lambda: fnp.diag(np.zeros((2, 2, 2))), r"funcad.numpy.diag: needs a 1-D or 2-D input, got shape \(2, 2, 2\)"),
    (lambda: special.logsumexp(A, b=np.zeros(4)), "funcad.scipy.special.logsumexp: the weights b must be positive"),
])
def test_bad_input_names_the_function_and_the_shapes(call, message):
    with pytest.raises((ValueError, TypeError, NotImplementedError), match=message):
        call()
