"""Reading the ledger and the two manual writes: adjustments and rejections.

Status ``approved`` is derived: a ``pending`` line whose ``due_at`` has passed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, not_, select
from sqlalchemy.orm import Session

from service import clock
from service.campaigns.service import find_partnership
from service.commissions.engine import append_line
from service.commissions.models import CommissionLine
from service.db import new_id
from service.errors import Conflict, InvalidInput, NotFound
from service.money import MoneyError, parse_amount
from service.paging import Page, paginate
from service.periods import period_bounds

STATUSES = ("pending", "approved", "paid", "rejected")


class _Dated(Protocol):
    status: str
    due_at: datetime


def status_of(line: _Dated, now: datetime) -> str:
    """The status shown: a pending line that is due is "approved"."""
    if line.status == "pending" and line.due_at <= now:
        return "approved"
    return line.status


def status_filter(status: str, now: datetime) -> ColumnElement[bool]:
    if status == "approved":
        return and_(CommissionLine.status == "pending", CommissionLine.due_at <= now)
    if status == "pending":
        return and_(CommissionLine.status == "pending", not_(CommissionLine.due_at <= now))
    return CommissionLine.status == status


def list_lines(session: Session, query: dict[str, Any], zone: str) -> Page[CommissionLine]:
    stmt = select(CommissionLine)
    for name in ("influencer_id", "campaign_id", "conversion_id"):
        if query.get(name):
            stmt = stmt.where(getattr(CommissionLine, name) == query[name])
    if query.get("status"):
        stmt = stmt.where(status_filter(query["status"], clock.now_utc()))
    if query.get("period"):
        start, end = period_bounds(query["period"], zone)
        stmt = stmt.where(CommissionLine.due_at >= start, CommissionLine.due_at < end)
    return paginate(session, stmt, CommissionLine.id, query.get("cursor"), query["limit"])


def get_line(session: Session, line_id: str) -> CommissionLine:
    line = session.get(CommissionLine, line_id)
    if line is None:
        raise NotFound(f"no commission line {line_id!r}")
    return line


def adjust(session: Session, data: dict[str, Any], key_id: str) -> CommissionLine:
    """A manual adjustment line, due now, carrying its reason and the key that made it."""
    partnership = find_partnership(session, data["campaign_id"], data["influencer_id"])
    try:
        amount = parse_amount(data["amount"], data["currency"], allow_negative=True)
    except MoneyError as exc:
        raise InvalidInput("amount is not valid", fields={"amount": [str(exc)]}) from None
    if amount == 0:
        raise InvalidInput("amount is not valid", fields={"amount": ["must not be zero"]})
    now = clock.now_utc()
    line_id = new_id("cml")
    append_line(
        session,
        id=line_id,
        idempotency_key=f"adjustment:{line_id}",
        influencer_id=partnership.influencer_id,
        campaign_id=partnership.campaign_id,
        partnership_id=partnership.id,
        kind="adjustment",
        amount_minor=amount,
        currency=data["currency"],
        occurred_at=now,
        due_at=now,
        reason=data["reason"],
        created_by_key_id=key_id,
    )
    return get_line(session, line_id)


def reject(session: Session, line_id: str, reason: str, key_id: str) -> CommissionLine:
    """Reject a line before it is paid: it leaves every export, and a zero-sum record of
    who rejected it and why is appended."""
    line = session.scalar(
        select(CommissionLine).where(CommissionLine.id == line_id).with_for_update()
    )
    if line is None:
        raise NotFound(f"no commission line {line_id!r}")
    if line.status == "paid" or line.export_id is not None:
        raise Conflict("the line is already paid; add an adjustment instead", code="already_paid")
    if line.status == "rejected":
        raise Conflict("the line is already rejected", code="already_rejected")
    if line.kind == "reversal":
        raise Conflict(
            "a reversal follows its line; reject the line it reverses instead",
            code="not_rejectable",
        )
    # The line's reversals go with it, or the influencer would owe for a rejected sale.
    reversals = session.scalars(
        select(CommissionLine)
        .where(CommissionLine.reverses_line_id == line.id, CommissionLine.kind == "reversal")
        .with_for_update()
    ).all()
    if any(r.status == "paid" or r.export_id is not None for r in reversals):
        raise Conflict(
            "a reversal of this line is already paid; add an adjustment instead",
            code="already_paid",
        )
    now = clock.now_utc()
    line.status = "rejected"
    for reversal in reversals:
        reversal.status = "rejected"
    append_line(
        session,
        idempotency_key=f"rejection:{line.id}",
        influencer_id=line.influencer_id,
        campaign_id=line.campaign_id,
        partnership_id=line.partnership_id,
        conversion_id=line.conversion_id,
        reverses_line_id=line.id,
        kind="adjustment",
        amount_minor=0,
        currency=line.currency,
        occurred_at=now,
        due_at=now,
        status="rejected",
        reason=reason,
        created_by_key_id=key_id,
    )
    session.flush()
    return line
