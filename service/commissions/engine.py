"""Conversions, refunds and deliverables → the ledger lines they earn, as rows.

This module computes; :mod:`service.commissions.ledger` writes. Every line has an
idempotency key (made here, by the ``*_key`` functions), and is written with
insert-or-ignore, so a retried webhook or a second worker never writes a line twice.
What a line records of its rule and of how its amount was worked out (a cap's cut, a
tiered line's month so far, a settlement's month: the typed columns of
:data:`service.commissions.models.WORKING`) is given by :func:`worked_out`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from service.campaigns.models import Partnership
from service.commissions.models import (
    WORKING,
    CommissionLine,
    LineKind,
    LinePurpose,
    LineStatus,
)
from service.commissions.rules import (
    CappedLine,
    CapRoom,
    Rule,
    SaleLine,
    apply_caps,
    reversal_of,
    rules_from_json,
    sale_lines,
)
from service.conversions.models import Conversion, ConversionEvent, ConversionStatus, EventKind
from service.db import advisory_lock, new_id, utcnow
from service.errors import Unavailable
from service.periods import month_bounds


# Idempotency keys: what makes a retried write land once (never what a line is for:
# that is its ``purpose``).
def sale_key(conversion_id: str, rule_index: int) -> str:
    return f"sale:{conversion_id}:{rule_index}"


def reversal_key(event_id: str, line_id: str) -> str:
    return f"reversal:{event_id}:{line_id}"


def per_post_key(deliverable_id: str, rule_index: int) -> str:
    return f"per_post:{deliverable_id}:{rule_index}"


def settlement_key(kind: str, partnership_id: str, rule_index: int, month: str, seq: int) -> str:
    return f"{kind}:{partnership_id}:{rule_index}:{month}:{seq}"


def adjustment_key(line_id: str, request: str | None = None) -> str:
    """An adjustment's key: its own line id, or the one-time token of the request that
    asked for it (so the same request repeated books nothing new)."""
    return f"adjustment:{line_id}" if request is None else f"adjustment:once:{request}"


def rejection_key(line_id: str) -> str:
    return f"rejection:{line_id}"


def carry_keys(period: str, influencer_id: str, currency: str) -> tuple[str, str]:
    """The keys of the two lines that carry a negative balance out of ``period``."""
    tail = f"{period}:{influencer_id}:{currency}"
    return f"carry:{tail}", f"carried:{tail}"


_WORKING_COLUMNS = frozenset(worked.column for worked in WORKING)


def worked_out(capped: CappedLine, campaign_currency: str, **working: Any) -> dict[str, Any]:
    """The columns a line records of its rule and of how its amount was worked out:
    ``rule`` (the rule alone, as stored), its index, what a cap cut off and which cap,
    and ``working`` (other :data:`WORKING` columns: a tiered sale's ``before_minor``, a
    settlement line's ``month``...). Every WORKING column is given, None where it does
    not apply, so the rows of one statement share their keys."""
    assert working.keys() <= _WORKING_COLUMNS, working.keys() - _WORKING_COLUMNS
    line = capped.line
    row: dict[str, Any] = dict.fromkeys(_WORKING_COLUMNS)
    row.update(rule=line.rule.stored(campaign_currency), rule_index=line.rule_index)
    if capped.cut_minor:
        row.update(cut_minor=capped.cut_minor, cap=capped.cap)
    row.update(working)
    return row


def is_tiered() -> ColumnElement[bool]:
    """In SQL: the line was written under a tiered rule."""
    tiered: ColumnElement[bool] = CommissionLine.rule["type"].as_string() == "tiered_percent"
    return tiered


@dataclass(frozen=True)
class SaleTerms:
    """What a partnership's sale lines depend on, however it was looked up."""

    partnership_id: str
    campaign_id: str
    influencer_id: str
    rules: list[dict[str, Any]]  # the effective rules, as stored
    campaign_currency: str
    hold_days: int
    monthly_cap_minor: int | None = None
    budget_minor: int | None = None

    @classmethod
    def of(cls, partnership: Partnership) -> SaleTerms:
        campaign = partnership.campaign
        return cls(
            partnership.id,
            campaign.id,
            partnership.influencer_id,
            partnership.effective_rules,
            campaign.currency,
            campaign.hold_days,
            campaign.monthly_cap_minor,
            campaign.budget_minor,
        )

    def capped(self) -> bool:
        return self.monthly_cap_minor is not None or self.budget_minor is not None

    def parsed_rules(self) -> list[Rule]:
        return rules_from_json(self.rules, self.campaign_currency)

    def needs_month_to_date(self) -> bool:
        return any(rule.get("type") == "tiered_percent" for rule in self.rules)


def month_to_date(
    session: Session,
    partnership_id: str,
    currency: str,
    occurred_at: datetime,
    zone_name: str,
    conversion_id: str | None = None,
) -> int:
    """The partnership's net attributable sales in ``currency`` for the month of
    ``occurred_at``, before the order (tiered brackets): the orders of earlier times and
    those of the same time booked already (docs/product.md §5: arrival order; docs/adr/0004). Read
    under :func:`lock_tiered`, so no order booked before it is missed."""
    start, _end = month_bounds(occurred_at, zone_name)
    stmt = select(
        func.coalesce(func.sum(Conversion.amount_minor - Conversion.refunded_minor), 0)
    ).where(
        Conversion.partnership_id == partnership_id,
        Conversion.currency == currency,
        Conversion.status != ConversionStatus.CANCELLED,
        Conversion.occurred_at >= start,
        Conversion.occurred_at <= occurred_at,
    )
    if conversion_id is not None:
        stmt = stmt.where(Conversion.id != conversion_id)
    return int(session.scalar(stmt) or 0)


TIERED_LOCK_WAIT_SECONDS = 5.0


def lock_tiered(session: Session, terms: SaleTerms) -> None:
    """Serialise the tiered sales of one partnership (PostgreSQL advisory lock, held to
    the commit), so two orders of one influencer — of the same second too — never read
    the same month-to-date; 503 when it stays busy, so the sender retries."""
    if not advisory_lock(session, f"tiered:{terms.partnership_id}", TIERED_LOCK_WAIT_SECONDS):
        raise Unavailable("the influencer's tiered sales are busy; retry later", code="retry")


def sales_before(
    session: Session,
    terms: SaleTerms,
    currency: str,
    occurred_at: datetime,
    zone_name: str,
    conversion_id: str | None = None,
) -> int:
    """What an order's tiered brackets start from: :func:`month_to_date` under
    :func:`lock_tiered`; 0 (and no lock) for a partnership without a tiered rule."""
    if not terms.needs_month_to_date():
        return 0
    lock_tiered(session, terms)
    return month_to_date(
        session, terms.partnership_id, currency, occurred_at, zone_name, conversion_id
    )


def _counted(terms: SaleTerms) -> tuple[ColumnElement[bool], ...]:
    """The lines a cap counts: the campaign's, in its currency, not rejected."""
    return (
        CommissionLine.campaign_id == terms.campaign_id,
        CommissionLine.currency == terms.campaign_currency,
        CommissionLine.status != LineStatus.REJECTED,
    )


def cap_room(session: Session, terms: SaleTerms, occurred_at: datetime, zone_name: str) -> CapRoom:
    """What is left under the campaign's caps for this influencer and month, counted
    over every line not rejected, in the campaign's currency. The caller holds
    :func:`lock_caps`, so two sales cannot both take the last of it."""
    if not terms.capped():
        return CapRoom()
    start, end = month_bounds(occurred_at, zone_name)
    total = func.coalesce(func.sum(CommissionLine.amount_minor), 0)
    month_used = (
        select(total)
        .where(
            *_counted(terms),
            CommissionLine.influencer_id == terms.influencer_id,
            CommissionLine.occurred_at >= start,
            CommissionLine.occurred_at < end,
        )
        .scalar_subquery()
    )
    budget_used = select(total).where(*_counted(terms)).scalar_subquery()
    row = session.execute(select(month_used, budget_used)).one()
    return CapRoom(
        None if terms.monthly_cap_minor is None else terms.monthly_cap_minor - int(row[0]),
        None if terms.budget_minor is None else terms.budget_minor - int(row[1]),
    )


def month_used_by_influencer(
    session: Session, terms: SaleTerms, start: datetime, end: datetime
) -> dict[str, int]:
    """What each influencer's lines in the campaign hold for a month (one query for a
    whole campaign, where :func:`cap_room` reads one influencer)."""
    rows = session.execute(
        select(CommissionLine.influencer_id, func.sum(CommissionLine.amount_minor))
        .where(
            *_counted(terms),
            CommissionLine.occurred_at >= start,
            CommissionLine.occurred_at < end,
        )
        .group_by(CommissionLine.influencer_id)
    )
    return {influencer_id: int(used) for influencer_id, used in rows}


def budget_used(session: Session, terms: SaleTerms) -> int:
    """What the campaign's lines hold in all."""
    total = func.coalesce(func.sum(CommissionLine.amount_minor), 0)
    return int(session.scalar(select(total).where(*_counted(terms))) or 0)


def lock_caps(session: Session, terms: SaleTerms) -> None:
    """Serialise the capped sales of one campaign (PostgreSQL advisory lock); 503 when
    it stays busy, so the sender retries."""
    if not advisory_lock(session, f"caps:{terms.campaign_id}"):
        raise Unavailable("the campaign's caps are busy; retry later", code="retry")


def per_post_rows(
    session: Session, terms: SaleTerms, deliverable_id: str, at: datetime, zone_name: str
) -> list[dict[str, Any]]:
    """The fee lines an approved deliverable earns (one per ``per_post`` rule, in the
    campaign's currency, due at once), cut to fit the caps like any other line."""
    currency = terms.campaign_currency
    fees = [
        SaleLine(index, rule, rule.amount_minor, currency)
        for index, rule in enumerate(terms.parsed_rules())
        if rule.type == "per_post" and rule.amount_minor is not None
    ]
    if not fees:
        return []
    room = CapRoom()
    if terms.capped():
        lock_caps(session, terms)
        room = cap_room(session, terms, at, zone_name)
    return [
        {
            "idempotency_key": per_post_key(deliverable_id, capped.line.rule_index),
            "influencer_id": terms.influencer_id,
            "campaign_id": terms.campaign_id,
            "partnership_id": terms.partnership_id,
            "deliverable_id": deliverable_id,
            "kind": LineKind.PER_POST,
            "purpose": LinePurpose.PER_POST,
            **worked_out(capped, currency),
            "amount_minor": capped.amount_minor,
            "currency": currency,
            "occurred_at": at,
            "due_at": at,
        }
        for capped in apply_caps(fees, room, currency)
    ]


def sale_line_rows(
    terms: SaleTerms,
    *,
    conversion_id: str,
    occurred_at: datetime,
    basis_minor: int,
    currency: str,
    month_to_date_minor: int = 0,
    room: CapRoom | None = None,
) -> list[dict[str, Any]]:
    """The ledger rows (ready to insert) of one attributed order's sale lines, cut to
    fit the caps' ``room``; a cut shows on the line's rule as ``cut`` and ``cap``."""
    rules = terms.parsed_rules()
    due_at = occurred_at + timedelta(days=terms.hold_days)
    now = utcnow()
    lines = sale_lines(
        rules,
        basis_minor=basis_minor,
        order_currency=currency,
        campaign_currency=terms.campaign_currency,
        month_to_date_minor=month_to_date_minor,
    )
    rows = []
    for capped in apply_caps(lines, room or CapRoom(), terms.campaign_currency):
        line = capped.line
        tiered = line.rule.type == "tiered_percent" and line.currency == terms.campaign_currency
        # A tiered line records the month's net sales before this order: what its
        # bracket was read from.
        worked = worked_out(
            capped, terms.campaign_currency, before_minor=month_to_date_minor if tiered else None
        )
        rows.append(
            {
                "id": new_id("cml"),
                "idempotency_key": sale_key(conversion_id, line.rule_index),
                "influencer_id": terms.influencer_id,
                "campaign_id": terms.campaign_id,
                "partnership_id": terms.partnership_id,
                "conversion_id": conversion_id,
                "kind": LineKind.SALE,
                "purpose": LinePurpose.SALE,
                **worked,
                "basis_minor": basis_minor,
                "amount_minor": capped.amount_minor,
                "currency": line.currency,
                "status": LineStatus.PENDING,
                "occurred_at": occurred_at,
                "due_at": due_at,
                "recorded_at": now,
            }
        )
    return rows


def sale_rows(
    session: Session,
    terms: SaleTerms,
    *,
    conversion_id: str,
    occurred_at: datetime,
    basis_minor: int,
    currency: str,
    zone_name: str,
) -> list[dict[str, Any]]:
    """The sale rows of one attributed order, as :func:`sale_line_rows` makes them from
    the month so far (under the tiered lock) and the room left under the caps (under the
    caps lock): what the webhook's one-statement write and :func:`ledger.record_sale`
    insert."""
    mtd = sales_before(session, terms, currency, occurred_at, zone_name, conversion_id)
    room = None
    if terms.capped():
        lock_caps(session, terms)
        room = cap_room(session, terms, occurred_at, zone_name)
    return sale_line_rows(
        terms,
        conversion_id=conversion_id,
        occurred_at=occurred_at,
        basis_minor=basis_minor,
        currency=currency,
        month_to_date_minor=mtd,
        room=room,
    )


def reversal_rows(
    session: Session,
    conversion: Conversion,
    event: ConversionEvent,
    refunded_before_minor: int,
    refunded_now_minor: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """Negative lines for the refunded share of each sale line of ``conversion``.

    A line already paid is clawed back: the negative line is due now, in the next open
    period. Otherwise it is due with the line it reverses, so they net out together.
    """
    sales = session.scalars(
        select(CommissionLine)
        .where(
            CommissionLine.conversion_id == conversion.id,
            CommissionLine.kind == LineKind.SALE,
        )
        .order_by(CommissionLine.id)
    ).all()
    rows = []
    for sale in sales:
        if sale.status == LineStatus.REJECTED:
            continue
        worked = {fact.column: getattr(sale, fact.column) for fact in WORKING}
        cut = sale.cut_minor or 0
        amount, cut_share = reversal_of(
            sale.amount_minor,
            cut,
            conversion.amount_minor,
            refunded_before_minor,
            refunded_now_minor,
            cancels_free_order=conversion.amount_minor <= 0 and event.kind == EventKind.CANCEL,
        )
        if cut:
            # The refunded share of what a cap cut off goes with it (negative), so a
            # month's tiered total counts each order's cut once, net of its refunds.
            worked["cut_minor"] = cut_share
        if amount == 0 and cut_share == 0:
            continue
        rows.append(
            {
                "idempotency_key": reversal_key(event.id, sale.id),
                "influencer_id": sale.influencer_id,
                "campaign_id": sale.campaign_id,
                "partnership_id": sale.partnership_id,
                "conversion_id": conversion.id,
                "event_id": event.id,
                "reverses_line_id": sale.id,
                "kind": LineKind.REVERSAL,
                "purpose": LinePurpose.REVERSAL,
                "rule": sale.rule,
                **worked,
                "basis_minor": refunded_now_minor,
                "amount_minor": amount,
                "currency": sale.currency,
                "occurred_at": event.occurred_at,
                "due_at": now if sale.status == LineStatus.PAID else sale.due_at,
            }
        )
    return rows
