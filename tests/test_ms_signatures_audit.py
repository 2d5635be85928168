"""funcad.ops and the Tensor methods called with MindSpore 2.x's keyword names (``ops.pow(x, exponent=2)``,
``ops.add(input=a, other=b)``, ``ops.transpose(x, input_perm=p)``): each keyword form gives the positional form's
value, and both give an independent reference (numpy, scipy, torch in float64). Reductions read ``axis=()`` as
every axis, MindSpore's meaning, in funcad.ops and the Tensor methods; funcad.numpy keeps numpy's, and the
gradient rules that sum over broadcast axes are untouched."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F

import funcad
import funcad.numpy as fnp
from funcad import Tensor, ops
from funcad.ops import ms_keywords
from funcad.testing import assert_close

RNG = np.random.default_rng(11)
A = RNG.standard_normal((2, 3))
B = RNG.standard_normal((2, 3)) + 0.1
SQ = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
V3 = RNG.standard_normal(3)
C3 = RNG.standard_normal((2, 3, 4))
POS = np.abs(A) + 0.5
IDX = np.array([2, 0, 1])
BOOL_A, BOOL_B = A > 0, B > 0
INTS_A, INTS_B = np.array([12, 18, 7]), np.array([8, 27, 5])
PROB = 1 / (1 + np.exp(-A))
TARGET = (B > 0).astype(np.float64)
LOGP = A - np.log(np.exp(A).sum(1, keepdims=True))
T = Tensor


def _bn(x, mean, var, w, b):
    return (x - mean) / np.sqrt(var + 1e-5) * w + b


_BN = (RNG.standard_normal((4, 3)), np.zeros(3) + 0.2, np.ones(3) * 1.5, np.ones(3) * 2.0, np.ones(3) * 0.1)

# op name: (positional arguments, the same by MindSpore's keywords, reference); a tuple holds arguments in order,
# a dict the keywords (Tensors made from arrays)
CASES = {
    **{name: ((A, B), {"input": A, "other": B}, ref) for name, ref in {
        "add": A + B, "sub": A - B, "subtract": A - B, "mul": A * B, "multiply": A * B, "divide": A / B,
        "maximum": np.maximum(A, B), "minimum": np.minimum(A, B), "remainder": np.remainder(A, B),
        "floor_divide": np.floor_divide(A, B), "eq": A == B, "equal": A == A, "ne": A != B, "not_equal": A != B,
        "ge": A >= B, "gt": A > B, "le": A <= B, "lt": A < B, "greater": A > B, "greater_equal": A >= B, "less": A < B,
        "less_equal": A <= B}.items()},
    "equal": ((A, A), {"input": A, "other": A}, np.ones_like(A, dtype=bool)),
    **{name: ((BOOL_A, BOOL_B), {"input": BOOL_A, "other": BOOL_B}, ref) for name, ref in {
        "logical_and": BOOL_A & BOOL_B, "logical_or": BOOL_A | BOOL_B, "logical_xor": BOOL_A ^ BOOL_B}.items()},
    **{name: ((INTS_A, INTS_B), {"input": INTS_A, "other": INTS_B}, ref) for name, ref in {
        "bitwise_and": INTS_A & INTS_B, "bitwise_or": INTS_A | INTS_B, "bitwise_xor": INTS_A ^ INTS_B,
        "gcd": np.gcd(INTS_A, INTS_B), "lcm": np.lcm(INTS_A, INTS_B)}.items()},
    "xlogy": ((A, POS), {"input": A, "other": POS}, scipy.special.xlogy(A, POS)),
    "dot": ((V3, V3), {"input": V3, "other": V3}, V3 @ V3),
    "matmul": ((A, SQ), {"input": A, "other": SQ}, A @ SQ),
    "pow": ((POS, 2.5), {"input": POS, "exponent": 2.5}, POS ** 2.5),
    "power": ((POS, 3.0), {"input": POS, "exponent": 3.0}, POS ** 3.0),
    "mm": ((A, SQ), {"input": A, "mat2": SQ}, A @ SQ),
    "mv": ((SQ, V3), {"mat": SQ, "vec": V3}, SQ @ V3),
    "outer": ((V3, V3[:2]), {"input": V3, "vec2": V3[:2]}, np.outer(V3, V3[:2])),
    "ger": ((V3, V3[:2]), {"input": V3, "vec2": V3[:2]}, np.outer(V3, V3[:2])),
    "tensor_dot": ((A, SQ, 1), {"x1": A, "x2": SQ, "axes": 1}, np.tensordot(A, SQ, 1)),
    "where": ((BOOL_A, A, B), {"condition": BOOL_A, "x": A, "y": B}, np.where(BOOL_A, A, B)),
    "select": ((BOOL_A, A, B), {"cond": BOOL_A, "x": A, "y": B}, np.where(BOOL_A, A, B)),
    "polygamma": ((1, POS), {"n": 1, "input": POS}, scipy.special.polygamma(1, POS)),
    "cast": ((A, np.int32), {"input": A, "dtype": np.int32}, A.astype(np.int32)),
    "reshape": ((A, (3, 2)), {"input": A, "shape": (3, 2)}, A.reshape(3, 2)),
    "transpose": ((C3, (2, 0, 1)), {"input": C3, "input_perm": (2, 0, 1)}, C3.transpose(2, 0, 1)),
    "tile": ((A, (2, 1)), {"input": A, "multiples": (2, 1)}, np.tile(A, (2, 1))),
    "expand_dims": ((A, 1), {"input_x": A, "axis": 1}, A[:, None]),
    "swapaxes": ((C3, 0, 2), {"input": C3, "axis0": 0, "axis1": 2}, C3.swapaxes(0, 2)),
    "swapdims": ((C3, 1, 2), {"input": C3, "dim0": 1, "dim1": 2}, C3.swapaxes(1, 2)),
    "stop_gradient": ((A,), {"value": A}, A),
    "log_softmax": ((A, 0), {"logits": A, "axis": 0}, A - np.log(np.exp(A).sum(0))),
    "elu": ((A, 0.5), {"input_x": A, "alpha": 0.5}, np.where(A > 0, A, 0.5 * np.expm1(A))),
    "gelu": ((A, "none"), {"input_x": A, "approximate": "none"}, A * 0.5 * (1 + scipy.special.erf(A / np.sqrt(2)))),
    "det": ((SQ,), {"input": SQ}, np.linalg.det(SQ)),
    "slogdet": ((SQ,), {"input": SQ}, tuple(np.linalg.slogdet(SQ))),
    "dense": ((A, SQ, V3), {"input": A, "weight": SQ, "bias": V3}, A @ SQ.T + V3),
    "full": (((2, 3), 1.5), {"size": (2, 3), "fill_value": 1.5}, np.full((2, 3), 1.5, np.float32)),
    "zeros": (((2, 3),), {"size": (2, 3)}, np.zeros((2, 3), np.float32)),
    "ones": (((2, 3),), {"shape": (2, 3)}, np.ones((2, 3), np.float32)),
    "embedding": ((IDX, SQ), {"input": IDX, "weight": SQ}, SQ[IDX]),
    "binary_cross_entropy": ((PROB, TARGET), {"logits": PROB, "labels": TARGET},
                             F.binary_cross_entropy(torch.tensor(PROB), torch.tensor(TARGET)).numpy()),
    "binary_cross_entropy_with_logits": ((A, TARGET), {"logits": A, "label": TARGET},
                                         F.binary_cross_entropy_with_logits(torch.tensor(A), torch.tensor(TARGET)).numpy()),
    "nll_loss": ((LOGP, IDX[:2]), {"inputs": LOGP, "target": IDX[:2]}, -LOGP[[0, 1], IDX[:2]].mean()),
    "gaussian_nll_loss": ((A, B, POS), {"x": A, "target": B, "var": POS},
                          F.gaussian_nll_loss(torch.tensor(A), torch.tensor(B), torch.tensor(POS)).numpy()),
    "batch_norm": (_BN, dict(zip(("input_x", "running_mean", "running_var", "weight", "bias"), _BN)), _bn(*_BN)),
    "pad": ((A, (1, 2)), {"input_x": A, "padding": (1, 2)}, np.pad(A, ((0, 0), (1, 2)))),
    "count_nonzero": ((np.round(A),), {"x": np.round(A)}, np.count_nonzero(np.round(A))),
    "norm": ((A,), {"A": A}, np.linalg.norm(A)),
    "kthvalue": ((A, 2, 1, True), {"input": A, "k": 2, "dim": 1, "keepdim": True},
                 tuple(t.numpy() for t in torch.kthvalue(torch.tensor(A), 2, 1, True))),
}


def _tensors(values):
    if isinstance(values, dict):
        return {k: T(v) if isinstance(v, np.ndarray) else v for k, v in values.items()}
    return tuple(T(v) if isinstance(v, np.ndarray) else v for v in values)


def _value(out):
    return tuple(np.asarray(o) for o in out) if isinstance(out, tuple) else np.asarray(out)


def test_every_table_entry_is_exercised():
    """The table of MindSpore's names cannot grow a row this file does not call."""
    assert set(ms_keywords.MS_NAMES) <= set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_keywords_give_the_positional_value_and_the_reference(name):
    positional, keywords, reference = CASES[name]
    op = getattr(ops, name)
    by_position = _value(op(*_tensors(positional)))
    assert_close(by_position, reference, atol=1e-6, rtol=1e-6)
    first, *rest = list(keywords.items())
    assert_close(_value(op(**_tensors(keywords))), by_position)  # every argument by keyword
    assert_close(_value(op(_tensors((first[1],))[0], **_tensors(dict(rest)))), by_position)  # the first by position


