"""Every op in funcad.ops gives the same values under funcad.jit as eagerly, and so do its gradients."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from op_cases import CASES, IDX, LABELS, NOT_DIFFERENTIABLE, PARAMETER_UPDATES, RNG, Y

import funcad
from funcad import ops
from funcad.jit import jit

pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # the isnan/isinf cases make nan and inf


def _public_ops() -> set:
    return {n for n in dir(ops) if not n.startswith("_") and callable(getattr(ops, n)) and not inspect.ismodule(getattr(ops, n))}


def test_every_public_op_has_a_case():
    missing = _public_ops() - set(CASES) - PARAMETER_UPDATES
    assert not missing, f"ops without a jit equality case: {sorted(missing)}"


def _values(out) -> list:
    leaves, _ = funcad.core.pytree.flatten(out)
    return [np.asarray(v) for v in leaves]


def _assert_same(eager, compiled, what):
    for e, c in zip(_values(eager), _values(compiled)):
        assert e.dtype == c.dtype and e.shape == c.shape, f"{what}: {c.dtype}{c.shape} vs eager {e.dtype}{e.shape}"
        assert np.array_equal(e, c, equal_nan=True), f"{what}: max difference {np.nanmax(np.abs(e.astype(float) - c.astype(float)))}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_eager(name):
    fn, args = CASES[name]
    jitted = jit(fn)
    _assert_same(fn(*args), jitted(*args), name)
    _assert_same(fn(*args), jitted(*args), name + " (second call)")
    assert jitted.trace_count == 1


@pytest.mark.parametrize("name", sorted(set(CASES) - NOT_DIFFERENTIABLE))
def test_op_gradient_matches_eager(name):
    fn, args = CASES[name]

    def loss(*xs):
        return ops.sum(ops.cast(fn(*xs), np.float32))

    positions = tuple(i for i, a in enumerate(args) if np.issubdtype(a.dtype, np.floating))
    grad_fn = funcad.grad(loss, grad_position=positions)
    _assert_same(grad_fn(*args), jit(grad_fn)(*args), name + " gradient")


# Integer arguments passed as jit inputs (traced, values unknown while compiling): name -> (fn, float args, integer args).
TARGETS = np.array([0, -100, 3])  # one ignored sample
WEIGHT = RNG.uniform(0.5, 1.5, 4).astype(np.float32)
TRACED_INTEGER_CASES = {
    "embedding": (lambda w, i: ops.embedding(i, w), (Y,), (IDX % 3,)),
    "embedding_padding": (lambda w, i: ops.embedding(i, w, padding_idx=1), (Y,), (IDX % 3,)),
    "cross_entropy": (lambda x, t: ops.cross_entropy(x, t), (Y,), (TARGETS,)),
    **{f"cross_entropy_smoothing_{red}{'_weight' if w is not None else ''}": (
        lambda x, t, w=w, red=red: ops.cross_entropy(x, t, weight=w, reduction=red, label_smoothing=0.2), (Y,), (TARGETS,))
       for red in ("mean", "sum", "none") for w in (None, WEIGHT)},
    "nll_loss_weight": (lambda x, t: ops.nll_loss(ops.log_softmax(x, 1), t, weight=WEIGHT), (Y,), (TARGETS,)),
    "getitem": (lambda x, i: ops.getitem(x, i), (Y,), (np.array([2, 0, 0, 1]),)),
    "gather_along_an_axis": (lambda x, i: ops.gather(x, i, 1) + ops.index_select(x, 1, i), (Y,), (np.array([3, 0, 0, 2]),)),
    "array_among_basic_indices": (lambda x, i: x[:, i] * x[1, i] + x[..., i] - x[None, :, i][0] + x[1:, None, i].sum(), (Y,),
                                  (np.array([[3, 0], [1, 2]]),)),
    "take_along_axis": (lambda x, i: ops.take_along_axis(x, i, axis=1), (Y,), (IDX,)),
    "one_hot": (lambda x, i: x[0] * ops.one_hot(i, 4), (Y,), (LABELS,)),
}


@pytest.mark.parametrize("name", sorted(TRACED_INTEGER_CASES))
def test_op_with_traced_integer_inputs_matches_eager(name):
    fn, floats, ints = TRACED_INTEGER_CASES[name]
    ints = tuple(funcad.Tensor(i) for i in ints)
    jitted = jit(fn)
    _assert_same(fn(*floats, *ints), jitted(*floats, *ints), name)
    grad_fn = funcad.grad(lambda *a: ops.sum(fn(*a)), grad_position=tuple(range(len(floats))))
    _assert_same(grad_fn(*floats, *ints), jit(grad_fn)(*floats, *ints), name + " gradient")
    shuffled = tuple(funcad.Tensor(np.asarray(i)[::-1].copy()) for i in ints)  # new values, same program
    _assert_same(fn(*floats, *shuffled), jitted(*floats, *shuffled), name + " (other values)")
    assert jitted.trace_count == 1


def test_traced_embedding_indices_are_range_checked_when_the_program_runs():
    lookup = jit(lambda w, i: ops.embedding(i, w))
    lookup(Y, np.array([0, 2]))
    for bad in (np.array([0, 3]), np.array([-1, 0])):  # numpy alone would wrap -1 around to the last row
        with pytest.raises(IndexError, match=r"funcad.ops.embedding: indices must lie in \[0, 3\)"):
            lookup(Y, bad)
    assert lookup.trace_count == 1


def test_traced_class_targets_are_range_checked_when_the_program_runs():
    loss = jit(lambda x, t: ops.cross_entropy(x, t, label_smoothing=0.1))
    loss(Y, TARGETS)
    for bad in (np.array([0, 4, 1]), np.array([0, -2, 1])):
        with pytest.raises(IndexError, match=r"target values must lie in \[0, 4\) or equal ignore_index"):
            loss(Y, bad)
    assert loss.trace_count == 1


def test_traced_one_hot_needs_its_depth():
    with pytest.raises(ValueError, match="one_hot.*explicit depth"):
        jit(lambda i: ops.one_hot(i))(LABELS)
