"""Exit status as a shell sees it: 0 pass, 1 fail, 2 usage or input error (before any case runs), 3 internal error
(one line on stderr naming the case and the error, the traceback in a log file whose path is printed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from cli_process import FAST, run
from idx_files import write_idx

from harness import cli, report

BREAK_LOGREG = ("import dataclasses\nfrom harness import cases\n"
                "def broken():\n    raise ZeroDivisionError('planted in the model factory')\n"
                "cases.CASES['logreg'] = dataclasses.replace(cases.CASES['logreg'], funcad_model=broken)\n")


def _messages(stderr: str) -> list[str]:
    """stderr without the progress lines (``[   1.2s] case``) written when stderr is not a terminal."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("[")]


def _reports(root: Path) -> list[Path]:
    return sorted(p for p in (root / "reports").iterdir() if p.name != "latest") if (root / "reports").exists() else []


def test_pass_exits_0_and_a_failed_verdict_exits_1(tmp_path):
    done = run(["run", "tutorial", *FAST], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "all verdicts pass" in done.stdout and done.stderr.count("Traceback") == 0
    done = run(["run", "tutorial", *FAST, "--plant", "torch:param:w:4,2:1:0.5"], tmp_path)
    assert done.returncode == 1 and "some verdicts FAIL" in done.stdout


def test_an_internal_error_in_one_case_exits_3_and_keeps_the_finished_cases(tmp_path):
    done = run(["run", "tutorial", "logreg", *FAST], tmp_path, prelude=BREAK_LOGREG)
    assert done.returncode == 3, done.stdout + done.stderr
    errors = _messages(done.stderr)
    assert len(errors) == 1 and "Traceback" not in done.stderr
    assert "case logreg" in errors[0] and "ZeroDivisionError: planted in the model factory" in errors[0]
    log = Path(re.search(r"traceback in (\S+)", errors[0])[1])
    assert "Traceback" in log.read_text() and "ZeroDivisionError: planted in the model factory" in log.read_text()
    log.unlink()
    [report] = _reports(tmp_path)
    summary = json.loads((report / "metrics.json").read_text())["summary"]
    assert [(r["case"], r["verdict"]) for r in summary] == [("tutorial", "pass"), ("logreg", "error")]
    assert summary[1]["error"] == "ZeroDivisionError: planted in the model factory"
    md = (report / "report.md").read_text()
    assert "| tutorial | float32 | pass |" in md and "| logreg | float32 | ERROR |" in md
    assert "**ERROR: internal error in logreg: ZeroDivisionError: planted in the model factory**" in md


def test_an_internal_error_outside_the_cases_exits_3_with_one_line_and_a_log(tmp_path):
    prelude = "import harness.report as r\ndef broken(run):\n    raise KeyError('planted in the report')\nr.blocks = broken\n"
    done = run(["run", "tutorial", *FAST], tmp_path, prelude=prelude)
    assert done.returncode == 3
    [line] = _messages(done.stderr)
    assert line.startswith("funcad-compare: internal error: KeyError: 'planted in the report' (raised in broken at <string>:3); traceback in ")
    log = Path(line.rsplit(" ", 1)[1])
    assert "in broken\nKeyError: 'planted in the report'" in log.read_text()
    log.unlink()
    assert _reports(tmp_path) == []


def test_a_seed_beyond_the_generators_range_is_a_usage_error(tmp_path, monkeypatch):
    done = run(["run", "tutorial", *FAST, "--seed", "18446744073709551616"], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--seed" in done.stderr and "0 to 2**63 - 1" in done.stderr and "18446744073709551616" in done.stderr
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "tutorial", *FAST, "--seed", str(2**63 - 1)]) == 0  # the top of the range runs


def test_labels_outside_the_class_range_are_a_usage_error_before_any_case_runs(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    (tmp_path / "mnist").mkdir()
    labels = rng.integers(0, 10, 64, dtype=np.uint8)
    labels[[3, 9]] = [12, 200]
    write_idx(tmp_path / "mnist/train-images-idx3-ubyte", rng.integers(0, 256, (64, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "mnist/train-labels-idx1-ubyte", labels)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "logreg", "mlp", *FAST, "--batch-size", "8", "--data-dir", "mnist"]) == 2
    err = capsys.readouterr().err
    assert "mnist/train-labels-idx1-ubyte" in err and "labels 12, 200" in err and "10 classes" in err
    assert "logreg" not in err and _reports(tmp_path) == []  # nothing ran, nothing was written


def test_a_path_too_long_for_the_file_system_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "tutorial", *FAST, "--out", "reports/" + "x" * 300]) == 2
    assert "too long" in capsys.readouterr().err
    assert cli.main(["run", "tutorial", *FAST, "--out", "/".join(["d" * 200] * 25)]) == 2
    assert "too long" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_default_folder_name_for_many_cases_is_shortened_to_one_the_file_system_takes(tmp_path):
    target = report.check_target(report.default_dir(tmp_path, ["mlp_bn", "lenet"] * 30))
    assert target.name.endswith("-mlp_bn-lenet-mlp_bn-lenet-mlp_bn-lenet-mlp_bn-lenet-mlp_bn-and-51-more")
    assert len(target.name) < 100


def test_show_of_a_report_lacking_a_summary_field_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "tutorial", *FAST, "--out", "r"]) == 0
    saved = json.loads((tmp_path / "r/metrics.json").read_text())
    for row in saved["summary"]:
        del row["worst_grad_max_abs"]
    (tmp_path / "r/metrics.json").write_text(json.dumps(saved))
    capsys.readouterr()
    assert cli.main(["show", "r"]) == 2
    err = capsys.readouterr().err
    assert "r/metrics.json" in err and "lacks the field worst_grad_max_abs" in err


def test_help_documents_every_exit_status(capsys):
    assert cli.main(["run", "--help"]) == 0
    help_text = capsys.readouterr().out
    for code, meaning in cli.EXIT_CODES.items():
        assert f"\n  {code:<4} {meaning}" in help_text