def test_alternative_names_of_a_position():
    """MindSpore 2.4 renamed some arguments (where's x, y to input, other; tile's multiples to dims): both work."""
    cond, a, b = T(BOOL_A), T(A), T(B)
    assert_close(ops.where(cond, input=a, other=b), np.where(BOOL_A, A, B))
    assert_close(ops.tile(a, dims=(1, 2)), np.tile(A, (1, 2)))
    assert_close(ops.mv(input=T(SQ), vec=T(V3)), SQ @ V3)
    assert_close(ops.sqrt(x=T(POS)), np.sqrt(POS))  # a ufunc primitive whose forward takes x by position only
    assert_close(ops.sqrt(input=T(POS)), np.sqrt(POS))
    assert_close(ops.expand_dims(input=a, axis=0), A[None])


def test_swapaxes_keywords_mean_mindspores_positions():
    """funcad's own swapaxes names its axes axis1, axis2 (numpy's); in funcad.ops axis1 is MindSpore's second axis."""
    x = T(C3)
    assert ops.swapaxes(x, axis0=0, axis1=2).shape == (4, 3, 2)
    assert ops.swapaxes(x, axis1=2, axis0=1).shape == (2, 4, 3)
    assert fnp.swapaxes(x, axis1=0, axis2=1).shape == (3, 2, 4)  # funcad.numpy keeps numpy's names


