"""MindSpore 2.x layers and functional ops added together: LP pools, max unpooling, RReLU, channel dropout, the 1-D
pools, grid sampling, SyncBatchNorm, EmbeddingLookup, the image Cells (ImageGradients, PSNR, SSIM, CentralCrop,
ResizeBilinear, Unfold) and the array Cells (Roll, Tril, Triu, Range, Pad, Moments, MatMul).

Values and gradients against torch autograd in float64 where torch has the counterpart, otherwise against numpy
written here or the outputs MindSpore's documentation prints; the torch twins through mirror and to_funcad."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import Tensor, nn, ops
from funcad.testing import assert_close, check_grads
from torch_ref.layer_table import TranslationError
from torch_ref.mirror import mirror
from torch_ref.to_funcad import to_funcad

RNG = np.random.default_rng(41)


def _positive(*shape):
    return RNG.uniform(0.2, 2.0, shape)


def _grad(fn, *args, positions=0, seed=0):
    """Gradient of sum(fn(*args) * w) for a random cotangent w; returns (gradients, w)."""
    w = np.random.default_rng(seed).standard_normal(np.shape(np.asarray(fn(*args))))
    return funcad.grad(lambda *a: ops.sum(fn(*a) * w), positions)(*args), w


# -- LP pools ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p, kernel, stride, ceil_mode", [(2.0, 3, None, False), (3, (2, 3), 2, True), (1.5, 2, (1, 2), True)])
def test_lp_pool2d_matches_torch(p, kernel, stride, ceil_mode, assert_op_matches_torch):
    assert_op_matches_torch(lambda x: ops.lp_pool2d(x, p, kernel, stride, ceil_mode),
                            lambda x: F.lp_pool2d(x, p, kernel, stride, ceil_mode), [_positive(2, 3, 7, 6)])


@pytest.mark.parametrize("p, kernel, stride, ceil_mode", [(2, 3, None, False), (2.5, 2, 3, True)])
def test_lp_pool1d_matches_torch_batched_and_not(p, kernel, stride, ceil_mode, assert_op_matches_torch):
    assert_op_matches_torch(lambda x: ops.lp_pool1d(x, p, kernel, stride, ceil_mode),
                            lambda x: F.lp_pool1d(x, p, kernel, stride, ceil_mode), [_positive(2, 3, 9)])
    assert_op_matches_torch(lambda x: ops.lp_pool1d(x, p, kernel, stride, ceil_mode),
                            lambda x: F.lp_pool1d(x, p, kernel, stride, ceil_mode), [_positive(3, 8)], fd=False)


def test_lp_pool_layers_match_torch_and_translate_both_ways(assert_matches_torch):
    x2, x1 = _positive(2, 3, 6, 7), _positive(2, 4, 9)
    assert_matches_torch(nn.LPPool2d(2, (2, 3), 2, ceil_mode=True), torch.nn.LPPool2d(2, (2, 3), 2, ceil_mode=True), x2)
    assert_matches_torch(nn.LPPool1d(3, 2), torch.nn.LPPool1d(3, 2), x1)
    for cell, x in ((nn.LPPool2d(2.5, 3, 2), x2), (nn.LPPool1d(1.5, 3, 1, True), x1)):
        twin = mirror(cell)
        assert type(twin).__name__ == type(cell).__name__
        back = to_funcad(twin)
        assert type(back) is type(cell) and (back.norm_type, back.kernel_size, back.stride, back.ceil_mode) == (
            cell.norm_type, cell.kernel_size, cell.stride, cell.ceil_mode)
        assert_close(back(x), twin(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)


def test_lp_pool_refuses_a_zero_norm_and_a_wrong_rank():
    with pytest.raises(ValueError, match="LPPool2d: norm_type must be a non-zero number, got 0"):
        nn.LPPool2d(0, 2)
    with pytest.raises(ValueError, match="funcad.ops.lp_pool1d: norm_type must be a non-zero number, got 0"):
        ops.lp_pool1d(Tensor(_positive(2, 3, 4)), 0, 2)
    with pytest.raises(ValueError, match=r"funcad.ops.lp_pool2d: expected a \(N, C, H, W\) or \(C, H, W\) input, got shape \(4, 4\)"):
        ops.lp_pool2d(Tensor(_positive(4, 4)), 2, 2)


# -- max unpooling -----------------------------------------------------------------------------------------------------
def _pooled(pool, x, *args):
    values, indices = pool(torch.tensor(x), *args, return_indices=True)
    return values.numpy(), indices.numpy()


@pytest.mark.parametrize("size, kernel, stride, padding, output_size", [(6, 2, None, 0, None), (7, 3, 2, 1, None), (7, 2, 2, 0, (7, 7)),
                                                                        (7, 2, 2, 0, (2, 3, 7, 7))])
def test_max_unpool2d_matches_torch(size, kernel, stride, padding, output_size):
    x = RNG.standard_normal((2, 3, size, size))
    values, indices = _pooled(F.max_pool2d, x, kernel, stride, padding)
    fn = lambda v: ops.max_unpool2d(v, indices, kernel, stride, padding, output_size)  # noqa: E731
    vt = torch.tensor(values, requires_grad=True)
    expected = F.max_unpool2d(vt, torch.tensor(indices), kernel, stride, padding, output_size)
    assert_close(fn(values), expected.detach().numpy())
    g, w = _grad(fn, values)
    (expected * torch.tensor(w)).sum().backward()
    assert_close(g, vt.grad.numpy())  # overlapping windows may share a maximum: both engines then send it both cotangents
    if all(np.unique(plane).size == plane.size for plane in indices.reshape(6, -1)):  # no position taken twice
        check_grads(fn, [values], order=2, modes=("rev", "fwd"))


def test_max_unpool1d_and_3d_match_torch_batched_and_not():
    x1 = RNG.standard_normal((2, 3, 9))
    v1, i1 = _pooled(F.max_pool1d, x1, 3, 2)
    assert_close(ops.max_unpool1d(v1, i1, 3, 2), F.max_unpool1d(torch.tensor(v1), torch.tensor(i1), 3, 2).numpy())
    assert_close(ops.max_unpool1d(v1[0], i1[0], 3, 2), F.max_unpool1d(torch.tensor(v1[0]), torch.tensor(i1[0]), 3, 2).numpy())
    v3, i3 = _pooled(F.max_pool3d, RNG.standard_normal((2, 2, 4, 4, 6)), 2)
    expected = F.max_unpool3d(torch.tensor(v3), torch.tensor(i3), 2).numpy()
    assert_close(ops.max_unpool3d(v3, i3, 2), expected)
    assert_close(ops.max_unpool3d(v3[1], i3[1], 2, output_size=(4, 5, 6)), F.max_unpool3d(torch.tensor(v3[1]), torch.tensor(i3[1]), 2,
                                                                                            output_size=(4, 5, 6)).numpy())


def test_max_unpool_layers_invert_max_pool_as_torch_and_translate_both_ways(assert_layer_matches):
    x = RNG.standard_normal((2, 3, 6, 6))
    values, indices = _pooled(F.max_pool2d, x, 2)
    assert_layer_matches(nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2), (values, indices))
    v1, i1 = _pooled(F.max_pool1d, x[:, :, 0], 2)
    assert_layer_matches(nn.MaxUnpool1d(2, 2), torch.nn.MaxUnpool1d(2, 2), (v1, i1))
    pool_values, pool_indices = nn.MaxPool2d(2, 2, return_indices=True)(x)
    assert_close(nn.MaxUnpool2d(2)(pool_values, pool_indices), F.max_unpool2d(torch.tensor(values), torch.tensor(indices), 2).numpy())
    for cell in (nn.MaxUnpool1d(3, 2, 1), nn.MaxUnpool2d(2), nn.MaxUnpool3d((1, 2, 2), (1, 2, 2))):
        back = to_funcad(mirror(cell))
        assert type(back) is type(cell)
    with pytest.raises(TranslationError, match="output_size given when the layer is built has no torch counterpart"):
        mirror(nn.MaxUnpool2d(2, output_size=(7, 7)))


def test_max_unpool_refuses_bad_indices_and_sizes():
    values, indices = _pooled(F.max_pool2d, RNG.standard_normal((1, 2, 4, 4)), 2)
    with pytest.raises(ValueError, match=r"funcad.ops.max_unpool2d: indices must lie in \[0, 16\) \(positions in an output plane of \(4, 4\)\), "
                                         r"got values in \[-1, "):
        ops.max_unpool2d(values, indices - 1, 2)
    with pytest.raises(ValueError, match=r"funcad.ops.max_unpool2d: output_size \(6, 4\) must lie between \(4, 4\) and that plus the stride"):
        ops.max_unpool2d(values, indices, 2, output_size=(6, 4))
    with pytest.raises(ValueError, match=r"funcad.ops.max_unpool2d: indices must have the input's shape \(1, 2, 2, 2\), got \(2, 2, 2\)"):
        ops.max_unpool2d(values, indices[0], 2)
    with pytest.raises(ValueError, match=r"funcad.ops.max_unpool1d: expected a \(N, C, L\) or \(C, L\) input, got shape \(1, 2, 2, 2\)"):
        ops.max_unpool1d(values, indices, 2)


# -- the 1-D pools, avg_pool2d's ceil mode with a divisor ----------------------------------------------------------------
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode, count_include_pad", [(3, 2, 1, True, False), (2, 1, 0, False, True)])
def test_avg_pool1d_matches_torch(kernel, stride, padding, ceil_mode, count_include_pad, assert_op_close_to_torch):
    assert_op_close_to_torch(lambda v: ops.avg_pool1d(v, kernel, stride, padding, ceil_mode, count_include_pad),
                             lambda v: F.avg_pool1d(v, kernel, stride, padding, ceil_mode, count_include_pad), [RNG.standard_normal((2, 3, 8))])


def test_avg_pool1d_pads_its_two_ends_unevenly(assert_op_close_to_torch):
    """padding (left, right): torch pads both ends alike, so its reference pads explicitly (zeros counted)."""
    assert_op_close_to_torch(lambda v: ops.avg_pool1d(v, 3, 2, (1, 0)), lambda v: F.avg_pool1d(F.pad(v, (1, 0)), 3, 2),
                             [RNG.standard_normal((2, 3, 8))])
    with pytest.raises(ValueError, match=r"funcad.ops.avg_pool1d: expected a 3-D input \(N, C, L\), got shape \(3, 8\)"):
        ops.avg_pool1d(RNG.standard_normal((3, 8)), 2)


def test_adaptive_max_pool1d_matches_torch(assert_op_close_to_torch):
    assert_op_close_to_torch(lambda v: ops.adaptive_max_pool1d(v, 4), lambda v: F.adaptive_max_pool1d(v, 4), [RNG.standard_normal((2, 3, 10))])
    with pytest.raises(ValueError, match=r"funcad.ops.adaptive_max_pool1d: expected a 3-D input \(N, C, L\), got shape \(3, 10\)"):
        ops.adaptive_max_pool1d(RNG.standard_normal((3, 10)), 4)


# -- grid sampling -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_bilinear_matches_torch_in_input_and_grid(padding_mode, align_corners, assert_op_matches_torch):
    image, grid = RNG.standard_normal((2, 3, 5, 6)), RNG.uniform(-1.4, 1.4, (2, 4, 3, 2))
    assert_op_matches_torch(lambda x, g: ops.grid_sample(x, g, "bilinear", padding_mode, align_corners),
                            lambda x, g: F.grid_sample(x, g, "bilinear", padding_mode, align_corners), [image, grid], fd=False)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_nearest_matches_torch(padding_mode, assert_op_close_to_torch):
    image, grid = RNG.standard_normal((1, 2, 4, 5)), RNG.uniform(-1.3, 1.3, (1, 3, 3, 2))
    assert_op_close_to_torch(lambda x: ops.grid_sample(x, grid, "nearest", padding_mode, True),
                             lambda x: F.grid_sample(x, torch.tensor(grid), "nearest", padding_mode, True), [image])


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch_and_its_gradient(align_corners, assert_op_matches_torch):
    assert_op_matches_torch(lambda t: ops.affine_grid(t, (2, 3, 4, 5), align_corners),
                            lambda t: F.affine_grid(t, [2, 3, 4, 5], align_corners), [RNG.standard_normal((2, 2, 3))])


def test_grid_ops_refuse_what_they_cannot_do():
    image, grid = Tensor(RNG.standard_normal((1, 1, 3, 3))), Tensor(RNG.uniform(-1, 1, (1, 2, 2, 2)))
    with pytest.raises(NotImplementedError, match="funcad.ops.grid_sample: mode 'bicubic' is not supported"):
        ops.grid_sample(image, grid, "bicubic")
    with pytest.raises(ValueError, match="funcad.ops.grid_sample: padding_mode must be one of"):
        ops.grid_sample(image, grid, padding_mode="wrap")
    with pytest.raises(NotImplementedError, match=r"funcad.ops.grid_sample: only 4-D inputs .* got shape \(1, 1, 1, 3, 3\)"):
        ops.grid_sample(ops.expand_dims(image, 2), grid)
    with pytest.raises(ValueError, match=r"funcad.ops.grid_sample: grid must have shape \(1, H_out, W_out, 2\)"):
        ops.grid_sample(image, ops.concat((grid, grid), -1))
    with pytest.raises(NotImplementedError, match=r"funcad.ops.affine_grid: only 2-D grids .* got size \(1, 1, 2, 3, 3\)"):
        ops.affine_grid(Tensor(np.zeros((1, 3, 4))), (1, 1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"funcad.ops.affine_grid: theta must have shape \(2, 2, 3\)"):
        ops.affine_grid(Tensor(np.zeros((1, 2, 3))), (2, 1, 3, 3))


# -- random layers -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op, shape", [(ops.dropout2d, (4, 6, 3, 2)), (ops.dropout3d, (4, 6, 2, 2, 3))])
def test_channel_dropout_zeroes_whole_channels_and_scales_the_rest(op, shape):
    x = _positive(*shape)
    funcad.set_seed(5)
    out = np.asarray(op(x, p=0.4))
    planes, inputs = out.reshape(shape[0] * shape[1], -1), x.reshape(shape[0] * shape[1], -1)
    dropped = (planes == 0).all(1)
    np.testing.assert_allclose(planes[~dropped], inputs[~dropped] / 0.6, rtol=1e-12)
    assert 0 < dropped.sum() < len(dropped)
    funcad.set_seed(5)
    np.testing.assert_array_equal(np.asarray(op(x, p=0.4)), out)  # the draw follows funcad's key
    g = np.asarray(funcad.grad(lambda v: ops.sum(op(v, p=0.4)))(x))
    funcad.set_seed(5)
    g = np.asarray(funcad.grad(lambda v: ops.sum(op(v, p=0.4)))(x))
    np.testing.assert_allclose(g.reshape(planes.shape), np.where(dropped[:, None], 0.0, 1 / 0.6) * np.ones_like(planes), rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(op(x, 0.4, False)), x)


def test_channel_dropout_checks_rank_and_probability():
    with pytest.raises(ValueError, match=r"funcad.ops.dropout2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 2, 2\)"):
        ops.dropout2d(_positive(3, 2, 2))
    with pytest.raises(ValueError, match=r"funcad.ops.dropout3d: p must be in \[0, 1\], got 1.5"):
        ops.dropout3d(_positive(1, 2, 2, 2, 2), 1.5)


def test_rrelu_draws_slopes_in_range_and_follows_the_seed():
    """MindSpore's documented example: [[-1, 4], [2, 0]] keeps 4, 2 and 0 and scales -1 by a slope in [1/8, 1/3]."""
    x = np.array([[-1.0, 4.0], [2.0, 0.0]])
    funcad.set_seed(3)
    out = np.asarray(ops.rrelu(x))
    assert out[0, 1] == 4.0 and out[1, 0] == 2.0 and out[1, 1] == 0.0 and -1 / 3 <= out[0, 0] <= -1 / 8
    big = RNG.standard_normal((50, 40))
    funcad.set_seed(9)
    y = np.asarray(ops.rrelu(big, 0.1, 0.3))
    slopes = y[big < 0] / big[big < 0]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.04
    np.testing.assert_array_equal(y[big >= 0], big[big >= 0])
    funcad.set_seed(9)
    g = np.asarray(funcad.grad(lambda v: ops.sum(ops.rrelu(v, 0.1, 0.3)))(big))  # the same draw: its slopes are the gradient
    np.testing.assert_allclose(g[big < 0], slopes, rtol=1e-12)
    np.testing.assert_array_equal(g[big >= 0], 1.0)
    with pytest.raises(ValueError, match=r"funcad.ops.rrelu: lower \(0.5\) must not exceed upper \(0.2\)"):
        ops.rrelu(big, 0.5, 0.2)
    with pytest.raises(TypeError, match="RReLU: upper must be a float or an int, got '1'"):
        nn.RReLU(0.1, "1")


