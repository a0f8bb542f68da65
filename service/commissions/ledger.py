"""The ledger: the only code that adds commission lines or marks them, and reading it.

Every write of ``commission_lines`` is here (tests/commissions/test_ledger_vocabulary.py checks
that no other module of ``service/`` writes the table): sale lines
(:func:`record_sale`, and the rows and SQL of the webhook's one-statement order write:
:func:`order_sale_rows`, :data:`PG_INSERT_LINES`), reversals (:func:`record_reversal`),
per-post fees (:func:`record_per_post`), settlement lines and carry-forward lines
(:func:`append_lines`, :func:`append_line`), adjustments (:func:`adjust`), rejections
(:func:`reject`) and payment (:func:`mark_paid`). Other modules compute the rows (the
engine, settlement, the exports' carry-forward) and hand them here; each row says what
the line is for in its ``purpose``, never by its idempotency key.

Status ``approved`` is derived: a ``pending`` line whose ``due_at`` has passed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, func, not_, select, update
from sqlalchemy.orm import Session

from service import clock, metrics
from service.campaigns.models import Partnership
from service.campaigns.service import find_partnership
from service.commissions.engine import (
    SaleTerms,
    adjustment_key,
    per_post_rows,
    rejection_key,
    reversal_rows,
    sale_rows,
)
from service.commissions.models import (
    APPROVED,
    WORKING,
    CommissionLine,
    LineKind,
    LinePurpose,
    LineStatus,
)
from service.conversions.models import Conversion, ConversionEvent
from service.db import insert_ignore, jsonb_key_order, new_id, table_of, utcnow
from service.errors import Conflict, InvalidInput, NotFound
from service.money import MoneyError, format_amount, parse_amount
from service.paging import Page, paginate
from service.periods import period_bounds

# The statuses a line is shown with (and filtered by).
STATUSES = (LineStatus.PENDING.value, APPROVED, LineStatus.PAID.value, LineStatus.REJECTED.value)


# Writing ------------------------------------------------------------------------------


def _complete(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A row as inserted: an id, when it was recorded, pending unless it says otherwise,
    and its purpose (a line's kind, unless the row names an adjustment's)."""
    return {
        "id": new_id("cml"),
        "recorded_at": now,
        "status": LineStatus.PENDING,
        "purpose": LinePurpose(row["kind"]),
        **row,
    }


def append_line(session: Session, **values: Any) -> bool:
    """Append one line; ``False`` if its idempotency key was already written."""
    row = _complete(values, utcnow())
    inserted = insert_ignore(
        session, table_of(CommissionLine), row, ["idempotency_key"], returning=CommissionLine.id
    )
    if inserted:
        metrics.COMMISSION_LINES.labels(row["kind"]).inc()
    return bool(inserted)


def append_lines(session: Session, rows: list[dict[str, Any]]) -> list[str]:
    """Append many lines in batched statements; the kinds of those written (a key
    already written is skipped). Every row has the same keys (the statement is built
    from the first row's)."""
    now = utcnow()
    complete = [_complete(row, now) for row in rows]
    kinds = {row["id"]: row["kind"] for row in complete}
    written = insert_ignore(
        session,
        table_of(CommissionLine),
        complete,
        ["idempotency_key"],
        returning=CommissionLine.id,
    )
    for line_id in written:
        metrics.COMMISSION_LINES.labels(kinds[line_id]).inc()
    return [kinds[line_id] for line_id in written]


def insert_order_lines(session: Session, rows: list[dict[str, Any]]) -> int:
    """The sale rows of a new order (:func:`order_sale_rows`) inserted; how many were
    written. The caller counts them (the PostgreSQL path writes them in its own
    statement: :data:`PG_INSERT_LINES`)."""
    if not rows:
        return 0
    return len(
        insert_ignore(
            session,
            table_of(CommissionLine),
            rows,
            ["idempotency_key"],
            returning=CommissionLine.id,
        )
    )


