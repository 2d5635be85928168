"""A user's model in the harness: ``funcad-compare run --model pkg.mod:factory`` and ``harness.compare(cell)``, the other
side built by torch_ref.mirror / to_funcad; every usage error exits 2 naming its flag."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import harness
from funcad import nn
from harness import cli, usermodel

FAST = ["--steps", "2", "--no-timing"]

USER_MODULE = textwrap.dedent('''
    import numpy as np
    import torch
    from funcad import nn
    from user_primitive import UsesHalve


    class Gated(nn.Cell):
        def __init__(self):
            super().__init__()
            self.fc = nn.Dense(6, 8)
            self.gate = nn.Dense(6, 8, activation="sigmoid")
            self.head = nn.Dense(8, 3)

        def construct(self, x):
            return self.head(self.fc(x) * self.gate(x))


    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(6, 8)
            self.out = torch.nn.Linear(8, 3)

        def forward(self, x):
            return self.out(torch.tanh(self.fc(x)) + x.mean(dim=1, keepdim=True))


    def make_net():
        return Gated()

    def make_bag_of_words():
        return nn.SequentialCell(nn.Embedding(10, 4), nn.Flatten(), nn.Dense(20, 3))

    def make_untranslatable():
        return UsesHalve(6, 3)

    def make_torch():
        return TorchNet()

    def make_number():
        return 42

    def make_broken():
        raise RuntimeError("no weights file")

    def batches():
        rng = np.random.default_rng(0)
        return [(rng.standard_normal((5, 6)).astype(np.float32), rng.integers(0, 3, 5)) for _ in range(3)]

    def labels_out_of_range():
        return [(np.zeros((5, 6), np.float32), np.array([0, 1, 7, 2, 9]))]

    def ragged():
        return [(np.zeros((5, 6), np.float32), np.zeros(5, np.int64)), (np.zeros((5, 4), np.float32), np.zeros(5, np.int64))]

    class Keyed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(6, 3)

        def forward(self, x):
            return {"logits": self.fc(x)}

    def make_keyed():
        return Keyed()

    class Frozen(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.base = torch.nn.Linear(6, 8).requires_grad_(False)
            self.head = torch.nn.Linear(8, 3)

        def forward(self, x):
            return self.head(torch.relu(self.base(x)))

    def make_frozen():
        return Frozen()
''')


@pytest.fixture(autouse=True)
def _user_package(tmp_path, monkeypatch):
    (tmp_path / "user_models.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("flags", [
    ["--model", "user_models:make_net", "--input-shape", "8,6"],
    ["--model", "user_models:make_torch", "--from", "torch", "--input-shape", "8,6", "--optimizer", "adam", "--lr", "1e-3"],
    ["--model", "user_models:make_net", "--data", "user_models:batches"],
    ["--model", "user_models:make_net", "--input-shape", "8,6", "--loss", "mse", "--optimizer", "momentum"],
    ["--model", "user_models:make_bag_of_words", "--input-shape", "8,5", "--input-dtype", "int64", "--classes", "3"],
], ids=["funcad", "torch", "data", "mse", "token_ids"])
def test_a_user_model_runs_as_a_built_in_case_and_passes(flags, capsys):
    assert cli.main(["run", *flags, *FAST, "--out", "reports/user"]) == 0
    out = capsys.readouterr().out
    name = flags[1].split(":")[1]
    assert f"\n{name} " in "\n" + out and "all verdicts pass" in out
    assert Path("reports/user/report.md").exists()


def test_the_console_script_finds_a_model_module_in_the_current_directory(tmp_path):
    """As ``python -m`` does: the installed script's own path does not start at the current directory."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}  # (user_models imports a test helper), not the current directory
    done = subprocess.run([shutil.which("funcad-compare") or "funcad-compare", "run", "--model", "user_models:make_net", "--input-shape", "8,6",
                           *FAST, "--out", "reports/script"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "reports/script/report.md").exists()


def test_a_planted_fault_in_a_user_model_exits_1_and_is_located(capsys):
    code = cli.main(["run", "--model", "user_models:make_net", "--input-shape", "8,6", *FAST, "--plant", "torch:grad:head.weight:1,2:0:0.5",
                     "--out", "reports/faulty"])
    assert code == 1
    assert "head.weight" in Path("reports/faulty/report.md").read_text()


@pytest.mark.parametrize("flags, message", [
    (["--model", "user_models:missing", "--input-shape", "8,6"], "--model user_models:missing: user_models has no attribute 'missing'"),
    (["--model", "no_such_package.models:make", "--input-shape", "8,6"], "--model no_such_package.models:make: cannot import no_such_package"),
    (["--model", "user_models", "--input-shape", "8,6"], "--model user_models: expected MODULE:NAME"),
    (["--model", "user_models:make_number", "--input-shape", "8,6"], "--model user_models:make_number: the factory returned int, expected a "
                                                                     "funcad nn.Cell"),
    (["--model", "user_models:make_torch", "--input-shape", "8,6"], "returned TorchNet, expected a funcad nn.Cell (a torch module: add "
                                                                    "--from torch)"),
    (["--model", "user_models:make_net", "--from", "torch", "--input-shape", "8,6"], "returned Gated, expected a torch.nn.Module"),
    (["--model", "user_models:make_broken", "--input-shape", "8,6"], "--model user_models:make_broken: the factory raised RuntimeError: "
                                                                     "no weights file"),
    (["--model", "user_models:make_untranslatable", "--input-shape", "8,6"], "--model user_models:make_untranslatable: the model has no torch "
                                                                             "twin: UsesHalve at the root: construct cannot be mirrored: "
                                                                             "primitive 'halve'"),
    (["--model", "user_models:make_net", "--input-shape", "8,5"], "--input-shape 8,5: the model rejects an input of shape (8, 5) and dtype "
                                                                  "float32: Dense 'fc': expected input of shape (*, 6), got (8, 5)"),
    (["--model", "user_models:make_net", "--input-shape", "8,six"], "--input-shape 8,six: expected comma-separated positive sizes"),
    (["--model", "user_models:make_net"], "--input-shape: required with --model unless --data gives the batches"),
    (["--model", "user_models:make_net", "--input-shape", "8,6", "--classes", "1"], "--classes 1: cross-entropy needs at least 2 classes"),
    (["--model", "user_models:make_net", "--data", "user_models:nothing"], "--data user_models:nothing: user_models has no attribute"),
    (["--model", "user_models:make_net", "--input-shape", "8,6", "--lr", "0"], "--lr 0.0: the learning rate must be positive"),
    (["mlp", "--model", "user_models:make_net", "--input-shape", "8,6"], "--model: give either case names (mlp) or --model, not both"),
    (["--model", "user_models:make_torch", "--from", "torch", "--input-shape", "8,6", "--input-dtype", "int64"],
     "--input-shape 8,6: the torch side rejects an input of shape (8, 6) and dtype int64: RuntimeError"),
    (["--model", "user_models:make_net", "--input-shape", "8,6", "--classes", "5"],
     "--classes 5: the model's output of shape (8, 3) scores 3 classes"),
    (["--model", "user_models:make_net", "--input-shape", "8,6", "--loss", "mse", "--targets", "8,5"],
     "--targets 8,5: the model's output has shape (8, 3); the targets need it too"),
    (["--model", "user_models:make_net", "--data", "user_models:labels_out_of_range"],
     "--data user_models:labels_out_of_range: batch 0: labels [7, 9] lie outside the output's 3 classes [0, 3)"),
    (["--model", "user_models:make_net", "--data", "user_models:ragged"],
     "--data user_models:ragged: batch 1 has inputs of shape (5, 4) and dtype float32, batch 0 (5, 6) and float32"),
    (["--model", "user_models:make_keyed", "--from", "torch", "--input-shape", "8,6"], "--input-shape 8,6: the model returns a dict (keys logits)"),
], ids=["attribute", "module", "no_colon", "not_a_model", "torch_without_from", "cell_with_from_torch", "factory_raises", "untranslatable",
        "shape_rejected", "shape_unparsable", "no_shape", "one_class", "data_attribute", "lr", "with_cases", "torch_rejects_dtype",
        "too_many_classes", "targets_shape", "labels_range", "ragged_batches", "dict_output"])
def test_bad_user_model_input_exits_2_naming_the_flag_and_writes_nothing(flags, message, capsys):
    assert cli.main(["run", *flags, *FAST]) == 2
    assert message in capsys.readouterr().err
    assert not Path("reports").exists()


def test_compare_with_a_cell_alone_builds_the_torch_side_by_mirror():
    cell = nn.SequentialCell(nn.Dense(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dense(8, 3))
    before = {n: np.asarray(p).copy() for n, p in cell.parameters_and_names()}
    result = harness.compare(cell, input_shape=(8, 6), steps=3, timing=False, optimizer="momentum")
    assert result.passed
    assert {"0.weight", "1.gamma", "3.bias"} <= set(result.grads["parameter"])
    for name, p in cell.parameters_and_names():  # the user's Cell is left as it was
        np.testing.assert_array_equal(np.asarray(p), before[name])


def test_compare_with_a_torch_module_alone_builds_the_funcad_side_by_to_funcad():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.GELU(), torch.nn.Linear(5, 2))
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((6, 4)).astype(np.float32), rng.uniform(0, 1, (6, 2)).astype(np.float32))]
    result = harness.compare(module, data=data, loss="mse", steps=3, timing=False)
    assert result.passed and set(result.grads["parameter"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    with pytest.raises(ValueError, match="compare: give data"):
        harness.compare(module, steps=1)
    two_inputs = [((data[0][0], data[0][0][:, :3]), data[0][1])]
    with pytest.raises(ValueError, match=r"data: 2 inputs per batch, but Sequential.forward takes 1 \(input\); give each batch's inputs"):
        harness.compare(module, data=two_inputs, loss="mse", steps=1, timing=False)


class _TutorialLSTM(torch.nn.Module):
    """The LSTM of PyTorch tutorials: initial states made from the batch size, moved to the input's device."""

    def __init__(self):
        super().__init__()
        self.lstm, self.fc = torch.nn.LSTM(4, 6, 2, batch_first=True), torch.nn.Linear(6, 3)

    def forward(self, x):
        h0 = torch.zeros(2, x.size(0), 6).to(x.device)
        c0 = torch.zeros(2, x.size(0), 6).to(x.device)
        out, _ = self.lstm(x, (h0, c0))
        return self.fc(out[:, -1, :])


def test_a_tutorial_lstm_compares_in_both_dtypes_its_created_states_in_the_run_s_precision():
    torch.manual_seed(0)
    result = harness.compare(_TutorialLSTM(), input_shape=(3, 7, 4), steps=2, timing=False)
    assert result.passed and set(result.grads["dtype"]) == {"float32", "float64"}
    assert result.grads[result.grads["dtype"] == "float64"]["max_abs"].max() < 1e-12
    assert torch.get_default_dtype() == torch.float32


def test_explain_rebuilds_a_user_model_run_with_its_plant(capsys):
    from harness.explain import trace
    from harness.faults import Fault
    from harness.runner import RunOptions

    plant = "torch:grad:head.weight:1,2:0:0.5"
    assert cli.main(["run", "--model", "user_models:make_net", "--input-shape", "8,6", *FAST, "--plant", plant, "--out", "reports/p"]) == 1
    capsys.readouterr()
    assert cli.main(["explain", "reports/p", "--param", "head.weight", "--element", "1,2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("== make_net: head.weight[1, 2], 2 steps")
    saved = json.loads(Path("reports/p/metrics.json").read_text())["run"]["model"]
    assert saved["model"] == "user_models:make_net" and saved["input_shape"] == ["8,6"]
    case = usermodel.case_from_flags(saved, 2, 0)
    table = trace(case, RunOptions(steps=2, timing=False, faults=(Fault.parse(plant),)), "head.weight", (1, 2)).set_index(["dtype", "step"])
    # torch's gradient carries the planted 0.5 at step 0, and its SGD update (lr 1e-2) the value after it
    assert abs(table.loc[("float64", 0), "grad |diff|"] - 0.5) < 1e-12 and abs(table.loc[("float64", 1), "value |diff|"] - 5e-3) < 1e-12
    assert f"{table.loc[('float64', 0), 'torch grad']:.9g}" in text


def test_a_frozen_layer_raises_no_guard_warning_under_strict(capsys):
    assert cli.main(["run", "--model", "user_models:make_frozen", "--from", "torch", "--input-shape", "8,6", "--strict", *FAST]) == 0
    assert "WARNING" not in capsys.readouterr().out
