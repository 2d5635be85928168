"""Every differentiable op's gradient in float64, against finite differences and against torch.autograd.

Shapes are drawn by hypothesis (broadcasting combinations for elementwise ops); values come from a
seeded generator. For each draw: funcad's forward equals torch's, funcad's gradient of sum(f * w) with
a random w equals torch.autograd's, and check_grads confirms reverse and forward mode against central
finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes
from op_cases import CASES as EVERY_OP  # one case per public op, shared with the jit equality tests
from op_cases import NOT_DIFFERENTIABLE

import funcad
from funcad import ops
from funcad.testing import assert_close, check_grads

SETTINGS = settings(max_examples=10, deadline=None, derandomize=True, database=None)
TF = torch.nn.functional


def _transform(kind: str, a: np.ndarray) -> np.ndarray:
    """Move values into an op's smooth domain."""
    if kind == "pos":
        return np.abs(a) + 0.5
    if kind == "unit":
        return np.tanh(a) * 0.9
    if kind == "prob":
        return 1.0 / (1.0 + np.exp(-a))
    return a


# -- elementwise ---------------------------------------------------------------------------------
UNARY = {
    "exp": (ops.exp, torch.exp, "any"),
    "log": (ops.log, torch.log, "pos"),
    "log1p": (ops.log1p, torch.log1p, "pos"),
    "expm1": (ops.expm1, torch.expm1, "any"),
    "sqrt": (ops.sqrt, torch.sqrt, "pos"),
    "rsqrt": (ops.rsqrt, torch.rsqrt, "pos"),
    "square": (ops.square, torch.square, "any"),
    "abs": (ops.abs, torch.abs, "any"),
    "sin": (ops.sin, torch.sin, "any"),
    "cos": (ops.cos, torch.cos, "any"),
    "tan": (ops.tan, torch.tan, "unit"),
    "tanh": (ops.tanh, torch.tanh, "any"),
    "sigmoid": (ops.sigmoid, torch.sigmoid, "any"),
    "relu": (ops.relu, torch.relu, "any"),
    "softplus": (ops.softplus, TF.softplus, "any"),
    "relu6": (lambda x: ops.relu6(x * 4.0), lambda x: TF.relu6(x * 4.0), "any"),
    "hardtanh": (lambda x: ops.hardtanh(x, -0.5, 1.2), lambda x: TF.hardtanh(x, -0.5, 1.2), "any"),
    # torch's hardsigmoid scales its gradient by 1/6 in single precision: its relu6 form is the double-precision reference
    "hardsigmoid": (lambda x: ops.hardsigmoid(x * 3.0), lambda x: TF.relu6(x * 3.0 + 3.0) / 6.0, "any"),
    "hardswish": (lambda x: ops.hardswish(x * 3.0), lambda x: TF.hardswish(x * 3.0), "any"),
    "mish": (ops.mish, TF.mish, "any"),
    "selu": (ops.selu, TF.selu, "any"),
    "celu": (lambda x: ops.celu(x, 0.5), lambda x: TF.celu(x, 0.5), "any"),  # 1/alpha exact: torch scales the input in single precision
    "logsigmoid": (lambda x: ops.logsigmoid(x * 20.0), lambda x: TF.logsigmoid(x * 20.0), "any"),
    "softsign": (ops.softsign, TF.softsign, "any"),
    "tanhshrink": (ops.tanhshrink, TF.tanhshrink, "any"),
    "softshrink": (lambda x: ops.softshrink(x, 0.3), lambda x: TF.softshrink(x, 0.3), "any"),
    "hardshrink": (lambda x: ops.hardshrink(x, 0.3), lambda x: TF.hardshrink(x, 0.3), "any"),
    "threshold": (lambda x: ops.threshold(x, 0.1, -2.0), lambda x: TF.threshold(x, 0.1, -2.0), "any"),
    "erf": (ops.erf, torch.erf, "any"),
    "negative": (ops.negative, torch.negative, "any"),
    "sign": (ops.sign, torch.sign, "any"),
    "floor": (ops.floor, torch.floor, "any"),
    "ceil": (ops.ceil, torch.ceil, "any"),
    "round": (ops.round, torch.round, "any"),
    "cast": (lambda x: ops.cast(x, funcad.float64), lambda x: x.to(torch.float64), "any"),
    "stop_gradient": (ops.stop_gradient, lambda x: x.detach(), "any"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=3), seed=st.integers(0, 2**31))
def test_unary(assert_op_matches_torch, name, shape, seed):
    fc, th, kind = UNARY[name]
    x = _transform(kind, np.random.default_rng(seed).standard_normal(shape))
    assert_op_matches_torch(fc, th, [x], seed=seed, fd=name != "stop_gradient")  # stop_gradient differs from its finite difference on purpose


BINARY = {
    "add": (ops.add, torch.add, "any", "any"),
    "subtract": (ops.subtract, torch.subtract, "any", "any"),
    "multiply": (ops.multiply, torch.multiply, "any", "any"),
    "divide": (ops.divide, torch.divide, "any", "pos"),
    "power": (ops.power, torch.pow, "pos", "any"),
    "maximum": (ops.maximum, torch.maximum, "any", "any"),
    "minimum": (ops.minimum, torch.minimum, "any", "any"),
    "remainder": (ops.remainder, torch.remainder, "any", "pos"),
    "operator_add": (lambda a, b: a + b, lambda a, b: a + b, "any", "any"),
    "operator_rsub": (lambda a, b: 2.0 - a * b, lambda a, b: 2.0 - a * b, "any", "any"),
    "operator_div_pow": (lambda a, b: (a / b) ** 2, lambda a, b: (a / b) ** 2, "any", "pos"),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=st.integers(0, 2**31))
