"""Markdown tables, one writer for the run report and the bench report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured table without a trailing newline; a ``|`` inside a cell is escaped so it cannot split the cell."""

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in rows)])


def frame_table(frame) -> str:
    """A pandas DataFrame as a table ending in a newline, or ``(none)`` when it has no rows."""
    if not len(frame):
        return "(none)\n"
    return markdown_table(list(frame.columns), frame.itertuples(index=False)) + "\n"
