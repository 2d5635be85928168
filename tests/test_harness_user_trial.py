"""``funcad-compare`` as its users meet it: a PyTorch engineer's own package (``--from torch``, ``--data``), a
MindSpore user's Cell, the messages and exit codes they see, and their files, which a report never overwrites."""

from __future__ import annotations

import json
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from cli_process import FAST, run

import harness
from funcad import nn
from harness import cli
from harness.metrics import Tolerance, judged_ratio, noise_factor

PACKAGE = textwrap.dedent('''
    import numpy as np
    import torch
    from funcad import nn as fnn


    class Small(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(6, 3)

        def forward(self, x):
            return self.fc(x)


    class ValueBranch(torch.nn.Module):
        """Python control flow on a tensor's value: no funcad twin."""

        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(6, 3)

        def forward(self, x):
            if float(x.sum()) > 1e9:
                return self.fc(-x)
            return self.fc(x)


    class RaisesLater(fnn.Cell):
        """A Cell whose construct raises once the run is under way (after the checks before it have called it)."""

        calls = 0

        def __init__(self):
            super().__init__()
            self.fc = fnn.Dense(6, 3)

        def construct(self, x):
            RaisesLater.calls += 1
            if RaisesLater.calls > 6:
                raise RuntimeError("the user's model broke")
            return self.fc(x)


    class MindSporeStyle(fnn.Cell):
        """Written the MindSpore way: construct, Conv2d's and Dense's defaults, ops calls (LeNet's layers with a BatchNorm)."""

        def __init__(self):
            super().__init__()
            self.conv1 = fnn.Conv2d(1, 6, 5, pad_mode="valid")
            self.conv2 = fnn.Conv2d(6, 16, 5, pad_mode="valid")
            self.pool = fnn.MaxPool2d(kernel_size=2, stride=2)
            self.flatten = fnn.Flatten()
            self.fc1 = fnn.Dense(16 * 4 * 4, 32)
            self.bn = fnn.BatchNorm1d(32)
            self.fc2 = fnn.Dense(32, 10)

        def construct(self, x):
            from funcad import ops
            x = self.pool(ops.relu(self.conv1(x)))
            x = self.flatten(self.pool(ops.relu(self.conv2(x))))
            return self.fc2(ops.relu(self.bn(self.fc1(x))))


    def make_mindspore_style():
        return MindSporeStyle()

    class TextGRU(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 4)
            self.gru = torch.nn.GRU(4, 5, batch_first=True)
            self.fc = torch.nn.Linear(5, 3)

        def forward(self, x):
            out, _ = self.gru(self.emb(x))
            return self.fc(out[:, -1])


    def make_text_gru():
        return TextGRU()

    def make_small():
        return Small()

    def make_value_branch():
        return ValueBranch()

    def make_raises_later():
        return RaisesLater()

    def batches():
        rng = np.random.default_rng(0)
        return [(rng.standard_normal((4, 6)).astype(np.float32), rng.integers(0, 3, 4)) for _ in range(2)]
''')

SMALL = ["--model", "trial_pkg:make_small", "--from", "torch"]


@pytest.fixture(autouse=True)
def _user_package(tmp_path, monkeypatch):
    (tmp_path / "trial_pkg.py").write_text(PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)


