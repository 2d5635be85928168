"""ops.assign / assign_add / assign_sub: values, in-place reuse only when nothing else can see the array, jit, errors."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
from op_cases import PARAMETER_UPDATES

import funcad
from funcad import Parameter, Tensor, ops
from funcad.jit import jit

RNG = np.random.default_rng(11)
START = RNG.standard_normal((3, 4)).astype(np.float32)
VALUE = RNG.standard_normal((3, 4)).astype(np.float32)

# name -> the new value from (start, value), written with numpy alone
REFERENCE = {
    "assign": lambda start, value: value,
    "assign_add": lambda start, value: start + value,
    "assign_sub": lambda start, value: start - value,
    "Assign": lambda start, value: value,  # MindSpore's primitive classes of the three
    "AssignAdd": lambda start, value: start + value,
    "AssignSub": lambda start, value: start - value,
}


def _update(name: str):
    """The op called ``name``: a function, or an instance of a primitive class."""
    return getattr(ops, name)() if name[0].isupper() else getattr(ops, name)


ALPHA = 0.3


def test_every_parameter_update_is_covered():
    # ScatterNdUpdate: test_ops_more_classes.py; ApplyMomentum: test_ms_user_programs_round3.py; ScatterUpdate, ScatterAdd,
    # ScatterSub, ScatterMul, ScatterDiv, ScatterMax and ScatterMin: test_mindspore_op_suite.py
    assert set(REFERENCE) | {"apply_gradient_descent", "ScatterNdUpdate", "ApplyMomentum", "ScatterUpdate", "ScatterAdd",
                             "ScatterSub", "ScatterMul", "ScatterDiv", "ScatterMax", "ScatterMin"} == PARAMETER_UPDATES


@pytest.mark.parametrize("alpha", [ALPHA, Tensor(np.float32(ALPHA))], ids=["float", "0-d Tensor"])
def test_gradient_descent_step_matches_numpy_in_place(alpha):
    p = Parameter(START.copy(), name="p")
    before = weakref.ref(p._data)
    assert ops.apply_gradient_descent(p, alpha, Tensor(VALUE)) is p
    np.testing.assert_array_equal(p.asnumpy(), START - np.float32(ALPHA) * VALUE)
    assert p._data is before()
    held = np.asarray(p)
    ops.apply_gradient_descent(p, alpha, Tensor(VALUE))
    np.testing.assert_array_equal(held, START - np.float32(ALPHA) * VALUE)  # a held array is never written
    np.testing.assert_array_equal(p.asnumpy(), held - np.float32(ALPHA) * VALUE)


def test_gradient_descent_step_under_jit_equals_eager():
    eager_p, jit_p = Parameter(START.copy(), name="p"), Parameter(START.copy(), name="p")

    def make(p):
        def step(d):
            ops.apply_gradient_descent(p, ALPHA, d * 2.0)
            return ops.sum(p)
        return step

    jitted = jit(make(jit_p))
    for _ in range(3):
        np.testing.assert_array_equal(np.asarray(make(eager_p)(Tensor(VALUE))), np.asarray(jitted(Tensor(VALUE))))
        np.testing.assert_array_equal(eager_p.asnumpy(), jit_p.asnumpy())


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_update_matches_numpy_and_returns_the_parameter(name):
    p = Parameter(START.copy(), name="p")
    out = _update(name)(p, Tensor(VALUE))
    assert out is p
    np.testing.assert_array_equal(p.asnumpy(), REFERENCE[name](START, VALUE))
    assert p.dtype == np.float32


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_value_takes_the_parameter_dtype_and_scalars_fill_it(name):
    p = Parameter(START.copy(), name="p")
    _update(name)(p, VALUE.astype(np.float64))
    np.testing.assert_array_equal(p.asnumpy(), REFERENCE[name](START, VALUE))
    assert p.dtype == np.float32
    q = Parameter(START.copy(), name="q")
    _update(name)(q, 0.25)
    np.testing.assert_array_equal(q.asnumpy(), REFERENCE[name](START, np.full(START.shape, 0.25, np.float32)))
    step = Parameter(np.array(5, dtype=np.int32), name="step")
    ops.assign_add(step, 1)
    assert step.asnumpy().dtype == np.int32 and int(step) == 6


@pytest.mark.parametrize("name", ["assign_add", "assign_sub"])
def test_exclusively_owned_array_is_updated_in_place(name):
    p = Parameter(START.copy(), name="p")
    before = weakref.ref(p._data)
    _update(name)(p, VALUE)
    assert p._data is before()


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_values_handed_out_earlier_never_change(name):
    shared = Tensor(START.copy())
    p = Parameter(START.copy(), name="p")
    p.set_data(shared)  # the Parameter now shares the immutable Tensor's array
    seen = np.asarray(p)  # and the user holds the array itself
    _update(name)(p, VALUE)
    np.testing.assert_array_equal(shared.asnumpy(), START)
    np.testing.assert_array_equal(seen, START)
    np.testing.assert_array_equal(p.asnumpy(), REFERENCE[name](START, VALUE))


def test_a_view_of_another_array_is_not_written_through():
    base = START.copy()
    p = Parameter(START.copy(), name="p")
    p._data = base[:, :]  # a Parameter whose array is a view (as a user's set_data of a numpy view could leave it)
    ops.assign_sub(p, VALUE)
    np.testing.assert_array_equal(base, START)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_jitted_update_equals_eager(name):
    eager_p, jit_p = Parameter(START.copy(), name="p"), Parameter(START.copy(), name="p")

    def make(p):
        def step(v):
            _update(name)(p, v * 2.0)
            return ops.sum(p)
        return step

    jitted = jit(make(jit_p))
    eager = make(eager_p)
    for _ in range(3):
        np.testing.assert_array_equal(np.asarray(eager(Tensor(VALUE))), np.asarray(jitted(Tensor(VALUE))))
        np.testing.assert_array_equal(eager_p.asnumpy(), jit_p.asnumpy())
    assert jitted.trace_count == 1


def test_bad_input_names_the_op_and_shapes():
    p = Parameter(START.copy(), name="w")
    with pytest.raises(TypeError, match=r"funcad.ops.assign_sub: variable must be a Parameter, got Tensor"):
        ops.assign_sub(Tensor(START), VALUE)
    with pytest.raises(ValueError, match=r"funcad.ops.assign_add: value of shape \(4, 3\) does not match Parameter 'w' of shape \(3, 4\)"):
        ops.assign_add(p, VALUE.T)
    np.testing.assert_array_equal(p.asnumpy(), START)


def test_optimizer_updates_in_place_and_matches_its_formula():
    """SGD through assign_sub: p - lr * g, bit for bit, without replacing the parameter's array."""
    p = Parameter(START.copy(), name="w")
    opt = funcad.nn.SGD([p], learning_rate=0.1)
    before = weakref.ref(p._data)
    opt((Tensor(VALUE),))
    np.testing.assert_array_equal(p.asnumpy(), START - np.float32(0.1) * VALUE)
    assert p._data is before()
