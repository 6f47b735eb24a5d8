"""The invoice's lines table, laid out and drawn by billow (issue 21), as fpdf2's `table()` drew it
before: the same columns, padding (1.2 mm), line height (5.2 mm), heading row (bold, white on blue,
repeated at the top of every page), group rows (bold, on light blue), horizontal rules (light grey)
between rows, each cell's text vertically centred in its row, names and descriptions wrapped, a row
never split across pages (a page break before a row that would not fit; the heading never alone at
the bottom of a page).

Each text is wrapped once (`render_text.Pen`) — fpdf2's `table()` laid every cell out twice, once to
measure the row and once to draw it, with a line breaker that re-measures the line at each character:
97 % of a 1,000-line invoice's time (docs/performance.md). The rows' fills and rules are written as PDF operators, the
texts by the Pen (or fpdf2's `multi_cell` for the texts the Pen leaves to it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from functions.invoices.render_text import LINE_HEIGHT, PADDING, Pen, Wrapped, flush
from functions.invoices.typefaces import MAIN

SIZE = 8.5  # pt, every cell's text
ALIGN = ("L", "L", "R", "R", "R")  # description, period, quantity, unit price, amount
HEAD_FILL, HEAD_TEXT = (20, 60, 120), 255
GROUP_FILL = (232, 238, 247)
RULE = 200  # grey level of the rules between rows


@dataclass(frozen=True)
class Cell:
    x: float
    width: float
    text: Wrapped
    align: str


@dataclass(frozen=True)
class Row:
    kind: str  # "head", "group" (its label spans the first four columns) or "line"
    cells: tuple[Cell, ...]
    height: float


def draw(pdf: Any, rows: Sequence[tuple[str, Sequence[str]]]) -> None:
    """The table of `rows` ((kind, its five texts); the first is the heading) across the page's width
    at the current position; the position after it."""
    pens = {"": Pen(pdf, "", SIZE), "B": Pen(pdf, "B", SIZE)}
    base = pdf.text_color
    pdf.set_draw_color(RULE)
    laid = _layout(rows, _columns(pdf, column_widths(pdf, pens["B"], rows)), pens)
    if len(laid) > 1 and pdf.will_page_break(laid[0].height + laid[1].height):
        pdf.add_page()  # the heading not alone at the bottom of a page
    style = _Style(pdf, pens, base)
    for i, row in enumerate(laid):
        if i > 0 and pdf.will_page_break(row.height):
            pdf.add_page()
            _draw_row(pdf, laid[0], style, top=False, bottom=True)
        _draw_row(pdf, row, style, top=i > 0, bottom=i < len(laid) - 1)
    pdf.set_text_color(base)
    pdf.x = pdf.l_margin


def column_widths(pdf: Any, bold: Pen, rows: Sequence[tuple[str, Sequence[str]]]) -> tuple[float, ...]:
    """(description, period, qty, unit, amount): the last three as wide as their widest text in bold
    (an amount never wraps: "98 765,43 SEK" fits whole), at least their usual width; the period 42 mm;
    the description takes the rest."""
    fixed = [16.0, 28.0, 26.0]
    for _, texts in rows:
        for i, text in enumerate(texts[2:]):
            if text:
                fixed[i] = max(fixed[i], bold.string_width(text) + 4)
    period_w = 42.0
    return (pdf.epw - period_w - sum(fixed), period_w, *fixed)


def _columns(pdf: Any, col_widths: Sequence[float]) -> list[tuple[float, float]]:
    """(x, width) of each column, computed as fpdf2's table computes them (proportions of the page's
    width), so that texts wrap where they wrapped."""
    total, width, x = sum(col_widths), pdf.epw, pdf.l_margin
    columns = []
    for share in col_widths:
        columns.append((x, share / total * width))
        x += share / total * width
    return columns


def _layout(
    rows: Sequence[tuple[str, Sequence[str]]], columns: list[tuple[float, float]], pens: dict[str, Pen]
) -> list[Row]:
    """Each row's cells with their wrapped texts, and its height (its tallest cell's lines + padding)."""
    laid = []
    for kind, texts in rows:
        pen = pens["" if kind == "line" else "B"]
        if kind == "group":
            (x, _), (amount_x, amount_w) = columns[0], columns[4]
            spans = [(x, sum(w for _, w in columns[:4]), texts[0], "L"), (amount_x, amount_w, texts[4], "R")]
        else:
            spans = [(x, w, text, align) for (x, w), text, align in zip(columns, texts, ALIGN, strict=True)]
        cells = tuple(Cell(x, w, pen.wrap(text, w), align) for x, w, text, align in spans if text)
        counts = [cell.text.count for cell in cells]
        height = max(counts) * LINE_HEIGHT + 2 * PADDING if cells else LINE_HEIGHT
        laid.append(Row(kind, cells, height))
    return laid


class _Style:
    """Sets the font and the text colour of a row's kind on the document (for fpdf2's `multi_cell`)
    when the kind changes; gives the text colour's PDF operator (for the Pen)."""

    def __init__(self, pdf: Any, pens: dict[str, Pen], base: Any) -> None:
        self.pdf, self.pens, self.base, self.kind = pdf, pens, base, ""
        self.colour = ""

    def use(self, kind: str, ops: list[str]) -> Pen:
        """The Pen of `kind`'s rows, its font and colour set on the document (`ops` written first)."""
        pen = self.pens["" if kind == "line" else "B"]
        if kind != self.kind:
            self.kind = kind
            pdf = self.pdf
            flush(pdf, ops)
            pdf.set_font(MAIN, pen.style, SIZE)
            pdf.set_text_color(HEAD_TEXT if kind == "head" else self.base)
            self.colour = pdf.text_color.serialize().lower()
        return pen


def _fill(rgb: tuple[int, int, int]) -> str:
    return " ".join(f"{c / 255:.4f}" for c in rgb) + " rg"


def _draw_row(pdf: Any, row: Row, style: _Style, top: bool, bottom: bool) -> None:
    """The row at the current position (its fill, its rules, its texts); the position under it."""
    k, y = pdf.k, pdf.y
    left, right = pdf.l_margin * k, (pdf.l_margin + pdf.epw) * k
    y_top, y_bottom = (pdf.h - y) * k, (pdf.h - y - row.height) * k
    ops = []
    fill = {"head": HEAD_FILL, "group": GROUP_FILL}.get(row.kind)
    if fill:
        ops.append(f"q {_fill(fill)} {left:.2f} {y_bottom:.2f} {right - left:.2f} {y_top - y_bottom:.2f} re f Q")
    if bottom:
        ops.append(f"{left:.2f} {y_bottom:.2f} m {right:.2f} {y_bottom:.2f} l S")
    if top:
        ops.append(f"{left:.2f} {y_top:.2f} m {right:.2f} {y_top:.2f} l S")
    pen = style.use(row.kind, ops)
    for cell in row.cells:
        dy = (row.height - (cell.text.count * LINE_HEIGHT + 2 * PADDING)) / 2
        pen.write(ops, cell.text, (cell.x, y + dy, cell.width), cell.align, style.colour)
    flush(pdf, ops)
    pdf.set_xy(pdf.l_margin, y + row.height)
