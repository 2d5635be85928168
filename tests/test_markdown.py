"""harness.markdown: the one table writer of the run report and the bench report."""

from __future__ import annotations

import pandas as pd

from harness.markdown import frame_table, markdown_table


def test_table_has_header_rule_and_rows_and_escapes_pipes():
    assert markdown_table(["case", "ms"], [["mlp", 1.5], ["a|b", "-"]]) == (
        "| case | ms |\n|---|---|\n| mlp | 1.5 |\n| a\\|b | - |")


def test_frame_table_ends_with_a_newline_and_says_none_when_empty():
    frame = pd.DataFrame({"step": [0, 1], "loss": ["0.5", "0.25"]})
    assert frame_table(frame) == "| step | loss |\n|---|---|\n| 0 | 0.5 |\n| 1 | 0.25 |\n"
    assert frame_table(frame.iloc[:0]) == "(none)\n"
