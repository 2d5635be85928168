"""NN ops (conv, pools, norms, activations, dropout, embedding, smooth L1) against torch in float64 and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import Tensor, ops
from funcad.ops.norm import batch_norm_with_stats
from funcad.testing import assert_close, check_grads

RNG = np.random.default_rng(1234)


def _randn(*shape):
    return RNG.standard_normal(shape)


def _torch_leaves(*arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


# -- conv2d ------------------------------------------------------------------------------------------
CONV_CASES = [
    # (N, C, H, W, O, kernel, stride, padding, dilation, groups)
    (2, 3, 7, 6, 4, (3, 2), 1, 1, 1, 1),
    (2, 4, 9, 8, 6, 3, 2, (1, 2), 1, 2),
    (1, 2, 8, 8, 3, (2, 3), (2, 1), (0, 1, 2, 0), (2, 1), 1),
    (2, 6, 5, 5, 6, 3, 1, 0, 1, 3),
    (2, 3, 7, 7, 2, 3, 3, (2, 0, 1, 1), 2, 1),
    (1, 1, 6, 9, 2, 1, 1, 0, 1, 1),
]


def _torch_conv(x, w, b, stride, padding, dilation, groups):
    if isinstance(padding, tuple) and len(padding) == 4:
        top, bottom, left, right = padding
        return F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride=stride, dilation=dilation, groups=groups)
    return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(assert_op_close_to_torch, case):
    n, c, h, w, o, k, stride, padding, dilation, groups = case
    kh, kw = (k, k) if isinstance(k, int) else k
    arrays = (_randn(n, c, h, w), _randn(o, c // groups, kh, kw), _randn(o))
    assert_op_close_to_torch(
        lambda x, wt, b: ops.conv2d(x, wt, b, stride, padding, dilation, groups),
        lambda x, wt, b: _torch_conv(x, wt, b, stride, padding, dilation, groups),
        arrays,
    )


def test_conv2d_second_order_matches_torch_double_backward():
    x, w = _randn(2, 4, 6, 5), _randn(4, 2, 3, 2)

    def funcad_fn(x, w):
        gx, gw = funcad.grad(lambda x, w: ops.sum(ops.tanh(ops.conv2d(x, w, stride=(2, 1), padding=1, groups=2))), (0, 1))(x, w)
        return ops.sum(gx * gx) + ops.sum(gw * gw)

    xt, wt = _torch_leaves(x, w)
    gx, gw = torch.autograd.grad(torch.tanh(F.conv2d(xt, wt, stride=(2, 1), padding=1, groups=2)).sum(), (xt, wt), create_graph=True)
    expected = torch.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (xt, wt))
    got = funcad.grad(funcad_fn, (0, 1))(x, w)
    assert_close(got, tuple(e.numpy() for e in expected), rtol=1e-9, atol=1e-9)


def test_conv2d_finite_differences_second_order_both_modes():
    check_grads(lambda x, w: ops.conv2d(x, w, stride=2, padding=(1, 0, 0, 1), dilation=(1, 2)), (_randn(1, 2, 6, 7), _randn(3, 2, 2, 3)),
                order=2, modes=("rev", "fwd"))


def test_conv2d_keeps_float32():
    x, w, b = (a.astype(np.float32) for a in (_randn(2, 3, 6, 6), _randn(4, 3, 3, 3), _randn(4)))
    y, grads = funcad.value_and_grad(lambda x, w, b: ops.sum(ops.conv2d(x, w, b, padding=1)), (0, 1, 2))(x, w, b)
    assert y.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    expected = F.conv2d(*(torch.tensor(a, dtype=torch.float64) for a in (x, w, b)), padding=1).sum().item()
    assert abs(float(y) - expected) < 1e-3


@pytest.mark.parametrize(
    "x_shape, w_shape, groups, match",
    [
        ((3, 6, 6), (4, 3, 3, 3), 1, r"\(3, 6, 6\)"),
        ((2, 3, 6, 6), (4, 2, 3, 3), 1, r"\(2, 3, 6, 6\).*\(4, 2, 3, 3\)"),
        ((2, 4, 6, 6), (4, 2, 3, 3), 3, "groups=3"),
    ],
)
def test_conv2d_bad_input_names_op_and_shapes(x_shape, w_shape, groups, match):
    with pytest.raises(ValueError, match=f"conv2d.*{match}"):
        ops.conv2d(np.zeros(x_shape), np.zeros(w_shape), groups=groups)


@pytest.mark.parametrize("stride, padding, groups", [(1, 0, 1), (2, 1, 1), (1, 1, 3)])
def test_conv2d_of_an_empty_batch_is_empty_and_its_weight_gradient_zero_as_in_torch(stride, padding, groups):
    x, w, b = np.zeros((0, 3, 8, 8)), _randn(3, 3 // groups, 3, 3), _randn(3)
    y, grads = funcad.value_and_grad(lambda x, w, b: ops.sum(ops.conv2d(x, w, b, stride, padding, 1, groups)), (0, 1, 2))(x, w, b)
    leaves = _torch_leaves(x, w, b)
    out = _torch_conv(*leaves, stride, padding, 1, groups)
    out.sum().backward()
    assert ops.conv2d(x, w, b, stride, padding, 1, groups).shape == tuple(out.shape) and float(y) == 0.0
    for got, leaf in zip(grads, leaves):
        np.testing.assert_array_equal(got.asnumpy(), leaf.grad.numpy())


def test_conv2d_kernel_larger_than_input_is_an_error():
    with pytest.raises(ValueError, match="conv2d.*smaller than the dilated kernel"):
        ops.conv2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)))


# -- pools --------------------------------------------------------------------------------------------
POOL_CASES = [(2, None, 0), (3, 2, 1), ((3, 2), 1, (1, 0)), (3, 1, 1), (2, (1, 2), 1)]


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_max_pool2d_matches_torch(assert_op_close_to_torch, kernel, stride, padding):
    assert_op_close_to_torch(lambda x: ops.max_pool2d(x, kernel, stride, padding), lambda x: F.max_pool2d(x, kernel, stride, padding),
                             (_randn(2, 3, 9, 8),))


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_matches_torch(assert_op_close_to_torch, kernel, stride, padding, count_include_pad):
    assert_op_close_to_torch(
        lambda x: ops.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad),
        lambda x: F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad),
        (_randn(2, 3, 9, 8),),
    )


def test_max_pool2d_ties_send_the_gradient_to_the_first_maximum(assert_op_close_to_torch):
    x = np.round(_randn(2, 2, 7, 7))  # many ties, overlapping windows
    assert_op_close_to_torch(lambda x: ops.max_pool2d(x, 3, 1, 1), lambda x: F.max_pool2d(x, 3, 1, 1), (x,))
    g = funcad.grad(lambda x: ops.sum(ops.max_pool2d(x, 2)))(np.ones((1, 1, 4, 4)))
    expected = np.zeros((1, 1, 4, 4))
    expected[..., ::2, ::2] = 1.0
    assert_close(g, expected)


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_max_pool2d_nan_wins_its_window_and_its_last_nan_takes_the_gradient_as_in_torch(kernel, stride, padding):
    x = _randn(2, 3, 9, 8)
    x[0, 0, :2, :2] = np.nan  # a 2 x 2 block of NaNs: windows hold one, two or four of them
    x[1, 2, 4, 3] = x[1, 2, 5, 6] = np.nan
    cotangent = _randn(*F.max_pool2d(torch.from_numpy(x), kernel, stride, padding).shape)
    y, g = funcad.value_and_grad(lambda x: ops.sum(ops.max_pool2d(x, kernel, stride, padding) * cotangent))(x)
    xt = torch.from_numpy(x).requires_grad_()
    yt = F.max_pool2d(xt, kernel, stride, padding)
    (yt * torch.from_numpy(cotangent)).sum().backward()
    np.testing.assert_array_equal(ops.max_pool2d(x, kernel, stride, padding).asnumpy(), yt.detach().numpy())  # NaN where torch has it
    assert np.isnan(float(y)) and np.isnan(yt.detach().numpy()).any()
    np.testing.assert_array_equal(g.asnumpy(), xt.grad.numpy())


@pytest.mark.parametrize("output_size", [(3, 3), (4, 5), 1, (None, 3), (9, 8), (5, 7)])
def test_adaptive_avg_pool2d_matches_torch(assert_op_close_to_torch, output_size):
    assert_op_close_to_torch(lambda x: ops.adaptive_avg_pool2d(x, output_size), lambda x: F.adaptive_avg_pool2d(x, output_size),
                             (_randn(2, 3, 9, 8),))


@pytest.mark.parametrize("output_size", [(2, 3), (3, 4), 1])
def test_adaptive_avg_pool2d_keeps_inf_and_nan_in_their_own_bins_as_torch(output_size):
    x = _randn(2, 3, 5, 6)
    x[0, 0, 1, 1], x[0, 1, 4, 0], x[1, 2, 4, 5], x[1, 0, 2, 2], x[1, 0, 2, 3] = np.inf, -np.inf, np.nan, np.inf, -np.inf
    cotangent = _randn(*F.adaptive_avg_pool2d(torch.from_numpy(x), output_size).shape)
    xt = torch.from_numpy(x).requires_grad_()
    yt = F.adaptive_avg_pool2d(xt, output_size)
    (yt * torch.from_numpy(cotangent)).sum().backward()
    with np.errstate(invalid="ignore"):  # inf - inf is NaN, as it should be
        g = funcad.grad(lambda x: ops.sum(ops.adaptive_avg_pool2d(x, output_size) * cotangent))(x)
        assert_close(ops.adaptive_avg_pool2d(x, output_size), yt.detach().numpy(), equal_nan=True)  # inf, -inf and NaN where torch has them
    assert_close(g, xt.grad.numpy())  # the gradient does not depend on the values: finite everywhere


def test_pools_second_order_finite_differences():
    x = _randn(1, 2, 5, 6)
    check_grads(lambda x: ops.max_pool2d(x, 3, 2, 1) ** 2, (x,), order=2, modes=("rev", "fwd"))  # overlapping windows
    check_grads(lambda x: ops.max_pool2d(x, 2, padding=1) ** 2, (x,), order=2, modes=("rev", "fwd"))  # disjoint windows
    check_grads(lambda x: ops.avg_pool2d(x, 2, 1, 1, count_include_pad=False) ** 2, (x,), order=2, modes=("rev", "fwd"))
    check_grads(lambda x: ops.adaptive_avg_pool2d(x, (2, 4)) ** 2, (x,), order=2, modes=("rev", "fwd"))  # overlapping bins


def test_pools_keep_float32():
    x = _randn(2, 3, 8, 8).astype(np.float32)
    for pool in (lambda x: ops.max_pool2d(x, 2), lambda x: ops.avg_pool2d(x, 3, 1, 1), lambda x: ops.adaptive_avg_pool2d(x, 3)):
        y, g = funcad.value_and_grad(lambda x, pool=pool: ops.sum(pool(x)))(x)
        assert y.dtype == np.float32 and g.dtype == np.float32


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ops.max_pool2d(np.zeros((3, 8, 8)), 2), r"max_pool2d.*\(3, 8, 8\)"),
        (lambda: ops.avg_pool2d(np.zeros((1, 3, 8, 8)), 2, padding=2), "avg_pool2d.*half the kernel"),
        (lambda: ops.adaptive_avg_pool2d(np.zeros((8, 8)), 2), r"adaptive_avg_pool2d.*\(8, 8\)"),
    ],
)
def test_pools_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_pools_reject_integer_input():
    with pytest.raises(TypeError, match=r"max_pool2d.*int64\[1, 1, 4, 4\]"):
        ops.max_pool2d(np.zeros((1, 1, 4, 4), dtype=np.int64), 2)


# -- normalisation ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5), (4, 3, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch_including_running_statistics(assert_op_close_to_torch, shape, training):
    mean, var = _randn(3), RNG.random(3) + 0.5
    torch_mean, torch_var = torch.tensor(mean), torch.tensor(var)
    leaves = _torch_leaves(_randn(*shape), _randn(3), _randn(3))
    expected = F.batch_norm(leaves[0], torch_mean, torch_var, leaves[1], leaves[2], training, 0.2, 1e-3)
    y, new_mean, new_var = batch_norm_with_stats(*(t.detach().numpy() for t in leaves[:1]), mean, var, leaves[1].detach().numpy(),
                                                 leaves[2].detach().numpy(), training, 0.2, 1e-3)
    assert_close(y, expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    assert_close(new_mean, torch_mean.numpy(), rtol=1e-12, atol=1e-12)  # torch updated its buffers in place
    assert_close(new_var, torch_var.numpy(), rtol=1e-12, atol=1e-12)
    assert_op_close_to_torch(lambda x, w, b: batch_norm_with_stats(x, mean, var, w, b, training, 0.2, 1e-3)[0],
                             lambda x, w, b: F.batch_norm(x, torch.tensor(mean), torch.tensor(var), w, b, training, 0.2, 1e-3),
                             tuple(t.detach().numpy() for t in leaves))


def test_batch_norm_running_statistics_carry_no_gradient():
    x = _randn(6, 2)
    g = funcad.grad(lambda x: ops.sum(batch_norm_with_stats(x, np.zeros(2), np.ones(2), training=True)[1]))(x)
    assert_close(g, np.zeros_like(x))


@pytest.mark.parametrize("compiled", [False, True])
def test_ops_batch_norm_returns_the_output_and_updates_running_parameters_as_mindspore(compiled):
    """MindSpore's ``ops.batch_norm`` returns the output alone and, training, moves the running Parameters in place
    (torch's F.batch_norm moves its buffers the same way)."""
    x, w, b = _randn(6, 3, 2), _randn(3), _randn(3)
    mean = funcad.Parameter(Tensor(np.zeros(3)), name="mean", requires_grad=False)
    var = funcad.Parameter(Tensor(np.ones(3)), name="var", requires_grad=False)
    torch_mean, torch_var = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    def train(x, w, b):
        return ops.batch_norm(x, mean, var, w, b, True, 0.2, 1e-3)

    run = funcad.jit(train) if compiled else train
    for _ in range(2):
        y = run(Tensor(x), Tensor(w), Tensor(b))
        expected = F.batch_norm(torch.tensor(x), torch_mean, torch_var, torch.tensor(w), torch.tensor(b), True, 0.2, 1e-3)
        assert_close(y, expected.numpy(), rtol=1e-10, atol=1e-10)
    assert_close(mean.asnumpy(), torch_mean.numpy(), rtol=1e-12, atol=1e-12)
    assert_close(var.asnumpy(), torch_var.numpy(), rtol=1e-12, atol=1e-12)
    before = mean.asnumpy().copy()
    ops.batch_norm(Tensor(x), mean, var, Tensor(w), Tensor(b), False)
    np.testing.assert_array_equal(mean.asnumpy(), before)  # evaluation leaves them
    with pytest.raises(TypeError, match="funcad.ops.batch_norm: training updates running_mean and running_var in place.*got ndarray"):
        ops.batch_norm(x, np.zeros(3), var, w, b, True)


def test_batch_norm_finite_differences():
    args = (_randn(3, 2, 2, 2), _randn(2), _randn(2))
    check_grads(lambda x, w, b: ops.batch_norm(x, None, None, w, b, training=True)[0], args, order=2, modes=("rev", "fwd"))


def test_layer_norm_matches_torch(assert_op_close_to_torch):
    arrays = (_randn(2, 3, 4), _randn(3, 4), _randn(3, 4))
    assert_op_close_to_torch(lambda x, w, b: ops.layer_norm(x, (3, 4), w, b), lambda x, w, b: F.layer_norm(x, (3, 4), w, b), arrays)
    assert_op_close_to_torch(lambda x: ops.layer_norm(x, 4, eps=1e-3), lambda x: F.layer_norm(x, (4,), eps=1e-3), arrays[:1])


def test_norm_bad_input():
    with pytest.raises(ValueError, match=r"batch_norm.*running_mean shape \(4,\).*3 channels"):
        ops.batch_norm(np.zeros((2, 3)), np.zeros(4), np.ones(3), training=False)
    with pytest.raises(ValueError, match=r"batch_norm.*\(3,\)"):
        ops.batch_norm(np.zeros(3), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm.*more than one value.*\(1, 3\)"):
        ops.batch_norm(np.zeros((1, 3)), None, None, training=True)
    with pytest.raises(ValueError, match=r"layer_norm.*\(2, 3\).*\(4,\)"):
        ops.layer_norm(np.zeros((2, 3)), 4)


# -- embedding ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [None, 1, -1])
def test_embedding_matches_torch_with_repeated_indices(assert_op_close_to_torch, padding_idx):
    indices = np.array([[1, 2, 1], [5, 1, 0]])
    assert_op_close_to_torch(lambda w: ops.embedding(indices, w, padding_idx),
                             lambda w: F.embedding(torch.tensor(indices), w, padding_idx=padding_idx),
                             (_randn(6, 3),))


def test_embedding_finite_differences_and_bad_indices():
    check_grads(lambda w: ops.embedding(np.array([0, 2, 2, 1]), w) ** 2, (_randn(3, 2),), order=2, modes=("rev", "fwd"))
    with pytest.raises(IndexError, match=r"embedding.*\[0, 3\)"):
        ops.embedding(np.array([0, 3]), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="embedding.*integers"):
        ops.embedding(np.array([0.0]), np.zeros((3, 2)))


# -- activations and smooth L1 ---------------------------------------------------------------------------------
ACTIVATIONS = [
    (ops.gelu, F.gelu),
    (lambda x: ops.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    (ops.silu, F.silu),
    (ops.leaky_relu, lambda x: F.leaky_relu(x, 0.2)),  # MindSpore's default slope
    (lambda x: ops.leaky_relu(x, negative_slope=0.01), F.leaky_relu),
    (lambda x: ops.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2)),
    (lambda x: ops.elu(x, 1.5), lambda x: F.elu(x, 1.5)),
]


@pytest.mark.parametrize("funcad_fn, torch_fn", ACTIVATIONS)
def test_activation_matches_torch_to_second_order(assert_op_close_to_torch, funcad_fn, torch_fn):
    x = np.linspace(-4.0, 4.0, 40)  # steps over 0 without hitting it
    assert_op_close_to_torch(funcad_fn, torch_fn, (x,), rtol=1e-12, atol=1e-12)
    xt = torch.tensor(x, requires_grad=True)
    (first,) = torch.autograd.grad(torch_fn(xt).sum(), xt, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), xt)
    got = funcad.grad(lambda x: ops.sum(funcad.grad(lambda x: ops.sum(funcad_fn(x)))(x)))(x)
    assert_close(got, second.numpy(), rtol=1e-12, atol=1e-12)
    assert funcad_fn(x.astype(np.float32)).dtype == np.float32
    check_grads(funcad_fn, (x,), order=2, modes=("fwd",))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="gelu.*'none' or 'tanh'"):
        ops.gelu(np.zeros(2), approximate="erf")