def test_binary_broadcasting(assert_op_matches_torch, name, shapes, seed):
    fc, th, kind_a, kind_b = BINARY[name]
    rng = np.random.default_rng(seed)
    a = _transform(kind_a, rng.standard_normal(shapes.input_shapes[0]))
    b = _transform(kind_b, rng.standard_normal(shapes.input_shapes[1]))
    if name.startswith("operator"):  # the left operand must be a Tensor for the operator to reach funcad
        assert_op_matches_torch(lambda x, y: fc(x if isinstance(x, funcad.Tensor) else funcad.Tensor(x), y), th, [a, b], seed=seed)
    else:
        assert_op_matches_torch(fc, th, [a, b], seed=seed)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), seed=st.integers(0, 2**31))
def test_where_broadcasting(assert_op_matches_torch, shapes, seed):
    rng = np.random.default_rng(seed)
    cond = rng.random(shapes.input_shapes[0]) > 0.5
    a, b = rng.standard_normal(shapes.input_shapes[1]), rng.standard_normal(shapes.input_shapes[2])
    assert_op_matches_torch(lambda x, y: ops.where(cond, x, y), lambda x, y: torch.where(torch.tensor(cond), x, y), [a, b], seed=seed)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), seed=st.integers(0, 2**31))
def test_clip_with_tensor_bounds(assert_op_matches_torch, shapes, seed):
    rng = np.random.default_rng(seed)
    x, lo, hi = (rng.standard_normal(s) for s in shapes.input_shapes)
    assert_op_matches_torch(lambda a, b, c: ops.clip(a, b, c), lambda a, b, c: torch.clamp(*torch.broadcast_tensors(a, b, c)), [x, lo, hi], seed=seed)


@pytest.mark.parametrize("lo, hi", [(-0.5, 0.5), (None, 0.2), (-0.2, None)])
def test_clip_scalar_bounds(assert_op_matches_torch, lo, hi):
    x = np.random.default_rng(1).standard_normal((3, 4))
    assert_op_matches_torch(lambda a: ops.clip(a, lo, hi), lambda a: torch.clamp(a, lo, hi), [x])


def test_ties_follow_torch(assert_op_matches_torch):
    """maximum/minimum split the gradient at ties; clip passes it at a bound; amax/amin (and max/min of everything) share
    it among tied maxima; max/min along an axis give it to the first, as torch.max(x, dim)."""
    x = np.array([1.0, 2.0, 2.0, -1.0])
    y = np.array([1.0, 1.0, 3.0, -1.0])
    assert_op_matches_torch(ops.maximum, torch.maximum, [x, y], fd=False)
    assert_op_matches_torch(ops.minimum, torch.minimum, [x, y], fd=False)
    assert_op_matches_torch(lambda a: ops.clip(a, -1.0, 2.0), lambda a: torch.clamp(a, -1.0, 2.0), [x], fd=False)
    assert_op_matches_torch(lambda a: ops.max(a)[0], torch.amax, [x], fd=False)
    assert_op_matches_torch(lambda a: ops.amin(a), torch.amin, [y], fd=False)
    m = np.array([[3.0, 3.0, 1.0], [0.0, 5.0, 5.0]])
    assert_op_matches_torch(lambda a: ops.amax(a, axis=1), lambda a: torch.amax(a, dim=1), [m], fd=False)
    assert_op_matches_torch(lambda a: ops.max(a, axis=1)[0], lambda a: torch.max(a, dim=1).values, [m], fd=False)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_power_edge_cases_match_torch(assert_op_matches_torch):
    """0 ** 0 and 0 ** p: the discarded branch of the slope holds inf, which numpy warns about; the gradient matches torch."""
    x = np.array([0.0, 1.5, 2.0])
    for p in (0.0, 1.0, 2.0, 3.0):
        assert_op_matches_torch(lambda a, p=p: ops.power(a, p), lambda a, p=p: torch.pow(a, p), [x], fd=False)
    assert_op_matches_torch(lambda a, b: ops.power(a, b), torch.pow, [x, np.array([0.0, 2.0, 0.5])], fd=False)


# -- reductions ------------------------------------------------------------------------------------
def _axis_strategy(draw, ndim):
    if ndim == 0:
        return None
    choice = draw(st.sampled_from(["none", "int", "tuple"]))
    if choice == "none":
        return None
    if choice == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return tuple(sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1))))


def _dims(axis, ndim):
    return list(range(ndim)) if axis is None else ([axis] if isinstance(axis, int) else list(axis))


REDUCTIONS = {
    "sum": (lambda x, a, k: ops.sum(x, a, k), lambda x, a, k: torch.sum(x, dim=a, keepdim=k)),
    "mean": (lambda x, a, k: ops.mean(x, a, k), lambda x, a, k: torch.mean(x, dim=a, keepdim=k)),
    "prod": (lambda x, a, k: ops.prod(x, a, k), None),
    "amax": (lambda x, a, k: ops.amax(x, a, k), lambda x, a, k: torch.amax(x, dim=a, keepdim=k)),
    "amin": (lambda x, a, k: ops.amin(x, a, k), lambda x, a, k: torch.amin(x, dim=a, keepdim=k)),
    "var": (lambda x, a, k: ops.var(x, a, ddof=0, keepdims=k), lambda x, a, k: torch.var(x, dim=a, correction=0, keepdim=k)),
    "var_ddof1": (lambda x, a, k: ops.var(x, a, ddof=1, keepdims=k), lambda x, a, k: torch.var(x, dim=a, correction=1, keepdim=k)),
    "std": (lambda x, a, k: ops.std(x, a, ddof=0, keepdims=k), lambda x, a, k: torch.std(x, dim=a, correction=0, keepdim=k)),
    "std_ddof1": (lambda x, a, k: ops.std(x, a, ddof=1, keepdims=k), lambda x, a, k: torch.std(x, dim=a, correction=1, keepdim=k)),
    "logsumexp": (lambda x, a, k: ops.logsumexp(x, a, k), lambda x, a, k: torch.logsumexp(x, dim=a, keepdim=k)),
    "norm": (lambda x, a, k: ops.norm(x, axis=a, keepdims=k), lambda x, a, k: torch.linalg.vector_norm(x, dim=a, keepdim=k)),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(data=st.data(), shape=array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=3), seed=st.integers(0, 2**31))
