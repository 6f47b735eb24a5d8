"""The PDF's fonts: DejaVu Sans (Latin, Greek, Cyrillic, Arabic, Hebrew, currency signs), and when a
document holds characters DejaVu lacks, fallbacks fpdf2 switches to glyph by glyph
(`FPDF.set_fallback_fonts`): Droid Sans Fallback (Chinese, Japanese; Apache-2.0, 4.0 MB) and Nanum
Gothic (Korean; OFL-1.1, 4.7 MB). Right-to-left and joined scripts (Arabic, Hebrew, …) are shaped by
HarfBuzz (`FPDF.set_text_shaping`, uharfbuzz). Both are turned on only for a document that needs them:
a Latin invoice renders exactly as before, without loading 9 MB of fonts. Every font is embedded as a
subset (only the glyphs used), so a CJK invoice stays small. The files and their licences live in
functions/invoices/fonts/ (docs/invoices.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

FONTS = Path(__file__).with_name("fonts")
MAIN = "DejaVu"
FALLBACKS = (("Droid", "DroidSansFallbackFull.ttf"), ("Nanum", "NanumGothic.ttf"))
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


def add_fonts(pdf: Any, texts: Iterable[str]) -> None:
    """DejaVu Sans (regular and bold) on `pdf`, and the fallbacks and shaping `texts` need."""
    pdf.add_font(MAIN, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(MAIN, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    fallback, shaping = needs(texts)
    if fallback:
        for family, file in FALLBACKS:
            pdf.add_font(family, "", str(FONTS / file))
        pdf.set_fallback_fonts([family for family, _ in FALLBACKS], exact_match=False)
    if shaping:
        pdf.set_text_shaping(True)
