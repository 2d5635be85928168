"""MindSpore's linear algebra, statistics, searching and combinatorics functions (funcad.ops.linalg_functions and
funcad.ops.statistics): values and float64 gradients against torch autograd and finite differences, index outputs
against numpy and torch, the outputs MindSpore's documentation prints, vmap, and the errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

import funcad
from funcad import numpy as fnp
from funcad import ops
from funcad.testing import assert_close

RNG = np.random.default_rng(20)
TALL = RNG.standard_normal((5, 3))
WIDE = RNG.standard_normal((2, 3, 4))
SQUARE = RNG.standard_normal((2, 3, 3)) * 0.7
SPD = (lambda m: m @ m.T + 4.0 * np.eye(4))(RNG.standard_normal((4, 4)))
T = torch.tensor


def _signless(u):
    """Columns times their first entry: the same whichever sign a singular vector has (torch fixes none)."""
    return u * u[..., :1, :]


def _powers(x, n: int):
    """torch's Vandermonde matrix as powers (torch.vander's backward fails on its in-place writes)."""
    return x[:, None] ** torch.arange(n - 1, -1, -1, dtype=x.dtype)


# -- linear algebra against torch (values, gradients, finite differences) -----------------------------------------
LINALG = {
    "svd_values": (lambda a: ops.svd(a, compute_uv=False), lambda a: torch.linalg.svdvals(a), (WIDE,)),
    "svd_u": (lambda a: _signless(ops.svd(a)[1]), lambda a: _signless(torch.linalg.svd(a, full_matrices=False)[0]), (TALL,)),
    "svd_v": (lambda a: _signless(ops.svd(a)[2]), lambda a: _signless(torch.linalg.svd(a, full_matrices=False)[2].mT), (WIDE,)),
    "svd_square_full_matrices": (lambda a: _signless(ops.svd(a, full_matrices=True)[1]), lambda a: _signless(torch.linalg.svd(a)[0]),
                                 (SQUARE,)),
    "pinv_tall": (ops.pinv, torch.linalg.pinv, (TALL,)), "pinv_batch": (ops.pinv, torch.linalg.pinv, (WIDE,)),
    "pinv_hermitian": (lambda a: ops.pinv(a, hermitian=True), lambda a: torch.linalg.pinv(a.tril() + a.tril(-1).mT), (SPD,)),
    "lstsq": (ops.lstsq, lambda a, b: torch.linalg.lstsq(a, b).solution, (TALL, TALL[:, :2] * 2.0 + 1.0)),
    "lstsq_vector": (ops.lstsq, lambda a, b: torch.linalg.pinv(a) @ b, (TALL, TALL[:, 0] - 0.5)),
    "lstsq_minimum_norm": (ops.lstsq, lambda a, b: torch.linalg.pinv(a) @ b, (WIDE[0], WIDE[1, :, :2])),
    "matrix_power_3": (lambda a: ops.matrix_power(a, 3), lambda a: torch.linalg.matrix_power(a, 3), (SQUARE,)),
    "matrix_power_-2": (lambda a: ops.matrix_power(a, -2), lambda a: torch.linalg.matrix_power(a, -2), (SPD,)),
    "matrix_power_0": (lambda a: ops.matrix_power(a, 0) * a, lambda a: torch.linalg.matrix_power(a, 0) * a, (SQUARE,)),
    "matrix_exp": (ops.matrix_exp, torch.linalg.matrix_exp, (SQUARE,)),
    # torch's gradient also fills the triangle its forward never reads: both sides get the factor's triangle alone
    "cholesky_solve": (lambda b, c: ops.cholesky_solve(b, ops.tril(c)), lambda b, c: torch.cholesky_solve(b, c.tril()),
                       (TALL[:4], np.linalg.cholesky(SPD))),
    "cholesky_solve_upper": (lambda b, c: ops.cholesky_solve(b, ops.triu(c), upper=True),
                             lambda b, c: torch.cholesky_solve(b, c.triu(), upper=True), (TALL[:4], np.linalg.cholesky(SPD).T)),
    "orgqr": (ops.orgqr, torch.linalg.householder_product, (TALL, TALL[0, :2] * 0.5)),
    "vander": (lambda x: ops.vander(x), lambda x: _powers(x, 5), (TALL[:, 0],)),
    "vander_columns": (lambda x: ops.vander(x, 2), lambda x: _powers(x, 2), (TALL[:, 0],)),
    "block_diag": (lambda a, b, c: ops.block_diag(a, b, c), torch.block_diag, (TALL[:2], TALL[0], np.array(1.5))),
}


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linear_algebra_matches_torch_and_finite_differences(assert_op_matches_torch, name):
    fc, th, arrays = LINALG[name]
    assert_op_matches_torch(fc, th, arrays, order=2)


def test_lu_solve_matches_torch_for_a_batch_of_factorisations(assert_op_matches_torch):
    lu, pivots = torch.linalg.lu_factor(torch.tensor(SQUARE + np.eye(3)))
    b = RNG.standard_normal((2, 3, 2))
    assert_op_matches_torch(lambda b, lu: ops.lu_solve(b, lu, pivots.numpy()), lambda b, lu: torch.linalg.lu_solve(lu, pivots, b),
                            (b, lu.numpy()), order=2)
    a = SQUARE[0] + np.eye(3)
    lu_scipy, pivots_scipy = scipy.linalg.lu_factor(a)  # 0-based: LAPACK's are one more
    assert_close(ops.lu_solve(b[0], lu_scipy, pivots_scipy + 1), np.linalg.solve(a, b[0]), rtol=1e-12)


def test_svd_returns_mindspore_s_u_v_with_fixed_signs():
    a = np.array([[1.0, 2.0], [-4.0, -5.0], [2.0, 1.0]], np.float32)  # MindSpore's documented example
    s, u, v = ops.svd(a)
    assert_close(s, np.array([7.0652843, 1.040081], np.float32), rtol=1e-6)
    assert s.dtype == funcad.float32 and u.shape == (3, 2) and v.shape == (2, 2)
    assert_close(np.abs(np.asarray(v)), np.array([[0.63863593, 0.769509], [0.769509, 0.63863593]]), rtol=1e-6)
    assert_close(ops.matmul(u * s, ops.transpose(v)), a, atol=1e-5)
    biggest = np.take_along_axis(np.asarray(u), np.abs(np.asarray(u)).argmax(0)[None], 0)
    assert np.all(biggest > 0)


def test_pinv_and_lstsq_print_what_mindspore_documents():
    assert_close(ops.pinv(np.array([[4.0, 0.0], [0.0, 5.0]], np.float32)), np.array([[0.25, 0.0], [0.0, 0.2]], np.float32))
    x = np.array([[2, 1, 5], [3, 5, 1], [1, 1, 1]], np.float32)
    a = np.array([[10, 5], [15, 8], [7, 4]], np.float32)
    assert_close(ops.lstsq(x, a), np.array([[17.0, 11.0], [-6.5, -4.5], [-3.5, -2.5]], np.float32), atol=1e-4)


@pytest.mark.parametrize("atol, rtol", [(None, None), (0.5, None), (None, 0.3), (0.1, 0.2), (np.array([0.3, 2.0]), None),
                                        (np.array([[0.3, 0.3], [2.0, 0.1]]), 0.01)])
def test_pinv_tolerances_follow_torch(atol, rtol):
    a = np.diag([3.0, 1.0, 0.4])[:, :2] @ np.array([[1.0, 0.5], [0.0, 1.0]])
    stack = np.stack([a, a * 3.0])
    tensors = isinstance(atol, np.ndarray)  # torch takes both tolerances as Tensors then
    expected = torch.linalg.pinv(T(stack), atol=T(atol) if tensors else atol, rtol=T(rtol) if tensors and rtol is not None else rtol)
    assert_close(ops.pinv(stack, atol=atol, rtol=rtol), expected.numpy(), rtol=1e-12, atol=1e-14)


def test_matrix_exp_keeps_float32_and_its_gradient_is_the_frechet_derivative():
    a = SQUARE[0].astype(np.float32)
    assert ops.matrix_exp(a).dtype == funcad.float32
    e = RNG.standard_normal((3, 3))
    _, tangent = funcad.jvp(ops.matrix_exp, (SQUARE[0],), (e,))
    h = 1e-6  # central difference of scipy's exponential
    expected = (scipy.linalg.expm(SQUARE[0] + h * e) - scipy.linalg.expm(SQUARE[0] - h * e)) / (2 * h)
    assert_close(tangent, expected, rtol=1e-7, atol=1e-9)


def test_eig_gives_complex_eigenpairs_as_constants():
    a = SQUARE[0]
    values, vectors = ops.eig(a)
    assert values.dtype == funcad.complex128 and vectors.dtype == funcad.complex128
    assert ops.eig(a.astype(np.float32))[0].dtype == funcad.complex64
    assert_close(a @ np.asarray(vectors), np.asarray(vectors) * np.asarray(values), atol=1e-12)
    assert_close(np.sort_complex(np.asarray(values)), np.sort_complex(torch.linalg.eigvals(T(a)).numpy()), rtol=1e-12)
    assert_close(np.linalg.norm(np.asarray(vectors), axis=0), np.ones(3), rtol=1e-12)
    grad = funcad.grad(lambda m: ops.sum(ops.real(ops.eig(m)[0])) * 2.0 + ops.sum(m))(a)
    assert_close(grad, np.ones((3, 3)))  # only the plain sum reaches m
    assert_close(ops.eigvals(a), np.asarray(values))


def test_eigvals_prints_what_mindspore_documents_and_takes_complex_input():
    got = ops.eigvals(np.array([[1.0, 0.0], [0.0, 2.0]], np.float32))
    assert got.dtype == funcad.complex64
    assert_close(got, np.array([1.0 + 0.0j, 2.0 + 0.0j], np.complex64))
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]]) * (1.0 + 1.0j)
    assert_close(np.sort_complex(np.asarray(ops.eigvals(rotation))), np.sort_complex(np.linalg.eigvals(rotation)), rtol=1e-12)


@pytest.mark.parametrize("fn", [ops.matrix_exp, lambda a: ops.real(ops.eig(a)[0]) + ops.imag(ops.eig(a)[1]).sum(),
                                lambda a: ops.svd(a)[1], ops.pinv, lambda a: ops.matrix_power(a, 2)])
@pytest.mark.parametrize("axis", [0, -1])
def test_vmap_of_the_matrix_functions_equals_a_loop_without_the_fallback(fn, axis):
    members = np.stack([np.diag([1.0, 2.0, 3.0]) + np.triu(SQUARE[0], 1) * s for s in (1.0, 1.3, 0.8)])  # real eigenvalues
    stacked = np.moveaxis(members, 0, axis)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the loop fallback warns
        got = funcad.vmap(fn, in_axes=axis)(stacked)
    assert_close(got, np.stack([np.asarray(fn(m)) for m in members]), rtol=1e-12, atol=1e-12)


# -- statistics against torch ----------------------------------------------------------------------------------------
DATA = RNG.standard_normal((4, 5))
WITH_NAN = np.where(RNG.uniform(size=(4, 5)) < 0.3, np.nan, DATA)
WITH_NAN[2] = np.nan


@pytest.mark.parametrize("q", [0.0, 0.35, 1.0, [0.1, 0.5, 0.9]])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_quantiles_match_torch(q, axis, keepdims):
    tq = T(q, dtype=torch.float64)
    for ours, theirs, data in ((ops.quantile, torch.quantile, DATA), (ops.quantile, torch.quantile, WITH_NAN),
                               (ops.nanquantile, torch.nanquantile, WITH_NAN)):
        expected = theirs(T(data), tq, dim=axis, keepdim=keepdims).numpy()
        got = np.asarray(ours(data, q, axis, keepdims))
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-13, equal_nan=True)


@pytest.mark.parametrize("q, axis", [(0.35, 1), ([0.2, 0.75], 0), (0.5, None)])
def test_quantile_gradients_match_torch_and_finite_differences(assert_op_matches_torch, q, axis):
    assert_op_matches_torch(lambda x: ops.quantile(x, q, axis), lambda x: torch.quantile(x, T(q, dtype=torch.float64), dim=axis), (DATA,),
                            order=2)
    holes = np.isnan(WITH_NAN[[0, 1, 3]])  # NaN where WITH_NAN has them, the values around them differentiated
    assert_op_matches_torch(lambda x: ops.nanquantile(ops.where(holes, np.nan, x), q, axis),
                            lambda x: torch.nanquantile(torch.where(T(holes), np.nan, x), T(q, dtype=torch.float64), dim=axis),
                            (DATA[[0, 1, 3]],), fd=False)


def test_quantile_of_float32_stays_float32_and_a_tensor_q_works():
    x = DATA.astype(np.float32)
    got = ops.quantile(x, ops.tensor([0.25, 0.5]), 0)
    assert got.dtype == funcad.float32 and got.shape == (2, 5)
    assert_close(got, np.quantile(x, [0.25, 0.5], axis=0).astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("p, axis, maxnorm", [(2.0, 0, 1.5), (1.0, 1, 2.0), (3.0, -1, 0.5)])
def test_renorm_matches_torch(assert_op_matches_torch, p, axis, maxnorm):
    x = RNG.standard_normal((3, 4, 2))
    assert_op_matches_torch(lambda a: ops.renorm(a, p, axis, maxnorm), lambda a: torch.renorm(a, p, axis % 3, maxnorm), (x,), order=2)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, float("inf")])
def test_pdist_matches_torch(assert_op_matches_torch, p):
    assert_op_matches_torch(lambda a: ops.pdist(a, p), lambda a: torch.nn.functional.pdist(a, p), (DATA,), order=2 if p != float("inf") else 1)
    batched = np.asarray(ops.pdist(WIDE, p))
    assert_close(batched, np.stack([torch.nn.functional.pdist(T(w), p).numpy() for w in WIDE]), rtol=1e-12)


def test_msort_cartesian_prod_and_combinations_match_torch(assert_op_matches_torch):
    assert_op_matches_torch(ops.msort, torch.msort, (DATA,), order=2)
    assert_op_matches_torch(lambda a, b, c: ops.cartesian_prod(a, b, c), torch.cartesian_prod, (DATA[0, :2], DATA[1, :3], DATA[2, :2]),
                            order=2)
    assert_close(ops.cartesian_prod(DATA[0]), DATA[0])
    for r, replace in ((2, False), (3, False), (2, True), (1, False), (6, False)):
        assert_op_matches_torch(lambda a, r=r, w=replace: ops.combinations(a, r, w), lambda a, r=r, w=replace: torch.combinations(a, r, w),
                                (DATA[0],), fd=False)


# -- counting and searching (index outputs) --------------------------------------------------------------------------
def test_histc_matches_torch_and_mindspore_s_defaults():
    x = RNG.uniform(-1.0, 4.0, 200).astype(np.float32)
    for bins, low, high in ((10, 0.0, 3.0), (4, -1.0, 4.0), (7, 0.0, 0.0), (100, 0.0, 0.0)):
        got = ops.histc(x, bins, low, high)
        assert got.dtype == funcad.float32
        assert_close(got, torch.histc(T(x), bins, low, high).numpy())
    assert_close(ops.histc(np.full(5, 2.0)), torch.histc(T(np.full(5, 2.0))).numpy())  # one point: [1, 3]
    assert_close(ops.histc(np.array([1, 2, 2, 5]), 4, 1, 5), np.array([1.0, 2.0, 0.0, 1.0], np.float32))


def test_bincount_matches_mindspore_s_examples_and_numpy():
    x = np.array([2, 4, 1, 0, 0])
    assert_close(ops.bincount(x, minlength=7), np.array([2.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0], np.float32))
    assert ops.bincount(x).dtype == funcad.float32
    weights = np.array([0, 0.25, 0.5, 0.75, 1], np.float32)
    assert_close(ops.bincount(x, weights=weights), np.array([1.75, 0.5, 0.0, 0.0, 0.25], np.float32))
    assert ops.bincount(np.zeros(0, np.int64)).shape == (0,)
    w = RNG.standard_normal(5)
    assert_close(funcad.grad(lambda w: ops.sum(ops.bincount(x, w) * np.arange(5.0)))(w), np.array([2.0, 4.0, 1.0, 0.0, 0.0]))


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_and_bucketize_match_torch(right):
    seq = np.sort(RNG.integers(0, 6, (3, 7)), 1).astype(np.float64)
    values = RNG.integers(-1, 8, (3, 4)).astype(np.float64)
    side = "right" if right else "left"
    got = ops.searchsorted(seq, values, right=right)
    assert got.dtype == funcad.int64
    np.testing.assert_array_equal(got, torch.searchsorted(T(seq), T(values), right=right).numpy())
    np.testing.assert_array_equal(ops.searchsorted(seq[0], values, side=side, out_int32=True),
                                  torch.searchsorted(T(seq[0]), T(values), side=side, out_int32=True).numpy())
    order = np.argsort(-seq[1])  # an unsorted sequence with the indices that sort it... descending, then reversed
    shuffled, sorter = seq[1][order], np.argsort(seq[1][order], kind="stable")
    np.testing.assert_array_equal(ops.searchsorted(shuffled, values[0], right=right, sorter=sorter),
                                  np.searchsorted(shuffled, values[0], side=side, sorter=sorter))
    boundaries = [0.5, 2.0, 2.0, 4.0]
    bucket = ops.bucketize(values, boundaries, right=right)
    assert bucket.dtype == funcad.int32
    np.testing.assert_array_equal(bucket, torch.bucketize(T(values), T(boundaries), right=right).numpy())


def test_bucketize_prints_what_mindspore_documents():
    got = ops.bucketize(np.array([[3, 6, 9], [3, 6, 9]]), [1.0, 3.0, 5.0, 7.0, 9.0], right=True)
    np.testing.assert_array_equal(got, np.array([[2, 3, 5], [2, 3, 5]], np.int32))


def test_argwhere_matches_numpy():
    x = RNG.integers(0, 3, (3, 4, 2))
    got = ops.argwhere(x)
    assert got.dtype == funcad.int64
    np.testing.assert_array_equal(got, np.argwhere(x))


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_unique_consecutive_matches_torch_for_every_flag(axis):
    x = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 1, 1, 3], [3, 1, 1, 3], [3, 1, 1, 3]])
    for idx in (False, True):
        for counts in (False, True):
            got = ops.unique_consecutive(x, idx, counts, axis)
            expected = torch.unique_consecutive(T(x), return_inverse=idx, return_counts=counts, dim=axis)
            got, expected = (got if isinstance(got, tuple) else (got,)), (expected if isinstance(expected, tuple) else (expected,))
            assert len(got) == len(expected) == 1 + idx + counts
            for g, e in zip(got, expected):
                np.testing.assert_array_equal(g, e.numpy())


def test_unique_consecutive_prints_what_mindspore_documents_and_its_values_differentiate():
    output, idx, counts = ops.unique_consecutive(np.array([1, 1, 2, 2, 3, 1, 1, 2], np.int32), True, True, None)
    np.testing.assert_array_equal(output, [1, 2, 3, 1, 2])
    np.testing.assert_array_equal(idx, [0, 0, 1, 1, 2, 3, 3, 4])
    np.testing.assert_array_equal(counts, [2, 2, 1, 2, 1])
    assert output.dtype == funcad.int32 and idx.dtype == funcad.int64
    grad = funcad.grad(lambda v: ops.sum(ops.unique_consecutive(v) * np.arange(1.0, 4.0)))(np.array([5.0, 5.0, 1.0, 1.0, 1.0, 5.0]))
    assert_close(grad, np.array([1.0, 0.0, 2.0, 0.0, 0.0, 3.0]))  # each run's first element


# -- errors --------------------------------------------------------------------------------------------------------
ERRORS = [
    (lambda: ops.svd(TALL, full_matrices=True), NotImplementedError, r"funcad.ops.svd: full_matrices=True is supported for square matrices only"),
    (lambda: ops.svd(TALL[0]), ValueError, r"funcad.ops.svd: needs matrices in the last two axes, got shape \(3,\)"),
    (lambda: ops.pinv(np.ones((2, 2), np.int32)), TypeError, r"funcad.ops.pinv: needs float16, float32 or float64 values, got int32"),
    (lambda: ops.pinv(TALL, hermitian=True), ValueError, r"funcad.ops.pinv: needs square matrices in the last two axes, got shape \(5, 3\)"),
    (lambda: ops.lstsq(TALL, TALL[:4]), ValueError,
     r"funcad.ops.lstsq: needs an \(m, n\) input and an \(m, k\) or \(m,\) A, got shapes \(5, 3\) and \(4, 3\)"),
    (lambda: ops.lstsq(TALL, TALL.astype(np.float32)), TypeError, r"funcad.ops.lstsq: input and A must share a dtype, got float64 and float32"),
    (lambda: ops.matrix_power(TALL, 2), ValueError, r"funcad.ops.matrix_power: needs square matrices in the last two axes, got shape \(5, 3\)"),
    (lambda: ops.matrix_power(SPD, 1.5), TypeError, r"funcad.ops.matrix_power: the exponent must be an int, got 1.5"),
    (lambda: ops.matrix_exp(TALL), ValueError, r"funcad.ops.matrix_exp: needs square matrices in the last two axes, got shape \(5, 3\)"),
    (lambda: ops.cholesky_solve(TALL, SPD), ValueError, r"cholesky_solve: input of shape \(5, 3\) does not fit a factor of shape \(4, 4\)"),
    (lambda: ops.lu_solve(TALL[:3], SQUARE[0], np.array([1.0, 2.0, 3.0])), ValueError, r"lu_solve: needs b \(\.\.\., 3, k\) and int LU_pivots"),
    (lambda: ops.lu_solve(TALL[:3], SQUARE[0], np.array([0, 2, 3])), ValueError, r"funcad.ops.lu_solve: LU_pivots must lie in \[1, 3\]"),
    (lambda: funcad.jit(lambda b, p: ops.lu_solve(b, SQUARE[0], p))(TALL[:3], np.array([1, 2, 3])), TypeError,
     r"funcad.ops.lu_solve: LU_pivots must be known values"),
    (lambda: ops.eig(TALL), ValueError, r"funcad.ops.eig: needs square matrices in the last two axes, got shape \(5, 3\)"),
    (lambda: ops.eigvals(np.eye(2, dtype=np.int32)), TypeError, r"eigvals: needs float32, float64, complex64 or complex128 values, got int32"),
    (lambda: ops.orgqr(TALL.T, TALL[0]), ValueError, r"orgqr: needs input \(\.\.\., m, n\) with m >= n and input2 \(\.\.\., k\) with k <= n"),
    (lambda: ops.vander(TALL), ValueError, r"funcad.ops.vander: needs a 1-D input, got shape \(5, 3\)"),
    (lambda: ops.vander(TALL[0], -1), ValueError, r"funcad.ops.vander: N must be a non-negative int, got -1"),
    (lambda: ops.block_diag(), ValueError, r"funcad.ops.block_diag: needs at least one input"),
    (lambda: ops.block_diag(TALL, WIDE), ValueError, r"funcad.ops.block_diag: input 1 has shape \(2, 3, 4\)"),
    (lambda: ops.quantile(DATA, 1.5), ValueError, r"funcad.ops.quantile: q must be a number or a 1-D sequence of numbers in \[0, 1\], got 1.5"),
    (lambda: ops.nanquantile(DATA, [[0.5]]), ValueError, r"funcad.ops.nanquantile: q must be a number or a 1-D sequence"),
    (lambda: ops.quantile(DATA, 0.5, 2), ValueError, r"funcad.ops.quantile: axis 2 is out of range for an input of shape \(4, 5\)"),
    (lambda: ops.quantile(np.arange(4), 0.5), TypeError, r"funcad.ops.quantile: needs float16, float32 or float64 values, got int64"),
    (lambda: ops.histc(DATA, 0), ValueError, r"funcad.ops.histc: bins must be a positive int, got 0"),
    (lambda: ops.histc(DATA, 5, 2.0, 1.0), ValueError, r"funcad.ops.histc: min must not exceed max, got min=2.0, max=1.0"),
    (lambda: ops.bincount(np.array([[1, 2]])), ValueError, r"funcad.ops.bincount: needs a 1-D int input, got int64\(1, 2\)"),
    (lambda: ops.bincount(np.array([1, -2])), ValueError, r"funcad.ops.bincount: input values must be non-negative, got -2"),
    (lambda: ops.bincount(np.array([1, 2]), minlength=-1), ValueError, r"funcad.ops.bincount: minlength must be a non-negative int, got -1"),
    (lambda: ops.bincount(np.array([1, 2]), np.ones(3)), ValueError, r"bincount: weights of shape \(3,\) do not match input of shape \(2,\)"),
    (lambda: funcad.jit(ops.bincount)(np.array([1, 2])), TypeError, r"funcad.ops.bincount: the output's shape depends on the input's values"),
    (lambda: ops.searchsorted(DATA[0], DATA[0], side="middle"), ValueError, r"funcad.ops.searchsorted: side must be 'left' or 'right', got 'middle'"),
    (lambda: ops.searchsorted(DATA[0], DATA[0], right=True, side="left"), ValueError, r"funcad.ops.searchsorted: right=True contradicts side='left'"),
    (lambda: ops.searchsorted(DATA, DATA[:2]), ValueError,
     r"funcad.ops.searchsorted: sorted_sequence of shape \(4, 5\) must be 1-D or share the leading axes of values \(2, 5\)"),
    (lambda: ops.bucketize(DATA, np.array([1.0])), TypeError, r"funcad.ops.bucketize: boundaries must be a list of numbers, got ndarray"),
    (lambda: ops.unique_consecutive(DATA, axis=2), ValueError, r"unique_consecutive: axis 2 is out of range for an input of shape \(4, 5\)"),
    (lambda: funcad.jit(ops.unique_consecutive)(DATA), TypeError, r"funcad.ops.unique_consecutive: the output's shape depends on the input's values"),
    (lambda: ops.cartesian_prod(), ValueError, r"funcad.ops.cartesian_prod: needs at least one input"),
    (lambda: ops.cartesian_prod(DATA[0], DATA), ValueError, r"funcad.ops.cartesian_prod: input 1 has shape \(4, 5\); inputs must be 1-D"),
    (lambda: ops.combinations(DATA[0], -1), ValueError, r"funcad.ops.combinations: r must be a non-negative int, got -1"),
    (lambda: ops.renorm(DATA, 0.0, 0, 1.0), ValueError, r"funcad.ops.renorm: p must be a positive number, got 0.0"),
    (lambda: ops.renorm(DATA, 2.0, 0, -1.0), ValueError, r"funcad.ops.renorm: maxnorm must be non-negative, got -1.0"),
    (lambda: ops.renorm(DATA[0], 2.0, 0, 1.0), ValueError, r"funcad.ops.renorm: needs an input of at least 2 dimensions and an axis among them"),
    (lambda: ops.pdist(DATA[0]), ValueError, r"funcad.ops.pdist: needs rows in the last two axes \(\.\.\., N, M\), got shape \(5,\)"),
    (lambda: ops.pdist(DATA, -1.0), ValueError, r"funcad.ops.pdist: p must be non-negative, got -1.0"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_bad_input_names_the_op_and_what_is_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_cholesky_solve_reads_only_the_factor_s_triangle():
    lower = np.linalg.cholesky(SPD)
    noisy = lower + np.triu(RNG.standard_normal((4, 4)), 1)
    b = TALL[:4]
    assert_close(ops.cholesky_solve(b, noisy), np.linalg.solve(SPD, b), rtol=1e-12)
    assert_close(ops.cholesky_solve(b, noisy.T, upper=True), np.linalg.solve(SPD, b), rtol=1e-12)
    grad = funcad.grad(lambda c: ops.sum(ops.cholesky_solve(b, c)), 0)(noisy)
    np.testing.assert_array_equal(np.triu(np.asarray(grad), 1), 0.0)


def test_numpy_pinv_shares_the_svd_path_and_takes_integers_as_numpy_does():
    ints = np.array([[1, 2], [3, 4], [5, 7]])
    assert_close(fnp.linalg.pinv(ints), np.linalg.pinv(ints), rtol=1e-12)
    assert_close(fnp.linalg.pinv(TALL, rcond=0.5), np.linalg.pinv(TALL, rcond=0.5), rtol=1e-12)