def test_keyword_errors_name_the_op():
    x = T(POS)
    with pytest.raises(TypeError, match=r"funcad\.ops\.power: exponent given both by position and as exponent="):
        ops.pow(x, 2.0, exponent=3.0)
    with pytest.raises(TypeError, match=r"funcad\.ops\.power: missing argument\(s\) input"):
        ops.pow(exponent=3.0)
    with pytest.raises(TypeError, match=r"funcad\.ops\.where: argument 1 given twice"):
        ops.where(T(BOOL_A), x=x, input=x, other=x)
    with pytest.raises(TypeError, match=r"funcad\.ops\.swapaxes: axis0 given both by position and as axis0="):
        ops.swapaxes(T(C3), 0, 1, axis0=2)
    with pytest.raises(TypeError, match=r"funcad\.ops\.transpose: axes given twice"):
        ops.transpose(T(C3), input_perm=(0, 1, 2), axes=(0, 1, 2))


def test_the_table_is_checked_against_the_namespace():
    with pytest.raises(NameError, match="MS_NAMES lists ops funcad.ops lacks"):
        ms_keywords.adapt_namespace({"add": ops.add})
    with pytest.raises(TypeError, match="funcad.ops.pow: MS_NAMES lists 2 positions"):
        ms_keywords.with_ms_keywords("pow", lambda x: x)


def test_keywords_work_under_grad_and_jit():
    """The keyword forms trace like the positional ones: the array moved into its place is differentiated."""
    a, b = T(A), T(B)
    ga, gb = funcad.grad(lambda u, v: ops.sum(ops.mul(input=u, other=ops.pow(v, exponent=2))), grad_position=(0, 1))(a, b)
    assert_close(ga, B ** 2)
    assert_close(gb, 2 * A * B)
    step = funcad.jit(lambda u, v: ops.add(input=ops.transpose(u, input_perm=(1, 0)), other=v))
    assert_close(step(a, T(B.T)), A.T + B.T)


