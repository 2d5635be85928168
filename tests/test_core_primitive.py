"""What a primitive declares, and what the interpreters do with it: completeness, missing rules, constants by nature."""

from __future__ import annotations

import ast
import importlib
import pathlib
import pkgutil

import numpy as np
import pytest
from op_cases import CASES, NOT_DIFFERENTIABLE

import funcad
from funcad import ops
from funcad.core.primitive import UNDECLARED, Primitive, compiled_as_call, numpy_ufunc
from funcad.jit import jit
from funcad.testing import assert_close

FUNCAD = pathlib.Path(funcad.__file__).parent
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # the isnan/isinf cases make nan and inf


def _funcad_primitives() -> dict:
    """Every Primitive bound at module level in funcad's modules (every public op is built from these)."""
    found = {}
    for info in pkgutil.walk_packages([str(FUNCAD)], "funcad."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, Primitive):
                found[f"{info.name}.{name}"] = value
    return found


PRIMITIVES = _funcad_primitives()


def test_every_primitive_declares_every_field():
    incomplete = {name: prim.undeclared() for name, prim in PRIMITIVES.items() if prim.undeclared()}
    assert not incomplete, f"primitives missing declarations: {incomplete}"
    assert len(PRIMITIVES) > 60


def test_every_differentiable_primitive_has_rules_for_both_modes():
    for name, prim in PRIMITIVES.items():
        assert prim.differentiable in (True, False), name
        if prim.differentiable:
            assert len(prim.vjps) and len(prim.vjps) == len(prim.jvps), f"{name}: {len(prim.vjps)} VJP and {len(prim.jvps)} JVP rules"
        else:
            assert not prim.vjps and not prim.jvps, name


def test_a_new_primitive_starts_undeclared():
    fresh = Primitive("fresh", np.sin)
    assert fresh.undeclared() == list(Primitive.FIELDS)
    assert fresh.emit is UNDECLARED and not fresh.emit
    fresh.declare(**compiled_as_call()).nondifferentiable()
    assert fresh.undeclared() == []
    with pytest.raises(TypeError, match="fresh: unknown declarations \\['inplace'\\]"):
        fresh.declare(inplace=True)


def test_future_fields_are_open():
    prim = Primitive("later", np.cos, batch=lambda args, dims: (args[0], dims[0]), tune=lambda node: np.cos)
    assert prim.batch is not None and prim.tune is not None


def _imports(path: pathlib.Path) -> set:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("package", ["core", "jit"])
def test_core_and_jit_import_nothing_from_ops(package):
    for path in (FUNCAD / package).glob("*.py"):
        reached = {m for m in _imports(path) if m == "funcad.ops" or m.startswith("funcad.ops.")}
        assert not reached, f"{path.name} imports {reached}"


def test_the_compiler_reads_a_user_primitive_s_declarations():
    times = Primitive("times", np.multiply, **numpy_ufunc("multiply", 2, identities={1: 1}))
    times.defelementwise(lambda v, ans, x, y: v * y, lambda v, ans, x, y: v * x)
    x = np.arange(6.0).reshape(2, 3)
    scaled = jit(lambda a: times(a, 3.0) + 1.0)
    assert "np.multiply(v0, 3.0" in scaled.lower(x).source  # its own emitter, inline
    assert_close(scaled(x), x * 3.0 + 1.0)
    same = jit(lambda a: times(a, 1.0) + 1.0)
    assert "times" not in same.lower(x).as_text()  # its declared identity: x * 1 is x
    assert_close(funcad.grad(lambda a: ops.sum(times(a, a)))(x), 2.0 * x)
    # it declares broadcasts: the passes sum a broadcast argument's cotangent back and broadcast its tangent
    assert_close(funcad.grad(lambda row: ops.sum(times(x, row)))(np.ones(3)), x.sum(axis=0))
    _, tangent = funcad.jvp(lambda row: times(x, row), (np.ones(3),), (np.full(3, 2.0),))
    assert_close(tangent, 2.0 * x)