def test_reductions(assert_op_matches_torch, name, data, shape, seed):
    fc, th = REDUCTIONS[name]
    axis = _axis_strategy(data.draw, len(shape))
    keepdims = data.draw(st.booleans())
    x = np.random.default_rng(seed).standard_normal(shape)
    dims = _dims(axis, len(shape))
    if th is None:  # torch.prod takes one dim at a time
        def th(t, a, k):
            for d in sorted((d % len(shape) for d in dims), reverse=True):
                t = torch.prod(t, dim=d, keepdim=True)
            return t if k else t.reshape([n for i, n in enumerate(shape) if i not in [d % len(shape) for d in dims]])
    assert_op_matches_torch(lambda t: fc(t, axis, keepdims), lambda t: th(t, dims, keepdims), [x], seed=seed)


def test_prod_with_zeros_matches_torch(assert_op_matches_torch):
    for row in ([0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [1.0, 2.0, 3.0]):
        x = np.array([row, [1.5, -2.0, 0.5]])
        assert_op_matches_torch(lambda t: ops.prod(t, axis=1), lambda t: torch.prod(t, dim=1), [x], fd=False)
        assert_op_matches_torch(ops.prod, torch.prod, [x], fd=False)


def _product_excluding(x: np.ndarray, idx: tuple) -> float:
    """d^k prod(x) / dx_i dx_j ...: the product of the other elements, 0 when an index repeats (prod is multilinear)."""
    if len(set(idx)) < len(idx):
        return 0.0
    return float(np.prod([v for k, v in enumerate(x) if k not in idx]))


@pytest.mark.parametrize("row", [[0.0, 2.0, -3.0, 0.5], [0.0, 1.5, 0.0, -2.0], [0.0, 0.0, 0.0, 2.0]], ids=["one_zero", "two_zeros", "three_zeros"])
def test_prod_second_and_third_derivatives_at_zeros_match_closed_forms(row):
    x = np.array(row)
    n = len(x)
    first = funcad.grad(ops.prod)
    hessian = np.array([np.asarray(funcad.grad(lambda y, i=i: first(y)[i])(x)) for i in range(n)])
    np.testing.assert_allclose(hessian, [[_product_excluding(x, (i, j)) for j in range(n)] for i in range(n)], rtol=1e-12, atol=0)
    third = np.array([[np.asarray(funcad.grad(lambda z, i=i, j=j: funcad.grad(lambda y: first(y)[i])(z)[j])(x)) for j in range(n)] for i in range(n)])
    expected = [[[_product_excluding(x, (i, j, k)) for k in range(n)] for j in range(n)] for i in range(n)]
    np.testing.assert_allclose(third, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("axis, keepdims", [(1, False), ((0, 2), True), (None, False)])
def test_prod_higher_derivatives_with_zeros_against_finite_differences(axis, keepdims):
    x = np.random.default_rng(4).uniform(0.5, 1.5, (2, 3, 2))
    x[0, 1, 0] = 0.0
    x[0, 2, 0] = x[1, 1, 1] = 0.0  # two zeros in one reduced slice for every axis choice
    check_grads(lambda t: ops.prod(t, axis=axis, keepdims=keepdims), [x], order=3, modes=("rev", "fwd"))


@pytest.mark.parametrize("ord_, axis", [(1, 1), (3, 0), (np.inf, 1), (-np.inf, 0), (0.5, 1), ("fro", None), (1, None), (np.inf, None)])
def test_norm_orders(assert_op_matches_torch, ord_, axis):
    x = np.random.default_rng(2).standard_normal((3, 4))
    def th(t):
        return torch.linalg.matrix_norm(t, ord=ord_) if axis is None else torch.linalg.vector_norm(t, ord=ord_, dim=axis)

    assert_op_matches_torch(lambda t: ops.norm(t, ord_, axis), th, [x])
    assert_close(ops.norm(x, ord_, axis), np.linalg.norm(x, ord_, axis))


def test_norm_gradient_at_zero_is_zero():
    g = funcad.grad(ops.norm)(np.zeros(3))
    assert_close(g, np.zeros(3))


@pytest.mark.parametrize("ord_", [0.5, 1.5, 3])
def test_p_norm_gradients_at_zero_entries_and_zero_rows_match_torch(assert_op_matches_torch, ord_):
    x = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, -2.0]])  # an all-zero row, and a zero entry (p < 1: infinite slope there)
    assert_op_matches_torch(lambda t: ops.norm(t, ord=ord_, axis=1), lambda t: torch.linalg.vector_norm(t, ord=ord_, dim=1), [x], fd=False)


@pytest.mark.parametrize("ord_", [None, 2, 3, 0.5, 1, np.inf, -np.inf, 0])
def test_norm_of_rows_holding_nan_or_inf_matches_torch(ord_):
    x = np.array([[np.nan, 1.0, -2.0], [0.0, np.inf, 3.0], [1.0, -2.0, 0.5], [0.0, 0.0, 0.0]])
    expected = torch.linalg.vector_norm(torch.tensor(x), ord=2 if ord_ is None else ord_, dim=1).numpy()
    np.testing.assert_array_equal(ops.norm(x, ord=ord_, axis=1).asnumpy(), expected)  # NaN where torch has NaN


