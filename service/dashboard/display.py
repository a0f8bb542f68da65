"""How the dashboard writes figures for people. Pure: strings in, strings out, exact.

The report answers counts as integers, ratios as decimal strings (``"0.0320"``) and
money as decimal strings beside a currency. Here a count gets thousands separators, a
ratio becomes a percentage by moving the decimal point (no float on the way) and money
gets its currency code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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


def minor(amount: int | None, currency: str) -> str:
    """An amount in minor units: ``(123450, "EUR")`` → ``"EUR 1,234.50"``."""
    return DASH if amount is None else money(format_amount(amount, currency), currency)


def rate(value: str) -> str:
    """A commission rule's rate, a percentage as the rules store it: ``"10"`` → ``"10 %"``."""
    return f"{value} %"


def rule_words(rule: dict[str, Any] | None, currency: str) -> str:
    """A commission rule in a sentence (a ledger line's rule, a rule in a history)."""
    if rule is None:
        return "No rule: this line was added by hand (or records a rejection)."
    kind = rule.get("type")
    if kind == "percent":
        return f"{rate(rule['rate'])} of the order's attributable amount (after discounts)."
    if kind == "flat":
        return f"A fixed {money(rule['amount'], currency)} per order."
    if kind == "cpc":
        return f"{money(rule['amount'], currency)} per unique, non-bot click in the month."
    if kind == "per_post":
        return f"A fee of {money(rule['amount'], currency)} per approved post."
    if kind == "tiered_percent":
        brackets = []
        for tier in rule.get("tiers", []):
            upper = tier.get("up_to")
            span = f"up to {money(upper, currency)}" if upper is not None else "above that"
            brackets.append(f"{rate(tier['rate'])} {span}")
        return (
            "A rate by the month's net sales in "
            f"{currency}: {'; '.join(brackets)}. Each order takes the rate of the bracket "
            "the month had reached before it; the month is settled exactly at its close."
        )
    return f"Rule of type {kind}."


def told(value: object) -> str:
    """A value from an object's history that has no particular way to be written, for
    people: nothing as "(empty)", counts with separators, yes/no, a mapping as "name
    value" pairs, a list item by item."""
    if value is None or value == "" or value == [] or value == {}:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{str(k).replace('_', ' ')} {told(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(told(v) for v in value)
    return str(value)


def field_name(name: str) -> str:
    """A column's name for people when no label names it: ``payout_email`` → "payout
    email", ``budget_minor`` → "budget (in minor units, e.g. cents)"."""
    if name.endswith("_minor"):
        return f"{name.removesuffix('_minor').replace('_', ' ')} (in minor units, e.g. cents)"
    return name.replace("_", " ")
