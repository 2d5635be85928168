"""BatchNorm, LayerNorm, Embedding, Dropout and the remaining activations against torch in float64."""

import numpy as np
import pytest
import torch

import funcad
from funcad import nn

F64 = np.float64


def _x(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape) * 2 + 0.5


def _randomise(cell, seed=3):
    rng = np.random.default_rng(seed)
    for _, p in cell.parameters_and_names():
        value = rng.uniform(0.5, 1.5, size=p.shape)
        p.set_data(value)


@pytest.mark.parametrize("kind, shape", [("2d", (4, 3, 5, 5)), ("1d", (6, 3)), ("1d", (4, 3, 7))])
def test_batch_norm_training_updates_running_stats_with_mindspore_momentum(kind, shape, assert_matches_torch):
    cell = (nn.BatchNorm2d if kind == "2d" else nn.BatchNorm1d)(3, momentum=0.8, eps=1e-3, dtype=F64)
    module = (torch.nn.BatchNorm2d if kind == "2d" else torch.nn.BatchNorm1d)(3, momentum=0.2, eps=1e-3, dtype=torch.float64)
    _randomise(cell)
    cell.set_train()
    module.train()
    assert_matches_torch(cell, module, _x(*shape))
    x2 = _x(*shape, seed=5)
    cell(x2)
    module(torch.tensor(x2))
    np.testing.assert_allclose(np.asarray(cell.moving_mean), module.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(cell.moving_variance), module.running_var.numpy(), rtol=1e-12)


def test_batch_norm_eval_uses_running_stats_and_leaves_them(assert_matches_torch):
    cell = nn.BatchNorm2d(3, dtype=F64)
    _randomise(cell)
    module = torch.nn.BatchNorm2d(3, dtype=torch.float64).eval()
    before = np.asarray(cell.moving_mean).copy()
    assert_matches_torch(cell, module, _x(2, 3, 4, 4))
    np.testing.assert_array_equal(np.asarray(cell.moving_mean), before)


def test_batch_norm_default_momentum_is_mindspores():
    cell = nn.BatchNorm1d(2, dtype=F64).set_train()
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    cell(x)
    np.testing.assert_allclose(np.asarray(cell.moving_mean), 0.1 * x.mean(0))
    np.testing.assert_allclose(np.asarray(cell.moving_variance), 0.9 + 0.1 * x.var(0, ddof=1))
    assert [p.name for p in cell.trainable_params()] == ["gamma", "beta"]


