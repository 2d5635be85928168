"""torch_ref.mirror of user Cells by tracing construct: loops, branches on the training mode, funcad ops called directly,
tied weights; values and every gradient against torch autograd in float64; errors that name the primitive and the line."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from user_primitive import UsesHalve

import funcad
from funcad import nn, ops
from tests.twin_check import assert_same_model
from torch_ref.layer_table import TranslationError
from torch_ref.mirror import mirror, mirror_twin
from torch_ref.to_funcad import funcad_twin
from torch_ref.traced import TracedConstruct

RNG = np.random.default_rng(5)


def _float64(cell: nn.Cell) -> nn.Cell:
    for _, p in cell.parameters_and_names():  # away from initial ones and zeros, so a dropped parameter shows
        if p.requires_grad:
            p.set_data(np.asarray(p) + RNG.uniform(0.1, 0.5, p.shape))
    return cell.set_dtype(funcad.float64)


class LoopResidual(nn.Cell):
    """A Python loop over a CellList with a residual add, a final norm and a Parameter of its own."""

    def __init__(self, width: int = 5, depth: int = 3):
        super().__init__()
        self.layers = nn.CellList([nn.Dense(width, width, activation="tanh") for _ in range(depth)])
        self.norm = nn.LayerNorm((width,))
        self.gain = funcad.Parameter(np.full(width, 0.7), name="gain")

    def construct(self, x):
        for layer in self.layers:
            x = x + layer(x)
        return self.norm(x) * self.gain


class Attention(nn.Cell):
    """Scaled dot-product attention written with ops: matmul, transpose, softmax, reshape, concat, mean, getitem."""

    def __init__(self, width: int = 4, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Dense(width, 3 * width)
        self.out = nn.Dense(2 * width, 3)

    def construct(self, x):
        n, t, d = x.shape
        q, k, v = ops.split(self.qkv(x), d, axis=-1)
        q = ops.transpose(ops.reshape(q, (n, t, self.heads, d // self.heads)), (0, 2, 1, 3))
        k = ops.transpose(ops.reshape(k, (n, t, self.heads, d // self.heads)), (0, 2, 1, 3))
        v = ops.transpose(ops.reshape(v, (n, t, self.heads, d // self.heads)), (0, 2, 1, 3))
        scores = ops.softmax(ops.matmul(q, ops.swapaxes(k, -1, -2)) / np.sqrt(d // self.heads), axis=-1)
        h = ops.reshape(ops.transpose(ops.matmul(scores, v), (0, 2, 1, 3)), (n, t, d))
        pooled = ops.concat([ops.mean(h, axis=1), ops.exp(-ops.square(h[:, 0]))], axis=-1)
        return ops.log_softmax(self.out(pooled), axis=-1), ops.maximum(scores, 0.25)


class Branchy(nn.Cell):
    """Branches on the training mode, as a Cell may: the mirror follows torch's train()/eval()."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 3)

    def construct(self, x):
        if self.training:
            x = self.fc(x)
        return -x if not self.training else ops.relu(x)


@pytest.mark.parametrize("make, x", [(LoopResidual, RNG.standard_normal((4, 5))), (Attention, RNG.standard_normal((2, 3, 4)))],
                         ids=["loop_residual", "attention_ops"])
@pytest.mark.parametrize("train", [True, False])
def test_a_traced_construct_matches_torch_in_values_and_gradients(make, x, train):
    funcad.set_seed(1)
    cell = _float64(make())
    twin = mirror_twin(cell)
    assert isinstance(twin.module, TracedConstruct)
    assert_same_model(cell, twin.module, twin.parameter_names, x, train=train)
    back = funcad_twin(twin.module)  # and back: the Cell's own construct over the copied weights
    assert_same_model(back.cell, twin.module, back.parameter_names, x, train=train)


def test_the_graph_module_keeps_layers_as_modules_and_runs_primitives_as_torch_functions():
    funcad.set_seed(1)
    cell = _float64(LoopResidual())
    module = mirror(cell)
    graph_module = module.graph_module(torch.zeros(4, 5, dtype=torch.float64))
    assert isinstance(graph_module, torch.fx.GraphModule) and type(graph_module).__name__ == "LoopResidual"
    calls = [n.target for n in graph_module.graph.nodes if n.op == "call_module"]
    assert calls == ["layers.0", "layers.1", "layers.2", "norm"]  # the loop unrolled
    assert [n.target for n in graph_module.graph.nodes if n.op == "get_attr"] == ["gain"]
    assert "add(" in graph_module.code and "multiply(" in graph_module.code
    assert module.graph_module(torch.zeros(4, 5, dtype=torch.float64)) is graph_module  # one trace per signature
    assert module.graph_module(torch.zeros(2, 5, dtype=torch.float64)) is not graph_module


