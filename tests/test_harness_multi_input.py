"""Models taking several inputs in the harness: ``construct(self, x1, x2)``, ``forward(self, ids, mask)``. A batch is
``((x1, x2), y)``; both sides run ``model(*inputs)``, floating inputs in the run's dtype, integer and boolean ones as
they are; drawn batches take one ``input_shape``/``--input-shape`` (and dtype) per input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import funcad
import harness
from funcad import nn, ops
from harness import cli
from harness.cases import OptimizerSpec, user_case
from harness.usermodel import synthetic_batches

FAST = ["--steps", "2", "--no-timing", "--dtype", "float32"]


class FuncadPair(nn.Cell):
    """Two float inputs: one gates the other."""

    def __init__(self):
        super().__init__()
        self.left, self.right, self.head = nn.Dense(6, 8), nn.Dense(6, 8), nn.Dense(8, 3)

    def construct(self, x1, x2):
        return self.head(ops.tanh(self.left(x1)) * ops.sigmoid(self.right(x2)))


class TorchPair(torch.nn.Module):
    """``FuncadPair`` written by hand in torch; ``swap`` feeds the inputs the wrong way round (a wrong twin)."""

    def __init__(self, swap: bool = False):
        super().__init__()
        self.left, self.right, self.head = torch.nn.Linear(6, 8), torch.nn.Linear(6, 8), torch.nn.Linear(8, 3)
        self.swap = swap

    def forward(self, x1, x2):
        if self.swap:
            x1, x2 = x2, x1
        return self.head(torch.tanh(self.left(x1)) * torch.sigmoid(self.right(x2)))


class MaskedBag(torch.nn.Module):
    """Token ids and a padding mask: the mean of the unmasked embeddings, then a Linear."""

    def __init__(self):
        super().__init__()
        self.embed, self.out = torch.nn.Embedding(10, 4), torch.nn.Linear(4, 3)

    def forward(self, ids, mask):
        h = self.embed(ids) * mask.unsqueeze(-1)
        return self.out(h.sum(1) / mask.sum(1, keepdim=True).clamp(min=1))


class BoolMaskedBag(MaskedBag):
    """As ``MaskedBag`` with a boolean mask, as torch code writes padding masks."""

    def forward(self, ids, mask):
        h = self.embed(ids).masked_fill(~mask.unsqueeze(-1), 0.0)
        return self.out(h.sum(1))


def _pairs(count: int = 2, batch: int = 5, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((batch, 6)).astype(np.float32), rng.standard_normal((batch, 6)).astype(np.float32)),
             rng.integers(0, 3, batch)) for _ in range(count)]


def _token_batches(count: int = 2, batch: int = 6, length: int = 5, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        ids = rng.integers(0, 10, (batch, length))
        mask = (np.arange(length) < rng.integers(1, length + 1, (batch, 1))).astype(np.float32)  # every row keeps a token
        out.append(((ids, mask), rng.integers(0, 3, batch)))
    return out


def test_a_two_input_cell_passes_against_its_mirror_and_a_hand_written_twin():
    funcad.set_seed(0)
    cell = FuncadPair()
    mirrored = harness.compare(cell, input_shape=[(6, 6), (6, 6)], steps=2, timing=False, layers=True)
    assert mirrored.passed and set(mirrored.grads["dtype"]) == {"float32", "float64"}
    assert set(mirrored.grads["parameter"]) == {"left.weight", "left.bias", "right.weight", "right.bias", "head.weight", "head.bias"}
    assert mirrored.grads[mirrored.grads["dtype"] == "float64"]["max_abs"].max() < 1e-12
    assert list(mirrored.layers.table["layer"]) == ["left", "right", "head"]
    assert "(float32[6, 6], float32[6, 6])" in mirrored.result.data
    twin = harness.compare(cell, TorchPair(), data=_pairs(), steps=3, timing=False, optimizer="adam", learning_rate=1e-2, per_sample=True)
    assert twin.passed and twin.grads[twin.grads["dtype"] == "float64"]["max_abs"].max() < 1e-12
    assert len(twin.per_sample) == 6 and set(twin.per_sample["verdict"]) == {"pass"}


def test_a_twin_that_swaps_the_inputs_fails_the_verdict():
    funcad.set_seed(0)
    result = harness.compare(FuncadPair(), TorchPair(swap=True), data=_pairs(), steps=2, timing=False)
    assert not result.passed
    assert {"left.weight", "right.weight"} <= set(result.failures()["parameter"].dropna())


def test_both_engines_take_each_input_in_order_and_their_gradients_are_torch_autograd_s():
    """The step-0 loss and gradients of both engines on ((x1, x2), y), in float64, against torch autograd on the same
    weights; swapping x1 and x2 changes them, so an engine feeding one input twice or out of order cannot pass."""
    funcad.set_seed(0)
    cell = FuncadPair()
    (x, y), = _pairs(1)
    pair = user_case(cell, None, "cross_entropy", OptimizerSpec("sgd", 0.1), [(x, y)]).build("float64")
    reference = TorchPair().double()
    with torch.no_grad():
        for name, p in cell.parameters_and_names():
            reference.get_parameter(name).copy_(torch.from_numpy(np.asarray(p, np.float64)))
    loss = torch.nn.functional.cross_entropy(reference(*(torch.from_numpy(a.astype(np.float64)) for a in x)), torch.from_numpy(y))
    loss.backward()
    with torch.no_grad():
        swapped = torch.nn.functional.cross_entropy(reference(*(torch.from_numpy(a.astype(np.float64)) for a in x[::-1])), torch.from_numpy(y))
    assert abs(swapped.item() - loss.item()) > 1e-3
    for engine in (pair.funcad, pair.torch):
        value, grads = engine.loss_and_grads(x, y)
        assert value == pytest.approx(loss.item(), rel=1e-12)
        for name, g in grads.items():
            np.testing.assert_allclose(g, reference.get_parameter(name).grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_floating_inputs_take_the_run_s_dtype_integer_and_boolean_ones_keep_theirs():
    ids, mask, scale = np.zeros((2, 3), np.int32), np.ones((2, 3), bool), np.ones((2, 3), np.float32)
    pair = user_case(FuncadPair(), None, "cross_entropy", OptimizerSpec("sgd", 0.1), _pairs(1)).build("float64")
    f_inputs, _ = pair.funcad.prepare((scale, ids, mask), np.zeros(2, np.int64))
    t_inputs, _ = pair.torch.prepare((scale, ids, mask), np.zeros(2, np.int64))
    assert [np.dtype(t.dtype) for t in f_inputs] == [np.float64, np.int32, np.bool_]
    assert [t.dtype for t in t_inputs] == [torch.float64, torch.int64, torch.bool]


def test_a_torch_module_taking_token_ids_and_a_float_mask_compares_through_to_funcad():
    torch.manual_seed(0)
    result = harness.compare(MaskedBag(), data=_token_batches(), steps=3, timing=False, optimizer="adam", learning_rate=1e-2,
                             layers=True, per_sample=True)
    assert result.passed and set(result.grads["parameter"]) == {"embed.embedding_table", "out.weight", "out.bias"}
    assert result.grads[result.grads["dtype"] == "float64"]["max_abs"].max() < 1e-12
    assert set(result.per_sample["verdict"]) == {"pass"} and "embed" in set(result.layers.table["layer"])
    assert "(int64[6, 5], float32[6, 5])" in result.result.data


def test_drawn_inputs_follow_each_shape_and_dtype_and_a_bool_mask_runs_in_mixed_precision_with_timing():
    torch.manual_seed(0)
    result = harness.compare(BoolMaskedBag(), input_shape=[(6, 5), (6, 5)], input_dtype=["int64", "bool"], steps=2, dtype="mixed")
    assert result.passed and "(int64[6, 5], bool[6, 5])" in result.result.data
    assert {"funcad", "torch"} <= set(result.timings["engine"])
    batches = synthetic_batches(FuncadPair(), [(4, 6), (4, 6)], ["float64", "float64"], "cross_entropy", steps=3)
    assert len(batches) == 3 and all(a.dtype == np.float64 and a.shape == (4, 6) for (x, _), _ in zip(batches, range(3)) for a in x)
    (ids, mask), labels = synthetic_batches(BoolMaskedBagCell(), [(8, 5), (8, 5)], ["int32", "bool"], "cross_entropy", classes=3, steps=1)[0]
    assert ids.dtype == np.int32 and 0 <= ids.min() and ids.max() < 10 and mask.dtype == np.bool_ and labels.shape == (8,)


class BoolMaskedBagCell(nn.Cell):
    """A funcad Cell taking token ids and a boolean mask."""

    def __init__(self):
        super().__init__()
        self.embed, self.out = nn.Embedding(10, 4), nn.Dense(4, 3)

    def construct(self, ids, mask):
        return self.out(ops.sum(self.embed(ids) * ops.expand_dims(mask, -1).astype(funcad.float32), 1))


def test_a_single_dtype_serves_every_input():
    torch.manual_seed(0)
    result = harness.compare(FuncadPair(), input_shape=[(4, 6), (4, 6)], input_dtype="float64", steps=1, dtype="float64", timing=False)
    assert result.passed and "(float64[4, 6], float64[4, 6])" in result.result.data


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": [(4, 6), (4, 6)], "input_dtype": ["float32", "float32", "int64"]},
     "input_dtype: 3 dtypes (float32, float32, int64) for 2 inputs; give one per input, in order, or one for all"),
    ({"input_shape": [(4, 6), (4, 6)], "input_dtype": ["float32", "complex64"]}, "input_dtype: unknown dtype complex64"),
    ({"input_shape": (4, 6)}, r"input_shape: 1 input per batch, but FuncadPair.construct takes 2 (x1, x2); give one shape per input"),
    ({"input_shape": [(4, 6), (4, 5)]}, "input_shape (4, 5): the model rejects input 2 of 2, of shape (4, 5) and dtype float32: Dense 'right'"),
    ({"data": [((np.zeros((4, 6), np.float32),) * 3, np.zeros(4, np.int64))]},
     "data: 3 inputs per batch, but FuncadPair.construct takes 2 (x1, x2); give each batch's inputs as a tuple of arrays"),
    ({"data": [(np.zeros((4, 6), np.float32), np.zeros((4, 6), np.float32), np.zeros(4, np.int64))]},
     "data: batch 0 is not an (inputs, target) pair; several inputs go in a tuple: ((x1, x2), y)"),
    ({"data": [((np.zeros((4, 6), np.float32),) * 2, (np.zeros(4, np.int64), np.zeros(4, np.int64)))]},
     "data: batch 0's target is 2 arrays ((4,), (4,)); the loss takes one target array"),
    ({"data": _pairs(1) + [((np.zeros((5, 6), np.float32), np.zeros((5, 4), np.float32)), np.zeros(5, np.int64))]},
     "data: batch 1 has input 2 of shape (5, 4) and dtype float32, batch 0 (5, 6) and float32"),
    ({"data": _pairs(1) + [((np.zeros((5, 6), np.float32),), np.zeros(5, np.int64))]}, "data: batch 1 has 1 inputs, batch 0 2"),
], ids=["dtype_count", "dtype_unknown", "too_few_shapes", "shape_rejected", "too_many_arrays", "not_a_pair", "two_targets", "ragged_input",
        "input_count_changes"])
def test_bad_multi_input_data_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError) as err:
        harness.compare(FuncadPair(), steps=1, timing=False, **kwargs)
    assert message in str(err.value)


class SharedProjection(nn.Cell):
    """A batch and a (6, 6) matrix shared by the whole batch: no per-sample split of the second input."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(6, 3)

    def construct(self, x, projection):
        return self.fc(ops.matmul(x, projection))


