"""How the dashboard writes figures for people. Pure: strings in, strings out, exact.

The report answers counts as integers, ratios as decimal strings (``"0.0320"``) and
money as decimal strings beside a currency. Here a count gets thousands separators, a
ratio becomes a percentage by moving the decimal point (no float on the way) and money
gets its currency code.
"""

from __future__ import annotations

from decimal import Decimal

from service.money import format_amount

DASH = "\u2013"  # an en dash: no figure


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def _grouped(text: str) -> str:
    """``"-1234567.50"`` → ``"-1,234,567.50"``: separators in the whole part only."""
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{frac}"


def percent(ratio: str | None, places: int = 2) -> str:
    """A ratio string as a percentage: ``"0.0320"`` → ``"3.20 %"``, exactly."""
    if ratio is None:
        return DASH
    scaled = Decimal(ratio).scaleb(2).quantize(Decimal(1).scaleb(-places))
    return f"{_grouped(str(scaled))} %"


def money(amount: str | None, currency: str) -> str:
    """``("1234.50", "EUR")`` → ``"EUR 1,234.50"``."""
    if amount is None:
        return DASH
    return f"{currency} {_grouped(amount)}"


def minor_money(minor: int, currency: str) -> str:
    """``(123450, "EUR")`` → ``"EUR 1,234.50"``."""
    return money(format_amount(minor, currency), currency)