def test_two_norm_of_nan_is_nan_and_so_is_its_gradient_as_in_torch():
    x = np.array([[np.nan, 1.0], [np.inf, 0.0], [0.0, 0.0], [3.0, -4.0]])
    xt = torch.tensor(x, requires_grad=True)
    torch.linalg.matrix_norm(xt).backward()
    value, g = funcad.value_and_grad(lambda t: ops.norm(t))(x)
    assert np.isnan(float(value)) and np.isnan(torch.linalg.matrix_norm(torch.tensor(x)).item())
    np.testing.assert_array_equal(g.asnumpy(), xt.grad.numpy())


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumsum(assert_op_matches_torch, axis):
    x = np.random.default_rng(3).standard_normal((3, 4))
    assert_op_matches_torch(lambda t: ops.cumsum(t, axis),
                            lambda t: torch.cumsum(t.reshape(-1) if axis is None else t, dim=0 if axis is None else axis), [x])


# -- linear algebra ---------------------------------------------------------------------------------
MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)), ((2, 2, 3), (3, 4)), ((3,), (2, 3, 4)),
                 ((2, 1, 2, 3), (3, 3, 2)), ((1, 2, 3), (4, 3, 2)), ((2, 4, 3), (3,))]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES)
def test_matmul(assert_op_matches_torch, sa, sb):
    rng = np.random.default_rng(4)
    assert_op_matches_torch(ops.matmul, torch.matmul, [rng.standard_normal(sa), rng.standard_normal(sb)], order=2)


@pytest.mark.parametrize("sx", [(3,), (2, 3), (2, 4, 3)])
def test_dense_matches_torch_linear(assert_op_matches_torch, sx):
    rng = np.random.default_rng(5)
    args = [rng.standard_normal(sx), rng.standard_normal((5, 3)), rng.standard_normal(5)]
    assert_op_matches_torch(ops.dense, TF.linear, args, order=2)


@pytest.mark.parametrize("contiguous", [True, False])
def test_a_stack_of_matrices_times_a_matrix_is_the_same_eager_and_compiled(contiguous):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 2, 3, 5)) if contiguous else rng.standard_normal((4, 2, 5, 3)).swapaxes(-1, -2)
    w, b = rng.standard_normal((5, 6)), rng.standard_normal((6, 5))
    expected = np.einsum("abij,jk->abik", np.einsum("abij,jk->abik", x, w) * 2.0, b)

    def f(x, w, b):  # the first product lands in a buffer the compiler plans
        return ops.matmul(ops.matmul(x, w) * 2.0, b)

    for run in (f, funcad.jit(f)):
        assert_close(run(x, w, b), expected, rtol=1e-12, atol=1e-12)
    for run in (ops.dense, funcad.jit(ops.dense)):  # dense's weight is (out, in)
        assert_close(run(x, b), np.einsum("abij,kj->abik", x, b), rtol=1e-12, atol=1e-12)


def test_dense_weight_gradient_keeps_the_weight_layout():
    x, w = np.ones((4, 3), np.float32), np.ones((5, 3), np.float32)
    dw = funcad.grad(lambda w: ops.sum(ops.dense(x, w)))(w)
    assert dw.shape == (5, 3) and np.asarray(dw).flags.c_contiguous


def test_dense_rejects_a_mismatched_weight():
    with pytest.raises(ValueError, match=r"funcad.ops.dense: input of shape \(2, 4\) does not fit a weight of shape \(5, 3\)"):
        ops.dense(np.ones((2, 4)), np.ones((5, 3)))


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(signature="(m?,n),(n,p?)->(m?,p?)", max_dims=4, max_side=3), seed=st.integers(0, 2**31))
def test_matmul_broadcasting(assert_op_matches_torch, shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(s) for s in shapes.input_shapes)
    assert_op_matches_torch(ops.matmul, torch.matmul, [a, b], seed=seed)


@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((2, 3), (3, 4)), ((2, 3, 4), (4,)), ((2, 3, 4), (5, 4, 2)), ((), (3,)), ((2, 3), ())])
def test_dot_matches_numpy_and_differentiates(sa, sb):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    assert_close(ops.dot(a, b), np.dot(a, b))
    check_grads(ops.dot, (a, b), order=2, modes=("rev", "fwd"))


@pytest.mark.parametrize("sb, axes", [((5,), 0), ((4, 5), 1), ((2, 4, 5), 2), ((4, 2, 5), ([1, 2], [1, 0])), ((5, 4), ([2], [1]))])
def test_tensordot(assert_op_matches_torch, sb, axes):
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((3, 2, 4)), rng.standard_normal(sb)
    th_axes = axes if isinstance(axes, int) else [list(axes[0]), list(axes[1])]
    assert_close(ops.tensordot(a, b, axes), np.tensordot(a, b, axes))
    assert_op_matches_torch(lambda x, y: ops.tensordot(x, y, axes), lambda x, y: torch.tensordot(x, y, dims=th_axes), [a, b])


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iij->j", [(3, 3, 2)]), ("ij->", [(2, 3)]),
    ("ba", [(2, 3)]), ("i,i", [(3,), (3,)]), ("bij,bjk,bkl->bil", [(2, 3, 4), (2, 4, 5), (2, 5, 2)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]), ("ij,kl->il", [(2, 3), (4, 5)]), ("i,j->ij", [(2,), (3,)]),
]


@pytest.mark.parametrize("spec, shapes", EINSUM_CASES)
def test_einsum(assert_op_matches_torch, spec, shapes):
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in shapes]
    assert_close(ops.einsum(spec, *arrays), np.einsum(spec, *arrays))
    assert_op_matches_torch(lambda *a: ops.einsum(spec, *a), lambda *a: torch.einsum(spec, *a), arrays, order=2)