def test_rrelu_layer_matches_torch_in_evaluation_and_draws_while_training(assert_matches_torch):
    x = RNG.standard_normal((3, 4, 5))
    cell, module = nn.RReLU(0.1, 0.4), torch.nn.RReLU(0.1, 0.4)
    module.eval()
    assert_matches_torch(cell, module, x)
    cell.set_train()
    funcad.set_seed(2)
    drawn = np.asarray(cell(x))
    slopes = drawn[x < 0] / x[x < 0]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.4 and np.unique(slopes).size > 10
    back = to_funcad(mirror(nn.RReLU(0.2, 0.3)))
    assert isinstance(back, nn.RReLU) and (back.lower, back.upper) == (0.2, 0.3)


def test_rrelu_while_training_is_refused_when_translating_a_forward():
    class Net(torch.nn.Module):
        def forward(self, x):
            return F.rrelu(x, training=True)

    with pytest.raises(NotImplementedError, match=r"torch.nn.functional.rrelu: training=True has no funcad translation"):
        to_funcad(Net())(RNG.standard_normal((2, 3)))


# -- SyncBatchNorm, EmbeddingLookup ------------------------------------------------------------------------------------
@pytest.mark.parametrize("train", [True, False])
def test_sync_batch_norm_is_batch_norm_in_one_process(train, assert_matches_torch):
    cell = nn.SyncBatchNorm(3, eps=1e-3, momentum=0.8, dtype=np.float64)
    module = torch.nn.SyncBatchNorm(3, eps=1e-3, momentum=0.2, dtype=torch.float64)
    for p in (cell.gamma, cell.beta, cell.moving_mean):
        p.set_data(RNG.uniform(0.5, 1.5, 3))
    cell.moving_variance.set_data(RNG.uniform(0.5, 1.5, 3))
    cell.set_train(train)
    module.train(train)
    with torch.no_grad():
        module.running_mean.copy_(torch.tensor(np.asarray(cell.moving_mean)))
        module.running_var.copy_(torch.tensor(np.asarray(cell.moving_variance)))
    assert_matches_torch(cell, module, RNG.standard_normal((4, 3, 2, 3)))
    np.testing.assert_allclose(np.asarray(cell.moving_mean), module.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(cell.moving_variance), module.running_var.numpy(), rtol=1e-12)
    back = to_funcad(mirror(cell))
    assert isinstance(back, nn.SyncBatchNorm) and abs(back.momentum - 0.8) < 1e-12


