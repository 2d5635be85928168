"""MindSpore 2.x's forms of funcad.ops and Tensor methods: conv1d/conv2d/conv3d with MindSpore's positional order and
``pad_mode`` ('same' pads its odd extra at the end), ``flatten(input, order, *, start_dim, end_dim)``,
``Tensor.mul(value=...)``, the Tensor methods MindSpore has over funcad's ops, and ``axis=()`` meaning every axis for
var/std/var_mean/std_mean. References: torch in float64 (explicit padding), numpy, and outputs MindSpore's
documentation prints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import Tensor, ops
from funcad.testing import assert_close

RNG = np.random.default_rng(5)
SIGNAL = RNG.standard_normal((2, 4, 7))
KERNEL1 = RNG.standard_normal((3, 4, 4))
KERNEL1_GROUPED = RNG.standard_normal((4, 2, 3))
BIAS3 = RNG.standard_normal(3)
VOLUME = RNG.standard_normal((1, 2, 4, 5, 5))
KERNEL3 = RNG.standard_normal((3, 2, 2, 3, 2))
IMAGE = RNG.standard_normal((1, 2, 5, 6))
KERNEL2 = RNG.standard_normal((3, 2, 3, 3))
CUBE = np.arange(24.0).reshape(2, 3, 4)


def _t(a):
    return torch.tensor(a, dtype=torch.float64)


# -- convolutions: MindSpore's positional order and pad_mode --------------------------------------------------------
def test_conv1d_mindspore_positional_order_matches_torch():
    out = ops.conv1d(SIGNAL, KERNEL1, BIAS3, 2, "pad", 1, 2, 1)  # (input, weight, bias, stride, pad_mode, padding, dilation, groups)
    ref = F.conv1d(_t(SIGNAL), _t(KERNEL1), _t(BIAS3), stride=2, padding=1, dilation=2)
    assert_close(out, ref.numpy())


def test_conv1d_groups_by_mindspore_position():
    out = ops.conv1d(SIGNAL, KERNEL1_GROUPED, None, 1, "valid", 0, 1, 2)
    assert_close(out, F.conv1d(_t(SIGNAL), _t(KERNEL1_GROUPED), groups=2).numpy())


def test_conv1d_same_puts_the_odd_extra_padding_at_the_end():
    # L=7, k=4, stride 2: ceil(7/2)=4 outputs need (4-1)*2+4-7 = 3 padded positions: 1 before, 2 after (MindSpore's split)
    out = ops.conv1d(SIGNAL, KERNEL1, None, 2, "same")
    ref = F.conv1d(F.pad(_t(SIGNAL), (1, 2)), _t(KERNEL1), stride=2)
    assert out.shape == (2, 3, 4)
    assert_close(out, ref.numpy())
    assert_close(ops.conv1d(SIGNAL, KERNEL1, stride=2, pad_mode="same"), ref.numpy())


def test_conv1d_same_gradient_matches_torch_autograd():
    def loss(x, w):
        return ops.sum(ops.conv1d(x, w, None, 1, "same", 0, 2) ** 2)

    gx, gw = funcad.grad(loss, grad_position=(0, 1))(Tensor(SIGNAL), Tensor(KERNEL1))
    x, w = _t(SIGNAL).requires_grad_(), _t(KERNEL1).requires_grad_()
    # dilation 2, k=4: span 7, total 6: 3 before and 3 after
    (F.conv1d(F.pad(x, (3, 3)), w, dilation=2) ** 2).sum().backward()
    assert_close(gx, x.grad.numpy())
    assert_close(gw, w.grad.numpy())


def test_conv1d_and_conv3d_default_pad_mode_is_valid_as_mindspore():
    """MindSpore's functional conv1d/conv2d/conv3d default to pad_mode='valid' (no padding): funcad's default agrees."""
    assert_close(ops.conv1d(SIGNAL, KERNEL1), F.conv1d(_t(SIGNAL), _t(KERNEL1)).numpy())
    assert_close(ops.conv3d(VOLUME, KERNEL3), F.conv3d(_t(VOLUME), _t(KERNEL3)).numpy())
    assert_close(ops.conv3d(VOLUME, KERNEL3, pad_mode="valid"), F.conv3d(_t(VOLUME), _t(KERNEL3)).numpy())


def test_conv1d_padding_as_one_tuple_and_stride_as_one_tuple():
    out = ops.conv1d(SIGNAL, KERNEL1, None, (2,), "pad", (1,), (1,))
    assert_close(out, F.conv1d(_t(SIGNAL), _t(KERNEL1), stride=2, padding=1).numpy())


def test_conv3d_mindspore_positional_order_matches_torch():
    out = ops.conv3d(VOLUME, KERNEL3, BIAS3, (1, 2, 1), "pad", (1, 0, 1), (1, 1, 2), 1)
    ref = F.conv3d(_t(VOLUME), _t(KERNEL3), _t(BIAS3), stride=(1, 2, 1), padding=(1, 0, 1), dilation=(1, 1, 2))
    assert_close(out, ref.numpy())


def test_conv3d_same_pads_each_axis_with_the_extra_at_the_end():
    # kernel (2, 3, 2), stride 1: totals (1, 2, 1) -> depth (0, 1), height (1, 1), width (0, 1)
    out = ops.conv3d(VOLUME, KERNEL3, None, 1, "same")
    ref = F.conv3d(F.pad(_t(VOLUME), (0, 1, 1, 1, 0, 1)), _t(KERNEL3))
    assert out.shape == VOLUME.shape[:1] + (3,) + VOLUME.shape[2:]
    assert_close(out, ref.numpy())


def test_conv3d_same_with_stride():
    # D=4, k=2, s=2: 2 outputs, total 0; H=5, k=3, s=2: 3 outputs, total 2 -> (1, 1); W=5, k=2, s=1: total 1 -> (0, 1)
    out = ops.conv3d(VOLUME, KERNEL3, None, (2, 2, 1), "same")
    ref = F.conv3d(F.pad(_t(VOLUME), (0, 1, 1, 1, 0, 0)), _t(KERNEL3), stride=(2, 2, 1))
    assert_close(out, ref.numpy())


def test_conv2d_mindspore_order_still_taken():
    out = ops.conv2d(IMAGE, KERNEL2, None, 1, "same")
    assert_close(out, F.conv2d(_t(IMAGE), _t(KERNEL2), padding=1).numpy())
    assert_close(ops.conv2d(IMAGE, KERNEL2, None, 1, 1), F.conv2d(_t(IMAGE), _t(KERNEL2), padding=1).numpy())  # funcad's order


@pytest.mark.parametrize("op, x, w", [("conv1d", SIGNAL, KERNEL1), ("conv2d", IMAGE, KERNEL2), ("conv3d", VOLUME, KERNEL3)])
def test_conv_pad_mode_errors_name_the_op(op, x, w):
    conv = getattr(ops, op)
    with pytest.raises(ValueError, match=rf"funcad.ops.{op}: pad_mode must be 'same', 'valid' or 'pad', got 'reflect'"):
        conv(x, w, None, 1, "reflect")
    with pytest.raises(ValueError, match=rf"funcad.ops.{op}: padding 1 needs pad_mode='pad'"):
        conv(x, w, None, 1, "same", 1)
    with pytest.raises(TypeError, match=rf"funcad.ops.{op}: MindSpore's order takes at most 8 positional arguments, got 9"):
        conv(x, w, None, 1, "pad", 0, 1, 1, 1)
    with pytest.raises(TypeError, match=rf"funcad.ops.{op}: padding given both by position and by keyword"):
        conv(x, w, None, 1, "pad", 1, padding=1)


# -- flatten -----------------------------------------------------------------------------------------------------
def test_flatten_mindspore_order_argument():
    assert_close(ops.flatten(CUBE, "C"), CUBE.reshape(2, 12))
    assert_close(ops.flatten(CUBE), CUBE.reshape(2, 12))
    assert_close(ops.flatten(CUBE, "C", start_dim=0, end_dim=1), CUBE.reshape(6, 4))
    assert_close(ops.flatten(input=CUBE, order="C", start_dim=0), CUBE.reshape(24))


def test_flatten_fortran_order_reverses_the_axes_first():
    assert_close(ops.flatten(CUBE, "F"), np.transpose(CUBE).reshape(4, 6))
    assert_close(ops.flatten(CUBE, "F", start_dim=0), CUBE.reshape(-1, order="F"))
    assert_close(ops.flatten(CUBE[0, 0], "F"), CUBE[0, 0])


def test_flatten_funcad_positional_form_and_low_ranks():
    assert_close(ops.flatten(CUBE, 0), CUBE.reshape(24))
    assert_close(ops.flatten(CUBE, 0, 1), CUBE.reshape(6, 4))
    assert ops.flatten(np.float64(3.0)).shape == (1,)  # MindSpore: a 0-D input gives a 1-D Tensor
    assert ops.flatten(CUBE[0, 0]).shape == (4,)


def test_flatten_documented_example():
    """MindSpore's ops.flatten example: an input of shape (1, 2, 3, 4) gives shape (1, 24)."""
    assert ops.flatten(np.ones((1, 2, 3, 4), np.float32)).shape == (1, 24)


