"""funcad.jit: signatures and retracing, state write-back, clear errors, what the passes leave in the IR."""

from __future__ import annotations

import warnings
import weakref

import numpy as np
import pytest

import funcad
from funcad import nn, ops
from funcad.jit import ConcretizationError, jit

RNG = np.random.default_rng(3)


def _batches(n, batch=6, features=5, classes=3):
    return [(RNG.standard_normal((batch, features)).astype(np.float32), RNG.integers(0, classes, batch)) for _ in range(n)]


def _model(optimizer: str, batch_norm: bool):
    """The seed's pattern: value_and_grad over the trainable weights, then optimizer(grads), in one train_step."""
    funcad.set_seed(11)
    layers = [nn.Dense(5, 8)] + ([nn.BatchNorm1d(8)] if batch_norm else []) + [nn.ReLU(), nn.Dense(8, 3)]
    net = nn.SequentialCell(layers).set_train()
    params = net.trainable_params()
    opt = {
        "SGD": lambda: nn.SGD(params, 0.1),
        "SGD-momentum": lambda: nn.SGD(params, 0.05, momentum=0.9, dampening=0.1, weight_decay=1e-3),
        "Momentum": lambda: nn.Momentum(params, 0.05, 0.9, weight_decay=1e-3, use_nesterov=True),
        "Adam": lambda: nn.Adam(params, 1e-2, weight_decay=1e-3),
        "AdamWeightDecay": lambda: nn.AdamWeightDecay(params, 1e-2, weight_decay=1e-2),
    }[optimizer]()
    loss_fn = nn.CrossEntropyLoss()

    def forward_fn(inputs, targets):
        logits = net(inputs)
        return loss_fn(logits, targets), logits

    grad_fn = funcad.value_and_grad(forward_fn, None, opt.parameters, has_aux=True)

    def train_step(inputs, targets):
        (loss, _), grads = grad_fn(inputs, targets)
        opt(grads)
        return loss

    state = [p for _, p in net.parameters_and_names()] + [v for v in vars(opt).values() if isinstance(v, funcad.Parameter)]
    for value in vars(opt).values():
        if isinstance(value, tuple) and value and isinstance(value[0], funcad.Parameter) and value is not opt.parameters:
            state += list(value)
    return train_step, state


@pytest.mark.parametrize("batch_norm", [False, True], ids=["mlp", "mlp_bn"])
@pytest.mark.parametrize("optimizer", ["SGD", "SGD-momentum", "Momentum", "Adam", "AdamWeightDecay"])
def test_jitted_steps_leave_the_state_eager_steps_leave(optimizer, batch_norm):
    batches = _batches(4)
    eager_step, eager_state = _model(optimizer, batch_norm)
    eager_losses = [eager_step(x, y).asnumpy() for x, y in batches]
    step, state = _model(optimizer, batch_norm)
    compiled = jit(step)
    losses = [compiled(x, y).asnumpy() for x, y in batches]
    assert compiled.trace_count == 1
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6, atol=0)
    names = [p.name for p in state]
    assert len(state) == len(eager_state) and len(set(map(id, state))) == len(state)
    if batch_norm:
        assert any("moving_mean" in n for n in names) and any("moving_variance" in n for n in names)
    for p, q in zip(state, eager_state):
        assert p.name == q.name and p.dtype == q.dtype
        np.testing.assert_allclose(p.asnumpy(), q.asnumpy(), rtol=1e-6, atol=1e-7, err_msg=p.name)
    changed = [p.name for p, q in zip(state, _model(optimizer, batch_norm)[1]) if not np.array_equal(p.asnumpy(), q.asnumpy())]
    assert "global_step" in changed and "learning_rate" not in changed and len(changed) >= len(state) - 2  # the rate stays


