"""Differences from MindSpore found by running MindSpore's own CPU operator tests (tests/st/ops/cpu/) against funcad.

Each test reproduces one of those tests' expectations; the small expected arrays are copied from the MindSpore test
file named in its docstring, and every other reference is independent (torch autograd, numpy).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import ops
from funcad.ops import composite as C
from funcad.ops import operations as P

RNG = np.random.default_rng(11)


def _grads_of_all(fn, *args):
    """MindSpore's GradOfAllInputs with a sensitivity: the gradients of every input, the output seeded with ``args[-1]``."""
    return C.GradOperation(get_all=True, sens_param=True)(fn)(*args)


# -- vmap of gather: each member picks its own indices (test_gather_op.py) --------------------------------------------
def test_vmap_of_gather_with_batched_indices_picks_per_member():
    """test_gather_op.py::test_gather_vmap_basic, _negative_axis and _with_inaxes: the indices' batch axis pairs
    with the params' (funcad used every member's indices on every member's params)."""
    x = funcad.Tensor(np.array([[1, 2, 3], [4, 5, 6]], np.float32))
    indices = funcad.Tensor(np.array([[0, 1], [1, 2]], np.int32))
    out = funcad.vmap(lambda a, i, axis: P.Gather()(a, i, axis), in_axes=(0, 0, None))(x, indices, 0)
    np.testing.assert_array_equal(out.asnumpy(), [[1, 2], [5, 6]])

    cube = np.array([[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]], np.float32)
    swapped = np.array([[[1, 2, 3], [4, 5, 6]], [[10, 11, 12], [7, 8, 9]]], np.float32)
    rows = np.array([[0, 1], [1, 0]], np.int32)
    out = funcad.vmap(lambda a, i: P.Gather()(a, i, -2))(funcad.Tensor(cube), funcad.Tensor(rows))
    np.testing.assert_array_equal(out.asnumpy(), swapped)
    out = funcad.vmap(lambda a, i: P.Gather()(a, i, 0), in_axes=(2, 1))(funcad.Tensor(np.moveaxis(cube, 0, 2)), funcad.Tensor(rows.T))
    np.testing.assert_array_equal(out.asnumpy(), swapped)


def test_vmap_of_indexing_with_batched_indices_matches_a_loop_compiled_and_differentiated():
    x = RNG.standard_normal((3, 5)).astype(np.float32)
    idx = np.array([[0, -1, 2], [4, 4, 1], [3, 0, -5]], np.int32)
    loop = np.stack([x[b][idx[b]] for b in range(3)])
    mapped = funcad.vmap(lambda a, i: a[i])
    np.testing.assert_array_equal(mapped(x, idx).asnumpy(), loop)
    np.testing.assert_array_equal(funcad.jit(mapped)(funcad.Tensor(x), funcad.Tensor(idx)).asnumpy(), loop)
    # only the indices batched: one x, each member's own indices
    np.testing.assert_array_equal(funcad.vmap(lambda i: ops.gather(x[0], i % 5, 0))(idx).asnumpy(), x[0][idx % 5])

    grads = funcad.vmap(funcad.grad(lambda a, i: ops.sum(a[i] ** 2)))(x, idx)
    expected = []
    for b in range(3):
        t = torch.tensor(x[b].astype(np.float64), requires_grad=True)
        (t[torch.tensor(idx[b], dtype=torch.long)] ** 2).sum().backward()
        expected.append(t.grad.numpy())
    np.testing.assert_allclose(grads.asnumpy(), np.stack(expected), rtol=1e-6)


def test_vmap_of_indexing_refuses_a_batched_index_past_a_members_axis():
    """Flattened, an index one past a member's axis would read the next member: it is an error instead."""
    with pytest.raises(IndexError, match="getitem: a batched index must lie in \\[0, 3\\)"):
        funcad.vmap(lambda a, i: a[i])(np.ones((2, 3), np.float32), np.array([[0, 3], [1, 2]]))


# -- maximum/minimum gradients at NaN and at ties (test_maximum_grad.py, test_minimum_grad_op.py) -------------------
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_max_min_gradient_reaches_both_inputs_of_a_nan_output(name):
    """test_maximum_grad.py::test_max_tensor_grad_with_input_nan: with x all NaN both x and y receive dout whole
    (funcad gave both zero); torch's rule agrees."""
    x = np.full((3,), np.nan, np.float32)
    y = np.array([1.7, 2.3, 5.8], np.float32)
    dout = np.array([1.28, -0.23, 0.96], np.float32)
    dx, dy = _grads_of_all(getattr(P, name.capitalize())(), funcad.Tensor(x), funcad.Tensor(y), funcad.Tensor(dout))
    np.testing.assert_allclose(dx.asnumpy(), [1.28, -0.23, 0.96], rtol=1e-6)
    np.testing.assert_allclose(dy.asnumpy(), [1.28, -0.23, 0.96], rtol=1e-6)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    getattr(torch, name)(tx, ty).backward(torch.tensor(dout))
    np.testing.assert_allclose(dx.asnumpy(), tx.grad.numpy())
    np.testing.assert_allclose(dy.asnumpy(), ty.grad.numpy())


def test_maximum_gradient_splits_ties_and_goes_whole_to_the_winner():
    """test_maximum_grad.py::test_max_tensor_grad_with_same_input: ties share dout in halves."""
    x = np.array([1.7, 2.3, 5.8], np.float32)
    dx, dy = _grads_of_all(P.Maximum(), funcad.Tensor(x), funcad.Tensor(x), funcad.Tensor(np.array([1.0, -1.0, 0.0], np.float32)))
    np.testing.assert_allclose(dx.asnumpy(), [0.5, -0.5, 0.0])
    np.testing.assert_allclose(dy.asnumpy(), [0.5, -0.5, 0.0])
    dx, dy = funcad.grad(lambda a, b: ops.sum(ops.minimum(a, b)), grad_position=(0, 1))(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    np.testing.assert_array_equal(dx.asnumpy(), [1.0, 0.0])
    np.testing.assert_array_equal(dy.asnumpy(), [0.0, 1.0])


# -- kl_div with labels that are not positive (test_kl_div_op.py) ----------------------------------------------------
@pytest.mark.parametrize("mode", [funcad.PYNATIVE_MODE, funcad.GRAPH_MODE])
def test_kl_div_counts_nothing_where_the_label_is_not_positive(mode):
    """test_kl_div_op.py::test_mode_batchmean_with_nn_interface: 0.52491106 (funcad kept -label * logit there and
    gave -0.4236)."""
    funcad.set_context(mode=mode)
    try:
        prediction = funcad.Tensor(np.log(np.array([[0.3, 0.7], [0.5, 0.5]])).astype(np.float32))
        target = funcad.Tensor(np.array([[-1, 1], [1, -1]], np.float32))
        np.testing.assert_allclose(funcad.nn.KLDivLoss("batchmean")(prediction, target).asnumpy(), 0.52491106, rtol=1e-6)
        np.testing.assert_allclose(P.KLDivLoss("batchmean")(prediction, target).asnumpy(), 0.52491106, rtol=1e-6)
    finally:
        funcad.set_context(mode=funcad.PYNATIVE_MODE)
    g = funcad.grad(lambda p: ops.kl_div(p, target, "sum"))(prediction)
    np.testing.assert_array_equal(g.asnumpy(), [[0.0, -1.0], [-1.0, 0.0]])  # d/dlogit = -label where the label counts


# -- CumSum / CumProd (test_cumsum_op.py, test_cumprod_op.py) ----------------------------------------------------------
def _shifted_running(op, x, axis, reverse, identity):
    """numpy's reference as test_cumsum_op.py builds it: the identity inserted in front, the last element dropped."""
    x = np.flip(x, axis) if reverse else x
    shifted = np.delete(np.insert(x, 0, identity, axis=axis), -1, axis=axis)
    out = op(shifted, axis=axis, dtype=x.dtype)
    return np.flip(out, axis) if reverse else out


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int8, np.uint8, np.int32])
def test_exclusive_cumsum_is_exact_and_keeps_the_dtype(dtype, reverse):
    """test_cumsum_op.py::test_cumsum3/4: float16 exclusive sums within 1e-5 of numpy's shifted cumsum (funcad's
    running(x) - x was 5e-4 off), and int8 stays int8 (MindSpore's kernel writes the input's type)."""
    x = (RNG.random((2, 3, 5)) * (1 if dtype == np.float16 else 10)).astype(dtype)
    for axis in (0, 1, -1):
        out = P.CumSum(exclusive=True, reverse=reverse)(funcad.Tensor(x), axis).asnumpy()
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, _shifted_running(np.cumsum, x, axis, reverse, 0))
    assert P.CumSum()(funcad.Tensor(x), 1).asnumpy().dtype == dtype