def test_sync_batch_norm_refuses_other_ranks():
    assert nn.SyncBatchNorm(2, process_groups=[[0]]).process_groups == [[0]]
    with pytest.raises(ValueError, match=r"SyncBatchNorm: process_groups \[\[0, 1\]\] name ranks \[0, 1\]; funcad runs one process"):
        nn.SyncBatchNorm(2, process_groups=[[0, 1]])
    with pytest.raises(TranslationError, match="process_groups has no counterpart in a single-process torch twin"):
        mirror(nn.SyncBatchNorm(2, process_groups=[[0]]))


def test_embedding_lookup_gives_zero_rows_outside_the_table_as_mindspore_s_cpu_target():
    cell = nn.EmbeddingLookup(5, 3, dtype=np.float64)
    table = RNG.standard_normal((5, 3))
    cell.embedding_table.set_data(table)
    ids = np.array([[0, 4, 7], [-1, 2, 2]])
    expected = np.where(((ids >= 0) & (ids < 5))[..., None], table[np.clip(ids, 0, 4)], 0.0)
    assert_close(cell(ids), expected, rtol=1e-15, atol=0.0)
    w = RNG.standard_normal((2, 3, 3))
    g = funcad.grad(lambda t: ops.sum(ops.embedding(ops.where((ids >= 0) & (ids < 5), ids, 0), t)
                                      * ops.expand_dims(ops.cast((ids >= 0) & (ids < 5), np.float64), -1) * w))(table)
    grads = funcad.grad(lambda: ops.sum(cell(ids) * w), None, cell.trainable_params())()
    expected_grad = np.zeros((5, 3))
    np.add.at(expected_grad, ids[(ids >= 0) & (ids < 5)], w[(ids >= 0) & (ids < 5)])  # the rows looked up, summed
    assert_close(grads[0], expected_grad, rtol=1e-14, atol=1e-15)
    assert_close(g, expected_grad, rtol=1e-14, atol=1e-15)