@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_smooth_l1_loss_matches_torch(assert_op_close_to_torch, beta, reduction):
    target = _randn(4, 5)
    assert_op_close_to_torch(lambda x: ops.smooth_l1_loss(x, target, beta, reduction),
                             lambda x: F.smooth_l1_loss(x, torch.tensor(target), beta=beta, reduction=reduction), (_randn(4, 5) * 2,))


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_smooth_l1_loss_gradient_at_infinite_differences_is_the_linear_slope_as_in_torch(beta):
    x = np.array([[np.inf, 0.2, -np.inf], [3.0, -0.1, 1e308]])
    target = np.array([[0.0, 0.0, 1.0], [-np.inf, 0.0, -1e308]])  # the last difference overflows to inf
    with np.errstate(over="ignore"):
        g = funcad.grad(lambda x: ops.smooth_l1_loss(x, target, beta, "mean"))(x)
    xt = torch.tensor(x, requires_grad=True)
    F.smooth_l1_loss(xt, torch.tensor(target), beta=beta).backward()
    np.testing.assert_array_equal(g.asnumpy(), xt.grad.numpy())  # +-1/6 where |d| is inf; before, NaN


# -- dropout -----------------------------------------------------------------------------------------------------
def test_dropout_mask_is_determined_by_the_seed_and_scaled():
    x = np.ones((200, 50), dtype=np.float32)
    a, b, c = (np.asarray(ops.dropout(x, 0.3, seed=s)) for s in (7, 7, 8))
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    kept = a != 0
    np.testing.assert_allclose(a[kept], 1.0 / 0.7, rtol=1e-6)
    assert abs(1.0 - kept.mean() - 0.3) < 0.02  # 10,000 Bernoulli draws: 4.5 standard deviations


