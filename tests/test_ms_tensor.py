"""Tensor's MindSpore surface: the constructor (data, dtype, shape, init), from_numpy, attributes, methods with
MindSpore's argument names, printing, and dtypes that print with MindSpore's names."""

import numpy as np
import pytest

import funcad
from funcad import COOTensor, CSRTensor, Parameter, Tensor, ops
from funcad.common import dtype as mstype
from funcad.common.initializer import Normal, One, Zero
from funcad.testing import check_grads


def test_dtypes_print_as_mindspore_and_stand_for_numpy_dtypes():
    assert [str(d) for d in (funcad.float16, funcad.float32, funcad.float64, funcad.int32, funcad.int64, funcad.bool_, funcad.uint8)] == [
        "Float16", "Float32", "Float64", "Int32", "Int64", "Bool", "UInt8"]
    assert funcad.dtype.float32 is funcad.float32 is mstype.float32
    assert funcad.float32 == np.float32 and np.dtype("float32") == funcad.float32 and funcad.float32 != np.float64
    assert np.dtype(funcad.int32) == np.dtype(np.int32)
    assert np.zeros(3, funcad.int16).dtype == np.int16
    assert hash(funcad.float64) == hash(np.dtype(np.float64))
    assert {np.dtype(np.float32): "x"}[funcad.float32] == "x"
    assert funcad.float32.itemsize == 4 and funcad.float32.kind == "f"
    assert mstype.dtype_to_nptype(mstype.int8) is np.int8


def test_tensor_attributes_match_the_tutorial():
    x = Tensor(np.array([[1, 2], [3, 4]]), funcad.int32)
    assert x.shape == (2, 2)
    assert str(x.dtype) == "Int32"
    assert (x.itemsize, x.nbytes, x.ndim, x.size, x.strides) == (4, 16, 2, 4, (8, 4))
    y = Tensor(np.zeros((2, 3, 4)), funcad.float64)
    assert y.strides == np.zeros((2, 3, 4)).strides  # numpy's C-order strides as a closed form
    assert Tensor(np.zeros((3, 5), np.float32)).T.strides == (12, 4)  # the contiguous layout of the result


def test_from_numpy_shares_memory_and_the_constructor_copies():
    n = np.ones(5)
    t = Tensor.from_numpy(n)
    np.add(n, 1, out=n)
    np.testing.assert_array_equal(t.asnumpy(), np.full(5, 2.0))
    assert t.dtype == np.float64
    a = np.ones(3, np.float32)
    copied = Tensor(a)
    a += 1
    np.testing.assert_array_equal(copied.asnumpy(), np.ones(3))
    p = Parameter(a, name="p")
    a += 1
    np.testing.assert_array_equal(p.asnumpy(), np.full(3, 2.0))
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        Tensor.from_numpy([1, 2])


