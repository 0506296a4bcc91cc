"""How reports print: counted words, byte sizes, and tables as text and HTML from the same rows.

Every report of the package keeps one ``_rows()`` method as the single source of what it shows; its
``__str__`` renders those rows with :func:`text_table` and its ``_repr_html_`` with :func:`html_table`, so the
text a script prints and the table Jupyter shows never disagree.
"""

from __future__ import annotations

import html
import math
import os
import sys
from collections.abc import Sequence

__all__ = [
    "MEASURED_MARK",
    "Cell",
    "counts_text",
    "format_bytes",
    "html_table",
    "measurement",
    "plural",
    "print_to_pipe",
    "text_table",
]

Cell = str | Sequence[str]
"""A table cell: one line of text, or several lines (a list) that stay in one cell."""

MEASURED_MARK = "≈"
"""Prefix of a measured float that varies between machines (``≈1.4e-06``): the only floats nbval masks."""

_CELL_STYLE = "text-align:left;vertical-align:top;padding:2px 10px;font-family:monospace"
_FLAG_COLOURS = {True: "#1a7f37", False: "#b35900"}


def plural(count: int, word: str) -> str:
    """``plural(1, "node")`` -> ``"1 node"``; ``plural(1200, "value_info entry")`` -> ``"1,200 value_info entries"``.

    ``word`` is the singular; the plural adds ``s`` (``y`` after a consonant becomes ``ies``).
    """
    if count == 1:
        return f"1 {word}"
    if word.endswith("y") and word[-2:-1] not in tuple("aeiou"):
        return f"{count:,} {word[:-1]}ies"
    return f"{count:,} {word}s"


def counts_text(counts: Sequence[tuple[str, int]], limit: int = 12) -> str:
    """``Conv ×2, Relu ×2, Gemm ×1``: the first ``limit`` (name, count) pairs; the rest as one more entry,
    ``3 more op types ×7``. Pass the pairs most frequent first."""
    parts = [f"{name} ×{count}" for name, count in counts[:limit]]
    rest = counts[limit:]
    if rest:
        parts.append(f"{len(rest)} more op types ×{sum(c for _, c in rest)}")
    return ", ".join(parts)


def measurement(value: float | None) -> str:
    """A measured difference, ``≈1.4e-06``: two significant digits behind :data:`MEASURED_MARK`.

    Its last digits differ between CPUs (kernels sum in other orders), so ``tests/nbval_sanitize.cfg`` masks
    exactly this form and nothing else: tolerances, counts and labels print without the mark and stay compared.
    ``None`` prints ``-``; ``nan`` and ``inf`` print bare (they are findings, not noise).
    """
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{MEASURED_MARK}{value:.1e}"


def format_bytes(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"``: bytes in binary units, one decimal."""
    if n < 1024:
        return f"{n} B"
    value, units = n / 1024, ["KiB", "MiB", "GiB", "TiB"]
    while value >= 1024 and len(units) > 1:
        value /= 1024
        units.pop(0)
    return f"{value:.1f} {units[0]}"


def format_flops(n: int) -> str:
    """``3_630_000_000`` -> ``"3.63 GFLOP"``: floating-point operations in decimal units, three digits."""
    for scale, unit in ((1e12, "TFLOP"), (1e9, "GFLOP"), (1e6, "MFLOP"), (1e3, "kFLOP")):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} FLOP"


def _lines(cell: Cell) -> list[str]:
    return [cell] if isinstance(cell, str) else list(cell) or [""]


def text_table(
    rows: Sequence[Sequence[Cell]],
    headers: Sequence[str] | None = None,
    *,
    sep: str = "  ",
    rule: bool = False,
    min_widths: Sequence[int] = (),
) -> list[str]:
    """Rows as aligned text lines (trailing spaces removed); a multi-line cell continues on the next lines.

    ``headers`` adds a first line, ``rule`` a line of dashes under it; ``min_widths`` keeps columns at least that
    wide, so tables with and without a long label line up alike.
    """
    table = [[_lines(cell) for cell in row] for row in rows]
    columns = len(headers) if headers is not None else max((len(row) for row in table), default=0)
    widths = [
        max([min_widths[i] if i < len(min_widths) else 0, len(headers[i]) if headers is not None else 0])
        for i in range(columns)
    ]
    for row in table:
        for i, lines in enumerate(row[:-1]):  # the last column is never padded
            widths[i] = max(widths[i], *(len(line) for line in lines))

    def line(cells: Sequence[str]) -> str:
        return sep.join(c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    out: list[str] = []
    if headers is not None:
        out.append(line(headers))
        if rule:
            widths[-1] = max(widths[-1], *(len(ln) for row in table for ln in row[-1]))
            out.append(sep.join("-" * w for w in widths))
    for row in table:
        for k in range(max(len(lines) for lines in row)):
            out.append(line([lines[k] if k < len(lines) else "" for lines in row]))
    return out


def html_table(
    rows: Sequence[Sequence[Cell]],
    headers: Sequence[str] | None = None,
    *,
    caption: str | None = None,
    flags: Sequence[bool | None] | None = None,
    row_labels: bool = False,
) -> str:
    """The same rows as an HTML ``<table>`` (every string escaped; a multi-line cell's lines joined by ``<br>``).

    ``caption`` titles the table; ``flags`` colours each row green (True), orange (False) or not at all (None);
    ``row_labels`` makes each row's first cell a header cell (a two-column "label: values" card).
    """
    cell = f'style="{_CELL_STYLE}"'
    parts = ['<table style="border-collapse:collapse">']
    if caption is not None:
        parts.append(f'<caption style="text-align:left;font-weight:bold">{html.escape(caption)}</caption>')
    if headers is not None:
        parts.append("<thead><tr>" + "".join(f"<th {cell}>{html.escape(h)}</th>" for h in headers) + "</tr></thead>")
        parts.append("<tbody>")
    for index, row in enumerate(rows):
        flag = None if flags is None else flags[index]
        colour = "" if flag is None else f' style="color:{_FLAG_COLOURS[flag]}"'
        cells = []
        for k, value in enumerate(row):
            tag = "th" if row_labels and k == 0 else "td"
            cells.append(f"<{tag} {cell}>{'<br>'.join(html.escape(v) for v in _lines(value))}</{tag}>")
        parts.append(f"<tr{colour}>{''.join(cells)}</tr>")
    parts.append("</tbody></table>" if headers is not None else "</table>")
    return "".join(parts)


def print_to_pipe(text: str) -> None:
    """Print a command's report on stdout; when the reader stopped early (``… | head``) nothing is wrong, so the
    command ends without a ``BrokenPipeError`` traceback (the course's CLIs: inspect, compat, gate)."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
