"""funcad.testing: check_grads must catch wrong rules at every order and mode; assert_close's tolerances and message."""

from __future__ import annotations

import numpy as np
import pytest

import funcad
from funcad import ops
from funcad.testing import assert_close, check_grads


def _with_rules(vjp_scale=1.0, jvp_scale=1.0, second_scale=1.0):
    """sin with its VJP, JVP and the derivative of its VJP (through cos) each scaled: 1.0 everywhere is correct."""
    my_cos = funcad.Primitive("my_cos", np.cos).defvjp(lambda g, ans, x: g * -ops.sin(x) * second_scale)
    my_cos.defjvp(lambda t, ans, x: t * -ops.sin(x) * second_scale)
    my_sin = funcad.Primitive("my_sin", np.sin).defvjp(lambda g, ans, x: g * my_cos(x) * vjp_scale)
    my_sin.defjvp(lambda t, ans, x: t * my_cos(x) * jvp_scale)
    return my_sin


X = (np.array([0.3, -1.2, 2.0]),)


def test_correct_rules_pass_to_third_order_in_both_modes():
    check_grads(_with_rules(), X, order=3, modes=("rev", "fwd"))
    check_grads(lambda a, b: (ops.tanh(a) * b, ops.sum(a / b)), (X[0], X[0] + 3.0), order=2, modes=("rev", "fwd"))


@pytest.mark.parametrize("kwargs, modes, order", [
    ({"vjp_scale": 1.01}, ("rev",), 1),
    ({"jvp_scale": 0.99}, ("fwd",), 1),
    ({"second_scale": 1.01}, ("rev",), 2),
    ({"second_scale": 1.01}, ("fwd",), 2),
])
def test_wrong_rules_are_caught(kwargs, modes, order):
    with pytest.raises(AssertionError, match=f"derivative order {order}"):
        check_grads(_with_rules(**kwargs), X, order=order, modes=modes)


def test_check_grads_rejects_bad_arguments():
    with pytest.raises(ValueError):
        check_grads(ops.sin, X, order=0)
    with pytest.raises(ValueError):
        check_grads(ops.sin, X, modes=("sideways",))


def test_assert_close_per_dtype_defaults():
    assert_close(np.float32(1.0) + np.float32(1e-6), np.float32(1.0))
    with pytest.raises(AssertionError):
        assert_close(np.float32(1.0) + np.float32(3e-5), np.float32(1.0))
    assert_close(np.float64(1.0 + 5e-8), np.float64(1.0))
    with pytest.raises(AssertionError):
        assert_close(np.float64(1.0 + 5e-7), np.float64(1.0))
    assert_close(np.float16(1.0) + np.float16(0.000977), np.float16(1.0), rtol=1e-3, atol=1e-5)
    with pytest.raises(AssertionError):
        assert_close(np.array([1, 2]), np.array([1, 3]))


def test_assert_close_names_the_worst_element():
    actual = np.zeros((2, 3), np.float32)
    expected = actual.copy()
    expected[1, 2], expected[0, 1] = 0.5, 0.01
    with pytest.raises(AssertionError, match=r"2 of 6 elements.*worst at index \(1, 2\): actual 0.0, expected 0.5"):
        assert_close(actual, expected)


def test_assert_close_shapes_nans_and_trees():
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_close(np.zeros(2), np.zeros(3))
    with pytest.raises(AssertionError):
        assert_close(np.array([np.nan]), np.array([np.nan]))
    assert_close(np.array([np.nan, np.inf]), np.array([np.nan, np.inf]), equal_nan=True)
    assert_close((np.ones(2), {"a": funcad.Tensor(np.zeros(1))}), (np.ones(2), {"a": np.zeros(1)}))
    with pytest.raises(AssertionError, match="leaf 1"):
        assert_close((np.ones(2), np.ones(1)), (np.ones(2), np.zeros(1)))