def test_init_draws_lazily_with_the_seed_and_dtype():
    one = Tensor(shape=(2, 2), dtype=funcad.float32, init=One())
    assert one.has_init and one.shape == (2, 2) and one.dtype == np.float32
    np.testing.assert_array_equal(one.asnumpy(), np.ones((2, 2)))
    assert not one.has_init
    funcad.set_seed(3)
    lazy = Tensor(shape=(4, 5), dtype=funcad.float32, init=Normal())
    funcad.set_seed(5)  # the values are drawn when first needed, so from this seed
    drawn = lazy.init_data().asnumpy()
    funcad.set_seed(5)
    eager = funcad.nn.initializer(Normal(), (4, 5), funcad.float32)
    np.testing.assert_array_equal(drawn, eager.asnumpy())
    assert abs(np.std(Tensor(shape=(200, 200), init=Normal()).asnumpy()) - 0.01) < 1e-3  # MindSpore's sigma
    assert Tensor(shape=3, dtype=funcad.int32, init=Zero()).asnumpy().dtype == np.int32
    np.testing.assert_array_equal(ops.add(Tensor(shape=(2,), init=One()), 1).asnumpy(), [2.0, 2.0])


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give input_data, or shape"),
    ({"shape": (2,)}, "shape \\(2,\\) given without init"),
    ({"input_data": [1.0], "shape": (1,)}, "shape is only taken together with init"),
    ({"input_data": [1.0], "init": One()}, "either input_data or init"),
    ({"init": One()}, "init needs a shape"),
])
def test_constructor_errors_name_the_conflict(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Tensor(**kwargs).asnumpy()


def test_str_prints_numpy_values_and_repr_prints_shape_and_dtype():
    tensor = Tensor(np.array([[0, 1], [2, 3]]).astype(np.float32))
    assert f"First row: {tensor[0]}" == "First row: [0. 1.]"
    assert f"{tensor[1, 1]}" == "3.0"
    assert str(Tensor([1, 0, 1, 0])) == "[1 0 1 0]"
    assert repr(Tensor(np.array([[1, 2], [3, 4]]), funcad.int32)) == "Tensor(shape=[2, 2], dtype=Int32, value=\n[[1, 2],\n [3, 4]])"
    assert repr(Tensor(2.5)) == "Tensor(shape=[], dtype=Float32, value= 2.5)"
    w = Parameter(np.ones((2, 3), np.float32), name="w")
    assert str(w) == "Parameter (name=w, shape=(2, 3), dtype=Float32, requires_grad=True)"  # MindSpore's print
    assert str(w[:1]) == "[[1. 1. 1.]]"


def test_tutorial_arithmetic_prints_mindspore_values():
    x = Tensor(np.array([1, 2, 3]), funcad.float32)
    y = Tensor(np.array([4, 5, 6]), funcad.float32)
    printed = [str(v) for v in (x + y, x - y, x * y, y / x, y % x, y // x)]
    assert printed == ["[5. 7. 9.]", "[-3. -3. -3.]", "[ 4. 10. 18.]", "[4.  2.5 2. ]", "[0. 1. 0.]", "[4. 2. 2.]"]


def test_reductions_take_mindspore_argument_names():
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7.0
    t = Tensor(a)
    np.testing.assert_allclose(t.mean(axis=1, keep_dims=True).asnumpy(), a.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(t.mean(1, keepdims=True).asnumpy(), a.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(t.prod(axis=(0, 2), keep_dims=True).asnumpy(), a.prod(axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(t.sum(axis=2, keepdims=True).asnumpy(), a.sum(axis=2, keepdims=True))
    np.testing.assert_allclose(t.sum(dtype=funcad.float32, initial=1.0).asnumpy(), a.sum() + 1.0, rtol=1e-6)
    np.testing.assert_allclose(t.max(axis=0, keep_dims=True).asnumpy(), a.max(axis=0, keepdims=True))
    np.testing.assert_allclose(t.min(axis=-1).asnumpy(), a.min(axis=-1))
    np.testing.assert_allclose(t.std(axis=1, ddof=1, keep_dims=True).asnumpy(), a.std(axis=1, ddof=1, keepdims=True))
    np.testing.assert_array_equal(t.argmax(axis=2, keepdims=True).asnumpy(), a.argmax(axis=2)[..., None])
    assert t.numel() == 24 and t.dim() == 3
    assert t.item((1, 2, 3)) == a[1, 2, 3]


@pytest.mark.parametrize("name, reference", [
    ("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("exp", np.exp), ("expm1", np.expm1), ("log", np.log),
    ("log1p", np.log1p), ("sqrt", np.sqrt), ("square", np.square), ("tanh", np.tanh), ("abs", np.abs),
    ("neg", np.negative), ("floor", np.floor), ("ceil", np.ceil), ("sign", np.sign),
    ("sigmoid", lambda v: 1 / (1 + np.exp(-v))), ("rsqrt", lambda v: 1 / np.sqrt(v)), ("relu", lambda v: np.maximum(v, 0)),
])
def test_elementwise_methods_compute_their_numpy_function_and_differentiate(name, reference):
    a = np.array([0.3, 1.7, 2.2, 0.9])
    np.testing.assert_allclose(getattr(Tensor(a), name)().asnumpy(), reference(a), rtol=1e-12)
    g = funcad.grad(lambda x: getattr(x, name)().sum())(Tensor(a))
    h = 1e-6
    numeric = (reference(a + h) - reference(a - h)) / (2 * h)
    np.testing.assert_allclose(g.asnumpy(), numeric, rtol=1e-5, atol=1e-8)


def test_conversion_methods():
    t = Tensor(np.array([1.5, -2.5]))
    assert t.astype(funcad.float16).dtype == np.float16
    assert t.to(funcad.float32).dtype == np.float32
    assert (t.float().dtype, t.half().dtype, t.double().dtype, t.int().dtype, t.long().dtype) == (
        np.float32, np.float16, np.float64, np.int32, np.int64)
    np.testing.assert_array_equal(t.int().asnumpy(), [1, -2])


def test_logical_reductions_and_shape_methods_match_numpy():
    a = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 0.5]])
    t = Tensor(a)
    assert t.all().item() is False and t.any().item() is True
    np.testing.assert_array_equal(t.all(axis=1).asnumpy(), a.all(axis=1))
    np.testing.assert_array_equal(t.any(axis=0, keep_dims=True).asnumpy(), a.any(axis=0, keepdims=True))
    np.testing.assert_array_equal(t.flatten().asnumpy(), a.reshape(-1))
    np.testing.assert_array_equal(Tensor(np.zeros((2, 3, 4))).flatten(start_dim=1).shape, (2, 12))
    np.testing.assert_array_equal(t.cumsum(axis=1).asnumpy(), a.cumsum(axis=1))
    np.testing.assert_array_equal(t.tile((2, 1)).asnumpy(), np.tile(a, (2, 1)))
    np.testing.assert_array_equal(t.repeat(2, axis=0).asnumpy(), np.repeat(a, 2, axis=0))
    np.testing.assert_array_equal(Tensor(a[0]).broadcast_to((2, 3)).asnumpy(), np.broadcast_to(a[0], (2, 3)))
    g = funcad.grad(lambda x: x.cumsum(axis=1).sum())(t)
    np.testing.assert_array_equal(g.asnumpy(), [[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])  # element j feeds 3 - j partial sums
    np.testing.assert_array_equal(t.flatten("F").asnumpy(), a.flatten("F"))  # MindSpore's column-major order


def test_sparse_tensors_hold_convert_and_densify():
    values = Tensor([1.5, -2.0, 3.0], dtype=funcad.float64)
    coo = COOTensor(Tensor([[0, 1], [2, 3], [0, 1]], dtype=funcad.int32), values, (3, 4))
    dense = np.zeros((3, 4))
    np.add.at(dense, ([0, 2, 0], [1, 3, 1]), [1.5, -2.0, 3.0])  # repeated indices add up
    np.testing.assert_array_equal(coo.to_dense().asnumpy(), dense)
    weights = np.arange(12.0).reshape(3, 4)
    g = funcad.grad(lambda v: (COOTensor(coo.indices, v, (3, 4)).to_dense() * Tensor(weights)).sum())(values)
    np.testing.assert_array_equal(g.asnumpy(), [weights[0, 1], weights[2, 3], weights[0, 1]])
    csr = CSRTensor(Tensor([0, 2, 2, 3]), Tensor([1, 3, 0]), values, (3, 4))
    expected = np.zeros((3, 4))
    expected[0, 1], expected[0, 3], expected[2, 0] = 1.5, -2.0, 3.0
    np.testing.assert_array_equal(csr.to_dense().asnumpy(), expected)
    assert str(csr.astype(funcad.float32).dtype) == "Float32" and str(coo.abs().values) == "[1.5 2.  3. ]"
    with pytest.raises(ValueError, match="indptr must rise from 0 to 3"):
        CSRTensor(Tensor([0, 2, 1, 3]), Tensor([1, 3, 0]), values, (3, 4))
    with pytest.raises(ValueError, match=r"COOTensor: indices out of range for shape \(2, 2\)"):
        COOTensor(Tensor([[0, 2]]), Tensor([1.0]), (2, 2))
    with pytest.raises(TypeError, match="COOTensor: indices must hold integers"):
        COOTensor(Tensor([[0.0, 1.0]]), Tensor([1.0]), (2, 2))


@pytest.mark.parametrize("method, args", [("gt", (0.4,)), ("le", (0.4,)), ("eq", (0.25,)), ("ne", (0.25,)), ("log2", ()), ("sinh", ()),
                                          ("atan2", (np.ones((2, 3)),)), ("hypot", (2.0,)), ("fmod", (0.3,)), ("logaddexp", (0.5,)),
                                          ("addcmul", (np.ones((2, 3)), np.full((2, 3), 2.0))), ("diagonal", (0, 0, 1)), ("diff", ()),
                                          ("nansum", (1,)), ("count_nonzero", ()), ("rot90", ()), ("reciprocal", ()), ("trunc", ())])
def test_more_op_methods_equal_their_ops(method, args):
    from funcad.core.tensor_methods import _OP_METHODS

    a = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -0.75]])
    expected = getattr(funcad.ops, _OP_METHODS[method])(Tensor(a), *args)
    np.testing.assert_array_equal(np.asarray(getattr(Tensor(a), method)(*args)), np.asarray(expected))


def test_op_methods_equal_their_ops_with_the_tensor_first():
    a = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -0.75]])
    t = Tensor(a)
    mask = a > 0.4
    np.testing.assert_allclose(t.softmax(-1).asnumpy(), np.exp(a) / np.exp(a).sum(-1, keepdims=True), rtol=1e-12)
    np.testing.assert_array_equal(t.masked_fill(Tensor(mask), 9.0).asnumpy(), np.where(mask, 9.0, a))
    np.testing.assert_array_equal(t.where(Tensor(mask), -1.0).asnumpy(), np.where(mask, a, -1.0))
    np.testing.assert_array_equal(t.permute(1, 0).asnumpy(), a.T)
    np.testing.assert_array_equal(t.permute((1, 0)).asnumpy(), a.T)
    np.testing.assert_array_equal(t.ravel().asnumpy(), a.ravel())
    np.testing.assert_array_equal(t.expand_as(Tensor(np.zeros((4, 2, 3)))).asnumpy(), np.broadcast_to(a, (4, 2, 3)))
    np.testing.assert_array_equal(t.flip(1).asnumpy(), a[:, ::-1])
    np.testing.assert_array_equal(t.tril().asnumpy(), np.tril(a))
    np.testing.assert_array_equal(t.narrow(1, 1, 2).asnumpy(), a[:, 1:3])
    np.testing.assert_array_equal(t.index_select(1, np.array([2, 0])).asnumpy(), a[:, [2, 0]])
    np.testing.assert_allclose(t.logsumexp(1).asnumpy(), np.log(np.exp(a).sum(1)), rtol=1e-12)
    values, indices = t.topk(2)
    np.testing.assert_array_equal(values.asnumpy(), -np.sort(-a, axis=1)[:, :2])
    assert t.is_contiguous() and t.contiguous() is t and f"{t[1, 1]:.3f}" == "0.250"
    g = funcad.grad(lambda x: (x.permute(1, 0).softmax(0) * Tensor(a.T)).sum())(t)
    s = np.exp(a) / np.exp(a).sum(1, keepdims=True)
    np.testing.assert_allclose(g.asnumpy(), s * (a - (s * a).sum(1, keepdims=True)), rtol=1e-12)


