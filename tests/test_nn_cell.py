"""Cell registration, naming, traversal, modes and the errors that name a layer's path."""

import copy

import numpy as np
import pytest
import torch

import funcad
from funcad import Parameter, Tensor, nn


class Network(nn.Cell):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.dense_relu_sequential = nn.SequentialCell(nn.Dense(12, 8), nn.ReLU(), nn.Dense(8, 8), nn.ReLU(), nn.Dense(8, 3))

    def construct(self, x):
        return self.dense_relu_sequential(self.flatten(x))


def test_parameter_names_follow_attribute_paths_like_torch_state_dict():
    net = Network()
    names = [n for n, _ in net.parameters_and_names()]
    expected = [f"dense_relu_sequential.{i}.{k}" for i in (0, 2, 4) for k in ("weight", "bias")]
    assert names == expected
    assert [p.name for p in net.trainable_params()] == expected
    assert net.dense_relu_sequential[2].weight.shape == (8, 8)
    assert net.dense_relu_sequential[0].weight.shape == (8, 12)


def test_auto_prefix_false_adds_no_prefix_for_children_and_set_grad_records():
    """MindSpore's training wrappers are made with auto_prefix=False: their children's Parameters keep the
    names they have on their own, while parameters_and_names still gives the paths from the outer cell."""

    class Wrapper(nn.Cell):
        def __init__(self, network, auto_prefix):
            super().__init__(auto_prefix=auto_prefix)
            self.network = network
            self.scale = Parameter(np.ones(1, np.float32), name="scale")

    expected = [f"dense_relu_sequential.{i}.{k}" for i in (0, 2, 4) for k in ("weight", "bias")]
    wrapped = Wrapper(Network(), auto_prefix=False)
    assert [p.name for p in wrapped.trainable_params()] == ["scale"] + expected
    assert [n for n, _ in wrapped.parameters_and_names()] == ["scale"] + [f"network.{n}" for n in expected]
    outer = Wrapper(Wrapper(Network(), auto_prefix=False), auto_prefix=True)
    assert [p.name for p in outer.trainable_params()] == ["scale", "network.scale"] + [f"network.{n}" for n in expected]
    assert [p.name for p in Wrapper(Network(), auto_prefix=True).trainable_params()] == \
        ["scale"] + [f"network.{n}" for n in expected]
    shared = Network()
    twice = nn.SequentialCell(Wrapper(shared, auto_prefix=True), shared)  # named where traversal meets it first
    assert [p.name for p in twice.trainable_params()] == ["0.scale"] + [f"0.network.{n}" for n in expected]
    assert wrapped.requires_grad is False and wrapped.set_grad() is wrapped and wrapped.requires_grad is True
    assert wrapped.set_grad(False).requires_grad is False


def test_cells_and_names_and_trainable_filter():
    net = Network()
    assert [n for n, _ in net.cells_and_names()] == ["", "flatten", "dense_relu_sequential"] + [f"dense_relu_sequential.{i}" for i in range(5)]
    net.dense_relu_sequential[0].bias.requires_grad = False
    assert len(net.trainable_params()) == 5
    assert [p.name for p in net.untrainable_params()] == ["dense_relu_sequential.0.bias"]
    assert len(list(net.get_parameters())) == 6


def test_shared_parameter_listed_once_and_reassignment_unregisters():
    class Tied(nn.Cell):
        def __init__(self):
            super().__init__()
            self.a = nn.Dense(3, 3)
            self.b = nn.Dense(3, 3)
            self.b.weight = self.a.weight
            self.scale = Parameter(np.ones(1, np.float32))

    net = Tied()
    # torch's named_parameters order: a module's own parameters, then its children's
    assert [n for n, _ in net.parameters_and_names()] == ["scale", "a.weight", "a.bias", "b.bias"]
    net.scale = None
    assert "scale" not in dict(net.parameters_and_names())


def test_set_train_reaches_every_cell_and_defaults_to_eval():
    net = Network()
    assert not any(c.training for _, c in net.cells_and_names())
    assert net.set_train() is net
    assert all(c.training for _, c in net.cells_and_names())
    net.set_train(False)
    assert not net.dense_relu_sequential[3].training


def test_wrong_feature_size_names_layer_path_and_shapes():
    net = Network()
    with pytest.raises(ValueError, match=r"Dense 'dense_relu_sequential\.0': expected input of shape \(\*, 12\), got \(2, 10\)"):
        net(np.zeros((2, 10), np.float32))
    net.dense_relu_sequential.insert_child_to_cell("2", nn.Dense(7, 8))
    assert net.dense_relu_sequential[2].weight.name == "dense_relu_sequential.2.weight"
    with pytest.raises(ValueError, match=r"dense_relu_sequential\.2.*\(\*, 7\).*\(2, 8\)"):
        net(np.zeros((2, 12), np.float32))


def test_forgetting_super_init_is_explained():
    class Broken(nn.Cell):
        def __init__(self):
            self.w = Parameter(np.ones(2))

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_cell_list_and_sequential_indexing():
    layers = nn.CellList([nn.Dense(2, 2) for _ in range(3)])
    assert len(layers) == 3 and [n for n, _ in layers.parameters_and_names()][:2] == ["0.weight", "0.bias"]
    seq = nn.SequentialCell([nn.Dense(2, 3), nn.ReLU()]).append(nn.Dense(3, 1))
    x = np.ones((4, 2), np.float32)
    expected = np.maximum(x @ np.asarray(seq[0].weight).T + np.asarray(seq[0].bias), 0) @ np.asarray(seq[2].weight).T + np.asarray(seq[2].bias)
    np.testing.assert_allclose(np.asarray(seq(x)), expected, rtol=1e-6)


