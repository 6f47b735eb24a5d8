"""Text in the lines table, measured, wrapped and written without fpdf2's per-character layout (issue 21).

fpdf2's `multi_cell` measures a line again each time it adds a character (the width of a 100-character
description is summed ~100 times) and `table()` does it twice per cell: a 1,000-line invoice spent 97 %
of its time there (docs/performance.md). A `Pen` does the same work once per text with the font's own
widths (`TTFFont.cw`, the table fpdf2 reads), breaking lines by fpdf2's rule — at the last space that fits,
inside a word only when the word alone is too wide (`fpdf/line_break.py` `MultiLineBreak.get_line`,
WORD mode) — so the words fall where fpdf2 put them, and writes each line as fpdf2's `cell` writes it
(`q BT x y Td <colour> (<glyph codes>) Tj ET Q`, glyphs picked in the font's subset).

A text the main font cannot write alone (a character DejaVu lacks, for the fallback fonts), a document
whose text is shaped (Arabic, Hebrew), or a text with a character fpdf2's line breaking treats
specially (a soft hyphen, spaces other than the space and the no-break space, a line break) goes
through fpdf2's own `multi_cell`, as before: exact, and slower, for the few documents that need it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.invoices import typefaces

PADDING = 1.2  # mm around a cell's text
LINE_HEIGHT = 5.2  # mm a line of text
# What fpdf2's line breaking treats apart from an ordinary character, the space and the no-break space
# (fpdf/line_break.py): other spaces, the soft hyphen, line and page breaks.
_SPECIAL = frozenset("\u200b\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200a\u205f\u3000\t\u00ad\n\r\f")
NBSP = "\u00a0"  # never breaks a line; fpdf2 measures it as itself and writes a space in its place
_TOLERANCE = 1e-9  # fpdf2's FloatTolerance


@dataclass(frozen=True)
class Wrapped:
    """A cell's text broken into lines: `lines` written by the Pen (a no-break space written as a space,
    as fpdf2 writes it), or None when fpdf2 writes it (`count` lines)."""

    text: str
    count: int
    lines: tuple[str, ...] | None


def flush(pdf: Any, ops: list[str]) -> None:
    """Writes the operators `ops` holds on the page, in one piece; empties it."""
    if ops:
        pdf._out("\n".join(ops))
        ops.clear()


class _Units(dict):  # type: ignore[type-arg]
    """character -> its width in 1/1000 of the font size (fpdf2's `TTFFont.cw`), filled on first use."""

    def __init__(self, cw: Any) -> None:
        super().__init__()
        self.cw = cw

    def __missing__(self, char: str) -> int:
        units = self[char] = self.cw[ord(char)]
        return int(units)


class Pen:
    """Measures, wraps and writes texts in one style and size of the document's main font."""

    def __init__(self, pdf: Any, style: str, size: float) -> None:
        self.pdf, self.style, self.size = pdf, style, size
        self.font = pdf.fonts[f"{typefaces.MAIN.lower()}{style}"]
        self._units = _Units(self.font.cw)
        self._codes: dict[int, str | None] = {}  # translate table: character -> its code in the subset
        self._wrapped: dict[tuple[str, float], Wrapped] = {}
        self._encoded: dict[str, str] = {}
        self._known: set[str] = set()  # characters found in the font

    def _width(self, units: int) -> float:
        """`units` (1/1000 of the font size) in mm, computed as fpdf2 computes a fragment's width."""
        return units * self.size * 0.001 / self.pdf.k

    def _limit(self, max_width: float) -> int:
        """The most units a line `max_width` mm wide holds, by fpdf2's test (a line is too wide when
        its width exceeds the cell's by more than 1e-9 mm)."""
        limit = int((max_width + _TOLERANCE) / self._width(1)) + 1
        while self._width(limit) - max_width > _TOLERANCE:
            limit -= 1
        return limit

    def units(self, text: str) -> int:
        return sum(map(self._units.__getitem__, text))

    def plain(self, text: str) -> bool:
        """Whether the Pen can write `text` as fpdf2 would: every character in the main font, no
        shaping, nothing fpdf2's line breaking treats specially."""
        chars = set(text)
        if self.pdf.text_shaping or chars & _SPECIAL:
            return False
        if chars <= self._known:
            return True
        cmap = self.font.cmap
        if all(ord(c) in cmap for c in chars):
            self._known |= chars
            return True
        return False

    def text_width(self, text: str) -> float:
        """The width of a plain `text` in mm."""
        return self._width(self.units(text))

    def string_width(self, text: str) -> float:
        """The width of any `text` in mm, as fpdf2's `get_string_width` gives it."""
        if self.plain(text):
            return self.text_width(text)
        self.pdf.set_font(typefaces.MAIN, self.style, self.size)
        return float(self.pdf.get_string_width(text))

    def wrap(self, text: str, width: float) -> Wrapped:
        """`text` in lines of at most `width` mm (a cell's width, padding included)."""
        key = (text, width)
        found = self._wrapped.get(key)
        if found is None:
            lines = self._lines(text, self._limit(width - 2 * PADDING)) if self.plain(text) else None
            if lines is None:
                count = len(self._fpdf_cell(text, width, "L", dry_run=True))
                found = Wrapped(text, count, None)
            else:
                found = Wrapped(text, len(lines), tuple(line.replace(NBSP, " ") for line in lines))
            self._wrapped[key] = found
        return found

    def _lines(self, text: str, limit: int) -> list[str] | None:
        """fpdf2's WORD wrapping of a plain text in lines of at most `limit` units, word by word: a word
        goes on the line when it fits after a space; else the line ends before that space; a word too
        wide for a line of its own is cut where it reaches the edge (None: not one character fits)."""
        total = self.units(text)
        if total <= limit:
            return [text] if total else []
        space, lines = self._units[" "], []
        line, used, spaced = "", 0, False  # the line so far, its units, whether it holds a space
        for n, word in enumerate(text.split(" ")):
            if n:
                if used + space > limit:  # the space does not fit: the line ends, the space is dropped
                    lines.append(line)
                    line, used, spaced = "", 0, False
                else:
                    line, used, spaced = line + " ", used + space, True
            width = self.units(word)
            if used + width <= limit:
                line, used = line + word, used + width
                continue
            if spaced:  # back to the space before the word
                lines.append(line[:-1])
                line, used = "", 0
            cut = self._cut(word, limit, lines)
            if cut is None:
                return None
            line, used, spaced = cut, self.units(cut), False
        if used:
            lines.append(line)
        return lines

    def _cut(self, word: str, limit: int, lines: list[str]) -> str | None:
        """A word at the start of a line: the parts that fill whole lines appended to `lines`; the
        rest (which starts the next line) returned."""
        units, start, used = self._units, 0, 0
        for i, char in enumerate(word):
            if used + units[char] > limit:
                if i == start:
                    return None
                lines.append(word[start:i])
                start, used = i, 0
            used += units[char]
        return word[start:]

    def write(
        self, ops: list[str], wrapped: Wrapped, cell: tuple[float, float, float], align: str, colour: str
    ) -> None:
        """The lines of `wrapped` in `cell` (x, top, width in mm; `top`: where its first line starts,
        padding included), aligned "L" or "R", in `colour` (a PDF fill colour operator): appended to
        `ops`, the page's operators still to write (written first when fpdf2 writes this text)."""
        pdf, (x, top, width) = self.pdf, cell
        if pdf.current_font is not self.font or pdf.font_size_pt != self.size:
            flush(pdf, ops)
            pdf.set_font(typefaces.MAIN, self.style, self.size)
        if wrapped.lines is None:
            flush(pdf, ops)
            pdf.set_xy(x, top)
            self._fpdf_cell(wrapped.text, width, align, dry_run=False)
            return
        if not pdf.current_font_is_set_on_page:
            ops.append(pdf._set_font_for_page(pdf.current_font, pdf.font_size_pt))
        k, page_h = pdf.k, pdf.h
        baseline = 0.5 * LINE_HEIGHT + 0.3 * (self.size / k)
        for n, line in enumerate(wrapped.lines):
            left = x + PADDING
            if align == "R":
                left += width - 2 * PADDING - self.text_width(line)
            y = page_h - (top + PADDING + n * LINE_HEIGHT + baseline)
            ops.append(f"q BT {left * k:.2f} {y * k:.2f} Td {colour} ({self._encode(line)}) Tj ET Q")

    def _encode(self, text: str) -> str:
        """`text` as the font's subset codes, escaped for a PDF string (fpdf2's `TTFFont.encode_text`)."""
        found = self._encoded.get(text)
        if found is None:
            codes = self._codes
            for char in set(text):
                if ord(char) not in codes:
                    code = self.font.subset.pick(ord(char))
                    codes[ord(char)] = None if code is None else chr(code)
            found = self._encoded[text] = self.font.escape_text(text.translate(codes))
        return found

    def _fpdf_cell(self, text: str, width: float, align: str, dry_run: bool) -> Any:
        """fpdf2's own `multi_cell`, as its `table()` called it."""
        return self.pdf.multi_cell(
            w=width,
            h=LINE_HEIGHT,
            text=text,
            max_line_height=LINE_HEIGHT,
            align=align,
            new_x="RIGHT",
            new_y="TOP",
            padding=PADDING,
            dry_run=dry_run,
            output="LINES",
        )