def test_new_shape_traces_again_repeated_shape_does_not():
    f = jit(lambda x, y: ops.sum(x * y, axis=0))
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2.0, np.float32)
    f(a, b)
    f(a + 1, b)
    assert f.trace_count == 1
    np.testing.assert_array_equal(np.asarray(f(np.ones((4, 3), np.float32), np.ones((4, 3), np.float32))), np.full(3, 4.0))
    assert f.trace_count == 2
    f(a.astype(np.float64), b.astype(np.float64))
    assert f.trace_count == 3
    f(a, b)
    assert f.trace_count == 3


def test_pytree_structure_and_static_values_are_part_of_the_signature():
    @jit
    def f(pair, scale=1.0):
        if isinstance(pair, dict):
            return pair["a"] * scale
        return pair[0] * scale + pair[1]

    x = funcad.Tensor(np.arange(3, dtype=np.float32))
    np.testing.assert_array_equal(np.asarray(f((x, x))), [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(np.asarray(f({"a": x})), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(f({"a": x}, scale=3.0)), [0.0, 3.0, 6.0])
    assert f.trace_count == 3
    np.testing.assert_array_equal(np.asarray(f((x, x))), [0.0, 2.0, 4.0])
    assert f.trace_count == 3
    with pytest.raises(TypeError, match="neither an array nor hashable"):
        f({"a": x}, scale={1.0})


def test_reading_a_traced_value_in_python_is_a_clear_error():
    def readout(x):
        return x * float(x.sum())

    with pytest.raises(ConcretizationError, match=r"'readout'.*test_jit_api\.py:\d+"):
        jit(readout)(np.ones(3, np.float32))
    with pytest.raises(ConcretizationError, match="item"):
        jit(lambda x: x.sum().item())(np.ones(3, np.float32))
    with pytest.raises(ConcretizationError):
        jit(lambda x: x.asnumpy())(np.ones(3, np.float32))
    with pytest.raises(ConcretizationError):
        jit(lambda x: np.asarray(x) + 1.0)(np.ones(3, np.float32))
    shaped = jit(lambda x: x * 2.0 if x.shape[0] > 2 else x)  # control flow on shapes is fine
    np.testing.assert_array_equal(np.asarray(shaped(np.ones(3, np.float32))), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(np.asarray(shaped(np.ones(2, np.float32))), [1.0, 1.0])


def test_printed_ir_keeps_only_what_the_passes_should_leave():
    w = funcad.Parameter(np.ones((4, 3), np.float32), name="w")

    def f(x):
        unused = ops.exp(x)  # noqa: F841 - dead code
        same = ops.transpose(ops.transpose(x)) * 1.0 + 0.0
        return ops.sum(ops.matmul(same, w) + ops.matmul(same, w))

    lowered = jit(funcad.grad(f)).lower(np.ones((2, 4), np.float32))
    text = lowered.as_text()
    ops_used = [line.split("= ")[1].split("(")[0] for line in text.splitlines() if " = " in line and "param" not in line]
    # the dead exp, the double transpose, x * 1 and x + 0 are gone; the two equal products are one;
    # only the gradient of x is returned, so the forward products and the gradient of w are never computed
    assert sorted(ops_used) == ["add", "matmul", "transpose"], text
    assert "def program" in lowered.source and "np.matmul" in lowered.source
    expected = funcad.grad(f)(np.ones((2, 4), np.float32))
    np.testing.assert_array_equal(np.asarray(jit(funcad.grad(f))(np.ones((2, 4), np.float32))), np.asarray(expected))


def test_python_side_effects_happen_at_trace_time_only():
    seen = []

    @jit
    def f(x):
        seen.append(x.shape)  # runs while tracing, not on later calls
        return x + 1.0

    for _ in range(3):
        f(np.zeros(2, np.float32))
    assert seen == [(2,)]
    f(np.zeros(5, np.float32))
    assert seen == [(2,), (5,)]


def test_results_of_earlier_calls_are_never_overwritten():
    f = jit(lambda x: ops.relu(ops.matmul(x, x.T) + 1.0) * 2.0)
    a = RNG.standard_normal((4, 4)).astype(np.float32)
    first = f(a)
    kept = first.asnumpy()
    f(a * 3.0)
    np.testing.assert_array_equal(first.asnumpy(), kept)


def test_parameter_writes_and_reads_inside_one_call():
    p = funcad.Parameter(np.zeros(3, np.float32), name="p")
    count = funcad.Parameter(np.array(0, np.int32), name="count", requires_grad=False)

    @jit
    def accumulate(x):
        p.set_data(p + x)
        p.set_data(p * 2.0)  # reads see the value written just before
        count.set_data(count + 1)
        return p

    x = np.ones(3, np.float32)
    out = accumulate(x)
    accumulate(x)
    np.testing.assert_array_equal(np.asarray(out), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(p.asnumpy(), [6.0, 6.0, 6.0])
    assert count.asnumpy() == 2 and count.dtype == np.int32
    p.set_data(np.zeros((2, 3), np.float32))  # an eager write of a new shape: the program no longer fits, so it traces again
    accumulate(x)
    assert accumulate.trace_count == 2
    np.testing.assert_array_equal(p.asnumpy(), np.full((2, 3), 2.0))


def test_inside_another_transform_the_function_runs_eagerly():
    f = jit(lambda x: ops.sum(ops.sin(x) * x))
    x = np.linspace(0.0, 1.0, 4).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(funcad.grad(f)(x)), np.asarray(funcad.grad(lambda x: ops.sum(ops.sin(x) * x))(x)))
    assert f.trace_count == 0


def test_parameter_arrays_someone_holds_are_never_recycled():
    p = funcad.Parameter(np.zeros(4, np.float32), name="p")
    step = jit(lambda x: p.set_data(p + x))
    x = np.ones(4, np.float32)
    step(x)
    held = np.asarray(p)  # a reference to the current array: later steps must not write into it
    for _ in range(4):
        step(x)
    np.testing.assert_array_equal(held, np.ones(4))
    np.testing.assert_array_equal(p.asnumpy(), np.full(4, 5.0))


def test_an_update_overwrites_the_parameter_array_only_when_nobody_holds_it():
    train_step, state = _model("SGD", False)
    step = jit(train_step)
    batches = _batches(4)
    step(*batches[0])
    weight = state[0]
    before = weakref.ref(weight._data)
    step(*batches[1])
    assert weight._data is before()  # nothing held the array: the new value was computed into it
    held = np.asarray(weight)
    snapshot = held.copy()
    step(*batches[2])
    np.testing.assert_array_equal(held, snapshot)
    assert weight._data is not held


def test_a_failing_call_leaves_parameters_as_they_were():
    """The update is computed before an op that can fail at run time (a traced class index): nothing is written."""
    p = funcad.Parameter(np.ones((2, 3), np.float32), name="p")

    def step(logits, target):
        ops.assign_sub(p, logits * 0.5)
        return ops.cross_entropy(p * logits, target)

    jitted = jit(step)
    logits = np.ones((2, 3), np.float32)
    jitted(logits, np.array([0, 2]))
    after_one = p.asnumpy()
    with pytest.raises(IndexError, match="target values must lie in"):
        jitted(logits, np.array([0, 7]))
    np.testing.assert_array_equal(p.asnumpy(), after_one)


@pytest.mark.parametrize("options", [{"passes": (), "buffers": False}, {"passes": ("dce",), "buffers": True}], ids=["bare", "dce-only"])
def test_unoptimised_programs_compute_the_same(options):
    batches = _batches(3)
    reference_step, reference_state = _model("Momentum", True)
    reference = jit(reference_step)
    step, state = _model("Momentum", True)
    compiled = jit(step, **options)
    for x, y in batches:
        np.testing.assert_array_equal(np.asarray(compiled(x, y)), np.asarray(reference(x, y)))
    for p, q in zip(state, reference_state):
        np.testing.assert_array_equal(p.asnumpy(), q.asnumpy(), err_msg=p.name)
    with pytest.raises(ValueError, match="unknown passes"):
        jit(step, passes=("inline",))(*batches[0])


def test_a_cell_compiles_and_its_mode_is_baked_in_until_the_cache_is_cleared():
    funcad.set_seed(5)
    net = nn.SequentialCell([nn.Dense(4, 3), nn.BatchNorm1d(3)]).set_train()
    x = RNG.standard_normal((6, 4)).astype(np.float32)
    forward = jit(net)
    np.testing.assert_array_equal(np.asarray(forward(x)), np.asarray(net(x)))  # both update the running statistics
    net.set_train(False)
    train_mode = np.asarray(forward(x))  # still the training-mode program: Python state is read at trace time
    forward.clear_cache()
    np.testing.assert_array_equal(np.asarray(forward(x)), np.asarray(net(x)))
    assert not np.allclose(train_mode, np.asarray(net(x)))


def test_global_generator_draws_while_tracing_warn_that_they_are_baked_in():
    funcad.set_seed(1)
    f = jit(lambda x: x + nn.initializer("normal", (4, 4), np.float32))
    x = np.ones((4, 4), np.float32)
    with pytest.warns(RuntimeWarning, match="constants of the compiled program"):
        first = np.asarray(f(x))
    np.testing.assert_array_equal(np.asarray(f(x)), first)  # the same numbers again: the documented behaviour
    for fn in (lambda x: ops.dropout(x, 0.5, seed=3), lambda x: ops.dropout(x, 0.5)):  # dropout keeps its state in funcad
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            jit(fn)(x)


def test_forward_mode_and_second_derivatives_compile():
    x = np.linspace(-1.0, 1.0, 5).astype(np.float32)
    tangent = np.ones(5, np.float32)

    def jvp_of_tanh(x):
        return funcad.jvp(ops.tanh, x, funcad.Tensor(tangent))

    second = funcad.grad(lambda x: ops.sum(funcad.grad(lambda y: ops.sum(ops.sin(y) * y))(x)))
    for fn in (jvp_of_tanh, second):
        eager = fn(x)
        compiled = jit(fn)(x)
        for e, c in zip(funcad.core.pytree.flatten(eager)[0], funcad.core.pytree.flatten(compiled)[0]):
            np.testing.assert_array_equal(np.asarray(c), np.asarray(e))
    np.testing.assert_allclose(np.asarray(jit(second)(x)), 2 * np.cos(x) - x * np.sin(x), rtol=1e-5, atol=1e-6)


def test_writing_a_constant_and_a_float64_value_inside_jit():
    p = funcad.Parameter(np.ones(3, np.float32), name="p")

    @jit
    def reset_then_add(x):
        p.set_data(np.zeros(3))  # a constant, float64: stored in p's dtype as set_data does
        before = p + 0.0
        p.set_data(p + ops.cast(x, np.float64))
        return before

    out = reset_then_add(np.full(3, 2.0, np.float32))
    reset_then_add(np.full(3, 2.0, np.float32))
    np.testing.assert_array_equal(np.asarray(out), np.zeros(3))
    assert p.dtype == np.float32
    np.testing.assert_array_equal(p.asnumpy(), np.full(3, 2.0))


def test_deep_graphs_compile_without_recursion():
    def deep(x):
        for _ in range(2000):
            x = ops.sin(x) * 1.0 + 0.0
        return ops.sum(x)

    x = np.linspace(0.0, 1.0, 4).astype(np.float32)
    compiled = jit(funcad.grad(deep))
    np.testing.assert_array_equal(np.asarray(compiled(x)), np.asarray(funcad.grad(deep)(x)))
    # per step sin, cos and a product of cotangents; gone: x * 1.0, + 0.0, the last sin (dead), the product with the ones seed
    assert len(compiled.lower(x).graph.nodes) == 3 * 2000 - 2
