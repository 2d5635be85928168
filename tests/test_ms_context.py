"""set_context/get_context, GRAPH_MODE compiling a Cell's construct, @jit on methods, jit's MindSpore options,
ParameterTuple, and to_float computing in low precision on float32 master Parameters."""

import numpy as np
import pytest

import funcad
from funcad import Parameter, ParameterTuple, Tensor, nn, ops
from funcad.context import reset_context


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.dense_relu_sequential = nn.SequentialCell(nn.Dense(12, 8), nn.ReLU(), nn.Dropout(p=0.5), nn.Dense(8, 3))
        self.calls = 0

    def construct(self, x):
        self.calls += 1  # a Python side effect: once per trace in GRAPH_MODE, once per call eagerly
        return self.dense_relu_sequential(self.flatten(x))


def _reference(net, x):
    """The eval-mode forward written in numpy from the parameters."""
    w1, b1, w2, b2 = (p.asnumpy() for p in net.trainable_params())
    h = np.maximum(x.reshape(len(x), -1) @ w1.T + b1, 0)
    return h @ w2.T + b2


def test_context_keys_are_checked_recorded_and_reset():
    assert funcad.get_context("mode") == funcad.PYNATIVE_MODE and funcad.get_context("device_target") == "CPU"
    funcad.set_context(mode=funcad.GRAPH_MODE, device_target="GPU", jit_config={"jit_level": "O1"}, max_call_depth=50)
    assert funcad.get_context("mode") == funcad.GRAPH_MODE == funcad.context.GRAPH_MODE
    assert funcad.get_context("device_target") == "GPU" and funcad.get_context("jit_config") == {"jit_level": "O1"}
    with pytest.raises(ValueError, match="unknown key\\(s\\) 'mdoe'"):
        funcad.set_context(mdoe=0)
    with pytest.raises(ValueError, match="mode must be GRAPH_MODE \\(0\\) or PYNATIVE_MODE \\(1\\), got 3"):
        funcad.set_context(mode=3)
    with pytest.raises(ValueError, match="device_target must be one of CPU, GPU, Ascend, got 'TPU'"):
        funcad.set_context(device_target="TPU")
    with pytest.raises(ValueError, match="get_context: unknown key 'colour'"):
        funcad.get_context("colour")
    reset_context()
    assert funcad.get_context("mode") == funcad.PYNATIVE_MODE and funcad.get_context("jit_config") is None


def test_graph_mode_compiles_construct_once_per_signature_and_training_flags():
    funcad.set_seed(0)
    net = Net()
    x = np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32)
    eager = net(Tensor(x)).asnumpy()
    assert net.calls == 1
    funcad.set_context(mode=funcad.GRAPH_MODE)
    for _ in range(3):
        out = net(Tensor(x))
    assert net.calls == 2  # traced once, then the compiled program ran
    np.testing.assert_array_equal(out.asnumpy(), eager)
    np.testing.assert_allclose(out.asnumpy(), _reference(net, x), rtol=1e-5, atol=1e-6)
    net(Tensor(x[:2]))
    assert net.calls == 3  # a new input shape traces again
    net.set_train(True)  # Dropout now active: a different program
    funcad.set_seed(1)
    train_graph = net(Tensor(x)).asnumpy()
    assert net.calls == 4
    funcad.set_context(mode=funcad.PYNATIVE_MODE)
    funcad.set_seed(1)
    np.testing.assert_array_equal(net(Tensor(x)).asnumpy(), train_graph)  # same masks as eager execution


def test_graph_mode_cell_inside_grad_runs_eagerly_for_the_outer_transform():
    funcad.set_seed(0)
    net = Net()
    x = Tensor(np.random.default_rng(1).standard_normal((4, 12)).astype(np.float32))
    grad_fn = funcad.grad(lambda x: net(x).sum(), None, net.trainable_params())
    eager = grad_fn(x)
    funcad.set_context(mode=funcad.GRAPH_MODE)
    for g, e in zip(grad_fn(x), eager):
        np.testing.assert_array_equal(g.asnumpy(), e.asnumpy())