def _error_of(args: list[str], capsys) -> str:
    """The one error line of ``funcad-compare run args``, which must exit 2."""
    assert cli.main(["run", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("funcad-compare: error: ") and "Traceback" not in err, err
    return err


# -- the user's files ----------------------------------------------------------------------------------------------------

def test_replacing_an_earlier_report_never_deletes_files_the_user_put_beside_it(tmp_path):
    """--out naming an earlier report is replaced whole; with the user's notes in it, it is refused and left as it was."""
    earlier = tmp_path / "mine"
    earlier.mkdir()
    for name, text in (("report.md", "# old"), ("metrics.json", "{}"), ("notes.txt", "my findings")):
        (earlier / name).write_text(text)
    done = run(["run", *SMALL, "--input-shape", "4,6", *FAST, "--out", "mine"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "notes.txt, which replacing the report would delete" in done.stderr and f"--out mine: {earlier}" in done.stderr
    assert sorted(p.name for p in earlier.iterdir()) == ["metrics.json", "notes.txt", "report.md"]
    assert (earlier / "notes.txt").read_text() == "my findings" and (earlier / "report.md").read_text() == "# old"


def test_an_earlier_report_of_only_its_own_files_is_still_replaced_whole(capsys):
    assert cli.main(["run", *SMALL, "--input-shape", "4,6", *FAST, "--out", "again"]) == 0
    first = json.loads(Path("again/metrics.json").read_text())["run"]["options"]["seed"]
    assert cli.main(["run", *SMALL, "--input-shape", "4,6", *FAST, "--seed", "5", "--out", "again"]) == 0
    assert (first, json.loads(Path("again/metrics.json").read_text())["run"]["options"]["seed"]) == (0, 5)
    assert sorted(p.name for p in Path("again").iterdir()) == ["metrics.csv", "metrics.json", "report.html", "report.md"]


@pytest.mark.parametrize("out, message", [
    ("a_file/report", "--out a_file/report: cannot write a report in {root}/a_file: {root}/a_file is a file, not a directory"),
    ("", "--out: the path is empty; give a report directory"),
    ("   ", "--out: the path is empty"),
])
def test_an_unusable_out_is_a_clear_error_naming_the_flag(out, message, tmp_path, capsys):
    Path("a_file").write_text("keep me")
    err = _error_of([*SMALL, "--input-shape", "4,6", *FAST, "--out", out], capsys)
    assert message.format(root=tmp_path) in err
    assert Path("a_file").read_text() == "keep me" and not Path("reports").exists()


# -- flags the run would have ignored ------------------------------------------------------------------------------------

@pytest.mark.parametrize("flags, message", [
    ([*SMALL, "--data", "trial_pkg:batches", "--input-dtype", "int64"],
     "--data trial_pkg:batches and --input-dtype: --data gives the batches, and --input-dtype describes drawn ones; give one or the other"),
    ([*SMALL, "--data", "trial_pkg:batches", "--input-shape", "4,6", "--classes", "3"],
     "--data trial_pkg:batches and --input-shape, --classes: --data gives the batches, and --input-shape, --classes describe drawn ones"),
    ([*SMALL, "--input-shape", "4,6", "--loss", "mse", "--classes", "3"],
     "--classes 3 with --loss mse: class labels are for cross_entropy; mse trains on float targets in [0, 1) (--targets"),
    ([*SMALL, "--input-shape", "4,6", "--batch-size", "8"],
     "--batch-size with --model: a model's batches come from --input-shape (its first size is the batch size) or --data"),
    ([*SMALL, "--input-shape", "4,6", "--data-dir", "somewhere"], "--data-dir with --model: "),
    (["logreg", "--lr", "0.5", "--loss", "mse"],
     "--loss, --lr: apply only to your own model (--model MODULE:FACTORY); the built-in cases bring their own model, data, loss and optimizer"),
    (["logreg", "--input-shape", "4,6"], "--input-shape: applies only to your own model"),
    (["logreg", "--from", "torch"], "--from: applies only to your own model"),
])
def test_a_flag_the_run_would_ignore_is_an_error_naming_it(flags, message, capsys):
    assert message in _error_of([*flags, *FAST], capsys)
    assert not Path("reports").exists()


def test_a_cell_given_with_from_torch_is_told_to_leave_the_flag_out(capsys):
    err = _error_of(["--model", "trial_pkg:make_raises_later", "--from", "torch", "--input-shape", "4,6", *FAST], capsys)
    assert err.endswith("the factory returned RaisesLater, expected a torch.nn.Module (a funcad Cell: leave out --from torch)")


@pytest.mark.parametrize("flags, message", [
    (["--steps", "0"], "steps must be >= 1, got 0 (--steps)"),
    (["--steps", "-1"], "steps must be >= 1, got -1 (--steps)"),
    (["--batch-size", "0"], "batch size must be >= 1, got 0 (--batch-size)"),
    (["--rtol", "-1"], "rtol must be a finite number >= 0, got -1.0 (--rtol)"),
])
def test_a_bad_number_names_its_flag(flags, message, capsys):
    assert _error_of(["tutorial", "--no-timing", *flags], capsys) == f"funcad-compare: error: {message}"


def test_a_torch_model_without_a_funcad_twin_is_blamed_on_model_not_on_the_input_shape(capsys):
    err = _error_of(["--model", "trial_pkg:make_value_branch", "--from", "torch", "--input-shape", "4,6", *FAST], capsys)
    assert err.startswith("funcad-compare: error: --model trial_pkg:make_value_branch: the model has no funcad twin: ValueBranch at the root")
    assert "--input-shape" not in err.split("twin:")[0]


# -- what the report says ------------------------------------------------------------------------------------------------

def test_the_report_says_where_a_models_batches_came_from(capsys):
    assert cli.main(["run", *SMALL, "--input-shape", "4,6", *FAST, "--out", "drawn"]) == 0
    assert cli.main(["run", *SMALL, "--data", "trial_pkg:batches", *FAST, "--out", "given"]) == 0
    drawn, given = Path("drawn/report.md").read_text(), Path("given/report.md").read_text()
    assert "data drawn from --input-shape 4,6 (float32, seed 0): 2 x float32[4, 6]" in drawn and "given" not in drawn
    assert "seed 0, batch size that of the batches below;" in drawn and "case default" not in drawn
    assert "data --data trial_pkg:batches (2 batches, cycled): 2 x float32[4, 6]" in given


def test_per_sample_on_a_model_torch_func_cannot_vmap_is_not_computed_and_the_run_goes_on(capsys):
    """torch's GRU makes its hidden state unbatched and writes it in place, which torch.func's vmap refuses: that was an
    internal error (exit 3) losing the whole comparison."""
    flags = ["--model", "trial_pkg:make_text_gru", "--from", "torch", "--input-shape", "4,7", "--input-dtype", "int64", "--per-sample"]
    assert cli.main(["run", *flags, *FAST, "--out", "gru"]) == 0
    out = capsys.readouterr().out
    assert "make_text_gru per-sample gradients at step 0: not computed: torch.func's vmap cannot run the torch model (" in out
    md = Path("gru/report.md").read_text()
    assert "Per-sample gradients at step 0 (float64): not computed: torch.func's vmap cannot run the torch model" in md
    assert "**PASS: all 1 verdicts pass**" in md


def test_a_model_that_raises_mid_run_exits_3_naming_the_users_line(tmp_path):
    done = run(["run", "--model", "trial_pkg:make_raises_later", "--input-shape", "4,6", *FAST, "--steps", "3", "--out", "broke"], tmp_path)
    assert done.returncode == 3, done.stderr
    line = PACKAGE.splitlines().index('            raise RuntimeError("the user\'s model broke")') + 1
    assert (f"internal error in case make_raises_later: RuntimeError: the user's model broke (raised in construct at "
            f"{tmp_path / 'trial_pkg.py'}:{line}); traceback in ") in done.stderr
    assert "ERROR" in (tmp_path / "broke/report.md").read_text()  # the report is still written, whole


def test_a_16_bit_gradients_diff_over_tol_is_its_difference_over_5x_the_noise_floor():
    """In float16 the fixed tolerance is 0; the column was the raw difference, now judged as the verdict is."""
    net = nn.SequentialCell(nn.Dense(6, 5), nn.ReLU(), nn.Dense(5, 3))
    result = harness.compare(net, input_shape=(4, 6), dtype="float16", steps=1, timing=False, threads=None)
    grads = result.grads[result.grads["dtype"] == "float16"]
    assert len(grads) == 4 and (grads["torch_f32_err"] > 0).all()
    expected = grads["max_abs"] / (noise_factor("float16") * grads["torch_f32_err"])
    np.testing.assert_allclose(grads["tol_ratio"].astype(float), expected.astype(float), rtol=1e-12)
    assert ((grads["tol_ratio"] <= 1) == grads["verdict"].isin(["pass", "noise"])).all()
    worst = result.summary.set_index("dtype").loc["float16"]
    assert worst["worst_grad_tol_ratio"] == pytest.approx(float(expected.max()))


@pytest.mark.parametrize("stats, tol, noise, dtype, expected", [
    ({"tol_ratio": 0.3, "max_abs": 3e-6}, Tolerance(1.3e-6, 1e-5), 1e-7, "float32", 0.3),   # a fixed tolerance: as computed
    ({"tol_ratio": 2e-3, "max_abs": 2e-3}, Tolerance(0.0, 0.0), 1e-3, "float16", 0.4),     # 2e-3 / (5 * 1e-3)
    ({"tol_ratio": 2e-3, "max_abs": 2e-3}, Tolerance(0.0, 0.0), 1e-4, "float32", 2.0),     # float32 at --rtol 0 --atol 0: 10x
    ({"tol_ratio": 0.0, "max_abs": 0.0}, Tolerance(0.0, 0.0), 0.0, "bfloat16", 0.0),
    ({"tol_ratio": 1e-9, "max_abs": 1e-9}, Tolerance(0.0, 0.0), 0.0, "bfloat16", float("inf")),
    ({"tol_ratio": float("inf"), "max_abs": float("inf")}, Tolerance(0.0, 0.0), 1e-3, "float16", float("inf")),
])
def test_judged_ratio_against_hand_computed_values(stats, tol, noise, dtype, expected):
    assert judged_ratio(stats, tol, noise, dtype) == pytest.approx(expected)


# -- explain -------------------------------------------------------------------------------------------------------------

def test_explain_names_the_flag_of_an_unknown_parameter_and_prints_steps_as_integers(capsys):
    assert cli.main(["run", *SMALL, "--input-shape", "4,6", *FAST, "--out", "small"]) == 0
    capsys.readouterr()
    assert cli.main(["explain", "small", "--param", "fc.weight", "--element", "1,2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== make_small: fc.weight[1, 2], 2 steps")
    rows = out.split("report, after each step:")[1].splitlines()
    assert [row.split()[-3] for row in rows[3:5]] == ["0", "1"] and rows[3].startswith("float32 0 ")  # steps were 0.0, 1.0
    err = _error_of_explain(["small", "--param", "fc.kernel"], capsys)
    assert err.startswith("funcad-compare: error: --param fc.kernel: case make_small has no such parameter (by funcad's or torch's name); "
                          "parameters: fc.weight, fc.bias")


def test_explain_takes_torch_parameter_names(capsys):
    """A user porting a torch model knows its BatchNorm weight as 1.weight; funcad calls it 1.gamma."""
    (Path("bn_pkg.py")).write_text(textwrap.dedent('''
        import torch

        def make():
            return torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 3))
    '''))
    assert cli.main(["run", "--model", "bn_pkg:make", "--from", "torch", "--input-shape", "4,6", *FAST, "--out", "bn"]) == 0
    capsys.readouterr()
    assert cli.main(["explain", "bn", "--param", "1.weight", "--element", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== make: 1.gamma[2] (torch 1.weight), 2 steps")
    rows = out.split("report, after each step:")[1]
    assert "float32 0" in " ".join(rows.split())


def test_explain_of_a_mixed_precision_run_prints_no_numpy_warnings(capsys):
    """The loss scaler's first steps overflow float16 on purpose; the recomputation showed numpy's warnings for them."""
    flags = ["--model", "trial_pkg:make_mindspore_style", "--input-shape", "4,1,28,28", "--steps", "2", "--no-timing", "--dtype", "mixed"]
    assert cli.main(["run", *flags, "--out", "mixed"]) == 0
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        assert cli.main(["explain", "mixed", "--param", "fc2.weight", "--element", "0,0"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("== make_mindspore_style: fc2.weight[0, 0], 2 steps") and out.err == ""


def _error_of_explain(args: list[str], capsys) -> str:
    assert cli.main(["explain", *args]) == 2
    return capsys.readouterr().err.strip()


def test_the_layer_heatmaps_column_labels_fit_their_columns():
    """'output grad' and 'param grads' on one line ran into each other under the heatmap's narrow columns."""
    from harness.layers.report import _COLUMNS, tick_label

    assert [tick_label(c) for c in _COLUMNS][:3] == ["chained\nforward", "chained\noutput\ngrad", "chained\nparam\ngrads"]
    assert max(len(line) for c in _COLUMNS for line in tick_label(c).splitlines()) <= len("isolated")


def test_compare_refuses_data_beside_input_shape():
    """As the command line refuses --data beside --input-shape: one of them was silently ignored."""
    net = nn.Dense(6, 3)
    data = [(np.zeros((4, 6), np.float32), np.zeros(4, np.int64))]
    with pytest.raises(ValueError, match=r"^compare: give data \(the batches\) or input_shape \(to draw them\), not both$"):
        harness.compare(net, data=data, input_shape=(4, 6), steps=1)


def test_bench_out_on_a_file_names_the_flag_and_the_file(tmp_path):
    """The benchmark said only "File exists"."""
    Path("a_file").write_text("keep me")
    done = run(["bench", "--out", "a_file", "--cases", "mlp-b64", "--budget", "0.1", "--no-memory", "--no-standalone"], tmp_path)
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert err == f"funcad-compare bench: --out a_file: cannot write a report in a_file: {tmp_path}/a_file is a file, not a directory"
    assert Path("a_file").read_text() == "keep me"
