"""funcad.export / funcad.load: the compiled graph as JSON plus weights as npz, run again by nn.GraphCell."""

import json
import zipfile

import numpy as np
import pytest

import funcad
from funcad import Parameter, Tensor, nn, ops
from funcad.testing import check_grads


class LeNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, pad_mode="valid")
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2, 2)
        self.flatten = nn.Flatten()
        self.fc = nn.Dense(4 * 3 * 3, 5)
        self.dropout = nn.Dropout(p=0.3)

    def construct(self, x):
        x = self.pool(ops.relu(self.bn(self.conv(x))))
        return ops.softmax(self.dropout(self.fc(self.flatten(x))), axis=-1), x[:, :2, ..., ::2]


def _trained_lenet():
    funcad.set_seed(0)
    net = LeNet()
    net.set_train()
    net(Tensor(np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)))  # moving statistics move
    return net


def test_loaded_graph_cell_equals_the_cell_and_keeps_its_training_mode(tmp_path):
    net = _trained_lenet()
    x = Tensor(np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32))
    path = funcad.export(net, x, file_name=str(tmp_path / "lenet"))
    assert path.endswith("lenet.funcad") and net.training  # the Cell is left in training mode
    graph = funcad.load(path)
    assert isinstance(graph, nn.GraphCell)
    net.set_train(False)
    expected = net(x)
    probs, pooled = graph(x)
    np.testing.assert_allclose(probs.asnumpy(), expected[0].asnumpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(pooled.asnumpy(), expected[1].asnumpy(), rtol=1e-6, atol=1e-7)
    saved = dict(graph.parameters_and_names())
    assert set(saved) == {name for name, _ in net.parameters_and_names()}  # the eval forward reads every one
    for name, p in net.parameters_and_names():
        np.testing.assert_array_equal(saved[name].asnumpy(), p.asnumpy())
    again = nn.GraphCell(graph)  # MindSpore's spelling: nn.GraphCell(mindspore.load(...))
    np.testing.assert_array_equal(again(x)[0].asnumpy(), probs.asnumpy())
    np.testing.assert_array_equal(funcad.jit(graph)(x)[0].asnumpy(), probs.asnumpy())


def test_the_file_is_json_and_npz_without_pickle(tmp_path):
    net = _trained_lenet()
    x = Tensor(np.zeros((1, 1, 8, 8), np.float32))
    path = funcad.export(net, x, file_name=str(tmp_path / "model"), file_format="MINDIR")
    assert path.endswith("model.mindir")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["graph.json", "weights.npz"]
        doc = json.loads(archive.read("graph.json"))
        archive.extract("weights.npz", tmp_path)
    with np.load(tmp_path / "weights.npz", allow_pickle=False) as weights:
        np.testing.assert_array_equal(weights["weight:conv.weight"], net.conv.weight.asnumpy())
        np.testing.assert_array_equal(weights["weight:bn.moving_mean"], net.bn.moving_mean.asnumpy())
    assert doc["format"] == "funcad-graph" and doc["inputs"] == [{"var": 0, "shape": [1, 1, 8, 8], "dtype": "float32"}]
    ops_used = [node["op"] for node in doc["nodes"]]
    assert any("conv" in op for op in ops_used) and any("pool" in op for op in ops_used)


def test_graph_cell_gradients_equal_the_cells(tmp_path):
    funcad.set_seed(3)
    net = nn.SequentialCell(nn.Dense(4, 6), nn.Tanh(), nn.Dense(6, 2))
    x = Tensor(np.random.default_rng(3).standard_normal((5, 4)))
    net.set_dtype(funcad.float64)
    graph = funcad.load(funcad.export(net, x, file_name=str(tmp_path / "mlp")))
    expected = funcad.grad(lambda x: (net(x) ** 2).sum(), 0, net.trainable_params())(x)
    got = funcad.grad(lambda x: (graph(x) ** 2).sum(), 0, graph.trainable_params())(x)
    np.testing.assert_allclose(got[0].asnumpy(), expected[0].asnumpy(), rtol=1e-12)
    for g, e in zip(got[1], expected[1]):
        np.testing.assert_allclose(g.asnumpy(), e.asnumpy(), rtol=1e-12)
    check_grads(lambda x: graph(x), (x,), order=2)


def test_a_loaded_convolution_graph_is_unfused_and_differentiable(tmp_path):
    """funcad.jit fuses conv -> bias -> ReLU; the exported graph keeps the ops apart, so gradients flow through it."""
    funcad.set_seed(4)
    net = nn.SequentialCell(nn.Conv2d(2, 3, 3, has_bias=True), nn.ReLU())
    x = Tensor(np.random.default_rng(4).standard_normal((2, 2, 6, 6)))
    net.set_dtype(funcad.float64)
    assert "conv_fused(" in funcad.jit(lambda x: net(x)).lower(x).as_text()
    graph = funcad.load(funcad.export(net, x, file_name=str(tmp_path / "convrelu")))
    np.testing.assert_array_equal(graph(x).asnumpy(), net(x).asnumpy())
    expected = funcad.grad(lambda x: (net(x) ** 2).sum(), 0, net.trainable_params())(x)
    got = funcad.grad(lambda x: (graph(x) ** 2).sum(), 0, graph.trainable_params())(x)
    np.testing.assert_allclose(got[0].asnumpy(), expected[0].asnumpy(), rtol=1e-12)
    for g, e in zip(got[1], expected[1]):
        np.testing.assert_allclose(g.asnumpy(), e.asnumpy(), rtol=1e-12)


def test_export_and_load_errors(tmp_path):
    net = nn.Dense(3, 2)
    x = Tensor(np.zeros((1, 3), np.float32))
    graph = funcad.load(funcad.export(net, x, file_name=str(tmp_path / "d")))
    with pytest.raises(ValueError, match=r"input 0 must be float32\[1, 3\] as exported, got float32\[2, 3\]"):
        graph(Tensor(np.zeros((2, 3), np.float32)))
    with pytest.raises(ValueError, match="file_format must be one of FUNCAD, MINDIR, got 'ONNX'"):
        funcad.export(net, x, file_name=str(tmp_path / "d"), file_format="ONNX")
    with pytest.raises(TypeError, match="input 0 must be a Tensor or an array, got list"):
        funcad.export(net, [1.0, 2.0, 3.0], file_name=str(tmp_path / "d"))

    class Counting(nn.Cell):
        def __init__(self):
            super().__init__()
            self.count = Parameter(np.zeros((), np.float32), name="count", requires_grad=False)

        def construct(self, x):
            ops.assign_add(self.count, 1.0)
            return x * 2

    with pytest.raises(ValueError, match=r"Counting's forward changes Parameters \(count\)"):
        funcad.export(Counting(), x, file_name=str(tmp_path / "c"))
    (tmp_path / "junk.funcad").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a graph written by funcad.export"):
        funcad.load(tmp_path / "junk.funcad")
    with pytest.raises(FileNotFoundError, match="no such file"):
        funcad.load(tmp_path / "missing.funcad")