def test_jit_on_construct_keeps_self_and_each_instance_compiles_its_own():
    class JitNet(Net):
        @funcad.jit
        def construct(self, x):
            self.calls += 1
            return self.dense_relu_sequential(self.flatten(x))

    funcad.set_seed(2)
    a, b = JitNet(), JitNet()
    x = np.random.default_rng(2).standard_normal((3, 12)).astype(np.float32)
    for _ in range(2):
        out_a, out_b = a(Tensor(x)), b(Tensor(x))
    assert (a.calls, b.calls) == (1, 1)
    np.testing.assert_allclose(out_a.asnumpy(), _reference(a, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_b.asnumpy(), _reference(b, x), rtol=1e-5, atol=1e-6)
    assert a.construct is a.construct and a.construct is not b.construct
    assert type(JitNet.__dict__["construct"]).__name__ == "Jitted"
    clone = __import__("copy").deepcopy(a)
    np.testing.assert_array_equal(clone(Tensor(x)).asnumpy(), out_a.asnumpy())


def test_jit_on_a_plain_method_and_mindspore_options():
    class Scaler:
        def __init__(self, k):
            self.k = k

        @funcad.jit(mode="PSJit", jit_level="O1", input_signature=None)
        def apply(self, x):
            return ops.sin(x) * self.k

    x = Tensor(np.array([0.1, 0.7]))
    np.testing.assert_allclose(Scaler(3.0).apply(x).asnumpy(), 3.0 * np.sin([0.1, 0.7]), rtol=1e-15)
    with pytest.raises(ValueError, match="jit_level must be one of O0, O1, O2, got 'O9'"):
        funcad.jit(lambda x: x, jit_level="O9")
    with pytest.raises(TypeError, match="unknown option 'fast'"):
        funcad.jit(lambda x: x, fast=True)


def test_parameter_tuple_checks_items_and_clones():
    w = Parameter(np.array([1.0, 2.0], np.float32), name="w")
    b = Parameter(np.array([3.0], np.float32), name="b")
    params = ParameterTuple([w, b])
    assert isinstance(params, tuple) and params == (w, b)
    moments = params.clone("moment1", init="zeros")
    assert [p.name for p in moments] == ["moment1.w", "moment1.b"]
    np.testing.assert_array_equal(moments[0].asnumpy(), [0.0, 0.0])
    same = params.clone("copy")
    np.testing.assert_array_equal(same[0].asnumpy(), [1.0, 2.0])
    assert same[0] is not w
    with pytest.raises(TypeError, match=r"ParameterTuple: params\[1\] is a Tensor, not a Parameter"):
        ParameterTuple([w, Tensor([1.0])])
    with pytest.raises(ValueError, match=r"ParameterTuple: params\[1\] \(w\) appears more than once"):
        ParameterTuple([w, w])


def test_to_float_keeps_float32_master_parameters_and_float16_gradients_come_back_float32():
    funcad.set_seed(4)
    dense = nn.Dense(4, 3).to_float(funcad.float16)
    x = np.random.default_rng(4).standard_normal((6, 4)).astype(np.float32)
    out = dense(Tensor(x))
    assert out.dtype == np.float16 and dense.weight.dtype == np.float32 and isinstance(dense.weight, Parameter)
    w, b = dense.weight.asnumpy(), dense.bias.asnumpy()
    expected = x.astype(np.float16) @ w.astype(np.float16).T + b.astype(np.float16)
    np.testing.assert_allclose(out.asnumpy(), expected, rtol=2e-3, atol=2e-3)
    gw, gb = funcad.grad(lambda x: dense(x).astype(funcad.float32).sum(), None, dense.trainable_params())(Tensor(x))
    assert gw.dtype == np.float32 and gb.dtype == np.float32
    np.testing.assert_allclose(gw.asnumpy(), np.ones((3, 6), np.float16) @ x.astype(np.float16), rtol=2e-3)
    np.testing.assert_array_equal(gb.asnumpy(), np.full(3, 6.0))


def test_to_float_updates_too_small_for_float16_still_accumulate_in_the_master_weights():
    dense = nn.Dense(2, 1, weight_init="ones", bias_init="zeros").to_float(funcad.float16)
    opt = nn.SGD(dense.trainable_params(), learning_rate=1e-5)
    grad_fn = funcad.value_and_grad(lambda x: dense(x).astype(funcad.float32).sum(), None, opt.parameters)
    x = Tensor(np.ones((1, 2), np.float32))
    for _ in range(10):
        _, grads = grad_fn(x)
        opt(grads)
    # each step subtracts 1e-5 * 1 in float32; in float16 1 - 1e-5 rounds back to 1 and nothing would change
    w = np.float32(1.0)
    for _ in range(10):
        w = np.float32(w - np.float32(1e-5))
    np.testing.assert_array_equal(dense.weight.asnumpy(), np.full((1, 2), w))
    assert dense.weight.asnumpy()[0, 0] < 1.0


def test_to_float_inside_jit_and_graph_mode_equals_eager():
    funcad.set_seed(5)
    net = nn.SequentialCell(nn.Dense(4, 5).to_float(funcad.float16), nn.ReLU(), nn.Dense(5, 2))
    x = Tensor(np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32))
    eager = net(x).asnumpy()
    np.testing.assert_array_equal(funcad.jit(lambda x: net(x))(x).asnumpy(), eager)
    funcad.set_context(mode=funcad.GRAPH_MODE)
    np.testing.assert_array_equal(net(x).asnumpy(), eager)
    assert [p.dtype for p in net.trainable_params()] == [np.float32] * 4
