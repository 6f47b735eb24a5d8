"""What a card number looks like, for the two places billow refuses or hides one: payment and card
routes refuse a body holding one (400 `card-data-not-accepted`, functions/core/http.py) and support
tickets are stored with each one redacted (functions/payments/tickets.py).

A card number (PAN) is 13 to 19 digits, optionally separated by single spaces or dashes, passing the
Luhn check; the Luhn check spares 9 in 10 other digit runs (order numbers, phone numbers).
"""

from __future__ import annotations

import re

CARD_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


def luhn(digits: str) -> bool:
    """The Luhn checksum every card number passes (`digits`: digits only)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char)
        if position % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _is_card_number(run: str) -> bool:
    return luhn(re.sub(r"[ -]", "", run))


def holds_card_number(text: str) -> bool:
    """True when `text` holds a card-number-like digit run (13-19 digits passing the Luhn check)."""
    return any(_is_card_number(m.group()) for m in CARD_RUN.finditer(text))


def redact_card_numbers(text: str, marker: str) -> str:
    """`text` with every card-number-like digit run replaced by `marker`; other digit runs kept."""
    return CARD_RUN.sub(lambda m: marker if _is_card_number(m.group()) else m.group(), text)
