"""Terminal output: a small progress bar on stderr and the colour summary table (ANSI only on a tty)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import pandas as pd

_COLOURS = {"pass": "\033[32m", "pass (noise floor)": "\033[33m", "FAIL": "\033[1;31m"}
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


def verdict_line(passed: bool, colour: bool) -> str:
    text = "all verdicts pass" if passed else "some verdicts FAIL"
    if colour:
        return (_COLOURS["pass"] if passed else _COLOURS["FAIL"]) + text + _RESET
    return text