def test_einsum_broadcasts_size_one_axes():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((1,))
    assert_close(ops.einsum("ij,j->i", a, b), np.einsum("ij,j->i", a, b))
    check_grads(lambda x, y: ops.einsum("ij,j->i", x, y), (a, b), modes=("rev", "fwd"))


def test_outer(assert_op_matches_torch):
    rng = np.random.default_rng(9)
    assert_op_matches_torch(ops.outer, torch.outer, [rng.standard_normal(3), rng.standard_normal(4)])


# -- shape ops ------------------------------------------------------------------------------------------
SHAPE_CASES = {
    "reshape": (lambda x: ops.reshape(x, (4, 3)), lambda x: x.reshape(4, 3)),
    "transpose": (lambda x: ops.transpose(x), lambda x: x.T),
    "swapaxes": (lambda x: ops.swapaxes(x, 0, 1), lambda x: x.transpose(0, 1)),
    "expand_squeeze": (lambda x: ops.squeeze(ops.expand_dims(x, 1) * 2.0, 1), lambda x: x.unsqueeze(1).mul(2.0).squeeze(1)),
    "broadcast_to": (lambda x: ops.broadcast_to(x, (2, 3, 4)), lambda x: x.expand(2, 3, 4)),
    "flatten": (lambda x: ops.flatten(ops.reshape(x, (3, 2, 2))), lambda x: x.reshape(3, 2, 2).flatten(1)),
    "flip": (lambda x: ops.flip(x, 1), lambda x: x.flip(1)),
    "tile": (lambda x: ops.tile(x, (2, 1, 2)), lambda x: x.repeat(2, 1, 2)),
    "repeat": (lambda x: ops.repeat(x, [1, 0, 3], axis=0), lambda x: torch.repeat_interleave(x, torch.tensor([1, 0, 3]), dim=0)),
    "repeat_flat": (lambda x: ops.repeat(x, 2), lambda x: torch.repeat_interleave(x.reshape(-1), 2)),
    "pad_constant": (lambda x: ops.pad(x, ((1, 0), (2, 1)), constant_values=0.5), lambda x: TF.pad(x, (2, 1, 1, 0), value=0.5)),
    "pad_reflect": (lambda x: ops.pad(x[None], ((0, 0), (1, 2), (2, 1)), "reflect")[0], lambda x: TF.pad(x[None], (2, 1, 1, 2), mode="reflect")[0]),
    "pad_edge": (lambda x: ops.pad(x[None], ((0, 0), (1, 2), (2, 1)), "edge")[0], lambda x: TF.pad(x[None], (2, 1, 1, 2), mode="replicate")[0]),
    "pad_wrap": (lambda x: ops.pad(x[None], ((0, 0), (1, 2), (2, 1)), "wrap")[0], lambda x: TF.pad(x[None], (2, 1, 1, 2), mode="circular")[0]),
    "concat": (lambda x: ops.concat([x, x * 2.0, x[:1]], axis=0), lambda x: torch.cat([x, x * 2.0, x[:1]], dim=0)),
    "stack": (lambda x: ops.stack([x, ops.exp(x)], axis=1), lambda x: torch.stack([x, torch.exp(x)], dim=1)),
    "split": (lambda x: ops.split(x, [1, 2, 1], axis=1)[1] * ops.split(x, 2, axis=1)[0],
              lambda x: torch.split(x, [1, 2, 1], dim=1)[1] * torch.split(x, 2, dim=1)[0]),
    "take_along_axis": (lambda x: ops.take_along_axis(x, np.array([[0, 0, 2], [1, 3, 3], [2, 2, 2]]), 1),
                        lambda x: torch.take_along_dim(x, torch.tensor([[0, 0, 2], [1, 3, 3], [2, 2, 2]]), 1)),
    "getitem_basic": (lambda x: x[1:, None, ::2], lambda x: x[1:, None, ::2]),
    "getitem_ellipsis_int": (lambda x: x[..., -1], lambda x: x[..., -1]),
    "getitem_int_array_repeats": (lambda x: x[np.array([0, 2, 0, 0])], lambda x: x[torch.tensor([0, 2, 0, 0])]),
    "getitem_two_int_arrays": (lambda x: x[np.array([0, 2, 0]), np.array([1, 1, 1])], lambda x: x[torch.tensor([0, 2, 0]), torch.tensor([1, 1, 1])]),
    "getitem_bool_mask": (lambda x: x[np.array([[True, False, True, True]] * 2 + [[False] * 4])],
                          lambda x: x[torch.tensor([[True, False, True, True]] * 2 + [[False] * 4])]),
    "getitem_bool_rows": (lambda x: x[np.array([True, False, True]), 1:], lambda x: x[torch.tensor([True, False, True]), 1:]),
    "getitem_tensor_index": (lambda x: x[funcad.Tensor(np.array([2, 2]))], lambda x: x[torch.tensor([2, 2])]),
    "getitem_negative_step": (lambda x: x[::-2, -3:-1], lambda x: x.flip(0)[::2, -3:-1]),
    "getitem_slice_then_array": (lambda x: x[1:, np.array([3, 0, 3])], lambda x: x[1:, torch.tensor([3, 0, 3])]),
    "getitem_array_none_slice": (lambda x: x[np.array([2, 0]), None, 1:3], lambda x: x[torch.tensor([2, 0]), None, 1:3]),
    "getitem_bool_tensor_mask": (lambda x: x[funcad.Tensor(np.array([False, True, True]))], lambda x: x[torch.tensor([False, True, True])]),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_shape_ops(assert_op_matches_torch, name):
    fc, th = SHAPE_CASES[name]
    x = np.random.default_rng(10).standard_normal((3, 4))
    assert_op_matches_torch(lambda t: fc(funcad.Tensor(t) if not isinstance(t, funcad.Tensor) else t), th, [x], order=2)


def test_one_hot_matches_torch():
    idx = np.array([[0, 3], [2, 1]])
    assert_close(ops.one_hot(idx, 5), TF.one_hot(torch.tensor(idx), 5).numpy().astype(np.float32))
    assert ops.one_hot(idx).shape == (2, 2, 4)


# -- softmax and losses ----------------------------------------------------------------------------------
def test_softmax_family(assert_op_matches_torch):
    x = np.random.default_rng(11).standard_normal((3, 4))
    assert_op_matches_torch(lambda t: ops.softmax(t, axis=0), lambda t: torch.softmax(t, dim=0), [x], order=2)
    assert_op_matches_torch(lambda t: ops.log_softmax(t), lambda t: torch.log_softmax(t, dim=-1), [x], order=2)


LOSS_CASES = {
    "mse": (lambda x, y: ops.mse_loss(x, y), lambda x, y: TF.mse_loss(x, y)),
    "mse_sum": (lambda x, y: ops.mse_loss(x, y, reduction="sum"), lambda x, y: TF.mse_loss(x, y, reduction="sum")),
    "l1": (lambda x, y: ops.l1_loss(x, y), lambda x, y: TF.l1_loss(x, y)),
    "l1_none": (lambda x, y: ops.l1_loss(x, y, reduction="none"), lambda x, y: TF.l1_loss(x, y, reduction="none")),
    "bce_logits": (lambda x, y: ops.binary_cross_entropy_with_logits(x, y), lambda x, y: TF.binary_cross_entropy_with_logits(x, y)),
    "bce": (lambda x, y: ops.binary_cross_entropy(ops.sigmoid(x), y), lambda x, y: TF.binary_cross_entropy(torch.sigmoid(x), y)),
    "ce_probabilities": (lambda x, y: ops.cross_entropy(x, ops.softmax(y, axis=1)), lambda x, y: TF.cross_entropy(x, torch.softmax(y, 1))),
    "ce_probabilities_smoothed": (lambda x, y: ops.cross_entropy(x, ops.softmax(y, axis=1), label_smoothing=0.2, reduction="sum"),
                                  lambda x, y: TF.cross_entropy(x, torch.softmax(y, 1), label_smoothing=0.2, reduction="sum")),
}


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_losses_both_arguments(assert_op_matches_torch, name):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 4))
    y = rng.random((3, 4)) if name.startswith("bce") else rng.standard_normal((3, 4))
    assert_op_matches_torch(*LOSS_CASES[name], [x, y], order=2)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_weights(assert_op_matches_torch, weighted, pos_weighted, reduction):
    rng = np.random.default_rng(13)
    x, y = rng.standard_normal((3, 4)) * 3, (rng.random((3, 4)) > 0.5).astype(np.float64)
    w = rng.random((1, 4)) + 0.5 if weighted else None
    pw = rng.random(4) + 0.5 if pos_weighted else None
    tw = None if w is None else torch.tensor(w)
    tpw = None if pw is None else torch.tensor(pw)
    assert_op_matches_torch(lambda t: ops.binary_cross_entropy_with_logits(t, y, w, pw, reduction),
                            lambda t: TF.binary_cross_entropy_with_logits(t, torch.tensor(y), tw, pos_weight=tpw, reduction=reduction), [x])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_class_indices(assert_op_matches_torch, weighted, ignore, smoothing, reduction):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((5, 4, 2))
    target = rng.integers(0, 4, (5, 2))
    if ignore:
        target[1, 0] = target[3, 1] = -100
    w = rng.random(4) + 0.5 if weighted else None
    tw = None if w is None else torch.tensor(w)
    assert_op_matches_torch(lambda t: ops.cross_entropy(t, target, w, reduction=reduction, label_smoothing=smoothing),
                            lambda t: TF.cross_entropy(t, torch.tensor(target), tw, reduction=reduction, label_smoothing=smoothing), [x])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_is_one_op_equal_to_nll_of_log_softmax(weighted, reduction):
    """Class-index cross-entropy is one primitive for every weight and reduction: its value is nll_loss(log_softmax)'s
    to the bit, and its derivatives in the logits and in the class weights match finite differences."""
    rng = np.random.default_rng(16)
    x = rng.standard_normal((6, 4, 2))
    target = rng.integers(0, 4, (6, 2))
    target[2, 1] = -100
    w = rng.random(4) + 0.5 if weighted else None
    ours = ops.cross_entropy(x, target, w, reduction=reduction)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ops.nll_loss(ops.log_softmax(x, axis=1), target, w, reduction=reduction)))
    check_grads(lambda t: ops.cross_entropy(t, target, w, reduction=reduction), [x], order=2)
    if weighted:  # the class weights too (torch refuses them): both modes, to second order, and against nll_loss's ops
        check_grads(lambda v: ops.cross_entropy(x, target, v, reduction=reduction), [w], order=2)
        check_grads(lambda t, v: ops.cross_entropy(t, target, v, reduction=reduction), [x, w], order=2)
        cot = rng.standard_normal(np.shape(np.asarray(ours)))
        by_nll = funcad.grad(lambda v: ops.sum(ops.nll_loss(ops.log_softmax(x, axis=1), target, v, reduction=reduction) * cot))(w)
        assert_close(funcad.grad(lambda v: ops.sum(ops.cross_entropy(x, target, v, reduction=reduction) * cot))(w), by_nll, rtol=1e-10)
        logp = ops.log_softmax(x, axis=1)  # nll_loss's and the smoothing term's own weight gradients ('mean' divides by the weights)
        check_grads(lambda v: ops.nll_loss(logp, target, v, reduction=reduction), [w], order=2)
        check_grads(lambda v: ops.cross_entropy(x, target, v, reduction=reduction, label_smoothing=0.2), [w], order=2)


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_weights_and_nll(assert_op_matches_torch, weighted):
    rng = np.random.default_rng(15)
    x, p = rng.standard_normal((3, 4)), rng.dirichlet(np.ones(4), 3)
    w = rng.random(4) + 0.5 if weighted else None
    tw = None if w is None else torch.tensor(w)
    assert_op_matches_torch(lambda t: ops.cross_entropy(t, p, w), lambda t: TF.cross_entropy(t, torch.tensor(p), tw), [x])
    target = np.array([0, 3, 3])
    assert_op_matches_torch(lambda t: ops.nll_loss(ops.log_softmax(t), target, w),
                            lambda t: TF.nll_loss(torch.log_softmax(t, -1), torch.tensor(target), tw), [x])