def test_cumprod_class_takes_cumsums_options():
    x = RNG.uniform(0.5, 2.0, (3, 4)).astype(np.float32)
    for exclusive in (False, True):
        for reverse in (False, True):
            out = P.CumProd(exclusive, reverse)(funcad.Tensor(x), 1).asnumpy()
            ref = _shifted_running(np.cumprod, x, 1, reverse, 1) if exclusive else (
                np.flip(np.cumprod(np.flip(x, 1), 1), 1) if reverse else np.cumprod(x, 1))
            np.testing.assert_allclose(out, ref, rtol=1e-6)


# -- Inv of integers, Tensor &, |, ^ (test_arithmetic_self_op.py, test_bitwise_op.py) ----------------------------------
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_inv_of_integers_keeps_the_dtype(dtype):
    """test_arithmetic_self_op.py::test_inv: np.reciprocal(x).astype(dtype) (funcad returned float32 1/x)."""
    x = np.array([1, -2, 3, -1, 100, 7], dtype)
    out = P.Inv()(funcad.Tensor(x)).asnumpy()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.reciprocal(x))
    np.testing.assert_allclose(P.Inv()(funcad.Tensor(x.astype(np.float32))).asnumpy(), 1.0 / x, rtol=1e-7)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint16, np.int64])
def test_tensor_and_or_xor_operators_are_bitwise_for_integers(dtype):
    """test_bitwise_op.py::test_bitwise_*_tensor_interface_operator: ``Tensor(x) ^ Tensor(y)`` is np.bitwise_xor
    (MindSpore's __and__/__or__/__xor__ alias bitwise_and/or/xor); funcad's were logical and returned booleans."""
    x = (RNG.standard_normal((4, 5)) * 100).astype(dtype)
    y = (RNG.standard_normal((4, 5)) * 100).astype(dtype)
    tx, ty = funcad.Tensor(x), funcad.Tensor(y)
    np.testing.assert_array_equal((tx & ty).asnumpy(), np.bitwise_and(x, y))
    np.testing.assert_array_equal((tx | ty).asnumpy(), np.bitwise_or(x, y))
    np.testing.assert_array_equal((tx ^ ty).asnumpy(), np.bitwise_xor(x, y))
    np.testing.assert_array_equal((x ^ ty).asnumpy(), np.bitwise_xor(x, y))  # the reflected form
    np.testing.assert_array_equal(funcad.jit(lambda a, b: (a & b) | (a ^ b))(tx, ty).asnumpy(), (x & y) | (x ^ y))
    np.testing.assert_array_equal(P.BitwiseXor()(tx, ty).asnumpy(), np.bitwise_xor(x, y))
    np.testing.assert_array_equal(ops.invert(tx).asnumpy(), np.invert(x))


def test_tensor_logical_operators_on_booleans_stay_logical():
    a, b = np.array([True, True, False, False]), np.array([True, False, True, False])
    ta, tb = funcad.Tensor(a), funcad.Tensor(b)
    np.testing.assert_array_equal((ta & tb).asnumpy(), a & b)
    np.testing.assert_array_equal((ta | tb).asnumpy(), a | b)
    np.testing.assert_array_equal((ta ^ tb).asnumpy(), a ^ b)
    np.testing.assert_array_equal((~ta).asnumpy(), ~a)  # MindSpore's __invert__ is logical_not
    assert (ta & tb).dtype == funcad.bool_


# -- NLLLoss's total weight (test_nllloss_op.py) -----------------------------------------------------------------------
NLL_LOGITS = np.array([[-1.3739, -2.2700, -3.2333, -2.4589, -0.6566],
                       [-1.2156, -2.6026, -1.2200, -1.8731, -1.7119],
                       [-0.7130, -3.3672, -1.5368, -1.8289, -2.3058]], np.float32)
NLL_TARGET = np.array([1, 0, 4], np.int32)
NLL_WEIGHT = np.array([0.2, 0.3, 0.1, 0.15, 0.25], np.float32)


def test_nllloss_class_returns_the_loss_and_the_total_weight():
    """test_nllloss_op.py::test_NLLLoss_none: loss [0.681, 0.24312, 0.57645], total weight 0.75."""
    loss, total = P.NLLLoss(reduction="none")(funcad.Tensor(NLL_LOGITS), funcad.Tensor(NLL_TARGET), funcad.Tensor(NLL_WEIGHT))
    np.testing.assert_allclose(loss.asnumpy(), [0.681, 0.24312, 0.57645], rtol=1e-5)
    np.testing.assert_allclose(total.asnumpy(), 0.75, rtol=1e-6)
    ignored = np.array([1, -100, 4], np.int32)
    loss, total = P.NLLLoss("mean")(NLL_LOGITS, ignored, NLL_WEIGHT)
    ref = torch.nn.functional.nll_loss(torch.tensor(NLL_LOGITS), torch.tensor(ignored, dtype=torch.long), torch.tensor(NLL_WEIGHT))
    np.testing.assert_allclose(loss.asnumpy(), ref.numpy(), rtol=1e-6)
    np.testing.assert_allclose(total.asnumpy(), 0.55, rtol=1e-6)


# -- gather_nd and the tensor scatters with indices a compiled Cell takes as inputs (test_gathernd_op.py, ...) ----------
class _GatherNd(funcad.nn.Cell):
    def construct(self, x, indices):
        return P.GatherNd()(x, indices)


def test_gather_nd_in_graph_mode_takes_indices_as_an_input():
    """test_gathernd_op.py::test_case1_basic_func ...: the Cell compiles with the indices traced (funcad refused)."""
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    for rows in (np.array([[1, 2], [0, 1], [1, 0]], np.int32), np.array([[1, 2, 3], [0, 0, 1]], np.int64), np.array([[[1], [0]]], np.int32)):
        expected = x[tuple(np.moveaxis(rows, -1, 0))]
        funcad.set_context(mode=funcad.GRAPH_MODE)
        try:
            np.testing.assert_array_equal(_GatherNd()(funcad.Tensor(x), funcad.Tensor(rows)).asnumpy(), expected)
        finally:
            funcad.set_context(mode=funcad.PYNATIVE_MODE)


def test_traced_gather_nd_refuses_a_coordinate_outside_its_axis_rather_than_reach_another_row():
    f = funcad.jit(lambda x, i: ops.gather_nd(x, i))
    x = funcad.Tensor(np.arange(8.0, dtype=np.float32).reshape(2, 4))
    np.testing.assert_array_equal(f(x, funcad.Tensor(np.array([[1, 2], [0, 3]], np.int32))).asnumpy(), [6.0, 3.0])
    for bad in ([[0, 5]], [[-1, 1]]):  # flat positions 5 and -3 would be rows 1 and 1 of the merged axes
        with pytest.raises(IndexError):
            f(x, funcad.Tensor(np.array(bad, np.int32)))


@pytest.mark.parametrize("name", ["tensor_scatter_update", "tensor_scatter_add", "tensor_scatter_sub"])
def test_traced_tensor_scatters_match_eager_values_and_gradients(name):
    op = getattr(ops, name)
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    rows = np.array([[1, 2], [0, 1], [1, 0]], np.int32)
    updates = RNG.standard_normal((3, 4)).astype(np.float32)
    eager = op(x, rows, updates).asnumpy()
    np.testing.assert_array_equal(funcad.jit(op)(funcad.Tensor(x), funcad.Tensor(rows), funcad.Tensor(updates)).asnumpy(), eager)

    def loss(a, u, i):
        return ops.sum(op(a, i, u) ** 2)

    compiled = funcad.jit(funcad.grad(loss, grad_position=(0, 1)))(funcad.Tensor(x), funcad.Tensor(updates), funcad.Tensor(rows))
    direct = funcad.grad(lambda a, u: loss(a, u, rows), grad_position=(0, 1))(x, updates)
    for c, d in zip(compiled, direct):
        np.testing.assert_allclose(c.asnumpy(), d.asnumpy(), rtol=1e-6)
    scattered = funcad.jit(lambda i, u: ops.scatter_nd(i, u, (2, 3, 4)))(funcad.Tensor(rows), funcad.Tensor(updates))
    np.testing.assert_array_equal(scattered.asnumpy(), ops.scatter_nd(rows, updates, (2, 3, 4)).asnumpy())