def test_defaults_are_mindspores():
    """Defaults MindSpore documents: argmax over the flattened input, squeeze of every unit axis, topk along the last
    axis largest first, softmax over the last axis, one_hot's 1/0 on the last axis, std's ddof 0, gelu's exact
    form, cat along axis 0, the 2-norm of the flattened input, Tensor.flatten of every axis."""
    x = T(A)
    assert int(np.asarray(ops.argmax(x))) == int(A.argmax())
    assert ops.squeeze(T(A[:, None, :, None])).shape == (2, 3)
    values, indices = ops.topk(x, 2)
    assert_close(values, -np.sort(-A, 1)[:, :2])
    assert_close(indices, np.argsort(-A, 1)[:, :2].astype(np.int32), rtol=0, atol=0)
    assert_close(ops.softmax(x), np.exp(A) / np.exp(A).sum(1, keepdims=True))
    assert_close(ops.one_hot(T(IDX), 3), np.eye(3, dtype=np.float32)[IDX])
    assert_close(ops.std(x), A.std())
    assert_close(ops.gelu(x), CASES["gelu"][2])
    assert ops.cat((x, x)).shape == (4, 3)
    assert_close(ops.norm(x), np.linalg.norm(A))
    assert T(C3).flatten().shape == (24,)


def test_mindspore_documentation_examples():
    """Outputs MindSpore's pages print: ops.greater([1, 2, 3], [1, 1, 4]) and ops.swapaxes(ones(2, 3, 4), 0, 2)."""
    out = ops.greater(input=T(np.array([1, 2, 3], np.int32)), other=T(np.array([1, 1, 4], np.int32)))
    assert np.asarray(out).tolist() == [False, True, False]
    assert ops.swapaxes(input=T(np.ones((2, 3, 4), np.float32)), axis0=0, axis1=2).shape == (4, 3, 2)
    assert_close(ops.tile(input=T(np.array([[1, 2], [3, 4]], np.float32)), multiples=(2, 3)),
                 np.array([[1, 2, 1, 2, 1, 2], [3, 4, 3, 4, 3, 4]] * 2, np.float32))
    assert_close(ops.mv(mat=T(np.array([[3.0, 4.0], [1.0, 6.0], [1.0, 3.0]], np.float32)), vec=T(np.array([1.0, 2.0], np.float32))),
                 np.array([11.0, 13.0, 7.0], np.float32))


def test_softmin_takes_dtype():
    """MindSpore's ops.softmin(x, axis=-1, *, dtype=None): the input cast first, as ops.softmax's."""
    out = ops.softmin(T(A.astype(np.float32)), dtype=np.float64)
    assert out.dtype == np.float64
    assert_close(out, np.exp(-A) / np.exp(-A).sum(1, keepdims=True))


def test_tensor_methods_take_mindspores_names():
    x, m = T(C3), T(SQ)
    assert x.swapaxes(axis0=0, axis1=2).shape == (4, 3, 2)
    assert T(A).unsqueeze(dim=1).shape == (2, 1, 3)
    assert_close(T(A).matmul(tensor2=m), A @ SQ)
    assert_close(T(V3).expand_as(x=T(A)), np.broadcast_to(V3, (2, 3)))
    assert_close(T(A).norm(dim=1, keepdim=True), np.linalg.norm(A, axis=1, keepdims=True))
    assert_close(T(A).norm(None, 0), np.linalg.norm(A, axis=0))
    assert_close(T(A).norm(axis=1, keepdims=True), np.linalg.norm(A, axis=1, keepdims=True))  # numpy's names too
    assert T(A.astype(np.float32)).norm(dtype=np.float64).dtype == np.float64
    assert T(A).astype(np.float32, copy=False).dtype == np.float32
    assert_close(T(A).gather(input_indices=T(np.array([1, 0])), axis=0), A[[1, 0]])
    assert_close(T(A).topk(k=1, dim=0)[0], A.max(0, keepdims=True))
    assert_close(T(A).masked_fill(mask=T(BOOL_A), value=0.0), np.where(BOOL_A, 0.0, A))
    assert_close(T(A).sub(other=T(B)), A - B)
    assert_close(T(A).add(other=T(B)), A + B)
    assert_close(T(A).tile(dims=(1, 2)), np.tile(A, (1, 2)))
    assert_close(T(np.array([7.0, -7.0])).div(2.0, rounding_mode="trunc"), np.array([3.0, -3.0]))  # MindSpore's keyword


# -- axis=(): every axis in funcad.ops and the Tensor methods, no axis in funcad.numpy ---------------------------------