def test_embedding_lookup_max_norm_rescales_long_rows():
    cell = nn.EmbeddingLookup(4, 2, max_norm=1.0, dtype=np.float64)
    cell.embedding_table.set_data(np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 2.0], [1.0, 0.0]]))
    ids, w = np.array([0, 1, 2, 9]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    assert_close(cell(ids), np.array([[0.6, 0.8], [0.3, 0.4], [0.0, 1.0], [0.0, 0.0]]), rtol=1e-15, atol=1e-15)
    g = np.asarray(funcad.grad(lambda: ops.sum(cell(ids) * w), None, cell.trainable_params())()[0])
    # a long row r becomes r / |r|: its gradient is (w - u (u . w)) / |r| with u = r / |r|; a short row passes w through;
    # row 3 is not looked up (id 9 is outside the table)
    u0, u2 = np.array([0.6, 0.8]), np.array([0.0, 1.0])
    assert_close(g, np.array([(w[0] - u0 * (u0 @ w[0])) / 5.0, w[1], (w[2] - u2 * (u2 @ w[2])) / 2.0, [0.0, 0.0]]), rtol=1e-14, atol=1e-15)


def test_embedding_lookup_checks_its_options():
    with pytest.raises(ValueError, match=r"EmbeddingLookup: target must be one of \('CPU', 'DEVICE'\), got 'GPU'"):
        nn.EmbeddingLookup(4, 2, target="GPU")
    with pytest.raises(ValueError, match="EmbeddingLookup: slice_mode must be one of"):
        nn.EmbeddingLookup(4, 2, slice_mode="rows")
    with pytest.raises(ValueError, match="EmbeddingLookup: max_norm must be positive or None, got 0"):
        nn.EmbeddingLookup(4, 2, max_norm=0)
    with pytest.raises(TypeError, match="EmbeddingLookup .*: indices must be integers, got float64"):
        nn.EmbeddingLookup(4, 2)(np.array([0.0, 1.0]))


# -- image Cells -------------------------------------------------------------------------------------------------------
def test_image_gradients_match_mindspore_s_example_and_numpy():
    dy, dx = nn.ImageGradients()(np.array([[[[1, 2], [3, 4]]]], np.int32))
    np.testing.assert_array_equal(np.asarray(dy), [[[[2, 2], [0, 0]]]])
    np.testing.assert_array_equal(np.asarray(dx), [[[[1, 0], [1, 0]]]])
    x = RNG.standard_normal((2, 3, 4, 5))
    dy, dx = nn.ImageGradients()(x)
    assert_close(dy, np.concatenate([np.diff(x, axis=2), np.zeros((2, 3, 1, 5))], 2), rtol=1e-15, atol=0.0)
    assert_close(dx, np.concatenate([np.diff(x, axis=3), np.zeros((2, 3, 4, 1))], 3), rtol=1e-15, atol=0.0)
    check_grads(lambda v: ops.sum(nn.ImageGradients()(v)[0] * nn.ImageGradients()(v)[1]), [x], order=2)


def test_psnr_matches_mindspore_s_example_and_the_formula():
    out = nn.PSNR()(np.array([[[[1, 2, 3, 4], [1, 2, 3, 4]]]]), np.array([[[[3, 4, 5, 6], [3, 4, 5, 6]]]]))
    assert out.dtype == funcad.float32
    assert_close(out, np.array([-6.0206], np.float32), rtol=1e-5, atol=0.0)
    a, b = RNG.uniform(0, 255, (3, 2, 4, 5)), RNG.uniform(0, 255, (3, 2, 4, 5))
    assert_close(nn.PSNR(255)(a, b), 10 * np.log10(255.0 ** 2 / ((a - b) ** 2).mean((1, 2, 3))), rtol=1e-13, atol=0.0)
    check_grads(lambda u: nn.PSNR(255)(u, b), [a])
    with pytest.raises(ValueError, match=r"PSNR .*: img1 and img2 must have one shape and dtype"):
        nn.PSNR()(a, b[:, :1])
    with pytest.raises(ValueError, match="PSNR: max_val must be a positive number, got 0"):
        nn.PSNR(0)


def _ssim_numpy(a, b, size, sigma, max_val, k1=0.01, k2=0.03):
    """SSIM written out with explicit window sums (each valid window position, each channel), the mean per image."""
    half = np.arange(size) - (size - 1) // 2
    g = np.exp(-(half[:, None] ** 2 + half[None, :] ** 2) / (2 * sigma ** 2))
    g /= g.sum()
    n, c, h, w = a.shape
    out = np.zeros((n, c, h - size + 1, w - size + 1))
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    for i in range(h - size + 1):
        for j in range(w - size + 1):
            pa, pb = a[:, :, i:i + size, j:j + size], b[:, :, i:i + size, j:j + size]
            mu_a, mu_b = (pa * g).sum((2, 3)), (pb * g).sum((2, 3))
            var_a, var_b = (pa * pa * g).sum((2, 3)) - mu_a ** 2, (pb * pb * g).sum((2, 3)) - mu_b ** 2
            cov = (pa * pb * g).sum((2, 3)) - mu_a * mu_b
            out[:, :, i, j] = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return out.mean((1, 2, 3))


@pytest.mark.parametrize("size, sigma", [(11, 1.5), (4, 0.8)])
def test_ssim_matches_mindspore_s_example_and_the_written_out_formula(size, sigma):
    assert_close(nn.SSIM()(np.ones((1, 3, 16, 16), np.float32), np.ones((1, 3, 16, 16), np.float32)), np.array([1.0], np.float32))
    a = RNG.uniform(0, 1, (2, 3, 13, 12))
    b = np.clip(a + RNG.normal(0, 0.1, a.shape), 0, 1)
    cell = nn.SSIM(2.0, size, sigma)
    assert_close(cell(a, b), _ssim_numpy(a, b, size, sigma, 2.0), rtol=1e-12, atol=1e-14)
    check_grads(lambda u: cell(u, b), [a], rtol=1e-6)
    with pytest.raises(ValueError, match=r"SSIM .*: images \(1, 1, 3, 3\) are smaller than the filter \(11\)"):
        nn.SSIM()(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="SSIM: filter_size must be an int of at least 1, got 0"):
        nn.SSIM(filter_size=0)


def test_central_crop_cuts_mindspore_s_border():
    image = RNG.standard_normal((4, 3, 4, 4))
    assert nn.CentralCrop(central_fraction=0.5)(image).shape == (4, 3, 2, 2)
    odd = RNG.standard_normal((3, 7, 10))
    assert_close(nn.CentralCrop(0.3)(odd), odd[:, 2:5, 3:7], rtol=0.0, atol=0.0)  # int((7 - 2.1) / 2) = 2, int((10 - 3) / 2) = 3
    np.testing.assert_array_equal(np.asarray(nn.CentralCrop(1.0)(odd)), odd)
    with pytest.raises(ValueError, match=r"CentralCrop: central_fraction must be a float in \(0.0, 1.0\], got 0.0"):
        nn.CentralCrop(0.0)
    with pytest.raises(ValueError, match=r"CentralCrop .*: expected .*\(C, H, W\) or \(N, C, H, W\)"):
        nn.CentralCrop(0.5)(odd[0])


def test_resize_bilinear_matches_mindspore_s_example_and_torch():
    x = np.array([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], np.float32)
    expected = np.array([[1.0, 1.8, 2.6, 3.4, 4.0], [2.6, 3.4, 4.2, 5.0, 5.6], [4.2, 5.0, 5.8, 6.6, 7.2], [5.0, 5.8, 6.6, 7.4, 8.0],
                         [5.0, 5.8, 6.6, 7.4, 8.0]], np.float32)
    assert_close(nn.ResizeBilinear()(x, size=(5, 5))[0, 0], expected, rtol=1e-6, atol=1e-6)
    image = RNG.standard_normal((2, 3, 4, 5))
    for cell, corners, torch_corners in ((nn.ResizeBilinear(half_pixel_centers=True), False, False), (nn.ResizeBilinear(), True, True)):
        fn = lambda v, cell=cell, corners=corners: cell(v, size=(7, 3), align_corners=corners)  # noqa: E731
        vt = torch.tensor(image, requires_grad=True)
        out = F.interpolate(vt, size=(7, 3), mode="bilinear", align_corners=torch_corners)
        assert_close(fn(image), out.detach().numpy())
        g, w = _grad(fn, image)
        (out * torch.tensor(w)).sum().backward()
        assert_close(g, vt.grad.numpy())
    assert nn.ResizeBilinear()(image, scale_factor=2).shape == (2, 3, 8, 10)
    check_grads(lambda v: nn.ResizeBilinear()(v, size=(6, 7)), [image])
    with pytest.raises(ValueError, match="ResizeBilinear .*: align_corners=True and half_pixel_centers=True cannot be used together"):
        nn.ResizeBilinear(True)(image, (3, 3), align_corners=True)
    with pytest.raises(ValueError, match="ResizeBilinear .*: give exactly one of size and scale_factor"):
        nn.ResizeBilinear()(image)
    with pytest.raises(ValueError, match="ResizeBilinear .*: scale_factor must be an int of at least 1, got 1.5"):
        nn.ResizeBilinear()(image, scale_factor=1.5)


def _patches_numpy(x, k, s, r, pads):
    """extract_image_patches written out: channel (i * kw + j) * C + c of output (row, col) is input c at the tap."""
    x = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]))
    n, c, h, w = x.shape
    oh, ow = (h - (k[0] - 1) * r[0] - 1) // s[0] + 1, (w - (k[1] - 1) * r[1] - 1) // s[1] + 1
    out = np.zeros((n, k[0] * k[1] * c, oh, ow))
    for i in range(k[0]):
        for j in range(k[1]):
            for ch in range(c):
                out[:, (i * k[1] + j) * c + ch] = x[:, ch, i * r[0]:i * r[0] + s[0] * (oh - 1) + 1:s[0], j * r[1]:j * r[1] + s[1] * (ow - 1) + 1:s[1]]
    return out


