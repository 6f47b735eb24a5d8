"""What billow refuses as card data (DESIGN §2 Logs): 13-19 digits, spaces or dashes allowed, passing Luhn."""

from __future__ import annotations

import pytest

from functions.core.card_data import holds_card_number


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        '{"name": "4242 4242 4242 4242"}',
        "card: 4000-0027-6000-3184.",
        "5555555555554444",
        "378282246310005",  # American Express, 15 digits
        "6011111111111117",
        "4222222222222",  # 13 digits
    ],
)
def test_card_numbers_are_recognised(text):
    assert holds_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # fails the Luhn check
        "ada-1795788807123456789@example.com",
        "seti_1NXaBcDeFgHiJkLmNoPq",
        "postal code 75002, phone +33 1 23 45 67 89",
        "123456789012",  # 12 digits
        "12345678901234567890123",  # longer than any card number
        "2026-11-27T13:20:41.123Z",
    ],
)
def test_other_digit_runs_are_not(text):
    assert not holds_card_number(text)