# -- primitive classes MindSpore's tests build on ----------------------------------------------------------------------
def test_loss_and_activation_classes_apply_their_functional_ops():
    """test_kl_div_op.py, test_binary_cross_entropy_op.py, test_bce_with_logits_loss.py, test_soft_shrink_op.py,
    test_hshrink_op.py, test_celu_op.py build on these classes."""
    y = RNG.standard_normal((3, 4)).astype(np.float32)
    p = RNG.uniform(0.1, 0.9, (3, 4)).astype(np.float32)
    w = RNG.uniform(0.5, 1.5, (3, 4)).astype(np.float32)
    ty, tp, tw = (torch.tensor(a) for a in (y, p, w))
    tf = torch.nn.functional
    np.testing.assert_allclose(P.BinaryCrossEntropy("sum")(p, p * 0.5, w).asnumpy(),
                               tf.binary_cross_entropy(tp, tp * 0.5, tw, reduction="sum"), rtol=1e-6)
    np.testing.assert_allclose(P.BCEWithLogitsLoss("none")(y, p, w, w[0]).asnumpy(),
                               tf.binary_cross_entropy_with_logits(ty, tp, tw, reduction="none", pos_weight=tw[0]), rtol=1e-6)
    np.testing.assert_allclose(P.KLDivLoss("sum")(np.log(p), p[::-1]).asnumpy(), tf.kl_div(torch.log(tp), tp.flip(0), reduction="sum"), rtol=1e-5)
    np.testing.assert_allclose(P.SoftShrink(0.3)(y).asnumpy(), tf.softshrink(ty, 0.3))
    np.testing.assert_allclose(P.HShrink(0.3)(y).asnumpy(), tf.hardshrink(ty, 0.3))
    np.testing.assert_allclose(P.CeLU(0.7)(y).asnumpy(), tf.celu(ty, 0.7), rtol=1e-6)
    np.testing.assert_allclose(P.PReLU()(y, w[0]).asnumpy(), tf.prelu(ty, tw[0]), rtol=1e-6)
    np.testing.assert_allclose(P.Erfc()(y).asnumpy(), torch.erfc(ty), rtol=1e-6)


def test_xdivy_square_sum_all_and_reductions_of_booleans():
    """test_xdivy_op.py, test_square_sum_all.py and test_reduce_op.py build on these classes."""
    x, y = np.array([0.0, 1.0, 2.0, 0.0], np.float32), np.array([0.0, 4.0, -8.0, 3.0], np.float32)
    np.testing.assert_array_equal(P.Xdivy()(x, y).asnumpy(), [0.0, 0.25, -0.25, 0.0])  # 0 where x is 0, 0/0 included
    np.testing.assert_array_equal(funcad.grad(lambda a: ops.sum(P.Xdivy()(a, y)))(x).asnumpy(), [0.0, 0.25, -0.125, 0.0])
    sx, sy = P.SquareSumAll()(x, y)
    assert (sx.item(), sy.item()) == (5.0, 89.0)
    with pytest.raises(ValueError, match="SquareSumAll: x and y must have one shape"):
        P.SquareSumAll()(x, y[:2])
    with pytest.raises(TypeError, match="SquareSumAll: x and y must have one dtype"):
        P.SquareSumAll()(x.astype(np.float16), y)
    b = np.array([[True, False, True], [True, True, True]])
    np.testing.assert_array_equal(P.ReduceAll(keep_dims=True)(b, 1).asnumpy(), b.all(1, keepdims=True))
    np.testing.assert_array_equal(P.ReduceAny()(b, 0).asnumpy(), b.any(0))
    assert P.ReduceAll()(b).item() is False and P.ReduceAny()(b, ()).item() is True


class _LinSpace(funcad.nn.Cell):
    def construct(self, start, stop):
        return P.LinSpace()(start, stop, 5)


@pytest.mark.parametrize("mode", [funcad.PYNATIVE_MODE, funcad.GRAPH_MODE])
def test_lin_space_takes_start_and_stop_as_cell_inputs(mode):
    """test_lin_space.py::test_lin_space_net: start and stop are inputs of a compiled Cell."""
    funcad.set_context(mode=mode)
    try:
        out = _LinSpace()(funcad.Tensor(np.float32(-25.3)), funcad.Tensor(np.float32(-147.0)))
    finally:
        funcad.set_context(mode=funcad.PYNATIVE_MODE)
    np.testing.assert_allclose(out.asnumpy(), np.linspace(-25.3, -147.0, 5), rtol=1e-6)
    assert out.dtype == funcad.float32


def test_vmap_and_train_serialization_paths_that_mindspore_tests_import():
    """``from mindspore.ops.functional import vmap`` and ``from mindspore.train.serialization import export``."""
    from funcad.ops.functional import vmap
    from funcad.train.serialization import export, load, load_checkpoint, save_checkpoint

    assert vmap is funcad.vmap is ops.vmap
    assert (export, load, save_checkpoint, load_checkpoint) == (funcad.export, funcad.load, funcad.save_checkpoint, funcad.load_checkpoint)


class _ScatterInto(funcad.nn.Cell):
    def __init__(self, op):
        super().__init__()
        self.op = op
        self.x = funcad.Parameter(funcad.Tensor(np.ones((2, 3), np.float32)), name="x")

    def construct(self, indices, updates):
        return self.op(self.x, indices, updates)


def test_scatter_update_in_graph_mode_lets_the_last_copy_of_a_repeated_row_win():
    """test_scatter_arithmetic_op.py::test_scatter_update_small_float32_use_locking_false: rows [0, 1] written twice,
    the second copy stays: [[6, 7, 8], [9, 10, 11]] (traced indices were summed)."""
    indices = funcad.Tensor(np.array([[0, 1], [0, 1]], np.int32))
    updates = funcad.Tensor(np.arange(12, dtype=np.float32).reshape(2, 2, 3))
    funcad.set_context(mode=funcad.GRAPH_MODE)
    try:
        net = _ScatterInto(P.ScatterUpdate(use_locking=False))
        out = net(indices, updates)
    finally:
        funcad.set_context(mode=funcad.PYNATIVE_MODE)
    np.testing.assert_array_equal(out.asnumpy(), [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]])
    np.testing.assert_array_equal(net.x.asnumpy(), out.asnumpy())  # in place
    weights = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    g = funcad.jit(funcad.grad(lambda u, i: ops.sum(ops.tensor_scatter_update(np.ones((2, 3), np.float32), i[..., None], u) * weights)))(
        updates, indices)
    np.testing.assert_array_equal(g.asnumpy(), np.stack([np.zeros((2, 3)), weights]))  # the overwritten copy gets nothing


@pytest.mark.parametrize("mode", [funcad.PYNATIVE_MODE, funcad.GRAPH_MODE])
@pytest.mark.parametrize("name, ufunc", [("ScatterAdd", np.add), ("ScatterSub", np.subtract)])
def test_scatter_add_and_sub_accumulate_repeated_rows_in_place(mode, name, ufunc):
    """test_scatter_arithmetic_op.py::test_scatter_add_small_float32 and _sub_: numpy's ufunc.at as reference."""
    indices = np.array([[0, 1], [1, 1]], np.int32)
    updates = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    expected = np.ones((2, 3), np.float32)
    ufunc.at(expected, indices, updates)
    funcad.set_context(mode=mode)
    try:
        net = _ScatterInto(getattr(P, name)())
        out = net(funcad.Tensor(indices), funcad.Tensor(updates))
    finally:
        funcad.set_context(mode=funcad.PYNATIVE_MODE)
    np.testing.assert_array_equal(out.asnumpy(), expected)
    np.testing.assert_array_equal(net.x.asnumpy(), expected)
    with pytest.raises(TypeError, match=f"{name}: input_x must be a Parameter, got Tensor"):
        getattr(P, name)()(funcad.Tensor(np.ones((2, 3), np.float32)), indices, updates)