def test_flatten_errors():
    with pytest.raises(ValueError, match="funcad.ops.flatten: order must be 'C' or 'F', got 'A'"):
        ops.flatten(CUBE, "A")
    with pytest.raises(ValueError, match=r"funcad.ops.flatten: start_dim 2 and end_dim 1 must lie in \[-3, 3\)"):
        ops.flatten(CUBE, start_dim=2, end_dim=1)
    with pytest.raises(ValueError, match=r"start_dim 3 and end_dim -1 must lie"):
        ops.flatten(CUBE, 3)
    with pytest.raises(TypeError, match="funcad.ops.flatten: after order='C', start_dim and end_dim are keyword arguments"):
        ops.flatten(CUBE, "C", 0)
    with pytest.raises(TypeError, match=r"funcad.ops.flatten: expected \(input, start_dim, end_dim\)"):
        ops.flatten(CUBE, 0, start_dim=1)


def test_tensor_flatten_both_mindspore_forms():
    t = Tensor(CUBE)
    assert_close(t.flatten(), CUBE.reshape(24))
    assert_close(t.flatten("F"), CUBE.reshape(-1, order="F"))
    assert_close(t.flatten(1), CUBE.reshape(2, 12))  # MindSpore 2.4's Tensor.flatten(start_dim=0, end_dim=-1)
    assert_close(t.flatten(0, 1), CUBE.reshape(6, 4))
    assert_close(t.flatten(start_dim=1), CUBE.reshape(2, 12))


