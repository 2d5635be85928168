"""Terminal output: a small progress bar on stderr and the colour summary (ANSI only on a tty), fitted to the
terminal's width: a table when it fits, else one block per case and dtype, wrapped between items, never mid-word."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from typing import TextIO

import pandas as pd

_COLOURS = {"pass": "\033[32m", "pass (noise floor)": "\033[33m", "FAIL": "\033[1;31m", "ERROR": "\033[1;35m"}
#: The width used when the terminal's is unknown (output to a file or a pipe, no COLUMNS).
DEFAULT_WIDTH = 100
_RESET = "\033[0m"


class Progress:
    """``[#####.....] 12/115 mlp: step 3/20 0:07`` redrawn in place on a tty; one line per case otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30):
        self.total, self.stream, self.width = max(total, 1), stream or sys.stderr, width
        self.done, self.start, self.last_case = 0, time.perf_counter(), None
        self.tty = self.stream.isatty()

    def tick(self, message: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        if self.tty:
            filled = int(self.width * min(self.done, self.total) / self.total)
            line = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {message} {int(elapsed) // 60}:{int(elapsed) % 60:02d}"
            self.stream.write("\r" + line[:120].ljust(120))
        else:
            case = message.split(":", 1)[0]
            if case != self.last_case:
                self.stream.write(f"[{elapsed:6.1f}s] {case}\n")
                self.last_case = case
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 120 + "\r")
            self.stream.flush()


def render_table(table: pd.DataFrame, colour: bool) -> str:
    """A plain-text table with aligned columns; verdict cells coloured when ``colour``."""
    columns = [str(c) for c in table.columns]
    rows = [[str(v) for v in row] for row in table.itertuples(index=False)]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
    for r in rows:
        cells = []
        for value, width in zip(r, widths):
            cell = value.ljust(width)
            if colour and value in _COLOURS:
                cell = _COLOURS[value] + cell + _RESET
            cells.append(cell)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def outcome_line(kind: str, text: str, colour: bool) -> str:
    """The closing line from a report banner (``report.banner``): ``all verdicts pass``, ``some verdicts FAIL: ...``
    with the count and the worst failure, or ``ERROR: ...`` naming the case and the error."""
    body = text.split(": ", 1)[-1]
    head, rest = {"pass": ("all verdicts pass", ""), "fail": ("some verdicts FAIL", f": {body}"), "error": ("ERROR", f": {body}")}[kind]
    if colour:
        head = _COLOURS[{"pass": "pass", "fail": "FAIL", "error": "ERROR"}[kind]] + head + _RESET
    return head + rest


def terminal_width(stream: TextIO | None = None) -> int:
    """Columns of the terminal ``stream`` writes to: COLUMNS when set, the tty's width, else ``DEFAULT_WIDTH``."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        pass
    return DEFAULT_WIDTH


def _paint(text: str, width: int, colour: bool) -> str:
    cell = text.ljust(width)
    return _COLOURS[text] + cell + _RESET if colour and text in _COLOURS else cell


def render_summary(table: pd.DataFrame, colour: bool, width: int, key_columns: int = 3) -> str:
    """``render_table`` when its lines fit in ``width`` columns; otherwise per row a line with the first
    ``key_columns`` cells (case, dtype, verdict), aligned, and below it the other cells as ``name: value`` items
    joined by ``; ``, indented and wrapped at ``width`` between items (an item longer than a line wraps between words)."""
    plain = render_table(table, colour=False)
    if max((len(line) for line in plain.splitlines()), default=0) <= width:
        return render_table(table, colour)
    columns = [str(c) for c in table.columns]
    rows = [[str(v) for v in row] for row in table.itertuples(index=False)]
    widths = [max(len(r[i]) for r in rows) for i in range(key_columns)]
    indent = "    "
    lines = []
    for row in rows:
        lines.append("  ".join(_paint(v, w, colour) for v, w in zip(row[:key_columns], widths)).rstrip())
        items = [f"{name}: {value}" for name, value in zip(columns[key_columns:], row[key_columns:])]
        items = [item + ";" for item in items[:-1]] + items[-1:]
        line = ""
        for item in items:
            if line and len(indent + line + " " + item) <= width:
                line += " " + item
                continue
            if line:
                lines.append(indent + line)
            line = item
            if len(indent + line) > width:
                wrapped = textwrap.wrap(item, width - len(indent), break_long_words=False, break_on_hyphens=False)
                lines += [indent + part for part in wrapped[:-1]]
                line = wrapped[-1]
        if line:
            lines.append(indent + line)
    return "\n".join(lines)
