"""Where an order stands after a refund or cancel (service.conversions.refunds.next_status,
the one place its status changes): a table of current status, event and amounts, and what
an event that is not applied leaves on its row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from service.conversions.events import OrderEvent, RefundClaim, RefundEvent
from service.conversions.intake import ingest
from service.conversions.models import ConversionStatus, EventKind, EventOutcome
from service.conversions.refunds import NOTHING_LEFT, OrderBasis, Share, next_status, share_of

OPEN = ConversionStatus.OPEN
PARTIAL = ConversionStatus.PARTIALLY_REFUNDED
REFUNDED = ConversionStatus.REFUNDED
CANCELLED = ConversionStatus.CANCELLED
REFUND, CANCEL = EventKind.REFUND, EventKind.CANCEL
APPLIED, NOT_APPLIED = EventOutcome.APPLIED, EventOutcome.NOT_APPLIED

ORDER = 10_000  # 100.00 EUR attributable


def claim(
    order_minor: int,
    amount: str,
    currency: str | None = None,
    basis: str = "attributable",
    paid: str | None = None,
) -> Callable[[int], Share]:
    """A refund's claim, judged against what is left of an EUR order without tax."""

    def share(left: int) -> Share:
        order = OrderBasis("EUR", order_minor, 0, False, left)
        return share_of(basis, amount, None, currency, order, paid)

    return share


def never(left: int) -> Share:
    raise AssertionError("a cancel, or an order with nothing left, asks no share")


# (current, kind, order, refunded before, the refund's claim or ``never`` for a cancel)
#   -> (status after, reversed, outcome, whether the order changes)
# fmt: off
CASES: list[tuple[Any, ...]] = [
    # An open order.
    (OPEN, REFUND, ORDER, 0, claim(ORDER, "30.00"), PARTIAL, 3_000, APPLIED, True),
    (OPEN, REFUND, ORDER, 0, claim(ORDER, "100.00"), REFUNDED, 10_000, APPLIED, True),
    (OPEN, REFUND, ORDER, 0, claim(ORDER, "150.00"), REFUNDED, 10_000, APPLIED, True),
    (OPEN, REFUND, ORDER, 0, claim(ORDER, "30", basis="items", paid="0"), OPEN, 0, APPLIED, False),
    (OPEN, REFUND, ORDER, 0, claim(ORDER, "30.00", "USD"), OPEN, 0, NOT_APPLIED, False),
    (OPEN, REFUND, ORDER, 0, claim(ORDER, "thirty"), OPEN, 0, NOT_APPLIED, False),
    (OPEN, REFUND, ORDER, 0, claim(ORDER, "30.00", basis="bogus"), OPEN, 0, NOT_APPLIED, False),
    (OPEN, CANCEL, ORDER, 0, never, CANCELLED, 10_000, APPLIED, True),
    (OPEN, REFUND, 0, 0, never, OPEN, 0, APPLIED, False),  # a free order: nothing to reverse
    (OPEN, CANCEL, 0, 0, never, CANCELLED, 0, APPLIED, True),
    # Refunded in part (30.00 of it).
    (PARTIAL, REFUND, ORDER, 3_000, claim(ORDER, "30.00"), PARTIAL, 3_000, APPLIED, True),
    (PARTIAL, REFUND, ORDER, 3_000, claim(ORDER, "70.00"), REFUNDED, 7_000, APPLIED, True),
    (PARTIAL, REFUND, ORDER, 3_000, claim(ORDER, "80.00"), REFUNDED, 7_000, APPLIED, True),
    (PARTIAL, REFUND, ORDER, 3_000, claim(ORDER, "30.00", "USD"), PARTIAL, 0, NOT_APPLIED, False),
    (PARTIAL, CANCEL, ORDER, 3_000, never, CANCELLED, 7_000, APPLIED, True),
    # Refunded in full: a refund finds nothing left (its claim is not even judged);
    # a cancel still cancels it, reversing nothing.
    (REFUNDED, REFUND, ORDER, ORDER, never, REFUNDED, 0, APPLIED, False),
    (REFUNDED, CANCEL, ORDER, ORDER, never, CANCELLED, 0, APPLIED, True),
    # Cancelled: takes nothing more.
    (CANCELLED, REFUND, ORDER, ORDER, never, CANCELLED, 0, APPLIED, False),
    (CANCELLED, CANCEL, ORDER, ORDER, never, CANCELLED, 0, APPLIED, False),
]
# fmt: on


@pytest.mark.parametrize(
    ("current", "kind", "order", "before", "share", "status", "reversed_", "outcome", "changes"),
    CASES,
)
def test_a_refund_or_cancel_moves_the_order_as_the_table_says(
    current: ConversionStatus,
    kind: EventKind,
    order: int,
    before: int,
    share: Callable[[int], Share],
    status: ConversionStatus,
    reversed_: int,
    outcome: EventOutcome,
    changes: bool,
) -> None:
    move = next_status(current, kind, amount_minor=order, refunded_minor=before, share=share)
    assert (move.status, move.reversed_minor, move.outcome, move.changes_order) == (
        status,
        reversed_,
        outcome,
        changes,
    )
    if not changes:
        assert move.status is current
    if outcome is NOT_APPLIED:
        assert move.note is not None and move.note.startswith("not applied")


def test_the_table_covers_every_status_and_event_kind() -> None:
    assert {(c[0], c[1]) for c in CASES} == {(s, k) for s in ConversionStatus for k in EventKind}


def test_only_what_is_left_tells_nothing_left_to_reverse() -> None:
    move = next_status(REFUNDED, REFUND, amount_minor=ORDER, refunded_minor=ORDER, share=never)
    assert move.note == NOTHING_LEFT
    capped = next_status(
        OPEN, REFUND, amount_minor=ORDER, refunded_minor=0, share=claim(ORDER, "150")
    )
    assert capped.note == "capped at what was left of the order (10000 minor units)"


@pytest.mark.parametrize("backend", ["pg", "sqlite"])
def test_a_refund_in_another_currency_is_kept_as_not_applied_by_its_outcome(
    request: Any, backend: str
) -> None:
    """The event row says it was not applied (``outcome``), its note says why in words,
    and the order is left as it was; a later refund of the order still applies."""
    api = request.getfixturevalue(f"{backend}_api")
    svc = api.app.extensions["afftrack"]
    at = datetime(2026, 10, 3, 12, 0, tzinfo=UTC)
    order = OrderEvent("o-1", at, "EUR", 10_000, 10_000, [], None, None, None, raw={})

    def refund(refund_id: str, currency: str | None) -> RefundEvent:
        return RefundEvent(
            "o-1", refund_id, at, RefundClaim("attributable", "30.00", currency=currency), {}
        )

    with svc.db.session() as session:
        ingest(session, svc.settings, "generic", [order])
        refused = ingest(session, svc.settings, "generic", [refund("r-usd", "USD")])[0]
        taken = ingest(session, svc.settings, "generic", [refund("r-eur", None)])[0]
    assert refused.status == "not_applied"
    assert refused.detail == "not applied: the refund is in USD, the order in EUR"
    assert taken.status == "applied"
    with svc.db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT external_id, outcome, amount_minor, note FROM conversion_events "
                "ORDER BY external_id"
            )
        ).all()
        conversion = conn.execute(text("SELECT status, refunded_minor FROM conversions")).one()
    assert [tuple(r) for r in rows] == [
        ("r-eur", "applied", 3_000, None),
        ("r-usd", "not_applied", 0, "not applied: the refund is in USD, the order in EUR"),
    ]
    assert tuple(conversion) == ("partially_refunded", 3_000)
