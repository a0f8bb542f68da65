"""How much of an order a refund or cancel reverses, and where the order stands after
it: pure functions over integers.

The platform's claim (events.RefundClaim) is judged against the order: its currency
must match; an ``items`` claim drops the tax the items' prices contained; a ``gross``
claim is shared ``gross * attributable / (attributable + tax)`` (docs/product.md §2), computed on
the cumulative gross refunded so that rounding telescopes and a full refund nets the
order to exactly zero; nothing ever goes past what is left of the order.

:func:`next_status` is the one place an order's status changes (service/conversions/
status.py applies what it decides); its cases: tests/conversions/test_status_transitions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from service.conversions.models import ConversionStatus, EventKind, EventOutcome
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
    applies: bool = True  # False: the claim cannot be judged against this order


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
            0,
            note=f"not applied: the refund is in {currency}, the order in {order.currency}",
            applies=False,
        )
    try:
        amount = parse_amount(amount_text, order.currency)
        tax = parse_amount(tax_text or "0", order.currency)
        paid = None if paid_text is None else parse_amount(paid_text, order.currency)
    except MoneyError as exc:
        return Share(0, note=f"not applied: {exc}", applies=False)
    if basis not in BASES:
        return Share(0, note=f"not applied: unknown refund basis {basis!r}", applies=False)
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


NOTHING_LEFT = "nothing left to reverse"


@dataclass(frozen=True)
class Transition:
    """What one refund or cancel does to its order."""

    status: ConversionStatus  # the order's status after the event
    reversed_minor: int  # what the event reverses (its ``amount_minor``)
    outcome: EventOutcome
    note: str | None = None  # why, in words (kept on the event)
    changes_order: bool = True  # False: the order (and its ledger) stays as it was


def next_status(
    current: ConversionStatus,
    kind: EventKind,
    *,
    amount_minor: int,
    refunded_minor: int,
    share: Callable[[int], Share],
) -> Transition:
    """Where an order of ``amount_minor`` (attributable), ``refunded_minor`` of it
    already reversed, stands after a refund or cancel. ``share(remaining)`` judges a
    refund's claim against what is left (:func:`share_of` with the order's basis); it
    is asked only for a refund that has something left to reverse.

    A cancelled order takes nothing more; a refund finds nothing left once the order
    is reversed in full; a cancel reverses whatever is left (maybe nothing) and cancels;
    a refund reverses its share and refunds the order in part or in full, or is not
    applied (the order unchanged) when its claim cannot be judged against the order."""
    remaining = amount_minor - refunded_minor
    if current is ConversionStatus.CANCELLED or (remaining <= 0 and kind is not EventKind.CANCEL):
        return Transition(current, 0, EventOutcome.APPLIED, NOTHING_LEFT, changes_order=False)
    if kind is EventKind.CANCEL:
        return Transition(ConversionStatus.CANCELLED, remaining, EventOutcome.APPLIED)
    claimed = share(remaining)
    outcome = EventOutcome.APPLIED if claimed.applies else EventOutcome.NOT_APPLIED
    if claimed.amount_minor == 0:
        return Transition(current, 0, outcome, claimed.note, changes_order=False)
    if refunded_minor + claimed.amount_minor >= amount_minor:
        status = ConversionStatus.REFUNDED
    else:
        status = ConversionStatus.PARTIALLY_REFUNDED
    return Transition(status, claimed.amount_minor, outcome, claimed.note)