# -- ScatterMul/Div/Max/Min, tensor_scatter_mul/div/max/min, unsorted_segment_max/min/prod ----------------------------
class _ScatterIntoValue(funcad.nn.Cell):
    def __init__(self, op, fill: float):
        super().__init__()
        self.op = op
        self.x = funcad.Parameter(funcad.Tensor(np.full((2, 3), fill, np.float32)), name="x")

    def construct(self, indices, updates):
        return self.op(self.x, indices, updates)


@pytest.mark.parametrize("mode", [funcad.PYNATIVE_MODE, funcad.GRAPH_MODE])
@pytest.mark.parametrize("name, fill, updates, expected", [
    ("ScatterMul", 1.0, np.arange(12, dtype=np.float32), [[0.0, 7.0, 16.0], [27.0, 40.0, 55.0]]),
    ("ScatterDiv", 10.0, np.ones(12, np.float32), [[10.0, 10.0, 10.0], [10.0, 10.0, 10.0]]),
    ("ScatterMax", 10.0, np.arange(12, dtype=np.float32), [[10.0, 10.0, 10.0], [10.0, 10.0, 11.0]]),
    ("ScatterMin", 10.0, np.arange(12, dtype=np.float32), [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]),
])
def test_scatter_mul_div_max_min_combine_repeated_rows_in_place(mode, name, fill, updates, expected):
    """test_scatter_arithmetic_op.py::test_scatter_{mul,div,max,min}_small_float32_use_locking_false (rows [0, 1]
    twice): MindSpore's expected values; the indices are a GRAPH_MODE Cell's traced input too."""
    indices = funcad.Tensor(np.array([[0, 1], [0, 1]], np.int32))
    funcad.set_context(mode=mode)
    try:
        net = _ScatterIntoValue(getattr(P, name)(), fill)
        out = net(indices, funcad.Tensor(updates.reshape(2, 2, 3)))
    finally:
        funcad.set_context(mode=funcad.PYNATIVE_MODE)
    np.testing.assert_array_equal(out.asnumpy(), expected)
    np.testing.assert_array_equal(net.x.asnumpy(), expected)


def _scatter_in_order(ufunc, x, indices, updates):
    """MindSpore's test reference (tensor_scatter_np): each row combined into the result in turn."""
    out = x.copy()
    for row, update in zip(indices.reshape(-1, indices.shape[-1]), updates.reshape((-1,) + x.shape[indices.shape[-1]:])):
        out[tuple(row)] = ufunc(out[tuple(row)], update)
    return out


@pytest.mark.parametrize("name, ufunc", [("mul", np.multiply), ("div", np.divide), ("max", np.maximum), ("min", np.minimum)])
def test_tensor_scatter_mul_div_max_min_match_the_in_order_reference_and_torch_gradients(name, ufunc):
    """test_tensor_scatter_arithmetic.py (tensor_scatter_np's in-order reference), with a repeated row; gradients
    against torch float64 written as the same sequence of index_put."""
    x = RNG.uniform(0.5, 2.0, (4, 3))
    indices = np.array([[2], [0], [2], [3]])
    updates = RNG.uniform(0.5, 2.0, (4, 3))
    fn = getattr(ops, f"tensor_scatter_{name}")
    np.testing.assert_allclose(fn(funcad.Tensor(x), indices, funcad.Tensor(updates)).asnumpy(), _scatter_in_order(ufunc, x, indices, updates),
                               rtol=1e-12)
    np.testing.assert_allclose(getattr(P, f"TensorScatter{name.capitalize()}")()(funcad.Tensor(x), indices, funcad.Tensor(updates)).asnumpy(),
                               _scatter_in_order(ufunc, x, indices, updates), rtol=1e-12)
    weights = RNG.standard_normal((4, 3))
    gx, gu = funcad.grad(lambda a, u: ops.sum(fn(a, indices, u) * weights), grad_position=(0, 1))(funcad.Tensor(x), funcad.Tensor(updates))
    tx, tu = (torch.tensor(v, requires_grad=True) for v in (x, updates))
    combine = {"mul": torch.mul, "div": torch.div, "max": torch.maximum, "min": torch.minimum}[name]
    out = tx
    for row, k in zip(indices[:, 0], range(4)):
        out = out.index_put((torch.tensor([row]),), combine(out[row], tu[k])[None])
    (out * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(gx.asnumpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gu.asnumpy(), tu.grad.numpy(), rtol=1e-10)


def test_tensor_scatter_div_of_integers_truncates_in_their_dtype():
    """test_tensor_scatter_arithmetic.py::test_tensor_scatter_arithmetic_small_int (div, int16): [1, 0, 3, 0, 0, 6, 7, 0]."""
    out = P.TensorScatterDiv()(funcad.Tensor(np.arange(1, 9, dtype=np.int16)), np.array([[4], [3], [1], [7]], np.int32),
                               funcad.Tensor(np.array([9, 10, 11, 12], np.int16)))
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out.asnumpy(), [1, 0, 3, 0, 0, 6, 7, 0])


@pytest.mark.parametrize("name, ufunc, empty", [("max", np.maximum, np.finfo(np.float32).min), ("min", np.minimum, np.finfo(np.float32).max),
                                                ("prod", np.multiply, 1.0)])
@pytest.mark.parametrize("mode", [funcad.PYNATIVE_MODE, funcad.GRAPH_MODE])
@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
def test_unsorted_segment_max_min_prod_fill_empty_segments_as_mindspore(name, ufunc, empty, mode):
    """test_unsorted_segment_arithmetic.py (unsorted_segment_arith_expected: an empty segment holds the dtype's lowest
    value for max, highest for min, 1 for prod); segment ids a GRAPH_MODE Cell's traced input too."""
    x = RNG.uniform(0.5, 2.0, (4, 3)).astype(np.float32)
    ids = np.array([0, 2, 0, 2], np.int32)
    expected = np.full((4, 3), empty, np.float32)
    for i, k in enumerate(ids):
        expected[k] = ufunc(expected[k], x[i])

    class Net(funcad.nn.Cell):
        def __init__(self):
            super().__init__()
            self.op = getattr(P, f"UnsortedSegment{name.capitalize()}")()

        def construct(self, data, segment_ids):
            return self.op(data, segment_ids, 4)

    funcad.set_context(mode=mode)
    try:
        out = Net()(funcad.Tensor(x), funcad.Tensor(ids))
    finally:
        funcad.set_context(mode=funcad.PYNATIVE_MODE)
    np.testing.assert_allclose(out.asnumpy(), expected, rtol=1e-6)
    fn = getattr(ops, f"unsorted_segment_{name}")
    g = funcad.grad(lambda a: ops.sum(fn(a, ids, 4)[::2]))(funcad.Tensor(x.astype(np.float64)))
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    reduce = {"max": "amax", "min": "amin", "prod": "prod"}[name]
    torch.zeros(4, 3, dtype=torch.float64).index_reduce(0, torch.tensor(ids, dtype=torch.int64), tx, reduce, include_self=False)[::2].sum().backward()
    np.testing.assert_allclose(g.asnumpy(), tx.grad.numpy(), rtol=1e-12)
    with pytest.raises(IndexError, match=rf"unsorted_segment_{name}: segment_ids must lie in \[0, 4\)"):
        fn(funcad.Tensor(x), np.array([0, 4, 0, 1]), 4)


# -- batch_dot, functional scatter_add, nn.OneHot, mindspore.ops.function ---------------------------------------------
@pytest.mark.parametrize("s1, s2, axes", [((2, 2, 3), (2, 3, 2), (-1, -2)), ((3, 4), (3, 4), None), ((2, 3, 4), (2, 5, 4), 2),
                                          ((2, 5, 3, 2), (2, 2, 3), None)])
