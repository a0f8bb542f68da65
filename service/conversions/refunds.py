"""How much of an order a refund or cancel reverses: a pure function over integers.

The platform's claim (events.RefundClaim) is judged against the order: its currency
must match; an ``items`` claim drops the tax the items' prices contained; a ``gross``
claim is shared ``gross * attributable / (attributable + tax)`` (docs/product.md §2), computed on
the cumulative gross refunded so that rounding telescopes and a full refund nets the
order to exactly zero; nothing ever goes past what is left of the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from service.money import MoneyError, parse_amount, round_half_even

BASES = ("attributable", "items", "gross")


@dataclass(frozen=True)
class OrderBasis:
    currency: str
    attributable_minor: int
    tax_minor: int
    prices_include_tax: bool
    remaining_minor: int  # attributable not yet reversed
    gross_refunded_minor: int = 0  # gross claims already applied


@dataclass(frozen=True)
class Share:
    amount_minor: int  # what to reverse, 0 ≤ amount ≤ remaining
    gross_minor: int = 0  # for a gross claim: the gross it counted
    note: str | None = None


def share_of(
    basis: str,
    amount_text: str,
    tax_text: str | None,
    currency: str | None,
    order: OrderBasis,
    paid_text: str | None = None,
) -> Share:
    if currency and currency != order.currency:
        return Share(
            0, note=f"not applied: the refund is in {currency}, the order in {order.currency}"
        )
    try:
        amount = parse_amount(amount_text, order.currency)
        tax = parse_amount(tax_text or "0", order.currency)
        paid = None if paid_text is None else parse_amount(paid_text, order.currency)
    except MoneyError as exc:
        return Share(0, note=f"not applied: {exc}")
    if basis not in BASES:
        return Share(0, note=f"not applied: unknown refund basis {basis!r}")
    gross = 0
    if basis == "attributable":
        wanted = amount
    elif basis == "items":
        wanted = amount - tax if order.prices_include_tax else amount
        # What the items were worth to the customer, tax included.
        worth = amount if order.prices_include_tax else amount + tax
        if paid is not None and 0 <= paid < worth:
            wanted = round_half_even(Fraction(wanted * paid, worth))
    else:
        gross = amount
        whole = order.attributable_minor + order.tax_minor
        if whole <= 0:
            wanted = 0
        else:
            ratio = Fraction(order.attributable_minor, whole)
            before = order.gross_refunded_minor
            wanted = round_half_even((before + gross) * ratio) - round_half_even(before * ratio)
    wanted = max(wanted, 0)
    if wanted > order.remaining_minor:
        left = max(order.remaining_minor, 0)
        return Share(left, gross, f"capped at what was left of the order ({left} minor units)")
    return Share(wanted, gross)
