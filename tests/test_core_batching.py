"""vmap: every op's batching rule against a loop over the batch, in_axes at each position and None; the transform's
axes handling, nesting, composition with grad and jit, Cells, and its errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import funcad
from funcad import nn, ops
from funcad.core.primitive import Primitive
from funcad.ops import batching
from funcad.testing import assert_close
from tests.op_cases import CASES

BATCH = 3


def _members(x: np.ndarray, seed: int) -> np.ndarray:
    """BATCH different members around ``x`` (same dtype, same sign pattern for the positive-only inputs)."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.9, 1.05, (BATCH,) + x.shape).astype(x.dtype) if np.issubdtype(x.dtype, np.floating) else 1
    return (x[None] * scale).astype(x.dtype)


def _looped(fn, stacked, axes):
    outs = []
    for b in range(BATCH):
        member = [s if a is None else np.take(s, b, axis=a) for s, a in zip(stacked, axes)]
        outs.append(np.asarray(fn(*member)))
    return np.stack(outs)


def _axes_variants(n_args: int):
    """Each argument batched alone (at axis 0 and at the last axis), and all batched at axis 0."""
    for i in range(n_args):
        yield tuple(0 if j == i else None for j in range(n_args))
        yield tuple(-1 if j == i else None for j in range(n_args))
    if n_args > 1:
        yield (0,) * n_args


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_op_batches_like_a_loop(name):
    fn, args = CASES[name]
    for axes in _axes_variants(len(args)):
        stacked = []
        for k, (x, a) in enumerate(zip(args, axes)):
            if a is None:
                stacked.append(x)
            else:
                m = _members(np.asarray(x), k)
                stacked.append(np.moveaxis(m, 0, a))
        expected = _looped(fn, stacked, [None if a is None else (a % np.ndim(s)) for s, a in zip(stacked, axes)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = funcad.vmap(fn, in_axes=axes)(*stacked)
        assert_close(got, expected, rtol=1e-5, atol=1e-6, msg=f"{name} in_axes={axes}")


def _primitives() -> dict:
    import sys

    found = {}
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(("funcad.ops", "funcad.core")):
            for value in vars(module).values():
                if isinstance(value, Primitive):
                    found[value.name] = value
    return found


def test_every_op_has_a_batching_rule_but_the_named_few():
    looped = sorted(name for name, prim in _primitives().items() if not batching.has_batching_rule(prim))
    # the fused convolutions are made by the compiler after differentiation and batching, so vmap never meets them
    # (lstm_sequence's rule loops only over members with their own w_hh: tests/test_ops_recurrent.py)
    assert looped == ["conv_fused", "conv_input_grad_fused"]


def test_a_primitive_without_a_rule_loops_with_one_warning_naming_it():
    odd = Primitive("odd_cumulative", lambda x: np.cumsum(x[::-1])[::-1].copy())
    odd.nondifferentiable()
    x = np.arange(6.0).reshape(2, 3)
    with pytest.warns(UserWarning, match="funcad.ops.odd_cumulative has no batching rule"):
        got = funcad.vmap(odd)(x)
    assert_close(got, np.stack([np.cumsum(r[::-1])[::-1] for r in x]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        funcad.vmap(odd)(x)  # once per primitive


# -- the transform's arguments -------------------------------------------------------------------------------------
X = np.random.default_rng(0).standard_normal((4, 3))
Y = np.random.default_rng(1).standard_normal((3, 4))


def test_in_axes_pytree_and_out_axes():
    def f(pair, scale):
        a, b = pair
        return {"s": a * scale + b, "t": ops.sum(a)}

    out = funcad.vmap(f, in_axes=((0, 1), None), out_axes={"s": 1, "t": 0})((X, Y), 2.0)
    assert_close(out["s"], (X * 2.0 + Y.T).T)
    assert_close(out["t"], X.sum(1))


def test_nested_vmap_is_an_outer_product():
    got = funcad.vmap(funcad.vmap(lambda a, b: a * b, in_axes=(None, 0)), in_axes=(0, None))(X[:, 0], Y[0])
    assert_close(got, np.outer(X[:, 0], Y[0]))


def test_vmap_of_grad_and_grad_of_vmap():
    f = lambda x: ops.sum(ops.sin(x) * x)  # noqa: E731
    per_row = funcad.vmap(funcad.grad(f))(X)
    assert_close(per_row, np.cos(X) * X + np.sin(X))
    whole = funcad.grad(lambda x: ops.sum(funcad.vmap(f)(x)))(X)
    assert_close(whole, np.cos(X) * X + np.sin(X))


def test_vmap_of_a_cell_keeps_parameters_unbatched():
    funcad.set_seed(0)
    net = nn.Dense(3, 2)
    got = funcad.vmap(net)(X)
    assert_close(got, X @ net.weight.asnumpy().T + net.bias.asnumpy())


def test_vmap_under_jit_equals_eager():
    f = funcad.vmap(lambda a, b: ops.softmax(a @ b, axis=-1), in_axes=(0, None))
    batch = np.random.default_rng(2).standard_normal((5, 4, 3))
    assert_close(funcad.jit(f)(batch, Y), f(batch, Y))


def test_an_output_independent_of_the_batch_is_repeated_along_its_out_axis():
    """JAX's behaviour: an int out_axes repeats an unmapped output; None returns it once."""
    shared = Y[:, 0]
    mapped, repeated = funcad.vmap(lambda a, b: (a, b * 2.0), in_axes=(0, None))(X, shared)
    assert_close(mapped, X)
    assert_close(repeated, np.broadcast_to(shared * 2.0, (X.shape[0],) + shared.shape))
    along_last = funcad.vmap(lambda a, b: b, in_axes=(0, None), out_axes=-1)(X, Y)
    assert_close(along_last, np.broadcast_to(Y[..., None], Y.shape + (X.shape[0],)))
    assert_close(funcad.vmap(lambda a: Y, out_axes=None)(X), Y)
    # under grad: the repeated output's cotangent is summed over the batch
    assert_close(funcad.grad(lambda b: ops.sum(funcad.vmap(lambda a, c: c * c, in_axes=(0, None))(X, b)))(shared),
                 2.0 * X.shape[0] * shared)


def test_errors_name_vmap_the_argument_and_shapes():
    with pytest.raises(ValueError, match=r"vmap: in_axes for input leaf 0 of shape \(4, 3\).*2 is out of range"):
        funcad.vmap(ops.exp, in_axes=2)(X)
    with pytest.raises(ValueError, match=r"vmap: the mapped inputs disagree on the batch size \(size 4: leaf 0 \(4, 3\) axis 0; size 3: leaf 1"):
        funcad.vmap(ops.add)(X, Y)
    with pytest.raises(ValueError, match="in_axes has 1 entries but there are 2 arguments"):
        funcad.vmap(ops.add, in_axes=(0,))(X, X)
    with pytest.raises(TypeError, match="cannot be read inside the mapped function"):
        funcad.vmap(lambda a: a if float(ops.sum(a)) > 0 else -a)(X)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_batches_with_weights_ignored_targets_and_each_reduction(reduction, weighted):
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((4, 5, 3))
    targets = np.array([[0, 2, -100, 1, 1], [2, 2, 0, -100, -100], [1, 0, 0, 2, 1], [0, 1, 2, 0, -100]])
    weight = np.array([0.5, 2.0, 1.5]) if weighted else None

    def loss(x, t):
        return ops.sum(ops.cross_entropy(x, t, weight=weight, reduction=reduction) ** 2)

    for in_axes in [(0, 0), (0, None)]:
        t_arg = targets if in_axes[1] == 0 else targets[0]
        member_t = (lambda b: targets[b]) if in_axes[1] == 0 else (lambda b: targets[0])
        value, grads = funcad.vmap(funcad.value_and_grad(loss), in_axes=in_axes)(logits, t_arg)
        for b in range(4):
            v, g = funcad.value_and_grad(loss)(logits[b], member_t(b))
            assert_close(value[b], v, msg=f"{reduction} member {b}")
            assert_close(grads[b], g, msg=f"{reduction} member {b}")
