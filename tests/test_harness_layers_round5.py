"""``funcad-compare run --layers`` on a model with a layer its forward never calls, and on a model that is one torch
layer: what the layer comparison says before and after the run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness import cli

PACKAGE = textwrap.dedent('''
    import torch


    class Spare(torch.nn.Module):
        """A head built but not used: forward only calls fc."""

        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(6, 3)
            self.unused = torch.nn.Linear(6, 3)

        def forward(self, x):
            return self.fc(x)


    def make_spare():
        torch.manual_seed(0)
        return Spare()


    def make_linear():
        torch.manual_seed(0)
        return torch.nn.Linear(6, 3)
''')

FAST = ["--from", "torch", "--input-shape", "4,6", "--steps", "2", "--no-timing"]


@pytest.fixture(autouse=True)
def _user_package(tmp_path, monkeypatch):
    (tmp_path / "round5_layers_pkg.py").write_text(PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)


def test_a_listed_layer_the_forward_never_calls_is_a_usage_error_before_the_run(capsys):
    """It was an internal error (exit 3) after the whole run, the report written without layers."""
    assert cli.main(["run", "--model", "round5_layers_pkg:make_spare", *FAST, "--layers", "fc,unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("funcad-compare: error: --layers fc,unused: make_spare's forward never calls unused, so it cannot be compared; "
                   "layers it calls: fc")
    assert not list(Path("reports").glob("*/*")), "no report is written"


def test_the_library_names_a_layer_the_forward_never_calls_before_running():
    from round5_layers_pkg import make_spare

    import harness

    with pytest.raises(ValueError, match=r"^compare: layers=unused: user's forward never calls unused, so it cannot be compared; "
                                         r"layers it calls: none of those listed$"):
        harness.compare(make_spare(), input_shape=(4, 6), steps=1, timing=False, layers="unused")


def test_the_layers_that_do_run_are_still_compared(capsys):
    assert cli.main(["run", "--model", "round5_layers_pkg:make_spare", *FAST, "--layers", "fc"]) == 0
    out = capsys.readouterr().out
    assert "make_spare layers at step 0 (float32): every layer's isolated error is within" in out


def test_a_model_that_is_one_torch_layer_is_said_to_be_one(capsys):
    """A bare nn.Linear was told 'no layer runs on both sides (the model computes in its own construct)'."""
    assert cli.main(["run", "--model", "round5_layers_pkg:make_linear", *FAST, "--layers"]) == 0
    out = capsys.readouterr().out
    assert ("make_linear layers at step 0 (float32): the model is a single layer (Dense): there are no layers inside it to "
            "compare apart; the run's output and gradient comparison is its comparison") in out
    assert "computes in its own construct" not in out


def test_a_listed_layer_the_comparison_did_not_see_run_is_a_note_not_an_error():
    """compare_layers called without the checks before a run, on a Cell that is never called itself (a CellList), notes it
    in the case; it raised, and from a run that was an internal error."""
    from harness.cases import CASES
    from harness.layers.compare import compare_layers

    case = CASES["transformer"]
    comparison = compare_layers(case, case.batches(1, 0), select=["encoder.layers", "fc"])
    assert list(comparison.table["layer"]) == ["fc"]
    note = comparison.notes[-1]
    assert note.startswith("layer encoder.layers is not compared: the model never called it at this step; layers that ran on both "
                           "sides: embedding, encoder, encoder.layers.0, encoder.layers.0.dense1, ")
    assert note.endswith(", encoder.layers.1.self_attn, fc") and "encoder.layers," not in note
    alone = compare_layers(case, case.batches(1, 0), select=["encoder.layers"])
    assert alone.table.empty and alone.verdict() == "none of the layers asked for ran on both sides (see the notes)"