def test_losses_stable_for_huge_logits(assert_op_matches_torch):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 3.0]])
    target = np.array([1, 1])
    assert_op_matches_torch(lambda t: ops.cross_entropy(t, target), lambda t: TF.cross_entropy(t, torch.tensor(target)), [logits], fd=False)
    z, y = np.array([1000.0, -1000.0, 1000.0, -1000.0]), np.array([0.0, 1.0, 1.0, 0.0])
    assert_op_matches_torch(lambda t: ops.binary_cross_entropy_with_logits(t, y, pos_weight=np.full(4, 2.0)),
                            lambda t: TF.binary_cross_entropy_with_logits(t, torch.tensor(y), pos_weight=torch.full((4,), 2.0, dtype=torch.float64)),
                            [z], fd=False)
    z32 = z.astype(np.float32)
    loss = ops.binary_cross_entropy_with_logits(z32, y.astype(np.float32))
    assert loss.dtype == np.float32 and np.isfinite(np.asarray(loss))
    assert np.all(np.isfinite(np.asarray(funcad.grad(lambda t: ops.binary_cross_entropy_with_logits(t, y.astype(np.float32)))(z32))))


def test_bce_on_saturated_probabilities_matches_torch(assert_op_matches_torch):
    p, y = np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 1.0])
    assert_op_matches_torch(lambda t: ops.binary_cross_entropy(t, y), lambda t: TF.binary_cross_entropy(t, torch.tensor(y)), [p], fd=False, rtol=1e-7)


