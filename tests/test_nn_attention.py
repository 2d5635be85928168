"""MultiheadAttention against torch in float64: outputs, attention weights and every gradient, over its options and
masks, including masks that block every key of some queries."""

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops

F64 = np.float64


def _normal(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


def _pair(embed=6, heads=2, **options):
    torch_options = {("bias" if k == "has_bias" else k): v for k, v in options.items()}
    cell = nn.MultiheadAttention(embed, heads, **options, dtype=F64)
    module = torch.nn.MultiheadAttention(embed, heads, **torch_options, dtype=torch.float64)
    rng = np.random.default_rng(5)
    for _, p in cell.parameters_and_names():  # torch zero-initialises the biases: give them values
        p.set_data(rng.normal(size=p.shape) * 0.5)
    return cell, module


def _qkv(options, length=4, source=5, batch=3, embed=6):
    kdim, vdim = options.get("kdim", embed), options.get("vdim", embed)
    if options.get("batch_first"):
        return _normal(batch, length, embed), _normal(batch, source, kdim, seed=2), _normal(batch, source, vdim, seed=3)
    return _normal(length, batch, embed), _normal(source, batch, kdim, seed=2), _normal(source, batch, vdim, seed=3)


OPTIONS = [{}, {"batch_first": True}, {"has_bias": False}, {"kdim": 4, "vdim": 3}, {"add_bias_kv": True},
           {"add_zero_attn": True}, {"add_bias_kv": True, "add_zero_attn": True, "batch_first": True}]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
@pytest.mark.parametrize("average", [True, False])
def test_attention_matches_torch(options, average, assert_layer_matches):
    cell, module = _pair(**options)
    assert_layer_matches(cell, module, _qkv(options), {"average_attn_weights": average})


def test_self_attention_unbatched_and_without_weights(assert_layer_matches):
    cell, module = _pair()
    x = _normal(4, 6)
    assert_layer_matches(cell, module, (x, x, x))
    assert_layer_matches(cell, module, (x, x, x), {"average_attn_weights": False})
    out = cell(x, x, x, need_weights=False)
    assert isinstance(out, tuple) and len(out) == 1
    np.testing.assert_allclose(np.asarray(out[0]), module(*(torch.tensor(x),) * 3)[0].detach().numpy(), rtol=1e-10)


def _padding(kind):
    blocked = np.zeros((3, 5), bool)
    blocked[0, 3:] = True
    blocked[2, 1:] = True
    return blocked if kind == "bool" else np.where(blocked, -1e4, 0.0) + _normal(3, 5, seed=9) * 0.1


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_key_padding_and_attention_masks(kind, assert_layer_matches):
    cell, module = _pair()
    causal = np.triu(np.ones((4, 5), bool), 1)
    attn = causal if kind == "bool" else np.where(causal, -3.0, 0.5)
    per_head = _normal(6, 4, 5, seed=4) if kind == "float" else _normal(6, 4, 5, seed=4) > 0.8
    q, k, v = _qkv({})
    assert_layer_matches(cell, module, (q, k, v), {"key_padding_mask": _padding(kind)})
    assert_layer_matches(cell, module, (q, k, v), {"attn_mask": attn})
    assert_layer_matches(cell, module, (q, k, v), {"attn_mask": per_head, "average_attn_weights": False})
    assert_layer_matches(cell, module, (q, k, v), {"attn_mask": attn, "key_padding_mask": _padding(kind)})


def _fully_blocked():
    padding = np.zeros((3, 5), bool)
    padding[1] = True  # every key of batch entry 1
    attn = np.zeros((4, 5), bool)
    attn[2] = True  # every key of query 2
    return padding, attn


def test_fully_blocked_rows_give_zero_attention_as_torchs_fused_path(assert_layer_matches, torch_kwargs):
    """torch's need_weights=False path (scaled_dot_product_attention) gives zero attention there, and gradients."""
    cell, module = _pair()
    padding, attn = _fully_blocked()
    kwargs = {"key_padding_mask": padding, "attn_mask": attn, "need_weights": False}
    assert_layer_matches(cell, module, _qkv({}), kwargs, torch_call=lambda m, *qkv: m(*qkv, **torch_kwargs(kwargs))[0])
    out = np.asarray(cell(*_qkv({}), **kwargs)[0])
    np.testing.assert_allclose(out[:, 1], np.broadcast_to(np.asarray(cell.out_proj.bias), (4, 6)), rtol=1e-14)


def test_fully_blocked_rows_have_zero_weights_where_torch_gives_nan(copy_weights):
    cell, module = _pair()
    copy_weights(cell, module)
    padding, attn = _fully_blocked()
    q, k, v = _qkv({})
    out, weights = cell(q, k, v, key_padding_mask=padding, attn_mask=attn, average_attn_weights=False)
    t_out, t_weights = module(*(torch.tensor(a) for a in (q, k, v)), key_padding_mask=torch.tensor(padding),
                              attn_mask=torch.tensor(attn), average_attn_weights=False)
    weights, t_weights = np.asarray(weights), t_weights.detach().numpy()
    nan = np.isnan(t_weights)
    assert nan[1].all() and nan[:, :, 2].all() and nan.sum() == 2 * 4 * 5 + 2 * 2 * 5
    np.testing.assert_array_equal(weights[nan], 0.0)
    np.testing.assert_allclose(weights[~nan], t_weights[~nan], rtol=1e-10)
    kept = ~np.isnan(t_out.detach().numpy())
    np.testing.assert_allclose(np.asarray(out)[kept], t_out.detach().numpy()[kept], rtol=1e-10)
    grads = funcad.grad(lambda q: ops.sum(cell(q, k, v, key_padding_mask=padding, attn_mask=attn)[0]))(q)
    assert np.isfinite(np.asarray(grads)).all()


def test_dropout_on_weights_in_training_only():
    cell = nn.MultiheadAttention(6, 2, dropout=0.5, dtype=F64)
    q, k, v = _qkv({})
    eval_weights = np.asarray(cell(q, k, v)[1])
    np.testing.assert_allclose(eval_weights.sum(-1), 1.0, rtol=1e-12)
    cell.set_train()
    funcad.set_seed(3)
    weights = np.asarray(cell(q, k, v, average_attn_weights=False)[1])
    dropped = weights == 0
    assert 0.3 < dropped.mean() < 0.7
    per_head = np.asarray(cell.set_train(False)(q, k, v, average_attn_weights=False)[1])
    np.testing.assert_allclose(weights[~dropped], 2 * per_head[~dropped], rtol=1e-12)


def test_jitted_forward_and_grad_equal_eager():
    cell, _ = _pair(batch_first=True)
    q, k, v = _qkv({"batch_first": True})
    padding = _padding("bool")

    def loss(q, k):
        out, weights = cell(q, k, v, key_padding_mask=padding)
        return ops.sum(out * out) + ops.sum(weights * weights)

    step = funcad.value_and_grad(loss, (0, 1), cell.trainable_params())
    (eager_loss, eager_grads), (jit_loss, jit_grads) = step(q, k), funcad.jit(step)(q, k)
    np.testing.assert_allclose(np.asarray(jit_loss), np.asarray(eager_loss), rtol=1e-12)
    for a, b in zip([*jit_grads[0], *jit_grads[1]], [*eager_grads[0], *eager_grads[1]]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-11, atol=1e-13)


def test_parameter_names_and_defaults():
    cell, module = _pair()
    assert sorted(n for n, _ in cell.parameters_and_names()) == sorted(module.state_dict())
    cell, module = _pair(kdim=4, vdim=3, add_bias_kv=True, has_bias=False)
    assert sorted(n for n, _ in cell.parameters_and_names()) == sorted(module.state_dict())
    funcad.set_seed(0)
    fresh = nn.MultiheadAttention(8, 2)
    assert not np.asarray(fresh.in_proj_bias).any() and np.asarray(fresh.out_proj.bias).any()


def test_bad_inputs_name_the_layer_and_shapes():
    net = nn.SequentialCell(nn.Dense(6, 6))
    net.append(nn.MultiheadAttention(6, 2))
    attention = net[1]
    q, k, v = (a.astype(np.float32) for a in _qkv({}))
    with pytest.raises(ValueError, match=r"MultiheadAttention '1': expected query \(L, N, 6\), key \(L, N, 6\) .* got \(4, 3, 6\), \(5, 2, 6\)"):
        attention(q, k[:, :2], v)
    with pytest.raises(ValueError, match=r"MultiheadAttention '1': key_padding_mask must have shape \(3, 5\), got \(3, 4\)"):
        attention(q, k, v, key_padding_mask=np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(4, 5\) or \(6, 4, 5\), got \(5, 4\)"):
        attention(q, k, v, attn_mask=np.zeros((5, 4), bool))
    with pytest.raises(ValueError, match=r"only bool and floating types of key_padding_mask are supported, got int64"):
        attention(q, k, v, key_padding_mask=np.zeros((3, 5), np.int64))
    with pytest.raises(ValueError, match=r"MultiheadAttention: embed_dim 6 must be divisible by num_heads 4"):
        nn.MultiheadAttention(6, 4)
