"""The engine underneath the ops: deep graphs, memory release, dtype rules, operator dispatch, primitives."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import funcad
from funcad import Parameter, Tensor, ops
from funcad.testing import assert_close


def test_a_chain_of_100000_ops_differentiates():
    steps, c = 100_000, 1.00001

    def chain(x):
        for _ in range(steps):
            x = x * c
        return x

    assert_close(funcad.grad(chain)(np.array(1.5)), np.array(c**steps), rtol=1e-9)


def test_memory_of_a_finished_grad_is_released():
    seen = []

    def fn(x):
        y = ops.exp(x) * 2.0
        seen.append(weakref.ref(y._value._data))  # the intermediate's array
        return ops.sum(y * y)

    x = np.ones((256, 256))
    funcad.grad(fn)(x)
    assert seen[0]() is None  # freed by reference counting alone: no cycles hold the graph
    tracemalloc.start()
    try:
        funcad.grad(fn)(x)
        gc.collect()
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(5):
            funcad.grad(fn)(x)
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert grown < x.nbytes  # nothing of size of the 512 KiB intermediates survives


def test_deep_chain_graph_is_released():
    seen = []

    def chain(x):
        for _ in range(20_000):
            x = ops.sin(x)
        seen.append(weakref.ref(x._value._data))
        return x

    funcad.grad(chain)(np.array(0.5))
    assert seen[0]() is None


def test_python_floats_become_float32_and_float32_stays_float32():
    assert Tensor(1.5).dtype == np.float32
    assert ops.tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(np.ones(2)).dtype == np.float64
    x = Tensor(np.ones(3, np.float32))
    for out in (x * 2.5, 1.0 - x, x / 3.0, x**2.0, ops.mean(x), ops.var(x), ops.exp(x) + 1e-300):
        assert out.dtype == np.float32


FLOAT32_OPS = {
    "mean": lambda x: ops.mean(x, axis=0),
    "var": lambda x: ops.var(x, ddof=1),
    "std": lambda x: ops.std(x, axis=1),
    "logsumexp": lambda x: ops.logsumexp(x, axis=1),
    "norm": ops.norm,
    "softmax": ops.softmax,
    "cross_entropy": lambda x: ops.cross_entropy(x, np.array([0, 2]), label_smoothing=0.1),
    "bce_logits": lambda x: ops.binary_cross_entropy_with_logits(x, np.ones((2, 3), np.float32)),
    "power": lambda x: ops.power(ops.abs(x) + 1.0, 1.5),
    "clip": lambda x: ops.clip(x, -0.5, 0.5),
    "prod": lambda x: ops.prod(x, axis=1),
    "einsum": lambda x: ops.einsum("ij,ij->i", x, x),
    "pad": lambda x: ops.pad(x, 1, constant_values=2.0),
    "leaky_relu": lambda x: ops.leaky_relu(x, 0.2),
    "elu": ops.elu,
    "gelu": ops.gelu,
    "gelu_tanh": lambda x: ops.gelu(x, approximate="tanh"),
    "silu": ops.silu,
    "softplus": ops.softplus,
    "smooth_l1": lambda x: ops.smooth_l1_loss(x, np.zeros((2, 3), np.float32), reduction="mean"),
    "layer_norm": lambda x: ops.layer_norm(x, (3,)),
    "adaptive_avg_pool2d": lambda x: ops.adaptive_avg_pool2d(ops.reshape(x, (1, 1, 2, 3)), (1, 2)),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_OPS))
def test_float32_values_and_gradients_stay_float32(name):
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    fn = FLOAT32_OPS[name]
    assert fn(Tensor(x)).dtype == np.float32
    assert funcad.grad(lambda a: ops.sum(fn(a)))(x).dtype == np.float32
    assert funcad.grad(funcad.grad(lambda a: ops.sum(fn(a))))(x).dtype == np.float32


def test_numpy_arrays_on_the_left_defer_to_tensor():
    a, t = np.array([1.0, 2.0]), Tensor(np.array([3.0, 4.0]))
    for out, expected in ((a + t, [4.0, 6.0]), (a - t, [-2.0, -2.0]), (a * t, [3.0, 8.0]), (a / t, [1 / 3, 0.5]), (a**t, [1.0, 16.0])):
        assert isinstance(out, Tensor)
        assert_close(out, np.array(expected))
    assert isinstance(np.eye(2) @ t, Tensor)
    g = funcad.grad(lambda x: ops.sum(a * x + a @ x))(t)  # the scalar a @ x is broadcast over 2 elements
    assert_close(g, 3 * a)


def test_parameters_act_as_tensors_outside_transforms():
    p = Parameter(np.array([1.0, 2.0]), name="p")
    assert_close(p * 2.0, np.array([2.0, 4.0]))
    p.set_data(np.array([5.0, 6.0]))
    assert_close(ops.sum(p), np.array(11.0))
    assert p.name == "p" and p.requires_grad


def test_a_user_primitive_with_vjp_and_jvp_rules():
    cube = funcad.Primitive("cube", lambda x: x**3)
    cube.defvjp(lambda g, ans, x: g * 3.0 * x * x)
    cube.defjvp(lambda t, ans, x: t * 3.0 * x * x)
    x = np.array([1.0, -2.0])
    assert_close(funcad.grad(cube)(x), 3 * x**2)
    assert_close(funcad.grad(funcad.grad(cube))(x), 6 * x)
    assert_close(funcad.jvp(cube, (x,), (np.ones(2),))[1], 3 * x**2)


def test_primitive_declared_nondifferentiable_is_a_constant():
    frozen = funcad.Primitive("frozen", np.sin).nondifferentiable()
    assert_close(funcad.grad(lambda x: ops.sum(frozen(x) + x))(np.ones(2)), np.ones(2))
    _, tangent = funcad.jvp(lambda x: frozen(x) + x, (np.ones(2),), (np.ones(2),))
    assert_close(tangent, np.ones(2))


def test_missing_forward_rule_is_reported():
    half = funcad.Primitive("half", lambda x: x * 0.5).defvjp(lambda g, ans, x: g * 0.5)
    with pytest.raises(NotImplementedError, match="half"):
        funcad.jvp(half, (np.ones(2),), (np.ones(2),))


def test_ops_on_python_scalars_alone_give_float32():
    assert ops.exp(1.0).dtype == np.float32 and ops.sigmoid(2.0).dtype == np.float32
    assert ops.add(1, 2).dtype == np.int64
    assert ops.exp(np.float64(1.0)).dtype == np.float64  # a numpy float64 is data, not a Python literal
    assert (Tensor(np.ones(2, np.float32)) / ops.sqrt(2.0)).dtype == np.float32


def test_tensor_methods_delegate_to_ops():
    x = Tensor(np.array([[1.0, -2.0], [3.0, 4.0]]))
    assert_close(7.0 % Tensor(np.array([3.0, 4.0])), np.array([1.0, 3.0]))
    assert x.unsqueeze(0).shape == (1, 2, 2)
    assert_close(x.square(), np.asarray(x) ** 2)
    assert_close(x.pow(3), np.asarray(x) ** 3)
    assert_close(x.matmul(x), np.asarray(x) @ np.asarray(x))
    assert_close(x.norm(axis=1), np.linalg.norm(np.asarray(x), axis=1))
    assert_close(funcad.grad(lambda t: t.pow(3.0).sum())(x), 3 * np.asarray(x) ** 2)


def test_a_tracer_leaked_from_a_finished_grad_acts_as_its_value():
    leaked = []

    def keep(x):
        leaked.append(x * 2.0)
        return ops.sum(x)

    funcad.grad(keep)(np.array([1.0, 3.0]))
    stale = leaked[0]
    # Same nesting depth as the finished transform: its stale tracer must not capture this gradient.
    assert_close(funcad.grad(lambda y: ops.sum(stale * y))(np.array([1.0, 1.0])), np.array([2.0, 6.0]))
    assert_close(funcad.jvp(lambda y: stale * y, (np.array([1.0, 1.0]),), (np.array([1.0, 0.0]),))[1], np.array([2.0, 0.0]))


def test_set_seed_takes_non_negative_ints_and_resets_every_draw():
    funcad.set_seed(9)
    first = (np.asarray(funcad.nn.initializer("normal", (3,))), np.asarray(ops.dropout(np.ones(8), 0.5)), funcad.get_seed())
    funcad.set_seed(9)
    again = (np.asarray(funcad.nn.initializer("normal", (3,))), np.asarray(ops.dropout(np.ones(8), 0.5)), funcad.get_seed())
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="non-negative"):
        funcad.set_seed(-1)
    with pytest.raises(TypeError, match="int, got float"):
        funcad.set_seed(1.5)
