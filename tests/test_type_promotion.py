"""MindSpore's type promotion of integers meeting floats (float32 for a Python float, the float operand's dtype for a
float Tensor, float32 for true division and transcendental functions of integers), eager, under grad and under jit.
Values are checked against numpy computing in float64 and rounded to the expected dtype."""

from __future__ import annotations

import numpy as np
import pytest

import funcad
import funcad.numpy as fnp
from funcad import Tensor, ops

I32 = np.array([1, -2, 7], np.int32)
I64 = np.array([3, 4, -5], np.int64)
B = np.array([True, False, True])
F32 = np.array([0.5, 1.25, -3.0], np.float32)
F16 = np.array([0.5, 2.0, -1.5], np.float16)

# name: (function of Tensors, inputs, numpy float64 reference, expected dtype)
CASES = {
    "int32 * 1.5": (lambda a: a * 1.5, (I32,), lambda a: a * 1.5, np.float32),
    "1.5 * int32": (lambda a: 1.5 * a, (I32,), lambda a: 1.5 * a, np.float32),
    "int32 - 0.25": (lambda a: a - 0.25, (I32,), lambda a: a - 0.25, np.float32),
    "int32 + float32": (lambda a, b: a + b, (I32, F32), lambda a, b: a + b, np.float32),
    "float32 + int32": (lambda a, b: b + a, (I32, F32), lambda a, b: b + a, np.float32),
    "int64 * float32": (lambda a, b: a * b, (I64, F32), lambda a, b: a * b, np.float32),
    "int64 + float16": (lambda a, b: ops.add(a, b), (I64, F16), lambda a, b: a + b, np.float16),
    "bool + 1.5": (lambda a: a + 1.5, (B,), lambda a: a + 1.5, np.float32),
    "ops.mul(int32, float32)": (lambda a, b: ops.mul(a, b), (I32, F32), lambda a, b: a * b, np.float32),
    "ops.sub(int32, 2.5)": (lambda a: ops.sub(a, 2.5), (I32,), lambda a: a - 2.5, np.float32),
    "int32 / int32": (lambda a, b: a / b, (I32, I64.astype(np.int32)), lambda a, b: a / b, np.float32),
    "ops.div(int32, 2)": (lambda a: ops.div(a, 2), (I32,), lambda a: a / 2, np.float32),
    "int32 ** 0.5": (lambda a: ops.abs(a) ** 0.5, (I32,), lambda a: np.abs(a) ** 0.5, np.float32),
    "ops.maximum(int32, 1.5)": (lambda a: ops.maximum(a, 1.5), (I32,), lambda a: np.maximum(a, 1.5), np.float32),
    "ops.where(bool, int32, 1.5)": (lambda c, a: ops.where(c, a, 1.5), (B, I32), lambda c, a: np.where(c, a, 1.5), np.float32),
    "ops.exp(int32)": (lambda a: ops.exp(a), (I32,), np.exp, np.float32),
    "ops.sqrt(int64)": (lambda a: ops.sqrt(ops.abs(a)), (I64,), lambda a: np.sqrt(np.abs(a)), np.float32),
    "ops.sin(int32)": (lambda a: ops.sin(a), (I32,), np.sin, np.float32),
    "int32 % 1.5": (lambda a: a % 1.5, (I32,), lambda a: a % 1.5, np.float32),
    "numpy.arctan2(int32, float32)": (lambda a, b: fnp.arctan2(a, b), (I32, F32), np.arctan2, np.float32),
    "numpy.log2(int64)": (lambda a: fnp.log2(ops.abs(a)), (I64,), lambda a: np.log2(np.abs(a)), np.float32),
    "numpy.sinh(int32)": (lambda a: fnp.sinh(a), (I32,), np.sinh, np.float32),
    "int32 + 1 stays int32": (lambda a: a + 1, (I32,), lambda a: a + 1, np.int32),
    "ops.square(int32) stays int32": (lambda a: ops.square(a), (I32,), np.square, np.int32),
    "float32 * 1.5 stays float32": (lambda b: b * 1.5, (F32,), lambda b: b * 1.5, np.float32),
}


@pytest.mark.parametrize("name", CASES)
def test_mixed_int_float_ops_take_mindspores_dtype(name):
    fn, inputs, reference, dtype = CASES[name]
    expected = reference(*(np.asarray(x, np.float64) if x.dtype.kind == "f" else x for x in inputs))
    eager = fn(*(Tensor(x) for x in inputs))
    compiled = funcad.jit(fn)(*(Tensor(x) for x in inputs))
    for out in (eager, compiled):
        assert out.dtype == dtype, f"{name}: {out.dtype}"
        np.testing.assert_allclose(out.asnumpy(), np.asarray(expected).astype(dtype), rtol=1e-3 if dtype == np.float16 else 1e-6)


def test_gradient_flows_to_the_float_operand_only():
    """An int meeting a float under grad: the float gets its gradient in its own dtype, to second order."""
    i, x = Tensor(I32), Tensor(F32)

    def f(x, i):
        return ops.sum(ops.sin(x * i + 0.5 * i))

    gx = funcad.grad(f)(x, i)
    assert gx.dtype == np.float32
    expected = np.cos(F32.astype(np.float64) * I32 + 0.5 * I32) * I32
    np.testing.assert_allclose(gx.asnumpy(), expected, rtol=1e-5)
    np.testing.assert_array_equal(funcad.jit(funcad.grad(f))(x, i).asnumpy(), gx.asnumpy())
    hessian_diag = funcad.grad(lambda x, i: ops.sum(funcad.grad(f)(x, i)))(x, i)  # the cast is a constant: second order too
    np.testing.assert_allclose(hessian_diag.asnumpy(), -np.sin(F32.astype(np.float64) * I32 + 0.5 * I32) * I32 * I32, rtol=1e-5)