# The complete rows (every column) of a new order's sale lines, for
# :func:`insert_order_lines` or :data:`PG_INSERT_LINES`.
order_sale_rows = sale_rows


# The lines of a new order in the webhook's one PostgreSQL statement
# (service/conversions/orders.py composes it as a CTE): the rows of
# :func:`order_sale_rows` as JSON in ``:lines`` (every column given: no server
# defaults apply), written when ``{when}`` holds, once per idempotency key; one row
# returned per line written.
PG_INSERT_LINES = """INSERT INTO commission_lines
  SELECT r.* FROM jsonb_populate_recordset(NULL::commission_lines, CAST(:lines AS jsonb)) AS r
  WHERE {when}
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING 1"""


def record_sale(session: Session, conversion: Conversion, zone_name: str = "UTC") -> int:
    """The sale lines of an attributed order. Returns how many were written."""
    partnership = session.get(Partnership, conversion.partnership_id)
    assert partnership is not None
    rows = sale_rows(
        session,
        SaleTerms.of(partnership),
        conversion_id=conversion.id,
        occurred_at=conversion.occurred_at,
        basis_minor=conversion.amount_minor,
        currency=conversion.currency,
        zone_name=zone_name,
    )
    return sum(append_line(session, **row) for row in rows)


def record_reversal(
    session: Session,
    conversion: Conversion,
    event: ConversionEvent,
    refunded_before_minor: int,
    refunded_now_minor: int,
    now: datetime,
) -> int:
    """The reversal lines of a refund or cancel (:func:`engine.reversal_rows`); how
    many were written."""
    rows = reversal_rows(session, conversion, event, refunded_before_minor, refunded_now_minor, now)
    return sum(append_line(session, **row) for row in rows)


def record_per_post(
    session: Session, terms: SaleTerms, deliverable_id: str, at: datetime, zone_name: str
) -> int:
    """The fee lines of an approved deliverable (:func:`engine.per_post_rows`)."""
    rows = per_post_rows(session, terms, deliverable_id, at, zone_name)
    return sum(append_line(session, **row) for row in rows)


def mark_paid(session: Session, lines: ColumnElement[bool], export_id: str) -> int:
    """Mark the lines ``lines`` selects paid by export ``export_id``; how many."""
    result = session.execute(
        update(CommissionLine)
        .where(lines)
        .values(status=LineStatus.PAID, export_id=export_id)
        .execution_options(synchronize_session=False)
    )
    # execute() is typed as returning Result (no rowcount); an UPDATE's is a CursorResult.
    return result.rowcount or 0  # type: ignore[attr-defined]


# Reading ------------------------------------------------------------------------------


