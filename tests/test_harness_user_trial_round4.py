"""``funcad-compare`` as three more users meet it: a PyTorch engineer's seq2seq and attention models (``--from torch``,
dropout on), a MindSpore user's Cell whose construct raises before the run starts, and a teacher reading the layer
comparison of a multi-dtype run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from harness import cli

PACKAGE = textwrap.dedent('''
    import numpy as np
    import torch
    from funcad import nn as fnn
    from funcad import ops


    class Attention(torch.nn.Module):
        """Self-attention as nn.TransformerEncoderLayer calls it (need_weights=False), its dropout on."""

        def __init__(self, dropout):
            super().__init__()
            self.att = torch.nn.MultiheadAttention(8, 2, dropout=dropout, batch_first=True)
            self.fc = torch.nn.Linear(8, 3)

        def forward(self, x):
            h, _ = self.att(x, x, x, need_weights=False)
            return self.fc(h[:, 0])


    def make_attention():
        torch.manual_seed(0)
        return Attention(0.3)


    class PackedGRU(torch.nn.Module):
        """A stack of GRU layers with dropout between them, fed a packed sequence the forward packs itself."""

        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(6, 5, num_layers=2, dropout=0.3, batch_first=True)
            self.fc = torch.nn.Linear(5, 3)

        def forward(self, x):
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 3, 4, 2]), batch_first=True, enforce_sorted=False)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(self.gru(packed)[0], batch_first=True)
            return self.fc(out[:, 0])


    def make_packed():
        torch.manual_seed(0)
        return PackedGRU()


    class PerToken(torch.nn.Module):
        """A decoder's logits per time step, (batch, time, classes)."""

        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 4)
            self.fc = torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(self.emb(x))


    def make_per_token():
        return PerToken()


    def token_batches():
        rng = np.random.default_rng(0)
        return [(rng.integers(0, 10, (4, 5)), rng.integers(0, 3, (4, 5))) for _ in range(2)]


    class OldName(fnn.Cell):
        def __init__(self):
            super().__init__()
            self.fc = fnn.Dense(6, 3)

        def construct(self, x):
            return ops.no_such_op(self.fc(x))


    def make_old_name():
        return OldName()


    def make_small():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