def test_batch_dot_contracts_one_axis_per_member(s1, s2, axes):
    """test_batchdot_op.py::test_batch_dot_fp32 (its reference: np.tensordot per batch member; two 2-D inputs give
    (batch, 1)); gradients against torch float64."""
    a, b = RNG.standard_normal(s1), RNG.standard_normal(s2)
    out = ops.batch_dot(funcad.Tensor(a), funcad.Tensor(b), axes)
    if axes is None:
        axes = (a.ndim - 1, b.ndim - 1 if b.ndim == 2 else b.ndim - 2)
    a1, a2 = (axes, axes) if isinstance(axes, int) else axes
    expected = np.stack([np.tensordot(ai, bi, (a1 % a.ndim - 1, a2 % b.ndim - 1)) for ai, bi in zip(a, b)])
    np.testing.assert_allclose(out.asnumpy(), expected.reshape(len(a), 1) if a.ndim == b.ndim == 2 else expected, rtol=1e-12)
    w = RNG.standard_normal(tuple(out.shape))
    ga, gb = funcad.grad(lambda p, q: ops.sum(ops.batch_dot(p, q, axes) * w), grad_position=(0, 1))(funcad.Tensor(a), funcad.Tensor(b))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ref = torch.stack([torch.tensordot(p, q, ([a1 % a.ndim - 1], [a2 % b.ndim - 1])) for p, q in zip(ta, tb)]).reshape(w.shape)
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ga.asnumpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb.asnumpy(), tb.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="batch_dot: axes"):
        ops.batch_dot(funcad.Tensor(a), funcad.Tensor(b), (0, 1))


def test_functional_scatter_add_and_the_ops_function_path():
    """test_scatter_arithmetic_op.py::test_scatter_add_function (a Tensor input): MindSpore's expected values; a
    Parameter is updated in place. ``mindspore.ops.function`` is importable."""
    from funcad.ops import function as F

    input_x = funcad.Tensor(np.flip(np.arange(34, 46).reshape(3, 4).astype(np.int32)))
    indices = funcad.Tensor(np.array([[[0, 1, 2], [2, 1, 0]], [[0, 0, 0], [2, 2, 2]]], np.int32))
    updates = funcad.Tensor(np.arange(63, 111).reshape((2, 2, 3, 4)).astype(np.int32))
    expected = [[464, 468, 472, 476], [187, 188, 189, 190], [492, 496, 500, 504]]
    np.testing.assert_array_equal(F.scatter_add(input_x, indices, updates).asnumpy(), expected)
    param = funcad.Parameter(funcad.Tensor(np.ones((2, 3), np.float32)), name="p")
    ops.scatter_add(param, np.array([1, 1]), funcad.Tensor(np.ones((2, 3), np.float32)))
    np.testing.assert_array_equal(param.asnumpy(), [[1, 1, 1], [3, 3, 3]])


def test_nn_one_hot_cell():
    """test_one_hot_op.py::test_one_hot: nn.OneHot(axis, depth, on_value, off_value) against numpy's encoding."""
    indices = np.array([[0, 3], [1, 2]], np.int32)
    for axis in (-1, 0, 1):
        out = funcad.nn.OneHot(axis, 4, 2.0, 3.0)(funcad.Tensor(indices))
        expected = np.moveaxis(np.where(np.eye(4)[indices] == 1, 2.0, 3.0), -1, axis)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.asnumpy(), expected)


# -- SpaceToDepth/DepthToSpace, LpNorm, Median, Unique, Dense -----------------------------------------------------------
def test_space_to_depth_and_depth_to_space_order_channels_as_mindspore():
    """test_spacetodepth_op.py / test_depthtospace_op.py: output channel (row in block, column in block, channel), as
    their expected arrays (TensorFlow's order, not torch's pixel_unshuffle); gradients are the inverse permutation."""
    x = np.arange(1 * 3 * 2 * 2, dtype=np.float32).reshape(1, 3, 2, 2)
    expected = np.array([[[[0]], [[4]], [[8]], [[1]], [[5]], [[9]], [[2]], [[6]], [[10]], [[3]], [[7]], [[11]]]], np.float32)
    np.testing.assert_array_equal(P.SpaceToDepth(2)(funcad.Tensor(x)).asnumpy(), expected)
    np.testing.assert_array_equal(P.DepthToSpace(2)(funcad.Tensor(expected)).asnumpy(), x)
    big = RNG.standard_normal((2, 3, 4, 6))
    w = RNG.standard_normal((2, 12, 2, 3))
    g = funcad.grad(lambda a: ops.sum(P.SpaceToDepth(2)(a) * w))(funcad.Tensor(big))
    np.testing.assert_array_equal(g.asnumpy(), P.DepthToSpace(2)(funcad.Tensor(w)).asnumpy())
    with pytest.raises(ValueError, match=r"SpaceToDepth: input of shape \(2, 3, 4, 6\) does not divide"):
        P.SpaceToDepth(4)(funcad.Tensor(big))
    with pytest.raises(ValueError, match="DepthToSpace: input of shape"):
        P.DepthToSpace(2)(funcad.Tensor(big))