# -- third order, every op: grad(grad(grad(f))) against finite differences of the second derivative -----
def _first(f):
    return lambda x, y: f(x)


def _reduced(f):
    return lambda x, y: f(x, 1, False)


THIRD_ORDER = {  # name: (f(x, y), domain of x, domain of y)
    **{f"unary_{k}": (_first(v[0]), v[2], "any") for k, v in UNARY.items() if k != "stop_gradient"},
    **{f"binary_{k}": (v[0], v[2], v[3]) for k, v in BINARY.items() if not k.startswith("operator")},
    **{f"reduce_{k}": (_reduced(v[0]), "any", "any") for k, v in REDUCTIONS.items()},
    "where": (lambda x, y: ops.where(x > y, x * y, ops.exp(x)), "any", "any"),
    "matmul": (lambda x, y: ops.matmul(x, ops.transpose(y)), "any", "any"),
    "dense": (lambda x, y: ops.dense(ops.sin(x), y, y[:, 0]), "any", "any"),
    "einsum": (lambda x, y: ops.einsum("ij,kj->ik", ops.sin(x), y), "any", "any"),
    "softmax": (lambda x, y: ops.softmax(x * y, axis=0), "any", "any"),
    "log_softmax": (lambda x, y: ops.log_softmax(x * y), "any", "any"),
    "cross_entropy": (lambda x, y: ops.cross_entropy(x * y, np.array([0, 3, 1])), "any", "any"),
    "bce_logits": (lambda x, y: ops.binary_cross_entropy_with_logits(x, ops.sigmoid(y), pos_weight=np.full(4, 2.0)), "any", "any"),
    "getitem": (lambda x, y: ops.exp(x)[np.array([0, 0, 2])] * y[1:2], "any", "any"),
    "pad_reflect": (lambda x, y: ops.pad(ops.sin(x) * y, 1, mode="reflect"), "any", "any"),
    "tile_concat": (lambda x, y: ops.concat([ops.tile(x * y, (1, 2)), x], axis=1) ** 2, "any", "any"),
}


@pytest.mark.parametrize("name", sorted(THIRD_ORDER))
def test_third_order(name):
    fn, kind_x, kind_y = THIRD_ORDER[name]
    rng = np.random.default_rng(16)
    x, y = _transform(kind_x, rng.standard_normal((3, 4))), _transform(kind_y, rng.standard_normal((3, 4)))
    check_grads(fn, (x, y), order=3, modes=("rev", "fwd"), rtol=1e-4)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_and_nll_on_one_unbatched_sample(assert_op_matches_torch, reduction):
    x = np.random.default_rng(17).standard_normal(5)
    assert_op_matches_torch(lambda t: ops.cross_entropy(t, np.array(3), reduction=reduction, label_smoothing=0.1),
                            lambda t: TF.cross_entropy(t, torch.tensor(3), reduction=reduction, label_smoothing=0.1), [x])
    p = np.random.default_rng(18).dirichlet(np.ones(5))
    assert_op_matches_torch(lambda t: ops.cross_entropy(t, p, reduction=reduction),
                            lambda t: TF.cross_entropy(t, torch.tensor(p), reduction=reduction), [x])
    assert_op_matches_torch(lambda t: ops.nll_loss(t, 2, reduction=reduction), lambda t: TF.nll_loss(t, torch.tensor(2), reduction=reduction), [x])


