"""Conversions, refunds and deliverables → ledger lines.

Every line has an idempotency key, and is written with insert-or-ignore, so a retried
webhook or a second worker never writes a line twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from service import metrics
from service.campaigns.models import Partnership
from service.commissions.models import CommissionLine
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
from service.conversions.models import Conversion, ConversionEvent
from service.db import advisory_lock, insert_ignore, new_id, utcnow
from service.errors import Unavailable
from service.money import format_amount, parse_amount
from service.periods import month_bounds


def append_line(session: Session, **values: Any) -> bool:
    """Append one line; ``False`` if its idempotency key was already written."""
    if "id" not in values:
        values["id"] = new_id("cml")
    values.setdefault("recorded_at", utcnow())
    values.setdefault("status", "pending")
    inserted = insert_ignore(
        session,
        CommissionLine.__table__,
        values,
        ["idempotency_key"],
        returning=CommissionLine.id,
    )
    if inserted:
        metrics.COMMISSION_LINES.labels(values["kind"]).inc()
    return bool(inserted)


def append_lines(session: Session, rows: list[dict[str, Any]]) -> list[str]:
    """Append many lines in batched statements; the kinds of those written (a key
    already written is skipped). Every row has the same keys, ``id`` among them (the
    statement is built from the first row's)."""
    kinds = {row["id"]: row["kind"] for row in rows}
    now = utcnow()
    written = insert_ignore(
        session,
        CommissionLine.__table__,
        [{"recorded_at": now, "status": "pending", **row} for row in rows],
        ["idempotency_key"],
        returning=CommissionLine.id,
    )
    for line_id in written:
        metrics.COMMISSION_LINES.labels(kinds[line_id]).inc()
    return [kinds[line_id] for line_id in written]


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
        Conversion.status != "cancelled",
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
        CommissionLine.status != "rejected",
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


def stored_rule(capped: CappedLine, campaign_currency: str, **working: Any) -> dict[str, Any]:
    """The rule as a line records it: the rule, its index, how the amount was worked
    out, and what a cap cut off (``cut``, ``cap``)."""
    line = capped.line
    rule = {**line.rule.to_json(campaign_currency), "index": line.rule_index, **working}
    if capped.cut_minor:
        rule["cut"] = format_amount(capped.cut_minor, line.currency)
        rule["cap"] = capped.cap
    return rule


def record_per_post(
    session: Session, terms: SaleTerms, deliverable_id: str, at: datetime, zone_name: str
) -> int:
    """The fee lines an approved deliverable earns (one per ``per_post`` rule, in the
    campaign's currency, due at once), cut to fit the caps like any other line."""
    currency = terms.campaign_currency
    fees = [
        SaleLine(index, rule, rule.amount_minor, currency)
        for index, rule in enumerate(terms.parsed_rules())
        if rule.type == "per_post" and rule.amount_minor is not None
    ]
    if not fees:
        return 0
    room = CapRoom()
    if terms.capped():
        lock_caps(session, terms)
        room = cap_room(session, terms, at, zone_name)
    written = 0
    for capped in apply_caps(fees, room, currency):
        written += append_line(
            session,
            idempotency_key=f"per_post:{deliverable_id}:{capped.line.rule_index}",
            influencer_id=terms.influencer_id,
            campaign_id=terms.campaign_id,
            partnership_id=terms.partnership_id,
            deliverable_id=deliverable_id,
            kind="per_post",
            rule=stored_rule(capped, currency),
            amount_minor=capped.amount_minor,
            currency=currency,
            occurred_at=at,
            due_at=at,
        )
    return written


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
        rule = stored_rule(capped, terms.campaign_currency)
        if line.rule.type == "tiered_percent" and line.currency == terms.campaign_currency:
            # The month's net sales before this order: what its bracket was read from.
            rule["before"] = format_amount(month_to_date_minor, line.currency)
        rows.append(
            {
                "id": new_id("cml"),
                "idempotency_key": f"sale:{conversion_id}:{line.rule_index}",
                "influencer_id": terms.influencer_id,
                "campaign_id": terms.campaign_id,
                "partnership_id": terms.partnership_id,
                "conversion_id": conversion_id,
                "kind": "sale",
                "rule": rule,
                "basis_minor": basis_minor,
                "amount_minor": capped.amount_minor,
                "currency": line.currency,
                "status": "pending",
                "occurred_at": occurred_at,
                "due_at": due_at,
                "recorded_at": now,
            }
        )
    return rows


def record_sale(session: Session, conversion: Conversion, zone_name: str = "UTC") -> int:
    """The sale lines of an attributed order. Returns how many were written."""
    partnership = session.get(Partnership, conversion.partnership_id)
    assert partnership is not None
    terms = SaleTerms.of(partnership)
    mtd = sales_before(
        session, terms, conversion.currency, conversion.occurred_at, zone_name, conversion.id
    )
    room = None
    if terms.capped():
        lock_caps(session, terms)
        room = cap_room(session, terms, conversion.occurred_at, zone_name)
    written = 0
    for row in sale_line_rows(
        terms,
        conversion_id=conversion.id,
        occurred_at=conversion.occurred_at,
        basis_minor=conversion.amount_minor,
        currency=conversion.currency,
        month_to_date_minor=mtd,
        room=room,
    ):
        written += append_line(session, **row)
    return written


def record_reversal(
    session: Session,
    conversion: Conversion,
    event: ConversionEvent,
    refunded_before_minor: int,
    refunded_now_minor: int,
    now: datetime,
) -> int:
    """Negative lines for the refunded share of each sale line of ``conversion``.

    A line already paid is clawed back: the negative line is due now, in the next open
    period. Otherwise it is due with the line it reverses, so they net out together.
    """
    sales = session.scalars(
        select(CommissionLine)
        .where(CommissionLine.conversion_id == conversion.id, CommissionLine.kind == "sale")
        .order_by(CommissionLine.id)
    ).all()
    written = 0
    for sale in sales:
        if sale.status == "rejected":
            continue
        rule = dict(sale.rule or {})
        cut = parse_amount(rule["cut"], sale.currency) if "cut" in rule else 0
        amount, cut_share = reversal_of(
            sale.amount_minor,
            cut,
            conversion.amount_minor,
            refunded_before_minor,
            refunded_now_minor,
            cancels_free_order=conversion.amount_minor <= 0 and event.kind == "cancel",
        )
        if cut:
            # The refunded share of what a cap cut off goes with it (negative), so a
            # month's tiered total counts each order's cut once, net of its refunds.
            rule["cut"] = format_amount(cut_share, sale.currency)
        if amount == 0 and cut_share == 0:
            continue
        written += append_line(
            session,
            idempotency_key=f"reversal:{event.id}:{sale.id}",
            influencer_id=sale.influencer_id,
            campaign_id=sale.campaign_id,
            partnership_id=sale.partnership_id,
            conversion_id=conversion.id,
            event_id=event.id,
            reverses_line_id=sale.id,
            kind="reversal",
            rule=rule,
            basis_minor=refunded_now_minor,
            amount_minor=amount,
            currency=sale.currency,
            occurred_at=event.occurred_at,
            due_at=now if sale.status == "paid" else sale.due_at,
        )
    return written