# -- missing rules and constants by nature ------------------------------------------------------
def test_a_primitive_without_a_vjp_rule_raises_naming_it_and_the_argument():
    half = funcad.Primitive("half", lambda x: x * 0.5).defjvp(lambda t, ans, x: t * 0.5)
    with pytest.raises(NotImplementedError, match="funcad.ops.half: no reverse-mode \\(VJP\\) rule for argument 0"):
        funcad.grad(lambda x: ops.sum(half(x)))(np.ones(2))


def test_a_rule_missing_for_one_argument_raises_for_that_argument_only():
    scale = funcad.Primitive("scale", np.multiply).defvjp(lambda g, ans, x, s: g * s).defjvp(lambda t, ans, x, s: t * s)
    assert_close(funcad.grad(lambda x: ops.sum(scale(x, 3.0)))(np.ones(2)), np.full(2, 3.0))
    with pytest.raises(NotImplementedError, match="funcad.ops.scale: no reverse-mode \\(VJP\\) rule for argument 1"):
        funcad.grad(lambda s: ops.sum(scale(np.ones(2), s)))(np.float64(2.0))
    with pytest.raises(NotImplementedError, match="funcad.ops.scale: no forward-mode \\(JVP\\) rule for argument 1"):
        funcad.jvp(lambda s: scale(np.ones(2), s), (np.float64(2.0),), (np.float64(1.0),))


def test_an_undeclared_primitive_raises_in_both_modes():
    bare = funcad.Primitive("bare", np.sin)
    with pytest.raises(NotImplementedError, match="funcad.ops.bare: no reverse-mode"):
        funcad.grad(lambda x: ops.sum(bare(x)))(np.ones(2))
    with pytest.raises(NotImplementedError, match="funcad.ops.bare: no forward-mode"):
        funcad.jvp(bare, (np.ones(2),), (np.ones(2),))


def test_an_unused_rule_less_primitive_does_not_raise():
    bare = funcad.Primitive("bare", np.sin)
    grad, aux = funcad.grad(lambda x: (ops.sum(x * 2.0), bare(x)), has_aux=True)(np.ones(2))
    assert_close(grad, np.full(2, 2.0))
    assert_close(aux[0], np.sin(np.ones(2)))


def test_the_non_differentiable_ops_are_the_declared_ones():
    assert set(NOT_DIFFERENTIABLE) == {
        "floor_divide", "floor", "ceil", "round", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
        "logical_and", "logical_or", "logical_xor", "logical_not", "isnan", "isinf", "isfinite", "argmax", "argmin", "sign", "trunc", "any", "all",
        "sgn", "signbit", "isposinf", "isneginf", "Rint", "Trunc",
        # MindSpore's names for comparisons and orders, functional and as primitive classes
        "ge", "gt", "le", "lt", "eq", "ne", "isclose", "argsort", "FloorDiv", "Floor", "Ceil", "Round", "Sign", "Equal", "NotEqual",
        "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr", "LogicalNot", "IsNan", "IsInf", "IsFinite",
        "ReduceAll", "ReduceAny"}


@pytest.mark.parametrize("name", sorted(NOT_DIFFERENTIABLE))
def test_a_non_differentiable_op_gives_zero_gradients_in_both_modes(name):
    fn, args = CASES[name]
    floats = tuple(i for i, a in enumerate(args) if a.dtype.kind == "f")
    grads = funcad.grad(lambda *xs: ops.sum(ops.cast(fn(*xs), np.float64)), grad_position=floats)(*args)
    for g in (grads if isinstance(grads, tuple) else (grads,)):
        np.testing.assert_array_equal(np.asarray(g), 0.0)
    _, tangent = funcad.jvp(lambda *xs: ops.cast(fn(*xs), np.float64), args, tuple(np.ones_like(a) for a in args))
    np.testing.assert_array_equal(np.asarray(tangent), 0.0)