def test_torch_parameter_names_map_mindspore_names():
    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.bn = nn.BatchNorm2d(2)
            self.emb = nn.Embedding(5, 2)

    mapping = Net().torch_parameter_names()
    assert mapping["bn.gamma"] == "bn.weight" and mapping["bn.moving_variance"] == "bn.running_var"
    assert mapping["conv.weight"] == "conv.weight" and mapping["emb.embedding_table"] == "emb.weight"


def test_value_and_grad_over_cell_weights_matches_closed_form():
    funcad.set_seed(3)
    dense = nn.Dense(4, 2, dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(5, 4))

    def loss(x):
        return funcad.ops.sum(dense(x) ** 2)

    value, (gw, gb) = funcad.value_and_grad(loss, None, dense.trainable_params())(x)
    w, b = np.asarray(dense.weight), np.asarray(dense.bias)
    y = x @ w.T + b
    np.testing.assert_allclose(float(value), (y**2).sum(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gw), 2 * y.T @ x, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gb), 2 * y.sum(0), rtol=1e-12)


def test_deepcopy_keeps_paths_inside_and_cuts_the_owner_above():
    net = Network()
    clone = copy.deepcopy(net)
    assert clone.dense_relu_sequential[2].path == "dense_relu_sequential.2"
    assert clone.dense_relu_sequential[0].weight is not net.dense_relu_sequential[0].weight
    np.testing.assert_array_equal(np.asarray(clone.dense_relu_sequential[0].weight), np.asarray(net.dense_relu_sequential[0].weight))
    layer = copy.deepcopy(net.dense_relu_sequential[4])
    assert layer.path == "" and [p.name for p in layer.trainable_params()] == ["weight", "bias"]


def test_set_dtype_converts_every_float_parameter_in_place_and_to_float_runs_in_that_dtype(assert_matches_torch):
    funcad.set_seed(2)
    net = nn.SequentialCell(nn.Dense(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dense(6, 3)).set_train()
    net.steps = Parameter(np.zeros(2, np.int32), requires_grad=False)  # integer state keeps its dtype
    before = dict(net.parameters_and_names())
    assert net.set_dtype(funcad.float64).to_float(funcad.float64) is net
    after = dict(net.parameters_and_names())
    assert {n: id(p) for n, p in after.items()} == {n: id(p) for n, p in before.items()}  # same objects, same names
    assert {n: p.dtype for n, p in after.items()} == {**{n: np.dtype(np.float64) for n in after}, "steps": np.dtype(np.int32)}
    del net.steps  # torch's module has no counterpart
    module = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(), torch.nn.Linear(6, 3)).double()
    x = np.random.default_rng(0).standard_normal((5, 4))
    assert_matches_torch(net, module, x)  # float64 tolerances: every op ran in float64, the moving statistics included
    np.testing.assert_allclose(net[1].moving_mean.asnumpy(), module[1].running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(net[1].moving_variance.asnumpy(), module[1].running_var.numpy(), rtol=1e-12)
    assert net(x.astype(np.float32)).dtype == np.float64
    half = nn.Dense(4, 2).to_float(funcad.float16)
    assert half(x.astype(np.float32)).dtype == np.float16  # float inputs are cast on the way in, as MindSpore does
    with pytest.raises(ValueError, match=r"to_float takes one of float16, bfloat16, float32, float64, got int32"):
        net.to_float(funcad.int32)


def test_set_dtype_is_refused_inside_jit():
    p = Parameter(np.ones(2, np.float32), name="p")
    with pytest.raises(RuntimeError, match="'p': set_dtype cannot run inside funcad.jit"):
        funcad.jit(lambda x: p.set_dtype(np.float64) + x)(np.ones(2, np.float32))


def test_calling_a_cell_without_construct_names_the_class():
    class Incomplete(nn.Cell):
        pass

    with pytest.raises(NotImplementedError, match="Incomplete does not define construct"):
        Incomplete()(np.zeros(2, np.float32))


def test_a_parameter_made_with_a_name_keeps_it_under_the_cells_prefixes(tmp_path):
    class Scaled(nn.Cell):
        def __init__(self):
            super().__init__()
            self.w = Parameter(Tensor(np.ones(2, np.float32)), name="my_w")
            self.fc = nn.Dense(2, 2)

        def construct(self, x):
            return self.fc(x * self.w)

    class Outer(nn.Cell):
        def __init__(self):
            super().__init__()
            self.inner = Scaled()

    outer = Outer()
    assert [p.name for p in outer.get_parameters()] == ["inner.my_w", "inner.fc.weight", "inner.fc.bias"]
    assert [name for name, _ in outer.parameters_and_names()] == ["inner.w", "inner.fc.weight", "inner.fc.bias"]
    funcad.save_checkpoint(outer, tmp_path / "outer.ckpt")
    assert sorted(funcad.load_checkpoint(tmp_path / "outer.ckpt")) == ["inner.fc.bias", "inner.fc.weight", "inner.my_w"]


def test_children_and_parameters_registered_by_name_read_as_attributes():
    from collections import OrderedDict

    seq = nn.SequentialCell(OrderedDict([("dense1", nn.Dense(4, 8)), ("act", nn.ReLU())]))
    assert seq.dense1 is seq[0] and seq.act is seq[1]
    cell = nn.Cell()
    cell.insert_child_to_cell("fc", nn.Dense(2, 2))
    cell.insert_param_to_cell("scale", funcad.Parameter(funcad.Tensor(np.ones(2, np.float32)), name="scale"))
    assert isinstance(cell.fc, nn.Dense) and np.array_equal(cell.scale.asnumpy(), np.ones(2))
    with pytest.raises(AttributeError, match="'Cell' object has no attribute 'missing'"):
        _ = cell.missing
    assert not hasattr(cell, "missing")