def test_dropout_gradient_is_the_scaled_mask_and_eval_is_identity():
    x = _randn(30, 4)
    mask = np.asarray(ops.dropout(np.ones_like(x), 0.4, seed=3))
    assert_close(ops.dropout(x, 0.4, seed=3), x * mask)
    assert_close(funcad.grad(lambda x: ops.sum(ops.dropout(x, 0.4, seed=3)))(x), mask)
    assert ops.dropout(x, 0.4, training=False) is x
    assert ops.dropout(x, 0.0) is x
    assert_close(ops.dropout(x, 1.0), np.zeros_like(x))
    with pytest.raises(ValueError, match="dropout.*1.5"):
        ops.dropout(x, 1.5)


def test_adaptive_max_pool2d_matches_torch_and_names_what_it_refuses():
    x = np.random.default_rng(8).standard_normal((2, 3, 7, 5))
    for size in (3, (4, None), (1, 2)):
        want = torch.nn.functional.adaptive_max_pool2d(torch.from_numpy(x), size).numpy()
        np.testing.assert_array_equal(np.asarray(ops.adaptive_max_pool2d(x, size)), want)
    with pytest.raises(NotImplementedError, match="adaptive_max_pool2d: return_indices=True is not supported"):
        ops.adaptive_max_pool2d(x, 2, return_indices=True)
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: output_size must be a positive int, None or a pair of them, got \(0, 2\)"):
        ops.adaptive_max_pool2d(x, (0, 2))