def test_branches_on_the_training_mode_follow_train_and_eval():
    funcad.set_seed(1)
    cell = _float64(Branchy())
    twin = mirror_twin(cell)
    x = RNG.standard_normal((4, 3))
    for train in (True, False):
        assert_same_model(cell, twin.module, twin.parameter_names, x, train=train)
    assert cell.training is False  # tracing leaves the Cell's own mode alone


class SharedBlock(nn.Cell):
    """One Dense called twice, and an Embedding table tied to the output layer's weight (as language models do)."""

    def __init__(self, vocab: int = 7, width: int = 4):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.mix = nn.Dense(width, width)
        self.again = self.mix
        self.head = nn.Dense(width, vocab)
        self.head.weight = self.embed.embedding_table

    def construct(self, tokens):
        h = self.again(ops.tanh(self.mix(self.embed(tokens))))
        return self.head(h) + ops.matmul(h, ops.transpose(self.embed.embedding_table, (1, 0)))


def test_tied_cells_and_parameters_mirror_to_one_torch_module_and_parameter():
    funcad.set_seed(2)
    cell = _float64(SharedBlock())
    twin = mirror_twin(cell)
    module = twin.module
    assert module.again is module.mix and module.head.weight is module.embed.weight
    assert [n for n, _ in module.named_parameters()] == ["embed.weight", "mix.weight", "mix.bias", "head.bias"]
    tokens = RNG.integers(0, 7, (3, 5))
    assert_same_model(cell, module, twin.parameter_names, tokens, train=True)  # gradients summed over every use


class DataDependent(nn.Cell):
    def construct(self, x):
        if ops.sum(x) > 0:
            return x
        return -x


def test_untranslatable_constructs_name_the_primitive_or_the_value_and_the_source_line():
    x = torch.zeros(2, 3)
    holder = nn.SequentialCell(nn.Dense(3, 3), nn.SequentialCell(UsesHalve()))
    with pytest.raises(TranslationError, match=r"UsesHalve at '1.0': construct cannot be mirrored: primitive 'halve' has no torch "
                                               r"translation .* at .*user_primitive.py:\d+: return halve\(h\)"):
        mirror(holder)(x)
    with pytest.raises(TranslationError, match=r"DataDependent at the root: construct cannot be mirrored: a traced value is needed in "
                                               r"Python .* at .*test_mirror_traced.py:\d+: if ops.sum\(x\) > 0:"):
        mirror(DataDependent())(x)


class Counted(nn.Cell):
    """Counts its calls in a Parameter it writes in construct: state the torch twin would not keep."""

    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(3, 2)
        self.calls = funcad.Parameter(funcad.Tensor(np.zeros((), np.float32)), name="calls", requires_grad=False)

    def construct(self, x):
        ops.assign_add(self.calls, funcad.Tensor(np.ones((), np.float32)))
        return ops.relu(self.dense(x))


def test_a_construct_writing_its_parameters_is_refused_naming_them():
    with pytest.raises(TranslationError, match=r"Counted at the root: construct cannot be mirrored: it writes Parameters \(calls\)"):
        mirror(Counted())(torch.zeros(4, 3))


class WithDropout(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 3)
        self.drop = nn.Dropout(p=0.5)

    def construct(self, x):
        return self.drop(self.fc(x)) + x


def test_a_layer_swapped_after_tracing_is_the_one_the_graph_runs():
    module = mirror(WithDropout()).train()
    x = torch.ones(4, 3)
    graph_module = module.graph_module(x)
    module.drop = torch.nn.Dropout(0.25)
    assert module.graph_module(x) is graph_module and graph_module.get_submodule("drop") is module.drop
    module.fc = torch.nn.Identity()
    module.eval()
    np.testing.assert_array_equal(module(x).numpy(), 2 * np.ones((4, 3), np.float32))


def test_tracing_calls_no_hook_and_copies_trace_afresh():
    module = mirror(WithDropout()).eval()
    calls = []
    module.fc.register_forward_hook(lambda mod, args, out: calls.append(out.shape))
    module(torch.ones(4, 3))  # traced on this first call: the layers' shapes come from runs the hooks do not see
    assert calls == [torch.Size([4, 3])]
    twin = copy.deepcopy(module)
    assert twin._graphs == {} and twin.fc is not module.fc
    np.testing.assert_array_equal(twin(torch.ones(4, 3)).detach().numpy(), module(torch.ones(4, 3)).detach().numpy())