def test_batch_norm_bad_input_names_path():
    net = nn.SequentialCell(nn.Dense(4, 3), nn.BatchNorm1d(3))
    with pytest.raises(ValueError, match=r"BatchNorm1d '1': expected input of shape \(N, 3\) or \(N, 3, L\), got \(2, 4, 5, 6\)"):
        net[1](np.zeros((2, 4, 5, 6), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm2d \(root\): expected input of shape \(N, 4, H, W\), got \(2, 3, 5, 5\)"):
        nn.BatchNorm2d(4)(np.zeros((2, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm1d '1': batch statistics need more than one value per channel, got input of shape \(1, 3\)"):
        net.set_train()(np.zeros((1, 4), np.float32))
    assert net.set_train(False)(np.zeros((1, 4), np.float32)).shape == (1, 3)


@pytest.mark.parametrize("normalized_shape, axis", [((5,), -1), ((4, 5), -2)])
def test_layer_norm(normalized_shape, axis, assert_matches_torch):
    cell = nn.LayerNorm(normalized_shape, begin_norm_axis=axis, begin_params_axis=axis, epsilon=1e-5, dtype=F64)
    _randomise(cell)
    assert_matches_torch(cell, torch.nn.LayerNorm(normalized_shape, eps=1e-5, dtype=torch.float64), _x(3, 4, 5))


def test_layer_norm_defaults_and_errors():
    assert nn.LayerNorm((4,)).epsilon == 1e-7
    with pytest.raises(ValueError, match=r"LayerNorm \(root\): expected input of shape \(\*, 4\), got \(2, 5\)"):
        nn.LayerNorm((4,))(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="begin_norm_axis"):
        nn.LayerNorm((4, 5))


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_with_repeated_ids(padding_idx, assert_matches_torch):
    cell = nn.Embedding(6, 3, padding_idx=padding_idx, param_dtype=F64)
    module = torch.nn.Embedding(6, 3, padding_idx=padding_idx, dtype=torch.float64)
    ids = np.array([[1, 2, 1], [5, 1, 2]])
    assert_matches_torch(cell, module, ids)
    if padding_idx is not None:
        assert not np.asarray(cell.embedding_table)[padding_idx].any()


def test_embedding_default_table_is_small_normal_and_ids_must_be_integers():
    funcad.set_seed(0)
    table = np.asarray(nn.Embedding(1000, 50).embedding_table)
    assert abs(table.std() - 0.01) < 0.001
    with pytest.raises(TypeError, match=r"Embedding \(root\): ids must be integers, got float64"):
        nn.Embedding(4, 2)(np.zeros(3))


@pytest.mark.parametrize(
    "cell, module",
    [
        (nn.GELU(), torch.nn.GELU(approximate="tanh")),
        (nn.GELU(approximate=False), torch.nn.GELU()),
        (nn.SiLU(), torch.nn.SiLU()),
        (nn.LeakyReLU(), torch.nn.LeakyReLU(0.2)),
        (nn.ELU(0.7), torch.nn.ELU(0.7)),
    ],
)
def test_activations(cell, module, assert_matches_torch):
    assert_matches_torch(cell, module, _x(2, 3, 4))


def test_dropout_scales_kept_values_and_is_identity_in_eval():
    x = np.ones((200, 50))
    cell = nn.Dropout(p=0.3)
    np.testing.assert_array_equal(np.asarray(cell(x)), x)  # a fresh Cell is in eval mode
    cell.set_train()
    y = np.asarray(cell(x))
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.7)
    assert abs(kept.mean() - 0.7) < 0.02
    g = np.asarray(funcad.grad(lambda a: funcad.ops.sum(cell(a)))(x))
    assert set(np.unique(g)) <= {0.0, 1 / 0.7}
    funcad.set_seed(4)
    first, second = np.asarray(cell(x)), np.asarray(cell(x))
    funcad.set_seed(4)
    np.testing.assert_array_equal(np.asarray(cell(x)), first)  # the same seed gives the same sequence of masks
    assert not np.array_equal(first, second)
    assert nn.Dropout(keep_prob=0.9).p == pytest.approx(0.1)
    assert nn.Dropout(0.8).p == pytest.approx(0.2)  # MindSpore's first positional argument is keep_prob
    assert nn.Dropout(0.8, p=0.3).p == 0.3 and nn.Dropout().p == 0.5 and nn.Dropout(1.0).p == 0.0
    assert nn.Dropout2d(0.8).p == 0.8  # the channel dropouts take p first
    with pytest.raises(ValueError, match="drop probability"):
        nn.Dropout(p=1.0)
    with pytest.raises(ValueError, match="keep probability"):
        nn.Dropout(0.0)


def test_lenet_like_stack_trains_in_train_mode_with_bn_and_dropout(copy_weights):
    funcad.set_seed(0)
    net = nn.SequentialCell(nn.Conv2d(1, 4, 3, pad_mode="valid"), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
                            nn.Dropout(p=0.1), nn.Dense(4 * 3 * 3, 3))
    net.set_train()
    x = _x(8, 1, 8, 8).astype(np.float32)
    y = np.arange(8) % 3
    loss_fn = nn.CrossEntropyLoss()
    opt = nn.Adam(net.trainable_params(), 0.01)
    grad_fn = funcad.value_and_grad(lambda a, b: loss_fn(net(a), b), None, opt.parameters)
    losses = []
    for _ in range(30):
        loss, grads = grad_fn(x, y)
        opt(grads)
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    module = torch.nn.BatchNorm2d(4)
    copy_weights(net[1], module)  # the bridge's name map covers MindSpore's running-statistics names
    np.testing.assert_array_equal(module.running_var.numpy(), np.asarray(net[1].moving_variance))
