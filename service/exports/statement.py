"""What belongs in a month's commission statement (SPEC §6), as rows.

An open month holds every approved line due before the month ends that no closed
export has paid. A closed month holds exactly the lines its export paid. A group
(influencer, currency) whose net is negative is not paid: the statement shows the
balance being carried forward as an adjustment that brings it to zero, and closing
writes that adjustment plus the opposite line due at the start of the next month.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from service import clock
from service.commissions.models import CommissionLine
from service.exports.models import Export
from service.influencers.models import Influencer
from service.periods import period_bounds

GROSS_KINDS = ("sale", "cpc", "per_post", "true_up")
CARRY_REASON = "negative balance carried forward to {next}"
CARRY_KEY = "carry"  # idempotency-key prefix of the line that carries a balance out


@dataclass(frozen=True)
class SummaryRow:
    period: str
    influencer_id: str
    handle: str
    name: str
    payout_email: str
    currency: str
    gross: int
    reversals: int
    adjustments: int
    carried_forward: int  # the part of ``adjustments`` that carries a negative balance
    net_payable: int
    orders: int
    lines: int


@dataclass(frozen=True)
class Selection:
    period: str
    start: datetime
    end: datetime
    export: Export | None

    @property
    def closed(self) -> bool:
        return self.export is not None


def select_period(session: Session, period: str, zone: str) -> Selection:
    start, end = period_bounds(period, zone)
    export = session.scalar(select(Export).where(Export.period == period))
    return Selection(period, start, end, export)


def line_filter(sel: Selection, now: datetime | None = None) -> ColumnElement[bool]:
    if sel.export is not None:
        return CommissionLine.export_id == sel.export.id
    now = now or clock.now_utc()
    return and_(
        CommissionLine.status == "pending",
        CommissionLine.export_id.is_(None),
        CommissionLine.due_at < sel.end,
        CommissionLine.due_at <= now,
    )


def summary_rows(
    session: Session, sel: Selection, *, project_carry: bool | None = None
) -> Iterator[SummaryRow]:
    """Rows per influencer and currency. ``project_carry`` (default: for an open month)
    shows a negative net as carried forward, as closing will write it."""
    if project_carry is None:
        project_carry = not sel.closed
    L = CommissionLine
    amount = L.amount_minor
    stmt = (
        select(
            L.influencer_id,
            L.currency,
            func.sum(case((L.kind.in_(GROSS_KINDS), amount), else_=0)),
            func.sum(case((L.kind == "reversal", amount), else_=0)),
            func.sum(case((L.kind == "adjustment", amount), else_=0)),
            func.sum(
                case(
                    (
                        # Known by its key, never by its (free-text) reason.
                        L.idempotency_key.like(f"{CARRY_KEY}:%"),
                        amount,
                    ),
                    else_=0,
                )
            ),
            func.count(func.distinct(case((L.kind == "sale", L.conversion_id), else_=None))),
            func.count(),
            Influencer.handle,
            Influencer.name,
            func.coalesce(Influencer.payout_email, Influencer.email),
        )
        .join(Influencer, Influencer.id == L.influencer_id)
        .where(line_filter(sel))
        .group_by(
            L.influencer_id,
            L.currency,
            Influencer.handle,
            Influencer.name,
            Influencer.payout_email,
            Influencer.email,
        )
        .order_by(Influencer.handle, L.currency)
    )
    for (
        inf_id,
        currency,
        gross,
        rev,
        adj,
        carried,
        orders,
        count,
        handle,
        name,
        email,
    ) in session.execute(stmt):
        gross, rev, adj, carried = int(gross), int(rev), int(adj), int(carried)
        net = gross + rev + adj
        lines = int(count)
        if project_carry and net < 0:
            # Shown as it will be written on close (see the module docstring).
            carried, adj, net, lines = -net, adj - net, 0, lines + 1
        yield SummaryRow(
            sel.period,
            inf_id,
            handle,
            name,
            email,
            currency,
            gross,
            rev,
            adj,
            carried,
            net,
            int(orders),
            lines,
        )


def detail_lines(session: Session, sel: Selection) -> Iterator[CommissionLine]:
    stmt = (
        select(CommissionLine)
        .where(line_filter(sel))
        .order_by(CommissionLine.influencer_id, CommissionLine.currency, CommissionLine.id)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(stmt)
