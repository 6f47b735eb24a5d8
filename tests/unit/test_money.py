from decimal import Decimal

import pytest

from functions.core.money import (
    MoneyError,
    check_amount,
    check_currency,
    decimal_amount,
    display,
    display_unit_price,
    exponent,
    format_amount,
    minimum_charge,
    round_half_up,
)


def test_amounts_are_true_integers_only():
    assert check_amount(1) == 1
    for bad in (1.0, 0.5, "100", True, None, Decimal("1")):
        with pytest.raises(MoneyError):
            check_amount(bad)


def test_zero_and_negative_are_refused_unless_allowed():
    with pytest.raises(MoneyError):
        check_amount(0)
    with pytest.raises(MoneyError):
        check_amount(-5)
    assert check_amount(0, allow_zero=True) == 0
    assert check_amount(-5, allow_negative=True) == -5


def test_amounts_above_stripes_eight_digits_are_refused():
    assert check_amount(99_999_999) == 99_999_999
    with pytest.raises(MoneyError):
        check_amount(100_000_000)


def test_currencies_are_lowercase_iso_codes_we_know():
    assert check_currency("usd") == "usd"
    for bad in ("USD", "xxx", "", 840, None):
        with pytest.raises(MoneyError):
            check_currency(bad)


def test_zero_decimal_currencies_have_exponent_zero():
    assert exponent("usd") == 2
    assert exponent("jpy") == 0
    assert minimum_charge("jpy") == 50
    assert minimum_charge("usd") == 50


def test_round_half_up_rounds_halves_away_from_zero():
    assert round_half_up(Decimal("2.5")) == 3
    assert round_half_up(Decimal("2.4999")) == 2
    assert round_half_up(Decimal("-2.5")) == -3


def test_format_amount_uses_the_currency_exponent():
    assert format_amount(123456, "usd") == "1,234.56 USD"
    assert format_amount(5, "eur") == "0.05 EUR"
    assert format_amount(500, "jpy") == "500 JPY"
    assert format_amount(-150, "gbp") == "-1.50 GBP"


def test_display_writes_an_amount_as_the_reader_s_language_does():
    """One human-readable form for e-mails and PDFs: the symbol, the grouping and the decimal mark of
    the account's language (French: narrow no-break space between groups, no-break space before €)."""
    assert display(123456, "usd", "en") == "$1,234.56"
    assert display(123456, "eur", "fr") == "1\u202f234,56\u00a0€"
    assert display(-150, "gbp", "en") == "-£1.50"
    assert display(500, "jpy", "fr") == "500\u00a0¥"
    assert display(1000, "chf", "en") == "CHF 10.00"
    assert display(1000, "cad", "de") == "CA$10.00"  # a language billow does not speak reads English
    assert display_unit_price("2.5", "usd", "en") == "$0.025"
    assert display_unit_price("2.5", "eur", "fr") == "0,025\u00a0€"


def test_decimal_amount_is_the_machine_form_of_the_csv_exports():
    assert decimal_amount(123456, "usd") == "1234.56"
    assert decimal_amount(-5, "eur") == "-0.05"
    assert decimal_amount(500, "jpy") == "500"


@pytest.mark.parametrize(
    ("fee", "used", "period", "expected"),
    [
        (3000, 14, 28, 1500),  # February
        (3100, 1, 31, 100),
        (1000, 15, 30, 500),
        (999, 1, 2, 500),  # 499.5 rounds half up
        (1000, 31, 31, 1000),
        (1000, 0, 30, 0),
        (4999, 10, 31, 1613),  # 1612.58...
        (1500, 7, 30, 350),  # jpy: whole yen
    ],
)
def test_prorate_rounds_half_up_per_line(fee, used, period, expected):
    from functions.core.money import prorate

    assert prorate(fee, used, period) == expected


def test_prorate_refuses_impossible_periods():
    from functions.core.money import prorate

    for used, period in ((5, 0), (-1, 30), (31, 30)):
        with pytest.raises(ValueError):
            prorate(100, used, period)


def test_display_day_writes_a_day_as_the_reader_s_language_does():
    from datetime import date

    from functions.core.clock import display_day

    assert display_day(date(2026, 12, 1), "en") == "Dec 1, 2026"
    assert display_day(date(2026, 12, 1), "fr") == "1 décembre 2026"
    assert display_day(date(2027, 2, 28), "de") == "Feb 28, 2027"
