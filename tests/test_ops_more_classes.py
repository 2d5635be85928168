"""ops.multinomial, ops.ScatterNdUpdate and ops.Print: values against numpy and counting, in-place Parameter updates,
jit, and errors naming the op and the value."""

from __future__ import annotations

import numpy as np
import pytest

import funcad
from funcad import Parameter, Tensor, ops
from funcad.jit import jit

WEIGHTS = np.array([[0.0, 9.0, 4.0, 0.0], [1.0, 2.0, 3.0, 4.0]], np.float32)


# ---- multinomial ----------------------------------------------------------------------------------------------

def test_multinomial_frequencies_follow_the_weights():
    funcad.set_seed(0)
    draws = np.asarray(ops.multinomial(Tensor(WEIGHTS), 20000))
    assert draws.shape == (2, 20000) and draws.dtype == np.int32
    assert set(np.unique(draws[0])) == {1, 2}  # zero weights are never drawn
    np.testing.assert_allclose(np.bincount(draws[0], minlength=4) / 20000, [0, 9 / 13, 4 / 13, 0], atol=0.015)
    np.testing.assert_allclose(np.bincount(draws[1], minlength=4) / 20000, [0.1, 0.2, 0.3, 0.4], atol=0.015)
    one_row = ops.multinomial(Tensor(WEIGHTS[1]), 5)
    assert one_row.shape == (5,)


def test_multinomial_without_replacement_draws_distinct_weighted_categories():
    funcad.set_seed(1)
    for _ in range(20):
        rows = np.asarray(ops.multinomial(Tensor(WEIGHTS), 2, replacement=False))
        assert sorted(rows[0].tolist()) == [1, 2] and len(set(rows[1].tolist())) == 2
    firsts = np.array([int(ops.multinomial(Tensor(WEIGHTS[1]), 1, replacement=False)[0]) for _ in range(4000)])
    np.testing.assert_allclose(np.bincount(firsts, minlength=4) / 4000, [0.1, 0.2, 0.3, 0.4], atol=0.03)  # the first draw: by weight
    full = np.asarray(ops.multinomial(Tensor(WEIGHTS[1]), 4, replacement=False))
    assert sorted(full.tolist()) == [0, 1, 2, 3]


def test_multinomial_seeds_and_jit():
    a = ops.multinomial(Tensor(WEIGHTS), 6, seed=4).asnumpy()
    assert np.array_equal(a, ops.multinomial(Tensor(WEIGHTS), 6, seed=4).asnumpy())
    funcad.set_seed(7)
    first, second = ops.multinomial(Tensor(WEIGHTS), 6).asnumpy(), ops.multinomial(Tensor(WEIGHTS), 6).asnumpy()
    assert not np.array_equal(first, second)  # funcad's key moves on
    funcad.set_seed(7)
    compiled = jit(lambda w: ops.multinomial(w, 6))
    assert np.array_equal(compiled(Tensor(WEIGHTS)).asnumpy(), first) and np.array_equal(compiled(Tensor(WEIGHTS)).asnumpy(), second)
    funcad.set_seed(7)
    picked = jit(lambda w: ops.multinomial(w, 3, replacement=False))(Tensor(WEIGHTS + 1.0)).asnumpy()
    funcad.set_seed(7)
    assert np.array_equal(picked, ops.multinomial(Tensor(WEIGHTS + 1.0), 3, replacement=False).asnumpy())


@pytest.mark.parametrize("call, match", [
    (lambda: ops.multinomial(Tensor(WEIGHTS), 0), r"funcad.ops.multinomial: num_samples must be a positive int, got 0"),
    (lambda: ops.multinomial(Tensor(WEIGHTS), 5, replacement=False), r"funcad.ops.multinomial: num_samples 5 exceeds the 4 categories"),
    (lambda: ops.multinomial(Tensor(-WEIGHTS[1]), 2), r"funcad.ops.multinomial: input rows must be finite, non-negative .*got \[-1.0"),
    (lambda: ops.multinomial(Tensor(np.ones((2, 2, 2), np.float32)), 2), r"multinomial: input must be 1-D or 2-D weights, got shape \(2, 2, 2\)"),
    (lambda: ops.multinomial(Tensor(WEIGHTS), 2, seed=-1), r"funcad.ops.multinomial: seed must be a non-negative int or None, got -1"),
])
def test_multinomial_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- ScatterNdUpdate ------------------------------------------------------------------------------------------

def test_scatter_nd_update_writes_the_parameter_in_place():
    start = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = Parameter(start.copy(), name="p")
    op = ops.ScatterNdUpdate()
    assert repr(op) == "Prim[ScatterNdUpdate]<use_locking=True>"
    out = op(p, np.array([[0, 1], [2, 3]]), Tensor(np.array([-1.0, -2.0], np.float32)))
    want = start.copy()
    want[0, 1], want[2, 3] = -1.0, -2.0
    assert out is p
    np.testing.assert_array_equal(p.asnumpy(), want)
    ops.ScatterNdUpdate(use_locking=False)(p, np.array([[1]]), Tensor(np.full((1, 4), 7.0, np.float32)))  # whole rows
    want[1] = 7.0
    np.testing.assert_array_equal(p.asnumpy(), want)


def test_scatter_nd_update_under_jit_updates_on_every_call():
    p = Parameter(np.zeros((2, 3), np.float32), name="state")
    step = jit(lambda v: ops.ScatterNdUpdate()(p, np.array([[1, 2]]), v * 2.0))
    step(Tensor(np.array([1.5], np.float32)))
    np.testing.assert_array_equal(p.asnumpy(), [[0, 0, 0], [0, 0, 3.0]])
    step(Tensor(np.array([4.0], np.float32)))
    np.testing.assert_array_equal(p.asnumpy(), [[0, 0, 0], [0, 0, 8.0]])


def test_scatter_nd_update_errors():
    with pytest.raises(TypeError, match="ScatterNdUpdate: input_x must be a Parameter, got Tensor"):
        ops.ScatterNdUpdate()(Tensor(np.zeros((2, 2), np.float32)), np.array([[0]]), Tensor(np.ones((1, 2), np.float32)))
    p = Parameter(np.zeros((2, 2), np.float32), name="q")
    with pytest.raises(ValueError, match="tensor_scatter_update"):
        ops.ScatterNdUpdate()(p, np.array([[0]]), Tensor(np.ones((1, 3), np.float32)))


# ---- Print ----------------------------------------------------------------------------------------------------

def test_print_prints_its_inputs_and_returns_the_first(capsys):
    x = Tensor(np.array([[1, 2]], np.int32))
    out = ops.Print()("Print Tensor x:", x, 3)
    assert out == "Print Tensor x:"
    assert capsys.readouterr().out == "Print Tensor x:\n[[1 2]]\n3\n"
    assert ops.Print()(x) is x
    capsys.readouterr()
    doubled = jit(lambda v: ops.Print()(v) * 2)(Tensor(np.array([1.0, 2.0], np.float32)))
    np.testing.assert_array_equal(doubled.asnumpy(), [2.0, 4.0])
    assert "shape=[2]" in capsys.readouterr().out  # traced: the shape and dtype
    with pytest.raises(TypeError, match="Print: inputs must be Tensors, numbers, strings, tuples or lists, got dict"):
        ops.Print()({"a": 1})
    with pytest.raises(ValueError, match="Print: expected at least one input"):
        ops.Print()()
