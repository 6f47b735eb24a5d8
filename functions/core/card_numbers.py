"""Card numbers (PANs) in free text: found, so card and payment routes refuse them, and redacted, so
support tickets never store one. billow never reads a card number: Stripe.js collects the card."""

from __future__ import annotations

import re

# 13 to 19 digits, optionally separated by spaces or dashes, passing the Luhn check every card number
# (PAN) passes: what a card number looks like. The Luhn check spares 9 in 10 other digit runs.
_CARD_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char)
        if position % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def holds_card_number(text: str) -> bool:
    """True when `text` holds a card-number-like digit run (13-19 digits passing the Luhn check)."""
    return any(_luhn(re.sub(r"[ -]", "", m.group())) for m in _CARD_RUN.finditer(text))


def redact_card_numbers(text: str, replacement: str) -> str:
    """`text` with each card-number-like digit run (13-19 digits passing the Luhn check) replaced."""

    def replace(match: re.Match[str]) -> str:
        return replacement if _luhn(re.sub(r"[ -]", "", match.group())) else match.group()

    return _CARD_RUN.sub(replace, text)