def test_unfold_extracts_patches_as_mindspore_not_as_torch():
    net = nn.Unfold(ksizes=[1, 2, 2, 1], strides=[1, 2, 2, 1], rates=[1, 2, 2, 1])
    assert net(np.ones([2, 3, 6, 6], np.float16)).shape == (2, 12, 2, 2)  # MindSpore's documented example
    x = RNG.standard_normal((2, 3, 7, 8))
    cell = nn.Unfold([1, 3, 2, 1], [1, 2, 3, 1], [1, 1, 2, 1])
    assert_close(cell(x), _patches_numpy(x, (3, 2), (2, 3), (1, 2), (0, 0, 0, 0)), rtol=0.0, atol=0.0)
    same = nn.Unfold([1, 3, 2, 1], [1, 2, 3, 1], [1, 1, 1, 1], "SAME")
    assert same(x).shape == (2, 18, 4, 3)  # ceil(7 / 2), ceil(8 / 3); padding 2 rows (1, 1) and 1 column (0, 1)
    assert_close(same(x), _patches_numpy(x, (3, 2), (2, 3), (1, 1), (1, 1, 0, 1)), rtol=0.0, atol=0.0)
    check_grads(lambda v: same(v), [x])
    with pytest.raises(ValueError, match=r"Unfold: ksizes must be \[1, ksizes_row, ksizes_col, 1\] with positive ints, got \[2, 2\]"):
        nn.Unfold([2, 2], [1, 1, 1, 1], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="Unfold: padding must be 'same' or 'valid', got 'full'"):
        nn.Unfold([1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "full")


# -- array Cells -------------------------------------------------------------------------------------------------------
def test_roll_tril_triu_and_range_match_mindspore_s_examples():
    np.testing.assert_array_equal(np.asarray(nn.Roll(shift=2, axis=0)(np.array([0.0, 1.0, 2.0, 3.0, 4.0]))), [3, 4, 0, 1, 2])
    x = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [10, 11, 12, 13], [14, 15, 16, 17]])
    np.testing.assert_array_equal(np.asarray(nn.Tril()(x, 1)), [[1, 2, 0, 0], [5, 6, 7, 0], [10, 11, 12, 13], [14, 15, 16, 17]])
    np.testing.assert_array_equal(np.asarray(nn.Tril()(x, -1)), [[0, 0, 0, 0], [5, 0, 0, 0], [10, 11, 0, 0], [14, 15, 16, 0]])
    np.testing.assert_array_equal(np.asarray(nn.Triu()(x)), [[1, 2, 3, 4], [0, 6, 7, 8], [0, 0, 12, 13], [0, 0, 0, 17]])
    np.testing.assert_array_equal(np.asarray(nn.Triu()(x, -1)), [[1, 2, 3, 4], [5, 6, 7, 8], [0, 11, 12, 13], [0, 0, 16, 17]])
    r = nn.Range(1, 8, 2)()
    assert r.dtype == funcad.int32 and np.asarray(r).tolist() == [1, 3, 5, 7]
    f = nn.Range(2.5)()
    assert f.dtype == funcad.float32 and np.asarray(f).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="Range: delta must not be 0"):
        nn.Range(1, 5, 0)
    with pytest.raises(ValueError, match="Range: delta 1 moves away from limit 0 from start 3"):
        nn.Range(3, 0)