REDUCTIONS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "amax": np.max, "amin": np.min, "all": np.all, "any": np.any,
    "logsumexp": lambda a, axis=None, keepdims=False: scipy.special.logsumexp(a, axis=axis, keepdims=keepdims),
    "var": np.var, "std": np.std,
}
PAIRED_REDUCTIONS = {"var_mean", "std_mean"}  # read axis=() alike; their pairs are checked in tests/test_ms_api_followups.py


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_empty_axis_reduces_every_axis(name):
    data = np.round(A, 1) if name in ("all", "any") else A
    op, ref = getattr(ops, name), REDUCTIONS[name]
    whole = ref(data)
    assert_close(_value(op(T(data), ())), np.asarray(whole))
    assert_close(_value(op(T(data), axis=())), np.asarray(whole))
    assert_close(_value(op(T(data), [])), np.asarray(whole))
    kept = op(T(data), (), True) if name in ("all", "any") else op(T(data), (), keepdims=True)
    assert_close(_value(kept), np.asarray(ref(data, axis=(0, 1), keepdims=True)))
    assert ms_keywords.EMPTY_AXIS_REDUCES_ALL == frozenset(REDUCTIONS) | PAIRED_REDUCTIONS


def test_empty_dim_reduces_every_axis():
    assert_close(ops.sum(T(A), dim=()), A.sum())
    assert_close(ops.amax(T(A), dim=(), keepdim=True), A.max(keepdims=True))
    assert_close(ops.sum(input=T(A), dim=(), keepdim=False, dtype=np.float64), A.sum())


@pytest.mark.parametrize("method, ref", [("sum", A.sum()), ("mean", A.mean()), ("prod", A.prod()), ("max", A.max()),
                                         ("min", A.min()), ("logsumexp", scipy.special.logsumexp(A)),
                                         ("amax", A.max()), ("all", np.all(A)), ("any", np.any(A))])
def test_tensor_methods_with_empty_axis_reduce_every_axis(method, ref):
    assert_close(_value(getattr(T(A), method)(axis=()) if method != "logsumexp" else T(A).logsumexp(())), np.asarray(ref))


def test_funcad_numpy_keeps_numpys_empty_axis():
    """numpy reduces over no axis for axis=(): funcad.numpy follows numpy, not MindSpore."""
    for name in ("sum", "mean", "prod", "amax", "amin", "max", "min"):
        assert_close(getattr(fnp, name)(T(A), axis=()), getattr(np, name)(A, axis=()), msg=f"{name}: ")


def test_empty_axis_gradients():
    """d/dx of the reductions over every axis, closed forms: sum 2x for sum(x^2), 1/n for mean, prod/x for prod,
    the one-hot of the maximum for amax, softmax for logsumexp."""
    x = T(POS)
    assert_close(funcad.grad(lambda a: ops.sum(a * a, ()))(x), 2 * POS)
    assert_close(funcad.grad(lambda a: ops.mean(a, axis=()))(x), np.full_like(POS, 1 / POS.size))
    assert_close(funcad.grad(lambda a: ops.prod(a, ()))(x), POS.prod() / POS)
    assert_close(funcad.grad(lambda a: ops.amax(a, ()))(x), (POS == POS.max()).astype(np.float64))
    assert_close(funcad.grad(lambda a: ops.logsumexp(a, ()))(x), np.exp(POS) / np.exp(POS).sum())
    assert_close(funcad.grad(lambda a: a.sum(axis=()) * 3.0)(x), np.full_like(POS, 3.0))
    assert_close(funcad.jit(lambda a: ops.mean(a, ()))(x), POS.mean())


def test_broadcasting_gradients_still_sum_over_the_broadcast_axes_only():
    """The backward pass sums a broadcast argument's cotangent over the broadcast axes, an empty tuple when there are
    none: it must keep numpy's meaning (no reduction), whatever funcad.ops makes of axis=()."""
    a, b = T(A), T(V3)
    ga, gb = funcad.grad(lambda u, v: ops.sum((u + v) ** 2), grad_position=(0, 1))(a, b)
    assert_close(ga, 2 * (A + V3))
    assert_close(gb, (2 * (A + V3)).sum(0))
    ga, gb = funcad.grad(lambda u, v: ops.sum((u * v) ** 2), grad_position=(0, 1))(a, T(B))  # same shapes: no axis summed
    assert_close(ga, 2 * A * B ** 2)
    assert_close(gb, 2 * B * A ** 2)
    assert_close(ops.sum_to(a, (2, 3)), A)