def test_nn_flatten_unchanged():
    assert_close(funcad.nn.Flatten()(Tensor(CUBE)), CUBE.reshape(2, 12))
    assert_close(funcad.nn.Flatten(0, 1)(Tensor(CUBE)), CUBE.reshape(6, 4))


# -- Tensor methods --------------------------------------------------------------------------------------------
A = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
B = RNG.standard_normal((3, 2))


def test_mul_and_div_take_mindspore_value_keyword():
    t = Tensor(A)
    assert_close(t.mul(value=2.0), A * 2)
    assert_close(t.multiply(value=Tensor(A)), A * A)
    assert_close(t.div(value=2.0), A / 2)
    assert_close(t.div(value=2.0, rounding_mode="floor"), np.floor(A / 2))
    assert_close(t.divide(value=4.0), A / 4)
    assert_close(t.true_divide(value=4.0), A / 4)
    assert_close(t.mul(2.0), A * 2)
    with pytest.raises(TypeError, match="Tensor.mul: value given both by position and as value="):
        t.mul(2.0, value=3.0)


def test_linalg_methods_match_numpy_and_torch():
    t = Tensor(A)
    s = t.svd(compute_uv=False)
    assert_close(s, np.linalg.svd(A, compute_uv=False))
    s, u, v = t.svd()  # MindSpore's order: (s, u, v) with A = u diag(s) v^T
    assert_close(np.asarray(u) * np.asarray(s) @ np.asarray(v).T, A)
    assert_close(t.matrix_power(3), np.linalg.matrix_power(A, 3))
    assert_close(t.logdet(), np.log(np.linalg.det(A)))
    assert_close(t.inv(), 1 / A)  # MindSpore's Tensor.inv is the elementwise reciprocal
    assert_close(t.inverse(), np.linalg.inv(A))
    spd = A @ A.T
    lower = np.linalg.cholesky(spd)
    assert_close(Tensor(B).cholesky_solve(Tensor(lower)), np.linalg.solve(spd, B))
    lu, piv = torch.linalg.lu_factor(_t(A))
    assert_close(Tensor(B).lu_solve(Tensor(lu.numpy()), Tensor(piv.numpy().astype(np.int32))), np.linalg.solve(A, B))
    assert_close(t.adjoint(), A.T)
    assert_close(t.mT, A.T)
    assert_close(Tensor(A * 1j).H, np.conj(A * 1j).T)


def test_statistics_methods_match_numpy():
    x = Tensor(np.array([0.2, 1.5, 1.7, 2.9, 0.4]))
    assert_close(x.histc(3, 0.0, 3.0), np.histogram([0.2, 1.5, 1.7, 2.9, 0.4], 3, (0.0, 3.0))[0].astype(np.float64))
    ints = Tensor(np.array([1, 3, 3, 0], np.int32))
    assert_close(ints.bincount(), np.bincount([1, 3, 3, 0]))
    assert_close(Tensor(np.array([1.0, 2.0, 4.0])).searchsorted(Tensor(np.array([2.0, 3.0]))), np.array([1, 2]))
    assert_close(Tensor(np.array([[0, 1], [2, 0]])).argwhere(), np.argwhere([[0, 1], [2, 0]]))
    out, counts = Tensor(np.array([1, 1, 2, 2, 3, 1])).unique_consecutive(return_counts=True)
    assert_close(out, np.array([1, 2, 3, 1]))
    assert_close(counts, np.array([2, 2, 1, 1]))
    assert_close(Tensor(A).msort(), np.sort(A, axis=0))
    renormed = Tensor(A).renorm(2, 0, 1.0)
    assert_close(renormed, torch.renorm(_t(A), 2, 0, 1.0).numpy())
    values, indices = Tensor(A).cummax(0)
    assert_close(values, np.maximum.accumulate(A, axis=0))
    assert_close(Tensor(A).logcumsumexp(1), np.logaddexp.accumulate(A, axis=1))