def test_pad_matches_mindspore_s_example_numpy_and_torch_gradients():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(np.asarray(nn.Pad(((1, 1), (2, 2)))(x)),
                                  [[0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 2, 3, 0, 0], [0, 0, 4, 5, 6, 0, 0], [0, 0, 0, 0, 0, 0, 0]])
    y = RNG.standard_normal((2, 3, 4))
    for mode, numpy_mode in (("REFLECT", "reflect"), ("SYMMETRIC", "symmetric")):
        paddings = ((0, 1), (2, 1), (1, 3)) if mode == "REFLECT" else ((1, 2), (3, 0), (4, 2))
        assert_close(nn.Pad(paddings, mode)(y), np.pad(y, paddings, numpy_mode), rtol=0.0, atol=0.0)
    yt = torch.tensor(y, requires_grad=True)
    out = F.pad(yt, (1, 3, 2, 1), mode="reflect")  # the last two axes, as REFLECT pads them
    g, w = _grad(lambda v: nn.Pad(((0, 0), (2, 1), (1, 3)), "REFLECT")(v), y)
    (out * torch.tensor(w)).sum().backward()
    assert_close(g, yt.grad.numpy())
    with pytest.raises(ValueError, match=r"Pad .*: REFLECT padding \(3, 0\) of axis 1 must be below its size 3"):
        nn.Pad(((0, 0), (3, 0), (0, 0)), "REFLECT")(y)
    with pytest.raises(ValueError, match=r"Pad .*: SYMMETRIC padding \(0, 5\) of axis 2 must be at most its size 4"):
        nn.Pad(((0, 0), (0, 0), (0, 5)), "SYMMETRIC")(y)
    with pytest.raises(ValueError, match=r"Pad .*: paddings \(\(1, 1\),\) must give one pair per axis of the input \(2, 3, 4\)"):
        nn.Pad(((1, 1),))(y)
    with pytest.raises(ValueError, match="Pad: mode must be one of"):
        nn.Pad(((1, 1),), "EDGE")


