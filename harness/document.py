"""A report as a list of blocks, rendered as Markdown and as standalone HTML, so both always say the same thing.

Blocks: ``("h1" | "h2" | "h3" | "p" | "legend", text)``, ``("ul", [text])``, ``("table", DataFrame)``,
``("image", (alt, png_bytes))`` and ``("banner", (kind, text))`` with kind ``pass``, ``fail``, ``error`` or
``plant``. Text may mark *emphasis* with asterisks, as Markdown does; the HTML renders it as emphasis.
"""

from __future__ import annotations

import base64
import html
import re

import pandas as pd

#: The CSS class of a table cell holding a verdict.
CELL_CLASS = {"FAIL": "fail", "pass": "pass", "pass (noise floor)": "noise", "ERROR": "error"}

_CSS = ("body{font-family:sans-serif;font-size:14px;max-width:1200px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;font-size:13px;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}td:first-child{text-align:left}"
        "td.fail,td.error{background:#f8b4b4;font-weight:bold}td.pass{background:#dfd}td.noise{background:#ffd}img{max-width:100%}"
        ".banner{font-size:22px;font-weight:bold;padding:.6em 1em;margin:.6em 0;border-radius:6px;color:#fff}"
        ".banner.pass{background:#1b7a34}.banner.fail{background:#c62828}.banner.error{background:#7b1010}"
        ".banner.plant{background:#f5b100;color:#000}.legend{font-size:13px;color:#333;background:#f6f6f6;padding:.5em 1em}")


def _md_table(df: pd.DataFrame) -> str:
    if not len(df):
        return "(none)\n"
    cells = [[str(c) for c in df.columns]] + [[str(v).replace("|", "\\|") for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines) + "\n"


def to_markdown(doc: list[tuple]) -> str:
    parts = []
    for kind, content in doc:
        if kind in ("h1", "h2", "h3"):
            parts.append("#" * int(kind[1]) + " " + content + "\n")
        elif kind in ("p", "legend"):
            parts.append(content + "\n")
        elif kind == "banner":
            parts.append(f"**{content[1]}**\n")
        elif kind == "ul":
            parts.append("\n".join(f"- {item}" for item in content) + "\n")
        elif kind == "table":
            parts.append(_md_table(content))
        elif kind == "image":
            parts.append(f"*({content[0]}: see report.html)*\n")
    return "\n".join(parts)


def _inline(text: str) -> str:
    """Escaped HTML of ``text`` with Markdown's *emphasis* rendered."""
    return re.sub(r"\*([^*\s][^*]*?)\*", r"<em>\1</em>", html.escape(str(text)))


def _html_table(df: pd.DataFrame) -> str:
    if not len(df):
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            text = str(v)
            cls = CELL_CLASS.get(text)
            cells.append(f"<td class='{cls}'>{html.escape(text)}</td>" if cls else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def to_html(doc: list[tuple]) -> str:
    parts = []
    for kind, content in doc:
        if kind in ("h1", "h2", "h3"):
            parts.append(f"<{kind}>{html.escape(content)}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{_inline(content)}</p>")
        elif kind == "legend":
            parts.append(f"<p class='legend'>{_inline(content)}</p>")
        elif kind == "banner":
            parts.append(f"<div class='banner {content[0]}' id='banner-{content[0]}'>{html.escape(content[1])}</div>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in content) + "</ul>")
        elif kind == "table":
            parts.append(_html_table(content))
        elif kind == "image":
            alt, png = content
            parts.append(f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    title = next((html.escape(content) for kind, content in doc if kind == "h1"), "report")
    head = f"<head><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style></head>"
    return f"<!DOCTYPE html><html>{head}<body>{''.join(parts)}</body></html>\n"