def test_lp_norm_is_a_vector_norm_over_its_axes():
    """test_lp_norm_op.py::test_lp_norm_op: axis [0, 1] of [[[1, 2], [3, 4]], [[5, 6], [7, 8]]] gives
    [9.165152, 10.954452] (a matrix 2-norm would not); gradients against torch's vector_norm in float64."""
    x = np.array([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]], np.float32)
    np.testing.assert_allclose(P.LpNorm([0, 1])(funcad.Tensor(x)).asnumpy(), [9.165152, 10.954452], rtol=1e-6)
    y = RNG.standard_normal((3, 2, 4))
    for axis, p, keep in (([0, 2], 3, True), (1, 1, False), ((-1,), 2, False)):
        out = P.LpNorm(axis, p, keep)(funcad.Tensor(y))
        dims = tuple(axis) if not isinstance(axis, int) else (axis,)
        ty = torch.tensor(y, requires_grad=True)
        ref = torch.linalg.vector_norm(ty, p, dim=dims, keepdim=keep)
        np.testing.assert_allclose(out.asnumpy(), ref.detach().numpy(), rtol=1e-12)
        g = funcad.grad(lambda a, norm=P.LpNorm(axis, p, keep): ops.sum(norm(a)))(funcad.Tensor(y))
        ref.sum().backward()
        np.testing.assert_allclose(g.asnumpy(), ty.grad.numpy(), rtol=1e-10)
    # MindSpore's CPU kernel: max(norm, epsilon), and p = 0 counts every element reduced, zeros too
    tiny = np.array([[1e-13, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(P.LpNorm(1, epsilon=1e-6)(funcad.Tensor(tiny)).asnumpy(), [1e-6, 5.0], rtol=1e-12)
    np.testing.assert_allclose(funcad.grad(lambda a: ops.sum(P.LpNorm(1, epsilon=1e-6)(a)))(funcad.Tensor(tiny)).asnumpy(),
                               [[0.0, 0.0], [0.6, 0.8]], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(P.LpNorm((0, 1), p=0)(funcad.Tensor(tiny)).asnumpy(), 4.0)


def test_median_primitive_global_axis_and_nan():
    """test_median_op.py: the lower median and its index along ``axis`` or of all of x, NaN unless ignore_nan, and an
    empty global input gives NaN (0 for integers)."""
    x = np.array([[5.0, 1.0, 4.0, 2.0], [3.0, 8.0, np.nan, 6.0]], np.float32)
    values, indices = P.Median(axis=1, keep_dims=True)(funcad.Tensor(x))
    np.testing.assert_array_equal(values.asnumpy(), [[2.0], [np.nan]])
    assert indices.asnumpy()[0, 0] == 3
    values, indices = P.Median(axis=1, ignore_nan=True)(funcad.Tensor(x))
    np.testing.assert_array_equal(values.asnumpy(), [2.0, 6.0])
    np.testing.assert_array_equal(indices.asnumpy(), [3, 3])
    value, index = P.Median(global_median=True, ignore_nan=True)(funcad.Tensor(x))
    assert float(value.asnumpy()) == 4.0 and int(index.asnumpy()) == 2
    assert np.isnan(P.Median(global_median=True)(funcad.Tensor(np.zeros((2, 0), np.float32)))[0].asnumpy())
    assert int(P.Median(global_median=True)(funcad.Tensor(np.zeros((2, 0), np.int32)))[0].asnumpy()) == 0
    g = funcad.grad(lambda a: ops.sum(P.Median(axis=0)(a)[0]))(funcad.Tensor(np.array([[1.0, 7.0], [3.0, 2.0], [5.0, 4.0]])))
    np.testing.assert_array_equal(g.asnumpy(), [[0, 0], [1, 0], [0, 1]])
    values, inverse = P.Unique()(funcad.Tensor(np.array([3, 1, 3, 2], np.int32)))
    np.testing.assert_array_equal(values.asnumpy(), [1, 2, 3])
    np.testing.assert_array_equal(inverse.asnumpy(), [2, 0, 2, 1])


def test_dense_primitive_one_and_two_dimensional_weights():
    """test_dense_op.py::test_1d_forward ([1, 2, 3] . [1, 2, 3] + 7 = 21) and a 2-D weight against torch's linear."""
    out = P.Dense()(funcad.Tensor(np.array([1.0, 2.0, 3.0], np.float32)), funcad.Tensor(np.array([1.0, 2.0, 3.0], np.float32)),
                    funcad.Tensor(np.array(7.0, np.float32)))
    assert float(out.asnumpy()) == 21.0
    x, w, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((5, 4)), RNG.standard_normal(5)
    np.testing.assert_allclose(P.Dense()(funcad.Tensor(x), funcad.Tensor(w), funcad.Tensor(b)).asnumpy(),
                               torch.nn.functional.linear(*(torch.tensor(v) for v in (x, w, b))).numpy(), rtol=1e-12)


# -- MaxPool3D, AvgPool3D, Conv3D, ResizeBilinearV2 ---------------------------------------------------------------------
def test_max_pool3d_primitive_valid_and_same():
    """test_maxpool_op.py::test_maxpool3d_1 (kernel (2, 2, 3), valid) and _4 (same): MindSpore's expected values and
    input gradients (sens = output + 1)."""
    x = np.arange(72, dtype=np.float32).reshape(1, 3, 2, 3, 4)
    valid = P.MaxPool3D(kernel_size=(2, 2, 3), strides=1, pad_mode="VALID")
    np.testing.assert_array_equal(valid(funcad.Tensor(x)).asnumpy().ravel(), [18, 19, 22, 23, 42, 43, 46, 47, 66, 67, 70, 71])
    same = P.MaxPool3D(kernel_size=(2, 2, 3), strides=1, pad_mode="SAME")
    out = same(funcad.Tensor(x))
    np.testing.assert_array_equal(out.asnumpy()[0, 0, 0], [[17, 18, 19, 19], [21, 22, 23, 23], [21, 22, 23, 23]])
    dx = _grads_of_all(same, funcad.Tensor(x), out + 1)[0]
    np.testing.assert_array_equal(dx.asnumpy()[0, 0, 1], [[0, 0, 0, 0], [0, 36, 38, 80], [0, 88, 92, 192]])
    np.testing.assert_array_equal(dx.asnumpy()[0, 1, 1], [[0, 0, 0, 0], [0, 84, 86, 176], [0, 184, 188, 384]])


def test_avg_pool3d_and_conv3d_primitives_match_torch():
    """test_avgpool_op.py::test_avgpool3d_1 (means [9, 10, 13, 14, ...]) and test_conv_op.py::test_conv3d (first
    channel [[12960, 13236], [13788, 14064]] ...); 'same' and 'pad' modes and gradients against torch float64."""
    x = np.arange(72, dtype=np.float32).reshape(1, 3, 2, 3, 4)
    out = P.AvgPool3D(kernel_size=(2, 2, 3), strides=1, pad_mode="VALID", count_include_pad=False)(funcad.Tensor(x))
    np.testing.assert_array_equal(out.asnumpy().ravel(), [9, 10, 13, 14, 33, 34, 37, 38, 57, 58, 61, 62])
    cube = np.arange(81, dtype=np.float32).reshape(1, 3, 3, 3, 3)
    w = np.arange(96, dtype=np.float32).reshape(4, 3, 2, 2, 2)
    np.testing.assert_array_equal(P.Conv3D(4, 2)(funcad.Tensor(cube), funcad.Tensor(w)).asnumpy()[0, 0].ravel(),
                                  [12960, 13236, 13788, 14064, 15444, 15720, 16272, 16548])
    v, k = RNG.standard_normal((2, 3, 4, 5, 6)), RNG.standard_normal((4, 3, 2, 3, 3))
    conv = P.Conv3D(4, (2, 3, 3), pad_mode="same", stride=(1, 2, 2))
    tv, tk = torch.tensor(v, requires_grad=True), torch.tensor(k, requires_grad=True)
    ref = torch.nn.functional.conv3d(torch.nn.functional.pad(tv, (0, 1, 1, 1, 0, 1)), tk, stride=(1, 2, 2))  # same: (0,1),(1,1),(0,1)
    np.testing.assert_allclose(conv(funcad.Tensor(v), funcad.Tensor(k)).asnumpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    ref.sum().backward()
    gv, gk = funcad.grad(lambda a, b: ops.sum(conv(a, b)), grad_position=(0, 1))(funcad.Tensor(v), funcad.Tensor(k))
    np.testing.assert_allclose(gv.asnumpy(), tv.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gk.asnumpy(), tk.grad.numpy(), rtol=1e-10, atol=1e-12)
    pool = P.AvgPool3D(2, (1, 2, 2), "pad", (1, 0, 1, 1, 0, 1))
    ref = torch.nn.functional.avg_pool3d(torch.nn.functional.pad(torch.tensor(v), (0, 1, 1, 1, 1, 0)), 2, (1, 2, 2))
    np.testing.assert_allclose(pool(funcad.Tensor(v)).asnumpy(), ref.numpy(), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="MaxPool3D: data_format 'NDHWC' is not supported"):
        P.MaxPool3D(data_format="NDHWC")
    with pytest.raises(ValueError, match="AvgPool3D: padding"):
        P.AvgPool3D(2, 1, "valid", 1)


def test_resize_bilinear_v2_modes():
    """test_resize_bilinear_op.py::test_resize_nn_grayscale_integer_ratio_float (MindSpore's default: source i * in /
    out) and its align_corners case; half_pixel_centers is torch's align_corners=False; gradients by finite differences."""
    x = funcad.Tensor(np.array([[[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]]]], np.float32))
    out = P.ResizeBilinearV2()(x, (9, 9)).asnumpy()[0, 0]
    np.testing.assert_allclose(out[0], [0.1, 0.13333334, 0.16666667, 0.2, 0.23333335, 0.26666668, 0.3, 0.3, 0.3], atol=1e-6)
    np.testing.assert_allclose(out[:, 0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.7, 0.7], atol=1e-6)
    np.testing.assert_allclose(P.ResizeBilinearV2()(x, (1, 6)).asnumpy().ravel(), [0.1, 0.15, 0.2, 0.25, 0.3, 0.3], atol=1e-6)
    np.testing.assert_allclose(P.ResizeBilinearV2(align_corners=True)(x, (1, 5)).asnumpy().ravel(), [0.1, 0.15, 0.2, 0.25, 0.3], atol=1e-6)
    img = RNG.standard_normal((2, 3, 5, 4))
    np.testing.assert_allclose(P.ResizeBilinearV2(half_pixel_centers=True)(funcad.Tensor(img), (7, 3)).asnumpy(),
                               torch.nn.functional.interpolate(torch.tensor(img), (7, 3), mode="bilinear", align_corners=False).numpy(), rtol=1e-12)
    from funcad.testing import check_grads

    check_grads(lambda a: P.ResizeBilinearV2()(a, (7, 3)), (img,))
    with pytest.raises(ValueError, match="cannot both be True"):
        P.ResizeBilinearV2(True, True)


def test_new_primitives_refuse_bad_shapes_by_name():
    with pytest.raises(ValueError, match=r"funcad.ops.batch_dot: expected inputs of rank >= 2 with one batch size, got shapes \(3,\) and \(3, 2\)"):
        ops.batch_dot(funcad.Tensor(np.ones(3)), funcad.Tensor(np.ones((3, 2))))
    with pytest.raises(ValueError, match=r"ResizeBilinearV2: expected a 4-D \(N, C, H, W\) input and two positive sizes, got \(2, 3\) and \(4, 4\)"):
        P.ResizeBilinearV2()(funcad.Tensor(np.ones((2, 3))), (4, 4))
    with pytest.raises(NotImplementedError, match="Conv3D: data_format 'NDHWC' is not supported"):
        P.Conv3D(2, 2, data_format="NDHWC")


def test_topk_unsorted_keeps_the_positions_order():
    """test_topk_op.py::test_topk, test_top_k_functional and test_top_k_tensor: with sorted=False and k the whole axis
    MindSpore's CPU kernel returns the input itself; funcad returns the chosen elements in index order for every k
    (eagerly and under jit), their gradient going back to where each came from."""
    x = RNG.random((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(P.TopK(False)(funcad.Tensor(x), 4)[0].asnumpy(), x)
    np.testing.assert_array_equal(ops.topk(funcad.Tensor(x), 4, sorted=False)[1].asnumpy(), np.tile(np.arange(4), (3, 1)))
    y = np.array([[3.0, 1.0, 4.0, 1.5, 5.0], [9.0, 2.0, 6.0, 5.0, 3.0]])
    for run in (lambda a: ops.topk(a, 3, sorted=False), funcad.jit(lambda a: ops.topk(a, 3, sorted=False))):
        values, indices = run(funcad.Tensor(y))
        np.testing.assert_array_equal(indices.asnumpy(), [[0, 2, 4], [0, 2, 3]])
        np.testing.assert_array_equal(values.asnumpy(), [[3.0, 4.0, 5.0], [9.0, 6.0, 5.0]])
    values, indices = ops.topk(funcad.Tensor(y.T), 1, 0, largest=False, sorted=False)
    np.testing.assert_array_equal(indices.asnumpy(), [[1, 1]])
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    g = funcad.grad(lambda a: ops.sum(ops.topk(a, 3, sorted=False)[0] * w))(funcad.Tensor(y))
    np.testing.assert_array_equal(g.asnumpy(), [[1, 0, 2, 0, 3], [4, 0, 5, 6, 0]])


@pytest.mark.parametrize("name", ["scatter_nd", "tensor_scatter_add", "tensor_scatter_sub", "tensor_scatter_update", "tensor_scatter_mul",
                                  "tensor_scatter_div", "tensor_scatter_max", "tensor_scatter_min"])
def test_scatter_nd_family_takes_int32_or_int64_indices_only(name):
    """test_tensor_scatter_arithmetic.py::test_tensor_scatter_arithmetic_type_check: int8 or int16 indices raise TypeError."""
    x = funcad.Tensor(np.ones((2, 3), np.float32))
    for dtype in (np.int8, np.int16):
        args = (np.array([[0, 1]], dtype), funcad.Tensor(np.ones(1, np.float32)))
        with pytest.raises(TypeError, match=f"funcad.ops.{name}: indices must be int32 or int64, got {np.dtype(dtype)}"):
            getattr(ops, name)(*args, (2, 3)) if name == "scatter_nd" else getattr(ops, name)(x, *args)


# -- MindSpore 2.x functional-API tests (tests/st/ops/test_func_*.py, test_ops_*.py) -----------------------------------
def test_sign_of_nan_is_zero_as_in_mindspore():
    """test_func_sign.py::test_sign_normal: ops.sign (and Tensor.sign, ops.sgn) give 0 for NaN, eagerly and under jit;
    funcad.numpy.sign keeps numpy's NaN."""
    x = funcad.Tensor([[-1, 0, float("inf"), 4, float("nan")], [2, 3, float("-inf"), -6, 0]])
    expected = np.array([[-1.0, 0.0, 1.0, 1.0, 0.0], [1.0, 1.0, -1.0, -1.0, 0.0]])
    for out in (ops.sign(x), x.sign(), ops.sgn(x), funcad.jit(ops.sign)(x), P.Sign()(x)):
        np.testing.assert_array_equal(out.asnumpy(), expected)
    ints = ops.sign(funcad.Tensor([[-1, 0, 2, 4, 6], [2, 3, 5, -6, 0]]))
    np.testing.assert_array_equal(ints.asnumpy(), [[-1, 0, 1, 1, 1], [1, 1, 1, -1, 0]])
    assert ints.asnumpy().dtype.kind == "i"
    assert float(ops.sign(np.float32(np.nan))) == 0.0
    import funcad.numpy as fnp
    np.testing.assert_array_equal(np.asarray(fnp.sign(np.array([np.nan, -2.0, 3.0]))), np.sign([np.nan, -2.0, 3.0]))


def test_negative_order_vector_norms_are_zero_at_a_zero_element():
    """test_func_norm.py::test_norm_normal: ord -1, -2 and -3 over arange(9) - 4 (which holds a 0) give 0, as numpy
    and torch do (funcad counted the zero as 0, not as an infinite term); the gradient away from zeros is torch's."""
    a = ops.arange(9, dtype=funcad.float32) - 4
    for order in (-1, -2, -3):
        assert float(ops.norm(a, order)) == 0.0
        assert float(ops.vector_norm(a, order)) == 0.0
    x = np.array([1.0, 2.0, -3.0, 0.5])
    for order in (-1.0, -2.5):
        np.testing.assert_allclose(float(ops.norm(x, order)), np.linalg.norm(x, order), rtol=1e-12)
        t = torch.tensor(x, requires_grad=True)
        torch.linalg.vector_norm(t, order).backward()
        np.testing.assert_allclose(np.asarray(funcad.grad(lambda v, o=order: ops.norm(v, o))(x)), t.grad.numpy(), rtol=1e-12)


def test_norm_casts_to_dtype_first():
    """test_func_norm.py: ops.norm(a, ord, dim, keepdim, dtype=...) computes in ``dtype``."""
    b = ops.reshape(ops.arange(9, dtype=funcad.float32) - 4, (3, 3))
    out = ops.norm(b, 2, dtype=funcad.float64)
    assert out.dtype == funcad.float64
    np.testing.assert_allclose(out.asnumpy(), 7.3484707, rtol=1e-6)


def test_vector_norm_over_every_element_an_axis_or_a_tuple():
    """test_func_vector_norm.py::test_ops_vector_norm_default_axis_case: MindSpore's expected values over every
    element of (arange(12) - 6).reshape(3, 4); axes and keepdims against torch.linalg.vector_norm."""
    x = ops.arange(0, 12, dtype=funcad.float32) - 6
    for order, expected in ((2, 12.0830), (float("inf"), 6.0), (float("-inf"), 0.0), (0, 11.0), (4.5, 7.2244)):
        np.testing.assert_allclose(ops.vector_norm(ops.reshape(x, (3, 4)), order).asnumpy(), expected, rtol=1e-4)
    v = RNG.standard_normal((2, 3, 4))
    for order, axis, keepdims in ((2, 1, False), (0, (0, 2), True), (-1.5, -1, False), (3.0, None, True)):
        ref = torch.linalg.vector_norm(torch.tensor(v), order, dim=axis, keepdim=keepdims).numpy()
        np.testing.assert_allclose(ops.vector_norm(v, order, axis, keepdims).asnumpy(), ref, rtol=1e-12)
    assert ops.vector_norm(x, dtype=funcad.float64).dtype == funcad.float64
    with pytest.raises(ValueError, match="funcad.ops.vector_norm: ord must be a number, got 'fro'"):
        ops.vector_norm(x, "fro")


def test_diagflat_puts_the_flattened_input_on_a_diagonal():
    """test_func_diagflat.py::test_ops_diagflat: offsets -1 and 1; a 2-D input is flattened first (torch.diagflat)."""
    x = funcad.Tensor([-0.5, 0.5, 3], funcad.float32)
    np.testing.assert_array_equal(ops.diagflat(x, -1).asnumpy(), [[0, 0, 0, 0], [-0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 3, 0]])
    np.testing.assert_array_equal(ops.diagflat(x, 1).asnumpy(), [[0, -0.5, 0, 0], [0, 0, 0.5, 0], [0, 0, 0, 3], [0, 0, 0, 0]])
    m = RNG.standard_normal((2, 2))
    for offset in (0, 2, -3):
        np.testing.assert_array_equal(ops.diagflat(m, offset).asnumpy(), torch.diagflat(torch.tensor(m), offset).numpy())
    w = RNG.standard_normal((6, 6))
    np.testing.assert_array_equal(np.asarray(funcad.grad(lambda a: ops.sum(ops.diagflat(a, 2) * w))(m)), [[w[0, 2], w[1, 3]], [w[2, 4], w[3, 5]]])


def test_pad_with_negative_widths_crops_as_mindspore_does():
    """test_func_pad.py::test_pad_negative: padding (-1, 2, 2, 1) crops one column on the left in every mode."""
    x = funcad.Tensor(np.arange(24).reshape((1, 2, 3, 4)), funcad.float64)
    constant = ops.pad(x, (-1, 2, 2, 1), value=6).asnumpy()
    np.testing.assert_array_equal(constant[0, 0], [[6, 6, 6, 6, 6], [6, 6, 6, 6, 6], [1, 2, 3, 6, 6], [5, 6, 7, 6, 6],
                                                   [9, 10, 11, 6, 6], [6, 6, 6, 6, 6]])
    reflect = ops.pad(x, (-1, 2, 2, 1), mode="reflect").asnumpy()
    np.testing.assert_array_equal(reflect[0, 0, :3], [[9, 10, 11, 10, 9], [5, 6, 7, 6, 5], [1, 2, 3, 2, 1]])
    for mode in ("constant", "reflect", "replicate"):
        ref = torch.nn.functional.pad(torch.tensor(x.asnumpy()), (-1, 2, 2, -1), mode=mode).numpy()
        np.testing.assert_array_equal(ops.pad(x, (-1, 2, 2, -1), mode=mode).asnumpy(), ref)
    g = funcad.grad(lambda a: ops.sum(ops.pad(a, (-1, 1))))(np.ones((2, 3)))
    np.testing.assert_array_equal(np.asarray(g), [[0, 1, 1], [0, 1, 1]])
    with pytest.raises(ValueError, match=r"funcad.ops.pad: pad widths \[\[0, 0\], \[-3, -2\]\] crop more than the input's shape \(2, 4\)"):
        ops.pad(np.ones((2, 4)), (-3, -2))


def test_arctan2_row_stack_and_positive_are_mindspore_names():
    """test_ops_arctan2.py, test_func_row_stack.py and test_ops_positive.py; positive refuses booleans as MindSpore does."""
    y, x = np.array([0.0, 1.0, -1.0]), np.array([1.0, 1.0, -2.0])
    np.testing.assert_allclose(ops.arctan2(y, x).asnumpy(), np.arctan2(y, x))
    a, b = funcad.Tensor([1.0, 2.0]), funcad.Tensor([[3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(ops.row_stack([a, b]).asnumpy(), [[1, 2], [3, 4], [5, 6]])
    v = funcad.Tensor(np.array([-5.0, 1.5, 3.0, 100.0], np.float32))
    np.testing.assert_array_equal(ops.positive(v).asnumpy(), [-5.0, 1.5, 3.0, 100.0])
    with pytest.raises(TypeError, match="funcad.ops.positive: a bool input is not supported"):
        ops.positive(funcad.Tensor([True, False]))


def test_nanmean_refuses_integers_and_reductions_take_python_numbers():
    """test_func_nanmean.py::test_ops_nanmean_int_error: an int32 input raises TypeError. test_func_sum.py::test_sum_error
    passes a Python number: funcad reduces it (its ops take numbers) and names the op when the axis does not fit."""
    with pytest.raises(TypeError, match="funcad.ops.nanmean: the input must be floating point, got int32"):
        ops.nanmean(funcad.Tensor(np.array([1, 2, 3], np.int32)), 0, True)
    with np.errstate(invalid="ignore"):  # the all-NaN column is 0 / 0, as numpy's nanmean warns too
        out = ops.nanmean(funcad.Tensor([[np.nan, 128.1, -256.9], [np.nan, np.nan, 128.0]], funcad.float32), 0, True)
    np.testing.assert_allclose(out.asnumpy(), [[np.nan, 128.1, -64.45]], rtol=1e-6)
    assert float(ops.sum(3)) == 3.0 and float(ops.mean(2.5)) == 2.5
    assert float(funcad.grad(lambda v: ops.sum(v * v))(3.0)) == 6.0
    with pytest.raises(ValueError, match="funcad.ops.sum: axis 2 is out of bounds for array of dimension 0"):
        ops.sum(1, dim=2, keepdim=True)


def test_pad_reads_a_tensor_padding_as_mindspore_flat_pairs():
    """test_func_pad.py::test_pad_normal with padding Tensor([1, 2, 2, 1]): the last axis gets (1, 2), the one before
    (2, 1), as for the list; a numpy array keeps numpy's per-axis reading (funcad.numpy.pad)."""
    x = np.arange(24.0).reshape((1, 2, 3, 4))
    for mode in ("constant", "reflect", "replicate"):
        np.testing.assert_array_equal(ops.pad(x, funcad.Tensor([1, 2, 2, 1]), mode).asnumpy(), ops.pad(x, [1, 2, 2, 1], mode).asnumpy())
    assert ops.pad(x, funcad.Tensor([1, 2, 2, 1])).shape == (1, 2, 6, 7)
    assert ops.pad(np.ones((2, 3)), np.array([1, 2])).shape == (5, 6)


def test_topk_takes_k_as_a_one_element_integer_tensor():
    """test_func_topk.py::test_topk_mutable_k (PyNative): k given as Tensor(2) or Tensor([2]); under jit k sets the
    output's shape, so a traced k is refused by name."""
    x = funcad.Tensor(np.array([[0.5368, 0.2447, 0.4302, 0.9673], [0.4388, 0.6525, 0.4685, 0.1868],
                                [0.3563, 0.5152, 0.9675, 0.8230]], np.float32))
    for k in (funcad.Tensor(2, funcad.int32), funcad.Tensor([2], funcad.int32)):
        values, indices = ops.topk(x, k, dim=1)
        np.testing.assert_allclose(values.asnumpy(), [[0.9673, 0.5368], [0.6525, 0.4685], [0.9675, 0.823]], rtol=1e-6)
        np.testing.assert_array_equal(indices.asnumpy(), [[3, 0], [1, 2], [2, 3]])
        np.testing.assert_array_equal(ops.topk(x, k, dim=1, largest=False)[1].asnumpy(), [[1, 2], [3, 0], [0, 1]])
    with pytest.raises(ValueError, match=r"funcad.ops.topk: k must be an int in \[0, 4\] for axis 1 of shape \(3, 4\), got JitTracer"):
        funcad.jit(lambda a, k: ops.topk(a, k, dim=1))(x, funcad.Tensor(2, funcad.int32))
    with pytest.raises(ValueError, match=r"funcad.ops.topk: k must be an int in \[0, 4\]"):
        ops.topk(x, funcad.Tensor(2.0), dim=1)


def test_subtract_scales_other_by_alpha():
    """test_ops_subtract.py::test_ops_subtract: ops.subtract([4, 5, 6], [1, 2, 3], alpha=2) is [2, 1, 0]; the gradient
    of ``other`` is -alpha (torch.sub's)."""
    x, y = funcad.Tensor([4.0, 5.0, 6.0]), funcad.Tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ops.subtract(x, y, alpha=2).asnumpy(), [2.0, 1.0, 0.0])
    np.testing.assert_array_equal(funcad.jit(lambda a, b: ops.subtract(a, b, alpha=0.5))(x, y).asnumpy(), [3.5, 4.0, 4.5])
    gx, gy = funcad.grad(lambda a, b: ops.sum(ops.subtract(a, b, alpha=3)), grad_position=(0, 1))(x, y)
    tx, ty = (torch.tensor([4.0, 5.0, 6.0], requires_grad=True), torch.tensor([1.0, 2.0, 3.0], requires_grad=True))
    torch.sub(tx, ty, alpha=3).sum().backward()
    np.testing.assert_array_equal(gx.asnumpy(), tx.grad.numpy())
    np.testing.assert_array_equal(gy.asnumpy(), ty.grad.numpy())