''')

FAST = ["--steps", "2", "--no-timing"]


@pytest.fixture(autouse=True)
def _user_package(tmp_path, monkeypatch):
    (tmp_path / "trial4_pkg.py").write_text(PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)


def test_an_exception_a_cell_raises_before_the_run_names_the_users_line(tmp_path, capsys):
    """A construct calling an op funcad does not have raised in the checks before any case ran: exit 3 with a line
    that named neither the user's file nor the line, only the message."""
    assert cli.main(["run", "--model", "trial4_pkg:make_old_name", "--input-shape", "4,6", *FAST]) == 3
    err = capsys.readouterr().err
    line = PACKAGE.splitlines().index("        return ops.no_such_op(self.fc(x))") + 1
    assert "funcad-compare: internal error: AttributeError: " in err and "no_such_op" in err
    assert f"(raised in construct at {tmp_path / 'trial4_pkg.py'}:{line}); traceback in " in err


def test_the_console_names_the_dtype_its_layer_comparison_ran_in(capsys):
    """The report's heading said 'Layers at step 0 (float32)', the console only 'layers at step 0', which in a run of
    several dtypes read as if every dtype's layers were compared."""
    flags = ["--model", "trial4_pkg:make_small", "--from", "torch", "--input-shape", "4,6", "--layers", "--dtype", "both"]
    assert cli.main(["run", *flags, *FAST, "--out", "layers"]) == 0
    out = capsys.readouterr().out
    assert "make_small layers at step 0 (float32): every layer's isolated error is within rtol 1.3e-06, atol 1e-05" in out
    assert "Layers at step 0 (float32): every layer's isolated error" in Path("layers/report.md").read_text()


def test_attention_dropout_torch_draws_in_its_kernel_trains_alike_with_the_same_masks(capsys):
    """MultiheadAttention's dropout called with need_weights=False is drawn inside torch's attention kernel: the run
    failed by those masks alone. The kernel now runs as its parts under aligned masks: both dtypes pass, without a note."""
    args = ["run", "--model", "trial4_pkg:make_attention", "--from", "torch", "--input-shape", "4,5,8", *FAST, "--dtype", "both"]
    assert cli.main([*args, "--out", "on"]) == 0
    assert "note:" not in capsys.readouterr().out and "dropout inside" not in Path("on/report.md").read_text()


PACKED_NOTE = ("gru (GRU, dropout 0.3): torch draws the dropout between its layers inside its recurrent kernel when fed a packed "
               "sequence, where funcad's masks cannot be aligned with torch's; differences may be those masks alone: pass the padded "
               "batch (funcad's seq_length) or set that dropout to 0 to compare the rest")


def test_a_packed_sequence_whose_dropout_torch_draws_in_its_kernel_is_named_where_the_run_fails(capsys):
    args = ["run", "--model", "trial4_pkg:make_packed", "--from", "torch", "--input-shape", "4,5,6", *FAST, "--dtype", "float64"]
    assert cli.main([*args, "--out", "packed"]) == 1
    assert f"make_packed note: {PACKED_NOTE}" in capsys.readouterr().out
    assert PACKED_NOTE in Path("packed/report.md").read_text().split("### Known semantic differences in play")[1].split("###")[0]
    assert cli.main(["run", "--model", "trial4_pkg:make_attention", "--from", "torch", "--input-shape", "4,5,8", *FAST, "--out", "next"]) == 0
    assert "note:" not in capsys.readouterr().out  # the next run in the process starts without it


def test_unaligned_dropout_names_only_the_recurrent_layers_whose_kernel_ran_packed():
    from harness.engines import begin_dropout_watch, unaligned_dropout
    from torch_ref.dropout import aligned_masks

    model = torch.nn.ModuleDict({
        "stacked": torch.nn.GRU(4, 5, num_layers=2, dropout=0.25),
        "padded": torch.nn.LSTM(4, 5, num_layers=2, dropout=0.25),  # fed a padded batch: aligned
        "enc": torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1),  # attention: aligned
    }).train()
    begin_dropout_watch()
    with aligned_masks():
        model["stacked"](torch.nn.utils.rnn.pack_padded_sequence(torch.ones(3, 2, 4), [3, 2]))
        model["padded"](torch.ones(3, 2, 4))
        model["enc"](torch.ones(3, 2, 8))
    notes = unaligned_dropout(model)
    assert [n.split(":")[0] for n in notes] == ["stacked (GRU, dropout 0.25)"]
    begin_dropout_watch()
    assert unaligned_dropout(model) == []


def test_labels_per_time_step_against_logits_with_classes_last_say_where_the_classes_go(capsys):
    args = ["run", "--model", "trial4_pkg:make_per_token", "--from", "torch", "--data", "trial4_pkg:token_batches", *FAST]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("funcad-compare: error: --data trial4_pkg:token_batches: batch 0: class labels of shape (4, 5); an output of "
                   "shape (4, 5, 3) needs (4, 3); cross_entropy takes the classes on axis 1, as torch's and MindSpore's: for "
                   "logits of shape (batch, ..., classes) return logits.movedim(-1, 1)")


def test_a_model_file_that_does_not_parse_is_an_input_error_naming_the_flag_and_its_line(tmp_path, capsys):
    """An IndentationError in the user's module was an internal error (exit 3) 'raised in _call_with_frames_removed at
    <frozen importlib._bootstrap>', naming neither the flag nor the user's line."""
    (tmp_path / "broken_pkg.py").write_text("import torch\n\ndef make():\n    return torch.nn.Linear(6, 3)\n      x = 1\n")
    assert cli.main(["run", "--model", "broken_pkg:make", "--from", "torch", "--input-shape", "4,6", *FAST]) == 2
    assert capsys.readouterr().err.strip() == (f"funcad-compare: error: --model broken_pkg:make: cannot import broken_pkg: "
                                               f"IndentationError: unexpected indent at {tmp_path / 'broken_pkg.py'}:5")


def test_assert_parity_failing_on_packed_dropout_says_so_below_the_failures():
    from trial4_pkg import make_packed

    from harness.testing import assert_parity

    with pytest.raises(AssertionError) as failed:
        assert_parity(make_packed(), None, None, steps=1, input_shape=(4, 5, 6), dtype="float64")
    message = str(failed.value)
    assert message.startswith("funcad and torch disagree:\n")
    assert message.splitlines()[-1] == f"note: {PACKED_NOTE}"


SMALL = ["--model", "trial4_pkg:make_small", "--from", "torch", "--input-shape", "4,6", *FAST]


@pytest.mark.parametrize("flags, message", [
    # the step of a layer comparison that was not asked for: ignored without a word
    (["--at-step", "1"], "--at-step 1 without --layers: it is the step the layer comparison looks at; add --layers"),
    # depth 0 selected nothing and printed "no layer runs on both sides (the model computes in its own construct)"
    (["--layers", "depth=0"], "--layers depth=0: expected depth=N with N a positive integer"),
    # a misspelt path was an internal error (exit 3) after the whole run, the report written without layers
    (["--layers", "0,nope"], "--layers 0,nope: make_small has no layer nope; its layers: 0, 1, 2"),
])
def test_layer_flags_that_would_do_nothing_are_usage_errors_before_the_run(flags, message, capsys):
    assert cli.main(["run", *SMALL, *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"funcad-compare: error: {message}" and not Path("reports").exists()


def test_compare_names_a_layer_path_the_model_does_not_have_before_running():
    from trial4_pkg import make_small

    import harness

    with pytest.raises(ValueError, match=r"^compare: layers=fc: user has no layer fc; its layers: 0, 1, 2$"):
        harness.compare(make_small(), input_shape=(4, 6), steps=1, timing=False, layers="fc")


def test_the_gradient_plot_of_several_dtypes_gives_each_dtype_a_colour_of_its_own(monkeypatch):
    """Every dtype but float32 was drawn in one purple, and a noise-floor bar in orange whatever its dtype: in a
    --dtype all report the float16, bfloat16 and float64 bars and legend entries could not be told apart."""
    import matplotlib.colors
    import pandas as pd

    from harness import plots

    figures = []
    monkeypatch.setattr(plots, "_png", lambda fig: figures.append(fig) or b"")
    rows = [(d, p, v) for d, v in (("float32", "pass"), ("float16", "noise"), ("bfloat16", "noise"), ("float64", "pass")) for p in ("w", "b")]
    grads = pd.DataFrame([{"dtype": d, "parameter": p, "max_abs": 1e-6, "tol_ratio": 0.5, "verdict": v} for d, p, v in rows])
    plots.gradient_errors(grads, "net")
    ax = figures[0].axes[0]
    legend = {t.get_text(): matplotlib.colors.to_hex(h.get_facecolor()) for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)}
    dtype_colours = [legend[f"{d} max |diff|"] for d in ("float32", "float16", "bfloat16", "float64")]
    assert len(set(dtype_colours)) == 4 and "pass (noise floor)" in legend
    bars = [matplotlib.colors.to_hex(b.get_facecolor()) for b in ax.patches]
    assert bars == [c for c in dtype_colours for _ in ("w", "b")]  # each dtype's bars in its legend colour, noise ones too
    assert [b.get_hatch() or "" for b in ax.patches] == ["", "", "///", "///", "///", "///", "", ""]


def test_per_sample_says_why_dropout_stops_it_and_batchnorm_apart():
    """Dropout was reported as making 'a sample's loss depend on more than that sample', which it does not: its
    masks are drawn for the whole batch."""
    import harness

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5), torch.nn.Dropout(0.2), torch.nn.Linear(5, 3))
    result = harness.compare(model, input_shape=(4, 6), steps=1, dtype="float64", timing=False, per_sample=True)
    assert result.result.per_sample.skipped == (
        "the model's BatchNorm1d makes a sample's loss depend on more than that sample (its batch statistics); the model's "
        "Dropout draws its masks for the whole batch, so a sample's loss alone would draw others")


def test_float_class_labels_are_told_to_be_integers(tmp_path, capsys):
    """Labels of one class per sample in float32 (as a MindSpore script may keep them) were called 'class
    probabilities of shape (4,)', without saying that their dtype was what made them so."""
    (tmp_path / "float_labels.py").write_text(textwrap.dedent('''
        import numpy as np

        def batches():
            rng = np.random.default_rng(0)
            return [(rng.standard_normal((4, 6)).astype(np.float32), rng.integers(0, 3, 4).astype(np.float32))]
    '''))
    assert cli.main(["run", "--model", "trial4_pkg:make_small", "--from", "torch", "--data", "float_labels:batches", *FAST]) == 2
    assert capsys.readouterr().err.strip() == (
        "funcad-compare: error: --data float_labels:batches: batch 0: class probabilities of shape (4,); the output has shape "
        "(4, 3); class labels need an integer dtype, these are float32 (y.astype(np.int64))")