def test_moments_match_mindspore_s_example_and_numpy():
    x = np.array([[[[1, 2, 3, 4], [3, 4, 5, 6]]]], np.float32)
    mean, variance = nn.Moments(axis=3, keep_dims=True)(x)
    np.testing.assert_allclose(np.asarray(mean), [[[[2.5], [4.5]]]])
    np.testing.assert_allclose(np.asarray(variance), [[[[1.25], [1.25]]]])
    y = RNG.standard_normal((3, 4, 5))
    mean, variance = nn.Moments(axis=(0, 2))(y)
    assert_close(mean, y.mean((0, 2)), rtol=1e-14, atol=1e-15)
    assert_close(variance, y.var((0, 2)), rtol=1e-14, atol=1e-15)
    half_mean, half_var = nn.Moments()(y.astype(np.float16))
    assert half_mean.dtype == funcad.float16 and half_mean.shape == () and abs(float(half_var) - y.astype(np.float16).astype(np.float32).var()) < 1e-3
    check_grads(lambda v: nn.Moments(1)(v)[1], [y], order=2)


def test_matmul_transposes_and_broadcasts_as_mindspore():
    a, b = RNG.standard_normal((2, 1, 4, 3)), RNG.standard_normal((5, 4, 6))
    assert_close(nn.MatMul(transpose_x1=True)(a, b), np.matmul(np.swapaxes(a, -1, -2), b), rtol=1e-14, atol=1e-14)
    c = RNG.standard_normal((3, 6))
    assert_close(nn.MatMul(transpose_x2=True)(b, c), b @ c.T, rtol=1e-14, atol=1e-14)
    v = RNG.standard_normal(4)
    assert_close(nn.MatMul()(v, b), v @ b, rtol=1e-14, atol=1e-14)
    check_grads(lambda x, y: nn.MatMul(True, False)(x, y), [a, b])
    with pytest.raises(ValueError, match=r"MatMul .*: cannot multiply \(5, 4, 6\) by \(3, 6\) \(transpose_x1=False, transpose_x2=False\)"):
        nn.MatMul()(b, c)


def test_new_layers_run_under_jit_as_eagerly():
    x = _positive(2, 3, 6, 6)
    values, indices = _pooled(F.max_pool2d, x, 2)

    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.unpool, self.lp, self.ssim = nn.MaxUnpool2d(2), nn.LPPool2d(2, 2), nn.SSIM(filter_size=3)
            self.unfold, self.resize = nn.Unfold([1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "same"), nn.ResizeBilinear()

        def construct(self, v, i, img):
            up = self.unpool(v, i)
            return ops.sum(self.lp(up)) + ops.sum(self.ssim(up, img)) + ops.sum(self.unfold(img)) + ops.sum(self.resize(img, (4, 9)))

    net = Net()
    eager = net(values, indices, x)
    assert_close(funcad.jit(net.construct)(values, indices, x), eager, rtol=1e-12, atol=1e-12)