def test_named_aliases_and_conversions():
    t = Tensor(A)
    assert_close(t.arctan2(Tensor(B[:, :1])), np.arctan2(A, B[:, :1]))
    assert_close(Tensor(np.abs(A) + 1).arccosh(), np.arccosh(np.abs(A) + 1))
    assert_close(t.subtract(1.0), A - 1)
    assert_close(t.fliplr(), np.fliplr(A))
    assert [p.shape for p in t.tensor_split(2)] == [(2, 3), (1, 3)]
    assert_close(t.t(), A.T)
    assert t.bool().dtype == funcad.bool_ and t.short().dtype == funcad.int16 and t.byte().dtype == funcad.uint8
    assert t.type_as(Tensor(np.array([1], np.int32))).dtype == funcad.int32
    assert t.view_as(Tensor(np.zeros(9))).shape == (9,) and t.reshape_as(Tensor(np.zeros((9, 1)))).shape == (9, 1)
    assert_close(Tensor(A[:1]).expand(2, 3), np.broadcast_to(A[:1], (2, 3)))
    assert_close(Tensor(A[:1]).expand((2, -1)), np.broadcast_to(A[:1], (2, 3)))
    assert t.new_zeros((2,)).dtype == t.dtype and t.new_ones((2,), funcad.int32).dtype == funcad.int32
    assert_close(t.new_full((2, 2), 7.0), np.full((2, 2), 7.0))
    assert_close(t.positive(), A)
    assert t.ndimension() == 2
    assert_close(t.clone(), A)
    with pytest.raises(ValueError, match=r"Tensor.H: expected a 2-D Tensor, got shape \(2, 3, 4\)"):
        _ = Tensor(CUBE).H


def test_more_mindspore_methods_delegate_to_their_ops():
    t = Tensor(A)
    batch1, batch2 = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 3))
    base = RNG.standard_normal((2, 3, 3))
    out = Tensor(base).baddbmm(Tensor(batch1), Tensor(batch2), beta=0.5, alpha=2.0)
    assert_close(out, torch.baddbmm(_t(base), _t(batch1), _t(batch2), beta=0.5, alpha=2.0).numpy())
    filled = t.index_fill(1, Tensor(np.array([0, 2], np.int32)), -1.0)
    expected = A.copy()
    expected[:, [0, 2]] = -1.0
    assert_close(filled, expected)
    added = t.index_add(Tensor(np.array([2, 0], np.int32)), Tensor(B), 1)  # column j of B added to column indices[j]
    expected = A.copy()
    expected[:, 2] += B[:, 0]
    expected[:, 0] += B[:, 1]
    assert_close(added, expected)
    patches = Tensor(IMAGE).unfold(2, 1, 0, 1)
    assert_close(patches, F.unfold(_t(IMAGE), 2).numpy())
    indices, values = t.argmax_with_value(1)
    assert_close(indices, np.argmax(A, 1).astype(np.asarray(indices).dtype))
    assert_close(values, A.max(1))
    indices, values = t.argmin_with_value(0, True)
    assert_close(values, A.min(0, keepdims=True))
    assert_close(t.select(Tensor(A > 0), 0.0), np.where(A > 0, A, 0.0))


# -- var/std with axis=() ----------------------------------------------------------------------------------------
DOC_INPUT = np.array([[1, 2, 3, 4], [-1, 1, 4, -10]], np.float32)


def test_var_std_empty_axis_reduce_every_axis_as_mindspore():
    """MindSpore's ops.var/std/var_mean/std_mean docs: axis=() with keepdims=False gives a 0-D Tensor over all elements."""
    x = DOC_INPUT.astype(np.float64)
    assert_close(ops.var(x, ()), np.var(x))
    assert_close(ops.std(x, axis=(), ddof=1), np.std(x, ddof=1))
    var, mean = ops.var_mean(x, ())
    assert_close(var, np.var(x))
    assert_close(mean, np.mean(x))
    std, mean = ops.std_mean(x, axis=(), keepdims=True)
    assert std.shape == (1, 1)
    assert_close(std, np.std(x, keepdims=True))
    assert_close(Tensor(x).var(()), np.var(x))
    assert_close(Tensor(x).std(axis=()), np.std(x))


def test_std_documented_example():
    """MindSpore's ops.std example: ops.std(input, 1, 2, True) prints [[1.5811388] [7.3824115]]."""
    assert_close(ops.std(DOC_INPUT, 1, 2, True), np.array([[1.5811388], [7.3824115]], np.float32), rtol=1e-6, atol=1e-6)