class _Dated(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def due_at(self) -> datetime: ...


def shown_rule(line: Any) -> dict[str, Any] | None:
    """A line's rule as the API and statements show it: the rule it was written under,
    and how its amount was worked out (:data:`WORKING`, each under its key; amounts as
    decimals in the line's currency, as they were stored before migration 0012), its
    keys in the order PostgreSQL keeps a ``jsonb`` object's, as before. None
    for a line without a rule (an adjustment). ``line``: a line, planned line or row
    with the WORKING columns."""
    if line.rule is None:
        return None
    shown = dict(line.rule)
    for fact in WORKING:
        if fact.shown(line):
            value = getattr(line, fact.column)
            shown[fact.key] = format_amount(value, line.currency) if fact.amount else value
    return dict(sorted(shown.items(), key=lambda item: jsonb_key_order(item[0])))


def status_of(line: _Dated, now: datetime) -> str:
    """The status shown: a pending line that is due is "approved"."""
    if line.status == LineStatus.PENDING and line.due_at <= now:
        return APPROVED
    return line.status


def status_filter(status: str, now: datetime) -> ColumnElement[bool]:
    if status == APPROVED:
        return and_(CommissionLine.status == LineStatus.PENDING, CommissionLine.due_at <= now)
    if status == LineStatus.PENDING:
        return and_(CommissionLine.status == LineStatus.PENDING, not_(CommissionLine.due_at <= now))
    return CommissionLine.status == status


def _filters(query: dict[str, Any], zone: str) -> list[ColumnElement[bool]]:
    """The conditions of a list query (``CommissionQuery``)."""
    where: list[ColumnElement[bool]] = []
    for name in ("influencer_id", "campaign_id", "conversion_id", "kind"):
        if query.get(name):
            where.append(getattr(CommissionLine, name) == query[name])
    if query.get("status"):
        where.append(status_filter(query["status"], clock.now_utc()))
    if query.get("period"):
        start, end = period_bounds(query["period"], zone)
        where.extend((CommissionLine.due_at >= start, CommissionLine.due_at < end))
    return where


def list_lines(session: Session, query: dict[str, Any], zone: str) -> Page[CommissionLine]:
    stmt = select(CommissionLine).where(*_filters(query, zone))
    return paginate(session, stmt, CommissionLine.id, query.get("cursor"), query["limit"])


def currencies_earned(session: Session, campaign_id: str, influencer_id: str) -> set[str]:
    """The currencies an influencer's lines in a campaign are in (orders in another
    currency than the campaign's earn in theirs)."""
    stmt = (
        select(CommissionLine.currency)
        .where(
            CommissionLine.campaign_id == campaign_id,
            CommissionLine.influencer_id == influencer_id,
        )
        .distinct()
    )
    return set(session.scalars(stmt))


def line_totals(session: Session, query: dict[str, Any], zone: str) -> list[tuple[str, int, int]]:
    """What the lines a list query finds add up to, per currency: (currency, lines,
    amount in minor units), rejected lines left out (they are never paid)."""
    stmt = (
        select(CommissionLine.currency, func.count(), func.sum(CommissionLine.amount_minor))
        .where(*_filters(query, zone), CommissionLine.status != LineStatus.REJECTED)
        .group_by(CommissionLine.currency)
        .order_by(CommissionLine.currency)
    )
    return [(currency, int(n), int(total or 0)) for currency, n, total in session.execute(stmt)]


def lines_reversing(session: Session, line_id: str) -> list[CommissionLine]:
    """The lines that answer ``line_id``: its reversals, the record of its rejection,
    the carry-forward line bringing it back (``reverses_line_id``), oldest first."""
    stmt = (
        select(CommissionLine)
        .where(CommissionLine.reverses_line_id == line_id)
        .order_by(CommissionLine.id)
    )
    return list(session.scalars(stmt))


def lines_of_deliverable(session: Session, deliverable_id: str) -> list[CommissionLine]:
    """The lines a post earned (its per-post fees) and any that follow them, oldest first."""
    return list(
        session.scalars(
            select(CommissionLine)
            .where(CommissionLine.deliverable_id == deliverable_id)
            .order_by(CommissionLine.recorded_at, CommissionLine.id)
        )
    )


def get_line(session: Session, line_id: str) -> CommissionLine:
    line = session.get(CommissionLine, line_id)
    if line is None:
        raise NotFound(f"no commission line {line_id!r}")
    return line


# The manual writes ---------------------------------------------------------------------


def adjust(
    session: Session, data: dict[str, Any], key_id: str, request_key: str | None = None
) -> CommissionLine:
    """A manual adjustment line, due now, carrying its reason and the key that made it.

    ``request_key``: a one-time token of the request (a form's), scoped by the API key;
    the same request made again (a double click, a resubmitted page) books nothing and
    answers the line the first one booked."""
    line_id = new_id("cml")
    key = adjustment_key(line_id, None if request_key is None else f"{key_id}:{request_key}")
    if request_key is not None:
        earlier = _line_by_key(session, key)
        if earlier is not None:
            return earlier
    partnership = find_partnership(session, data["campaign_id"], data["influencer_id"])
    problems: dict[str, list[str]] = {}
    earns_in = currencies_earned(session, partnership.campaign_id, partnership.influencer_id)
    earns_in.add(partnership.campaign.currency)
    if data["currency"] not in earns_in:
        named = ", ".join(sorted(earns_in))
        problems["currency"] = [
            f"This partner earns in {named} here; an adjustment must be in one of them."
            if len(earns_in) > 1
            else f"This campaign pays in {named}; an adjustment must be in {named}."
        ]
    try:
        amount = parse_amount(data["amount"], data["currency"], allow_negative=True)
    except MoneyError as exc:
        problems["amount"] = [str(exc)]
    else:
        if amount == 0:
            problems["amount"] = ["must not be zero"]
    if problems:
        verb = "is" if len(problems) == 1 else "are"
        raise InvalidInput(f"{' and '.join(problems)} {verb} not valid", fields=problems)
    now = clock.now_utc()
    written = append_line(
        session,
        id=line_id,
        idempotency_key=key,
        influencer_id=partnership.influencer_id,
        campaign_id=partnership.campaign_id,
        partnership_id=partnership.id,
        kind=LineKind.ADJUSTMENT,
        purpose=LinePurpose.ADJUSTMENT,
        amount_minor=amount,
        currency=data["currency"],
        occurred_at=now,
        due_at=now,
        reason=data["reason"],
        created_by_key_id=key_id,
    )
    if not written:  # the same request, made at the same time, booked it first
        first = _line_by_key(session, key)
        if first is not None:
            return first
    return get_line(session, line_id)


def _line_by_key(session: Session, key: str) -> CommissionLine | None:
    return session.scalar(select(CommissionLine).where(CommissionLine.idempotency_key == key))


def reject(session: Session, line_id: str, reason: str, key_id: str) -> CommissionLine:
    """Reject a line before it is paid: it leaves every export, and a zero-sum record of
    who rejected it and why is appended."""
    line = session.scalar(
        select(CommissionLine).where(CommissionLine.id == line_id).with_for_update()
    )
    if line is None:
        raise NotFound(f"no commission line {line_id!r}")
    if line.status == LineStatus.PAID or line.export_id is not None:
        raise Conflict("the line is already paid; add an adjustment instead", code="already_paid")
    if line.status == LineStatus.REJECTED:
        raise Conflict("the line is already rejected", code="already_rejected")
    if line.kind == LineKind.REVERSAL:
        raise Conflict(
            "a reversal follows its line; reject the line it reverses instead",
            code="not_rejectable",
        )
    # The line's reversals go with it, or the influencer would owe for a rejected sale.
    reversals = session.scalars(
        select(CommissionLine)
        .where(CommissionLine.reverses_line_id == line.id, CommissionLine.kind == LineKind.REVERSAL)
        .with_for_update()
    ).all()
    if any(r.status == LineStatus.PAID or r.export_id is not None for r in reversals):
        raise Conflict(
            "a reversal of this line is already paid; add an adjustment instead",
            code="already_paid",
        )
    now = clock.now_utc()
    line.status = LineStatus.REJECTED
    for reversal in reversals:
        reversal.status = LineStatus.REJECTED
    append_line(
        session,
        idempotency_key=rejection_key(line.id),
        influencer_id=line.influencer_id,
        campaign_id=line.campaign_id,
        partnership_id=line.partnership_id,
        conversion_id=line.conversion_id,
        reverses_line_id=line.id,
        kind=LineKind.ADJUSTMENT,
        purpose=LinePurpose.REJECTION,
        amount_minor=0,
        currency=line.currency,
        occurred_at=now,
        due_at=now,
        status=LineStatus.REJECTED,
        reason=reason,
        created_by_key_id=key_id,
    )
    session.flush()
    return line
