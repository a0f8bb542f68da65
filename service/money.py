"""Money as integer minor units beside an ISO 4217 currency. No floats, ever.

Decimal strings exist only at the edges (JSON, CSV): :func:`parse_amount` turns one into
minor units, refusing anything over-precise, and :func:`format_amount` turns minor units
back into the canonical string. :func:`round_half_even` is the one rounding function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from service.vocabulary import RATE_DECIMALS, RATE_PATTERN, full

# ISO 4217 active codes and their minor-unit exponent. Codes not listed in
# _EXPONENT_OVERRIDES use two decimal places.
_CODES = (  # noqa: SIM905 - the ISO 4217 list reads best as text
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB "
    "EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK "
    "JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA "
    "MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK "
    "PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST "
    "XAF XCD XCG XOF XPF YER ZAR ZMW ZWG "
).split()
_EXPONENT_OVERRIDES = {
    # zero decimals
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # three decimals
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}
EXPONENTS: dict[str, int] = {code: _EXPONENT_OVERRIDES.get(code, 2) for code in _CODES}

# The largest amount afftrack accepts: 10^15 minor units keeps every sum far from
# BIGINT overflow while allowing any real order.
MAX_MINOR = 10**15

_AMOUNT_RE = re.compile(r"^(-)?([0-9]{1,18})(?:\.([0-9]{1,6}))?\Z")


class MoneyError(ValueError):
    """An amount or currency that afftrack refuses."""


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in EXPONENTS


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unknown currency {currency!r}") from None


def parse_amount(text: object, currency: str, *, allow_negative: bool = False) -> int:
    """``"120.50"`` in EUR → ``12050``. Refuses floats, over-precision and junk (any
    value that is not a decimal string: it reads untrusted JSON)."""
    return parse_decimal(text, exponent(currency), allow_negative=allow_negative, unit=currency)


def parse_decimal(
    text: object, places: int, *, allow_negative: bool = False, unit: str | None = None
) -> int:
    """A decimal string as an integer count of ``10**-places`` (exact, no float)."""
    if not isinstance(text, str):
        raise MoneyError('amount must be a decimal string such as "12.50"')
    match = _AMOUNT_RE.match(text.strip())
    if not match:
        raise MoneyError(f"{text!r} is not a decimal amount")
    sign, whole, frac = match.groups()
    frac = frac or ""
    if len(frac) > places:
        if frac[places:].strip("0"):
            what = unit or "the amount"
            raise MoneyError(f"{what} has {places} decimal places; {text!r} has more")
        frac = frac[:places]
    scale: int = 10**places  # places is never negative
    minor = int(whole) * scale + int(frac.ljust(places, "0") or "0")
    if sign:
        if not allow_negative and minor != 0:
            raise MoneyError("amount must not be negative")
        minor = -minor
    if abs(minor) > MAX_MINOR * 10 ** max(0, places - 3):
        raise MoneyError("amount is too large")
    return minor


def format_amount(minor: int, currency: str) -> str:
    """``12050`` in EUR → ``"120.50"``; ``1500`` in JPY → ``"1500"``."""
    exp = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exp)
    if exp == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{exp}d}"


def round_half_even(value: Fraction) -> int:
    """Round an exact rational to the nearest integer, ties to even."""
    return div_half_even(value.numerator, value.denominator)


def div_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, ties to even, in
    integer arithmetic (no Fraction is built: this is on the reports' hot path)."""
    if denominator == 0:
        raise ZeroDivisionError("division by zero")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    floor, rest = divmod(numerator, denominator)  # 0 <= rest < denominator
    twice = 2 * rest
    if twice > denominator or (twice == denominator and floor % 2 == 1):
        return floor + 1
    return floor


_RATE_RE = full(RATE_PATTERN)
# Three whole digits that RATE_PATTERN refuses: a percentage over 100 (its own message).
_OVER_100_RE = re.compile(rf"[0-9]{{3}}(?:\.[0-9]{{1,{RATE_DECIMALS}}})?\Z")


def parse_rate(text: object) -> Fraction:
    """A percentage such as ``"12.5"`` as an exact fraction of one (``1/8``)."""
    if isinstance(text, str) and _RATE_RE.match(text):
        return Fraction(text) / 100
    if isinstance(text, str) and _OVER_100_RE.match(text):
        raise MoneyError("a percentage cannot exceed 100")
    raise MoneyError(f'{text!r} is not a percentage such as "10" or "12.5"')


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of ``currency``."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise MoneyError("Money.minor must be an int")
        exponent(self.currency)

    @classmethod
    def parse(cls, text: str, currency: str, *, allow_negative: bool = False) -> Money:
        return cls(parse_amount(text, currency, allow_negative=allow_negative), currency)

    def __str__(self) -> str:
        return f"{format_amount(self.minor, self.currency)} {self.currency}"

    @property
    def decimal(self) -> str:
        return format_amount(self.minor, self.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def scale(self, factor: Fraction) -> Money:
        """Multiply by an exact factor, rounding half-even at the minor unit."""
        return Money(round_half_even(self.minor * factor), self.currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise MoneyError(f"cannot mix {self.currency} and {other.currency}")
