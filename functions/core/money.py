"""Money: integer minor units with a lowercase ISO 4217 currency. Never floats, never decimal strings.

Amounts are written out here, and only here, in three forms:
- `display` (and `display_unit_price`): for people, in the reader's language — "$1,234.56" in English,
  "1 234,56 €" in French. Every e-mail, PDF and console-facing text a customer reads uses it.
- `decimal_amount` (and `decimal_unit_price`): for machines, "1234.56" (no symbol, no grouping) — the
  CSV exports' decimal columns beside their `_minor` twins.
- `format_amount`: "1,234.56 USD", language-neutral, for the API's problem details and the e-mails to
  billow's own operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# Exponent (digits after the decimal point) and Stripe's minimum charge, in minor units.
# Zero-decimal currencies (jpy, krw) are whole units, as Stripe counts them.
CURRENCIES: dict[str, tuple[int, int]] = {
    "usd": (2, 50),
    "eur": (2, 50),
    "gbp": (2, 30),
    "chf": (2, 50),
    "cad": (2, 50),
    "aud": (2, 50),
    "nzd": (2, 50),
    "sek": (2, 300),
    "nok": (2, 300),
    "dkk": (2, 250),
    "pln": (2, 200),
    "czk": (2, 1500),
    "sgd": (2, 50),
    "hkd": (2, 400),
    "mxn": (2, 1000),
    "brl": (2, 50),
    "inr": (2, 50),
    "jpy": (0, 50),
    "krw": (0, 600),
}

# Stripe limits an amount to 8 digits for most currencies; billow refuses anything larger up front.
MAX_AMOUNT = 99_999_999


class MoneyError(ValueError):
    """An amount or currency that is not acceptable money."""


def check_currency(currency: object) -> str:
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise MoneyError(f"unsupported currency {currency!r}; use one of: {', '.join(sorted(CURRENCIES))}")
    return currency


def check_amount(amount: object, *, allow_zero: bool = False, allow_negative: bool = False) -> int:
    """An amount in minor units: a true int (bool, float and str are refused), within Stripe's range."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError("amount must be an integer number of minor units (no floats, no strings)")
    if amount < 0 and not allow_negative:
        raise MoneyError("amount must not be negative")
    if amount == 0 and not allow_zero:
        raise MoneyError("amount must be greater than zero")
    if abs(amount) > MAX_AMOUNT:
        raise MoneyError(f"amount must be at most {MAX_AMOUNT}")
    return amount


def exponent(currency: str) -> int:
    return CURRENCIES[check_currency(currency)][0]


def minimum_charge(currency: str) -> int:
    """Stripe's minimum charge for the currency, in minor units."""
    return CURRENCIES[check_currency(currency)][1]


def round_half_up(value: Decimal) -> int:
    """Round a Decimal amount of minor units to an int, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# The symbols people know; other currencies show their ISO code.
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$", "inr": "₹", "krw": "₩"}
_NARROW_NBSP, _NBSP = "\u202f", "\u00a0"  # French groups digits with the first and puts the second before the symbol


def _parts(amount: int, currency: str) -> tuple[str, int, str]:
    """(sign, whole units, the decimals as digits) of an amount in minor units."""
    exp = exponent(currency)
    whole, frac = divmod(abs(amount), 10**exp) if exp else (abs(amount), 0)
    return ("-" if amount < 0 else ""), whole, (f"{frac:0{exp}d}" if exp else "")


def format_amount(amount: int, currency: str) -> str:
    """Language-neutral: 1234 usd -> '12.34 USD', 500 jpy -> '500 JPY' (API problem details, operators' e-mails)."""
    sign, whole, frac = _parts(amount, currency)
    return f"{sign}{whole:,}" + (f".{frac}" if frac else "") + f" {currency.upper()}"


def decimal_amount(amount: int, currency: str) -> str:
    """For machines (CSV): 123456 usd -> '1234.56', -5 eur -> '-0.05', 500 jpy -> '500'."""
    sign, whole, frac = _parts(amount, currency)
    return f"{sign}{whole}" + (f".{frac}" if frac else "")


def decimal_unit_price(unit_amount: str, currency: str) -> str:
    """For machines (CSV): a unit price in minor units ("2.5" cents) in major units, every decimal kept:
    "0.025" usd, "25" jpy."""
    value = Decimal(unit_amount).scaleb(-exponent(currency)).normalize()
    return format(value, "f")


def display(amount: int, currency: str, locale: str) -> str:
    """For people: 12345 usd -> '$123.45' (en) or '123,45 $' (fr); zero-decimal currencies have no decimals.
    Any locale but "fr" reads English."""
    sign, whole, frac = _parts(amount, currency)
    return sign + _in_locale(f"{whole:,}", frac, symbol_of(currency), locale)


def display_unit_price(unit_amount: str, currency: str, locale: str) -> str:
    """A unit price in minor units as a decimal string ("2.5" = 2.5 cents) shown in major units, with as
    many decimals as it needs (sub-cent prices keep theirs): "$0.025", "0,025 €"."""
    exp = exponent(currency)
    whole, _, frac = format(Decimal(unit_amount).scaleb(-exp).normalize(), "f").partition(".")
    grouped, frac, symbol = f"{int(whole):,}", frac.ljust(exp, "0"), symbol_of(currency)
    if locale == "fr":
        return _in_locale(grouped, frac, symbol, locale)
    return f"{symbol}{grouped}" + (f".{frac}" if frac else "")  # a unit price keeps any symbol tight


def symbol_of(currency: str) -> str:
    return _SYMBOLS.get(currency, currency.upper())


def _in_locale(grouped: str, frac: str, symbol: str, locale: str) -> str:
    """A positive number (its whole part grouped with commas) and its symbol, as `locale` writes them."""
    if locale == "fr":
        return grouped.replace(",", _NARROW_NBSP) + (f",{frac}" if frac else "") + f"{_NBSP}{symbol}"
    number = grouped + (f".{frac}" if frac else "")
    return f"{symbol}{number}" if len(symbol) <= 3 and not symbol.isalpha() else f"{symbol} {number}"


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        check_amount(self.amount, allow_zero=True, allow_negative=True)
        check_currency(self.currency)


def prorate(fee: int, days_used: int, days_in_period: int) -> int:
    """round_half_up(fee * days_used / days_in_period), in the fee's minor units (DESIGN §3 Proration)."""
    if days_in_period <= 0 or not 0 <= days_used <= days_in_period:
        raise ValueError(f"cannot prorate {days_used} of {days_in_period} days")
    return round_half_up(Decimal(fee) * days_used / days_in_period)