def test_per_sample_gradients_are_not_computed_for_an_input_shared_by_the_batch():
    rng = np.random.default_rng(0)
    data = [((rng.standard_normal((4, 6)).astype(np.float32), rng.standard_normal((6, 6)).astype(np.float32)), rng.integers(0, 3, 4))]
    result = harness.compare(SharedProjection(), data=data, steps=1, timing=False, per_sample=True)
    assert result.passed and result.per_sample.empty
    assert "the inputs ((4, 6), (6, 6)) and the target (4,) do not share a batch axis" in result.result.per_sample.skipped


class LogScale(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(6, 3)

    def construct(self, x, scale):
        return self.fc(x) * ops.log(scale)


def test_the_first_nan_of_a_two_input_model_is_located_on_both_sides():
    rng = np.random.default_rng(0)
    data = [((rng.standard_normal((4, 6)).astype(np.float32), -np.ones((4, 3), np.float32)), rng.integers(0, 3, 4))]
    result = harness.compare(LogScale(), data=data, steps=1, dtype="float32", timing=False)
    assert not result.passed
    origin = result.result.nonfinite_origin.set_index("side")
    assert "log" in origin.loc["funcad", "op"] and "log" in origin.loc["torch", "op"]


USER_MODULE = textwrap.dedent('''
    import numpy as np
    import torch
    from funcad import nn, ops


    class Pair(nn.Cell):
        def __init__(self):
            super().__init__()
            self.left, self.right, self.head = nn.Dense(6, 8), nn.Dense(6, 8), nn.Dense(8, 3)

        def construct(self, x1, x2):
            return self.head(ops.tanh(self.left(x1)) * ops.sigmoid(self.right(x2)))


    class MaskedBag(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.out = torch.nn.Embedding(10, 4), torch.nn.Linear(4, 3)

        def forward(self, ids, mask):
            return self.out(self.embed(ids).masked_fill(~mask.unsqueeze(-1), 0.0).sum(1))


    def make_pair():
        return Pair()

    def make_masked_bag():
        return MaskedBag()

    def pair_batches():
        rng = np.random.default_rng(1)
        return [((rng.standard_normal((5, 6)).astype(np.float32), rng.standard_normal((5, 6)).astype(np.float32)), rng.integers(0, 3, 5))
                for _ in range(3)]

    def triples():
        return [(np.zeros((5, 6), np.float32), np.zeros((5, 6), np.float32), np.zeros(5, np.int64))]
''')


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    (tmp_path / "multi_models.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)


def _verdicts(folder: str) -> set:
    return {row["verdict"] for row in json.loads(Path(folder, "metrics.json").read_text())["summary"]}


@pytest.mark.parametrize("flags", [
    ["--model", "multi_models:make_pair", "--input-shape", "8,6", "--input-shape", "8,6", "--layers", "--per-sample"],
    ["--model", "multi_models:make_masked_bag", "--from", "torch", "--input-shape", "8,5", "--input-shape", "8,5",
     "--input-dtype", "int64", "--input-dtype", "bool", "--optimizer", "adam", "--lr", "1e-2"],
    ["--model", "multi_models:make_pair", "--data", "multi_models:pair_batches"],
], ids=["two_floats", "ids_and_bool_mask", "data"])
def test_the_cli_runs_a_multi_input_model_and_its_verdict_passes(user_models, flags, capsys):
    assert cli.main(["run", *flags, *FAST, "--out", "reports/multi"]) == 0
    assert "all verdicts pass" in capsys.readouterr().out
    assert _verdicts("reports/multi") == {"pass"}


def test_explain_rebuilds_a_multi_input_run(user_models, capsys):
    flags = ["--model", "multi_models:make_masked_bag", "--from", "torch", "--input-shape", "8,5", "--input-shape", "8,5",
             "--input-dtype", "int64", "--input-dtype", "bool"]
    assert cli.main(["run", *flags, *FAST, "--out", "reports/m"]) == 0
    saved = json.loads(Path("reports/m/metrics.json").read_text())["run"]["model"]
    assert saved["input_shape"] == ["8,5", "8,5"] and saved["input_dtype"] == ["int64", "bool"]
    capsys.readouterr()
    assert cli.main(["explain", "reports/m", "--param", "out.weight"]) == 0
    assert capsys.readouterr().out.startswith("== make_masked_bag: out.weight")


@pytest.mark.parametrize("flags, message", [
    (["--model", "multi_models:make_pair", "--input-shape", "8,6"],
     "--input-shape 8,6: 1 input per batch, but Pair.construct takes 2 (x1, x2); give one shape per input, in order"),
    (["--model", "multi_models:make_pair", "--input-shape", "8,6", "--input-shape", "8,6", "--input-shape", "8,6"],
     "3 inputs per batch, but Pair.construct takes 2 (x1, x2)"),
    (["--model", "multi_models:make_masked_bag", "--from", "torch", "--input-shape", "8,5", "--input-shape", "8,5",
      "--input-dtype", "int64", "--input-dtype", "bool", "--input-dtype", "int64"],
     "--input-dtype: 3 dtypes (int64, bool, int64) for 2 inputs; give one per input, in order, or one for all"),
    (["--model", "multi_models:make_pair", "--input-shape", "8,6", "--input-shape", "8,5"],
     "--input-shape 8,5: the model rejects input 2 of 2, of shape (8, 5) and dtype float32: Dense 'right'"),
    (["--model", "multi_models:make_pair", "--input-shape", "8,6", "--input-shape", "8,x"], "--input-shape 8,x: expected comma-separated"),
    (["--model", "multi_models:make_masked_bag", "--from", "torch", "--input-shape", "8,5", "--input-shape", "8,5", "--input-dtype", "int64"],
     "--input-shape 8,5 --input-shape 8,5: the torch side rejects its 2 inputs (input 1 of shape (8, 5) and dtype int64; input 2 of "
     "shape (8, 5) and dtype int64)"),
    (["--model", "multi_models:make_pair", "--data", "multi_models:triples"],
     "--data multi_models:triples: batch 0 is not an (inputs, target) pair; several inputs go in a tuple: ((x1, x2), y)"),
], ids=["one_shape_for_two", "three_shapes_for_two", "dtype_count", "shape_rejected", "shape_unparsable", "int_mask_rejected", "triples"])
def test_bad_multi_input_flags_exit_2_naming_the_flag(user_models, flags, message, capsys):
    assert cli.main(["run", *flags, *FAST]) == 2
    assert message in capsys.readouterr().err
    assert not Path("reports").exists()


def test_a_sweep_entry_takes_one_shape_and_dtype_per_input(user_models, capsys):
    from harness.sweep.grid import Grid
    from harness.sweep.store import SweepStore

    Path("grid.toml").write_text(textwrap.dedent('''
        steps = 2
        [[model]]
        name = "bag"
        factory = "multi_models:make_masked_bag"
        from = "torch"
        input_shape = [[8, 5], [8, 5]]
        input_dtype = ["int64", "bool"]
    '''))
    grid = Grid.from_toml("grid.toml")
    assert grid.models[0].input_shape == ("8,5", "8,5") and grid.models[0].input_dtype == ("int64", "bool")
    assert SweepStore.open(SweepStore.create(Path("stored"), grid).directory).grid == grid
    assert cli.main(["sweep", "--grid", "grid.toml", "--executor", "serial", "--seeds", "0", "--dtypes", "float64", "--out", "s"]) == 0
    Path("grid.toml").write_text(Path("grid.toml").read_text().replace('"bool"]', '"complex64"]'))
    assert cli.main(["sweep", "--grid", "grid.toml", "--executor", "serial", "--out", "s2"]) == 2
    assert "[[model]] bag: key input_dtype is 'complex64', not one of float32" in capsys.readouterr().err