@SETTINGS
@given(data=st.data(), shape=array_shapes(min_dims=1, max_dims=3, max_side=3), seed=st.integers(0, 2**31))
def test_shape_ops_over_drawn_shapes(assert_op_matches_torch, data, shape, seed):
    """Permutation, flip, tile, repeat, pad, take_along_axis and integer indexing with repeats, on drawn shapes."""
    rng = np.random.default_rng(seed)
    nd = len(shape)
    x = rng.standard_normal(shape)
    perm = tuple(data.draw(st.permutations(range(nd))))
    axis = data.draw(st.integers(-nd, nd - 1))
    reps = tuple(data.draw(st.lists(st.integers(1, 2), min_size=1, max_size=nd + 1)))
    counts = rng.integers(0, 3, shape[axis])
    widths = tuple((int(a), int(b)) for a, b in rng.integers(0, 2, (nd, 2)))
    idx = rng.integers(0, shape[axis], shape)
    rows = rng.integers(-shape[0], shape[0], 4)
    cases = [
        (lambda t: ops.transpose(t, perm), lambda t: t.permute(perm)),
        (lambda t: ops.flip(t, axis), lambda t: t.flip(axis)),
        (lambda t: ops.tile(t, reps), lambda t: t.repeat(*((1,) * max(nd - len(reps), 0) + reps))),
        (lambda t: ops.repeat(t, counts, axis), lambda t: torch.repeat_interleave(t, torch.tensor(counts), dim=axis)),
        (lambda t: ops.pad(t, widths, constant_values=1.5), lambda t: TF.pad(t, tuple(w for pair in reversed(widths) for w in pair), value=1.5)),
        (lambda t: ops.take_along_axis(t, idx, axis), lambda t: torch.take_along_dim(t, torch.tensor(idx), axis)),
        (lambda t: t[rows], lambda t: t[torch.tensor(rows)]),
    ]
    for fc, th in cases:
        assert_op_matches_torch(lambda t, fc=fc: fc(t if isinstance(t, funcad.Tensor) else funcad.Tensor(t)), th, [x], seed=seed)


@pytest.mark.parametrize("name", sorted(set(EVERY_OP) - NOT_DIFFERENTIABLE - {"stop_gradient"}))
def test_every_op_to_third_order_in_both_modes(name):
    """grad(grad(grad(f))) and its forward-mode twin for every op in funcad.ops, against finite differences in float64."""
    fn, args = EVERY_OP[name]
    check_grads(lambda *xs: ops.cast(fn(*xs), np.float64), [np.asarray(a, np.float64) for a in args], order=3, modes=("rev", "fwd"))


@pytest.mark.parametrize("loss", [ops.cross_entropy, ops.nll_loss])
def test_class_targets_out_of_range_are_errors_unless_ignored(loss):
    x = np.zeros((3, 4))
    name = loss.__name__
    for bad in ([0, -3, 1], [0, 4, 1]):  # numpy would wrap -3 around to class 1
        with pytest.raises(IndexError, match=rf"funcad.ops.{name}: target values must lie in \[0, 4\) or equal ignore_index=-100, got \[{bad[1]}\]"):
            loss(x, np.array(bad))
    logits = np.random.default_rng(3).standard_normal((3, 4))
    target = np.array([2, -1, 0])  # -1 as the ignored class, as torch allows
    ours = loss(logits if loss is ops.cross_entropy else ops.log_softmax(logits, axis=1), target, ignore_index=-1)
    theirs = (TF.cross_entropy if loss is ops.cross_entropy else TF.nll_loss)(
        torch.tensor(logits if loss is ops.cross_entropy else np.asarray(ops.log_softmax(logits, axis=1))), torch.tensor(target), ignore_index=-1)
    assert_close(ours, theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("loss", [ops.cross_entropy, ops.nll_loss])
def test_class_weight_of_the_wrong_length_is_an_error(loss):
    x, t = np.zeros((2, 4)), np.array([0, 3])
    for w in (np.ones(3), np.ones(5), np.ones((1, 4))):
        with pytest.raises(ValueError, match=rf"funcad.ops.{loss.__name__}: weight must hold one value per class, shape \(4,\)"):
            loss(x, t, weight=w)
        with pytest.raises(RuntimeError):  # torch refuses them too
            (TF.cross_entropy if loss is ops.cross_entropy else TF.nll_loss)(torch.tensor(x), torch.tensor(t), weight=torch.tensor(w))


def test_relu_gradient_at_the_kink_and_special_values():
    """relu's VJP masks by its output: one on positives, zero at 0, -0.0 and negatives, as torch's relu backward; at a
    NaN input zero, as MindSpore's ReluGrad and JAX (y > 0), where torch passes the gradient through (not y <= 0)."""
    x = np.array([-1.0, -0.0, 0.0, 2.0, np.nan, np.inf, -np.inf, 1e-300])
    w = np.arange(1.0, 9.0)
    tx = torch.tensor(x, requires_grad=True)
    (torch.relu(tx) * torch.tensor(w)).sum().backward()
    expected = np.where(np.isnan(x), 0.0, tx.grad.numpy())
    vjp = funcad.grad(lambda v: ops.sum(ops.relu(v) * funcad.Tensor(w)))(funcad.Tensor(x))
    np.testing.assert_array_equal(vjp.asnumpy(), expected)
    _, jvp = funcad.jvp(ops.relu, (funcad.Tensor(x),), (funcad.Tensor(w),))
    np.testing.assert_array_equal(jvp.asnumpy(), expected)
