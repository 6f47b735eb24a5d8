"""The PDF's fonts: DejaVu Sans (Latin, Greek, Cyrillic, Arabic, Hebrew, currency signs), and when a
document holds characters DejaVu lacks, fallbacks fpdf2 switches to glyph by glyph
(`FPDF.set_fallback_fonts`): Droid Sans Fallback (Chinese, Japanese; Apache-2.0, 4.0 MB) and Nanum
Gothic (Korean; OFL-1.1, 4.7 MB). Right-to-left and joined scripts (Arabic, Hebrew, …) are shaped by
HarfBuzz (`FPDF.set_text_shaping`, uharfbuzz). Both are turned on only for a document that needs them:
a Latin invoice renders exactly as before, without loading 9 MB of fonts. Every font is embedded as a
subset (only the glyphs used), so a CJK invoice stays small. The files and their licences live in
functions/invoices/fonts/ (docs/invoices.md).

Each font file is parsed once per process (issue 21): fpdf2's `add_font` reads the whole character map
and every glyph's width (~20 ms for DejaVu Sans, more for the CJK fonts) each time. `add_fonts` gives
each document a copy of the parsed font sharing those read-only tables, with its own glyph subset and
its own fontTools file handle (fpdf2 cuts the file down to the subset in place when it writes the PDF,
so that handle is never shared), without the tables that writing it drops anyway."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

FONTS = Path(__file__).with_name("fonts")
MAIN = "DejaVu"
FALLBACKS = (("Droid", "DroidSansFallbackFull.ttf"), ("Nanum", "NanumGothic.ttf"))
# The tables fpdf2 2.8.9 has fontTools' subsetter drop when it writes a font into the PDF (fpdf/output.py
# `_add_fonts`), and `kern`, which the subsetter drops when the font has GPOS: left out of each
# document's font before it is written, so that the subsetter does not read them first (GSUB and GPOS
# are parsed to check their formats, ~40 % of writing DejaVu Sans). The PDF's bytes are the same
# (tests/integration/test_invoice_pdf_golden.py).
_DROPPED = ("FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC", "EBDT", "EBLC", "EBSC")
_DROPPED += ("SVG ", "CPAL", "COLR")
# Scripts that need shaping: Hebrew, Arabic, Syriac, Thaana, N'Ko, Arabic presentation forms.
_SHAPED = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


@lru_cache(maxsize=1)
def _main_cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(str(FONTS / "DejaVuSans.ttf")).getBestCmap())


def needs(texts: Iterable[str]) -> tuple[bool, bool]:
    """(fallback fonts, text shaping): whether any of `texts` has a character DejaVu Sans lacks, and
    whether any is in a script that must be shaped."""
    joined = "".join(texts)
    cmap = _main_cmap()
    return any(ord(c) not in cmap for c in set(joined) if c.isprintable()), bool(_SHAPED.search(joined))


def document_class() -> Any:
    """fpdf2's FPDF whose `set_font` puts the font on the page at once: fpdf2 2.8.9 otherwise writes it
    inside the q/Q of a line whose first glyph comes from a fallback font (a CJK name right after
    `set_font`), and the lines after it lose their font."""
    from fpdf import FPDF

    class Document(FPDF):  # type: ignore[misc]
        def set_font(self, family: str | None = None, style: Any = "", size: float = 0) -> None:
            super().set_font(family, style, size)
            if self.page > 0 and self.current_font is not None and not self.current_font_is_set_on_page:
                self._out(self._set_font_for_page(self.current_font, self.font_size_pt))

    return Document


@cache
def _parsed(family: str, style: str, file: str) -> Any:
    """fpdf2's TTFFont for `file`, parsed once per process."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font(family, style, str(FONTS / file))
    return next(iter(pdf.fonts.values()))


def _add_font(pdf: Any, family: str, style: str, file: str) -> None:
    """fpdf2's `pdf.add_font(family, style, file)`, from the font parsed once: the character map, the
    widths and the glyph ids shared; its number on `pdf`, its subset, its missing glyphs and its
    fontTools handle (subset in place on output, without the tables the subset drops) its own."""
    from fontTools.ttLib import TTFont
    from fpdf.fonts import SubsetMap

    parsed = _parsed(family, style, file)
    font = copy.copy(parsed)
    font.i = len(pdf.fonts) + 1
    font.ttfont = TTFont(parsed.ttffile, recalcTimestamp=False, lazy=True)
    if "GPOS" in font.ttfont and "kern" in font.ttfont:
        del font.ttfont["kern"]
    for tag in _DROPPED:
        if tag in font.ttfont:
            del font.ttfont[tag]
    font.subset = SubsetMap(font)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    pdf.fonts[parsed.fontkey] = font


def add_fonts(pdf: Any, texts: Iterable[str]) -> None:
    """DejaVu Sans (regular and bold) on `pdf`, and the fallbacks and shaping `texts` need."""
    _add_font(pdf, MAIN, "", "DejaVuSans.ttf")
    _add_font(pdf, MAIN, "B", "DejaVuSans-Bold.ttf")
    fallback, shaping = needs(texts)
    if fallback:
        for family, file in FALLBACKS:
            _add_font(pdf, family, "", file)
        pdf.set_fallback_fonts([family for family, _ in FALLBACKS], exact_match=False)
    if shaping:
        pdf.set_text_shaping(True)