SETITEM_INDICES = [
    ((0, 1), 5.0), ((slice(None), 2), np.array([7.0, 8.0])), (1, np.array([1.0, 2.0, 3.0])), ((Ellipsis, slice(None, None, 2)), -2.0),
    ((np.array([1, 0]), np.array([2, 2])), np.array([4.0, 6.0])), ((None, 1, slice(1, None)), 3.0), (np.array([True, False]), 9.0),
]


@pytest.mark.parametrize("index,value", SETITEM_INDICES)
def test_item_assignment_writes_as_numpy_and_differentiates(index, value):
    base = np.arange(6.0).reshape(2, 3) + 0.5
    want = base.copy()
    want[index] = value
    x = funcad.Tensor(base.copy())
    x[index] = funcad.Tensor(np.asarray(value)) if isinstance(value, np.ndarray) else value
    np.testing.assert_array_equal(np.asarray(x), want)

    def assigned(a, v):
        b = a * 1.0
        b[index] = v
        return b

    check_grads(assigned, [base, np.asarray(value, dtype=np.float64) + 0.25], order=2)
    compiled = funcad.jit(funcad.grad(lambda a, v: ops.sum(ops.sin(assigned(a, v))), (0, 1)))
    eager = funcad.grad(lambda a, v: ops.sum(ops.sin(assigned(a, v))), (0, 1))
    for got, ref in zip(compiled(base, np.asarray(value, np.float64)), eager(base, np.asarray(value, np.float64))):
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-14, atol=0)


def test_item_assignment_replaces_the_array_and_writes_parameters():
    x = funcad.Tensor(np.zeros(3, np.float32))
    before = np.asarray(x)
    x[1] = 2
    assert x.dtype == funcad.float32 and before[1] == 0.0 and np.asarray(x)[1] == 2.0
    p = funcad.Parameter(np.ones(3, np.float32), name="p")
    p[0] = -1.0
    assert p.name == "p" and np.array_equal(np.asarray(p), [-1.0, 1.0, 1.0])


def test_assigning_a_traced_value_into_a_plain_tensor_is_named():
    def fill(v):
        out = funcad.Tensor(np.zeros(3))
        out[0] = v
        return ops.sum(out)

    with pytest.raises(TypeError, match=r"x\[0\] = value makes x depend on a value traced"):
        funcad.grad(fill)(funcad.Tensor(1.0))


def test_int_and_float_take_the_one_element_of_any_rank():
    assert int(funcad.Tensor([3.0])) == 3 and float(funcad.Tensor([[2.5]])) == 2.5 and float(funcad.Tensor(1.5)) == 1.5
    with pytest.raises(TypeError, match=r"float\(\) needs a Tensor of one element, got shape \(2,\)"):
        float(funcad.Tensor([1.0, 2.0]))