# -- what can be differentiated ---------------------------------------------------------------------
def returns_none(x):
    return None


@pytest.mark.parametrize("fn, shown", [
    (returns_none, "'returns_none' must be Tensors, got NoneType|nothing"),
    (lambda x: "loss", "'<lambda>' must be Tensors, got str 'loss'"),
    (lambda x: 3.0, "got float 3.0"),
    (lambda x: [1.0, 2.0], "got float 1.0, float 2.0"),
])
def test_grad_of_a_non_tensor_output_is_a_type_error(fn, shown):
    with pytest.raises(TypeError, match=shown):
        funcad.grad(fn)(np.ones(2))
    with pytest.raises(TypeError, match=shown):
        funcad.value_and_grad(fn)(np.ones(2))
    with pytest.raises(TypeError, match="vjp: the outputs"):
        funcad.vjp(fn, np.ones(2))


# -- complex numbers: accepted by the ops whose rules handle them, refused by every other op ---------------
Z = np.array([1.0 + 2.0j, -3.0 + 0.5j])


def test_grad_of_a_complex_output_is_refused_and_names_the_way_out():
    with pytest.raises(TypeError, match="grad: the differentiated output of '<lambda>' is complex; .*ops.real or ops.abs"):
        funcad.grad(lambda z: ops.sum_to(z * z, ()))(Z)


@pytest.mark.parametrize("op", [
    lambda: ops.exp(Z),
    lambda: ops.sum(Z),
    lambda: ops.var(Z),
    lambda: ops.std(Z),
    lambda: ops.norm(Z),
    lambda: ops.matmul(Z, Z),
    lambda: ops.power(Z, 2.0),
    lambda: funcad.grad(lambda z: ops.real(ops.sin(z * z)).sum())(Z),
    lambda: jit(lambda z: ops.tanh(z))(Z),
])
def test_ops_whose_rules_assume_real_numbers_refuse_complex_values(op):
    with pytest.raises(TypeError, match="funcad.ops.\\w+: complex values are not supported"):
        op()


# -- variadic rules take the argument's position: no limit on the count ------------------------------------
def test_concat_of_many_pieces_differentiates_each():
    pieces = [np.full((1, 2), float(k)) for k in range(70)]
    weights = np.arange(140.0).reshape(70, 2)
    grads = funcad.grad(lambda *xs: ops.sum(ops.concat(xs, axis=0) * weights), tuple(range(70)))(*pieces)
    for k, g in enumerate(grads):
        np.testing.assert_array_equal(np.asarray(g), weights[k : k + 1])
    _, tangent = funcad.jvp(lambda *xs: ops.concat(xs, axis=0), tuple(pieces), tuple(np.ones((1, 2)) * k for k in range(70)))
    np.testing.assert_array_equal(np.asarray(tangent), np.repeat(np.arange(70.0), 2).reshape(70, 2))


def test_einsum_of_twenty_operands_differentiates_each():
    rng = np.random.default_rng(3)
    vectors = [rng.uniform(0.5, 1.5, 3) for _ in range(20)]
    spec = ",".join("i" * 20) + "->"
    grads = funcad.grad(lambda *vs: ops.einsum(spec, *vs), tuple(range(20)))(*vectors)
    for k, g in enumerate(grads):
        others = np.prod([v for j, v in enumerate(vectors) if j != k], axis=0)  # d/dv_k of sum_i prod_j v_j[i]
        assert_close(g, others, rtol=1e-12)


def test_an_error_class_with_its_own_constructor_still_names_the_op():
    """numpy's ufunc loop errors take other arguments than a message: the op's error is then their plain base class."""
    with pytest.raises(TypeError, match=r"funcad.ops.matmul: .*did not contain a loop .*\(inputs: <U1\[1, 1\], float64\[1, 1\]\)"):
        ops.matmul(np.array([["a"]]), np.ones((1, 1)))
