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
so that handle is never shared), without the tables that writing it drops anyway.

A Latin document (every character of its free texts in `LATIN`, no fallback, no shaping) gets the two
DejaVu fonts cut down once per process to the ~1,250 glyphs of those characters (`_latin`): writing a
document's font subset reads the whole font it is cut from, and ~6,000 glyphs cost ~35 ms a font, per
document. The glyphs, their widths and names are the font's own: the page looks the same. Should the
document draw a character outside the cut (billow's own words are not among the free texts checked),
fpdf2 records it as missing and `render.render_pdf` renders the document again with the full fonts."""

from __future__ import annotations

import copy
import io
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
# A Latin document's characters: Latin (Basic, Latin-1, Extended-A and -B), general punctuation, currency
# signs, letter-like symbols, number forms, arrows, mathematical operators (∞), and the rest up to U+22FF.
LATIN = frozenset(range(0x20, 0x250)) | frozenset(range(0x2000, 0x2070)) | frozenset(range(0x20A0, 0x2300))
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
def _latin(file: str) -> bytes:
    """`file` cut down to the Latin characters (`LATIN`), glyphs unchanged, once per process (~100 ms
    a font): what a Latin document's fonts are cut from, ~1,250 glyphs instead of ~6,000."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(FONTS / file), recalcTimestamp=False)
    options = subset.Options(notdef_outline=True, recommended_glyphs=True, glyph_names=True, hinting=True)
    options.name_IDs, options.name_languages, options.legacy_kern = ["*"], ["*"], True
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM"]  # dropped from the PDF's fonts anyway
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=LATIN)
    cutter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _source(file: str, latin: bool) -> Any:
    return io.BytesIO(_latin(file)) if latin else str(FONTS / file)


@cache
def _parsed(family: str, style: str, file: str, latin: bool) -> Any:
    """fpdf2's TTFFont for `file` (or its Latin cut), parsed once per process."""
    from fpdf import FPDF
    from fpdf.fonts import TTFFont

    return TTFFont(FPDF(), _source(file, latin), f"{family.lower()}{style}", style)


def _add_font(pdf: Any, family: str, style: str, file: str, latin: bool = False) -> None:
    """fpdf2's `pdf.add_font(family, style, file)`, from the font parsed once: the character map, the
    widths and the glyph ids shared; its number on `pdf`, its subset, its missing glyphs and its
    fontTools handle (subset in place on output, without the tables the subset drops) its own."""
    from fontTools.ttLib import TTFont
    from fpdf.fonts import SubsetMap

    parsed = _parsed(family, style, file, latin)
    font = copy.copy(parsed)
    font.i = len(pdf.fonts) + 1
    font.ttfont = TTFont(_source(file, latin), recalcTimestamp=False, lazy=True)
    if "GPOS" in font.ttfont and "kern" in font.ttfont:
        del font.ttfont["kern"]
    for tag in _DROPPED:
        if tag in font.ttfont:
            del font.ttfont[tag]
    font.subset = SubsetMap(font)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    pdf.fonts[parsed.fontkey] = font


def add_fonts(pdf: Any, texts: Iterable[str], full: bool = False) -> None:
    """DejaVu Sans (regular and bold) on `pdf`, and the fallbacks and shaping `texts` need: cut to
    `LATIN` when every character of `texts` is in it and not `full`."""
    texts = list(texts)
    fallback, shaping = needs(texts)
    latin = not (full or fallback or shaping) and all(ord(c) in LATIN for c in set("".join(texts)))
    _add_font(pdf, MAIN, "", "DejaVuSans.ttf", latin)
    _add_font(pdf, MAIN, "B", "DejaVuSans-Bold.ttf", latin)
    if fallback:
        for family, file in FALLBACKS:
            _add_font(pdf, family, "", file)
        pdf.set_fallback_fonts([family for family, _ in FALLBACKS], exact_match=False)
    if shaping:
        pdf.set_text_shaping(True)


def missing(pdf: Any) -> bool:
    """Whether `pdf` drew a character its fonts lack (a Latin document's billow words or amounts with
    a character outside `LATIN`: it is rendered again with the full fonts)."""
    return any(font.missing_glyphs for font in pdf.fonts.values())