def test_tracing_restores_a_construct_set_on_a_layer_instance():
    cell = LoopResidual().set_dtype(funcad.float32)
    recorded = cell.norm.construct  # as a layer capture sets one on the instance
    object.__setattr__(cell.norm, "construct", recorded)
    mirror(cell)(torch.zeros(2, 5))
    assert cell.norm.__dict__["construct"] is recorded and "construct" not in cell.layers[0].__dict__


class Masked(nn.Cell):
    """Keyword arguments: a tensor (an input of the graph) and a number (fixed in it); a branch on an argument's presence."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(4, 4)

    def construct(self, x, mask=None, scale=2.0):
        h = self.fc(x) * scale
        if mask is not None:
            h = ops.where(mask, h, -1e9)
        return ops.softmax(h, axis=-1)


def test_keyword_arguments_reach_the_traced_construct():
    funcad.set_seed(4)
    cell = _float64(Masked())
    twin = mirror_twin(cell)
    x, mask = RNG.standard_normal((3, 4)), RNG.uniform(size=(3, 4)) > 0.3
    assert_same_model(cell, twin.module, twin.parameter_names, x, train=True, kwargs={"mask": mask, "scale": 3.0})
    assert_same_model(cell, twin.module, twin.parameter_names, x, train=True)
    graph_module = twin.module.graph_module(torch.from_numpy(x), mask=torch.from_numpy(mask), scale=3.0)
    assert [n.name for n in graph_module.graph.nodes if n.op == "placeholder"] == ["x", "mask"]


class FunctionalDropout(nn.Cell):
    """ops.dropout called in construct, following the Cell's mode."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(6, 6)

    def construct(self, x):
        return self.fc(ops.dropout(x, p=0.5, training=self.training))


def test_dropout_called_in_construct_mirrors_to_torch_dropout_with_the_same_masks_when_aligned():
    from torch_ref.dropout import aligned_masks, set_mask_key

    cell = _float64(FunctionalDropout()).set_train(True)
    module = mirror(cell).train()
    x = RNG.standard_normal((5, 6))
    set_mask_key(9, 0, "funcad")
    set_mask_key(9, 0, "torch")
    with aligned_masks():
        ours, theirs = np.asarray(cell(funcad.Tensor(x))), module(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(theirs, ours, rtol=1e-12, atol=1e-14)
    free = [module(torch.tensor(x)).detach().numpy() for _ in range(2)]  # torch's own generator, a fresh mask per call
    assert np.abs(free[0] - free[1]).max() > 1e-6
    np.testing.assert_allclose(mirror(cell.set_train(False)).eval()(torch.tensor(x)).detach().numpy(), np.asarray(cell(funcad.Tensor(x))),
                               rtol=1e-12, atol=1e-14)


class OwnConstruct(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(3, 2)

    def construct(self, x):
        return ops.tanh(self.dense(x)) * 2


def test_a_mirror_first_traced_inside_torch_func_transforms_gives_per_sample_gradients():
    module = mirror(OwnConstruct())  # not called yet: its first trace happens under vmap(grad)
    params = {name: p.detach() for name, p in module.named_parameters()}
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))

    def loss(p, sample):
        return torch.func.functional_call(module, p, (sample[None],)).sum()

    per_sample = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0))(params, x)
    for i in range(5):
        leaves = {name: p.clone().requires_grad_() for name, p in params.items()}
        expected = torch.autograd.grad(loss(leaves, x[i]), list(leaves.values()))
        for name, g in zip(leaves, expected):
            torch.testing.assert_close(per_sample[name][i], g)


def test_a_hook_on_a_cell_is_refused_naming_the_cell_as_the_twin_would_run_without_it():
    net = nn.SequentialCell(nn.Dense(3, 4), nn.ReLU(), nn.Dense(4, 2))

    def doubled(cell, inputs, output):
        return output * 2

    handle = net[2].register_forward_hook(doubled)
    with pytest.raises(TranslationError, match=r"Dense at '2': its forward hook 'doubled' would not run in the torch twin"):
        mirror(net)
    handle.remove()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(mirror(net)(torch.from_numpy(x)).detach().numpy(), net(funcad.Tensor(x)).asnumpy(), rtol=1e-5, atol=1e-6)
